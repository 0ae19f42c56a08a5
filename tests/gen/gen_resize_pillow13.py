#!/usr/bin/env python3
"""Write tests/data/resize_pillow13/: small tall and wide PNGs and what
Pillow 13 gives for torchvision-style preprocessing of them at size 24
(resize + centre crop, squash, longest side + pad), bicubic and bilinear.
test_image_resize_order.c decodes every PNG and requires the same bytes.

Why: Pillow 13's ImagingResample runs the vertical pass first when the
height shrinks by more than twice what the width does
((in_h - out_h) > 0 and (in_h - out_h) > (in_w - out_w) * 2); Pillow <= 12
always went horizontal first. The intermediate image is rounded to uint8,
so the order shows in the result. Every case here records which order
Pillow used and checks that the other order would give different bytes, so
the golden tells the two apart (including the boundary in_h - out_h ==
2 * (in_w - out_w), which stays horizontal first).

Run from the repository root with Pillow 13 (PyPI pillow==13.0.0):
  python3 -m venv /tmp/p13 && /tmp/p13/bin/pip install pillow==13.0.0 numpy
  /tmp/p13/bin/python tests/gen/gen_resize_pillow13.py
Images are synthetic: each row repeats a seeded 97-colour table shifted
(pixel (x, y) = table[(5x + 3y) % 97]), which PNG keeps small.
"""
import json
import os

import numpy as np
import PIL
from PIL import Image

assert PIL.__version__.split(".")[0] == "13", "run with Pillow 13 (pip install pillow==13.0.0), not %s" % PIL.__version__
OUT = "tests/data/resize_pillow13"
S = 24
os.makedirs(OUT, exist_ok=True)
for f in os.listdir(OUT):
    os.remove(os.path.join(OUT, f))

FILTERS = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}


def pattern(w, h, seed):
    y, x = np.mgrid[0:h, 0:w]
    table = np.random.default_rng(seed).integers(0, 256, (97, 3))
    return table[(x * 5 + y * 3) % 97].astype(np.uint8)


def vertical_first(w, h, ow, oh):
    return (h - oh) > 0 and (h - oh) > (w - ow) * 2


def target(mode, w, h):
    """The resized size before the crop/pad, as the library computes it."""
    if mode == "shortest":  # torchvision Resize(S): int(S * long / short)
        if w <= h:
            return (S, int(S * h / w)) if w != S else (w, h)
        return (int(S * w / h), S) if h != S else (w, h)
    if mode == "squash":
        return S, S
    ratio = max(h / S, w / S)  # open_clip ResizeKeepRatio(longest=1)
    return round(w / ratio), round(h / ratio)


def place(a, fill):
    """torchvision center_crop (pads with fill where the image is smaller)."""
    h, w = a.shape[:2]
    out = np.full((S, S, 3), fill, np.uint8)

    def off(n):
        return int(round((n - S) / 2.0)) if n >= S else -((S - n) // 2)

    oy, ox = off(h), off(w)
    for cy in range(S):
        for cx in range(S):
            y, x = cy + oy, cx + ox
            if 0 <= y < h and 0 <= x < w:
                out[cy, cx] = a[y, x]
    return out


# (width, height, modes): what each one is for
IMAGES = [
    (60, 200, ("shortest", "squash", "longest")),  # 60x200 -> 24x80: vertical first
    (61, 190, ("shortest",)),  # odd width: vertical first
    (100, 201, ("shortest",)),  # 153 > 2 * 76 by one: vertical first
    (60, 120, ("shortest",)),  # 72 == 2 * 36: the boundary, horizontal first
    (60, 121, ("shortest",)),  # 73 > 72: vertical first
    (200, 60, ("shortest", "longest")),  # wide: horizontal first
    (20, 100, ("squash",)),  # width grows, height shrinks: vertical first
]
FILL = 127
cases = []
blob = bytearray()
for w, h, modes in IMAGES:
    name = "t%dx%d.png" % (w, h)
    Image.fromarray(pattern(w, h, 1000 * w + h)).save(os.path.join(OUT, name), optimize=True)
    im = Image.open(os.path.join(OUT, name)).convert("RGB")
    for mode in modes:
        ow, oh = target(mode, w, h)
        vf = vertical_first(w, h, ow, oh)
        for fname, f in FILTERS.items():
            r = np.asarray(im.resize((ow, oh), f)) if (ow, oh) != (w, h) else np.asarray(im)
            # The same two passes spelt out: Pillow resizes one axis at a time
            # when the other keeps its size, so these are the two orders.
            hfirst = np.asarray(im.resize((ow, h), f).resize((ow, oh), f))
            vfirst = np.asarray(im.resize((w, oh), f).resize((ow, oh), f))
            assert (r == (vfirst if vf else hfirst)).all(), (name, mode, fname, "order rule")
            assert (hfirst != vfirst).any(), (name, mode, fname, "both orders agree: no test")
            out = place(r, FILL if mode == "longest" else 0)
            other = place(hfirst if vf else vfirst, FILL if mode == "longest" else 0)
            assert (out != other).any(), (name, mode, fname, "the crop hides the order")
            cases.append({"file": name, "mode": mode, "resample": fname, "fill": FILL if mode == "longest" else 0,
                          "resized": [ow, oh], "vertical_first": vf, "offset": len(blob),
                          "differing_bytes_other_order": int((out != other).sum())})
            blob += out.tobytes()

open(os.path.join(OUT, "outputs.bin"), "wb").write(bytes(blob))
manifest = {"generator": "tests/gen/gen_resize_pillow13.py", "pillow": PIL.__version__, "numpy": np.__version__,
            "size": S, "outputs": "outputs.bin (size*size*3 bytes per case, HWC RGB, at offset)", "cases": cases}
with open(os.path.join(OUT, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)
    f.write("\n")
print("%d cases, %d bytes of outputs" % (len(cases), len(blob)))
