"""The Python package takes OpenCLIP folders like Hugging Face ones: the
small ResNet and ViT checkpoints of tests/openclip_ckpt.h (written by the
C test helper next to the CLI binary) give the CLI's embeddings bit for bit,
and open_clip's float64 ones (tests/data/openclip/golden.json) within
1e-4 relative."""
import json
import shutil
import subprocess

import numpy as np
import pytest

from conftest import BIN, ROOT, SHARED, need

import neglabel

GOLDEN = ROOT / "tests" / "data" / "openclip" / "golden.json"


@pytest.mark.parametrize("name", ["rn-small", "vit-small-quickgelu"])
def test_openclip_folder(tmp_path, name):
    helper = BIN.parent / "test_openclip"
    need(helper.exists() and (SHARED / "README.md").exists(), f"{helper} or the reference data is missing")
    d = tmp_path / name
    subprocess.run([str(helper), "--write", str(d), name, "f32"], check=True)
    if name == "rn-small":  # the other reads the built-in BPE, as open_clip does
        for f in ("vocab.json", "merges.txt"):
            shutil.copy(SHARED / "clip-tokenizer" / f, d)
    g = json.loads(GOLDEN.read_text())["models"][name]["f32"]
    images = [str(SHARED / "fixtures" / "images" / k) for k in g["images"]]
    texts = list(g["texts"])
    m = neglabel.Model(str(d), device="cpu")
    got_i, got_t = m.embed_images(images), m.embed_texts(texts)
    args = [str(BIN), "embed", "-q", "--device", "cpu", "--model", str(d)]
    for p in images:
        args += ["--image", p]
    for t in texts:
        args += ["--text", t]
    rows = [json.loads(l)["embedding"] for l in subprocess.run(args, capture_output=True, text=True,
                                                                 check=True).stdout.splitlines()]
    assert np.array_equal(np.vstack([got_i, got_t]), np.array(rows, dtype=np.float32))
    for got, ref in zip(np.vstack([got_i, got_t]), list(g["images"].values()) + list(g["texts"].values())):
        ref = np.array(ref)
        assert np.linalg.norm(got - ref) <= 1e-4 * np.linalg.norm(ref)
    assert m.info["format"] == "open_clip"
    assert m.info["architecture"] == ("ModifiedResNet" if name.startswith("rn") else "ViT")
