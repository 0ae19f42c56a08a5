"""The Python package takes ALIGN folders (EfficientNet vision tower, BERT
text tower, WordPiece tokenizer) like CLIP ones: tests/data/align gives
transformers' ids through Model.tokenize, transformers' float64 embeddings
(golden.json) within 1e-5 relative, with either image processor setting
it carries, and the CLI's bit for bit; its info says ALIGN."""
import json
import shutil
import subprocess

import numpy as np

from conftest import BIN, ROOT, SHARED, need

import neglabel

DATA = ROOT / "tests" / "data" / "align"
FILES = ("config.json", "model.safetensors", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json",
         "vocab.txt")


def close(got, want):
    want = np.array(want)
    err = np.linalg.norm(got - want, axis=1) / np.linalg.norm(want, axis=1)
    assert err.max() < 1e-5, err


def test_align_folder(tmp_path):
    need((SHARED / "README.md").exists() and BIN.exists(), f"the reference data or {BIN} is missing")
    d = tmp_path / "align"
    d.mkdir()
    for f in FILES:
        shutil.copy(DATA / f, d)
    g = json.loads((DATA / "golden.json").read_text(encoding="utf-8"))
    texts, images = list(g["texts"]), [str(SHARED / "fixtures" / "images" / k) for k in g["images"]]
    with neglabel.Model(str(d), device="cpu") as m:
        assert m.info["architecture"] == "ALIGN"
        assert "WordPiece" in m.info["tokenizer"], m.info["tokenizer"]
        for t, ids in g["ids"].items():
            if len(ids) < 24:  # tokenize does not cut; the model's 24 tokens do
                assert list(m.tokenize(t)) == ids, t
        got_t, got_i = m.embed_texts(texts), m.embed_images(images)
    close(got_t, [g["texts"][t] for t in texts])
    close(got_i, [g["images"][k] for k in g["images"]])
    args = [str(BIN), "embed", "-q", "--no-cache", "--device", "cpu", "--model", str(d)]
    for t in texts:
        args += ["--text", t]
    rows = [json.loads(l)["embedding"] for l in subprocess.run(args, capture_output=True, text=True,
                                                                 check=True).stdout.splitlines()]
    np.testing.assert_array_equal(got_t, np.array(rows, dtype=np.float32))


def test_align_normalize(tmp_path):
    """The other image processor settings (x / 255, (x - mean) / std, / std
    again: include_top; bicubic) swapped in: their goldens."""
    need((SHARED / "README.md").exists() and BIN.exists(), f"the reference data or {BIN} is missing")
    d = tmp_path / "align"
    d.mkdir()
    for f in FILES:
        shutil.copy(DATA / f, d)
    shutil.copy(DATA / "preprocessor_normalize.json", d / "preprocessor_config.json")
    g = json.loads((DATA / "golden.json").read_text(encoding="utf-8"))
    images = [str(SHARED / "fixtures" / "images" / k) for k in g["images_normalize"]]
    with neglabel.Model(str(d), device="cpu") as m:
        close(m.embed_images(images), list(g["images_normalize"].values()))
