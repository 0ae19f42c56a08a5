#!/usr/bin/env python3
"""Write tests/data/permutation_all_golden.txt: torch.manual_seed(0);
torch.randperm(n) (the CPU generator; NegLabel's, CSP's and AdaNeg's
grouping) and np.random.seed(110); np.random.permutation(n) (NumPy's legacy
RandomState; OODD's stream) for EVERY n from 1 to 100,000.
test_permutation_all.c recomputes each with nli_permutation.

Kept small by hashing: for each n, h(n) = sum over i of
(i + 1) * perm[i] * 0x9E3779B97F4A7C15, wrapping modulo 2^64, then per block
of 1,000 consecutive n, H = sum over the block of h(n) * (2n + 1), wrapping
modulo 2^64 (uint64 arithmetic in C and NumPy alike). One line per block:
  <torch|numpy> <seed> <first n> <last n> <H>

  .venv/bin/python tests/gen/gen_permutation_all.py   (repository root; torch, numpy)
Made with torch 2.11.0 and NumPy 2.4.6 (recorded in the file's header).
"""
import numpy as np
import torch

K = np.uint64(0x9E3779B97F4A7C15)
N, BLOCK = 100000, 1000
idx = np.arange(1, N + 1, dtype=np.uint64)
with np.errstate(over="ignore"), open("tests/data/permutation_all_golden.txt", "w") as f:
    f.write("# torch %s, numpy %s (tests/gen/gen_permutation_all.py): kind seed first_n last_n block_hash\n"
            % (torch.__version__, np.__version__))
    for kind, seed in (("torch", 0), ("numpy", 110)):
        H = np.uint64(0)
        for n in range(1, N + 1):
            if kind == "torch":
                torch.manual_seed(seed)
                p = torch.randperm(n).numpy().astype(np.uint64)
            else:
                np.random.seed(seed)
                p = np.random.permutation(n).astype(np.uint64)
            h = np.sum(idx[:n] * p * K, dtype=np.uint64)
            H = H + h * np.uint64(2 * n + 1)
            if n % BLOCK == 0:
                f.write("%s %d %d %d %d\n" % (kind, seed, n - BLOCK + 1, n, int(H)))
                H = np.uint64(0)
