#!/usr/bin/env python3
"""Write tests/data/longseq/: a small random-weight CLIP (transformers'
CLIPModel) whose sequences are longer than the engine computes attention
scores for at once (2,048 tokens: NL_ATTN_BLOCK), and the float64
embeddings transformers computes with it, for cli_longseq.sh.

The model: 784-pixel images in 16-pixel patches (2,401 patches + the class
token: 2,402 tokens, more than 2,048 rows, so the scores and the MLP run in
row blocks), a text context of 2,600 positions (a prompt of ~2,300 tokens
runs the causal attention in two row blocks), widths 8 in both towers (a
width under 16 once overflowed the bf16 path's tiled LayerNorm into the
q/k/v products: NaN), 2 heads, MLPs 32 wide, 2 layers, projection 8, CLIP's
full 49,408-token vocabulary so real prompts tokenize. Every parameter is
drawn at random (seeded; LayerNorm gains around 1). The token embedding is
stored in F16, everything else in F32; the goldens are computed from the
weights as stored.

Written: config.json, preprocessor_config.json (CLIPImageProcessor at 784
pixels), model.safetensors, golden.json: versions, the projections (not
normalised) of the images (transformers' Pillow image processor,
CLIPImageProcessorPil, then the model in float64) and of the texts
(CLIPTokenizer on shared/clip-tokenizer, no truncation), and each text's
token count. Run with torch, transformers and Pillow 13 importable:

  /path/to/venv/bin/python tests/gen/gen_longseq.py ../shared tests/data/longseq
"""
import json
import os
import sys

import PIL
import safetensors
import torch
import transformers
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

import hf_folder

IMAGES = ["dog.jpg", "odd-227x389.png", "wide-1700x40.png"]
TEXTS = ["a photo of a dog.",
         " ".join("a blurry photo of the %d-th {} on a sunny afternoon".format(w)
                  % i for i, w in zip(range(160), ["dog", "cat", "kayak", "teapot"] * 40))]
PREPROCESSOR = {"size": {"shortest_edge": 784}, "crop_size": {"height": 784, "width": 784}, "do_center_crop": True,
                "do_resize": True, "do_normalize": True, "do_rescale": True, "do_convert_rgb": True, "resample": 3,
                "rescale_factor": 1 / 255, "image_mean": [0.48145466, 0.4578275, 0.40821073],
                "image_std": [0.26862954, 0.26130258, 0.27577711], "image_processor_type": "CLIPImageProcessor"}
SEED = 0


def make_config():
    return CLIPConfig(
        text_config=dict(vocab_size=49408, hidden_size=8, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=2600),
        vision_config=dict(hidden_size=8, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
                           image_size=784, patch_size=16),
        projection_dim=8)


def main():
    shared, out = sys.argv[1], sys.argv[2]
    assert PIL.__version__.split(".")[0] == "13", "Pillow %s: the goldens need Pillow 13" % PIL.__version__
    torch.manual_seed(SEED)
    model = CLIPModel(make_config()).eval().double()
    hf_folder.randomize(model, SEED)
    hf_folder.save(model, out, PREPROCESSOR)
    # the goldens from the stored weights, in float64
    model = CLIPModel.from_pretrained(out).eval().double()
    pixels = hf_folder.pixels(shared, IMAGES, PREPROCESSOR)
    tok = CLIPTokenizer(os.path.join(shared, "clip-tokenizer", "vocab.json"),
                        os.path.join(shared, "clip-tokenizer", "merges.txt"), model_max_length=2600)
    with torch.no_grad():
        img = model.get_image_features(pixel_values=pixels)
        img = getattr(img, "pooler_output", img)
        texts, tokens = {}, {}
        for t in TEXTS:
            ids = tok(t)["input_ids"]
            assert len(ids) <= 2600, len(ids)
            tokens[t] = len(ids)
            e = model.get_text_features(input_ids=torch.tensor([ids]))
            texts[t] = getattr(e, "pooler_output", e)[0].tolist()
    assert max(tokens.values()) > 2048, tokens
    json.dump({"transformers": transformers.__version__, "torch": torch.__version__, "pillow": PIL.__version__,
               "safetensors": safetensors.__version__, "seed": SEED, "tokens": tokens,
               "images": {n: img[i].tolist() for i, n in enumerate(IMAGES)}, "texts": texts},
              open(os.path.join(out, "golden.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
