#!/usr/bin/env python3
"""Write tests/data/csp_golden.txt for tests/test_csp.c: CSP (Chen et al.,
NeurIPS 2024) as its reference code computes it, re-implemented in numpy
from MengyuanChen21/NeurIPS2024-CSP (read, nothing copied):

- corpus: mmcls/models/classifiers/multi_modal.py,
  CLIPScalableClassifier.__init__: the word lists minus txt_exclude
  (custom_config/clip-ViT-B16.py: noun.person, noun.quantity, noun.group,
  adj.pert), '_' -> ' ', one `dedup` dict across nouns and adjectives,
  random.seed(0) then random.choice(csp_templates) for each adjective kept,
  in list order. os.listdir's order is not reproducible; the files are
  visited in sorted order here, as neglabel does (docs/methods.md).
- label embeddings: the same function: the mean over templates of the raw
  prompt embeddings (view(n_templates, n, dim).mean(0) for the ID labels,
  view(n, n_templates, dim).mean(1) for the candidates -- the same mean),
  then normalised once.
- mining: the same function, pos_neg_sim == 'neg_centroid': cosines to the
  ID labels, torch.quantile(q=0.95) ('linear'), sim[max > 0.95] = 1.0,
  argsort per part of speech (stable here), keep int(len * 0.15), nouns
  then adjectives.
- score: mmcls/models/ood/clip_ood.py, ScalableClassifier.grouping (as in
  tests/gen/gen_score_perm.py), torch.manual_seed(0); torch.randperm.

Inputs: tests/gen/golden_embed.py's deterministic raw prompt embeddings
(matrix 0: images; 1: ID prompts, template-major; 2: noun prompts,
template-major; 3: adjective prompts, template-major). Arithmetic in
float64; label embeddings rounded to float32 once (as nl_ensemble_raw).

Format:
  lists <n_noun> <n_adj> <fnv1a64 of the candidate texts joined by \\n> <first 3 phrases | separated>
  case s n_img n_id n_noun n_adj dim fraction quantile cut ngroup seed
  selected <indices...>            (nouns 0..n_noun-1, adjectives n_noun..)
  <n_img scores, %.17g>

  python3 tests/gen/gen_csp.py [LISTS_DIR]  (repository root; numpy, torch;
  LISTS_DIR default ../shared/neglabel-reference/txtfiles)
"""
import os
import random
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_embed import grouping, matrix  # noqa: E402

EXCLUDE = ["noun.person.txt", "noun.quantity.txt", "noun.group.txt", "adj.pert.txt"]
SUPER = ["{} environment", "{} space", "{} object", "{} scene", "{} place", "{} item", "{} area", "{} view",
         "{} thing", "{} pattern", "{} structure", "{} landscape", "{} vista", "{} creature"]
N_NOUN_T, N_ADJ_T = 8, 4

CASES = [  # s, n_img, n_id, n_noun, n_adj, dim, fraction, quantile, cut, ngroup, seed
    (11, 30, 10, 300, 120, 4, 0.15, 0.95, 0.95, 10, 0),
    (12, 25, 40, 700, 200, 6, 0.15, 0.95, 0.95, 20, 0),
    (13, 20, 5, 150, 60, 3, 0.9, 0.95, 0.95, 5, 0),
    (14, 16, 25, 2000, 400, 8, 0.15, 0.95, 0.95, 100, 0),
    (15, 12, 8, 90, 40, 5, 0.5, 0.5, 0.8, 3, 7),
]


def fnv1a64(b):
    h = 0xCBF29CE484222325
    for c in b:
        h = ((h ^ c) * 0x100000001B3) & ((1 << 64) - 1)
    return h


def corpus(lists_dir):
    files = sorted(f for f in os.listdir(lists_dir) if f not in EXCLUDE)
    dedup, nouns, adjs = {}, [], []
    random.seed(0)
    for fname in files:
        kind = fname.split(".")[0]
        if kind not in ("noun", "adj"):
            continue
        with open(os.path.join(lists_dir, fname)) as f:
            for line in f.readlines():
                line = line.replace("_", " ")
                w = line.strip()
                if w in dedup:
                    continue
                dedup[w] = None
                if kind == "noun":
                    nouns.append(w)
                else:
                    adjs.append(random.choice(SUPER).format(w))
    return nouns, adjs


def ensemble(raw, n_t, n):
    """mean over templates of raw rows (template-major blocks), normalised once, to float32"""
    r = raw.astype(np.float64).reshape(n_t, n, -1)
    acc = r[0].copy()
    for t in range(1, n_t):
        acc += r[t]
    acc /= n_t
    return (acc / np.sqrt((acc * acc).sum(axis=1, keepdims=True))).astype(np.float32)


def unit(x):
    x = x.astype(np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main():
    lists_dir = sys.argv[1] if len(sys.argv) > 1 else "../shared/neglabel-reference/txtfiles"
    nouns, adjs = corpus(lists_dir)
    texts = "\n".join(nouns + adjs).encode()
    with open("tests/data/csp_golden.txt", "w") as f:
        f.write("# numpy %s, torch %s (randperm only), python %s: tests/gen/gen_csp.py\n"
                % (np.__version__, torch.__version__, sys.version.split()[0]))
        f.write("lists %d %d %d %s\n" % (len(nouns), len(adjs), fnv1a64(texts), "|".join(adjs[:3])))
        for s, ni, nid, nn, na, dim, frac, q, cut, ngroup, seed in CASES:
            img = matrix(s, 0, ni, dim)
            idl = ensemble(matrix(s, 1, N_NOUN_T * nid, dim), N_NOUN_T, nid)
            noun = ensemble(matrix(s, 2, N_NOUN_T * nn, dim), N_NOUN_T, nn)
            adj = ensemble(matrix(s, 3, N_ADJ_T * na, dim), N_ADJ_T, na)
            cand = np.concatenate([noun, adj]).astype(np.float64)
            sim = cand @ idl.astype(np.float64).T
            qs = np.quantile(sim, q, axis=1, method="linear")
            qs[sim.max(axis=1) > cut] = 1.0
            ind_n = np.argsort(qs[:nn], kind="stable")
            ind_a = np.argsort(qs[nn:], kind="stable")
            sel = list(ind_n[:int(len(ind_n) * frac)]) + [nn + i for i in ind_a[:int(len(ind_a) * frac)]]
            neg = cand[sel]
            ui = unit(img)
            sc = grouping(ui @ unit(idl).T, ui @ unit(neg).T, ngroup, seed, 0.01)
            f.write("case %d %d %d %d %d %d %r %r %r %d %d\n" % (s, ni, nid, nn, na, dim, frac, q, cut, ngroup, seed))
            f.write("cut %d\n" % int((sim.max(axis=1) > cut).sum()))
            f.write("selected %s\n" % " ".join(map(str, sel)))
            for v in sc:
                f.write("%.17g\n" % v)


main()
