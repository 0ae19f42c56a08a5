"""Helpers of the benchmarks against PyTorch (bench_groupvit_vs_pytorch.py,
bench_altclip_vs_pytorch.py): timing, and transformers' side of an
embedding run (in batches, as a user of transformers writes it)."""
import time

import numpy as np
import torch
from PIL import Image


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
