"""The Python package takes SigLIP folders (a ViT pooled by its
attention-pooling head, a bidirectional text tower padded to its context,
SiglipTokenizer over spiece.model) like CLIP ones: tests/data/siglip gives
transformers' ids through Model.tokenize, transformers' float64 embeddings
(golden.json) within 1e-5 relative, and the CLI's bits; its info says
SigLIP."""
import json
import shutil

from conftest import BIN, ROOT, SHARED, check_golden_folder, need

DATA = ROOT / "tests" / "data" / "siglip"
TOKENIZER = ROOT / "tests" / "data" / "spm" / "t5"


def test_siglip_folder(tmp_path):
    need((SHARED / "README.md").exists() and BIN.exists(), f"the reference data or {BIN} is missing")
    d = tmp_path / "siglip"
    d.mkdir()
    for f in ("config.json", "model.safetensors", "preprocessor_config.json"):
        shutil.copy(DATA / f, d)
    for f in TOKENIZER.iterdir():
        shutil.copy(f, d)
    g = json.loads((DATA / "golden.json").read_text(encoding="utf-8"))
    check_golden_folder(d, g, "SigLIP", 16, "spiece.model")
