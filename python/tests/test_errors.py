"""Errors are exceptions carrying the library's message (the CLI prints the
same message), of a neglabel.Error subclass chosen by nl_last_status()
that also derives from the matching built-in exception."""
import json
import os

import numpy as np
import pytest

import neglabel


def test_hierarchy():
    assert issubclass(neglabel.InvalidInputError, (neglabel.Error, ValueError))
    assert issubclass(neglabel.InvalidInputError, ValueError)
    assert issubclass(neglabel.FileError, neglabel.Error) and issubclass(neglabel.FileError, OSError)
    assert issubclass(neglabel.OutOfMemoryError, neglabel.Error) and issubclass(neglabel.OutOfMemoryError, MemoryError)
    assert issubclass(neglabel.UnsupportedError, neglabel.Error)
    assert issubclass(neglabel.UnsupportedError, NotImplementedError)
    assert issubclass(neglabel.DeviceError, neglabel.Error) and issubclass(neglabel.DeviceError, RuntimeError)
    assert issubclass(neglabel.Error, Exception)


def test_status_on_every_error(model):
    # .status (the stub's Error.status, "names its kind") was set only on
    # the library's errors: an InvalidInputError the package raises itself
    # (a bad convention, an empty label list, ...) had none (AttributeError)
    for call in (lambda: neglabel.metrics([1.0], [0.0], convention="nope"),
                 lambda: neglabel.MCM(model, []),
                 lambda: model.embed_images(np.zeros((2, 4), np.uint8)),  # was a plain ValueError
                 lambda: model.embed_images(np.zeros((4, 4, 3), np.uint8), resample="lanczos"),  # the same
                 lambda: neglabel.MCM(model, ["cat", "dog"]).score_embeddings(
                     np.full((1, model.dim), 1e39)),  # float32 inf: the scores were NaN
                 lambda: neglabel.metrics([float("nan")], [0.0])):  # the library's
        with pytest.raises(neglabel.Error) as e:
            call()
        assert e.value.status == "invalid input"
    for cls, status in ((neglabel.InvalidInputError, "invalid input"), (neglabel.FileError, "I/O error"),
                        (neglabel.OutOfMemoryError, "out of memory"), (neglabel.UnsupportedError, "unsupported"),
                        (neglabel.DeviceError, "device error"), (neglabel.Error, "unknown")):
        assert cls("x").status == status


def test_missing_model_is_oserror(cli, tmp_path):
    missing = str(tmp_path / "nowhere")
    with pytest.raises(OSError) as e:
        neglabel.Model(missing, device="cpu")
    assert isinstance(e.value, neglabel.FileError) and e.value.status == "I/O error"
    assert str(e.value) == cli.error("info", "--model", missing)
    assert "nowhere/config.json" in str(e.value)


def test_broken_config_is_valueerror(cli, tiny, tmp_path):
    d = tmp_path / "broken"
    d.mkdir()
    for f in os.listdir(tiny):
        os.symlink(os.path.join(tiny, f), d / f)
    os.unlink(d / "config.json")
    (d / "config.json").write_text('{"model_type": "clip", "projection_dim": -3}')
    with pytest.raises(ValueError) as e:
        neglabel.Model(str(d), device="cpu")
    assert isinstance(e.value, neglabel.InvalidInputError)
    assert str(e.value) == cli.error("info", "--model", d)
    assert "config.json" in str(e.value)


def test_bad_device_and_precision(cli, tiny):
    with pytest.raises(ValueError) as e:
        neglabel.Model(tiny, device="tpu")
    assert str(e.value) in cli.run("info", "--model", tiny, "--device", "tpu").stderr
    with pytest.raises(ValueError) as e:
        neglabel.Model(tiny, precision="fp64")
    assert str(e.value) in cli.run("info", "--model", tiny, "--precision", "fp64").stderr
    # the CPU engine computes in fp32 or bf16
    with pytest.raises(NotImplementedError) as e:
        neglabel.Model(tiny, device="cpu", precision="fp16")
    assert str(e.value) == cli.error("info", "--model", tiny, "--device", "cpu", "--precision", "fp16")
    with pytest.raises(ValueError, match="threads"):
        neglabel.Model(tiny, threads=-1)


def test_cuda_without_gpu(tiny):
    if neglabel.cuda_device_count() > 0:
        m = neglabel.Model(tiny, device="cuda")
        assert m.device.startswith("cuda")
        return
    # not built with CUDA (NotImplementedError), or no usable GPU (RuntimeError)
    with pytest.raises((neglabel.UnsupportedError, neglabel.DeviceError)) as e:
        neglabel.Model(tiny, device="cuda")
    assert str(e.value)
    assert neglabel.Model(tiny, device="auto").device == "cpu"


def test_unreadable_images(cli, tiny, model, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    missing = str(tmp_path / "missing.jpg")
    for p in (str(bad), missing):
        with pytest.raises(neglabel.Error) as e:
            model.embed_images([p])
        assert str(e.value) == cli.error("embed", "--model", tiny, "--image", p)
        assert os.path.basename(p) in str(e.value)


def test_bad_arrays(model):
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        model.embed_images([np.zeros((4, 4, 3), np.float32)])
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        model.embed_images([np.zeros((4, 4, 4), np.uint8)])
    with pytest.raises(ValueError, match="shape"):
        model.embed_images(np.zeros((4, 4), np.uint8))
    with pytest.raises(neglabel.InvalidInputError, match="image 0"):
        model.embed_images([np.zeros((0, 5, 3), np.uint8)])  # the library refuses a zero side
    with pytest.raises(ValueError, match="resample"):
        model.embed_images([np.zeros((4, 4, 3), np.uint8)], resample="nearest")
    with pytest.raises(TypeError):
        model.embed_images(42)


def test_bad_texts(model):
    with pytest.raises(TypeError):
        model.embed_texts([b"bytes"])
    with pytest.raises(TypeError):
        model.tokenize(3)
    with pytest.raises(ValueError, match="NUL character"):
        model.embed_texts(["a\0b"])


def test_bad_labels_and_negatives(cli, tiny, model, labels_file, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(ValueError) as e:
        neglabel.MCM(model, str(empty))
    assert str(e.value) == cli.error("score", "--model", tiny, "--id-labels", empty, "--method", "mcm", labels_file)
    with pytest.raises(OSError) as e:
        neglabel.NegLabel(model, str(tmp_path / "no-labels.txt"), str(tmp_path / "x.tsv"))
    assert "no-labels.txt" in str(e.value)
    dup = tmp_path / "dup.txt"
    dup.write_text("cat\ndog\ncat\n")
    with pytest.raises(ValueError, match="duplicate ID label 'cat'") as e:
        neglabel.MCM(model, str(dup), strict=True)
    assert str(e.value) == cli.error("score", "--model", tiny, "--id-labels", dup, "--method", "mcm", "--strict",
                                     labels_file)
    with pytest.raises(ValueError, match="duplicate ID label 'cat' \\(entries 1 and 3\\)"):
        neglabel.MCM(model, ["cat", "dog", "cat"], strict=True)
    with pytest.raises(ValueError, match="empty"):
        neglabel.MCM(model, ["cat", " "])
    # negatives mined with another model
    neg = tmp_path / "other.tsv"
    neg.write_text("# neglabel negatives\tmodel=someone-else\tdim=32\tnoun_template=the nice {}\tcount=1\n"
                   "noun\ttuba\tthe nice tuba\t0.1\n")
    with pytest.raises(ValueError) as e:
        neglabel.NegLabel(model, labels_file, str(neg))
    assert str(e.value) == cli.error("score", "--model", tiny, "--id-labels", labels_file, "--negatives", neg,
                                     labels_file)
    assert "someone-else" in str(e.value)
    bad = tmp_path / "bad.tsv"
    bad.write_text("verb\trun\tthe nice run\n")
    with pytest.raises(ValueError) as e:
        neglabel.Negatives.load(bad)
    assert str(e.value) == cli.error("score", "--model", tiny, "--id-labels", labels_file, "--negatives", bad,
                                     labels_file)
    with pytest.raises(OSError):
        neglabel.Negatives.load(tmp_path / "missing.tsv")
    with pytest.raises(ValueError):
        neglabel.Negatives(["a"], ["verb"], ["the nice a"])
    with pytest.raises(OSError):
        neglabel.Negatives(["a"], ["noun"], ["the nice a"]).save(tmp_path / "no" / "such" / "dir" / "n.tsv")


def test_bad_mining_and_scoring(model, labels_file, mini_corpus, tmp_path):
    with pytest.raises(ValueError):
        neglabel.mine(model, labels_file, corpus=mini_corpus, total=10 ** 7)  # more than the candidates
    with pytest.raises(neglabel.Error):
        neglabel.mine(model, labels_file, corpus=str(tmp_path / "no-corpus"))
    with pytest.raises(ValueError, match="\\{\\}"):
        neglabel.mine(model, labels_file, corpus=mini_corpus, templates=["no placeholder"])
    with pytest.raises(ValueError, match="ngroup"):
        neglabel.NegLabel(model, labels_file, ngroup=0)
    with pytest.raises(ValueError, match="tau"):
        neglabel.MCM(model, labels_file, tau=0)
    det = neglabel.MCM(model, labels_file)
    with pytest.raises(ValueError, match="rows of 32"):
        det.score_embeddings(np.zeros((2, 31)))


def test_metrics_errors(cli, tmp_path):
    (tmp_path / "a.txt").write_text("0.5\n0.7\n")
    (tmp_path / "e.txt").write_text("")
    with pytest.raises(ValueError) as e:
        neglabel.metrics([0.5, 0.7], [])
    assert str(e.value) == "metrics: need at least one ID and one OOD score (got 2 ID, 0 OOD)"
    # the CLI stops earlier, at the empty file, and names it
    assert cli.error("metrics", "--id-scores", tmp_path / "a.txt", "--ood-scores", tmp_path / "e.txt") == \
        f"{tmp_path / 'e.txt'}: no scores in the file"
    with pytest.raises(ValueError):
        neglabel.metrics([0.5, float("nan")], [0.1])
    with pytest.raises(ValueError, match="convention"):
        neglabel.metrics([0.5], [0.1], convention="sklearn")


def test_evaluate_errors(tiny, labels_file, tmp_path):
    with pytest.raises(ValueError, match="OOD"):
        neglabel.evaluate(tiny, labels_file, str(tmp_path), {})
    with pytest.raises(neglabel.Error, match="OOD set 'x'"):
        neglabel.evaluate(tiny, labels_file, [str(tmp_path / "a.jpg")], {"x": str(tmp_path / "nothing-here")},
                          device="cpu")


def test_sizes_past_a_c_int_name_the_argument(tiny, model, labels_file, tmp_path):
    # PyArg_ParseTuple's "i"/"n" turned a value past a C int / ssize_t into
    # OverflowError ("signed integer is greater than maximum"), neither a
    # ValueError nor naming the argument; an out-of-range value is bad input
    negs = neglabel.Negatives(["rock", "tree"], ["noun", "noun"], ["a photo of a rock.", "a photo of a tree."])
    for what, call in (
            ("threads", lambda: neglabel.Model(tiny, device="cpu", threads=2 ** 31)),
            ("batch_size", lambda: neglabel.Model(tiny, device="cpu", batch_size=2 ** 40)),
            ("ngroup", lambda: neglabel.NegLabel(model, ["cat", "dog"], negs, ngroup=2 ** 31)),
            ("ngroup", lambda: neglabel.AdaNeg(model, ["cat", "dog"], negs, ngroup=2 ** 40)),
            ("total", lambda: neglabel.mine(model, ["cat", "dog"], total=2 ** 70)),
            ("threads", lambda: neglabel.evaluate(tiny, labels_file, id=[], ood={"x": []}, threads=2 ** 31)),
            ("total", lambda: neglabel.evaluate(tiny, labels_file, id=[], ood={"x": []}, total=2 ** 63))):
        with pytest.raises(neglabel.InvalidInputError, match=f"^{what} \\d+ is out of range"):
            call()


def test_mine_parameters_checked_by_the_library(model):
    # the CLI refuses these before calling the library; nl_mine_check is
    # what holds for every other caller, before any embedding
    for kw, want in (({"fraction": 2.0}, "fraction 2 outside (0, 1]"), ({"fraction": 0.0}, "fraction 0 outside"),
                     ({"quantile": 1.5}, "quantile 1.5 outside [0, 1]")):
        with pytest.raises(neglabel.InvalidInputError, match=want.replace("(", r"\(").replace("[", r"\[")):
            neglabel.mine(model, ["cat", "dog"], **kw)
