#!/usr/bin/env python3
"""bench_rn50_vs_pytorch.py — neglabel vs PyTorch (open_clip) on CLIP RN50,
the same inputs, the same machine and thread count, in one run.

The RN50 checkpoint is the deterministic one of tests/openclip_ckpt.h
(full RN50 shapes, written as an OpenCLIP folder by the test helper
`test_openclip --write DIR rn50 f32`), loaded by both sides: open_clip
builds open_clip.model.CLIP from its open_clip_config.json (float32, eval).
Both embed the same image files: neglabel end to end (`neglabel embed`:
decode, Pillow-exact resize + crop, the ResNet), PyTorch with open_clip's
own eval transform (Pillow) then encode_image in batches; we also time
PyTorch's forward pass alone on preprocessed tensors. Reported: seconds per
image, the ratio, and the worst cosine between the two sides' embeddings.

Needs torch, torchvision, open-clip-torch, pillow, numpy; a built neglabel
and its test helper (build/test_openclip); the reference data (../shared).

  python3 bench/bench_rn50_vs_pytorch.py --build build --threads 2 --images 64
"""
import argparse, glob, json, os, shutil, subprocess, tempfile, time

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

import open_clip
from open_clip.transform import PreprocessCfg, image_transform_v2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--shared", default=os.environ.get("NEGLABEL_SHARED", "../shared"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    paths = sorted(glob.glob(os.path.join(a.shared, "data", "cifar10-test", "*", "*.jpg")))[:: 97][: a.images]
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([os.path.join(a.build, "test_openclip"), "--write", d, "rn50", "f32"], check=True)
        for f in ("vocab.json", "merges.txt"):
            shutil.copy(os.path.join(a.shared, "clip-tokenizer", f), d)
        cfg = json.load(open(os.path.join(d, "open_clip_config.json")))
        mc = cfg["model_cfg"]
        model = open_clip.model.CLIP(embed_dim=mc["embed_dim"], vision_cfg=mc["vision_cfg"], text_cfg=mc["text_cfg"],
                                     quick_gelu=mc.get("quick_gelu", False))
        model.load_state_dict(load_file(os.path.join(d, "open_clip_model.safetensors")))
        model.eval()
        tf = image_transform_v2(PreprocessCfg(size=224), is_train=False)

        args = []
        for p in paths:
            args += ["--image", p]
        cmd = [os.path.join(a.build, "neglabel"), "embed", "--no-cache", "--quiet", "--device", "cpu",
               "--threads", str(a.threads), "--batch", str(a.batch), "--model", d] + args
        subprocess.run(cmd[:12] + args[:4], capture_output=True, check=True)  # warm the page cache
        best = None
        for _ in range(3):
            t = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, text=True, check=True)
            dt = time.perf_counter() - t
            best = dt if best is None or dt < best else best
        ours = np.array([json.loads(l)["embedding"] for l in r.stdout.splitlines()])

        def torch_e2e():
            out = []
            t = time.perf_counter()
            with torch.inference_mode():
                for i in range(0, len(paths), a.batch):
                    x = torch.stack([tf(Image.open(p)) for p in paths[i:i + a.batch]])
                    out.append(model.encode_image(x))
            return time.perf_counter() - t, torch.cat(out).double().numpy()

        with torch.inference_mode():
            model.encode_image(torch.stack([tf(Image.open(p)) for p in paths[:2]]))  # warm-up
        t_e2e, ref = min((torch_e2e() for _ in range(3)), key=lambda r: r[0])
        px = torch.stack([tf(Image.open(p)) for p in paths])
        t_fwd = None
        with torch.inference_mode():
            for _ in range(3):
                t = time.perf_counter()
                for i in range(0, len(paths), a.batch):
                    model.encode_image(px[i:i + a.batch])
                dt = time.perf_counter() - t
                t_fwd = dt if t_fwd is None or dt < t_fwd else t_fwd
    u = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)
    cos = float((u(ours) * u(ref)).sum(axis=1).min())
    n = len(paths)
    print(f"RN50, {n} CIFAR-10 JPEGs, {a.threads} threads, batch {a.batch}; torch {torch.__version__}, "
          f"open_clip {open_clip.__version__}")
    print(f"neglabel embed (process, decode + preprocess + model): {best / n * 1e3:8.1f} ms/image")
    print(f"PyTorch open_clip (Pillow transform + encode_image):  {t_e2e / n * 1e3:8.1f} ms/image"
          f"   ratio {t_e2e / best:.2f}x")
    print(f"PyTorch encode_image only (preprocessed tensors):     {t_fwd / n * 1e3:8.1f} ms/image"
          f"   ratio {t_fwd / best:.2f}x")
    print(f"worst cosine neglabel vs PyTorch: {cos:.9f}")


if __name__ == "__main__":
    main()
