#!/usr/bin/env bash
# gpu_travel.sh — what the device tool sends to a GPU machine, and how to
# make it fit. The tool sends the tracked (and untracked, not ignored) files
# with the carried .gpu/ and refuses more than 64 MB, counted in decimal
# megabytes (2026-12-04: 64.07 MB = 61.1 MiB was refused, 54.9 MB went).
# The tracked test data below is read by no GPU test (checked by `hide`), so
# for a GPU session it can stay behind:
#
#   bash scripts/gpu_travel.sh size     # bytes that would travel now
#   bash scripts/gpu_travel.sh list     # the paths `hide` leaves behind
#   bash scripts/gpu_travel.sh hide     # untrack them in the index and ignore them
#   bash scripts/gpu_travel.sh restore  # track them again (do this before any commit)
#
# `hide` changes the index only (git rm --cached) and .git/info/exclude; the
# files stay in the working tree. A commit made while they are hidden would
# delete them: `restore` first, as the GPU session ends.
set -euo pipefail
cd "$(dirname "$0")/.."
HIDE=(tests/data/ftfy_golden.jsonl tests/data/groupvit tests/data/torchscript tests/data/hf_bin)
# the sources of what runs on the GPU machine (gpu_run.sh: ctest -L gpu, the
# benchmark, the Python GPU tests), which must not read a hidden path
GPU_SOURCES=(tests/test_gpu_*.c tests/test_clip.c tests/test_cli_engine.c tests/test_embed_pixels.c
  tests/test_adaneg.c tests/test_oodd.c tests/cli_gpu.sh tests/cli_gpu_bench.sh tests/cli_openclip.sh
  tests/openclip_ckpt.h python/tests/test_gpu.py python/tests/conftest.py bench/gpu.sh bench/gpu_*.py
  bench/bench_gpu*.c scripts/gpu_run.sh scripts/gpu_attn_ab.sh)
MARK='# gpu_travel.sh hide'
EX=$(git rev-parse --git-path info/exclude)

size() {
  local t g=0
  t=$(git ls-files -z -co --exclude-standard | xargs -0 -r stat -c %s -- 2>/dev/null | awk '{s+=$1} END {print s+0}')
  [ -d .gpu ] && g=$(find .gpu -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
  echo $((t + g))
}
hidden() { grep -qxF "$MARK" "$EX" 2>/dev/null; }

case "${1:-}" in
size)
  b=$(size)
  awk -v b="$b" 'BEGIN { printf "%d bytes (%.2f MB, %.2f MiB) with .gpu/\n", b, b / 1e6, b / 1048576 }'
  hidden && echo "(hidden now: ${HIDE[*]})" || true
  ;;
list) printf '%s\n' "${HIDE[@]}" ;;
hide)
  hidden && { echo "gpu_travel: already hidden" >&2; exit 0; }
  for p in "${HIDE[@]}"; do
    n=$(basename "$p"); n=${n%%.*}
    if grep -l -- "$n" "${GPU_SOURCES[@]}" 2>/dev/null | grep -q .; then
      echo "gpu_travel: $p is named in $(grep -l -- "$n" "${GPU_SOURCES[@]}" | tr '\n' ' '): not hiding it" >&2
      exit 1
    fi
  done
  git rm -r -q --cached -- "${HIDE[@]}"
  mkdir -p "$(dirname "$EX")"
  { echo "$MARK"; for p in "${HIDE[@]}"; do echo "/$p"; done; echo "$MARK end"; } >>"$EX"
  echo "gpu_travel: hidden ${HIDE[*]} (run 'bash scripts/gpu_travel.sh restore' before committing)"
  "$0" size
  ;;
restore)
  hidden || { echo "gpu_travel: nothing hidden" >&2; exit 0; }
  git reset -q HEAD -- "${HIDE[@]}"
  sed -i "/^$MARK\$/,/^$MARK end\$/d" "$EX"
  echo "gpu_travel: restored ${HIDE[*]}"
  git status --short -- "${HIDE[@]}"
  ;;
*) sed -n '2,17p' "$0" >&2; exit 2 ;;
esac
