"""OpenAI's CLIPs by the names of OpenAI's `clip` package
(``neglabel.Model("ViT-B/16")``, as ``clip.load("ViT-B/16")``), read from
~/.cache/clip and converted once into neglabel's cache, and a ``.pt``
checkpoint by its path: the same model as ``convert_checkpoint``'s folder,
bitwise; pickled by name; a missing file is a FileError naming where it was
looked for. (tests/cli_openai_clip.sh checks the rest through the CLI.)"""
import os
import pickle
import shutil

import numpy as np
import pytest

import neglabel
from conftest import ROOT

DATA = ROOT / "tests" / "data" / "torchscript"


@pytest.fixture()
def clip_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NEGLABEL_CACHE", str(tmp_path / "cache"))
    d = tmp_path / "home" / ".cache" / "clip"
    d.mkdir(parents=True)
    return d


def test_name_is_the_converted_checkpoint(clip_home, tmp_path, cifar):
    img = [str(cifar / "bird" / "0000.jpg"), str(cifar / "cat" / "0001.jpg")]
    neglabel.convert_checkpoint(DATA / "vit_jit.pt", tmp_path / "ref")
    ref = neglabel.Model(str(tmp_path / "ref"), device="cpu")
    shutil.copy(DATA / "vit_jit.pt", clip_home / "ViT-B-16.pt")
    m = neglabel.Model("ViT-B/16", device="cpu")
    assert m.name_or_path == "ViT-B/16"
    assert os.path.dirname(m.info["model"]) == str(tmp_path / "cache" / "openai-clip")
    assert m.fingerprint == ref.fingerprint
    assert np.array_equal(m.embed_images(img), ref.embed_images(img))
    # pickled by name: a worker finds the same conversion
    m2 = pickle.loads(pickle.dumps(m))
    assert m2.name_or_path == "ViT-B/16"
    assert np.array_equal(m2.embed_images(img), ref.embed_images(img))


def test_pt_path(clip_home, tmp_path, cifar):
    img = [str(cifar / "bird" / "0000.jpg")]
    neglabel.convert_checkpoint(DATA / "rn_jit.pt", tmp_path / "ref")
    ref = neglabel.Model(str(tmp_path / "ref"), device="cpu")
    m = neglabel.Model(str(DATA / "rn_jit.pt"), device="cpu")
    assert m.info["architecture"] == ref.info["architecture"]
    assert np.array_equal(m.embed_images(img), ref.embed_images(img))


def test_missing_file(clip_home):
    with pytest.raises(neglabel.FileError, match=r"RN50: OpenAI's checkpoint is not in .*home/\.cache/clip "
                                                 r"\(clip\.load downloads it there from https://openaipublic"):
        neglabel.Model("RN50", device="cpu")
