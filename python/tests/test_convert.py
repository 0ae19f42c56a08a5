"""neglabel.convert_checkpoint against `neglabel convert`: the same two files,
byte for byte, from the generated OpenAI-layout archives
(tests/data/torchscript); the same error for a pickle that calls os.system;
the converted folder loads as a Model whose image embeddings equal the CLI's;
a Hugging Face pytorch_model.bin becomes a folder whose text embeddings
equal transformers'."""
import os
import zipfile
import json

import numpy as np
import pytest

import neglabel

from conftest import ROOT

DATA = ROOT / "tests" / "data" / "torchscript"


@pytest.mark.parametrize("name", ["vit_jit", "rn_jit", "vit_sd"])
def test_same_files_as_cli(cli, tmp_path, name):
    neglabel.convert_checkpoint(str(DATA / f"{name}.pt"), tmp_path / "py")
    cli("convert", DATA / f"{name}.pt", "-o", tmp_path / "cli")
    for f in ["open_clip_model.safetensors", "open_clip_config.json"]:
        assert (tmp_path / "py" / f).read_bytes() == (tmp_path / "cli" / f).read_bytes()
    assert sorted(os.listdir(tmp_path / "py")) == ["open_clip_config.json", "open_clip_model.safetensors"]


def test_refuses_code(cli, tmp_path):
    evil = tmp_path / "evil.pt"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("evil/data.pkl", b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00true\x85R.")
    with pytest.raises(neglabel.InvalidInputError) as e:
        neglabel.convert_checkpoint(evil, tmp_path / "out")
    assert "global 'os.system' is not allowed" in str(e.value)
    assert str(e.value) == cli.error("convert", evil, "-o", tmp_path / "out")
    assert not (tmp_path / "out" / "open_clip_model.safetensors").exists()
    with pytest.raises(OSError):
        neglabel.convert_checkpoint(tmp_path / "missing.pt", tmp_path / "out")


def test_converted_model_embeds_like_cli(cli, shared, tmp_path):
    out = tmp_path / "vit"
    neglabel.convert_checkpoint(DATA / "vit_jit.pt", out)  # no tokenizer files: the built-in BPE
    img = str(shared / "fixtures" / "images" / "dog.jpg")
    with neglabel.Model(out, device="cpu") as m:
        got = m.embed_images([img])
        assert m.info["tokenizer"] == "built-in OpenAI CLIP BPE"
    want = np.array(json.loads(cli("embed", "--model", out, "--image", img))["embedding"], dtype=np.float32)
    np.testing.assert_array_equal(got[0], want)


def test_hf_pytorch_model_bin(shared, tmp_path):
    """A Hugging Face pytorch_model.bin (tests/gen/gen_hf_bin.py) becomes a
    folder the Model loads, whose text embeddings equal transformers'."""
    src = tmp_path / "src"
    src.mkdir()
    for f in ["config.json", "pytorch_model.bin"]:
        (src / f).write_bytes((ROOT / "tests" / "data" / "hf_bin" / f).read_bytes())
    for f in ["vocab.json", "merges.txt"]:
        (src / f).write_bytes((shared / "clip-tokenizer" / f).read_bytes())
    with pytest.raises(neglabel.Error, match="neglabel convert"):
        neglabel.Model(src, device="cpu")
    neglabel.convert_checkpoint(src / "pytorch_model.bin", tmp_path / "out")
    golden = json.loads((ROOT / "tests" / "data" / "hf_bin" / "golden.json").read_text())["texts"]
    with neglabel.Model(tmp_path / "out", device="cpu") as m:
        got = m.embed_texts(list(golden))
    for row, want in zip(got, golden.values()):
        want = np.array(want)
        assert np.linalg.norm(row - want) <= 1e-5 * np.linalg.norm(want)
