#!/usr/bin/env python3
"""Write tests/data/siglip/: a small random-weight SigLIP (transformers'
SiglipModel, model_type "siglip": google/siglip-*) in Hugging Face's layout,
and the float64 embeddings transformers computes with it, for
cli_siglip.sh.

The model: a ViT without class token or pre-LayerNorm (64-pixel images in
16-pixel patches, width 32, 2 layers, 4 heads, gelu_pytorch_tanh), pooled
by its attention-pooling head, and a bidirectional text tower (width 32, 2
layers, 4 heads, 16 positions) pooled at the last position through its
head. Its tokenizer is tests/data/spm/t5 (a small SentencePiece Unigram
with T5's layout, which google/siglip-* use; the test copies it into the
folder). Every parameter is drawn at random (seeded; LayerNorm gains
around 1), stored in F32 (the token embedding in F16).

Texts are embedded as SigLIP was trained (big_vision; open_clip runs it so
too): tokenized by SiglipTokenizer, cut to the 16 positions, padded to
them with the pad token ("max_length"), and run without an attention mask
(model.get_text_features(input_ids=...)). Passing transformers 5's
tokenizer attention_mask as well would mask the pads; golden.json records
how far that moves the embeddings ("masked_cosine").

Written: config.json, model.safetensors, preprocessor_config.json
(SiglipImageProcessor at 64 pixels), golden.json: versions, the image
embeddings (transformers' Pillow image processor, the model in float64)
with the default bicubic and with bilinear resampling, the text
embeddings and the ids. Run with torch, transformers, sentencepiece,
protobuf and Pillow 13 importable:

  /path/to/venv/bin/python tests/gen/gen_siglip.py ../shared tests/data/siglip
"""
import json
import os
import shutil
import sys
import tempfile

import PIL
import safetensors
import sentencepiece
import torch
import transformers
from transformers import SiglipConfig, SiglipModel, SiglipTokenizer
from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

import hf_folder

IMAGES = ["dog.jpg", "odd-227x389.png", "wide-1700x40.png", "cifar10-cat-0000.jpg"]
TEXTS = ["a photo of a dog.", "A PHOTO of the Café's “best” dog!", "x", "ÜBER  naïve\tCAFÉ ﬁne",
         "a photo of a </s> cat", " ".join(["a blurry photo of the big dog"] * 4)]
PREPROCESSOR = {"do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5],
                "image_processor_type": "SiglipImageProcessor", "image_std": [0.5, 0.5, 0.5],
                "processor_class": "SiglipProcessor", "resample": 3, "rescale_factor": 1 / 255,
                "size": {"height": 64, "width": 64}}
SEED = 0
CONTEXT = 16


def make_config(vocab):
    return SiglipConfig(
        text_config=dict(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=CONTEXT, pad_token_id=1),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                           image_size=64, patch_size=16))


def main():
    shared, out = sys.argv[1], sys.argv[2]
    assert PIL.__version__.split(".")[0] == "13", "Pillow %s: the goldens need Pillow 13" % PIL.__version__
    spm = os.path.join(os.path.dirname(os.path.abspath(out)), "spm", "t5")
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:  # the folder as the test assembles it
        for f in os.listdir(spm):  # spiece.model, tokenizer_config.json, ...
            shutil.copy(os.path.join(spm, f), tmp)
        tok = SiglipTokenizer.from_pretrained(tmp)
        torch.manual_seed(SEED)
        model = SiglipModel(make_config(len(tok))).eval().double()
        hf_folder.randomize(model, SEED)
        hf_folder.save(model, out, PREPROCESSOR)
        for f in ("config.json", "model.safetensors", "preprocessor_config.json"):
            shutil.copy(os.path.join(out, f), tmp)
        model = SiglipModel.from_pretrained(tmp).eval().double()
        images = {}
        for resample in (3, 2):
            pre = dict(PREPROCESSOR, resample=resample)
            pixels = hf_folder.pixels(shared, IMAGES, pre, SiglipImageProcessorPil)
            with torch.no_grad():
                e = model.get_image_features(pixel_values=pixels)
            e = getattr(e, "pooler_output", e)
            images["bicubic" if resample == 3 else "bilinear"] = {n: e[i].tolist() for i, n in enumerate(IMAGES)}
        texts, ids, cos = {}, {}, 1.0
        with torch.no_grad():
            for t in TEXTS:
                ids[t] = tok(t, truncation=True, max_length=CONTEXT)["input_ids"]
                enc = tok(t, truncation=True, max_length=CONTEXT, padding="max_length", return_tensors="pt")
                assert enc["input_ids"][0].tolist()[:len(ids[t])] == ids[t]
                e = model.get_text_features(input_ids=enc["input_ids"])
                e = getattr(e, "pooler_output", e)[0]
                texts[t] = e.tolist()
                m = model.get_text_features(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
                m = getattr(m, "pooler_output", m)[0]
                cos = min(cos, float(torch.nn.functional.cosine_similarity(e, m, dim=0)))
    assert max(len(v) for v in ids.values()) == CONTEXT, ids
    json.dump({"transformers": transformers.__version__, "torch": torch.__version__, "pillow": PIL.__version__,
               "sentencepiece": sentencepiece.__version__, "safetensors": safetensors.__version__, "seed": SEED,
               "masked_cosine": cos, "ids": ids, "images": images["bicubic"], "images_bilinear": images["bilinear"],
               "texts": texts},
              open(os.path.join(out, "golden.json"), "w", encoding="utf-8"), indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
