#!/usr/bin/env python3
"""Bring tests/data/openclip/golden.json's preprocessing hashes (written by
gen_openclip.py with Pillow 9.4) to Pillow 13, without torch.

Pillow 13 resamples vertically first where the height shrinks by more than
twice the width (Pillow <= 12: always horizontally first). For every
fixture image, resize mode and filter this redoes open_clip's steps at 224
with Pillow alone (shortest: torchvision Resize(224) + CenterCrop; longest:
ResizeKeepRatio + CenterCrop with fill 0; squash: Resize((224, 224))) in
both pass orders: the Pillow <= 12 order (two one-axis resizes, horizontal
first) must give the stored hash (so these steps are open_clip's), and
where Pillow 13's pixels differ its hash replaces it. The model goldens
are unchanged (their images are at most 64 pixels: no vertical-first
resize). Run again on its own output, it checks the stored hashes against
Pillow 13's pixels instead.

  /tmp/p13/bin/python tests/gen/gen_openclip_pillow13.py ../shared
(Pillow 13.0.0 and numpy.) gen_openclip.py with Pillow 13 gives the same.
"""
import hashlib
import json
import os
import sys

import numpy as np
import PIL
from PIL import Image

assert PIL.__version__.split(".")[0] == "13", "Pillow %s: run with Pillow 13" % PIL.__version__
IMAGES = os.path.join(sys.argv[1], "fixtures", "images")
GOLD = "tests/data/openclip/golden.json"
S = 224
FILTERS = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}


def target(mode, w, h):
    if mode == "shortest":  # torchvision Resize(S): int(S * long / short)
        if min(w, h) == S:
            return w, h
        return (S, int(S * h / w)) if w <= h else (int(S * w / h), S)
    if mode == "squash":
        return S, S
    ratio = max(h / S, w / S)  # open_clip ResizeKeepRatio(longest=1)
    return round(w / ratio), round(h / ratio)


def place(a):
    """torchvision center_crop, padding with 0 where the image is smaller."""
    h, w = a.shape[:2]
    out = np.zeros((S, S, 3), np.uint8)

    def off(n):
        return int(round((n - S) / 2.0)) if n >= S else -((S - n) // 2)

    oy, ox = off(h), off(w)
    ys, xs = np.arange(S) + oy, np.arange(S) + ox
    vy, vx = (ys >= 0) & (ys < h), (xs >= 0) & (xs < w)
    out[np.ix_(vy, vx)] = a[np.ix_(ys[vy], xs[vx])]
    return out


def sha(im):
    return hashlib.sha256(place(np.asarray(im)).tobytes()).hexdigest()


g = json.load(open(GOLD))
made_with_13 = str(g["versions"]["pillow"]).startswith("13.")
n = 0
for name, modes in sorted(g["preprocess"]["sha256"].items()):
    img = Image.open(os.path.join(IMAGES, name)).convert("RGB")
    w, h = img.size
    for mode, filters in modes.items():
        ow, oh = target(mode, w, h)
        for fname, want in filters.items():
            f = FILTERS[fname]
            p13 = sha(img.resize((ow, oh), f))
            p12 = sha(img.resize((ow, h), f).resize((ow, oh), f))
            assert (p13 if made_with_13 else p12) == want, (name, mode, fname, "these steps are not open_clip's")
            if p13 != want:
                print("%s %s %s: Pillow 13 gives other pixels" % (name, mode, fname))
                filters[fname] = p13
            n += 1
print("%d hashes checked" % n)
g["versions"]["pillow"] = PIL.__version__
g["note"] = g["note"].split(" [")[0] + (" [preprocess hashes brought to Pillow %s by tests/gen/gen_openclip_pillow13.py;"
                                        " the model goldens are Pillow 9.4's, the same under 13]" % PIL.__version__)
with open(GOLD, "w") as f:
    json.dump(g, f, indent=0)
    f.write("\n")
