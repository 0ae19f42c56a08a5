"""Deterministic test embeddings shared by the golden generators and the C
tests (tests/golden_embed.h computes the same values): entry k of matrix m
in case s is splitmix64's output function applied to
(s << 40) ^ (m << 32) ^ k, its top 24 bits mapped to [-1, 1) -- exact in
float32, so Python and C start from identical floats without storing them."""
import numpy as np

MASK = (1 << 64) - 1


def value(s, m, k):
    z = (((s << 40) ^ (m << 32) ^ k) + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    z ^= z >> 31
    return (z >> 40) / float(1 << 23) - 1.0


def matrix(s, m, rows, cols):
    """rows x cols float32 (values exact), row-major index k = r * cols + c."""
    return np.array([value(s, m, k) for k in range(rows * cols)], dtype=np.float64).astype(np.float32).reshape(rows, cols)


def grouping(pos, neg, ngroup, seed, t):
    """clip_ood.py ScalableClassifier.grouping (random_permute=True), in float64."""
    drop = neg.shape[1] % ngroup
    if drop > 0:
        neg = neg[:, :-drop]
    import torch  # the reference permutation; only the generators that score need torch

    torch.manual_seed(seed)
    idx = torch.randperm(neg.shape[1]).numpy()
    negs = neg.T[idx].T.reshape(pos.shape[0], ngroup, -1)
    scores = []
    for i in range(ngroup):
        full = np.concatenate([pos, negs[:, i, :]], axis=-1) / t
        full = np.exp(full - full.max(axis=-1, keepdims=True))
        full /= full.sum(axis=-1, keepdims=True)
        scores.append(full[:, :pos.shape[1]].sum(axis=-1))
    return np.stack(scores, axis=-1).mean(axis=-1)
