#!/usr/bin/env python3
"""Write tests/data/openclip/golden.json: what open_clip computes for
OpenCLIP folders, for tests/cli_openclip.sh.

- "preprocess": SHA-256 of the uint8 pixels open_clip's eval transform
  (open_clip.transform.image_transform_v2 with PreprocessCfg(size,
  interpolation, resize_mode)) gives for each fixture image, for every
  resize mode (shortest, longest, squash) and interpolation (bicubic,
  bilinear): the transform's steps before MaybeToTensor/Normalize, run on
  torchvision's PIL functional ops with Pillow 13 (the Pillow the library
  follows; Pillow <= 12 resamples images shrinking over 2:1 in height in the
  other pass order: the golden was made with 9.4, then its preprocess
  hashes brought to 13 by tests/gen/gen_openclip_pillow13.py). The images are opened with .convert('RGB') first, as neglabel
  decodes them; open_clip converts after resizing, which is the same for RGB
  and greyscale files and differs for palette, RGBA and CMYK files (Pillow
  resizes P images with NEAREST and RGBA ones premultiplied).
- "models": float64 image and text embeddings (projections, not
  normalised) of the deterministic checkpoints of tests/openclip_ckpt.h,
  written by the C helper (BUILD/test_openclip --write DIR NAME f32|f16),
  loaded into open_clip.model.CLIP built from their open_clip_config.json
  (load_state_dict strict), .double(); images through the same transform,
  texts through open_clip.tokenize (context 77, truncated with EOT last).

Run (open-clip-torch, torch, torchvision and Pillow 13 importable):
  PYTHONPATH=/path/to/open_clip python tests/gen/gen_openclip.py build
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import PIL
import torch
import torchvision
from PIL import Image
from safetensors.torch import load_file

import open_clip
from open_clip.transform import PreprocessCfg, image_transform_v2

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("NEGLABEL_SHARED", os.path.join(ROOT, "..", "shared"))
IMAGES = os.path.join(SHARED, "fixtures", "images")
OUT = os.path.join(ROOT, "tests", "data", "openclip", "golden.json")

SMALL_IMAGES = ["dog.jpg", "cifar10-cat-0000.jpg", "wide-1700x40.png", "tiny-1x1.png", "odd-227x389.png",
                "gray-dog.png"]
FULL_IMAGES = ["dog.jpg", "cifar10-airplane-0000.jpg"]
TEXTS = ["a photo of a dog", "the nice tractor", "This is a mountain photo",
         " ".join(["a very long caption about a dog"] * 20)]
# checkpoint name -> (images, dtypes); tests/openclip_ckpt.h defines them
MODELS = {
    "rn-small": (SMALL_IMAGES, ["f32", "f16"]),
    "vit-small-quickgelu": (SMALL_IMAGES, ["f32", "f16"]),
    "vit-small-gelu": (SMALL_IMAGES, ["f32", "f16"]),
    "rn50": (FULL_IMAGES, ["f32", "f16"]),
    "rn101": (FULL_IMAGES, ["f32", "f16"]),
}


def pixel_steps(size, preprocess):
    cfg = PreprocessCfg(size=size, **{k: v for k, v in preprocess.items() if k in ("mean", "std", "interpolation",
                                                                                    "resize_mode", "fill_color")})
    t = image_transform_v2(cfg, is_train=False)
    names = [type(s).__name__ for s in t.transforms]
    assert names[-2:] == ["MaybeToTensor", "Normalize"], names
    return t, t.transforms[:-2]


def rgb(name):
    return Image.open(os.path.join(IMAGES, name)).convert("RGB")


def preprocess_goldens():
    out = {}
    for name in sorted(os.listdir(IMAGES)):
        for mode in ("shortest", "longest", "squash"):
            for interp in ("bicubic", "bilinear"):
                _, steps = pixel_steps(224, {"interpolation": interp, "resize_mode": mode})
                im = rgb(name)
                for s in steps:
                    im = s(im)
                a = np.asarray(im, dtype=np.uint8)
                assert a.shape == (224, 224, 3), (name, mode, a.shape)
                out.setdefault(name, {}).setdefault(mode, {})[interp] = hashlib.sha256(a.tobytes()).hexdigest()
    return out


def model_goldens(build, name, images, dtype):
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([os.path.join(build, "test_openclip"), "--write", d, name, dtype], check=True)
        with open(os.path.join(d, "open_clip_config.json")) as f:
            cfg = json.load(f)
        mc = cfg["model_cfg"]
        model = open_clip.model.CLIP(embed_dim=mc["embed_dim"], vision_cfg=mc["vision_cfg"], text_cfg=mc["text_cfg"],
                                     quick_gelu=mc.get("quick_gelu", False))
        sd = load_file(os.path.join(d, "open_clip_model.safetensors"))
        model.load_state_dict(sd, strict=True)
        model = model.double().eval()
    size = mc["vision_cfg"]["image_size"]
    t, _ = pixel_steps(size, cfg["preprocess_cfg"])
    x = torch.stack([t(rgb(n)) for n in images]).double()
    with torch.no_grad():
        img = model.encode_image(x).numpy()
        txt = model.encode_text(open_clip.tokenize(TEXTS)).numpy()
    return {"image_size": size, "images": {n: [float(v) for v in img[i]] for i, n in enumerate(images)},
            "texts": {s: [float(v) for v in txt[i]] for i, s in enumerate(TEXTS)}}


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
    assert PIL.__version__.split(".")[0] == "13", "run with Pillow 13 (see the docstring), not " + PIL.__version__
    torch.set_num_threads(2)
    g = {
        "generator": "tests/gen/gen_openclip.py",
        "versions": {"open_clip": open_clip.__version__, "torch": torch.__version__,
                     "torchvision": torchvision.__version__, "pillow": PIL.__version__, "numpy": np.__version__},
        "note": "images opened with convert('RGB') before open_clip's transform; preprocess: sha256 of the HWC uint8 "
                "pixels before ToTensor; models: float64 projections, not normalised",
        "preprocess": {"size": 224, "sha256": preprocess_goldens()},
        "texts": TEXTS,
        "models": {},
    }
    for name, (images, dtypes) in MODELS.items():
        for dt in dtypes:
            print(name, dt, file=sys.stderr)
            g["models"].setdefault(name, {})[dt] = model_goldens(build, name, images, dt)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(g, f, indent=0)
        f.write("\n")


if __name__ == "__main__":
    main()
