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
import json, os, shutil, subprocess, tempfile

import numpy as np
import torch
import transformers
from PIL import Image
from transformers import AltCLIPConfig, AltCLIPModel, XLMRobertaTokenizer
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

from vs_pytorch import best_of, inputs, options, torch_images, torch_texts, worst_cosine

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

        proc = CLIPImageProcessorPil(**PREPROCESSOR)
        tok = XLMRobertaTokenizer.from_pretrained(d)
        torch_texts(model, tok, texts[:a.batch], a.batch)  # warm-up
        tp_txt, r_txt = best_of(a.runs, lambda: torch_texts(model, tok, texts, a.batch))
        tp_img, r_img = best_of(a.runs, lambda: torch_images(model, proc, paths, a.batch))
    cos_t, cos_i = worst_cosine(e_txt, r_txt), worst_cosine(e_img, r_img)
    ni, nt = len(paths), len(texts)
    print(f"AltCLIP (BAAI/AltCLIP shapes: XLM-R large, ViT-L/14), {nt} prompts, {ni} CIFAR-10 JPEGs, {a.threads} threads, "
          f"batch {a.batch}; torch {torch.__version__}, transformers {transformers.__version__}")
    print(f"load    neglabel (info: the weights converted):               {t_load:8.2f} s, taken off below")
    print(f"texts   neglabel embed (tokenize + model):                    {(t_txt - t_load) / nt * 1e3:8.2f} ms/text")
    print(f"        PyTorch (tokenizer + get_text_features, padded):      {tp_txt / nt * 1e3:8.2f} ms/text"
          f"   ratio {tp_txt / (t_txt - t_load):.2f}x")
    print(f"images  neglabel embed (decode + preprocess + model):         {(t_img - t_load) / ni * 1e3:8.1f} ms/image")
    print(f"        PyTorch (Pillow processor + get_image_features):      {tp_img / ni * 1e3:8.1f} ms/image"
          f"   ratio {tp_img / (t_img - t_load):.2f}x")
    print(f"worst cosine neglabel vs PyTorch: texts {cos_t:.9f}, images {cos_i:.9f}")


if __name__ == "__main__":
    main()
