"""Throughput of neglabel.ray against the single-process CLI on the same
machine and the same images.

    .venv-py/bin/python bench/bench_ray.py --model ../shared/fixtures/tiny-clip \\
        --images ../shared/data/cifar10-test --n 2000 [--workers 1 2]

For each run: the CLI (`neglabel score --threads 1`, one process, one core)
and a local Ray cluster (ray.init with as many one-CPU actors as --workers)
score the same N images with the same labels and negatives (checked equal).
Prints images/s, and what Ray adds with one actor on one core: Ray's wall
time - the CLI's, in all and per image. It is mostly a fixed cost (the
actor's start and model load, Ray Data's start) plus scheduling, the object
store and Arrow batches per batch: run two --n values to separate the two
(docs/scale.md).
Wall times: on a shared machine, run it when it is quiet, and take the best
of --repeat runs.
"""
import argparse
import csv
import glob
import os
import subprocess
import sys
import tempfile
import time

import pyarrow as pa
import ray

import neglabel.ray as nlr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "..", "shared", "fixtures", "tiny-clip"))
    ap.add_argument("--images", default=os.path.join(ROOT, "..", "shared", "data", "cifar10-test"))
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--cli", default=os.path.join(ROOT, "build", "neglabel"))
    a = ap.parse_args()
    files = sorted(glob.glob(os.path.join(a.images, "**", "*.jpg"), recursive=True))
    step = max(1, len(files) // a.n)
    files = files[::step][: a.n]
    n = len(files)
    tmp = tempfile.mkdtemp(prefix="bench-ray-")
    labels = os.path.join(tmp, "labels.txt")
    with open(labels, "w") as f:
        f.write("".join(c + "\n" for c in sorted({os.path.basename(os.path.dirname(p)) for p in files})))
    lst = os.path.join(tmp, "images.lst")
    with open(lst, "w") as f:
        f.write("".join(p + "\n" for p in files))
    neg = os.path.join(tmp, "neg.tsv")
    lists = os.path.join(ROOT, "..", "shared", "neglabel-reference", "txtfiles")
    env = dict(os.environ, NEGLABEL_DEVICE="cpu")
    subprocess.run([a.cli, "mine", "--model", a.model, "--id-labels", labels, "--lists", lists, "--include",
                    "noun.plant", "-o", neg, "--quiet", "--no-cache"], check=True, env=env)
    best_cli, cli_out = None, None
    for _ in range(a.repeat):
        t0 = time.time()
        r = subprocess.run([a.cli, "score", "--model", a.model, "--id-labels", labels, "--negatives", neg, "--list",
                            lst, "--threads", "1", "--quiet", "--no-cache"], check=True, env=env,
                           capture_output=True, text=True)
        dt = time.time() - t0
        best_cli = dt if best_cli is None else min(best_cli, dt)
        cli_out = {row["path"]: row["score"] for row in csv.DictReader(r.stdout.splitlines())}
    print(f"images: {n}; CLI (1 process, --threads 1): {best_cli:.1f} s, {n / best_cli:.1f} images/s")
    for w in a.workers:
        ray.init(num_cpus=w, include_dashboard=False, log_to_driver=False)
        labs = nlr.prepare(a.model, labels, neg)
        best = None
        for _ in range(a.repeat):
            ds = ray.data.from_arrow([pa.table({"path": files[i:i + a.batch_size]})
                                      for i in range(0, n, a.batch_size)])
            t0 = time.time()
            out = pa.concat_tables(ray.get(nlr.score_dataset(ds, model=a.model, labels=labs, batch_size=a.batch_size,
                                                             concurrency=w, threads=1).to_arrow_refs()))
            dt = time.time() - t0
            best = dt if best is None else min(best, dt)
            bad = sum(f"{s:.17g}" != cli_out[p] for p, s in zip(out.column("path").to_pylist(),
                                                               out.column("score").to_pylist()))
            assert bad == 0 and out.num_rows == n, f"{bad} scores differ from the CLI's"
        ray.shutdown()
        line = f"Ray, {w} actor(s) x 1 CPU: {best:.1f} s, {n / best:.1f} images/s"
        if w == 1:
            line += (f"; Ray - CLI: {best - best_cli:.1f} s in all, {1000 * (best - best_cli) / n:.2f} ms/image"
                     " (actor start included)")
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
