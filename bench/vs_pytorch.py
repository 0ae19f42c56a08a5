"""Helpers of the benchmarks against PyTorch (bench_groupvit_vs_pytorch.py,
bench_altclip_vs_pytorch.py): timing, and transformers' side of an
embedding run (in batches, as a user of transformers writes it)."""
import argparse
import glob
import os
import time

import numpy as np
import torch
from PIL import Image


def options(images, texts, runs):
    """The benchmarks' command line, with their own defaults."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/neglabel")
    ap.add_argument("--shared", default=os.environ.get("NEGLABEL_SHARED", "../shared"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=images)
    ap.add_argument("--texts", type=int, default=texts)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--runs", type=int, default=runs)
    return ap.parse_args()


def inputs(a, prompt):
    """The image files (every 97th CIFAR-10 test JPEG) and the prompts
    (prompt(word) for each word of WordNet's noun.artifact list)."""
    paths = sorted(glob.glob(os.path.join(a.shared, "data", "cifar10-test", "*", "*.jpg")))[::97][: a.images]
    words = [l.strip() for l in open(os.path.join(a.shared, "neglabel-reference", "txtfiles", "noun.artifact.txt"))]
    return paths, [prompt(w) for w in words if w][: a.texts]


def best_of(n, fn):
    """The shortest of n runs of fn (seconds), and its last result."""
    best, out = None, None
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
        best = dt if best is None or dt < best else best
    return best, out


def _feats(x):
    return getattr(x, "pooler_output", x)


def torch_texts(model, tok, texts, batch):
    """get_text_features over texts in padded batches (with their masks)."""
    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch):
            b = tok(texts[i:i + batch], padding=True, return_tensors="pt")
            out.append(_feats(model.get_text_features(input_ids=b["input_ids"], attention_mask=b["attention_mask"])))
    return torch.cat(out).double().numpy()


def torch_images(model, proc, paths, batch):
    """The image processor, then get_image_features, in batches."""
    out = []
    with torch.inference_mode():
        for i in range(0, len(paths), batch):
            px = proc(images=[Image.open(p).convert("RGB") for p in paths[i:i + batch]], return_tensors="pt")
            out.append(_feats(model.get_image_features(pixel_values=px["pixel_values"])))
    return torch.cat(out).double().numpy()


def worst_cosine(a, b):
    u = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)
    return float((u(a) * u(b)).sum(axis=1).min())
