#!/usr/bin/env python3
"""emb_close.py GOLDEN KEY OUT TOL — the CLI tests' check of `neglabel
embed` output (JSON lines {"input", "embedding"}) against float64 goldens:
GOLDEN is a JSON file whose KEY ("texts", "images") maps each input (a text,
or an image's file name) to its embedding. Every output row must have a
golden with relative error ||e - g|| / ||g|| below TOL, and every golden an
output row. Prints the errors; exit status 1 on a failure."""
import json
import math
import sys


def main():
    golden, key, out, tol = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    want = json.load(open(golden))[key]
    seen = set()
    for line in open(out):
        r = json.loads(line)
        name = r["input"] if key == "texts" else r["input"].rsplit("/", 1)[-1]
        g, e = want[name], r["embedding"]
        err = math.sqrt(sum((a - b) ** 2 for a, b in zip(e, g))) / math.sqrt(sum(b * b for b in g))
        print("%.2g" % err, end=" ")
        if len(e) != len(g) or not err < tol:
            shown = name if len(name) <= 80 else name[:60] + "... (%d characters)" % len(name)
            print("\n%s: error %.3g (dimension %d, golden %d)" % (shown, err, len(e), len(g)))
            sys.exit(1)
        seen.add(name)
    if seen != set(want):
        print("\n%d embeddings for %d goldens" % (len(seen), len(want)))
        sys.exit(1)


if __name__ == "__main__":
    main()
