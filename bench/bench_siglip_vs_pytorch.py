#!/usr/bin/env python3
"""bench_siglip_vs_pytorch.py — neglabel vs PyTorch (transformers'
SiglipModel) on SigLIP with the shapes of google/siglip-base-patch16-224
(ViT-B/16 at 224 pixels without class token, its attention-pooling head,
a 12-layer text tower over 64 positions, 768-wide embeddings), the same
inputs, the same machine and thread count, in one run.

A random-weight SigLIP (transformers' initialisation, LayerNorm gains and
biases drawn) is saved as a Hugging Face folder (float32) with the
SentencePiece tokenizer of tests/data/spm/t5 (T5's layout, a small
vocabulary: the prompts' ids are in the model's 32,000) and SigLIP's
image processor settings (both sides resized to 224, bicubic, mean and std
0.5), and loaded by both sides. Both embed the same prompts (tokenizer +
text tower + head; PyTorch in batches padded to the 64 positions,
unmasked, as SigLIP runs them) and the same image files (neglabel: decode +
Pillow-exact preprocessing + ViT + head; PyTorch: transformers' Pillow
image processor + get_image_features). neglabel runs as a process
(`neglabel embed`); its load alone (`neglabel info`) is timed too and
taken off. Reported: milliseconds per item, the ratios, the worst cosine
between the two sides' embeddings.

Needs torch, transformers, sentencepiece, protobuf, pillow, numpy; a built
neglabel; the reference data (../shared). ~3 GB of memory.

  python3 bench/bench_siglip_vs_pytorch.py --bin build/neglabel --threads 2 --images 32 --texts 500
"""
import json, os, shutil

import torch
from transformers import SiglipConfig, SiglipModel, SiglipTokenizer
from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

from vs_pytorch import inputs, options, run

PREPROCESSOR = {"do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5],
                "image_std": [0.5, 0.5, 0.5], "resample": 3, "rescale_factor": 1 / 255,
                "size": {"height": 224, "width": 224}}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build(path):
    torch.manual_seed(0)
    model = SiglipModel(SiglipConfig()).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, t in model.named_parameters():
            if name.endswith(".bias") or name.endswith("in_proj_bias"):
                t.copy_(0.02 * torch.randn(t.shape, generator=g))
            elif t.ndim == 1 and "logit" not in name:  # LayerNorm gains
                t.copy_(1 + 0.02 * torch.randn(t.shape, generator=g))
    model.save_pretrained(path)
    spm = os.path.join(ROOT, "tests", "data", "spm", "t5")
    for f in os.listdir(spm):
        shutil.copy(os.path.join(spm, f), path)
    json.dump(dict(PREPROCESSOR, image_processor_type="SiglipImageProcessor"),
              open(os.path.join(path, "preprocessor_config.json"), "w"))
    return model


def main():
    a = options(32, 500, 2)
    torch.set_num_threads(a.threads)
    paths, texts = inputs(a, lambda w: "a photo of a " + w.replace("_", " ") + ".")
    run(a, build, SiglipTokenizer.from_pretrained, SiglipImageProcessorPil(**PREPROCESSOR), paths, texts,
        "SigLIP (google/siglip-base-patch16-224 shapes: ViT-B/16 at 224 px, MAP head, 64-position text)",
        pad="max_length")


if __name__ == "__main__":
    main()
