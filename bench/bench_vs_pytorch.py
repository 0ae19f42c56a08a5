#!/usr/bin/env python3
"""bench_vs_pytorch.py — neglabel vs PyTorch (Hugging Face transformers) on
the same inputs, in one run, on the same machine and thread count.

A random-weight CLIP with the exact shapes of openai/clip-vit-base-patch16
is built with transformers and saved as a Hugging Face folder (so both sides
load the same weights); then both embed the same image files (decode +
Pillow/neglabel preprocessing + ViT) and the same prompts (tokenize + text
tower), and we report time per item, the ratio, and the largest difference
between the two sides' normalised embeddings.

Needs: torch, transformers, pillow, numpy (e.g. a venv: pip install torch
transformers pillow numpy), a built neglabel, and the reference data
(../shared) for images and the tokenizer files.

  python3 bench/bench_vs_pytorch.py --bin build/neglabel --threads 2 --images 64 --texts 2000
  python3 bench/bench_vs_pytorch.py ... --bf16     # also bf16 rows (issue 8)

With --bf16 the same run adds: the machine's float32 and bf16 matrix-multiply
rates (torch.matmul, 2048 x 2048, what PyTorch's oneDNN/MKL reach), neglabel
--precision bf16 from the same JPEG files, PyTorch under
torch.autocast("cpu", dtype=torch.bfloat16) from preprocessed tensors (its
forward pass only: decoding is not counted for PyTorch), the effective
GFLOP/s of each image row, and the worst cosine of each bf16 embedding to
its float32 counterpart.
"""
import argparse, glob, json, os, shutil, subprocess, sys, tempfile, time

import numpy as np
import torch
from PIL import Image
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]


def build_model(path, shared):
    cfg = CLIPConfig(
        text_config=dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8,
                         max_position_embeddings=77, vocab_size=49408, bos_token_id=49406, eos_token_id=49407),
        vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                           image_size=224, patch_size=16),
        projection_dim=512)
    torch.manual_seed(0)
    model = CLIPModel(cfg).eval()
    model.save_pretrained(path, safe_serialization=True)
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(shared, "clip-tokenizer", f), path)
    with open(os.path.join(path, "preprocessor_config.json"), "w") as f:
        json.dump({"image_mean": OPENAI_MEAN, "image_std": OPENAI_STD, "resample": 3, "size": 224,
                   "crop_size": 224}, f)
    return model


def preprocess(path):
    """Pillow bicubic resize of the shorter side + centre crop (OpenAI CLIP)."""
    im = Image.open(path).convert("RGB")
    w, h = im.size
    s = 224
    if min(w, h) != s:
        if w < h:
            im = im.resize((s, int(s * h / w)), Image.BICUBIC)
        else:
            im = im.resize((int(s * w / h), s), Image.BICUBIC)
    w, h = im.size
    top, left = int(round((h - s) / 2)), int(round((w - s) / 2))
    im = im.crop((left, top, left + s, top + s))
    x = np.asarray(im, dtype=np.float32) / 255.0
    x = (x - np.array(OPENAI_MEAN, np.float32)) / np.array(OPENAI_STD, np.float32)
    return torch.from_numpy(x.transpose(2, 0, 1).copy())


def as_features(x):
    # transformers 5 returns an output object whose pooler_output holds the projections
    return x if isinstance(x, torch.Tensor) else x.pooler_output


def autocast(bf16):
    import contextlib
    return torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def torch_images(model, paths, batch):
    out = []
    with torch.inference_mode():
        for i in range(0, len(paths), batch):
            px = torch.stack([preprocess(p) for p in paths[i:i + batch]])
            out.append(as_features(model.get_image_features(pixel_values=px)))
    return torch.cat(out)


def torch_images_tensors(model, paths, batch, bf16):
    """Forward passes only, from preprocessed tensors; (seconds, embeddings)."""
    px = torch.stack([preprocess(p) for p in paths])
    out = []
    with torch.inference_mode(), autocast(bf16):
        model.get_image_features(pixel_values=px[:2])  # warm-up (oneDNN primitives)
        t = time.perf_counter()
        for i in range(0, len(paths), batch):
            out.append(as_features(model.get_image_features(pixel_values=px[i:i + batch])).float())
        dt = time.perf_counter() - t
    return dt, torch.cat(out)


def torch_texts(model, tok, texts, batch, bf16=False):
    out = []
    with torch.inference_mode(), autocast(bf16):
        for i in range(0, len(texts), batch):
            enc = tok(texts[i:i + batch], padding=True, truncation=True, max_length=77, return_tensors="pt")
            out.append(as_features(model.get_text_features(**enc)).float())
    return torch.cat(out)


def matmul_rate(dtype, n=2048, reps=10, tries=3):
    """Best of `tries` timings of `reps` products (GFLOP/s)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    torch.matmul(a, b)
    best = 0
    for _ in range(tries):
        t = time.perf_counter()
        for _ in range(reps):
            torch.matmul(a, b)
        best = max(best, 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9)
    return best


def best_of(n, fn):
    """fn() -> (seconds, result): the fastest of n runs, and its result (this
    machine's timings vary by tens of percent from run to run)."""
    runs = [fn() for _ in range(n)]
    return min(runs, key=lambda r: r[0])


def vit_flops(n_img):
    """Multiply-adds x 2 of ViT-B/16 on one 224 image (linear layers, patch
    embedding, attention products)."""
    T, D, I, L = 197, 768, 3072, 12
    per_layer = 2 * T * (D * 3 * D + D * D + 2 * D * I) + 2 * 2 * T * T * D
    return n_img * (L * per_layer + 2 * 196 * D * 768 + 2 * D * 512)


def worst_cos(a, b):
    return float((unit(a) * unit(b)).sum(axis=1).min())


def ours(binary, model_dir, args, threads, extra=()):
    t = time.perf_counter()
    r = subprocess.run([binary, "embed", "--no-cache", "--quiet", "--threads", str(threads), "--model", model_dir]
                       + list(extra) + args, capture_output=True, text=True, check=True)
    dt = time.perf_counter() - t
    emb = np.array([json.loads(l)["embedding"] for l in r.stdout.splitlines()], dtype=np.float64)
    return dt, emb


def torch_neglabel(img, idl, neg, ngroup, tau):
    """The reference's grouping score (NegLabel clip_ood.py), without shuffle."""
    img, idl, neg = (torch.nn.functional.normalize(torch.from_numpy(x), dim=-1) for x in (img, idl, neg))
    pos = img @ idl.T / tau
    negs = img @ neg.T / tau
    drop = negs.shape[1] % ngroup
    if drop:
        negs = negs[:, :-drop]
    negs = negs.reshape(img.shape[0], ngroup, -1)
    scores = []
    for g in range(ngroup):
        full = torch.cat([pos, negs[:, g, :]], dim=-1).softmax(dim=-1)
        scores.append(full[:, :pos.shape[1]].sum(dim=-1, keepdim=True))
    return torch.cat(scores, dim=-1).mean(dim=-1)


def bench_scoring(binary, tmp, threads, n_img=10000, n_id=1000, n_neg=10000, dim=512, ngroup=100):
    rng = np.random.default_rng(0)
    arrs = {k: rng.standard_normal((n, dim)).astype(np.float32) for k, n in (("img", n_img), ("id", n_id), ("neg", n_neg))}
    paths = {}
    for k, a in arrs.items():
        paths[k] = os.path.join(tmp, k + ".npy")
        np.save(paths[k], a)
    t = time.perf_counter()
    r = subprocess.run([binary, "score-embeddings", "--threads", str(threads), "--id", paths["id"], "--neg", paths["neg"],
                        "--images", paths["img"], "--no-shuffle", "--ngroup", str(ngroup)],
                       capture_output=True, text=True, check=True)
    t_ours = time.perf_counter() - t
    ours_s = np.array([float(x) for x in r.stdout.split()])
    t = time.perf_counter()
    with torch.inference_mode():
        ref = torch_neglabel(arrs["img"], arrs["id"], arrs["neg"], ngroup, 0.01).double().numpy()
    t_ref = time.perf_counter() - t
    return t_ours, t_ref, np.abs(ours_s - ref).max(), (n_img, n_id, n_neg, dim, ngroup)


def unit(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/neglabel")
    ap.add_argument("--shared", default=os.environ.get("NEGLABEL_SHARED", "../shared"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--texts", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--bf16", action="store_true", help="also the bf16 rows (CPU with AVX512-BF16 or AMX)")
    ap.add_argument("--repeat", type=int, default=3, help="bf16 rows: best of this many runs each")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tmp = tempfile.mkdtemp(prefix="neglabel-bench-")
    try:
        model_dir = os.path.join(tmp, "clip-b16-random")
        model = build_model(model_dir, a.shared)
        tok = CLIPTokenizer(os.path.join(model_dir, "vocab.json"), os.path.join(model_dir, "merges.txt"))
        imgs = sorted(glob.glob(os.path.join(a.shared, "fixtures/images/*.jpg")))
        imgs = (imgs * (a.images // len(imgs) + 1))[:a.images]
        words = [l.strip() for l in open(os.path.join(a.shared, "neglabel-reference/txtfiles/noun.artifact.txt"))]
        texts = ["the nice " + w for w in words[:a.texts]]

        # Fixed costs first (model load), so per-item numbers compare the work.
        t_load, _ = ours(a.bin, model_dir, ["--text", "warm up"], a.threads)
        t_img, e_img = ours(a.bin, model_dir, sum((["--image", p] for p in imgs), []), a.threads)
        t_txt, e_txt = ours(a.bin, model_dir, sum((["--text", t] for t in texts), []), a.threads)
        t0 = time.perf_counter(); p_img = torch_images(model, imgs, a.batch); tp_img = time.perf_counter() - t0
        t0 = time.perf_counter(); p_txt = torch_texts(model, tok, texts, a.batch * 8); tp_txt = time.perf_counter() - t0

        d_img = np.abs(unit(e_img) - unit(p_img.numpy())).max()
        d_txt = np.abs(unit(e_txt) - unit(p_txt.numpy())).max()
        n_img = (t_img - t_load) / len(imgs) * 1e3
        n_txt = (t_txt - t_load) / len(texts) * 1e3
        q_img = tp_img / len(imgs) * 1e3
        q_txt = tp_txt / len(texts) * 1e3
        print(f"machine: {os.cpu_count()} CPUs, {a.threads} threads; torch {torch.__version__}")
        print(f"model: random CLIP ViT-B/16 shapes; neglabel load {t_load:.2f} s (excluded below)")
        print(f"{'work':34s} {'neglabel':>12s} {'PyTorch':>12s} {'speed-up':>9s} {'max |diff|':>11s}")
        print(f"{'images (decode+preprocess+ViT)':34s} {n_img:9.1f} ms {q_img:9.1f} ms {q_img / n_img:8.2f}x {d_img:11.2e}")
        print(f"{'texts (tokenize+text tower)':34s} {n_txt:9.2f} ms {q_txt:9.2f} ms {q_txt / n_txt:8.2f}x {d_txt:11.2e}")
        print(f"({len(imgs)} images, batch {a.batch}; {len(texts)} prompts; differences of L2-normalised embeddings)")
        t_o, t_r, d_s, shape = bench_scoring(a.bin, tmp, a.threads)
        print(f"{'NegLabel scoring (from .npy)':34s} {t_o:10.2f} s {t_r:10.2f} s {t_r / t_o:8.2f}x {d_s:11.2e}")
        print("(%d images x (%d ID + %d negative labels), dim %d, %d groups; neglabel includes process start and "
              ".npy loading; PyTorch float32 vs neglabel's double-precision cosines)" % shape)
        if a.bf16:
            bf16_rows(a, model, tok, model_dir, imgs, texts)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bf16_rows(a, model, tok, model_dir, imgs, texts):
    """All image and text rows of the bf16 table, each the best of a.repeat
    runs, interleaved so that a slow spell of the machine hits every row."""
    info = json.loads(subprocess.run([a.bin, "devices"], capture_output=True, text=True, check=True).stdout)
    cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")][:1]
    r32, r16 = matmul_rate(torch.float32), matmul_rate(torch.bfloat16)
    bf = ["--precision", "bf16", "--strict-precision"]
    img_args = sum((["--image", p] for p in imgs), [])
    txt_args = sum((["--text", t] for t in texts), [])
    res = {}

    def ours_items(extra, args, n):
        t_l, _ = ours(a.bin, model_dir, ["--text", "warm up"], a.threads, extra)
        t, e = ours(a.bin, model_dir, args, a.threads, extra)
        return (t - t_l) / n, e

    def torch_txt(bf16):
        t0 = time.perf_counter()
        e = torch_texts(model, tok, texts, a.batch * 8, bf16)
        return time.perf_counter() - t0, e

    jobs = {"img32": lambda: ours_items([], img_args, len(imgs)), "img16": lambda: ours_items(bf, img_args, len(imgs)),
            "timg32": lambda: torch_images_tensors(model, imgs, a.batch, False),
            "timg16": lambda: torch_images_tensors(model, imgs, a.batch, True),
            "txt32": lambda: ours_items([], txt_args, len(texts)), "txt16": lambda: ours_items(bf, txt_args, len(texts)),
            "ttxt32": lambda: torch_txt(False), "ttxt16": lambda: torch_txt(True)}
    for _ in range(a.repeat):
        for k, fn in jobs.items():
            t, e = fn()
            if k in ("timg32", "timg16"):
                t /= len(imgs)
            elif k in ("ttxt32", "ttxt16"):
                t /= len(texts)
            if k not in res or t < res[k][0]:
                res[k] = (t, e)
    ms = {k: v[0] * 1e3 for k, v in res.items()}
    e_img, e_img32 = res["img16"][1], res["img32"][1]
    e_txt, e_txt32 = res["txt16"][1], res["txt32"][1]
    p16, p32 = res["timg16"][1], res["timg32"][1]
    q16, q32 = res["ttxt16"][1], res["ttxt32"][1]
    F = vit_flops(1)
    print()
    print(f"bf16 on the CPU: {cpu[0] if cpu else '?'}; native bf16: '{info['cpu']['bf16']}', "
          f"neglabel kernel {info['cpu']['bf16_kernel']}; {a.threads} threads")
    print(f"matrix multiply 2048^2 (torch.matmul): float32 {r32:.0f} GFLOP/s, bf16 {r16:.0f} GFLOP/s")
    print(f"{'images (ViT-B/16)':34s} {'ms/image':>9s} {'images/s':>9s} {'GFLOP/s':>8s} {'of bf16 mm':>10s} "
          f"{'worst cos':>10s}")
    rows = [("neglabel fp32, JPEG files", ms["img32"], None),
            ("neglabel bf16, JPEG files", ms["img16"], worst_cos(e_img, e_img32)),
            ("PyTorch fp32, tensors", ms["timg32"], None),
            ("PyTorch autocast bf16, tensors", ms["timg16"], worst_cos(p16.numpy(), p32.numpy()))]
    for name, t, wc in rows:
        print(f"{name:34s} {t:9.1f} {1e3 / t:9.2f} {F / t / 1e6:8.0f} {F / t / 1e6 / r16:9.0%} "
              f"{'' if wc is None else f'{wc:.6f}':>10s}")
    print(f"neglabel bf16 / PyTorch autocast bf16: {ms['timg16'] / ms['img16']:.2f}x; "
          f"neglabel bf16 / fp32: {ms['img32'] / ms['img16']:.2f}x")
    print(f"{'texts':34s} {'ms/text':>9s} {'worst cos':>10s}")
    tr = [("neglabel fp32", ms["txt32"], None), ("neglabel bf16", ms["txt16"], worst_cos(e_txt, e_txt32)),
          ("PyTorch fp32 (padded to batch max)", ms["ttxt32"], None),
          ("PyTorch autocast bf16", ms["ttxt16"], worst_cos(q16.numpy(), q32.numpy()))]
    for name, t, wc in tr:
        print(f"{name:34s} {t:9.3f} {'' if wc is None else f'{wc:.6f}':>10s}")
    print(f"neglabel bf16 / PyTorch autocast bf16 (texts): {ms['ttxt16'] / ms['txt16']:.2f}x")
    print(f"(best of {a.repeat} interleaved runs per row; {len(imgs)} images, batch {a.batch}; {len(texts)} prompts; "
          f"GFLOP/s: {F / 1e9:.1f} GFLOP per image)")


if __name__ == "__main__":
    sys.exit(main())
