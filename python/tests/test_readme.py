"""The README's Python example runs as written and gives the CLI's scores.

The block of the README's "## Python" section is executed unchanged in a
folder where `clip-vit-base-patch16` is the tiny fixture model, `classes.txt`
two class names and `photo.jpg` a fixture photo; `rgb_uint8_array`, `batch` and
`pil_image`, which the example leaves to the reader, are that photo as an
array, both images as normalised pixels (N x 3 x 224 x 224) and another
image opened with Pillow."""
import json
import os
import re

import numpy as np
import pytest

from conftest import ROOT, need


def readme_python_block():
    text = (ROOT / "README.md").read_text()
    section = re.search(r"^## Python\n(.*?)^## ", text, re.S | re.M)
    assert section, "README.md has no '## Python' section"
    block = re.search(r"^```python\n(.*?)^```", section.group(1), re.S | re.M)
    assert block, "README.md's Python section has no ```python block"
    return block.group(1)


def test_readme_example(tiny, shared, cli, tmp_path, monkeypatch):
    need(os.path.isfile("/usr/share/wordnet/data.noun"),
         "Debian's WordNet not installed (apt-get install wordnet-base): the example mines over it")
    Image = pytest.importorskip("PIL.Image")
    code = readme_python_block()
    os.symlink(tiny, tmp_path / "clip-vit-base-patch16")
    (tmp_path / "classes.txt").write_text("cat\ndog\n")
    photo, other = shared / "fixtures" / "images" / "dog.jpg", shared / "fixtures" / "images" / "kite.jpg"
    (tmp_path / "photo.jpg").write_bytes(photo.read_bytes())
    monkeypatch.setenv("NEGLABEL_CACHE", str(tmp_path / "cache"))
    # `batch`: the photo's and the other image's pixels as a DataLoader with
    # clip.load's preprocess gives them (Pillow's bicubic crops in ../shared,
    # normalised with OpenAI's mean and std, which the tiny model uses too)
    man = json.loads((shared / "fixtures" / "preprocess" / "manifest.json").read_text())
    mean = np.array(man["mean"], np.float32).reshape(3, 1, 1)
    std = np.array(man["std"], np.float32).reshape(3, 1, 1)
    rgb = np.stack([np.fromfile(shared / "fixtures" / "preprocess" / f"{p.name}.bicubic.rgb", np.uint8)
                    .reshape(224, 224, 3).transpose(2, 0, 1) for p in (photo, other)])
    batch = (rgb.astype(np.float32) / np.float32(255) - mean) / std
    ns = {"rgb_uint8_array": np.asarray(Image.open(photo).convert("RGB")), "pil_image": Image.open(other),
          "batch": batch}
    cwd = os.getcwd()
    os.chdir(tmp_path)  # the example's relative paths; back before the CLI (NEGLABEL_BIN may be relative)
    try:
        exec(compile(code, "README.md (## Python)", "exec"), ns)
    finally:
        os.chdir(cwd)

    scores = ns["scores"]
    assert isinstance(scores, np.ndarray) and scores.dtype == np.float64 and scores.shape == (3,)
    ns["negatives"].save(tmp_path / "negatives.tsv")  # as the example's comment says
    out = cli("score", "--model", tmp_path / "clip-vit-base-patch16", "--id-labels", tmp_path / "classes.txt",
              "--negatives", tmp_path / "negatives.tsv", tmp_path / "photo.jpg", other)
    want = [float(line.split(",")[1]) for line in out.splitlines()[1:]]
    assert len(want) == 2
    # the path, the same photo as an array, the other image through Pillow
    np.testing.assert_allclose(scores, [want[0], want[0], want[1]], rtol=1e-8, atol=1e-12)
    # the batch's scores: those of the same two files preprocessed as clip.load
    # does (the two scores are 0.26 and 0.0006)
    out = cli("score", "--model", tmp_path / "clip-vit-base-patch16", "--id-labels", tmp_path / "classes.txt",
              "--negatives", tmp_path / "negatives.tsv", "--resample", "bicubic", tmp_path / "photo.jpg", other)
    want = [float(line.split(",")[1]) for line in out.splitlines()[1:]]
    np.testing.assert_allclose(ns["batch_scores"], want, rtol=1e-8, atol=1e-12)
