#!/usr/bin/env python3
"""bench_align_vs_pytorch.py — neglabel vs PyTorch (transformers'
AlignModel) on ALIGN with the shapes of kakaobrain/align-base (EfficientNet-B7
vision tower at 289 pixels, BERT-base text tower, 640-wide embeddings), the
same inputs, the same machine and thread count, in one run.

A random-weight ALIGN is saved as a Hugging Face folder (float32) with the
WordPiece tokenizer of tests/data/align (1,500 pieces: the ids the prompts
get are in the model's vocabulary; the model's shapes are align-base's) and
ALIGN's image processor settings (both sides resized to 346, the centre 289,
x / 127.5 - 1), and loaded by both sides. Its weights are drawn so that the
activations keep their scale through the 55 blocks (N(0, 1/fan_in)
convolutions and linears; BatchNorm statistics those of real images, the
variances at least 0.05):
transformers' own initialisation shrinks the image embeddings to ~1e-23,
where subnormal floats would time something else. Both embed the same
prompts (tokenizer + BERT + projection; PyTorch in padded batches with their
attention masks) and the same image files (neglabel: decode + Pillow-exact
preprocessing + EfficientNet; PyTorch: transformers' Pillow image processor
+ get_image_features). neglabel runs as a process (`neglabel embed`); its
load alone (`neglabel info`) is timed too and taken off. Reported:
milliseconds per item, the ratios, the worst cosine between the two sides'
embeddings.

Needs torch, transformers, pillow, numpy; a built neglabel; the reference
data (../shared). ~3 GB of memory, 1 GB of disk in the temporary folder.

  python3 bench/bench_align_vs_pytorch.py --bin build/neglabel --threads 2 --images 16 --texts 500
"""
import json, os, shutil

import torch
from PIL import Image
from transformers import AlignConfig, AlignModel, BertTokenizer
from transformers.models.efficientnet.image_processing_pil_efficientnet import EfficientNetImageProcessorPil

from vs_pytorch import inputs, options, run

PREPROCESSOR = {"size": {"height": 346, "width": 346}, "crop_size": {"height": 289, "width": 289},
                "do_center_crop": True, "do_rescale": True, "rescale_factor": 1 / 127.5, "rescale_offset": True,
                "do_normalize": False, "include_top": False, "resample": 2}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build(path, calibration):
    torch.manual_seed(0)
    model = AlignModel(AlignConfig()).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, t in model.named_parameters():
            if t.ndim == 0:
                continue
            if name.endswith(".bias"):
                t.copy_(0.02 * torch.randn(t.shape, generator=g))
            elif t.ndim == 1:  # LayerNorm and BatchNorm gains
                t.copy_(1 + 0.02 * torch.randn(t.shape, generator=g))
            else:
                t.copy_(torch.randn(t.shape, generator=g) / t[0].numel() ** 0.5)
        # BatchNorm statistics: those of a batch of real images, layer by
        # layer (the first 8 images), so that every block sees normalised inputs
        px = EfficientNetImageProcessorPil(**PREPROCESSOR)(
            images=[Image.open(p).convert("RGB") for p in calibration], return_tensors="pt")
        model.train()
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.momentum = None  # a cumulative average: one batch gives its statistics
                m.reset_running_stats()
        model.vision_model(pixel_values=px["pixel_values"])
        model.eval()
        # a channel nearly constant over the calibration images would be
        # scaled up to 30x (eps 1e-3): over 55 blocks the random network
        # turns chaotic (float32 and float64 PyTorch disagree, cosine 0.6).
        # At least 0.05: PyTorch float32 within cosine 1 - 5e-9 of float64
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_var.clamp_(min=0.05)
    model.save_pretrained(path)
    for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        shutil.copy(os.path.join(ROOT, "tests", "data", "align", f), path)
    json.dump(PREPROCESSOR, open(os.path.join(path, "preprocessor_config.json"), "w"))
    return model


def main():
    a = options(16, 500, 2)
    torch.set_num_threads(a.threads)
    paths, texts = inputs(a, lambda w: "a photo of a " + w.replace("_", " ") + ".")
    run(a, lambda d: build(d, paths[:8]), BertTokenizer.from_pretrained, EfficientNetImageProcessorPil(**PREPROCESSOR),
        paths, texts, "ALIGN (kakaobrain/align-base shapes: EfficientNet-B7 at 289 px, BERT-base)")


if __name__ == "__main__":
    main()
