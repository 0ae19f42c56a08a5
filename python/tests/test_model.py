"""Model: info, tokenize, text and image embeddings equal to the CLI's
(`neglabel embed` prints %.9g, which round-trips float32: equal strings are
equal bits), images as paths, numpy arrays (contiguous and strided views)
and PIL images."""
import json
import os
import pathlib

import numpy as np
import pytest

import neglabel



def embed_cli(cli, tiny, images=(), texts=(), resample=None, extra=()):
    args = ["embed", "--model", tiny, *extra]
    if resample:
        args += ["--resample", resample]
    for p in images:
        args += ["--image", p]
    for t in texts:
        args += ["--text", t]
    return [json.loads(l, parse_float=str, parse_int=str) for l in cli(*args).splitlines()]


def as_strings(row):
    return ["%.9g" % float(v) for v in row]


def assert_rows_equal(got, rows):
    assert got.dtype == np.float32 and got.shape == (len(rows), len(rows[0]["embedding"]))
    for k, r in enumerate(rows):
        assert as_strings(got[k]) == r["embedding"], f"row {k} ({r['input']}) differs"
        assert np.array_equal(got[k], np.array([float(v) for v in r["embedding"]], dtype=np.float32))


@pytest.fixture(scope="module")
def pil():
    from conftest import need

    try:
        from PIL import Image
    except ImportError:
        need(False, "Pillow is not installed")
    return Image


def test_info_matches_cli(cli, tiny, model):
    assert model.info == json.loads(cli("info", "--model", tiny))
    assert model.dim == model.info["projection_dim"] == 32
    assert model.device == "cpu" and model.precision == "fp32"
    assert model.resample == "bicubic" and model.image_size == 224
    assert model.fingerprint == model.info["fingerprint"]
    assert model.threads >= 1
    assert "dim=32" in repr(model)


def test_tokenize_matches_cli(cli, tiny, model):
    texts = ["a photo of a cat", "", "Hello, World! It's 3:00pm", "caf\u00e9 na\u00efve \u00fcber \u65e5\u672c",
             "emoji \U0001F600 and  spaces", " ".join(["long"] * 100)]
    out = cli("tokenize", "--model", tiny, input="".join(json.dumps({"text": t}) + "\n" for t in texts))
    want = [json.loads(l)["ids"] for l in out.splitlines()]
    assert [model.tokenize(t) for t in texts] == want
    assert len(want[-1]) > 77  # not truncated


def test_tokenize_ftfy_golden(cli, tiny, model):
    """ftfy.fix_text runs in the package too: every 40th string of the ftfy
    golden (ids from OpenAI's simple_tokenizer with the real ftfy; the tiny
    model has CLIP's vocabulary), the same through the CLI."""
    path = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data" / "ftfy_golden.jsonl"
    rows = [json.loads(l) for l in path.read_text(encoding="utf-8").split("\n") if l]  # not splitlines: U+2028
    rows = [r for r in rows if "text" in r and not r["mark"]]
    nul = [r for r in rows if "\0" in r["text"]]  # all of them: U+0000 reaches the tokenizer, ftfy removes it
    rows = rows[::40] + nul
    assert len(nul) > 0 and len(rows) > 400 and sum(r["fixed"] != r["text"] for r in rows) > 200
    assert [model.tokenize(r["text"]) for r in rows] == [r["ids"] for r in rows]
    out = cli("tokenize", "--model", tiny, input="".join(json.dumps({"text": r["text"]}) + "\n" for r in rows))
    assert [json.loads(l)["ids"] for l in out.split("\n") if l] == [r["ids"] for r in rows]


def test_embed_texts_bitwise(cli, tiny, model):
    texts = ["the nice cat", "This is a salty photo", "a photo of a dog", "", " ".join(["word"] * 90),
             "caf\u00e9 \u65e5\u672c \U0001F600"]
    rows = embed_cli(cli, tiny, texts=texts)
    assert_rows_equal(model.embed_texts(texts), rows)
    one = model.embed_texts("the nice cat")
    assert one.shape == (1, model.dim) and np.array_equal(one[0], model.embed_texts(texts)[0])
    assert model.embed_texts([]).shape == (0, model.dim)


def test_embed_texts_longer_than_1_mib(model):
    """A text is tokenised whole before the cut to the context (~26 bytes a
    byte), so one over 1 MiB is refused by name; 1 MiB itself embeds, the same
    as its first 76 tokens would."""
    mib = "x" * (1 << 20)
    assert model.embed_texts([mib]).shape == (1, model.dim)
    with pytest.raises(neglabel.InvalidInputError, match=r"text 1: 1048577 bytes long.*at most 1 MiB"):
        model.embed_texts(["dog", mib + "y"])


@pytest.mark.parametrize("resample", [None, "bilinear", "bicubic"])
def test_embed_image_paths_bitwise(cli, tiny, model, images, resample):
    rows = embed_cli(cli, tiny, images=images, resample=resample)
    got = model.embed_images(images, resample=resample or "model")
    assert_rows_equal(got, rows)
    # not normalised (as the C API)
    assert not np.allclose(np.linalg.norm(got, axis=1), 1.0)
    # pathlib paths; one path alone (a batch of one, as the CLI with one --image)
    import pathlib

    assert np.array_equal(model.embed_images([pathlib.Path(p) for p in images], resample=resample or "model"), got)
    assert_rows_equal(model.embed_images(images[4], resample=resample or "model"),
                      embed_cli(cli, tiny, images=images[4:5], resample=resample))


def test_embed_pil_images_bitwise(cli, tiny, model, images, pil):
    """PIL images of every mode in the fixtures (RGB, L, P, RGBA, CMYK) give
    the file's embedding: converted to RGB as the library decodes files."""
    rows = embed_cli(cli, tiny, images=images)
    modes = set()
    pics = []
    for p in images:
        im = pil.open(p)
        modes.add(im.mode)
        pics.append(im)
    assert {"RGB", "L", "P", "RGBA", "CMYK"} <= modes
    assert_rows_equal(model.embed_images(pics), rows)


def _variants(a):
    """The same pixels in several memory layouts."""
    h, w, _ = a.shape
    big = np.zeros((h + 9, w + 13, 3), np.uint8)
    big[4:4 + h, 6:6 + w] = a
    crop = big[4:4 + h, 6:6 + w]                    # row stride > width*3: used in place
    wide = np.zeros((h, 2 * w, 3), np.uint8)
    wide[:, ::2] = a
    every_other = wide[:, ::2]                      # pixels 6 bytes apart: copied
    planar = np.ascontiguousarray(a.transpose(2, 0, 1)).transpose(1, 2, 0)  # channels h*w apart
    bgr = np.ascontiguousarray(a[..., ::-1])[..., ::-1]                     # negative channel stride
    flipped = np.ascontiguousarray(a[::-1])[::-1]                           # negative row stride
    fortran = np.asfortranarray(a)
    readonly = a.copy()
    readonly.setflags(write=False)
    v = {"contiguous": a, "crop": crop, "every_other": every_other, "planar": planar, "bgr_view": bgr,
         "flipped": flipped, "fortran": fortran, "readonly": readonly}
    for name, x in v.items():
        assert np.array_equal(x, a), name
    if h > 1:
        assert not crop.flags.c_contiguous and crop.strides[0] == (w + 13) * 3
    return v


def test_embed_arrays_bitwise(cli, tiny, model, images, pil, tmp_path):
    """uint8 arrays (decoded with Pillow, saved as PNG for the CLI) in every
    layout give the CLI's embedding of the PNG."""
    arrays, pngs = [], []
    for k, p in enumerate(images):
        a = np.asarray(pil.open(p).convert("RGB"))
        out = tmp_path / f"{k:02d}.png"
        pil.fromarray(a).save(out)
        arrays.append(a)
        pngs.append(str(out))
    for resample in ("bicubic", "bilinear"):
        rows = embed_cli(cli, tiny, images=pngs, resample=resample)
        per_layout = {}
        for a in arrays:
            for name, x in _variants(a).items():
                per_layout.setdefault(name, []).append(x)
        for name, xs in per_layout.items():
            if resample == "bilinear" and name not in ("contiguous", "crop", "planar"):
                continue  # (every layout once is enough)
            got = model.embed_images(xs, resample=resample)
            for k, r in enumerate(rows):
                assert as_strings(got[k]) == r["embedding"], f"{name}: image {k} ({images[k]}) differs"


def test_strided_views_used_in_place():
    """A crop of a larger image goes to nl_embed_rgb as it is (its row
    stride); layouts nl_rgb_image cannot describe are copied."""
    big = np.zeros((50, 60, 3), np.uint8)
    crop = big[5:45, 7:50]
    assert neglabel._rgb_array(crop, 0) is crop
    for x in (big[:, ::2], big[..., ::-1], big[::-1], np.asfortranarray(big)):
        y = neglabel._rgb_array(x, 0)
        assert y.flags.c_contiguous and np.array_equal(y, x)


def test_embed_batch_and_mixed(model, images, pil):
    """An N x H x W x 3 batch; paths, arrays and PIL images mixed in one list
    keep their order (the files and the decoded images are embedded as two
    calls: the library's results may depend on how images are batched)."""
    arrs = [np.asarray(pil.open(p).convert("RGB")) for p in images[:4]]
    mixed = model.embed_images([images[0], arrs[1], pil.open(images[2]), images[3]])
    files = model.embed_images([images[0], images[3]])
    decoded = model.embed_images([arrs[1], arrs[2]])
    assert np.array_equal(mixed, np.stack([files[0], decoded[0], decoded[1], files[1]]))
    same_size = [p for p in images if pil.open(p).size == (768, 576)][:3]
    batch = np.stack([np.asarray(pil.open(p).convert("RGB")) for p in same_size])
    assert batch.ndim == 4
    assert np.array_equal(model.embed_images(batch), model.embed_images(same_size))
    assert model.embed_images([]).shape == (0, model.dim)


def test_model_context_and_close(tiny):
    with neglabel.Model(tiny, device="cpu", threads=1, batch_size=3) as m:
        assert m.threads == 1 and m.info["batch_size"] == 3
        e = m.embed_texts(["x"])
    assert m.closed
    with pytest.raises(ValueError, match="closed"):
        m.embed_texts(["x"])
    m.close()  # twice is fine
    assert e.shape == (1, 32)


def test_devices(tiny):
    assert isinstance(neglabel.cuda_built(), bool)
    assert neglabel.cuda_device_count() >= 0
    info = neglabel.devices_info()
    assert isinstance(info, dict) and info["auto"] in ["cpu"] + [f"cuda:{d['index']}" for d in info["cuda_devices"]]
    assert neglabel.__version__ == "0.1.0" or neglabel.__version__.count(".") == 2
    # CI builds the package with the toolkit present: it must have the CUDA
    # backend (pyproject's default) and still run on a machine without a GPU
    if os.environ.get("NEGLABEL_EXPECT_CUDA_BUILT") == "1":
        assert neglabel.cuda_built(), "pip install . did not build the CUDA backend (NEGLABEL_CUDA=AUTO)"
    if neglabel.cuda_built() and info["auto"] == "cpu":
        with neglabel.Model(tiny, device="auto") as m:
            assert m.device == "cpu" and m.embed_texts(["a dog"]).shape == (1, 32)
        with open("/proc/self/maps") as f:  # cuBLAS is opened only when a GPU is used
            assert "libcublas" not in f.read()


def test_threads_and_batch_options(cli, tiny, images):
    """threads and batch_size are the CLI's --threads and --batch."""
    texts = ["a", "b c", "the nice tuba"]
    with neglabel.Model(tiny, device="cpu", threads=1, batch_size=2) as m1:
        r = cli.run("embed", "--model", tiny, "--threads", 1, "--batch", 2,
                    *sum((["--image", p] for p in images[:5]), []), *sum((["--text", t] for t in texts), []))
        assert r.returncode == 0, r.stderr
        rows = [json.loads(l, parse_float=str, parse_int=str) for l in r.stdout.splitlines()]
        assert_rows_equal(m1.embed_images(images[:5]), rows[:5])
        assert_rows_equal(m1.embed_texts(texts), rows[5:])


def test_bf16_on_the_cpu(cli, tiny, images):
    """precision="bf16" runs what the CLI runs (same bits) and stays within
    cosine 0.9995 of fp32; on a CPU without native bf16 it is fp32."""
    m16 = neglabel.Model(tiny, device="cpu", precision="bf16")
    m32 = neglabel.Model(tiny, device="cpu")
    texts = ["the nice cat", "a photo of a dog"]
    paths = [str(p) for p in images[:3]]
    e16 = np.concatenate([m16.embed_images(paths), m16.embed_texts(texts)])  # the CLI's order
    e32 = np.concatenate([m32.embed_images(paths), m32.embed_texts(texts)])
    rows = embed_cli(cli, tiny, texts=texts, images=paths, extra=["--precision", "bf16"])
    assert_rows_equal(e16, rows)
    if m16.precision == "fp32":  # no AVX512-BF16 or AMX here
        assert np.array_equal(e16, e32)
    else:
        assert m16.precision == "bf16"
        cos = (e16 * e32).sum(1) / np.linalg.norm(e16, axis=1) / np.linalg.norm(e32, axis=1)
        assert cos.min() >= 0.9995 and not np.array_equal(e16, e32)
