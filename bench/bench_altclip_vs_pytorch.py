#!/usr/bin/env python3
"""bench_altclip_vs_pytorch.py — neglabel vs PyTorch (transformers'
AltCLIPModel) on AltCLIP with the shapes of BAAI/AltCLIP (XLM-R large text
tower, 250,002 pieces; CLIP ViT-L/14 vision tower), the same inputs, the same
machine and thread count, in one run.

A random-weight AltCLIP is saved as a Hugging Face folder (float32) with
the XLM-R-style tokenizer of tests/data/unigram (3,002 pieces: the ids the
prompts get are in the model's vocabulary; the model's shapes are
BAAI/AltCLIP's) and loaded by both sides. Both embed the same prompts
(tokenizer + XLM-R + projections; PyTorch in padded batches with their
attention masks) and the same image files (neglabel: decode + Pillow-exact
preprocessing + ViT; PyTorch: transformers' Pillow image processor +
get_image_features). neglabel runs as a process (`neglabel embed`); its
load alone (`neglabel info`, the same weights converted) is timed too and
taken off. Reported: milliseconds per item, the ratios, the worst cosine
between the two sides' embeddings.

Needs torch, transformers, pillow, numpy; a built neglabel; the reference
data (../shared). ~7 GB of memory, 3.5 GB of disk in the temporary folder.

  python3 bench/bench_altclip_vs_pytorch.py --bin build/neglabel --threads 2 --images 8 --texts 500
"""
import json, os, shutil

import torch
from transformers import AltCLIPConfig, AltCLIPModel, XLMRobertaTokenizer
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

from vs_pytorch import inputs, options, run

PREPROCESSOR = {"size": {"shortest_edge": 224}, "crop_size": {"height": 224, "width": 224}, "resample": 3,
                "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711]}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build(path):
    torch.manual_seed(0)
    cfg = AltCLIPConfig(vision_config=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                                           num_attention_heads=16, patch_size=14, image_size=224))
    model = AltCLIPModel(cfg).eval()
    model.save_pretrained(path)
    shutil.copy(os.path.join(ROOT, "tests", "data", "unigram", "tokenizer.json"), path)
    json.dump(PREPROCESSOR, open(os.path.join(path, "preprocessor_config.json"), "w"))
    return model


def main():
    a = options(8, 500, 2)
    torch.set_num_threads(a.threads)
    paths, texts = inputs(a, lambda w: "a photo of a " + w.replace("_", " ") + ".")
    run(a, build, XLMRobertaTokenizer.from_pretrained, CLIPImageProcessorPil(**PREPROCESSOR), paths, texts,
        "AltCLIP (BAAI/AltCLIP shapes: XLM-R large, ViT-L/14)")


if __name__ == "__main__":
    main()
