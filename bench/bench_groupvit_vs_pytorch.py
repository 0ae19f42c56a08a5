#!/usr/bin/env python3
"""bench_groupvit_vs_pytorch.py — neglabel vs PyTorch (transformers'
GroupViTModel) on GroupViT with the shapes of nvidia/groupvit-gcc-yfcc, the
same inputs, the same machine and thread count, in one run.

A random-weight GroupViT (GroupViTConfig's defaults: the shapes of
nvidia/groupvit-gcc-yfcc; BatchNorm statistics and group tokens drawn at
random, as transformers' init leaves them at identities and zeros, which
would tie every grouping) is saved as a Hugging Face folder and loaded by
both sides in float32. Both embed the same image files (neglabel end to end:
`neglabel embed`, decode + Pillow-exact preprocessing + model; PyTorch:
transformers' Pillow image processor + get_image_features in batches; and
PyTorch's forward pass alone on preprocessed tensors) and the same prompts
(tokenizer + text tower + projection; PyTorch in padded batches). Reported:
milliseconds per item, the ratios, and the worst cosine between the two
sides' embeddings.

Needs torch, transformers, pillow, numpy; a built neglabel; the reference
data (../shared).

  python3 bench/bench_groupvit_vs_pytorch.py --bin build/neglabel --threads 2 --images 64 --texts 1000
"""
import json, os, shutil, subprocess, tempfile

import numpy as np
import torch
import transformers
from PIL import Image
from transformers import CLIPTokenizer, GroupViTConfig, GroupViTModel
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

from vs_pytorch import best_of, inputs, options, torch_images, torch_texts, worst_cosine

PREPROCESSOR = {"size": {"shortest_edge": 224}, "crop_size": {"height": 224, "width": 224}, "resample": 3,
                "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711]}


def build(path, shared):
    torch.manual_seed(0)
    model = GroupViTModel(GroupViTConfig()).eval()
    with torch.no_grad():
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            if "running_var" in name:
                t.copy_(0.5 + torch.rand(t.shape))
            elif "running_mean" in name:
                t.copy_(0.1 * torch.randn(t.shape))
            elif "group_token" in name:
                t.copy_(torch.randn(t.shape))
    model.save_pretrained(path)
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(shared, "clip-tokenizer", f), path)
    json.dump(PREPROCESSOR, open(os.path.join(path, "preprocessor_config.json"), "w"))
    return model


def main():
    a = options(64, 1000, 3)
    torch.set_num_threads(a.threads)
    paths, texts = inputs(a, lambda w: "the nice " + w)
    with tempfile.TemporaryDirectory() as d:
        model = build(d, a.shared)
        base = [a.bin, "embed", "--no-cache", "--quiet", "--device", "cpu", "--threads", str(a.threads), "--batch",
                str(a.batch), "--model", d]

        def ours(args):
            r = subprocess.run(base + args, capture_output=True, text=True, check=True)
            return np.array([json.loads(l)["embedding"] for l in r.stdout.splitlines()])

        img_args = [x for p in paths for x in ("--image", p)]
        tfile = os.path.join(d, "texts.txt")
        open(tfile, "w").write("\n".join(texts) + "\n")
        ours(img_args[:4])  # warm the page cache
        t_img, e_img = best_of(a.runs, lambda: ours(img_args))
        t_txt, e_txt = best_of(a.runs, lambda: ours(["--texts", tfile]))

        proc = CLIPImageProcessorPil(**PREPROCESSOR)
        tok = CLIPTokenizer(os.path.join(d, "vocab.json"), os.path.join(d, "merges.txt"))

        torch_images(model, proc, paths, a.batch)  # warm-up
        tp_img, r_img = best_of(a.runs, lambda: torch_images(model, proc, paths, a.batch))
        pixels = torch.cat([proc(images=[Image.open(p).convert("RGB") for p in paths[i:i + a.batch]],
                                 return_tensors="pt")["pixel_values"] for i in range(0, len(paths), a.batch)])

        def torch_forward():
            with torch.inference_mode():
                for i in range(0, len(paths), a.batch):
                    model.get_image_features(pixel_values=pixels[i:i + a.batch])

        tp_fwd, _ = best_of(a.runs, torch_forward)
        tp_txt, r_txt = best_of(a.runs, lambda: torch_texts(model, tok, texts, a.batch))
    cos_i, cos_t = worst_cosine(e_img, r_img), worst_cosine(e_txt, r_txt)
    ni, nt = len(paths), len(texts)
    print(f"GroupViT (nvidia/groupvit-gcc-yfcc shapes), {ni} CIFAR-10 JPEGs, {nt} prompts, {a.threads} threads, "
          f"batch {a.batch}; torch {torch.__version__}, transformers {transformers.__version__}")
    print(f"images  neglabel embed (process: decode + preprocess + model): {t_img / ni * 1e3:8.2f} ms/image")
    print(f"        PyTorch (Pillow processor + get_image_features):       {tp_img / ni * 1e3:8.2f} ms/image"
          f"   ratio {tp_img / t_img:.2f}x")
    print(f"        PyTorch get_image_features only (preprocessed):        {tp_fwd / ni * 1e3:8.2f} ms/image"
          f"   ratio {tp_fwd / t_img:.2f}x")
    print(f"texts   neglabel embed (process: tokenize + model):            {t_txt / nt * 1e3:8.3f} ms/text")
    print(f"        PyTorch (tokenizer + get_text_features, padded):       {tp_txt / nt * 1e3:8.3f} ms/text"
          f"   ratio {tp_txt / t_txt:.2f}x")
    print(f"worst cosine neglabel vs PyTorch: images {cos_i:.9f}, texts {cos_t:.9f}")


if __name__ == "__main__":
    main()
