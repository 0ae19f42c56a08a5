#!/usr/bin/env python3
"""Write tests/data/randperm_golden.txt: torch.randperm(n) right after
torch.manual_seed(seed), on the CPU generator, for many n and a few seeds
(test_randperm.c reproduces them with nli_torch_randperm). Made with torch
2.11.0 (any torch >= 1.0 gives the same for n < 2^32 / 20).

Format, one case per line:
  <seed> <n> <checksum> <first up to 64 elements...>
checksum: sum over i of (i + 1) * perm[i], modulo 2^61 - 1, so that every
element counts.

  python3 tests/gen/gen_randperm.py   (from the repository root, with torch)
"""
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
