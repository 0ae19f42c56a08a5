#!/usr/bin/env python3
"""Write tests/data/randperm_golden.txt: torch.randperm(n) right after
torch.manual_seed(seed), on the CPU generator, for many n and a few seeds
(test_randperm.c reproduces them with nli_torch_randperm). Made with torch
2.11.0 (any torch >= 1.0 gives the same for n < 2^32 / 20).

Also tests/data/permutation_golden.txt: the sweep over n, for torch and for
NumPy's legacy np.random.seed(seed); np.random.permutation(n) (made with
NumPy 2.4.6; the legacy RandomState stream is frozen): every n from 1 to
1000 and 120 sizes spread up to 100,000, seed 0 (torch and NumPy) and 110
(NumPy, OODD's stream seed), plus a few other seeds. Kept small: one line
per case with the checksum below and the first 8 elements,
  <torch|numpy> <seed> <n> <checksum> <first up to 8 elements...>

Format, one case per line:
  <seed> <n> <checksum> <first up to 64 elements...>
checksum: sum over i of (i + 1) * perm[i], modulo 2^61 - 1, so that every
element counts.

  python3 tests/gen/gen_randperm.py   (from the repository root, with torch)
"""
import numpy as np
import torch

M61 = (1 << 61) - 1
NS = list(range(1, 41)) + [63, 64, 65, 97, 100, 127, 128, 129, 255, 256, 623, 624, 625, 1000, 1247, 1248, 4096,
                           10000, 10499, 29999, 30000, 30001, 56909, 70000, 100000, 1 << 20]
SEEDS = [0, 1, 42, 12345, (1 << 32) + 7]

with open("tests/data/randperm_golden.txt", "w") as f:
    f.write("# torch %s: torch.manual_seed(seed); torch.randperm(n) -- seed n checksum first<=64\n" % torch.__version__)
    for seed in SEEDS:
        for n in NS:
            torch.manual_seed(seed)
            p = torch.randperm(n).tolist()
            cs = sum((i + 1) * v for i, v in enumerate(p)) % M61
            f.write("%d %d %d %s\n" % (seed, n, cs, " ".join(map(str, p[:64]))))

SWEEP = sorted(set(list(range(1, 1001)) + [int(round(1000 * 100 ** (k / 119.0))) for k in range(120)] +
                   [1023, 1024, 1025, 4095, 4096, 4097, 65535, 65536, 65537, 99999, 100000]))
with open("tests/data/permutation_golden.txt", "w") as f:
    f.write("# torch %s, numpy %s: kind seed n checksum first<=8 (tests/gen/gen_randperm.py)\n"
            % (torch.__version__, np.__version__))
    cases = [("torch", 0, n) for n in SWEEP] + [("numpy", 0, n) for n in SWEEP] + \
            [("numpy", 110, n) for n in SWEEP if n % 7 == 0 or n > 1000] + \
            [(k, s, n) for k in ("torch", "numpy") for s in (1, 42, 4294967295) for n in (1, 2, 3, 10, 97, 1000, 10400, 100000)]
    for kind, seed, n in cases:
        if kind == "torch":
            torch.manual_seed(seed)
            p = torch.randperm(n).tolist()
        else:
            np.random.seed(seed)
            p = np.random.permutation(n).tolist()
        cs = sum((i + 1) * v for i, v in enumerate(p)) % M61
        f.write("%s %d %d %d %s\n" % (kind, seed, n, cs, " ".join(map(str, p[:8]))))
