#!/usr/bin/env python3
"""Write tests/data/altclip/: a small random-weight AltCLIP (transformers'
AltCLIPModel, model_type "altclip": BAAI's AltCLIP, one of the
vision-language models the NegLabel paper runs its method on) in Hugging
Face's layout, and the float64 embeddings transformers computes with it,
for cli_altclip.sh.

The model: CLIP's ViT (64-pixel images in 16-pixel patches, width 32, 2
layers, 4 heads, quick_gelu) and XLM-R's RoBERTa text tower (width 32, 2
layers, 4 heads, GELU, 24 positions: texts of up to 22 tokens, longer ones
cut as transformers' truncation cuts them; pad_token_id 1), transformation
to 24, projections to 16. Its tokenizer is tests/data/unigram/tokenizer.json
(a 3,000-piece XLM-R-style Unigram; the test copies it into the folder), so
the vocabulary is that file's. Every parameter is drawn at random (seeded;
LayerNorm gains around 1), stored in F32.

Written: config.json and model.safetensors by save_pretrained (its names:
encoder.layer.i in both towers), preprocessor_config.json (CLIPImageProcessor
at 64 pixels),
golden.json: versions, the projections (not normalised) of the images
(transformers' Pillow image processor, then the model in float64) and of
the texts (XLMRobertaTokenizer from the tokenizer.json, truncation at the
model's 22 tokens, then the model in float64), and the ids. Run with torch,
transformers and Pillow 13 importable:

  /path/to/venv/bin/python tests/gen/gen_altclip.py ../shared tests/data/altclip
"""
import json
import os
import shutil
import sys
import tempfile

import PIL
import safetensors
import torch
import transformers
from transformers import AltCLIPConfig, AltCLIPModel, XLMRobertaTokenizer

import hf_folder

IMAGES = ["dog.jpg", "odd-227x389.png", "wide-1700x40.png", "cifar10-cat-0000.jpg"]
TEXTS = ["a photo of a dog.", "一张狗的照片", "Ein Foto von einem Hund über Äpfel", "a <pad> photo of a <mask> cat",
         "x", " ".join(["a blurry photo of the big dog"] * 6)]
PREPROCESSOR = {"size": {"shortest_edge": 64}, "crop_size": {"height": 64, "width": 64}, "do_center_crop": True,
                "do_resize": True, "do_normalize": True, "do_rescale": True, "do_convert_rgb": True, "resample": 3,
                "rescale_factor": 1 / 255, "image_mean": [0.48145466, 0.4578275, 0.40821073],
                "image_std": [0.26862954, 0.26130258, 0.27577711], "image_processor_type": "CLIPImageProcessor"}
SEED = 0
MAX_TOKENS = 22  # max_position_embeddings 24 - pad_token_id 1 - 1


def make_config(vocab):
    return AltCLIPConfig(
        text_config=dict(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=24, project_dim=24, pad_token_id=1),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                           image_size=64, patch_size=16),
        projection_dim=16)


def main():
    shared, out = sys.argv[1], sys.argv[2]
    assert PIL.__version__.split(".")[0] == "13", "Pillow %s: the goldens need Pillow 13" % PIL.__version__
    tok_json = os.path.join(os.path.dirname(os.path.abspath(out)), "unigram", "tokenizer.json")
    vocab = len(json.load(open(tok_json, encoding="utf-8"))["model"]["vocab"])
    torch.manual_seed(SEED)
    model = AltCLIPModel(make_config(vocab)).eval().double()
    hf_folder.randomize(model, SEED)
    # as transformers 5 writes it: float32, its layer lists named
    # encoder.layer.i in both towers (save_pretrained undoes its load-time
    # rename of layer. to layers.)
    os.makedirs(out, exist_ok=True)
    model.float().save_pretrained(out)
    model.double()
    json.dump(PREPROCESSOR, open(os.path.join(out, "preprocessor_config.json"), "w"), indent=1)
    with tempfile.TemporaryDirectory() as tmp:  # the folder as the test assembles it
        for f in ("config.json", "model.safetensors", "preprocessor_config.json"):
            shutil.copy(os.path.join(out, f), tmp)
        shutil.copy(tok_json, tmp)
        model = AltCLIPModel.from_pretrained(tmp).eval().double()
        tok = XLMRobertaTokenizer.from_pretrained(tmp)
        pixels = hf_folder.pixels(shared, IMAGES, PREPROCESSOR)
        with torch.no_grad():
            img = model.get_image_features(pixel_values=pixels)
            img = getattr(img, "pooler_output", img)
            texts, ids = {}, {}
            for t in TEXTS:
                ids[t] = tok(t, truncation=True, max_length=MAX_TOKENS)["input_ids"]
                e = model.get_text_features(input_ids=torch.tensor([ids[t]]))
                texts[t] = getattr(e, "pooler_output", e)[0].tolist()
    assert max(len(v) for v in ids.values()) == MAX_TOKENS, ids
    json.dump({"transformers": transformers.__version__, "torch": torch.__version__, "pillow": PIL.__version__,
               "safetensors": safetensors.__version__, "seed": SEED, "ids": ids,
               "images": {n: img[i].tolist() for i, n in enumerate(IMAGES)}, "texts": texts},
              open(os.path.join(out, "golden.json"), "w", encoding="utf-8"), indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
