#!/usr/bin/env bash
# gpu_attn_ab.sh — on the GPU machine, after bench/gpu.sh wrote its models:
# the image pass with each attention kernel for bidirectional sequences,
# attn_seq (the default) and attn_mma (NEGLABEL_CUDA_ATTN_SEQ=0), in the
# same run: bench_gpu images (fp16, batch 256) and stages (fp16,
# batch 256) per model. JSON lines on stdout, each tagged with the kernel.
# Run by scripts/gpu_run.sh with GPU_RUN_AFTER=scripts/gpu_attn_ab.sh (its
# library path and build folder).
set -u
B=${GPU_BENCH_BUILD:?run from scripts/gpu_run.sh}
M=${GPU_BENCH_WORK:-/tmp/neglabel-gpu-bench}/models
for n in clip-vit-b16 clip-vit-l14; do
  [ -d "$M/$n" ] || { echo "gpu_attn_ab: no $M/$n" >&2; continue; }
  for k in 1 0 1 0; do # twice each, interleaved: the spread between runs of one kernel
    kern=$([ $k = 1 ] && echo attn_seq || echo attn_mma)
    NEGLABEL_CUDA_ATTN_SEQ=$k timeout 60 "$B/bench_gpu" images "$M/$n" --precision fp16 --batch 256 --iters 5 \
      --warmup 0 | sed "s/^{/{\"kernel\":\"$kern\",\"model\":\"$n\",/"
    NEGLABEL_CUDA_ATTN_SEQ=$k timeout 60 "$B/bench_gpu" stages "$M/$n" --precision fp16 --batch 256 --iters 5 |
      sed "s/^{/{\"kernel\":\"$kern\",\"model\":\"$n\",/"
  done
done
