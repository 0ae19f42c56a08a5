"""mine, Negatives, NegLabel, MCM, metrics and evaluate against the CLI's
mine, score, score-embeddings, metrics and eval on the same inputs."""
import csv
import io
import json
import os
import random

import numpy as np
import pytest

import neglabel

TOL = 1e-12


def score_csv(text):
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def negatives_file(cli, tiny, labels_file, mini_corpus, tmp_path_factory):
    p = tmp_path_factory.mktemp("neg") / "neg.tsv"
    cli("mine", "--model", tiny, "--id-labels", labels_file, "--lists", mini_corpus, "-o", p)
    return str(p)


@pytest.fixture(scope="module")
def labels(labels_file):
    return open(labels_file).read().split()


# ------------------------------------------------------------------ mine


def test_mine_matches_cli(model, labels_file, labels, mini_corpus, negatives_file, tmp_path):
    neg = neglabel.mine(model, labels_file, corpus=mini_corpus)
    neg.save(tmp_path / "py.tsv")
    assert (tmp_path / "py.tsv").read_bytes() == open(negatives_file, "rb").read()
    # a list of labels is the same as the file
    neg2 = neglabel.mine(model, labels, corpus=mini_corpus)
    assert neg2.words == neg.words and np.array_equal(neg2.similarities, neg.similarities)
    assert set(neg.pos) == {"noun", "adj"} and neg.pos.index("adj") == neg.pos.count("noun")
    assert neg.model == model.fingerprint and neg.dim == model.dim
    assert neg.noun_templates == ["the nice {}"] and neg.adj_templates == ["This is a {} photo"]
    assert all(p == f"the nice {w}" for w, p, s in zip(neg.words, neg.prompts, neg.pos) if s == "noun")
    nouns = neg.similarities[: neg.pos.count("noun")]
    assert np.all(np.diff(nouns) >= 0)  # ascending within a part of speech


@pytest.mark.parametrize("opts", [
    dict(total=60),
    dict(fraction=0.3, quantile=0.5),
    dict(templates=["the nice {}", "a photo of the {}"], adj_templates="This is a very {} photo"),
    dict(remove_id_labels=True, include=["noun.artifact", "adj"]),
])
def test_mine_options_match_cli(cli, tiny, model, labels_file, mini_corpus, tmp_path, opts):
    args = ["mine", "--model", tiny, "--id-labels", labels_file, "--lists", mini_corpus, "-o", tmp_path / "cli.tsv"]
    flags = {"total": "--total", "fraction": "--fraction", "quantile": "--quantile", "include": "--include",
             "templates": "--template", "adj_templates": "--adj-template"}
    for k, v in opts.items():
        if k == "remove_id_labels":
            args.append("--remove-id-labels")
            continue
        for x in (v if isinstance(v, list) else [v]):
            args += [flags[k], x]
    cli(*args)
    neglabel.mine(model, labels_file, corpus=mini_corpus, **opts).save(tmp_path / "py.tsv")
    assert (tmp_path / "py.tsv").read_bytes() == (tmp_path / "cli.tsv").read_bytes()


def test_mine_wordnet_matches_cli(cli, tiny, model, labels_file, tmp_path):
    """The default corpus (Debian's WordNet) and an explicit database folder
    (two small categories keep it quick)."""
    from conftest import need

    need(os.path.isfile("/usr/share/wordnet/data.noun"), "WordNet is not installed (apt-get install wordnet-base)")
    cli("mine", "--model", tiny, "--id-labels", labels_file, "--include", "noun.shape", "--include", "adj.ppl",
        "-o", tmp_path / "cli.tsv")
    neglabel.mine(model, labels_file, include=["noun.shape", "adj.ppl"]).save(tmp_path / "py.tsv")
    assert (tmp_path / "py.tsv").read_bytes() == (tmp_path / "cli.tsv").read_bytes()
    neglabel.mine(model, labels_file, corpus="/usr/share/wordnet", include=["noun.shape", "adj.ppl"]).save(
        tmp_path / "py2.tsv")
    assert (tmp_path / "py2.tsv").read_bytes() == (tmp_path / "cli.tsv").read_bytes()


@pytest.mark.parametrize("call", ["mine", "NegLabel", "CSP"])
@pytest.mark.parametrize("bad", ["category", "folder"])
def test_bad_corpus_fails_before_the_id_labels_are_embedded(model, labels_file, mini_corpus, tmp_path, call, bad):
    """A misspelt category or a missing corpus folder is refused before any
    prompt is embedded (nl_corpus_check): nothing reaches the cache."""
    cache = tmp_path / "cache"
    corpus, opts = mini_corpus, {}
    if bad == "folder":
        corpus = tmp_path / "no-such-corpus"
    elif call == "NegLabel":  # NegLabel takes no include/exclude: a folder with no lists
        corpus = tmp_path / "empty"
        corpus.mkdir()
    else:
        opts = {"exclude": ["noun.artifcat"]}
    make = {"mine": neglabel.mine, "NegLabel": neglabel.NegLabel, "CSP": neglabel.CSP}[call]
    with pytest.raises(neglabel.Error) as e:
        make(model, labels_file, corpus=corpus, cache_dir=cache, **opts)
    assert str(corpus) in str(e.value) or "noun.artifcat" in str(e.value), str(e.value)
    assert not cache.exists() or not any(cache.iterdir()), sorted(p.name for p in cache.iterdir())
    # the same call with a good corpus does fill the cache (the check above can fail)
    make(model, labels_file, corpus=mini_corpus, cache_dir=cache)
    assert any(cache.iterdir())


# ------------------------------------------------------------------ Negatives


def test_negatives_round_trip(model, labels, mini_corpus, negatives_file, tmp_path):
    neg = neglabel.Negatives.load(negatives_file)
    assert neg.path == negatives_file
    mined = neglabel.mine(model, labels, corpus=mini_corpus)
    assert neg.words == mined.words and neg.pos == mined.pos and neg.prompts == mined.prompts
    assert neg.model == mined.model and neg.dim == mined.dim
    assert neg.noun_templates == mined.noun_templates and neg.adj_templates == mined.adj_templates
    assert np.max(np.abs(neg.similarities - mined.similarities)) <= 5e-9  # files keep 8 decimals
    neg.save(tmp_path / "again.tsv")
    assert (tmp_path / "again.tsv").read_bytes() == open(negatives_file, "rb").read()
    again = neglabel.Negatives.load(tmp_path / "again.tsv")
    assert again.words == neg.words and np.array_equal(again.similarities, neg.similarities)
    # built by hand, without similarities
    hand = neglabel.Negatives(["tuba", "salty"], ["noun", "adj"], ["the nice tuba", "This is a salty photo"])
    hand.save(tmp_path / "hand.tsv")
    back = neglabel.Negatives.load(tmp_path / "hand.tsv")
    assert back.words == hand.words and back.pos == hand.pos and back.similarities is None
    assert "2 labels" in repr(back)


def test_plain_prompt_list(cli, tiny, model, labels_file, cat_images, tmp_path):
    """A plain list of prompts (like the authors' selected-label file)."""
    p = tmp_path / "plain.txt"
    p.write_text("the nice tuba\nThis is a salty photo\nthe nice anvil\nthe nice fern\n")
    neg = neglabel.Negatives.load(p)
    assert neg.words == neg.prompts == p.read_text().splitlines()
    assert neg.pos == ["noun"] * 4 and neg.similarities is None and neg.model is None and neg.dim == 0
    want = score_csv(cli("score", "--model", tiny, "--id-labels", labels_file, "--negatives", p, "--ngroup", 2,
                         *cat_images))
    s, top_id, top_neg = neglabel.NegLabel(model, labels_file, str(p), ngroup=2).score(cat_images,
                                                                                    return_labels=True)
    assert ["%.17g" % v for v in s] == [r["score"] for r in want]
    assert top_neg == [r["top_negative_label"] for r in want]


# ------------------------------------------------------------------ scoring


@pytest.mark.parametrize("opts,flags", [
    (dict(ngroup=10), ["--ngroup", 10]),
    (dict(ngroup=7, seed=12345, tau=0.02), ["--ngroup", 7, "--seed", 12345, "--tau", 0.02]),
    (dict(ngroup=3, shuffle=False), ["--ngroup", 3, "--no-shuffle"]),
    (dict(ngroup=1), ["--ngroup", 1]),
])
def test_neglabel_score_matches_cli(cli, tiny, model, labels_file, negatives_file, cat_images, opts, flags):
    want = score_csv(cli("score", "--model", tiny, "--id-labels", labels_file, "--negatives", negatives_file,
                         *flags, *cat_images))
    det = neglabel.NegLabel(model, labels_file, negatives_file, **opts)
    s, top_id, top_neg = det.score(cat_images, return_labels=True)
    assert s.dtype == np.float64 and s.shape == (len(cat_images),)
    assert [r["path"] for r in want] == cat_images
    # the CSV keeps every digit (%.17g): the same double
    assert ["%.17g" % v for v in s] == [r["score"] for r in want]
    assert np.allclose(s, [float(r["score"]) for r in want], rtol=1e-8, atol=0)
    assert top_id == [r["top_id_label"] for r in want]
    assert top_neg == [r["top_negative_label"] for r in want]
    assert np.array_equal(det.score(cat_images), s)


def test_negatives_templates_used_for_id_labels(cli, tiny, model, labels_file, mini_corpus, cat_images, tmp_path):
    # mined with another template: the ID labels are embedded with it, as the
    # CLI's score does (before: with the default, whatever the file said)
    p = tmp_path / "negT.tsv"
    cli("mine", "--model", tiny, "--id-labels", labels_file, "--lists", mini_corpus, "--template", "a photo of a {}",
        "-o", p)
    want = score_csv(cli("score", "--model", tiny, "--id-labels", labels_file, "--negatives", p, "--ngroup", 4,
                         *cat_images))
    s = neglabel.NegLabel(model, labels_file, str(p), ngroup=4).score(cat_images)
    assert ["%.17g" % v for v in s] == [r["score"] for r in want]
    given = neglabel.NegLabel(model, labels_file, neglabel.Negatives.load(p), ngroup=4,
                              templates="a photo of a {}").score(cat_images)
    assert np.array_equal(s, given)
    default = neglabel.NegLabel(model, labels_file, neglabel.Negatives.load(p), ngroup=4)
    assert default.id_embeddings.shape[0] == len(open(labels_file).read().split())
    with pytest.raises(neglabel.InvalidInputError, match="mined with the template 'a photo of a {}'"):
        neglabel.NegLabel(model, labels_file, str(p), templates="the nice {}")
    # evaluate: the same rule
    ids, ood = cat_images[:3], cat_images[3:]
    r1 = neglabel.evaluate(model, labels_file, id=ids, ood={"o": ood}, negatives=str(p), ngroup=4,
                           methods=["neglabel"], out_dir=tmp_path / "e1")
    r2 = neglabel.evaluate(model, labels_file, id=ids, ood={"o": ood}, negatives=str(p), ngroup=4,
                           methods=["neglabel"], templates="a photo of a {}", out_dir=tmp_path / "e2")
    assert (tmp_path / "e1" / "scores.csv").read_bytes() == (tmp_path / "e2" / "scores.csv").read_bytes()
    with pytest.raises(neglabel.InvalidInputError, match="mined with the template"):
        neglabel.evaluate(model, labels_file, id=ids, ood={"o": ood}, negatives=str(p), ngroup=4,
                          methods=["neglabel"], templates="the nice {}", out_dir=tmp_path / "e3")


def test_score_arrays_and_pil(cli, tiny, model, labels_file, negatives_file, images, tmp_path):
    """Arrays and PIL images score as their PNG files do through the CLI."""
    from PIL import Image

    arrays, pngs = [], []
    for k, p in enumerate(images[:8]):
        a = np.asarray(Image.open(p).convert("RGB"))
        big = np.zeros((a.shape[0] + 2, a.shape[1] + 5, 3), np.uint8)
        big[1:-1, 2:-3] = a
        arrays.append(big[1:-1, 2:-3])  # a strided view
        Image.fromarray(a).save(tmp_path / f"{k}.png")
        pngs.append(str(tmp_path / f"{k}.png"))
    want = score_csv(cli("score", "--model", tiny, "--id-labels", labels_file, "--negatives", negatives_file,
                         "--ngroup", 5, *pngs))
    det = neglabel.NegLabel(model, labels_file, negatives_file, ngroup=5)
    s_arr = det.score(arrays)
    s_pil = det.score([Image.open(p) for p in pngs])
    s_path = det.score(pngs)
    assert np.array_equal(s_arr, s_path) and np.array_equal(s_pil, s_path)
    assert ["%.17g" % v for v in s_arr] == [r["score"] for r in want]
    # mixed: files and decoded images embedded as two calls (the library's
    # embeddings may depend on how images are batched), scored as one
    mixed = det.score([pngs[0], arrays[1], Image.open(pngs[2])])
    files = model._embed_normalized([pngs[0]], "model", None, False)[0]
    decoded = model._embed_normalized([arrays[1], arrays[2]], "model", None, False)[0]
    assert np.array_equal(mixed, det.score_embeddings(np.concatenate([files, decoded])))
    assert np.allclose(mixed, s_path[:3], rtol=1e-5)


def test_score_embeddings_matches_cli(cli, model, labels_file, negatives_file, cat_images, tmp_path):
    det = neglabel.NegLabel(model, labels_file, negatives_file, ngroup=10)
    raw = model.embed_images(cat_images)  # not normalised: nl_score takes any scale
    np.save(tmp_path / "id.npy", det.id_embeddings)
    np.save(tmp_path / "neg.npy", det.neg_embeddings)
    np.save(tmp_path / "img.npy", raw)
    out = cli("score-embeddings", "--id", tmp_path / "id.npy", "--neg", tmp_path / "neg.npy", "--images",
              tmp_path / "img.npy", "--ngroup", 10)
    want = np.array([float(x) for x in out.split()])
    got = det.score_embeddings(raw)
    assert np.max(np.abs(got - want)) <= TOL
    assert np.array_equal(got, want)  # %.17g round-trips double
    # the label embeddings are the CLI's (normalised)
    assert np.allclose(np.linalg.norm(det.id_embeddings, axis=1), 1, atol=1e-6)
    assert det.neg_embeddings.shape == (len(det.negatives), model.dim)
    s, top_id, top_neg = det.score_embeddings(raw.astype(np.float64), return_labels=True)
    assert np.array_equal(s, got) and all(t in det.labels for t in top_id)
    one = det.score_embeddings(raw[0])
    assert one.shape == (1,) and one[0] == got[0]


def test_permutation_matches_cli(cli, model, labels_file, negatives_file, cat_images, tmp_path):
    """permutation= is the CLI's --permutation (torch.randperm / NumPy's
    legacy permutation, checked against torch and NumPy in
    tests/test_randperm.c and tests/test_score_perm.c)."""
    raw = model.embed_images(cat_images)
    base = neglabel.NegLabel(model, labels_file, negatives_file, ngroup=3, seed=5)
    np.save(tmp_path / "id.npy", base.id_embeddings)
    np.save(tmp_path / "neg.npy", base.neg_embeddings)
    np.save(tmp_path / "img.npy", raw)
    got = {}
    for perm in ("splitmix", "torch", "numpy"):
        det = neglabel.NegLabel(model, labels_file, negatives_file, ngroup=3, seed=5, permutation=perm)
        out = cli("score-embeddings", "--id", tmp_path / "id.npy", "--neg", tmp_path / "neg.npy", "--images",
                  tmp_path / "img.npy", "--ngroup", 3, "--seed", 5, "--permutation", perm)
        got[perm] = det.score_embeddings(raw)
        assert np.array_equal(got[perm], np.array([float(x) for x in out.split()]))
    assert np.array_equal(got["splitmix"], base.score_embeddings(raw))  # the default
    with pytest.raises(ValueError, match="permutation"):
        neglabel.NegLabel(model, labels_file, negatives_file, permutation="shuffle")
    with pytest.raises(ValueError, match="2\\*\\*32"):
        neglabel.NegLabel(model, labels_file, negatives_file, seed=2 ** 32, permutation="numpy")


def test_mcm_matches_cli(cli, tiny, model, labels_file, cat_images, tmp_path):
    want = score_csv(cli("score", "--model", tiny, "--id-labels", labels_file, "--method", "mcm", *cat_images))
    mcm = neglabel.MCM(model, labels_file)
    s, top_id = mcm.score(cat_images, return_labels=True)
    assert ["%.17g" % v for v in s] == [r["score"] for r in want]
    assert top_id == [r["top_id_label"] for r in want]
    # prompts "a photo of a {}"
    assert np.array_equal(mcm.id_embeddings, model._embed_words(mcm.labels, ["a photo of a {}"], None))
    raw = model.embed_images(cat_images)
    np.save(tmp_path / "id.npy", mcm.id_embeddings)
    np.save(tmp_path / "img.npy", raw)
    for tau in (1.0, 0.05):
        out = cli("score-embeddings", "--method", "mcm", "--tau", tau, "--id", tmp_path / "id.npy", "--images",
                  tmp_path / "img.npy")
        want2 = np.array([float(x) for x in out.split()])
        assert np.max(np.abs(neglabel.MCM(model, labels_file, tau=tau).score_embeddings(raw) - want2)) <= TOL
    want3 = score_csv(cli("score", "--model", tiny, "--id-labels", labels_file, "--method", "mcm", "--tau", 0.05,
                          *cat_images))
    assert ["%.17g" % v for v in neglabel.MCM(model, labels_file, tau=0.05).score(cat_images)] == \
        [r["score"] for r in want3]


def test_neglabel_mines_when_no_negatives(model, labels_file, mini_corpus, cat_images, negatives_file):
    det = neglabel.NegLabel(model, labels_file, corpus=mini_corpus, ngroup=10)
    ref = neglabel.NegLabel(model, labels_file, negatives_file, ngroup=10)
    assert det.negatives.words == ref.negatives.words
    assert np.array_equal(det.score(cat_images), ref.score(cat_images))
    given = neglabel.NegLabel(model, labels_file, neglabel.Negatives.load(negatives_file), ngroup=10)
    assert np.array_equal(given.score(cat_images), ref.score(cat_images))


def test_skip_unreadable(model, labels_file, negatives_file, cat_images, tmp_path, caplog):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    det = neglabel.NegLabel(model, labels_file, negatives_file, ngroup=10)
    ref = det.score(cat_images[:3])
    with pytest.raises(neglabel.Error, match="broken.jpg"):
        det.score([cat_images[0], str(bad)])
    s, top_id, top_neg = det.score([cat_images[0], str(bad), cat_images[1], cat_images[2]], skip_unreadable=True,
                                   return_labels=True)
    assert np.isnan(s[1]) and top_id[1] is None and top_neg[1] is None
    assert np.array_equal(s[[0, 2, 3]], ref)
    assert any("broken.jpg" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------ metrics


@pytest.mark.parametrize("convention", ["neglabel", "openood"])
def test_metrics_match_cli(cli, tmp_path, convention):
    rng = random.Random(7)
    for case in range(4):
        n_id, n_ood = rng.randint(1, 60), rng.randint(1, 60)
        if case == 0:  # ties
            a = [rng.choice([0.1, 0.2, 0.3]) for _ in range(n_id)]
            b = [rng.choice([0.1, 0.2, 0.3]) for _ in range(n_ood)]
        else:
            a = [rng.gauss(0.3 * case, 1) for _ in range(n_id)]
            b = [rng.gauss(0, 1) for _ in range(n_ood)]
        (tmp_path / "a.txt").write_text("".join("%.17g\n" % x for x in a))
        (tmp_path / "b.txt").write_text("".join("%.17g\n" % x for x in b))
        want = json.loads(cli("metrics", "--id-scores", tmp_path / "a.txt", "--ood-scores", tmp_path / "b.txt",
                              "--convention", convention))
        got = neglabel.metrics(np.array(a), b, convention=convention)
        assert set(got) == {"auroc", "aupr_in", "aupr_out", "fpr95"}
        for k, v in got.items():
            assert abs(v - want[k]) <= TOL, (case, k, v, want[k])
        # score files, as the CLI reads them: the same figures exactly
        assert neglabel.metrics(tmp_path / "a.txt", str(tmp_path / "b.txt"), convention=convention) == \
            neglabel.metrics(np.array(a), np.array(b), convention=convention)


def test_read_scores(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text('path,score,top_id_label,top_negative_label\n"a,\nb.jpg",0.25,cat,rock\nc.jpg,-1.5,dog,\n')
    got = neglabel.read_scores(f)
    assert got.dtype == np.float64 and got.tolist() == [0.25, -1.5]
    f.write_text("set,mcm\nID,0.5\nID,1e-3\n")
    assert neglabel.read_scores(str(f), column="mcm").tolist() == [0.5, 1e-3]
    assert neglabel.metrics(f, f, column="mcm")["auroc"] == 0.5
    with pytest.raises(neglabel.InvalidInputError, match=r"s.csv: line 1: the header has no column 'score'"):
        neglabel.read_scores(f)
    with pytest.raises(neglabel.FileError, match="missing.txt"):
        neglabel.read_scores(tmp_path / "missing.txt")


# ------------------------------------------------------------------ evaluate


@pytest.fixture(scope="module")
def eval_sets(cifar, tmp_path_factory):
    d = tmp_path_factory.mktemp("evalsets")
    ls = lambda c, n: sorted(str(p) for p in (cifar / c).iterdir())[:n]
    ids = ls("airplane", 10) + ls("automobile", 10) + ls("bird", 10)
    (d / "id.lst").write_text("".join(p + "\n" for p in ids))
    animals = ls("frog", 10) + ls("horse", 10)
    (d / "animals.lst").write_text("".join(p + "\n" for p in animals))
    ships = d / "ships"
    ships.mkdir()
    for p in ls("ship", 15):
        os.symlink(p, ships / os.path.basename(p))
    (d / "id_labels.txt").write_text("airplane\nautomobile\nbird\n")
    return dict(dir=d, ids=ids, animals=animals, ships=str(ships), id_lst=str(d / "id.lst"),
                animals_lst=str(d / "animals.lst"), labels=str(d / "id_labels.txt"))


def compare_eval(got, want):
    assert got["id"] == {"name": want["id"]["name"], "n_images": want["id"]["n"]}
    assert list(got["ood"]) == [s["name"] for s in want["ood"]]
    for s in want["ood"]:
        g = got["ood"][s["name"]]
        assert g["n_images"] == s["n"]
        for method in got["methods"]:
            for k in ("auroc", "aupr_in", "aupr_out", "fpr95"):
                assert abs(g[method][k] - s[method][k]) <= TOL, (s["name"], method, k)
        assert g["best"] == s["best"]
    assert got["methods"] == [m["name"] for m in want["params"]["methods"]]
    for method in got["methods"]:
        for k in ("auroc", "aupr_in", "aupr_out", "fpr95"):
            assert abs(got["average"][method][k] - want["average"][method][k]) <= TOL
    assert got["average"]["best"] == want["average"]["best"]
    assert got["n_id_labels"] == want["params"]["n_id_labels"]
    assert got["n_negatives"] == want["params"]["n_negatives"]
    assert got["n_skipped"] == want["skipped"]["count"]
    assert got["convention"] == want["params"]["fpr95_convention"]


@pytest.mark.parametrize("convention", ["neglabel", "openood"])
def test_evaluate_matches_cli(cli, tiny, model, mini_corpus, eval_sets, tmp_path, convention):
    e = eval_sets
    cli("eval", "--model", tiny, "--id-labels", e["labels"], "--lists", mini_corpus, "--id", e["id_lst"],
        "--ood", f"animals={e['animals_lst']}", "--ood", f"ships={e['ships']}", "--ngroup", 5,
        "--convention", convention, "--out", tmp_path / "cli")
    want = json.loads((tmp_path / "cli" / "results.json").read_text())
    got = neglabel.evaluate(model=tiny, id_labels=e["labels"], id=e["id_lst"],
                            ood={"animals": e["animals_lst"], "ships": e["ships"]}, out_dir=tmp_path / "py",
                            corpus=mini_corpus, ngroup=5, convention=convention, device="cpu")
    compare_eval(got, want)
    assert (tmp_path / "py" / "scores.csv").read_bytes() == (tmp_path / "cli" / "scores.csv").read_bytes()
    assert (tmp_path / "py" / "negatives.tsv").read_bytes() == (tmp_path / "cli" / "negatives.tsv").read_bytes()
    assert (tmp_path / "py" / "report.html").is_file()
    if convention == "openood":
        return
    # lists of paths, a list of labels, a Model and given negatives: the same numbers, no files
    got2 = neglabel.evaluate(model, ["airplane", "automobile", "bird"], e["ids"],
                             {"animals": e["animals"], "ships": e["ships"]},
                             negatives=neglabel.Negatives.load(tmp_path / "cli" / "negatives.tsv"), ngroup=5)
    compare_eval(got2, want)
    # NegLabel.score on the ID images = eval's scores, to the agreement the
    # CLI's own score and eval commands have (tests/cli_pipeline.sh: 1e-8)
    rows = list(csv.DictReader(open(tmp_path / "cli" / "scores.csv")))
    ids = [r for r in rows if r["set"] == "ID"]
    by_path = {r["path"]: float(r["neglabel"]) for r in ids}
    det = neglabel.NegLabel(model, e["labels"], str(tmp_path / "cli" / "negatives.tsv"), ngroup=5)
    assert np.allclose(det.score(e["ids"]), [by_path[p] for p in e["ids"]], rtol=1e-8, atol=0)
    mcm = {r["path"]: float(r["mcm"]) for r in ids}
    assert np.allclose(neglabel.MCM(model, e["labels"]).score(e["ids"]), [mcm[p] for p in e["ids"]], rtol=1e-8,
                       atol=0)
    # eval's metrics are neglabel.metrics of its scores (scores.csv keeps 17 digits)
    for k, s in enumerate(want["ood"]):
        ood = [float(r["neglabel"]) for r in rows if r["set"] == s["name"]]
        m = neglabel.metrics([float(r["neglabel"]) for r in ids], ood)
        for key in m:
            assert abs(m[key] - s["neglabel"][key]) <= TOL


STREAM_OPTS = ("--adaneg-batch", 16, "--adaneg-memory", 4, "--oodd-batch", 8, "--oodd-queue", 24, "--oodd-k", 3)
STREAM_PARAMS = {"adaneg": {"adaneg_batch": 16, "adaneg_memory": 4}, "oodd": {"oodd_batch": 8, "oodd_queue": 24,
                                                                                 "oodd_k": 3}}


def test_evaluate_all_methods_matches_cli(cli, tiny, mini_corpus, eval_sets, tmp_path):
    """evaluate(methods="all") is `eval --method all`: every method's metrics,
    the best, scores.csv (streams included) and CSP's negatives, byte for byte."""
    e = eval_sets
    cli("eval", "--model", tiny, "--id-labels", e["labels"], "--lists", mini_corpus, "--id", e["id_lst"],
        "--ood", f"animals={e['animals_lst']}", "--ood", f"ships={e['ships']}", "--method", "all",
        "--ngroup", 5, *STREAM_OPTS, "--out", tmp_path / "cli")
    want = json.loads((tmp_path / "cli" / "results.json").read_text())
    params = {m: dict(STREAM_PARAMS.get(m, {}), ngroup=5) for m in neglabel.METHODS if m != "mcm"}
    got = neglabel.evaluate(model=tiny, id_labels=e["labels"], id=e["id_lst"],
                            ood={"animals": e["animals_lst"], "ships": e["ships"]}, out_dir=tmp_path / "py",
                            corpus=mini_corpus, ngroup=5, device="cpu", methods="all", method_params=params)
    assert got["methods"] == list(neglabel.METHODS)
    compare_eval(got, want)
    for f in ("scores.csv", "negatives.tsv", "negatives-csp.tsv"):
        assert (tmp_path / "py" / f).read_bytes() == (tmp_path / "cli" / f).read_bytes(), f
    with pytest.raises(neglabel.InvalidInputError, match="unknown method"):
        neglabel.evaluate(tiny, e["labels"], e["id_lst"], {"a": e["animals_lst"]}, methods=["nope"])
    with pytest.raises(ValueError, match="unknown score parameter"):
        neglabel.evaluate(tiny, e["labels"], e["id_lst"], {"a": e["animals_lst"]}, corpus=mini_corpus,
                          methods=["oodd"], method_params={"oodd": {"queue_size": 3}})


@pytest.mark.parametrize("cls,method", [(neglabel.AdaNeg, "adaneg"), (neglabel.OODD, "oodd")])
def test_stream_scorers_match_cli(cli, model, labels_file, negatives_ref, tmp_path, cls, method):
    """AdaNeg/OODD.score_embeddings on a stream = `score-embeddings --method`
    on the same rows in the same order (the library's scores, 17 digits)."""
    rng = np.random.default_rng(7)
    img = rng.standard_normal((70, model.dim)).astype(np.float32)
    kw = {k.split("_", 1)[1]: v for k, v in STREAM_PARAMS[method].items()}
    det = cls(model, labels_file, negatives_ref.negatives, **kw)
    np.save(tmp_path / "id.npy", det.id_embeddings)
    np.save(tmp_path / "neg.npy", det.neg_embeddings)
    np.save(tmp_path / "img.npy", img)
    opts = [a for k, v in STREAM_PARAMS[method].items() for a in ("--" + k.replace("_", "-"), v)]
    out = cli("score-embeddings", "--method", method, *opts, "--id", tmp_path / "id.npy", "--neg",
              tmp_path / "neg.npy", "--images", tmp_path / "img.npy")
    want = np.array([float(x) for x in out.split()])
    got = det.score_embeddings(img)
    assert got.shape == (70,) and np.array_equal(got, want)
    if method == "oodd":  # a stream: the queue depends on the order
        assert not np.array_equal(det.score_embeddings(img[::-1])[::-1], got)
    with pytest.raises(neglabel.InvalidInputError, match="unknown parameter"):
        cls(model, labels_file, negatives_ref.negatives, bogus=1)


def test_score_pixels_equals_score(model, labels_file, negatives_ref, cat_images):
    """score_pixels of Model.preprocess's pixels = score of the same files,
    bit for bit (labels too), for an order-free and a stream method and MCM."""
    px = model.preprocess(cat_images)
    for det in (negatives_ref, neglabel.AdaNeg(model, labels_file, negatives_ref.negatives, batch=4),
                neglabel.MCM(model, labels_file)):
        want = det.score(cat_images, return_labels=True)
        got = det.score_pixels(px, return_labels=True)
        assert np.array_equal(got[0], want[0]) and list(got[1:]) == list(want[1:]), type(det).__name__
        assert np.array_equal(det.score_pixels(px[:3]), det.score(cat_images[:3]))


def test_scorer_repr(model, labels_file, negatives_ref):
    """A scorer's repr says what it scores with (before: <... object at 0x...>)."""
    n = len(negatives_ref.negatives)
    assert repr(negatives_ref) == (f"neglabel.NegLabel({model!r}, id_labels=10, negatives={n}, ngroup=10, "
                                   "tau=0.01, seed=0, shuffle=True, permutation='splitmix')")
    ada = neglabel.AdaNeg(model, labels_file, negatives_ref.negatives, memory=7)
    assert repr(ada).startswith(f"neglabel.AdaNeg({model!r}, id_labels=10, negatives={n}, ngroup=5, ")
    assert "permutation='torch', batch=256, memory=7, " in repr(ada)
    assert repr(neglabel.MCM(model, ["cat", "dog"])) == f"neglabel.MCM({model!r}, id_labels=2, tau=1.0)"


def test_csp_scorer_matches_cli(cli, tiny, model, labels_file, mini_corpus, cat_images, tmp_path):
    """neglabel.CSP mines as `mine --method csp` (the same file) and scores as
    `score --method csp` (to the CLI's 9 printed digits)."""
    det = neglabel.CSP(model, labels_file, corpus=mini_corpus)
    cli("mine", "--model", tiny, "--id-labels", labels_file, "--lists", mini_corpus, "--method", "csp", "-o",
        tmp_path / "csp.tsv")
    det.negatives.save(tmp_path / "py.tsv")
    assert (tmp_path / "py.tsv").read_bytes() == (tmp_path / "csp.tsv").read_bytes()
    want = score_csv(cli("score", "--model", tiny, "--id-labels", labels_file, "--negatives", tmp_path / "csp.tsv",
                         "--method", "csp", *cat_images))
    got = det.score(cat_images)
    assert np.allclose(got, [float(w["score"]) for w in want], rtol=1e-8, atol=0)
    # not NegLabel's: other ID embeddings (raw ensembles of 8 templates) and negatives
    plain = neglabel.NegLabel(model, labels_file, corpus=mini_corpus)
    assert not np.allclose(plain.id_embeddings, det.id_embeddings)
    assert det.permutation == "torch"


def test_skip_unreadable_when_none_is_readable(model, labels_file, negatives_file, cat_images, tmp_path, caplog):
    """skip_unreadable: a batch whose files are all unreadable gets NaN
    scores too (it raised 'none of the 1 images could be read'), alone or
    beside arrays, for every scorer."""
    missing = str(tmp_path / "missing.jpg")
    arr = np.zeros((8, 8, 3), np.uint8)
    det = neglabel.NegLabel(model, labels_file, negatives_file, ngroup=10)
    s = det.score([missing], skip_unreadable=True)
    assert s.shape == (1,) and np.isnan(s[0])
    assert any("missing.jpg" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
    s, top_id, top_neg = det.score([missing, arr], skip_unreadable=True, return_labels=True)
    assert np.isnan(s[0]) and top_id[0] is None and top_neg[0] is None
    assert s[1] == det.score([arr])[0] and top_id[1] is not None
    assert np.isnan(neglabel.MCM(model, labels_file).score([missing], skip_unreadable=True)).all()
    assert np.isnan(neglabel.OODD(model, labels_file, negatives_file).score([missing, missing],
                                                                          skip_unreadable=True)).all()
    # readable files beside them: the same scores as before
    s = det.score([missing, cat_images[0], arr], skip_unreadable=True)
    assert np.isnan(s[0]) and s[1] == det.score([cat_images[0]])[0] and s[2] == det.score([arr])[0]
    with pytest.raises(neglabel.Error, match="missing.jpg"):
        det.score([missing])


def test_numpy_scalars_as_stream_parameters(model, labels_file, negatives_ref, cat_images, tmp_path):
    """NumPy integers and floats are taken wherever a Python int or float is
    (as NegLabel(ngroup=np.int64(3)) always was): AdaNeg/OODD parameters and
    evaluate's method_params raised TypeError."""
    neg = negatives_ref.negatives
    img = np.random.default_rng(3).standard_normal((40, model.dim)).astype(np.float32)
    a = neglabel.AdaNeg(model, labels_file, neg, batch=np.int64(16), memory=np.int32(4), thres=np.float32(0.25),
                        gap=np.float64(0.5), sample_adaptive=np.bool_(True))
    b = neglabel.AdaNeg(model, labels_file, neg, batch=16, memory=4, thres=float(np.float32(0.25)), gap=0.5,
                        sample_adaptive=True)
    assert np.array_equal(a.score_embeddings(img), b.score_embeddings(img))
    o = neglabel.OODD(model, labels_file, neg, k=np.int64(3), batch=np.uint8(8), queue=np.int16(24))
    assert np.array_equal(o.score_embeddings(img), neglabel.OODD(model, labels_file, neg, k=3, batch=8,
                                                                 queue=24).score_embeddings(img))
    with pytest.raises(TypeError, match="k: expected an integer"):
        neglabel.OODD(model, labels_file, neg, k=3.0)
    with pytest.raises(TypeError, match="adaneg_thres: expected a number, got str"):
        neglabel.AdaNeg(model, labels_file, neg, thres="0.4")
    with pytest.raises(ValueError, match="out of range"):
        neglabel.OODD(model, labels_file, neg, k=np.int64(2 ** 40))
    id_lst = tmp_path / "id.lst"
    id_lst.write_text("".join(p + "\n" for p in cat_images[:6]))
    ood_lst = tmp_path / "ood.lst"
    ood_lst.write_text("".join(p + "\n" for p in cat_images[6:12]))
    neg_path = tmp_path / "neg.tsv"
    neg.save(neg_path)
    runs = [neglabel.evaluate(model, labels_file, str(id_lst), {"o": str(ood_lst)}, negatives=neg_path,
                              methods=["oodd"], method_params={"oodd": p})
            for p in ({"oodd_k": np.int64(3), "oodd_batch": np.int32(4), "seed": np.uint64(5)},
                      {"oodd_k": 3, "oodd_batch": 4, "seed": 5})]
    assert runs[0]["ood"]["o"]["oodd"] == runs[1]["ood"]["o"]["oodd"]


def test_evaluate_examples_range(tiny, labels_file, tmp_path):
    """examples: 0-100 as the CLI's --examples; -1 and 10**6 were taken."""
    for bad in (-1, 101, 10 ** 6):
        with pytest.raises(neglabel.InvalidInputError, match="examples must be between 0 and 100"):
            neglabel.evaluate(tiny, labels_file, str(tmp_path), {"o": str(tmp_path)}, examples=bad)


def test_negatives_load_with_a_byte_order_mark(negatives_file, tmp_path):
    """A file starting with a UTF-8 BOM (an editor's save) keeps its
    similarities: the column was read back as None."""
    p = tmp_path / "bom.tsv"
    p.write_bytes(b"\xef\xbb\xbf" + open(negatives_file, "rb").read())
    want, got = neglabel.Negatives.load(negatives_file), neglabel.Negatives.load(p)
    assert got.words == want.words and got.model == want.model and got.dim == want.dim
    assert got.similarities is not None and np.array_equal(got.similarities, want.similarities)


def test_negatives_save_refuses_what_load_refuses(tmp_path):
    """No entries, or a negative dim: refused at save, not written for load
    to refuse ('no negative labels in the file')."""
    with pytest.raises(neglabel.InvalidInputError, match="no negative labels"):
        neglabel.Negatives([], [], []).save(tmp_path / "empty.tsv")
    assert not (tmp_path / "empty.tsv").exists()
    with pytest.raises(neglabel.InvalidInputError, match="dim"):
        neglabel.Negatives(["tuba"], ["noun"], ["the nice tuba"], dim=-1).save(tmp_path / "neg.tsv")
    assert not (tmp_path / "neg.tsv").exists()


def test_negatives_tuple_stub_matches(negatives_file):
    """_neglabel.pyi's _NegTuple has the arity of negatives_read's tuple
    (raw_mean last: 8), which Model.mine returns and negatives_write takes."""
    import ast
    import pathlib

    stub = pathlib.Path(__file__).resolve().parents[1] / "neglabel" / "_neglabel.pyi"
    tree = ast.parse(stub.read_text())
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "_NegTuple")
    arity = len(node.value.slice.elts)
    t = neglabel._neglabel.negatives_read(negatives_file)
    assert arity == len(t) == len(neglabel.Negatives.load(negatives_file)._tuple()) == 8
    assert isinstance(t[-1], int)


def test_extension_stub_signatures_match():
    """_neglabel.pyi against the extension: each function takes at most as
    many arguments as the stub lists, and where the extension refuses
    keywords (METH_VARARGS / METH_O: all but Model() and eval()) the stub
    makes them positional only, so a type checker does not accept a call
    (embed_texts(texts=..., out=...)) that fails at run time."""
    import ast
    import pathlib
    import re

    C = neglabel._neglabel
    stub = pathlib.Path(__file__).resolve().parents[1] / "neglabel" / "_neglabel.pyi"
    tree = ast.parse(stub.read_text())
    blank = C.Model.__new__(C.Model)  # no model: the arguments are parsed first
    defs = [(n, getattr(C, n.name)) for n in tree.body if isinstance(n, ast.FunctionDef)]
    for c in tree.body:
        if isinstance(c, ast.ClassDef) and c.name == "Model":
            defs += [(f, getattr(blank, f.name)) for f in c.body if isinstance(f, ast.FunctionDef)]
    assert len(defs) > 30
    for f, fn in defs:
        a = f.args
        named = [x.arg for x in a.args if x.arg != "self"]
        n_pos = len([x for x in a.posonlyargs + a.args if x.arg != "self"])
        with pytest.raises(TypeError) as e:
            fn(*([None] * 60))
        m = re.search(r"takes (?:exactly|at most) (\w+) argument|takes (no) arguments", str(e.value))
        assert m, (f.name, str(e.value))
        most = {"one": 1, "no": 0}.get(m.group(1) or m.group(2))
        most = int(m.group(1)) if most is None else most
        assert most == n_pos + len(a.kwonlyargs), (f.name, str(e.value), n_pos)
        with pytest.raises(TypeError) as e:
            fn(__not_an_argument__=1)
        if "takes no keyword arguments" in str(e.value):
            assert not named, f"{f.name}: the stub lets {named} be given by keyword; the extension refuses that"


def test_negatives_without_a_model_round_trip(model, tmp_path):
    """Negatives made in Python without a model fingerprint (model=None, as
    documented) embed with any model; saved, the file's header held an empty
    ``model=``, which load read back as the fingerprint '' and embedding then
    refused ("negatives were mined with model , but the model given is
    ..."). An empty fingerprint is no fingerprint, as nl_negatives_write
    writes one."""
    n = neglabel.Negatives(["rock", "tree"], ["noun", "noun"], ["a photo of a rock.", "a photo of a tree."])
    assert n.model is None
    p = tmp_path / "neg.tsv"
    n.save(p)
    back = neglabel.Negatives.load(p)
    assert back.model is None and back.words == n.words
    np.testing.assert_array_equal(back.embed(model), n.embed(model))
    s = neglabel.NegLabel(model, ["cat", "dog"], str(p), ngroup=1).score_embeddings(np.ones((1, model.dim)))
    assert s.shape == (1,) and np.isfinite(s).all()
