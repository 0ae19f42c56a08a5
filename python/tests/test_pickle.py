"""Pickling a Model (and so any scorer holding one) loads it again where it
is unpickled: worker processes of multiprocessing / concurrent.futures /
joblib get the same model and the same scores; a closed model, or a folder
whose weights changed since, is refused with a clear message."""
import concurrent.futures
import copy
import multiprocessing
import os
import pickle
import shutil

import numpy as np
import pytest

import neglabel


def test_model_round_trip(tiny, images):
    m = neglabel.Model(tiny, device="cpu", threads=1, batch_size=3)
    m2 = pickle.loads(pickle.dumps(m))
    assert m2 is not m and m2._m is not m._m
    assert (m2.device, m2.precision, m2.threads, m2.info["batch_size"]) == ("cpu", "fp32", 1, 3)
    assert m2.fingerprint == m.fingerprint
    texts = ["a photo of a dog", "the nice tuba"]
    assert np.array_equal(m2.embed_texts(texts), m.embed_texts(texts))
    assert np.array_equal(m2.embed_images(images[:4]), m.embed_images(images[:4]))
    m.close()  # the copy is independent
    assert not m2.closed and m2.embed_texts("x").shape == (1, m2.dim)
    m3 = copy.deepcopy(m2)
    assert np.array_equal(m3.embed_texts(texts), m2.embed_texts(texts))


def test_relative_path_is_made_absolute(tiny, tmp_path, monkeypatch):
    monkeypatch.chdir(os.path.dirname(tiny))
    m = neglabel.Model(os.path.basename(tiny), device="cpu")
    data = pickle.dumps(m)
    monkeypatch.chdir(tmp_path)  # elsewhere, as a worker started in another folder
    m2 = pickle.loads(data)
    assert m2.name_or_path == tiny and m2.fingerprint == m.fingerprint


def test_closed_model_is_refused(tiny):
    m = neglabel.Model(tiny, device="cpu")
    m.close()
    with pytest.raises(ValueError, match="closed"):
        pickle.dumps(m)


def test_changed_weights_are_refused(tiny, tmp_path):
    folder = tmp_path / "clip"
    shutil.copytree(tiny, folder)
    data = pickle.dumps(neglabel.Model(str(folder), device="cpu"))
    # the same model in half precision: other weights, another fingerprint
    os.replace(folder / "model-f16.safetensors", folder / "model.safetensors")
    with pytest.raises(neglabel.InvalidInputError, match="not the model that was pickled"):
        pickle.loads(data)


def _score_in_worker(scorer, emb):
    return scorer.score_embeddings(emb)


def test_scorers_in_worker_processes(model, labels_file, negatives_ref, cat_images):
    """A NegLabel / MCM / AdaNeg scorer sent to a spawned worker process
    scores there exactly as here."""
    emb, _ = model._embed_normalized(cat_images, "model", None, False)
    neg = negatives_ref.negatives
    scorers = [negatives_ref, neglabel.NegLabel(model, labels_file, neg, ngroup=2, permutation="torch"),
               neglabel.MCM(model, labels_file), neglabel.AdaNeg(model, labels_file, neg, batch=2)]
    want = [s.score_embeddings(emb) for s in scorers]
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        got = list(pool.map(_score_in_worker, scorers, [emb] * len(scorers)))
    for g, w in zip(got, want):
        assert g.dtype == np.float64 and np.array_equal(g, w)
