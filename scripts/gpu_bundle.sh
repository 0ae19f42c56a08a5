#!/usr/bin/env bash
# gpu_bundle.sh — build the CUDA configuration here and pack what a lent GPU
# machine (no network, none of our Debian libraries, a newer glibc) needs to
# run the GPU tests and benchmarks, into the git-ignored folder .gpu/:
#
#   .gpu/build-gpu/   the binaries (stripped) and CTestTestfile.cmake files
#                     of build-gpu, nothing else
#   .gpu/lib/         the shared libraries they need that such a machine lacks
#                     (jansson, pcre2, utf8proc, libjpeg-turbo, libpng, libwebp,
#                     OpenBLAS); not glibc's own, not the NVIDIA driver's, not
#                     cuBLAS/cuBLASLt (taken from the GPU machine)
#   .gpu/lib-compat/  GCC's runtime and zlib: every machine has them, newer;
#                     used only where it has none (last on the search path)
#   .gpu/bin/         jq (the CLI tests use it), with its libraries in lib/
#   .gpu/python/      the Python package (python/neglabel + the extension,
#                     built for Python 3.12, the GPU machine's), when a
#                     Python 3.12 with headers is found here
#   .gpu/shared/      the part of ../shared the tests and benchmark read
#   .gpu/pylib/       the pure-Python packages the benchmark's PyTorch side needs
#                     and the GPU machine lacks (open_clip for the ResNet
#                     rows, and ftfy, wcwidth it imports), pinned, from PyPI
#                     here; skipped with a warning when PyPI is unreachable
#   (when space is short, lib/, shared/ and lib-compat/ are packed, in that
#   order, as .gpu/DIR.tar.xz, which gpu_run.sh unpacks; then only the
#   programs of the gpu-labelled tests are kept; then build-gpu/ is packed)
#   .gpu/paths.env    the absolute paths baked into the ctest files
#
# Then on the GPU machine: scripts/gpu_run.sh (one `run` call, carry [".gpu"]).
# Fails when what travels (tracked and untracked-not-ignored files + .gpu)
# would exceed GPU_BUNDLE_LIMIT_MB (default 60, decimal megabytes, of the
# device tool's 64 MB for everything that travels: 54.9 went through, 64.07
# was refused; packed with xz -9e),
# even with the tracked test data no GPU test reads left behind
# (scripts/gpu_travel.sh hide: it says when that is needed). Environment:
# NEGLABEL_SHARED (default ../shared), GPU_BUNDLE_EXTRA_SHARED (more paths
# under shared/, space-separated), GPU_BUNDLE_BUILD (default build-gpu).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${GPU_BUNDLE_BUILD:-build-gpu}
LIMIT_MB=${GPU_BUNDLE_LIMIT_MB:-60}
SHARED=${NEGLABEL_SHARED:-$ROOT/../shared}
G=$ROOT/.gpu
say() { echo "gpu_bundle: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

[ -f "$SHARED/README.md" ] || die "reference data not found at $SHARED (set NEGLABEL_SHARED)"
SHARED=$(cd "$SHARED" && pwd)

# ---- 1. build
# The Python extension too, for the GPU machine's python3 (3.12: cp312), when
# a Python 3.12 with its headers is found here (python/tests/test_gpu.py
# runs there); GPU_BUNDLE_PYTHON names one, GPU_BUNDLE_PYTHON=none skips it.
PY=${GPU_BUNDLE_PYTHON:-}
if [ -z "$PY" ]; then
  for c in "$(command -v python3.12 || true)" /root/.pyenv/versions/3.12*/bin/python3.12 /usr/bin/python3.12; do
    [ -n "$c" ] && [ -x "$c" ] && "$c" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))' 2>/dev/null &&
      { PY=$c; break; }
  done
fi
[ "$PY" = none ] && PY=
PYOPT=(-DNEGLABEL_PYTHON=OFF)
if [ -n "$PY" ]; then
  PYOPT=(-DNEGLABEL_PYTHON=ON "-DPython_EXECUTABLE=$PY")
  say "Python extension for $("$PY" -c 'import sys; print("cp%d%d" % sys.version_info[:2])') ($PY)"
else
  say "warning: no Python 3.12 with headers here: the bundle has no Python extension (test_gpu.py will not run)"
fi
if [ -f "$BUILD/CMakeCache.txt" ] && grep -q '^NEGLABEL_CUDA:STRING=ON$' "$BUILD/CMakeCache.txt"; then
  say "reusing $BUILD"
  cmake -S . -B "$BUILD" "${PYOPT[@]}" >/dev/null
else
  cmake -S . -B "$BUILD" -DNEGLABEL_CUDA=ON -DCMAKE_BUILD_TYPE=Release "${PYOPT[@]}"
fi
cmake --build "$BUILD" -j "$(nproc)"
[ -x "$BUILD/bench_gpu" ] || die "$BUILD/bench_gpu was not built (is the CUDA backend on? see cmake's 'CUDA backend:' line)"
[ -x "$BUILD/neglabel" ] || die "$BUILD/neglabel was not built"

# ---- 2. binaries and ctest files
rm -rf "$G"
mkdir -p "$G/build-gpu" "$G/lib" "$G/lib-compat" "$G/bin"
BINS=()
for f in "$BUILD"/neglabel "$BUILD"/bench_gpu "$BUILD"/test_*; do
  [ -f "$f" ] && [ -x "$f" ] && BINS+=("$f")
done
for f in "${BINS[@]}"; do
  cp "$f" "$G/build-gpu/"
  strip "$G/build-gpu/$(basename "$f")" 2>/dev/null || say "warning: could not strip $(basename "$f")"
done
(cd "$BUILD" && find . -name CTestTestfile.cmake -print0) | while IFS= read -r -d '' f; do
  mkdir -p "$G/build-gpu/$(dirname "$f")"
  cp "$BUILD/$f" "$G/build-gpu/$f"
done
[ -f "$G/build-gpu/CTestTestfile.cmake" ] || die "no CTestTestfile.cmake in $BUILD"
# the Python package: python/neglabel and the extension beside it
if [ -n "$PY" ]; then
  ext=$(ls "$BUILD"/_neglabel.cpython-*.so 2>/dev/null | head -n 1)
  [ -n "$ext" ] || die "the Python extension was not built in $BUILD"
  mkdir -p "$G/python"
  cp -R python/neglabel "$G/python/"
  rm -rf "$G/python/neglabel/__pycache__"
  cp "$ext" "$G/python/neglabel/"
  strip --strip-unneeded "$G/python/neglabel/$(basename "$ext")" 2>/dev/null || say "warning: could not strip $(basename "$ext")"
  BINS+=("$ext")
fi

# ---- 3. the absolute paths ctest will use
CT=$G/build-gpu/CTestTestfile.cmake
val() { { grep -o "$1=[^;\"]*" "$CT" || true; } | head -n 1 | cut -d= -f2-; }
# the tests read NEGLABEL_SHARED when they run (gpu_run.sh exports it) and
# fall back to NEGLABEL_SHARED_DEFAULT, the folder found when configuring
B_SRC=$(val NEGLABEL_SRC); B_SHARED=$(val NEGLABEL_SHARED_DEFAULT); B_BUILD=$(val NEGLABEL_BUILD)
[ -n "$B_SRC" ] && [ -n "$B_BUILD" ] || die "cannot read NEGLABEL_SRC/NEGLABEL_BUILD from $CT"
[ "$B_BUILD" = "$B_SRC/$(basename "$B_BUILD")" ] || die "build folder $B_BUILD is not directly in $B_SRC"
{
  echo "BUILD_SRC='$B_SRC'"
  echo "BUILD_SHARED='$B_SHARED'"
  echo "BUILD_DIR='$B_BUILD'"
  echo "BUILD_DIR_NAME='$(basename "$B_BUILD")'"
  echo "BUNDLE_DATE='$(date -u +%FT%TZ)'"
  echo "BUNDLE_COMMIT='$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo '+dirty')'"
  echo "BUNDLE_NVCC='$(grep -ho 'CMAKE_CUDA_COMPILER_VERSION "[^"]*' "$BUILD"/CMakeFiles/*/CMakeCUDACompiler.cmake 2>/dev/null | head -n 1 | cut -d'"' -f2)'"
} >"$G/paths.env"

# ---- 4. shared libraries
# glibc's own, the driver's and cuBLAS stay behind; GCC's runtime and zlib go
# to lib-compat (searched last, so the GPU machine's newer ones win).
skip_re='^(linux-vdso|linux-gate|ld-linux|libc\.so|libm\.so|libmvec\.so|libpthread\.so|libdl\.so|librt\.so|libutil\.so|libresolv\.so|libanl\.so|libcuda\.so|libnvidia|libcublas\.so|libcublasLt\.so|libcudart\.so)'
compat_re='^(libstdc\+\+\.so|libgcc_s\.so|libgomp\.so|libgfortran\.so|libquadmath\.so|libz\.so|libatomic\.so)'
JQ=$(command -v jq || true)
[ -n "$JQ" ] && { cp "$JQ" "$G/bin/jq"; strip "$G/bin/jq" 2>/dev/null || true; }
LDD_IN=("${BINS[@]}"); [ -n "$JQ" ] && LDD_IN+=("$JQ")
missing=0
for f in "${LDD_IN[@]}"; do
  ldd "$f" | while read -r name arrow path _; do
    [ "$arrow" = "=>" ] || continue
    [[ $name =~ $skip_re ]] && continue
    if [ "$path" = "not" ]; then echo "MISSING $name ($f)"; continue; fi
    if [[ $name =~ $compat_re ]]; then dst=$G/lib-compat/$name; else dst=$G/lib/$name; fi
    [ -e "$dst" ] || { cp -L "$path" "$dst"; strip --strip-unneeded "$dst" 2>/dev/null || true; }
  done
done | sort -u | tee "$G/ldd-missing.txt" | while read -r l; do say "$l"; done
[ -s "$G/ldd-missing.txt" ] && missing=1
rm -f "$G/ldd-missing.txt"
[ "$missing" -eq 0 ] || die "some libraries could not be resolved here (above)"

# ---- 5. reference data
SHARED_PATHS=(README.md fixtures/tiny-clip fixtures/preprocess fixtures/images fixtures/tokenizer
  clip-tokenizer/vocab.json clip-tokenizer/merges.txt neglabel-reference ${GPU_BUNDLE_EXTRA_SHARED:-})
for p in "${SHARED_PATHS[@]}"; do
  [ -e "$SHARED/$p" ] || die "$SHARED/$p not found"
  mkdir -p "$G/shared/$(dirname "$p")"
  cp -R "$SHARED/$p" "$G/shared/$p"
done
# the Python GPU tests read a few CIFAR-10 test images per class (of 1,000)
if [ -n "$PY" ]; then
  for d in "$SHARED"/data/cifar10-test/*/; do
    c=$(basename "$d")
    mkdir -p "$G/shared/data/cifar10-test/$c"
    imgs=("$d"*.jpg) # sorted by the glob; no pipe into head (SIGPIPE under pipefail)
    cp -t "$G/shared/data/cifar10-test/$c/" "${imgs[@]:0:16}"
  done
fi
chmod -R u+w "$G/shared"
# The fixture's F16 weights are its F32 weights cast (7.6 MB that xz cannot
# shrink): left out, with their header and SHA-256, and rebuilt by gpu_run.sh
# (scripts/gpu_rebuild_f16.py); kept when no Python with numpy is found here
# or the file is not that cast.
NPY=
for c in python3 "$ROOT/.venv-py/bin/python" "$ROOT/.venv-test/bin/python" ${PY:+"$PY"}; do
  "$c" -c 'import numpy' 2>/dev/null && { NPY=$c; break; }
done
f16=$G/shared/fixtures/tiny-clip/model-f16.safetensors
if [ -z "$NPY" ]; then
  say "warning: no Python with numpy here: $f16 travels whole"
elif "$NPY" scripts/gpu_rebuild_f16.py --strip "$f16"; then
  say "fixtures/tiny-clip/model-f16.safetensors: left out, rebuilt on the GPU machine from the F32 file"
fi
# pure-Python wheels for bench/gpu_torch.py's ResNet rows (torch, torchvision
# and regex are on the GPU machine already: transformers and timm need them)
PYLIB_PKGS=${GPU_BUNDLE_PYLIB:-open_clip_torch==3.3.0 ftfy==6.3.1 wcwidth==0.2.13}
if [ -n "$PYLIB_PKGS" ]; then
  wd=$(mktemp -d)
  # shellcheck disable=SC2086
  if timeout 120 python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary :all: \
       --python-version 3.12 -d "$wd" $PYLIB_PKGS >"$wd/log" 2>&1; then
    mkdir -p "$G/pylib"
    for w in "$wd"/*.whl; do python3 -m zipfile -e "$w" "$G/pylib/"; done
    rm -rf "$G/pylib/open_clip_train"  # training code: not imported
    find "$G/pylib" -name '__pycache__' -prune -exec rm -rf {} +
    say "pylib: $(cd "$wd" && ls *.whl | tr '\n' ' ')"
  else
    say "warning: could not download $PYLIB_PKGS (no PyPI here?): the benchmark's ResNet rows will have no PyTorch side"
    sed 's/^/  /' "$wd/log" | tail -n 3 >&2
  fi
  rm -rf "$wd"
fi

# ---- 6. size of what travels
travel_bytes() {
  local t g
  t=$(git ls-files -z -co --exclude-standard | xargs -0 -r stat -c %s -- 2>/dev/null | awk '{s+=$1} END {print s+0}')
  g=$(find "$G" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
  echo $(( t + g ))
}
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; } # decimal MB, as the tool counts
limit=$(( LIMIT_MB * 1000000 ))
total=$(travel_bytes)
say "travels: $(mib "$total") MB (.gpu: build $(du -sh "$G/build-gpu" | cut -f1), lib $(du -sh "$G/lib" | cut -f1), lib-compat $(du -sh "$G/lib-compat" | cut -f1), shared $(du -sh "$G/shared" | cut -f1))"

pack() { # pack DIR: .gpu/DIR -> .gpu/DIR.tar.xz (gpu_run.sh unpacks it)
  tar -C "$G" -cf - "$1" | xz -T0 -9e >"$G/$1.tar.xz"
  rm -rf "${G:?}/$1"
  total=$(travel_bytes)
  say "over ${LIMIT_MB} MB: $1/ packed to $(du -sh "$G/$1.tar.xz" | cut -f1); travels: $(mib "$total") MB"
}
# a) OpenBLAS alone is ~36 MB and packs to ~4
[ "$total" -gt "$limit" ] && pack lib
# b) the reference data packs from 45 to ~30 MB
[ "$total" -gt "$limit" ] && pack shared
[ "$total" -gt "$limit" ] && pack lib-compat
[ "$total" -gt "$limit" ] && [ -d "$G/pylib" ] && pack pylib
# the Python extension (~5 MB, the whole library inside) packs to ~1.5
[ "$total" -gt "$limit" ] && [ -d "$G/python" ] && pack python
if [ "$total" -gt "$limit" ]; then
  # c) keep only the test programs of the gpu-labelled tests
  keep=$(ctest --test-dir "$BUILD" -N -L gpu --show-only=json-v1 2>/dev/null |
    python3 -c 'import json,sys,os; d=json.load(sys.stdin); print("\n".join(sorted({os.path.basename(t["command"][0]) for t in d.get("tests",[]) if t.get("command")})))' || true)
  # and the helpers that gpu-labelled scripts call: cli_openclip.sh (run as
  # cli_openclip_gpu) writes its checkpoints with test_openclip; and
  # test_cublas_load, which gpu_run.sh runs on its own (cuBLAS opened once a
  # GPU is found)
  keep=$(printf '%s\n' "$keep" test_openclip test_cublas_load)
  say "over ${LIMIT_MB} MB: keeping only the gpu-labelled tests' programs: $(echo $keep)"
  for f in "$G"/build-gpu/test_*; do
    b=$(basename "$f")
    grep -qx "$b" <<<"$keep" || rm -f "$f"
  done
  total=$(travel_bytes)
  say "travels: $(mib "$total") MB"
fi
# d) the programs themselves (CUDA fatbins for sm_80 and sm_90 pack ~3x)
[ "$total" -gt "$limit" ] && pack build-gpu
HIDE_NOTE=
if [ "$total" -gt "$limit" ]; then
  # e) the tracked test data no GPU test reads, left behind for the session
  hb=$(bash scripts/gpu_travel.sh list | tr '\n' '\0' | xargs -0 -r git ls-files -z -- | xargs -0 -r stat -c %s -- | awk '{s+=$1} END {print s+0}')
  [ $((total - hb)) -le "$limit" ] || die "what travels is $(mib "$total") MB, over ${LIMIT_MB} MB (and $(mib $((total - hb))) MB without the test data scripts/gpu_travel.sh can leave behind)"
  total=$((total - hb))
  HIDE_NOTE=1
fi
say "ready: .gpu ($(du -sh "$G" | cut -f1)); total $(mib "$total") MB of the tool's 64"
if [ -n "$HIDE_NOTE" ]; then
  say "ONLY WITH the test data that no GPU test reads left behind: first 'bash scripts/gpu_travel.sh hide',"
  say "after the session 'bash scripts/gpu_travel.sh restore' (before any commit)"
fi
say "on the GPU machine: run(command=\"bash scripts/gpu_run.sh\", carry=[\".gpu\"], timeout_s=600)"
