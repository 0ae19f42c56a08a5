#!/usr/bin/env python3
"""Write tests/data/hf_bin/: a Hugging Face CLIP folder whose weights are
only a pytorch_model.bin (torch.save of CLIPModel.state_dict(), the format
of many fine-tuned CLIPs on the Hub), for test_convert / cli_convert.sh.

The model is a small random CLIPModel (seed 0) in fp16 with CLIP's full
vocabulary (49,408 tokens, so real prompts tokenize) and small widths, so
the folder stays under 1 MB. Written: config.json and pytorch_model.bin
(save_pretrained's config, torch.save of the state dict, including the
position_ids buffers older transformers versions saved), and golden.json:
torch and transformers versions, and for each tensor of the state dict its
name, dtype, shape and the SHA-256 of its bytes (row-major, little-endian),
in state-dict order; and the float64 text embeddings transformers computes
from these weights (CLIPTokenizer on the shared vocab.json / merges.txt,
text_model + text_projection) for two prompts.

Run with torch and transformers importable:
  python tests/gen/gen_hf_bin.py tests/data/hf_bin ../shared
"""
import hashlib
import json
import os
import sys

import torch
import transformers
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

TEXTS = ["a photo of a dog.", "a photo of a goldfish, a type of fish"]


def main():
    out, shared = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    cfg = CLIPConfig(
        text_config=dict(vocab_size=49408, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                         num_attention_heads=1, max_position_embeddings=77, bos_token_id=49406,
                         eos_token_id=49407, pad_token_id=1),
        vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=16),
        projection_dim=8)
    model = CLIPModel(cfg).eval().half()
    sd = model.state_dict()
    # older transformers saved the position_ids buffers too; real .bin files
    # carry them (int64), and the converter must cope
    for tower in ("text_model", "vision_model"):
        n = getattr(model, tower).embeddings.position_embedding.num_embeddings
        sd[tower + ".embeddings.position_ids"] = torch.arange(n).unsqueeze(0)
    torch.save(sd, os.path.join(out, "pytorch_model.bin"))
    model.config.save_pretrained(out)
    tensors = []
    for name, t in sd.items():
        t = t.contiguous()
        tensors.append({"name": name, "dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
                        "sha256": hashlib.sha256(t.numpy().tobytes()).hexdigest()})
    # the text embeddings transformers computes from these weights, in
    # float64 (the projections, not normalised)
    tok = CLIPTokenizer(os.path.join(shared, "clip-tokenizer", "vocab.json"),
                        os.path.join(shared, "clip-tokenizer", "merges.txt"))
    m64 = CLIPModel(cfg).eval()
    m64.load_state_dict({k: v for k, v in sd.items() if not k.endswith("position_ids")}, strict=False)
    m64 = m64.double()
    texts = {}
    with torch.no_grad():
        for t in TEXTS:
            ids = torch.tensor([tok(t)["input_ids"]])
            pooled = m64.text_model(input_ids=ids).pooler_output
            texts[t] = m64.text_projection(pooled)[0].tolist()
    json.dump({"torch": torch.__version__, "transformers": transformers.__version__, "tensors": tensors,
               "texts": texts}, open(os.path.join(out, "golden.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
