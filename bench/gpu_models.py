#!/usr/bin/env python3
"""gpu_models.py — random-weight CLIP checkpoints with the exact shapes of
OpenAI's ViT-B/16 and ViT-L/14, in Hugging Face format, for bench/gpu.sh.

Each folder gets config.json (the values of openai/clip-vit-base-patch16 and
openai/clip-vit-large-patch14, eos_token_id 2 included, which makes both
transformers and neglabel pool at the argmax of the ids), model.safetensors
(F32, random init with a fixed seed), vocab.json and merges.txt (CLIP's BPE,
copied from the tokenizer folder) and preprocessor_config.json (OpenAI's
mean/std, bicubic, 224). Also writes the fixed pixel tensors of the cosine
check: --pixels FILE.npy, (64, 3*224*224) float32 standard normal, seeded.

  python3 bench/gpu_models.py --out /tmp/neglabel-gpu-bench/models \
      --tokenizer ../shared/clip-tokenizer --pixels /tmp/neglabel-gpu-bench/pixels.npy
"""
import argparse, json, os, shutil, sys, time

OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]

# Values of the config.json files of openai/clip-vit-base-patch16 and
# openai/clip-vit-large-patch14 on the Hugging Face hub.
COMMON_TEXT = dict(max_position_embeddings=77, vocab_size=49408, hidden_act="quick_gelu", layer_norm_eps=1e-5,
                   bos_token_id=0, eos_token_id=2, pad_token_id=1, attention_dropout=0.0, dropout=0.0,
                   initializer_range=0.02, initializer_factor=1.0)
COMMON_VISION = dict(image_size=224, num_channels=3, hidden_act="quick_gelu", layer_norm_eps=1e-5,
                     attention_dropout=0.0, dropout=0.0, initializer_range=0.02, initializer_factor=1.0)
MODELS = {
    "clip-vit-b16": dict(
        projection_dim=512,
        text=dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8,
                  projection_dim=512),
        vision=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                    patch_size=16, projection_dim=512)),
    "clip-vit-l14": dict(
        projection_dim=768,
        text=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                  projection_dim=768),
        vision=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                    patch_size=14, projection_dim=768)),
}
ALIASES = {"b16": "clip-vit-b16", "l14": "clip-vit-l14"}


def make_config(spec):
    from transformers import CLIPConfig
    cfg = CLIPConfig(text_config=dict(COMMON_TEXT, **spec["text"]), vision_config=dict(COMMON_VISION, **spec["vision"]),
                     projection_dim=spec["projection_dim"], logit_scale_init_value=2.6592, initializer_factor=1.0)
    return cfg


def build(name, out_dir, tok_dir, seed, device):
    import torch
    from transformers import CLIPModel
    spec = MODELS[name]
    path = os.path.join(out_dir, name)
    done = os.path.join(path, ".complete")
    if os.path.exists(done):
        print(f"{name}: already at {path}", flush=True)
        return path
    t0 = time.perf_counter()
    cfg = make_config(spec)
    torch.manual_seed(seed)
    try:
        with torch.device(device):  # random init on the GPU: seconds instead of a minute for ViT-L/14
            model = CLIPModel(cfg)
    except Exception as e:
        if device == "cpu":
            raise
        print(f"{name}: init on {device} failed ({type(e).__name__}: {e}); on the CPU instead", flush=True)
        torch.manual_seed(seed)
        model = CLIPModel(cfg)
    model = model.eval().float()
    os.makedirs(path, exist_ok=True)
    model.save_pretrained(path, safe_serialization=True)
    for f in ("vocab.json", "merges.txt"):
        shutil.copyfile(os.path.join(tok_dir, f), os.path.join(path, f))
    with open(os.path.join(path, "preprocessor_config.json"), "w") as f:
        json.dump({"crop_size": {"height": 224, "width": 224}, "do_center_crop": True, "do_normalize": True,
                   "do_resize": True, "do_convert_rgb": True, "image_mean": OPENAI_MEAN, "image_std": OPENAI_STD,
                   "resample": 3, "size": {"shortest_edge": 224}, "image_processor_type": "CLIPImageProcessor"}, f,
                  indent=1)
    # one model.safetensors (transformers may shard big models: that is fine
    # for neglabel too, but say so)
    shards = sorted(f for f in os.listdir(path) if f.endswith(".safetensors"))
    n_params = sum(p.numel() for p in model.parameters())
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    open(done, "w").close()
    print(f"{name}: {n_params / 1e6:.1f} M parameters, {shards}, {time.perf_counter() - t0:.1f} s -> {path}", flush=True)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, help="folder receiving one sub-folder per model")
    ap.add_argument("--tokenizer", required=True, help="folder with CLIP's vocab.json and merges.txt")
    ap.add_argument("--models", default="b16,l14")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default=None, help="where to run the random init (default cuda if available)")
    ap.add_argument("--pixels", default=None, help="also write the cosine check's pixels here (.npy)")
    ap.add_argument("--n-pixels", type=int, default=64)
    a = ap.parse_args()
    for f in ("vocab.json", "merges.txt"):
        if not os.path.isfile(os.path.join(a.tokenizer, f)):
            sys.exit(f"gpu_models.py: {a.tokenizer}/{f} not found (set NEGLABEL_SHARED)")
    if a.pixels:
        import numpy as np
        if not os.path.exists(a.pixels):
            rng = np.random.default_rng(12345)
            px = rng.standard_normal((a.n_pixels, 3 * 224 * 224), dtype=np.float32)
            tmp = a.pixels + ".tmp.npy"
            np.save(tmp, px)
            os.replace(tmp, a.pixels)
        print(f"pixels: {a.pixels}", flush=True)
    import torch
    device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    os.makedirs(a.out, exist_ok=True)
    for m in a.models.split(","):
        m = ALIASES.get(m.strip(), m.strip())
        if m not in MODELS:
            sys.exit(f"gpu_models.py: unknown model {m} (b16, l14)")
        build(m, a.out, a.tokenizer, a.seed, device)


if __name__ == "__main__":
    main()
