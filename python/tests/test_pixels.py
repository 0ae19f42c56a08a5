"""Model.embed_pixels: pixels preprocessed elsewhere (a DataLoader's batch,
transformers' pixel_values). The golden pixels of the tiny model (Pillow's
224x224 crops in ../shared, normalised as transformers was given them)
embed to transformers' float64 image_embeds within 1e-4 of each row's norm
and to the bits embed_images gives for the same files; every accepted form
(one image, float64, float16, Fortran order, a PyTorch-like tensor) gives
the same rows; wrong shapes and types, NaN and 0..255 values are caught.
Model.preprocess gives those pixels, and for every fixture image and
resample the pixels that embed to embed_images' bits."""
import json
import logging
import pathlib

import numpy as np
import pytest

import neglabel

S = 224


@pytest.fixture(scope="module")
def golden(shared):
    g = json.loads((shared / "fixtures" / "tiny-clip" / "golden.json").read_text())
    man = json.loads((shared / "fixtures" / "preprocess" / "manifest.json").read_text())
    mean = np.array(man["mean"], dtype=np.float32).reshape(3, 1, 1)
    std = np.array(man["std"], dtype=np.float32).reshape(3, 1, 1)
    rgb = np.stack([np.fromfile(shared / "fixtures" / "preprocess" / f"{name}.bicubic.rgb", dtype=np.uint8)
                    .reshape(S, S, 3).transpose(2, 0, 1) for name in g["images"]])
    # torchvision's ToTensor + Normalize in float32, as the library normalises
    pixels = (rgb.astype(np.float32) / np.float32(255) - mean) / std
    paths = [str(shared / "fixtures" / "images" / name) for name in g["images"]]
    return {"pixels": pixels, "rgb": rgb, "paths": paths,
            "embeds": np.array(g["f32"]["image_embeds"], dtype=np.float64)}


def test_golden_pixels(model, golden):
    got = model.embed_pixels(golden["pixels"])
    assert got.dtype == np.float32 and got.shape == (len(golden["paths"]), model.dim)
    want = golden["embeds"]
    err = np.abs(got - want).max(axis=1) / np.linalg.norm(want, axis=1)
    assert err.max() <= 1e-4, err
    # the same pixels as neglabel's own decoding and bicubic preprocessing
    assert np.array_equal(got, model.embed_images(golden["paths"], resample="bicubic"))


def test_accepted_forms(model, golden):
    px = golden["pixels"]
    ref = model.embed_pixels(px)
    one = model.embed_pixels(px[2])
    assert one.shape == (1, model.dim) and np.allclose(one[0], ref[2], rtol=0, atol=1e-5 * np.abs(ref[2]).max())
    assert np.array_equal(model.embed_pixels(px.astype(np.float64)), ref)
    assert np.array_equal(model.embed_pixels(np.asfortranarray(px)), ref)
    assert np.array_equal(model.embed_pixels(px.tolist()), ref)
    half = model.embed_pixels(px.astype(np.float16))
    cos = (half * ref).sum(1) / np.linalg.norm(half, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() > 0.999
    assert model.embed_pixels(np.empty((0, 3, S, S), np.float32)).shape == (0, model.dim)


class FakeTensor:
    """What embed_pixels uses of a torch.Tensor; like torch, numpy cannot
    read it directly (a CUDA tensor, or one that requires grad)."""

    def __init__(self, a, dtype="torch.float32", floating=True):
        self.a, self.dtype, self.floating, self.moved = a, dtype, floating, []

    def __array__(self, *args, **kw):
        raise TypeError("can't convert cuda:0 device type tensor to numpy")

    def detach(self):
        self.moved.append("detach")
        return self

    def is_floating_point(self):
        return self.floating

    def cpu(self):
        self.moved.append("cpu")
        return self

    def float(self):
        self.moved.append("float")
        return self

    def numpy(self):
        return np.asarray(self.a, dtype=np.float32)


def test_torch_like_tensors(model, golden):
    px = golden["pixels"]
    t = FakeTensor(px)
    assert np.array_equal(model.embed_pixels(t), model.embed_pixels(px))
    assert t.moved == ["detach", "cpu", "float"]
    with pytest.raises(neglabel.InvalidInputError, match="torch.uint8.*embed_images"):
        model.embed_pixels(FakeTensor(golden["rgb"], dtype="torch.uint8", floating=False))


def test_refusals(model, golden):
    px = golden["pixels"]
    with pytest.raises(neglabel.InvalidInputError, match="uint8.*embed_images"):
        model.embed_pixels(golden["rgb"])
    with pytest.raises(neglabel.InvalidInputError, match=r"N x 3 x 224 x 224.*transpose\(0, 3, 1, 2\)"):
        model.embed_pixels(px.transpose(0, 2, 3, 1))
    with pytest.raises(neglabel.InvalidInputError, match="takes 224 x 224 images"):
        model.embed_pixels(px[:, :, :200, :200])
    with pytest.raises(neglabel.InvalidInputError, match=r"got shape \(224, 224\)"):
        model.embed_pixels(px[0, 0])
    bad = px.copy()
    bad[1, 2, 10, 20] = np.nan
    with pytest.raises(neglabel.InvalidInputError, match="image 1 holds a non-finite value .NaN. at channel 2, "
                                                         "row 10, column 20") as e:
        model.embed_pixels(bad)
    assert isinstance(e.value, ValueError)


def test_unnormalised_pixels_warn(model, golden, caplog):
    with caplog.at_level(logging.WARNING, logger="neglabel"):
        model.embed_pixels(golden["pixels"])
    assert not caplog.records
    with caplog.at_level(logging.WARNING, logger="neglabel"):
        got = model.embed_pixels(golden["rgb"].astype(np.float32))  # 0..255, not normalised
    assert len(caplog.records) == 1 and "far outside" in caplog.records[0].getMessage()
    assert got.shape == (len(golden["paths"]), model.dim)


@pytest.mark.parametrize("resample", ["model", "bicubic", "bilinear"])
def test_preprocess_then_embed_pixels(model, images, resample):
    """Model.preprocess gives the pixels embed_images gives the model: for
    the 20 fixture images (grey, palette, RGBA, CMYK, 1x1, 1700x40, ...)
    embed_pixels of them is embed_images, bit for bit."""
    px = model.preprocess(images, resample=resample)
    assert px.dtype == np.float32 and px.shape == (len(images), 3, S, S)
    assert np.array_equal(model.embed_pixels(px), model.embed_images(images, resample=resample))


def test_preprocess_forms(model, golden, images):
    from PIL import Image

    px = model.preprocess(golden["paths"], resample="bicubic")
    assert np.array_equal(px, golden["pixels"])  # Pillow's crops, normalised as transformers was given them
    one = model.preprocess(golden["paths"][0])
    assert one.shape == (1, 3, S, S)
    # files, decoded arrays and PIL images in one list: each image's own pixels, in the order given
    odd = [p for p in images if p.endswith("odd-227x389.png")][0]
    arr = np.asarray(Image.open(golden["paths"][1]).convert("RGB"))
    mixed = model.preprocess([odd, arr, Image.open(golden["paths"][2])])
    want = np.concatenate([model.preprocess(odd), model.preprocess(golden["paths"][1]),
                           model.preprocess(golden["paths"][2])])
    assert np.array_equal(mixed, want)
    # the folder's own preprocessing (transformers' crop) is not torchvision's for a 227 x 389 image
    assert not np.array_equal(model.preprocess(odd), model.preprocess(odd, resample="bicubic"))
    with pytest.raises(neglabel.Error, match="missing.jpg"):
        model.preprocess([golden["paths"][0], str(pathlib.Path(golden["paths"][0]).with_name("missing.jpg"))])
