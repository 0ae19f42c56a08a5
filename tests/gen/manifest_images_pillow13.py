#!/usr/bin/env python3
"""Record what Pillow 13 gives for every file of the two decoder corpora,
tests/data/images/gif_bmp and tests/data/images/tiff_webp: rewrites their
manifest.json with Image.open(path).convert("RGB") -- width, height and the
sha256 of the RGB bytes -- or "refused" with Pillow's exception.

The files themselves are written by tests/gen/gen_images_gif_bmp.py and
tests/gen/gen_images_tiff_webp.py with Debian 12's Pillow 9.4 (some are
saved by Pillow's own encoders, whose bytes changed since), which also
write a Pillow 9.4 manifest; this script then turns that into the Pillow 13
one the tests read. To regenerate everything, from the repository root:

  /usr/bin/python3 tests/gen/gen_images_gif_bmp.py     # Pillow 9.4.0
  /usr/bin/python3 tests/gen/gen_images_tiff_webp.py   # Pillow 9.4.0
  python3 -m venv /tmp/p13 && /tmp/p13/bin/pip install pillow==13.0.0 numpy
  /tmp/p13/bin/python tests/gen/manifest_images_pillow13.py

It may be run again on its own output (the files are left alone).

KEEP_94 below lists the files where the library still gives Pillow 9.4's
result, knowingly, with the reason. Their entries keep Pillow 9.4's result
under "pillow94" (taken from the manifest on disk: a fresh 9.4 one, or this
script's previous output) next to Pillow 13's, and the tests require the
library to give the 9.4 result: a file the library comes to decode as
Pillow 13 does fails there until its line here goes. This script refuses to
keep a file whose 9.4 and 13 results agree, and a listed file that is not
in the corpora.
"""
import hashlib
import json
import os
import sys
import warnings

import PIL
from PIL import Image, features

assert PIL.__version__.split(".")[0] == "13", "run with Pillow 13 (pip install pillow==13.0.0), not %s" % PIL.__version__
warnings.simplefilter("ignore")
# --root DIR: the corpora under DIR/tests/data/images (a wider differential
# run of gen_images_gif_bmp.py --out DIR); KEEP_94 names absent there are
# not an error then.
ROOT_DIR = sys.argv[2] if len(sys.argv) == 3 and sys.argv[1] == "--root" else "."
assert len(sys.argv) == 1 or ROOT_DIR != ".", "usage: manifest_images_pillow13.py [--root DIR]"
ROOT = os.path.join(ROOT_DIR, "tests/data/images")

KEEP_94 = {}


def keep(reason, names):
    for n in names.split():
        assert n not in KEEP_94, n
        KEEP_94[n] = reason


# ---- Files where the library still follows Pillow 9.4 (see the docstring).
keep("damaged JPEG: an SOF marker after EOI; Pillow 13 refuses it ('broken data stream')",
     "jpg_base_eoi_sof.jpg jpg_grey_eoi_sof.jpg")
keep("uncompressed YCbCr TIFF: Pillow 13 reads it, 9.4 found it truncated", "tif_YCbCr_raw.tif")

from heap_util import dirty_heap  # noqa: E402 (tests/gen, beside this script)


def pillow_result(path, name):
    try:
        with Image.open(path) as im:
            fmt = im.format
            rgb = im.convert("RGB")
        return dict(format=fmt, width=rgb.width, height=rgb.height, sha256=hashlib.sha256(rgb.tobytes()).hexdigest())
    except Exception as ex:  # noqa: BLE001 -- what Pillow refuses, with its reason
        return {"refused": "%s: %s" % (type(ex).__name__, str(ex).replace(os.path.abspath(path), name).replace(path, name))}


def result_of(entry):
    """The result part of a manifest entry (no file name, no bookkeeping)."""
    return {k: v for k, v in entry.items() if k in ("format", "width", "height", "sha256", "refused", "pixels")}


def same(a, b):
    if "refused" in a or "refused" in b:
        return "refused" in a and "refused" in b
    return all(a.get(k) == b.get(k) for k in ("width", "height", "sha256"))


def new_entry(path, name, old, undefined_check):
    e = pillow_result(path, name)
    if undefined_check and "refused" not in e:
        # Where libtiff leaves part of a damaged strip undecoded, Pillow's
        # pixels are whatever its reallocated strip buffer held: decode again
        # with other heap contents, and record such pixels as undefined.
        for k in range(3):
            dirty_heap(0xFF if k == 0 else 0x5A + k)
            if pillow_result(path, name) != e:
                e.pop("sha256")
                e["pixels"] = "undefined: Pillow decodes uninitialised memory"
                break
    if undefined_check:
        e.pop("format", None)  # the tiff_webp manifest does not record it
    if name in KEEP_94:
        assert old is not None, (name, "no Pillow 9.4 result on disk to keep")
        o94 = old.get("pillow94") or result_of(old)
        assert not same(o94, e), (name, "Pillow 9.4 and 13 agree: remove it from KEEP_94")
        e["pillow94"] = o94
        e["keep_pillow94"] = KEEP_94[name]
    return e


def previous(manifest):
    """name -> that file's entry in the manifest on disk."""
    if "files" in manifest:
        return manifest["files"]
    return {e["file"]: e for e in manifest["entries"]}


seen = set()
versions = {"pillow": PIL.__version__, "python": sys.version.split()[0]}
for lib in ("libjpeg_turbo", "zlib", "libtiff", "webp", "littlecms2"):
    versions[lib] = features.version(lib)

# gif_bmp: {"files": {name: entry}}
d = os.path.join(ROOT, "gif_bmp")
m = json.load(open(os.path.join(d, "manifest.json")))
old = previous(m)
names = sorted(f for f in os.listdir(d) if f != "manifest.json")
assert names == sorted(old), "gif_bmp: the files on disk are not those of its manifest"
files = {}
for name in names:
    files[name] = new_entry(os.path.join(d, name), name, old.get(name), False)
    seen.add(name)
out = {"generator": "tests/gen/manifest_images_pillow13.py", "files_written_by": "tests/gen/gen_images_gif_bmp.py",
       "pillow": PIL.__version__, "versions": versions, "what": 'Image.open(path).convert("RGB")', "files": files}
with open(os.path.join(d, "manifest.json"), "w") as f:
    json.dump(out, f, indent=1, sort_keys=True)
    f.write("\n")
print("gif_bmp: %d files, %d refused, %d kept at Pillow 9.4" % (
    len(files), sum("refused" in e for e in files.values()), sum("pillow94" in e for e in files.values())))

# tiff_webp: {"entries": [{"file": name, ...}]}
d = os.path.join(ROOT, "tiff_webp")
m = json.load(open(os.path.join(d, "manifest.json")))
old = previous(m)
names = sorted(f for f in os.listdir(d) if f != "manifest.json")
assert names == sorted(old), "tiff_webp: the files on disk are not those of its manifest"
entries = []
for name in names:
    e = {"file": name}
    e.update(new_entry(os.path.join(d, name), name, old.get(name), True))
    entries.append(e)
    seen.add(name)
with open(os.path.join(d, "manifest.json"), "w") as f:
    json.dump({"generator": "tests/gen/manifest_images_pillow13.py", "files_written_by": "tests/gen/gen_images_tiff_webp.py",
               "versions": versions, "entries": entries}, f, indent=0)
    f.write("\n")
print("tiff_webp: %d files, %d refused, %d kept at Pillow 9.4" % (
    len(entries), sum("refused" in e for e in entries), sum("pillow94" in e for e in entries)))
missing = sorted(set(KEEP_94) - seen)
assert not missing or ROOT_DIR != ".", ("listed in KEEP_94 but not in the corpora", missing)
