"""The Python package on a CUDA device: every way in (paths, arrays, PIL
images, encoded buffers, texts, words), every precision, mining and every
scorer, evaluate(), threads and errors, each against the same package on
the CPU in the same process.

Marked ``gpu``: collected only when NEGLABEL_GPU_TESTS=1 (the package must
be built with the CUDA backend, ``pip install . -C
cmake.define.NEGLABEL_CUDA=ON``, and a GPU usable). CI runs them on the CUDA
emulator (tests/cuda_emu, a -DNEGLABEL_CUDA=EMU build of the extension;
see .ci/run). Tolerances are those of the C GPU tests (docs/gpu.md): fp32
within 1e-5 * |g| of the CPU, fp16/bf16 cosine >= 0.999 to the CPU's fp32,
scores from the same embeddings within 1e-9 relative.
"""
import csv
import json
import os

import numpy as np
import pytest

import neglabel
from conftest import need, run_threads

pytestmark = pytest.mark.gpu

TEXTS = ["a photo of a cat", "the nice tuba", "x", "a " * 100 + "long prompt cut to the context",
         "ünïcödé café ☕", "a photo of a dog"]


@pytest.fixture(scope="module")
def gpu():
    need(neglabel.cuda_built(), "the package was built without the CUDA backend "
                                "(pip install . -C cmake.define.NEGLABEL_CUDA=ON)")
    need(neglabel.cuda_device_count() > 0, "no usable CUDA device")
    return 0


@pytest.fixture(scope="module")
def gmodel(gpu, tiny):
    return neglabel.Model(tiny, device="cuda", precision="fp32")


@pytest.fixture(scope="module")
def few(images):
    """Six fixture images: photos, grey, palette, CMYK, RGBA, odd sizes."""
    want = ("dog.jpg", "gray-dog.png", "cmyk-dog.jpg", "eagle.jpg", "exact-224.png", "horses.jpg")
    got = [p for p in images if os.path.basename(p) in want]
    assert len(got) == len(want), got
    return got


def close_rows(got, want, tol=1e-5):
    """Every row within tol * |want row| (max abs difference)."""
    assert got.shape == want.shape and got.dtype == np.float32
    err = np.abs(got.astype(np.float64) - want).max(axis=1) / np.linalg.norm(want, axis=1)
    assert err.max() <= tol, err.max()


def cosines(a, b):
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_devices_and_defaults(gpu, tiny):
    info = neglabel.devices_info()
    assert info["cuda_built"] and len(info["cuda_devices"]) == neglabel.cuda_device_count()
    d0 = info["cuda_devices"][0]
    assert d0["index"] == 0 and d0["name"] and d0["memory_total"] > 0
    with neglabel.Model(tiny) as m:  # auto: the first GPU, fp16 there (as the authors ran)
        assert m.device == "cuda:0" and m.precision == "fp16"
        assert m.device_name.startswith("cuda:0") and d0["name"] in m.device_name
        assert m.info["device"].startswith("cuda:0") and m.info["precision"] == "fp16"
        assert m.info["batch_size"] > 0
    with neglabel.Model(tiny, device="cuda:0", precision="bf16", batch_size=3) as m:
        assert (m.precision, m.info["batch_size"]) == ("bf16", 3)


def test_device_errors(gpu, tiny):
    n = neglabel.cuda_device_count()
    with pytest.raises(neglabel.InvalidInputError) as e:  # a ValueError: the index is the user's
        neglabel.Model(tiny, device=f"cuda:{n}")
    assert str(e.value).startswith(f"cuda:{n}: no such device ({n} CUDA device"), str(e.value)
    with pytest.raises(ValueError):
        neglabel.Model(tiny, device="cuda", precision="fp64")
    # a closed GPU model refuses further calls and frees its device memory
    m = neglabel.Model(tiny, device="cuda")
    m.close()
    with pytest.raises(ValueError):
        m.embed_texts(["a cat"])


def test_fp32_matches_cpu(gmodel, model, few):
    """Texts and images from files, arrays (a strided crop view, an N x H x W
    x 3 batch) and PIL images: the GPU's fp32 = the CPU's within 1e-5 |g|."""
    close_rows(gmodel.embed_texts(TEXTS), model.embed_texts(TEXTS))
    ref = model.embed_images(few)
    close_rows(gmodel.embed_images(few), ref)
    from PIL import Image

    pil = [Image.open(p).convert("RGB") for p in few]
    arrays = [np.asarray(im) for im in pil]
    close_rows(gmodel.embed_images(arrays), model.embed_images(arrays))
    close_rows(gmodel.embed_images(pil), model.embed_images(pil))
    big = np.zeros((300, 400, 3), np.uint8)
    big[20:260, 30:350] = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    view = big[20:260, 30:350]  # not contiguous: used in place
    batch = np.stack([np.ascontiguousarray(view)] * 3)
    close_rows(gmodel.embed_images([view]), model.embed_images([view]))
    close_rows(gmodel.embed_images(batch), model.embed_images(batch))
    g = gmodel.embed_images(batch)  # one image three times: a row's result hardly depends on its place
    close_rows(g[1:], np.repeat(g[:1].astype(np.float64), 2, axis=0), 1e-6)
    # a mixed list: files then decoded images, back in the order given
    mixed = gmodel.embed_images([few[0], arrays[1], few[2]])
    close_rows(mixed, model.embed_images([few[0], arrays[1], few[2]]))


def test_pixels_on_gpu(gmodel, model, few, shared):
    """embed_pixels on the GPU: the bits of embed_images for the same
    pixels (Pillow's bicubic crops in ../shared; the GPU normalises uint8
    exactly as the CPU does), and the CPU's rows within 1e-5 |g|."""
    S = gmodel.image_size
    rgb = np.stack([np.fromfile(shared / "fixtures" / "preprocess" / (os.path.basename(p) + ".bicubic.rgb"),
                                dtype=np.uint8).reshape(S, S, 3) for p in few]).transpose(0, 3, 1, 2)
    info = gmodel.info
    mean = np.array(info["image_mean"], np.float32).reshape(3, 1, 1)
    std = np.array(info["image_std"], np.float32).reshape(3, 1, 1)
    px = (rgb.astype(np.float32) / np.float32(255) - mean) / std
    g = gmodel.embed_pixels(px)
    assert np.array_equal(g, gmodel.embed_images(few, resample="bicubic"))
    close_rows(g, model.embed_pixels(px))


def test_buffers_and_files_each(gmodel, model, few, tmp_path):
    """The Ray path's calls (encoded bytes, files with a status each) on the
    GPU, with an unreadable item in the middle."""
    from neglabel._util import _resample

    r = _resample("model")
    bufs = [open(p, "rb").read() for p in few[:3]]
    bufs.insert(1, b"not an image")
    names = ["a.jpg", "broken.jpg", "c.png", "d.jpg"]
    out_g = np.empty((4, gmodel.dim), np.float32)
    out_c = np.empty((4, model.dim), np.float32)
    errs_g = gmodel._m.embed_buffers_each(bufs, names, r, out_g)
    errs_c = model._m.embed_buffers_each(bufs, names, r, out_c)
    assert errs_g == errs_c and errs_g[1] and "broken.jpg" in errs_g[1]
    assert all(errs_g[k] is None for k in (0, 2, 3))
    keep = [0, 2, 3]
    close_rows(out_g[keep], out_c[keep])
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 cut")
    paths = [few[0], str(bad), few[1]]
    out_g = np.empty((3, gmodel.dim), np.float32)
    out_c = np.empty((3, model.dim), np.float32)
    eg = gmodel._m.embed_files_each(paths, r, None, out_g)
    ec = model._m.embed_files_each(paths, r, None, out_c)
    assert eg[0] is None and eg[2] is None and eg[1] and "bad.jpg" in eg[1] and eg == ec
    close_rows(out_g[[0, 2]], out_c[[0, 2]])
    with pytest.raises(neglabel.Error, match="bad.jpg"):
        gmodel.embed_images([few[0], str(bad)])


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_half_precisions(gpu, tiny, model, few, precision):
    with neglabel.Model(tiny, device="cuda", precision=precision) as m:
        assert m.precision == precision
        ct = cosines(m.embed_texts(TEXTS), model.embed_texts(TEXTS))
        ci = cosines(m.embed_images(few), model.embed_images(few))
    assert ct.min() >= 0.999 and ci.min() >= 0.999, (ct.min(), ci.min())


def test_mine_on_gpu(gmodel, model, labels_file, mini_corpus):
    """NegMining with the model (and the mining) on the GPU: the same
    number of negatives, >= 98% of them the same words (quantiles near the
    cut may swap places with fp32 embeddings from another GEMM), and the
    quantiles of shared words within 1e-5."""
    g = neglabel.mine(gmodel, labels_file, corpus=mini_corpus)
    c = neglabel.mine(model, labels_file, corpus=mini_corpus)
    assert len(g) == len(c)
    common = set(g.words) & set(c.words)
    assert len(common) * 100 >= 98 * len(c), (len(common), len(c))
    if g.similarities is not None and c.similarities is not None:
        sg = dict(zip(g.words, g.similarities))
        sc = dict(zip(c.words, c.similarities))
        assert max(abs(sg[w] - sc[w]) for w in common) <= 1e-5


@pytest.mark.parametrize("cls,kw", [(neglabel.NegLabel, {"ngroup": 10}), (neglabel.MCM, {}),
                                    (neglabel.NegLabel, {"ngroup": 7, "permutation": "torch"}),
                                    (neglabel.AdaNeg, {"ngroup": 10, "batch": 4, "memory": 3}),
                                    (neglabel.OODD, {"ngroup": 10, "batch": 4, "queue": 6, "k": 2})])
def test_scorers_on_gpu(gmodel, model, labels_file, negatives_ref, cat_images, cls, kw):
    """The same embeddings scored with a GPU model's scorer (NegLabel, MCM,
    AdaNeg and OODD run on the GPU, OODD's queue kept on the host) = the CPU
    model's scorer, to 1e-9 relative; labels identical.
    Then images straight from files, within what the fp32 embeddings allow."""
    assert gmodel._score_device() == (neglabel._util._DEVICE_KIND["cuda"], 0) != model._score_device()
    neg = () if cls is neglabel.MCM else (negatives_ref.negatives,)
    dg = cls(gmodel, labels_file, *neg, **kw)
    dc = cls(model, labels_file, *neg, **kw)
    # label embeddings from the GPU differ in the last bits: score with the CPU's
    close_rows(dg.id_embeddings, dc.id_embeddings)
    dg.id_embeddings = dc.id_embeddings
    if neg:
        close_rows(dg.neg_embeddings, dc.neg_embeddings)
        dg.neg_embeddings = dc.neg_embeddings
    emb = model.embed_images(cat_images)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    rg = dg.score_embeddings(emb, return_labels=True)
    rc = dc.score_embeddings(emb, return_labels=True)
    assert np.allclose(rg[0], rc[0], rtol=1e-9, atol=0), np.abs(rg[0] / rc[0] - 1).max()
    assert [list(x) for x in rg[1:]] == [list(x) for x in rc[1:]]
    fg = dg.score(cat_images)
    fc = dc.score(cat_images)
    assert np.allclose(fg, fc, rtol=1e-3, atol=1e-12), np.abs(fg / fc - 1).max()


def test_skip_unreadable_on_gpu(gmodel, labels_file, negatives_ref, cat_images, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    det = neglabel.NegLabel(gmodel, labels_file, negatives_ref.negatives, ngroup=10)
    ref = det.score(cat_images[:3])
    with pytest.raises(neglabel.Error, match="broken.jpg"):
        det.score([cat_images[0], str(bad)])
    s = det.score([cat_images[0], str(bad), cat_images[1], cat_images[2]], skip_unreadable=True)
    assert np.isnan(s[1])
    # the GPU packs the readable images into one batch: rows as without the broken file
    assert np.allclose(s[[0, 2, 3]], ref, rtol=1e-6, atol=0)


def test_evaluate_on_gpu(gpu, tiny, mini_corpus, cifar, tmp_path):
    """evaluate(device="cuda") = evaluate(device="cpu"): the same negatives
    (fp32 mining on the GPU, >= 98% shared), every method's scores within
    what fp32 embeddings allow, the same image counts."""
    ls = lambda c, n: sorted(str(p) for p in (cifar / c).iterdir())[:n]
    labels = ["airplane", "automobile", "bird"]
    ids, ood = ls("airplane", 4) + ls("bird", 4), {"ships": ls("ship", 6), "frogs": ls("frog", 6)}
    params = {"adaneg": {"adaneg_batch": 4, "adaneg_memory": 3, "ngroup": 5},
              "oodd": {"oodd_batch": 4, "oodd_queue": 6, "oodd_k": 2, "ngroup": 5}, "csp": {"ngroup": 5}}
    got = {}
    for dev in ("cpu", "cuda"):
        got[dev] = neglabel.evaluate(tiny, labels, ids, ood, out_dir=tmp_path / dev, corpus=mini_corpus, ngroup=5,
                                     device=dev, precision="fp32", methods="all", method_params=params)
    g, c = got["cuda"], got["cpu"]
    assert g["methods"] == c["methods"] == list(neglabel.METHODS)
    assert g["n_negatives"] == c["n_negatives"] and g["id"] == c["id"]
    for name in ood:
        assert g["ood"][name]["n_images"] == c["ood"][name]["n_images"] == 6
    res = {dev: json.loads((tmp_path / dev / "results.json").read_text()) for dev in ("cpu", "cuda")}
    assert "cuda" in json.dumps(res["cuda"]).lower() and "cuda" not in json.dumps(res["cpu"]).lower()
    rows = {dev: list(csv.DictReader(open(tmp_path / dev / "scores.csv"))) for dev in ("cpu", "cuda")}
    key = lambda r: (r["set"], r["path"], r["stream"], r["position"])
    assert [key(r) for r in rows["cuda"]] == [key(r) for r in rows["cpu"]]
    for m in neglabel.METHODS:
        # the stream methods' scores are on their own rows (the stream order)
        assert [r[m] == "" for r in rows["cuda"]] == [r[m] == "" for r in rows["cpu"]], m
        a = np.array([float(r[m]) for r in rows["cuda"] if r[m]])
        b = np.array([float(r[m]) for r in rows["cpu"] if r[m]])
        assert len(a) >= 20 and np.allclose(a, b, rtol=2e-3, atol=1e-9), (m, np.abs(a - b).max())


def test_threads_on_gpu(gpu, tiny, few):
    """Two threads with their own GPU models, and one GPU model shared by
    three threads (the package's lock): every result equals the same
    model's result on one thread."""
    with neglabel.Model(tiny, device="cuda", precision="fp32") as m:
        ref_t, ref_i = m.embed_texts(TEXTS), m.embed_images(few)
    def own(k):
        with neglabel.Model(tiny, device="cuda", precision="fp32") as m:
            return [(m.embed_texts(TEXTS), m.embed_images(few)) for _ in range(2)]

    for res in run_threads(2, own):
        for t, i in res:
            close_rows(t, ref_t, 1e-6)
            close_rows(i, ref_i, 1e-6)
    shared = neglabel.Model(tiny, device="cuda", precision="fp32")
    out = run_threads(3, lambda k: (shared.embed_texts(TEXTS), shared.embed_images(few[k:k + 3])))
    for k, (t, i) in enumerate(out):
        close_rows(t, ref_t, 1e-6)
        close_rows(i, ref_i[k:k + 3], 1e-6)
    shared.close()


def test_second_device(gpu, tiny, few, gmodel):
    """The last GPU of several (the emulator has two; a one-GPU machine
    cannot run this and says so), used from a thread other than the loading
    one and in turn with a model on device 0: device 0's results."""
    n = neglabel.cuda_device_count()
    if n < 2:
        assert not os.environ.get("NEGLABEL_GPU_EMU"), "the emulator runs with 2 devices (NLEMU_DEVICES=2)"
        print("one GPU: the second-device checks need two")
        return
    with neglabel.Model(tiny, device=f"cuda:{n - 1}", precision="fp32") as m:
        assert m.device == f"cuda:{n - 1}"
        [(t, i)] = run_threads(1, lambda k: (m.embed_texts(TEXTS), m.embed_images(few)))
        ref_t, ref_i = gmodel.embed_texts(TEXTS), gmodel.embed_images(few)
        close_rows(t, ref_t, 1e-6)
        close_rows(i, ref_i, 1e-6)
        close_rows(m.embed_images(few), ref_i, 1e-6)


def test_progress_on_gpu(gmodel, labels_file, negatives_ref, few):
    """Image embedding on the GPU reports progress, ending with a final call
    that counts every image. Jobs under 0.2 s report nothing, and a GPU
    embeds the six images far faster than that: the job grows until it
    takes long enough (the CPU emulator stops at the first size)."""
    det = neglabel.NegLabel(gmodel, labels_file, negatives_ref.negatives, ngroup=10)
    for k in (1, 16, 128, 1024):
        seen = []
        paths = few * k
        neglabel.set_progress(lambda label, done, total, elapsed, final: seen.append((label, done, total, final)))
        try:
            det.score(paths)
        finally:
            neglabel.set_progress(None)
        if seen:
            break
    assert any("images" in label and total == len(paths) and done == total and final
               for label, done, total, final in seen), seen
