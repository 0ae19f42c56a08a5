"""Arguments of the same kind are taken alike by every function (a review of
the package found each of these failing or silently wrong; each test failed
before the fix)."""
import os

import numpy as np
import pytest

import neglabel
import neglabel._eval


def _img(shared, name):
    return str(shared / "fixtures" / "images" / name)


def test_complex_and_text_numbers_are_refused(model, negatives_ref):
    e = model.embed_texts(["a cat", "a dog"])
    # the imaginary part was dropped with a ComplexWarning, and strings parsed
    for bad in (e.astype(np.complex64), e.astype(str)):
        with pytest.raises(neglabel.InvalidInputError, match="img_emb: expected real numbers"):
            negatives_ref.score_embeddings(bad)
    with pytest.raises(neglabel.InvalidInputError, match="id_scores: expected real numbers"):
        neglabel.metrics(np.array([0.5 + 1j, 0.7]), [0.1])
    # float16 and integers are numbers
    assert np.array_equal(negatives_ref.score_embeddings(e.astype(np.float16)),
                          negatives_ref.score_embeddings(e.astype(np.float16).astype(np.float32)))


def test_metrics_takes_one_score_per_item(rng=np.random.default_rng(0)):
    a, b = rng.random(50), rng.random(40)
    # a 2-D table was flattened: its columns became more "ID scores"
    with pytest.raises(neglabel.InvalidInputError, match=r"id_scores: expected one score per item .* \(50, 2\)"):
        neglabel.metrics(np.stack([a, 1 - a], 1), b)
    assert neglabel.metrics(a.reshape(-1, 1), b) == neglabel.metrics(a, b)


def test_stream_parameters_are_checked_before_mining(model, labels_file, tmp_path):
    # with a corpus that does not exist: mining would fail first, so these
    # messages show that the parameters are checked before it
    nowhere = str(tmp_path / "no-corpus")
    with pytest.raises(neglabel.InvalidInputError, match=r"unknown parameter\(s\) \['quue'\]; OODD takes"):
        neglabel.OODD(model, labels_file, corpus=nowhere, quue=5)
    with pytest.raises(TypeError, match="adaneg_batch"):
        neglabel.AdaNeg(model, labels_file, corpus=nowhere, batch="many")
    with pytest.raises(neglabel.InvalidInputError, match="oodd"):
        neglabel.OODD(model, labels_file, corpus=nowhere, k=0)


def test_evaluate_takes_the_classes_parameter_names():
    # OODD(k=5) and AdaNeg(lambda_=0.2) spell them so; evaluate wanted
    # method_params={"oodd": {"oodd_k": 5}} only
    assert neglabel._eval._long_names("oodd", {"k": 5, "queue": 9}) == {"oodd_k": 5, "oodd_queue": 9}
    assert neglabel._eval._long_names("adaneg", {"lambda_": 0.2, "sample_adaptive": 1, "ngroup": 3}) == \
        {"adaneg_lambda": 0.2, "adaneg_sample_adaptive": 1, "ngroup": 3}
    assert neglabel._eval._long_names("oodd", {"oodd_k": 5}) == {"oodd_k": 5}
    with pytest.raises(neglabel.InvalidInputError, match="given twice"):
        neglabel._eval._long_names("oodd", {"k": 5, "oodd_k": 6})


def test_unknown_score_parameter_lists_the_known_ones(tiny, labels_file, tmp_path):
    with pytest.raises(neglabel.InvalidInputError, match=r"unknown score parameter 'queue_size' \(known: .*oodd_queue"):
        neglabel.evaluate(tiny, labels_file, [str(tmp_path / "a.jpg")], {"x": [str(tmp_path / "b.jpg")]},
                          methods=["oodd"], method_params={"oodd": {"queue_size": 3}})


def test_argument_errors_are_neglabel_errors(tiny):
    # a plain ValueError escaped `except neglabel.Error`
    with pytest.raises(neglabel.InvalidInputError, match="threads"):
        neglabel.Model(tiny, device="cpu", threads=-1)


def test_an_error_names_the_callers_image_index(model, shared):
    p = _img(shared, "dog.jpg")
    bad = np.zeros((0, 5, 3), np.uint8)
    # paths and arrays go to the library as two lists: it numbered the bad
    # array 0, its place among the arrays
    for images, k in (([p, p, bad], 2), ([np.zeros((8, 8, 3), np.uint8), p, bad], 2), ([p, bad, p], 1)):
        with pytest.raises(neglabel.InvalidInputError, match=rf"^image {k}: "):
            model.embed_images(images)


def test_paths_in_a_numpy_column_and_array_likes(model, negatives_ref, shared):
    paths = [_img(shared, "dog.jpg"), _img(shared, "kite.jpg")]
    want = model.embed_images(paths)
    # df["path"].to_numpy(): an object array; np.array(paths): a str array
    for col in (np.array(paths, dtype=object), np.array(paths)):
        assert np.array_equal(model.embed_images(col), want)
    assert np.array_equal(negatives_ref.score(np.array(paths, dtype=object)), negatives_ref.score(paths))
    from PIL import Image

    img = np.asarray(Image.open(paths[0]).convert("RGB"))
    one = model.embed_images(img)

    class ArrayLike:  # as a tensor: __array__, and iteration over rows
        def __init__(self, a):
            self.a = a

        def __array__(self, dtype=None, copy=None):
            return self.a

        def __iter__(self):
            return iter(self.a)

        def __len__(self):
            return len(self.a)

    assert np.array_equal(model.embed_images(ArrayLike(img)), one)
    assert np.array_equal(model.embed_images(memoryview(img)), one)


def test_unreadable_image_hint_is_pythons(negatives_ref, tmp_path):
    missing = str(tmp_path / "nope.jpg")
    with pytest.raises(neglabel.FileError) as e:
        negatives_ref.score([missing])
    assert "skip_unreadable=True" in str(e.value) and "--strict" not in str(e.value)
    assert os.path.basename(missing) in str(e.value)


def test_mcm_takes_templates_as_the_other_scorers(model, labels_file):
    # MCM(template=) took one string where NegLabel, CSP and mine take templates=
    t = "a blurry photo of a {}."
    one = neglabel.MCM(model, labels_file, templates=t)
    assert np.array_equal(one.id_embeddings, neglabel.MCM(model, labels_file, template=t).id_embeddings)
    assert np.array_equal(one.id_embeddings, neglabel.MCM(model, labels_file, templates=[t]).id_embeddings)
    assert not np.array_equal(one.id_embeddings, neglabel.MCM(model, labels_file).id_embeddings)
    # an ensemble: the normalised mean of the normalised prompt embeddings
    two = neglabel.MCM(model, labels_file, templates=[t, "a photo of a {}."]).id_embeddings
    labels = [l for l in open(labels_file).read().split("\n") if l]
    e = [model.embed_texts([s.format(l) for l in labels]) for s in (t, "a photo of a {}.")]
    mean = sum(x / np.linalg.norm(x, axis=1, keepdims=True) for x in e)
    assert np.allclose(two, mean / np.linalg.norm(mean, axis=1, keepdims=True), atol=1e-6)
    with pytest.raises(neglabel.InvalidInputError, match="not both"):
        neglabel.MCM(model, labels_file, templates=t, template=t)


def test_negatives_mined_here_take_categories(model, labels_file, mini_corpus, negatives_ref):
    # NegLabel(corpus=) could not choose categories (CSP and mine() could);
    # with negatives given, corpus/include/exclude were silently ignored
    plants = set(open(os.path.join(mini_corpus, "noun.plant.txt")).read().split("\n"))
    only = neglabel.NegLabel(model, labels_file, corpus=mini_corpus, include=["noun.plant"], ngroup=2)
    assert len(only.negatives) > 0 and set(only.negatives.words) <= plants
    want = neglabel.mine(model, labels_file, corpus=mini_corpus, include=["noun.plant"])
    assert only.negatives.words == want.words
    ex = neglabel.AdaNeg(model, labels_file, corpus=mini_corpus, exclude=["adj"])
    assert len(ex.negatives) > 0 and set(ex.negatives.pos) == {"noun"}
    assert "adj" in set(negatives_ref.negatives.pos)
    for cls, kw in ((neglabel.NegLabel, {"include": ["noun.plant"]}), (neglabel.OODD, {"corpus": mini_corpus}),
                    (neglabel.CSP, {"exclude": ["adj"]})):
        with pytest.raises(neglabel.InvalidInputError, match="used only to mine negatives, and negatives were given"):
            cls(model, labels_file, negatives_ref.negatives, **kw)


def test_embed_texts_names_a_nul_character(model):
    # tokenize() takes U+0000 (ftfy removes it); embed_texts said only
    # "texts: embedded null character"
    assert model.tokenize("a\0b") == model.tokenize("ab")
    with pytest.raises(neglabel.InvalidInputError, match=r"texts: entry 2 holds a NUL character \(U\+0000\)"):
        model.embed_texts(["ok", "a\0b"])
