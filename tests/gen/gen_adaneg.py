#!/usr/bin/env python3
"""Write tests/data/adaneg_golden.txt (and the .npy inputs of one case for
tests/cli_adaneg.sh): AdaNeg's scores and final memory on random
embeddings, from a numpy (float64) re-implementation of the reference:
YBZh/OpenOOD-VLM, openood/postprocessors/ttaprompt_postprocessor.py, class
TTAPromptPostprocessor_noadagap, method postprocess (with reset_memory
before the stream, as OODEvaluatorClipTTA._eval_ood does per OOD set), fed
as FixedCLIP_NegOODPrompt.forward(return_feat=True) feeds it
(openood/networks/clip_fixed_ood_prompt.py): unit image features, unit text
features (ID labels then the negatives), logit_scale = 1 / tau. Written from
the reference's code, nothing copied. Only the permutation comes from torch
(torch.manual_seed(seed); torch.randperm(n), what the reference calls every
batch); the rest is numpy.

Inputs: tests/gen/golden_embed.py's deterministic matrices (case s: matrix 0
the images, 1 the ID labels, 2 the negatives), rows L2-normalised in float64
as nl_score does; the stream is image row (k * step) mod n_img at position k.

Format ("#" lines are comments):
  case s n_img n_id n_neg dim ngroup seed shuffle tau batch memory thres gap lambda samada beta step
  counts cached_id cached_neg replaced rejected
  n_img lines "score top_id top_neg" (top_neg over all negatives)
  labels N, then N lines "lab fill" followed by 1 + memory pairs "idx entropy"
  (idx -2 the text embedding, -1 empty, else the stream position) for every
  label whose memory is not the initial one.

  /work/main/.venv/bin/python tests/gen/gen_adaneg.py   (repository root; numpy, torch)
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_embed import matrix  # noqa: E402

TEXT, EMPTY = -2, -1


def unit(x):
    x = x.astype(np.float64)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n > 0, n, 1)


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class Reference:
    """TTAPromptPostprocessor_noadagap.postprocess, one stream from reset."""

    def __init__(self, text, n_id, memory, thres, gap, lam, ngroup, random_permute, seed, samada, beta, scale):
        self.text, self.n_id, self.L = text, n_id, memory
        self.thres, self.gap, self.lam = thres, gap, lam
        self.group_num, self.random_permute, self.seed = ngroup, random_permute, seed
        self.samada, self.beta, self.logit_scale = samada, int(beta), scale
        # reset: slot 0 the text feature, L zero slots; fill index 1; entropies 0
        n_lab = text.shape[0]
        self.feat_memory = np.concatenate([text[:, None, :], np.zeros((n_lab, memory, text.shape[1]))], axis=1)
        self.indice_memory = np.ones(n_lab, dtype=np.int64)
        self.entropy_memory = np.zeros((n_lab, 1 + memory))
        self.slot_idx = np.full((n_lab, 1 + memory), EMPTY, dtype=np.int64)  # which stream image (bookkeeping)
        self.slot_idx[:, 0] = TEXT
        self.cached_id = self.cached_neg = self.replaced = self.rejected = 0

    def grouped(self, out):
        """The grouped ID score postprocess computes twice (vanilla, adaptive)."""
        c = self.n_id
        pos, neg = out[:, :c], out[:, c:]
        drop = neg.shape[1] % self.group_num
        if drop > 0:
            neg = neg[:, :-drop]
        if self.random_permute:
            torch.manual_seed(self.seed)
            idx = torch.randperm(neg.shape[1]).numpy()
            neg = neg.T[idx].T.reshape(pos.shape[0], self.group_num, -1)
        else:
            neg = neg.reshape(pos.shape[0], self.group_num, -1)
        s = [softmax(np.concatenate([pos, neg[:, g, :]], axis=-1))[:, :c].sum(-1) for g in range(self.group_num)]
        return np.stack(s, axis=-1).mean(-1)

    def write(self, cate, feat, h, pos):
        if self.indice_memory[cate] == self.L:
            if (h < self.entropy_memory[cate]).sum() == 0:
                self.rejected += 1
                return
            # torch.sort ascending, last = the largest entropy; a stable sort
            # (torch's CUDA sort is not) puts the highest slot last among ties
            r = np.argsort(self.entropy_memory[cate], kind="stable")[-1]
            self.replaced += 1
        else:
            r = self.indice_memory[cate]
            self.indice_memory[cate] += 1
        self.feat_memory[cate, r] = feat
        self.entropy_memory[cate, r] = h
        self.slot_idx[cate, r] = pos
        if cate < self.n_id:
            self.cached_id += 1
        else:
            self.cached_neg += 1

    def postprocess(self, img, pos0):
        c = self.n_id
        out_v = self.logit_scale * img @ self.text.T
        conf_v = self.grouped(out_v)
        act = conf_v > self.thres + self.gap * (1 - self.thres)
        pred = out_v[:, :c].argmax(1)
        p_id = softmax(out_v[:, :c])
        for i in range(img.shape[0]):
            if act[i]:
                h = -(p_id[i] * np.log(p_id[i] + 1e-8)).sum()
                self.write(pred[i], img[i], h, pos0 + i)
        act = conf_v < self.thres - self.gap * self.thres
        pred_neg = out_v[:, c:].argmax(1)
        p_ood = softmax(out_v[:, c:])
        for i in range(img.shape[0]):
            if act[i]:
                h = -(p_ood[i] * np.log(p_ood[i] + 1e-8)).sum()
                self.write(pred_neg[i] + c, img[i], h, pos0 + i)
        if self.samada:
            sim = np.exp(-self.beta * (1 - self.feat_memory @ img.T))  # lab x slot x B
            sa = np.einsum("lsb,lsd->bld", sim, self.feat_memory)
            sa /= np.linalg.norm(sa, axis=-1, keepdims=True)
            out = self.logit_scale * (img[:, None, :] * sa).sum(-1)
        else:
            sa = self.feat_memory.mean(1)
            sa /= np.linalg.norm(sa, axis=-1, keepdims=True)
            out = self.logit_scale * (img[:, None, :] * sa[None]).sum(-1)
        conf = self.grouped(out) + conf_v * self.lam  # in_score 'combine'
        return conf, pred, pred_neg


# s, n_img, n_id, n_neg, dim, ngroup, seed, shuffle, tau, batch, memory, thres, gap, lambda, samada, beta, step
CASES = [
    (1, 300, 8, 42, 32, 5, 0, 1, 0.05, 64, 3, 0.5, 0.5, 0.1, 0, 5.5, 1),
    (1, 300, 8, 42, 32, 5, 0, 1, 0.05, 64, 3, 0.5, 0.5, 0.1, 1, 5.5, 1),
    (2, 257, 5, 23, 24, 4, 3, 1, 0.04, 50, 4, 0.5, 0.3, 0.1, 0, 5.5, 7),
    (2, 257, 5, 23, 24, 4, 3, 1, 0.04, 50, 4, 0.5, 0.3, 0.1, 1, 2.9, 7),
    (3, 200, 12, 60, 48, 5, 0, 0, 0.03, 256, 2, 0.4, 0.2, 0.5, 0, 5.5, 1),
    (4, 180, 6, 31, 16, 3, 7, 1, 0.1, 17, 1, 0.6, 0.1, 0.1, 1, 7.0, 11),
    (5, 600, 4, 25, 64, 5, 0, 1, 0.02, 256, 10, 0.5, 0.5, 0.1, 0, 5.5, 1),
    (6, 120, 3, 12, 8, 2, 1, 1, 0.2, 30, 5, 0.5, 0.0, 1.0, 1, 1.0, 7),
    (7, 700, 5, 33, 16, 5, 2, 1, 0.05, 520, 4, 0.45, 0.4, 0.2, 0, 5.5, 3),  # batches over 256 images
    (7, 700, 5, 33, 16, 5, 2, 1, 0.05, 520, 4, 0.45, 0.4, 0.2, 1, 5.5, 3),
]
CLI_CASE = 0  # its inputs go to tests/data/adaneg/ as .npy


def run(case):
    s, ni, nid, nneg, dim, ngroup, seed, shuffle, tau, batch, memory, thres, gap, lam, samada, beta, step = case
    img, idm, negm = matrix(s, 0, ni, dim), matrix(s, 1, nid, dim), matrix(s, 2, nneg, dim)
    order = [(k * step) % ni for k in range(ni)]
    assert len(set(order)) == ni
    stream = img[order]
    ref = Reference(unit(np.concatenate([idm, negm])), nid, memory, thres, gap, lam, ngroup, bool(shuffle), seed,
                    bool(samada), beta, 1.0 / tau)
    u = unit(stream)
    conf, top_id, top_neg = [], [], []
    for b0 in range(0, ni, batch):  # DataLoader batches, the last one short
        c, p, q = ref.postprocess(u[b0:b0 + batch], b0)
        conf.append(c), top_id.append(p), top_neg.append(q)
    return ref, stream, idm, negm, np.concatenate(conf), np.concatenate(top_id), np.concatenate(top_neg)


def main():
    os.makedirs("tests/data/adaneg", exist_ok=True)
    with open("tests/data/adaneg_golden.txt", "w") as f:
        f.write("# numpy %s, torch %s (randperm only): tests/gen/gen_adaneg.py\n" % (np.__version__, torch.__version__))
        for n, case in enumerate(CASES):
            ref, stream, idm, negm, conf, top_id, top_neg = run(case)
            # every case exercises both caches and full labels (replacements
            # and rejections); memory 1 is full from the start (the
            # reference's off-by-one): nothing enters, everything is rejected
            if case[10] > 1:
                assert ref.cached_id > 0 and ref.cached_neg > 0 and ref.replaced > 0 and ref.rejected > 0, case
            else:
                assert ref.cached_id + ref.cached_neg == 0 and ref.rejected > 0, case
            print("case %d: cached %d ID, %d negative; replaced %d, rejected %d" %
                  (case[0], ref.cached_id, ref.cached_neg, ref.replaced, ref.rejected))
            f.write("case " + " ".join(repr(v) for v in case) + "\n")
            f.write("counts %d %d %d %d\n" % (ref.cached_id, ref.cached_neg, ref.replaced, ref.rejected))
            for v, a, b in zip(conf, top_id, top_neg):
                f.write("%.17g %d %d\n" % (v, a, b))
            init = (ref.slot_idx == EMPTY)
            init[:, 0] = ref.slot_idx[:, 0] == TEXT
            changed = [l for l in range(ref.slot_idx.shape[0]) if not init[l].all() or ref.indice_memory[l] != 1]
            f.write("labels %d\n" % len(changed))
            for l in changed:
                f.write("%d %d %s\n" % (l, ref.indice_memory[l], " ".join(
                    "%d %.17g" % (ref.slot_idx[l, k], ref.entropy_memory[l, k]) for k in range(ref.slot_idx.shape[1]))))
            if n == CLI_CASE:
                np.save("tests/data/adaneg/img.npy", stream)
                np.save("tests/data/adaneg/id.npy", idm)
                np.save("tests/data/adaneg/neg.npy", negm)
    print("%d cases" % len(CASES))


if __name__ == "__main__":
    main()
