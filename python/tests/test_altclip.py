"""The Python package takes AltCLIP folders (XLM-R text tower, SentencePiece
Unigram tokenizer.json) like CLIP ones: tests/data/altclip with the
tokenizer of tests/data/unigram gives transformers' ids through
Model.tokenize, transformers' float64 embeddings (golden.json) within 1e-5
relative, and the CLI's bit for bit; its info says AltCLIP."""
import json
import shutil

from conftest import BIN, ROOT, SHARED, check_golden_folder, need

DATA = ROOT / "tests" / "data"


def test_altclip_folder(tmp_path):
    need((SHARED / "README.md").exists() and BIN.exists(), f"the reference data or {BIN} is missing")
    d = tmp_path / "altclip"
    d.mkdir()
    for f in ("config.json", "model.safetensors", "preprocessor_config.json"):
        shutil.copy(DATA / "altclip" / f, d)
    shutil.copy(DATA / "unigram" / "tokenizer.json", d)
    g = json.loads((DATA / "altclip" / "golden.json").read_text())
    check_golden_folder(d, g, "AltCLIP", 22)
