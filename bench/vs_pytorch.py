"""Helpers of the benchmarks against PyTorch (bench_groupvit_vs_pytorch.py,
bench_altclip_vs_pytorch.py, bench_align_vs_pytorch.py): timing, and transformers' side of an
embedding run (in batches, as a user of transformers writes it)."""
import argparse
import glob
import json
import os
import subprocess
import tempfile
import time

import numpy as np
import torch
import transformers
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


def torch_texts(model, tok, texts, batch, pad=True):
    """get_text_features over texts in padded batches (with their masks;
    pad "max_length": padded to the context, unmasked, as SigLIP runs)."""
    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch):
            b = tok(texts[i:i + batch], padding=pad, truncation=pad == "max_length", return_tensors="pt")
            mask = b["attention_mask"] if pad is True else None
            out.append(_feats(model.get_text_features(input_ids=b["input_ids"], attention_mask=mask)))
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


def run(a, build, make_tok, proc, paths, texts, title, pad=True):
    """The comparison both model benchmarks make: build(folder) saves the
    model there and returns it; neglabel `embed` (a process; its load alone,
    `info`, timed and taken off) and PyTorch (make_tok(folder)'s tokenizer
    and get_text_features in padded batches; proc and get_image_features)
    embed texts and the image files (pad: torch_texts'); prints ms per
    item, the ratios and the worst cosine between the two sides."""
    with tempfile.TemporaryDirectory() as d:
        model = build(d)
        base = [a.bin, "--threads", str(a.threads)]
        emb = base + ["embed", "--no-cache", "--quiet", "--device", "cpu", "--batch", str(a.batch), "--model", d]

        def ours(args):
            r = subprocess.run(emb + args, capture_output=True, text=True, check=True)
            return np.array([json.loads(l)["embedding"] for l in r.stdout.splitlines()])

        tfile = os.path.join(d, "texts.txt")
        open(tfile, "w").write("\n".join(texts) + "\n")
        img_args = [x for p in paths for x in ("--image", p)]
        load = lambda: subprocess.run(base + ["info", "--no-cache", "--model", d], capture_output=True, check=True)
        load()  # the page cache warm
        t_load, _ = best_of(a.runs, load)
        t_txt, e_txt = best_of(a.runs, lambda: ours(["--texts", tfile]))
        t_img, e_img = best_of(a.runs, lambda: ours(img_args))

        tok = make_tok(d)
        torch_texts(model, tok, texts[:a.batch], a.batch, pad)  # warm-up
        tp_txt, r_txt = best_of(a.runs, lambda: torch_texts(model, tok, texts, a.batch, pad))
        tp_img, r_img = best_of(a.runs, lambda: torch_images(model, proc, paths, a.batch))
    cos_t, cos_i = worst_cosine(e_txt, r_txt), worst_cosine(e_img, r_img)
    ni, nt = len(paths), len(texts)
    print(f"{title}, {nt} prompts, {ni} CIFAR-10 JPEGs, {a.threads} threads, batch {a.batch}; "
          f"torch {torch.__version__}, transformers {transformers.__version__}")
    print(f"load    neglabel (info: the weights converted):               {t_load:8.2f} s, taken off below")
    print(f"texts   neglabel embed (tokenize + model):                    {(t_txt - t_load) / nt * 1e3:8.2f} ms/text")
    print(f"        PyTorch (tokenizer + get_text_features, padded):      {tp_txt / nt * 1e3:8.2f} ms/text"
          f"   ratio {tp_txt / (t_txt - t_load):.2f}x")
    print(f"images  neglabel embed (decode + preprocess + model):         {(t_img - t_load) / ni * 1e3:8.1f} ms/image")
    print(f"        PyTorch (Pillow processor + get_image_features):      {tp_img / ni * 1e3:8.1f} ms/image"
          f"   ratio {tp_img / (t_img - t_load):.2f}x")
    if pad is not True:
        print(f"        (PyTorch's texts padded to the context, {pad}, unmasked: as the model runs them)")
    print(f"worst cosine neglabel vs PyTorch: texts {cos_t:.9f}, images {cos_i:.9f}")
