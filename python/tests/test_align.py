"""The Python package takes ALIGN folders (EfficientNet vision tower, BERT
text tower, WordPiece tokenizer) like CLIP ones: tests/data/align gives
transformers' ids through Model.tokenize, transformers' float64 embeddings
(golden.json) within 1e-5 relative, with either image processor setting
it carries, and the CLI's bit for bit; its info says ALIGN."""
import json
import shutil

from conftest import BIN, ROOT, SHARED, assert_close, check_golden_folder, need

import neglabel

DATA = ROOT / "tests" / "data" / "align"
FILES = ("config.json", "model.safetensors", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json",
         "vocab.txt")


def test_align_folder(tmp_path):
    need((SHARED / "README.md").exists() and BIN.exists(), f"the reference data or {BIN} is missing")
    d = tmp_path / "align"
    d.mkdir()
    for f in FILES:
        shutil.copy(DATA / f, d)
    g = json.loads((DATA / "golden.json").read_text(encoding="utf-8"))
    check_golden_folder(d, g, "ALIGN", 24, "WordPiece")


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
        assert_close(m.embed_images(images), list(g["images_normalize"].values()))
