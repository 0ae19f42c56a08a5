"""The Python package takes SigLIP folders (a ViT pooled by its
attention-pooling head, a bidirectional text tower padded to its context,
SiglipTokenizer over spiece.model) like CLIP ones: tests/data/siglip gives
transformers' ids through Model.tokenize, transformers' float64 embeddings
(golden.json) within 1e-5 relative, and the CLI's bits; its info says
SigLIP."""
import json
import shutil
import subprocess

import numpy as np

from conftest import BIN, ROOT, SHARED, need

import neglabel

DATA = ROOT / "tests" / "data" / "siglip"
TOKENIZER = ROOT / "tests" / "data" / "spm" / "t5"


def close(got, want):
    want = np.array(want)
    err = np.linalg.norm(got - want, axis=1) / np.linalg.norm(want, axis=1)
    assert err.max() < 1e-5, err


def test_siglip_folder(tmp_path):
    need((SHARED / "README.md").exists() and BIN.exists(), f"the reference data or {BIN} is missing")
    d = tmp_path / "siglip"
    d.mkdir()
    for f in ("config.json", "model.safetensors", "preprocessor_config.json"):
        shutil.copy(DATA / f, d)
    for f in TOKENIZER.iterdir():
        shutil.copy(f, d)
    g = json.loads((DATA / "golden.json").read_text(encoding="utf-8"))
    texts, images = list(g["texts"]), [str(SHARED / "fixtures" / "images" / k) for k in g["images"]]
    with neglabel.Model(str(d), device="cpu") as m:
        assert m.info["architecture"] == "SigLIP"
        assert "spiece.model" in m.info["tokenizer"], m.info["tokenizer"]
        for t, ids in g["ids"].items():
            if len(ids) < 16:  # tokenize does not cut; the model's 16 positions do
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
