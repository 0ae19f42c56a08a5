#!/usr/bin/env python3
"""Write tests/data/oodd_golden.txt: OODD scores and queue states, from a
numpy (float64) re-implementation of the reference, zxk1212/OODD
NegLabel/tools/ood_test.py: main() (the stream loop), class ScoreData
(__lt__ reversed: a < b when a's score is HIGHER, so the min-heap's root is
the highest score) and kth_largest_per_column / batched_matrix_multiply
(torch.kthvalue(matrix, n - k + 1, dim=0): the k-th largest cosine between
the queued features and each batch sample). The queue is Python's own
queue.PriorityQueue (heapq underneath), used exactly as the reference
uses it: every sample of a batch is put, and after each put, while
qsize() > queue_size, one get(); list(queue.queue) is the heap order.

The static score is the reference's (NegLabel/mmcls/models/ood/clip_ood.py
ScalableClassifier.grouping, random_permute=True; custom_config/clip.py:
ngroup=100, t=1 i.e. logits 100 * cos): golden_embed.grouping, with the
torch permutation (torch.manual_seed(seed); torch.randperm). Features are
rows L2-normalised in float64 (the reference's are CLIP's normalised image
features), cosines in float64. Each image's static score and cosines
depend on its row only, so they are computed once per distinct row and
indexed: duplicated rows get bit-identical static scores (exact ties), as
in the C library.

Inputs: tests/gen/golden_embed.py's deterministic matrices. A case's base
rows are matrix(s, 0, n_a) ("ID") then matrix(s, 3, n_b) ("OOD"); the last
`zero` base rows are zeroed (ties: all score alike); the stream is
base[order], order written in the file (a permutation, or draws with
repetition for ties). Kind "ref": the reference's stream, ID then OOD
permuted by np.random.seed(110); np.random.permutation(N). Kind "static":
the static scores are small integers (massive ties), given in the file,
and the C test runs the stream core on them.

Where the queue holds fewer than k items the reference fails in
torch.kthvalue; neglabel then uses the smallest cosine (the min(k, n)-th
largest) -- cases with short=1 exercise that documented extension.

Format per case:
  case NAME s n_a n_b zero n_id n_neg dim ngroup seed tau batch queue k kind n_img
  order <n_img stream rows>
  stat <n_img static scores %.17g>
  score <n_img OODD scores %.17g>
  snap <batch> <len> <stream indices in heap order>   (several)
  final <len> <stream indices in heap order>

  /work/main/.venv/bin/python tests/gen/gen_oodd.py  (repository root; numpy, torch)
"""
import os
import platform
import sys
from queue import PriorityQueue

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_embed import grouping, matrix  # noqa: E402


class ScoreData:  # ood_test.py ScoreData: the comparison the heap uses
    def __init__(self, score, data):
        self.score = score
        self.data = data

    def __lt__(self, other):
        return float(self.score) > float(other.score)


def unit(x):
    x = x.astype(np.float64)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n > 0, n, 1)


def oodd_stream(stat, gram, order, batch_size, queue_size, k, snaps):
    """ood_test.py main(), the loop over batches. stat: static score per
    stream position; gram[a, b]: cosine of base rows a and b; the queue
    items' data is the stream position (its feature is base row order[i])."""
    n = len(stat)
    queue = PriorityQueue()
    num_batches = n // batch_size + (n % batch_size > 0)
    scores, states, short, evicted, just = [], [], 0, 0, 0
    for i in range(num_batches):
        start = i * batch_size
        end = min(start + batch_size, n)
        batch_score = stat[start:end]
        for j in range(end - start):
            queue.put(ScoreData(batch_score[j], start + j))
            if queue.qsize() > queue_size:
                gone = queue.get()
                evicted += 1
                just += gone.data == start + j  # the item just put
        data_list = [item.data for item in list(queue.queue)]
        if i in snaps:
            states.append((i, list(data_list)))
        # batched_matrix_multiply(new_food, batch_data, k): (nq, m) cosines,
        # kth_largest_per_column = kthvalue(matrix, nq - k + 1, dim=0)
        mat = gram[np.ix_(order[data_list], order[start:end])]
        nq = mat.shape[0]
        kk = min(k, nq)  # neglabel's extension; the reference needs nq >= k
        short += (end - start) * (kk < k)
        kth = np.sort(mat, axis=0)[nq - kk, :]
        scores.append(batch_score - kth)
    final = [item.data for item in list(queue.queue)]
    return np.concatenate(scores), states, final, short, evicted, just


# name, s, n_a, n_b, zero, n_id, n_neg, dim, ngroup, seed, tau, batch, queue, k, kind
CASES = [
    ("basic", 1, 200, 0, 0, 10, 257, 16, 100, 0, 0.01, 64, 48, 5, "perm"),
    ("tiny_queue", 2, 150, 0, 0, 7, 120, 12, 10, 0, 0.01, 8, 3, 2, "perm"),
    ("queue1", 3, 60, 0, 0, 5, 64, 8, 4, 0, 0.01, 5, 1, 1, "ident"),
    ("ref_stream", 4, 150, 90, 0, 12, 300, 16, 100, 0, 0.01, 64, 100, 5, "ref"),
    ("dup_ties", 5, 30, 0, 0, 6, 90, 10, 9, 0, 0.01, 16, 40, 3, "draw"),
    ("zero_ties", 6, 100, 0, 40, 8, 50, 8, 5, 0, 0.01, 10, 25, 4, "perm"),
    ("static_ties", 7, 300, 0, 0, 5, 40, 8, 4, 0, 0.01, 7, 20, 5, "static"),
    ("queue_big", 8, 130, 0, 0, 9, 200, 12, 100, 0, 0.01, 64, 2048, 5, "perm"),
    ("short_k", 9, 40, 0, 0, 4, 30, 6, 3, 0, 0.01, 2, 10, 5, "ident"),
    ("seed3_tau1", 10, 120, 0, 0, 3, 77, 5, 7, 3, 1.0, 32, 50, 7, "perm"),
    ("batch_big", 11, 90, 0, 0, 6, 100, 8, 10, 0, 0.05, 500, 30, 5, "perm"),
    ("ngroup1", 12, 80, 40, 0, 10, 33, 16, 1, 0, 1.0, 16, 24, 16, "ref"),
]

out = []
out.append("# python %s, numpy %s, torch %s (randperm only): tests/gen/gen_oodd.py\n"
           % (platform.python_version(), np.__version__, torch.__version__))
for name, s, na, nb, zero, nid, nneg, dim, ngroup, seed, tau, bs, qs, k, kind in CASES:
    base = np.concatenate([matrix(s, 0, na, dim), matrix(s, 3, nb, dim)]) if nb else matrix(s, 0, na, dim)
    if zero:
        base[len(base) - zero:] = 0
    nbase = len(base)
    u = unit(base)
    idm, negm = unit(matrix(s, 1, nid, dim)), unit(matrix(s, 2, nneg, dim))
    stat_base = grouping(u @ idm.T, u @ negm.T, ngroup, seed, tau)
    rs = np.random.RandomState(1000 + s)
    if kind == "ref":  # ood_test.py: np.random.seed(110); idx = np.random.permutation(N)
        np.random.seed(110)
        order = np.random.permutation(nbase)
    elif kind == "ident":
        order = np.arange(nbase)
    elif kind == "draw":  # rows repeated: exact ties
        order = rs.randint(0, nbase, size=10 * nbase)
    else:
        order = rs.permutation(nbase)
    stat = stat_base[order]
    if kind == "static":
        stat = rs.randint(0, 3, size=len(order)).astype(np.float64)
    else:  # distinct static scores must be far apart, or rounding could reorder them
        v = np.unique(stat)
        assert len(v) < 2 or np.min(np.diff(v) / np.abs(v[1:])) > 1e-10, name
    gram = u @ u.T
    n = len(order)
    nb_batches = n // bs + (n % bs > 0)
    snaps = sorted({0, 1, nb_batches // 2} & set(range(nb_batches)))
    scores, states, final, short, evicted, just = oodd_stream(stat, gram, order, bs, qs, k, snaps)
    assert (short > 0) == (name == "short_k"), name
    out.append("case %s %d %d %d %d %d %d %d %d %d %r %d %d %d %s %d\n"
               % (name, s, na, nb, zero, nid, nneg, dim, ngroup, seed, tau, bs, qs, k, kind, n))
    out.append("order " + " ".join(str(int(x)) for x in order) + "\n")
    out.append("stat " + " ".join("%.17g" % x for x in stat) + "\n")
    out.append("score " + " ".join("%.17g" % x for x in scores) + "\n")
    for b, st in states:
        out.append("snap %d %d %s\n" % (b, len(st), " ".join(map(str, st))))
    out.append("final %d %s\n" % (len(final), " ".join(map(str, final))))
    print("%-12s n=%4d batches=%3d queue=%4d k=%2d short=%3d evictions=%4d of the item just put=%4d "
          "distinct static scores=%d" % (name, n, nb_batches, qs, k, short, evicted, just, len(np.unique(stat))))
    if name == "ref_stream":  # inputs of tests/cli_oodd.sh: the stream's rows in order
        np.save("tests/data/oodd_cli_img.npy", base[order].astype(np.float32))
        np.save("tests/data/oodd_cli_id.npy", matrix(s, 1, nid, dim))
        np.save("tests/data/oodd_cli_neg.npy", matrix(s, 2, nneg, dim))
with open("tests/data/oodd_golden.txt", "w") as f:
    f.writelines(out)
