"""The Python package takes AltCLIP folders (XLM-R text tower, SentencePiece
Unigram tokenizer.json) like CLIP ones: tests/data/altclip with the
tokenizer of tests/data/unigram gives transformers' ids through
Model.tokenize, transformers' float64 embeddings (golden.json) within 1e-5
relative, and the CLI's bit for bit; its info says AltCLIP."""
import json
import shutil
import subprocess

import numpy as np

from conftest import BIN, ROOT, SHARED, need

import neglabel

DATA = ROOT / "tests" / "data"


def test_altclip_folder(tmp_path):
    need((SHARED / "README.md").exists() and BIN.exists(), f"the reference data or {BIN} is missing")
    d = tmp_path / "altclip"
    d.mkdir()
    for f in ("config.json", "model.safetensors", "preprocessor_config.json"):
        shutil.copy(DATA / "altclip" / f, d)
    shutil.copy(DATA / "unigram" / "tokenizer.json", d)
    g = json.loads((DATA / "altclip" / "golden.json").read_text())
    texts, images = list(g["texts"]), [str(SHARED / "fixtures" / "images" / k) for k in g["images"]]
    with neglabel.Model(str(d), device="cpu") as m:
        assert m.info["architecture"] == "AltCLIP"
        for t, ids in g["ids"].items():
            if len(ids) < 22:  # tokenize does not cut; the model's 22 tokens do
                assert list(m.tokenize(t)) == ids, t
        got_t, got_i = m.embed_texts(texts), m.embed_images(images)
    for got, want in ((got_t, [g["texts"][t] for t in texts]), (got_i, [g["images"][k] for k in g["images"]])):
        want = np.array(want)
        err = np.linalg.norm(got - want, axis=1) / np.linalg.norm(want, axis=1)
        assert err.max() < 1e-5, err
    args = [str(BIN), "embed", "-q", "--no-cache", "--device", "cpu", "--model", str(d)]
    for t in texts:
        args += ["--text", t]
    rows = [json.loads(l)["embedding"] for l in subprocess.run(args, capture_output=True, text=True,
                                                                 check=True).stdout.splitlines()]
    np.testing.assert_array_equal(got_t, np.array(rows, dtype=np.float32))
