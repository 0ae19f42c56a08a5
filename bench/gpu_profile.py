#!/usr/bin/env python3
"""gpu_profile.py — where the time of one forward goes, per kernel, for
neglabel (from an Nsight Compute CSV of bench_gpu) and for transformers
(torch.profiler on the same checkpoint, same batch and precision).

  python3 bench/gpu_profile.py ncu FILE.csv [--passes N]
      kernels of an `ncu --metrics gpu__time_duration.sum --csv` log,
      grouped by name, the total divided by N (the forwards profiled)
  python3 bench/gpu_profile.py torch MODEL_DIR [--batch 256] [--dtype fp16] [--passes 3]
      transformers CLIPModel.get_image_features (SDPA) under torch.profiler

Both print one table: kernel, launches per pass, ms per pass, share.
Used by scripts/gpu_run.sh (GPU_RUN_PROFILE=1) on a GPU machine.
"""
import argparse
import collections
import csv
import sys

UNITS = {"nsecond": 1e-6, "usecond": 1e-3, "msecond": 1.0, "second": 1e3, "ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def table(title, rows, passes):
    """rows: {name: [count, ms]}; prints the per-pass table, largest first."""
    total = sum(ms for _, ms in rows.values())
    print(f"\n### {title}: {total / passes:.3f} ms of kernels per pass ({passes} passes)\n")
    print("| kernel | launches/pass | ms/pass | share |")
    print("| --- | --- | --- | --- |")
    for name, (n, ms) in sorted(rows.items(), key=lambda kv: -kv[1][1])[:25]:
        short = name if len(name) <= 100 else name[:97] + "..."
        print(f"| `{short}` | {n / passes:g} | {ms / passes:.3f} | {100 * ms / total:.1f} % |")


def ncu(path, passes):
    rows = collections.defaultdict(lambda: [0, 0.0])
    with open(path, newline="") as f:
        lines = [l for l in f if l.startswith('"')]  # ncu's own messages are not CSV
    for r in csv.DictReader(lines):
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        unit = r["Metric Unit"]
        if unit not in UNITS:
            sys.exit(f"gpu_profile: {path}: unknown time unit '{unit}'")
        ms = float(r["Metric Value"].replace(",", "")) * UNITS[unit]
        key = f'{r["Kernel Name"]} grid{r.get("Grid Size", "")} block{r.get("Block Size", "")}'
        rows[key][0] += 1
        rows[key][1] += ms
    if not rows:
        sys.exit(f"gpu_profile: no gpu__time_duration.sum rows in {path}")
    table(f"neglabel ({path})", rows, passes)


def torch_side(model_dir, batch, dtype_name, passes):
    import torch
    from torch.profiler import ProfilerActivity, profile
    from transformers import CLIPModel

    dt = {"fp16": torch.float16, "bf16": torch.bfloat16}[dtype_name]
    m = CLIPModel.from_pretrained(model_dir, dtype=dt, attn_implementation="sdpa").cuda().eval()
    px = torch.randn(batch, 3, 224, 224, device="cuda", dtype=dt)
    with torch.inference_mode():
        for _ in range(3):
            m.get_image_features(pixel_values=px)
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(passes):
                m.get_image_features(pixel_values=px)
            torch.cuda.synchronize()
    rows = collections.defaultdict(lambda: [0, 0.0])
    for e in prof.events():
        if e.device_type == torch.autograd.DeviceType.CUDA:
            rows[e.name][0] += 1
            rows[e.name][1] += e.time_range.elapsed_us() / 1e3
    table(f"transformers SDPA {dtype_name} batch {batch}", rows, passes)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["ncu", "torch"])
    ap.add_argument("path")
    ap.add_argument("--passes", type=int, default=1)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--dtype", default="fp16")
    a = ap.parse_args()
    if a.what == "ncu":
        ncu(a.path, a.passes)
    else:
        torch_side(a.path, a.batch, a.dtype, a.passes)


if __name__ == "__main__":
    main()
