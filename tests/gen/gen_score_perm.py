#!/usr/bin/env python3
"""Write tests/data/score_perm_golden.txt: NegLabel scores with the reference
code's grouping -- a numpy re-implementation (float64) of
ScalableClassifier.grouping in mmcls/models/ood/clip_ood.py (NegLabel's
repository, and the identical function in MengyuanChen21/NeurIPS2024-CSP):
logits cos / t, drop the last K mod G negatives, permute the rest with
torch.manual_seed(seed); torch.randperm(K') (the permutation is the only
thing torch computes here), reshape into G contiguous groups, softmax over
ID + group, sum of the ID part, mean over groups. Inputs are
tests/gen/golden_embed.py's deterministic embeddings; cosines from rows
L2-normalised in float64, as nl_score does. test_score_perm.c runs nl_score
with permutation = NL_PERM_TORCH on the same inputs.

Format: "case s n_img n_id n_neg dim ngroup seed tau" then n_img lines with
the score (%.17g).

  python3 tests/gen/gen_score_perm.py  (repository root; numpy, torch)
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_embed import grouping, matrix  # noqa: E402

CASES = [  # s, n_img, n_id, n_neg, dim, ngroup, seed, tau
    (1, 40, 10, 257, 16, 100, 0, 0.01),
    (2, 30, 7, 1000, 8, 10, 3, 0.01),
    (3, 25, 5, 64, 12, 1, 0, 0.01),
    (4, 20, 12, 2003, 6, 100, 0, 0.01),
    (5, 16, 3, 77, 5, 7, 12345, 1.0),
    (6, 12, 9, 500, 10, 500, 0, 0.05),
]


def unit(x):
    x = x.astype(np.float64)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n > 0, n, 1)


with open("tests/data/score_perm_golden.txt", "w") as f:
    f.write("# numpy %s, torch %s (randperm only): tests/gen/gen_score_perm.py\n" % (np.__version__, torch.__version__))
    for s, ni, nid, nneg, dim, ngroup, seed, tau in CASES:
        img, idm, negm = unit(matrix(s, 0, ni, dim)), unit(matrix(s, 1, nid, dim)), unit(matrix(s, 2, nneg, dim))
        # clip_ood.py: pos = 100 * img @ id.T, neg likewise, divided by t; here cos / tau (tau = t / 100)
        sc = grouping(img @ idm.T, img @ negm.T, ngroup, seed, tau)
        f.write("case %d %d %d %d %d %d %d %r\n" % (s, ni, nid, nneg, dim, ngroup, seed, tau))
        for v in sc:
            f.write("%.17g\n" % v)
