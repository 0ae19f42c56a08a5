#!/usr/bin/env python3
"""gpu_images.py — synthetic ImageNet-like JPEG files for the end-to-end row
of bench/gpu.sh: 500x375 RGB, quality 90 (Pillow's default 4:2:0 chroma
subsampling), seeded. The content is photo-like so that decoding costs what a
real photo costs: a smooth random colour field (a coarse random grid
upscaled bicubically), a few soft-edged shapes, fine texture and sensor-like
noise; the files come out at 75-105 KB (~3.9 bits per pixel; ImageNet's
validation photos average ~110 KB at about this size).

  python3 bench/gpu_images.py --out /tmp/neglabel-gpu-bench/images --n 4000
"""
import argparse, os, sys, time
from multiprocessing import Pool

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

W, H = 500, 375


def make(args):
    i, out, seed, quality = args
    path = os.path.join(out, f"img_{i:05d}.jpg")
    if os.path.exists(path):
        return os.path.getsize(path)
    rng = np.random.default_rng(seed * 1_000_003 + i)
    # smooth colour field: a coarse grid of random colours, upscaled bicubically
    gw, gh = int(rng.integers(3, 9)), int(rng.integers(3, 7))
    grid = rng.integers(0, 256, size=(gh, gw, 3), dtype=np.uint8)
    base = Image.fromarray(grid, "RGB").resize((W, H), Image.BICUBIC)
    # shapes with soft edges
    layer = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    for _ in range(int(rng.integers(3, 12))):
        x0, y0 = int(rng.integers(-100, W)), int(rng.integers(-100, H))
        x1, y1 = x0 + int(rng.integers(20, 300)), y0 + int(rng.integers(20, 250))
        col = tuple(int(c) for c in rng.integers(0, 256, 3)) + (int(rng.integers(120, 256)),)
        k = int(rng.integers(0, 3))
        if k == 0:
            d.ellipse((x0, y0, x1, y1), fill=col)
        elif k == 1:
            d.rectangle((x0, y0, x1, y1), fill=col)
        else:
            pts = [(int(rng.integers(x0, x1)), int(rng.integers(y0, y1))) for _ in range(int(rng.integers(3, 7)))]
            d.polygon(pts, fill=col)
    layer = layer.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 3.0))))
    base.paste(layer, (0, 0), layer)
    img = np.asarray(base, dtype=np.float32)
    # texture at several scales (blurred noise, mostly luminance), modulated
    # by a smooth mask so some regions are flat and some busy
    mask = rng.uniform(0, 1, size=(4, 5)).astype(np.float32)
    mask = np.asarray(Image.fromarray(mask, "F").resize((W, H), Image.BICUBIC)).clip(0.1, 1)[:, :, None]
    for radius, amp in ((0.7, 16.0), (3.0, 10.0)):
        n = rng.standard_normal((H, W, 3), dtype=np.float32)
        n[:, :, 1:] = 0.8 * n[:, :, :1] + 0.2 * n[:, :, 1:]
        tex = Image.fromarray((n * 40 + 128).clip(0, 255).astype(np.uint8), "RGB").filter(ImageFilter.GaussianBlur(radius))
        tex = (np.asarray(tex, dtype=np.float32) - 128) * (1.0 / 40)
        img += tex * mask * amp * float(rng.uniform(0.6, 1.4))
    # sensor-like noise, per channel
    img += rng.standard_normal((H, W, 3), dtype=np.float32) * float(rng.uniform(12, 22))
    img = np.clip(img, 0, 255).astype(np.uint8)
    tmp = path + ".tmp.jpg"
    Image.fromarray(img, "RGB").save(tmp, "JPEG", quality=quality)
    os.replace(tmp, path)
    return os.path.getsize(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quality", type=int, default=90)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    t0 = time.perf_counter()
    jobs = [(i, a.out, a.seed, a.quality) for i in range(a.n)]
    with Pool(max(1, a.workers)) as p:
        sizes = p.map(make, jobs, chunksize=16)
    # leave no stray files from another --n in the folder
    want = {f"img_{i:05d}.jpg" for i in range(a.n)}
    for f in os.listdir(a.out):
        if f not in want:
            os.remove(os.path.join(a.out, f))
    s = np.array(sizes, dtype=np.float64)
    print(f"images: {a.n} JPEGs {W}x{H} q{a.quality} in {a.out}, mean {s.mean() / 1e3:.0f} KB "
          f"(min {s.min() / 1e3:.0f}, max {s.max() / 1e3:.0f}), {time.perf_counter() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
