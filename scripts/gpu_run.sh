#!/usr/bin/env bash
# gpu_run.sh — on a lent GPU machine, from the repository root, with the
# .gpu/ folder made by scripts/gpu_bundle.sh carried along: the GPU tests
# (ctest -L gpu) and the GPU benchmark (bench/gpu.sh), every step
# time-bounded so the whole call fits in ~9 minutes; a short summary last.
#
#   run(command="bash scripts/gpu_run.sh", carry=[".gpu"], timeout_s=600)
#
# Results in $OUT (default ./gpu-out): gpu_run.log (everything), ctest_gpu.log,
# ctest_last.log, gpu_bench.json, gpu_bench.md, gpu_bench.log, pytest_gpu.log.
# Environment: GPU_RUN_TESTS=0/1 (default 1), GPU_RUN_BENCH=0/1 (default 1),
# GPU_RUN_PROFILE=0/1 (default 1: per-kernel tables of one forward, ours
# under ncu and transformers under torch.profiler, in gpu_profile.md),
# GPU_RUN_PYTEST=0/1 (default 1: the Python package's GPU tests after the
# benchmark, in the time it leaves, when the bundle has .gpu/python;
# GPU_PYTEST_TIMEOUT, default 75),
# GPU_RUN_AFTER (a script run after the benchmark, e.g.
# scripts/gpu_attn_ab.sh; GPU_RUN_AFTER_TIMEOUT, default 90),
# GPU_RUN_BUDGET (seconds for everything, default 540), GPU_TEST_TIMEOUT
# (default 180), GPU_TEST_REGEX (ctest -R, to run some gpu tests only),
# and bench/gpu.sh's own variables (GPU_BENCH_*).
set -u
START=$(date +%s)
ROOT=$PWD
[ -d "$ROOT/.gpu" ] || { echo "gpu_run: no .gpu/ here ($ROOT): run scripts/gpu_bundle.sh and carry .gpu" >&2; exit 1; }
export OUT=${OUT:-$ROOT/gpu-out}
mkdir -p "$OUT"
RUNLOG=$OUT/gpu_run.log
exec > >(tee -a "$RUNLOG") 2>&1
TEE_PID=$!
BUDGET=${GPU_RUN_BUDGET:-540}
el() { echo $(( $(date +%s) - START )); }
say() { echo "[gpu_run $(el)s] $*"; }
SUMMARY=()
RC=0
note() { SUMMARY+=("$*"); say "$*"; }

. "$ROOT/.gpu/paths.env"
say "repo $ROOT; built at $BUILD_SRC (commit $BUNDLE_COMMIT, $BUNDLE_DATE, nvcc ${BUNDLE_NVCC:-?})"

# ---- 1. what the bundle packed to fit (lib, shared, lib-compat as DIR.tar.xz)
for a in "$ROOT"/.gpu/*.tar.xz; do
  [ -f "$a" ] || continue
  d=$(basename "$a" .tar.xz)
  [ -d "$ROOT/.gpu/$d" ] && continue
  say "unpacking .gpu/$d.tar.xz"
  tar -C "$ROOT/.gpu" -xJf "$a" 2>/dev/null ||  # no xz here? Python's lzma then
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$a" "$ROOT/.gpu" ||
    note "FAILED to unpack .gpu/$d.tar.xz"
done
export NEGLABEL_SHARED=$ROOT/.gpu/shared
# F16 fixtures the bundle left out (scripts/gpu_rebuild_f16.py), checked by SHA-256
if ls "$ROOT"/.gpu/shared/fixtures/*/*.safetensors.header >/dev/null 2>&1; then
  timeout 60 python3 "$ROOT/scripts/gpu_rebuild_f16.py" "$ROOT/.gpu/shared" || { note "FAILED to rebuild the F16 fixtures"; RC=1; }
fi

# ---- 2. the build-time absolute paths: symbolic links, else rewritten ctest files
[ -e "$ROOT/$BUILD_DIR_NAME" ] || ln -sfn "$ROOT/.gpu/build-gpu" "$ROOT/$BUILD_DIR_NAME"
export GPU_BENCH_BUILD=$ROOT/$BUILD_DIR_NAME
same() { [ "$(readlink -f "$1" 2>/dev/null)" = "$(readlink -f "$2" 2>/dev/null)" ]; }
link() { # link PATH TARGET: PATH -> TARGET unless PATH already is TARGET or is a real folder
  local p=$1 t=$2
  same "$p" "$t" && return 0
  if [ -e "$p" ] && [ ! -L "$p" ]; then return 1; fi
  case "$(readlink -f "$t")/" in "$(readlink -m "$p")/"*) return 1 ;; esac  # p above t: cannot replace
  mkdir -p "$(dirname "$p")" && ln -sfn "$t" "$p" && same "$p" "$t"
}
REWRITE=0
link "$BUILD_SRC" "$ROOT" || REWRITE=1
if [ -n "$BUILD_SHARED" ]; then link "$BUILD_SHARED" "$ROOT/.gpu/shared" || REWRITE=1; fi
if [ "$REWRITE" = 1 ]; then
  note "could not link $BUILD_SRC / $BUILD_SHARED here: rewriting the paths in the ctest files instead"
  find "$ROOT/.gpu/build-gpu" -name CTestTestfile.cmake -print0 | while IFS= read -r -d '' f; do
    sed -i -e "s#${BUILD_SHARED:-/nonexistent-path}#@NL_SHARED@#g" -e "s#$BUILD_SRC#@NL_SRC@#g" \
      -e "s#@NL_SHARED@#$ROOT/.gpu/shared#g" -e "s#@NL_SRC@#$ROOT#g" "$f"
  done
else
  say "links: $BUILD_SRC -> $(readlink -f "$BUILD_SRC"), $BUILD_SHARED -> $(readlink -f "$BUILD_SHARED")"
fi

# ---- 3. libraries: ours first, cuBLAS from this machine, GCC runtime last
find_cublas() {
  local d
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-*/lib64 \
           /usr/local/cuda-*/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu /usr/lib64; do
    [ -e "$d/libcublas.so.13" ] && [ -e "$d/libcublasLt.so.13" ] && { echo "$d"; return 0; }
  done
  local sp
  sp=$(timeout 20 python3 -c 'import site, sys; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null)
  for d in $sp /opt/torch/.venv/lib/python3*/site-packages /usr/local/lib/python3*/dist-packages; do
    [ -d "$d/nvidia" ] || continue
    local f
    f=$(timeout 20 find "$d/nvidia" -name 'libcublas.so.13*' -print -quit 2>/dev/null)
    [ -n "$f" ] && { dirname "$f"; return 0; }
  done
  f=$(timeout 30 find / -xdev -name 'libcublas.so.13*' -not -path '/proc/*' -print -quit 2>/dev/null)
  [ -n "$f" ] && { dirname "$f"; return 0; }
  return 1
}
CUBLAS_DIR=$(find_cublas) || { CUBLAS_DIR=; note "libcublas.so.13 NOT FOUND on this machine"; }
say "cuBLAS: ${CUBLAS_DIR:-none}"
export NL_ORIG_LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}
DRIVER_DIRS=
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do [ -d "$d" ] && DRIVER_DIRS=$DRIVER_DIRS:$d; done
export LD_LIBRARY_PATH=$ROOT/.gpu/lib${CUBLAS_DIR:+:$CUBLAS_DIR}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}$DRIVER_DIRS:$ROOT/.gpu/lib-compat
# .gpu/bin first: its jq goes with the libjq in .gpu/lib (a newer system jq
# would load that older libjq through LD_LIBRARY_PATH and fail)
export PATH=$ROOT/.gpu/bin:$PATH
echo '{"a":1}' | jq -e .a >/dev/null 2>&1 || note "jq ($(command -v jq)) does not run here: the CLI tests will skip"

# ---- 4. the machine
say "machine: $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
timeout 20 nvidia-smi || note "nvidia-smi failed"
timeout 10 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null
command -v nvcc >/dev/null && nvcc --version | tail -n 2
B=$ROOT/$BUILD_DIR_NAME
nf=0
for f in "$B"/neglabel "$B"/bench_gpu "$B"/test_*; do
  [ -x "$f" ] || continue
  m=$(ldd "$f" 2>&1 | grep "not found" | sort -u)
  if [ -n "$m" ]; then nf=1; echo "$(basename "$f"): $m"; fi
done
[ "$nf" = 0 ] && say "ldd: every library found" || note "ldd: some libraries NOT FOUND (above); continuing"
ldd "$B/bench_gpu" | grep -E 'stdc\+\+|gomp|openblas|libz' | sed 's/^/  /'
say "devices as neglabel sees them (\"cublas\": the file it opened):"
timeout 60 "$B/bench_gpu" devices || note "bench_gpu devices FAILED (exit $?)"
# cuBLAS is opened when a GPU is found, not linked: with a GPU, it must be
if [ -x "$B/test_cublas_load" ]; then
  if timeout 60 "$B/test_cublas_load" >/tmp/test_cublas_load.log 2>&1; then
    say "test_cublas_load: $(tail -n 1 /tmp/test_cublas_load.log)"
  else
    note "test_cublas_load FAILED:"; sed 's/^/  /' /tmp/test_cublas_load.log | head -n 20; RC=1
  fi
fi

# ---- 5. GPU tests
CTEST=$(command -v ctest || ls /opt/torch/.venv/bin/ctest 2>/dev/null || true)
if [ "${GPU_RUN_TESTS:-1}" = 1 ]; then
  if [ -z "$CTEST" ]; then
    note "tests: no ctest on this machine"
  else
    tt=${GPU_TEST_TIMEOUT:-180}
    say "tests: $CTEST -L gpu (timeout ${tt}s)"
    set -o pipefail
    timeout -k 10 "$tt" "$CTEST" --test-dir "$B" -L gpu ${GPU_TEST_REGEX:+-R "$GPU_TEST_REGEX"} --output-on-failure \
      2>&1 | tee "$OUT/ctest_gpu.log"
    rc=$?
    set +o pipefail
    [ -f "$B/Testing/Temporary/LastTest.log" ] && tail -c 15000000 "$B/Testing/Temporary/LastTest.log" >"$OUT/ctest_last.log"
    res=$(grep -E 'tests passed|tests failed' "$OUT/ctest_gpu.log" | tail -n 1)
    [ "$rc" = 124 ] || [ "$rc" = 137 ] && res="TIMED OUT after ${tt}s; $res"
    note "tests: exit $rc: ${res:-no summary line}"
    [ "$rc" = 0 ] || RC=1
    while read -r l; do SUMMARY+=("  $l"); done < <(sed -n '/The following tests FAILED/,$p' "$OUT/ctest_gpu.log" | grep -E '^\s+[0-9]+ - ' | head -n 20)
    while read -r l; do SUMMARY+=("  $l"); done < <(grep -E '\*\*\*Skipped|Not Run|Disabled' "$OUT/ctest_gpu.log" | head -n 10)
    if grep -q '\*\*\*Skipped' "$OUT/ctest_gpu.log"; then  # a skipped gpu test on a GPU machine is a problem
      RC=1
      while read -r l; do SUMMARY+=("  why: $l"); done < <(grep -h '^SKIP' "$OUT/ctest_last.log" 2>/dev/null | sort | uniq -c | head -n 3)
    fi
    # A failed C test program once more under compute-sanitizer (memcheck),
    # at most two of them, GPU_SANITIZE_TIMEOUT seconds each (default 60):
    # its first errors go to this log (the machine keeps nothing).
    CS=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
    ns=0
    for t in $(sed -n '/The following tests FAILED/,$p' "$OUT/ctest_gpu.log" | grep -oE ' - (test_[a-z_]+)' | sed 's/ - //'); do
      [ -n "$CS" ] && [ "$ns" -lt 2 ] || break
      exe=${t%_gpu}; envs=()
      [ "$exe" != "$t" ] && envs=(NEGLABEL_DEVICE=cuda NEGLABEL_PRECISION=fp32)
      [ -x "$B/$exe" ] || continue
      ns=$((ns + 1))
      say "compute-sanitizer memcheck on $t ($exe), ${GPU_SANITIZE_TIMEOUT:-60}s at most:"
      env "${envs[@]}" NEGLABEL_BUILD="$B" NEGLABEL_SRC="$ROOT" NEGLABEL_BIN="$B/neglabel" \
        timeout -k 5 "${GPU_SANITIZE_TIMEOUT:-60}" "$CS" --tool memcheck --print-limit 10 "$B/$exe" 2>&1 |
        grep -vE '^(ok|PASS) ' | head -n 80
    done
  fi
fi

# ---- 5b. per-kernel profile of one forward (GPU_RUN_PROFILE=1): neglabel
# under Nsight Compute (kernel durations only), transformers under
# torch.profiler; ViT-B/16 shapes, fp16, batch 256; tables in gpu_profile.md
# (about 40 s on an H200)
if [ "${GPU_RUN_PROFILE:-1}" = 1 ]; then
  NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -n 1)
  PW=/tmp/nl-profile; mkdir -p "$PW"
  PYO=(env "LD_LIBRARY_PATH=$NL_ORIG_LD_LIBRARY_PATH" python3)
  PM=$PW/models/clip-vit-b16
  say "profile: random ViT-B/16 checkpoint"
  timeout 120 "${PYO[@]}" bench/gpu_models.py --out "$PW/models" --tokenizer "$NEGLABEL_SHARED/clip-tokenizer" \
    --models b16 --pixels "$PW/pixels.npy" >"$PW/gen.log" 2>&1 || { note "profile: model generation failed"; tail -n 5 "$PW/gen.log"; }
  : >"$OUT/gpu_profile.md"
  if [ -z "$NCU" ]; then
    note "profile: no ncu on this machine"
  elif [ -d "$PM" ]; then
    for pr in fp16 fp32; do
      say "profile: ncu on bench_gpu images ($pr, batch 256: 3 forwards)"
      timeout 150 "$NCU" --clock-control none --metrics gpu__time_duration.sum --csv --log-file "$PW/img_$pr.csv" \
        "$B/bench_gpu" images "$PM" --precision $pr --batch 256 --iters 1 --warmup 0 >"$PW/ncu_$pr.out" 2>&1 ||
        { note "profile: ncu images $pr failed (exit $?)"; tail -n 8 "$PW/ncu_$pr.out"; }
      "${PYO[@]}" bench/gpu_profile.py ncu "$PW/img_$pr.csv" --passes 3 >>"$OUT/gpu_profile.md" 2>&1
      [ $pr = fp16 ] && [ "${GPU_PROFILE_FP32:-0}" = 0 ] && break
    done
    say "profile: ncu on bench_gpu texts (fp16, 8,192 NegLabel prompts after 256 warm-up)"
    timeout 60 "$B/bench_gpu" prompts "$PM" --lists "$NEGLABEL_SHARED/neglabel-reference/txtfiles" --out "$PW/p" >/dev/null 2>&1
    shuf -n 8192 --random-source=<(yes) "$PW/p.txt" >"$PW/p8k.txt" 2>/dev/null || head -n 8192 "$PW/p.txt" >"$PW/p8k.txt"
    timeout 120 "$NCU" --clock-control none --metrics gpu__time_duration.sum --csv --log-file "$PW/txt.csv" \
      "$B/bench_gpu" texts "$PM" --prompts "$PW/p8k.txt" --precision fp16 >"$PW/ncu_txt.out" 2>&1 ||
      { note "profile: ncu texts failed"; tail -n 8 "$PW/ncu_txt.out"; }
    grep '^{' "$PW/ncu_txt.out" | head -n 2
    "${PYO[@]}" bench/gpu_profile.py ncu "$PW/txt.csv" --passes 1 >>"$OUT/gpu_profile.md" 2>&1
  fi
  if [ -d "$PM" ]; then
    say "profile: transformers under torch.profiler"
    timeout 120 "${PYO[@]}" bench/gpu_profile.py torch "$PM" --batch 256 --dtype fp16 --passes 3 >>"$OUT/gpu_profile.md" 2>&1 ||
      note "profile: torch.profiler failed"
  fi
  say "profile: done"
fi

# ---- 6. benchmark (first: the Python tests get what time it leaves)
PYRES=0
[ "${GPU_RUN_PYTEST:-1}" = 1 ] && [ -d "$ROOT/.gpu/python/neglabel" ] && PYRES=${GPU_PYTEST_TIMEOUT:-75}
if [ "${GPU_RUN_BENCH:-1}" = 1 ]; then
  AFTER_RES=0; [ -n "${GPU_RUN_AFTER:-}" ] && AFTER_RES=${GPU_RUN_AFTER_TIMEOUT:-90}
  bl=$(( BUDGET - $(el) - 15 - AFTER_RES ))
  if [ "$bl" -lt 90 ]; then
    note "bench: skipped, only ${bl}s left"
  else
    export GPU_BENCH_BUDGET=$(( bl - 10 ))
    say "bench: bash bench/gpu.sh (budget ${GPU_BENCH_BUDGET}s)"
    # .gpu/pylib: open_clip for the benchmark's ResNet rows (gpu_bundle.sh)
    PYTHONPATH=$ROOT/.gpu/pylib${PYTHONPATH:+:$PYTHONPATH} timeout -k 10 "$bl" bash bench/gpu.sh
    rc=$?
    note "bench: exit $rc$([ "$rc" = 124 ] && echo ' (timed out)')"
    [ "$rc" = 0 ] || RC=1
  fi
fi

# ---- 6b. GPU_RUN_AFTER: one more script, in this environment (library path,
# GPU_BENCH_BUILD; the benchmark's models in its work folder), its output in
# after.log; GPU_RUN_AFTER_TIMEOUT seconds at most (default 90)
if [ -n "${GPU_RUN_AFTER:-}" ]; then
  say "after: bash $GPU_RUN_AFTER"
  set -o pipefail
  timeout -k 5 "${GPU_RUN_AFTER_TIMEOUT:-90}" bash "$GPU_RUN_AFTER" 2>&1 | tee "$OUT/after.log"
  rc=$?
  set +o pipefail
  note "after ($GPU_RUN_AFTER): exit $rc"
fi

# ---- 7. the Python package on the GPU (python/tests/test_gpu.py, marked gpu)
if [ "$PYRES" -gt 0 ]; then
  pl=$(( BUDGET - $(el) - 5 ))
  [ "$pl" -gt "$PYRES" ] && pl=$PYRES
  if [ "$pl" -lt 20 ]; then
    note "python tests: skipped, only ${pl}s left (GPU_RUN_TESTS=0 GPU_RUN_BENCH=0 runs them alone)"
  else
    say "python tests: python3 -m pytest python/tests/test_gpu.py (timeout ${pl}s)"
    set -o pipefail
    NEGLABEL_GPU_TESTS=1 NEGLABEL_NO_SKIP=1 PYTHONPATH=$ROOT/.gpu/python${PYTHONPATH:+:$PYTHONPATH} \
      NEGLABEL_BIN=$B/neglabel PYTHONDONTWRITEBYTECODE=1 \
      timeout -k 5 "$pl" python3 -m pytest -q -rs -p no:cacheprovider python/tests/test_gpu.py 2>&1 |
      tee "$OUT/pytest_gpu.log"
    rc=$?
    set +o pipefail
    res=$(grep -E '[0-9]+ (passed|failed|errors?) ' "$OUT/pytest_gpu.log" | tail -n 1)
    [ "$rc" = 124 ] || [ "$rc" = 137 ] && res="TIMED OUT after ${pl}s; $res"
    note "python tests: exit $rc: ${res:-no summary line}"
    [ "$rc" = 0 ] || RC=1
    while read -r l; do SUMMARY+=("  $l"); done < <(grep -E '^FAILED' "$OUT/pytest_gpu.log" | head -n 10)
  fi
fi

# ---- 8. summary (the tool returns the last 12,000 characters)
echo
echo "================================ summary ($(el)s) ================================"
[ -s "$OUT/gpu_profile.md" ] && cat "$OUT/gpu_profile.md"
[ -f "$OUT/gpu_bench.md" ] && cat "$OUT/gpu_bench.md"
echo
for l in "${SUMMARY[@]}"; do echo "$l"; done
echo "files in \$OUT: $(cd "$OUT" && ls | tr '\n' ' ')"
exec >&- 2>&-
wait "$TEE_PID" 2>/dev/null
exit $RC
