#!/usr/bin/env python3
"""Write tests/data/pyrandom_golden.txt: CPython's random.seed(seed) followed
by random.choice over sequences of n items (CSP draws its adjective phrase
with random.seed(0); random.choice(14 templates) in word-list order), for
test_randperm.c's check of nli_pyrandom_seed / nli_pyrandom_below. Only the
standard library; the file records the Python version (the seeding and
_randbelow algorithm have been the same since Python 3.2).

Format, one case per line:
  <seed> <n> <draws> <checksum> <first up to 24 draws...>
checksum: sum over i of (i + 1) * draw[i] modulo 2^61 - 1.

  python3 tests/gen/gen_pyrandom.py   (from the repository root)
"""
import random
import sys

M61 = (1 << 61) - 1
SEEDS = [0, 1, 42, 110, (1 << 32) - 1, (1 << 32) + 5, (1 << 63) + 12345]
NS = list(range(1, 21)) + [14, 31, 32, 33, 100, 1000, 65535, 65536, 1 << 20, (1 << 31) + 1, (1 << 32) - 1]

with open("tests/data/pyrandom_golden.txt", "w") as f:
    f.write("# python %s: random.seed(seed); [random.choice(range(n)) for _ in range(draws)] -- "
            "seed n draws checksum first<=24\n" % sys.version.split()[0])
    for seed in SEEDS:
        for n in NS:
            draws = 13091 if n == 14 else 2000  # 13,091: CSP-sized adjective runs
            random.seed(seed)
            seq = range(n)
            d = [random.choice(seq) for _ in range(draws)]
            cs = sum((i + 1) * v for i, v in enumerate(d)) % M61
            f.write("%d %d %d %d %s\n" % (seed, n, draws, cs, " ".join(map(str, d[:24]))))
