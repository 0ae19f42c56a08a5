"""gen_config_dicts.py — what transformers' CLIPConfig resolves for configs
with text_config_dict / vision_config_dict (saved before transformers 4.27:
openai/, laion/ repositories), the expectations of test_config.c's
config_dict_cases. Needs only transformers (no torch):

    python tests/gen/gen_config_dicts.py

Checked with transformers 5.24: a dict that is not null replaces the
tower's config whole, its missing keys taking CLIPTextConfig /
CLIPVisionConfig defaults (not text_config's values)."""
import json

from transformers import CLIPConfig

# the same JSON as test_config.c, case by case
CASES = {
    # openai/clip-vit-base-patch16's shape: both, the dicts with the sizes only
    "openai-style": {
        "projection_dim": 512,
        "text_config": {"bos_token_id": 0, "eos_token_id": 2, "hidden_act": "quick_gelu", "pad_token_id": 1},
        "text_config_dict": {"hidden_size": 512, "intermediate_size": 2048, "num_attention_heads": 8,
                             "num_hidden_layers": 12},
        "vision_config": {"patch_size": 16, "hidden_act": "quick_gelu"},
        "vision_config_dict": {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12,
                               "num_hidden_layers": 12, "patch_size": 16},
    },
    # the dicts alone
    "dict-only": {
        "projection_dim": 768,
        "text_config_dict": {"hidden_size": 768, "num_attention_heads": 12, "intermediate_size": 3072},
        "vision_config_dict": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
                               "intermediate_size": 4096, "patch_size": 14},
    },
    # a dict without hidden_act / layer_norm_eps: the defaults, not text_config's
    "dict-lacks-act": {
        "text_config": {"hidden_act": "gelu", "eos_token_id": 2, "layer_norm_eps": 1e-6},
        "text_config_dict": {"hidden_size": 512},
        "vision_config": {"hidden_act": "quick_gelu", "patch_size": 32},
        "vision_config_dict": {"hidden_act": "gelu", "patch_size": 16},
    },
    # null dicts (openai/clip-vit-base-patch32): text_config / vision_config
    "null-dicts": {
        "text_config": {"eos_token_id": 2, "hidden_act": "gelu"},
        "text_config_dict": None,
        "vision_config": {"patch_size": 16},
        "vision_config_dict": None,
    },
}

for name, d in CASES.items():
    c = CLIPConfig.from_dict(json.loads(json.dumps(d)))
    t, v = c.text_config, c.vision_config
    print(name, json.dumps({
        "projection_dim": c.projection_dim,
        "text": [t.hidden_size, t.intermediate_size, t.num_hidden_layers, t.num_attention_heads, t.hidden_act,
                 t.layer_norm_eps, t.bos_token_id, t.eos_token_id, t.pad_token_id],
        "vision": [v.hidden_size, v.intermediate_size, v.num_hidden_layers, v.num_attention_heads, v.patch_size,
                   v.hidden_act, v.layer_norm_eps],
    }))
