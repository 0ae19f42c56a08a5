#!/usr/bin/env bash
# gpu.sh — the GPU benchmark: neglabel's CUDA engine (bench_gpu) against
# PyTorch/transformers on the same GPU and the same random-weight
# checkpoints with the shapes of OpenAI's CLIP ViT-B/16 and ViT-L/14, and
# RN50 against open_clip (GPU_BENCH_RESNET below).
# Self-contained for a machine without network: needs nvcc + cuBLAS (only
# when build-gpu must be built), python3 with torch, transformers,
# safetensors, numpy and pillow (and open_clip for the ResNet rows' PyTorch
# side: scripts/gpu_bundle.sh carries it), and CLIP's tokenizer files
# ($NEGLABEL_SHARED/clip-tokenizer) and the NegLabel word lists
# ($NEGLABEL_SHARED/neglabel-reference/txtfiles).
#
#   bash bench/gpu.sh            # table on stdout; $OUT/gpu_bench.{json,md,log}
#                                # (bench/out/ when OUT is unset)
#
# Environment: GPU_BENCH_BUDGET (seconds for the whole script, default 420),
# GPU_BENCH_WORK (scratch, default /tmp/neglabel-gpu-bench: models, images and
# intermediate files; kept, so a rerun skips generation), GPU_BENCH_MODELS
# (default b16,l14), GPU_BENCH_IMAGES (JPEG count, default 4000),
# GPU_BENCH_ITERS (timed passes, default 5), GPU_BENCH_COMPILE (batches for
# the torch.compile rows, default 256; empty: none), GPU_BENCH_RESNET (an
# OpenCLIP ResNet for the ResNet rows, written by the build's test_openclip
# from tests/openclip_ckpt.h: rn50 by default, rn101, or empty for none; the
# PyTorch side is open_clip's model and needs open_clip, else those cells stay
# empty and the table says why), PYTHON (default python3).
# When LD_LIBRARY_PATH was set for our binaries (scripts/gpu_run.sh),
# NL_ORIG_LD_LIBRARY_PATH holds the one Python gets.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
START=$(date +%s)
BUDGET=${GPU_BENCH_BUDGET:-420}
OUTDIR=${OUT:-$ROOT/bench/out}
WORK=${GPU_BENCH_WORK:-/tmp/neglabel-gpu-bench}
PY=${PYTHON:-python3}
ITERS=${GPU_BENCH_ITERS:-5}
NIMG=${GPU_BENCH_IMAGES:-4000}
MODELS=${GPU_BENCH_MODELS:-b16,l14}
COMPILE=${GPU_BENCH_COMPILE-256}
RESNET=${GPU_BENCH_RESNET-rn50}
mkdir -p "$OUTDIR" "$WORK" || exit 1
LOG=$OUTDIR/gpu_bench.log
OURS=$WORK/ours.jsonl
TORCHJ=$WORK/torch.json
STEPS=$WORK/steps.jsonl
: >"$OURS"; : >"$STEPS"; rm -f "$TORCHJ"
# outputs of an earlier run (models, pixels and JPEGs are kept: same seeds)
rm -f "$WORK"/cos_*.npy "$WORK"/texts_*.npy "$WORK"/prompts*
export PYTHONUNBUFFERED=1 TQDM_DISABLE=1 HF_HUB_DISABLE_PROGRESS_BARS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

say() { echo "[gpu.sh $(( $(date +%s) - START ))s] $*" | tee -a "$LOG" >&2; }
left() { echo $(( BUDGET - ($(date +%s) - START) )); }

# Python with the library path it had before our libraries were put first
# (Debian's zlib or libgomp must not shadow the ones torch was built with).
if [ -n "${NL_ORIG_LD_LIBRARY_PATH+x}" ]; then PYCMD=(env "LD_LIBRARY_PATH=$NL_ORIG_LD_LIBRARY_PATH" "$PY")
else PYCMD=("$PY"); fi

# step NAME MAX_SECONDS RESERVE_SECONDS CMD...: run CMD with a timeout of
# min(MAX, time left - RESERVE), stdout appended to the log (and to ours.jsonl
# when NAME starts with "ours:"), record the exit status.
step() {
  local name=$1 max=$2 reserve=$3; shift 3
  local l; l=$(( $(left) - reserve ))
  [ "$l" -lt "$max" ] && max=$l
  if [ "$max" -lt 5 ]; then
    say "SKIP $name: no time left"
    printf '{"step":"%s","rc":null,"skipped":true}\n' "$name" >>"$STEPS"
    return 1
  fi
  say "$name (timeout ${max}s): $*"
  local t0 rc; t0=$(date +%s)
  if [[ $name == ours:* ]]; then
    timeout -k 5 "$max" "$@" 2>>"$LOG" | tee -a "$OURS" "$LOG" >&2
    rc=${PIPESTATUS[0]}
  else
    timeout -k 5 "$max" "$@" >>"$LOG" 2>&1
    rc=$?
  fi
  say "$name: exit $rc, $(( $(date +%s) - t0 ))s"
  printf '{"step":"%s","rc":%d,"seconds":%d}\n' "$name" "$rc" "$(( $(date +%s) - t0 ))" >>"$STEPS"
  return $rc
}

say "start: budget ${BUDGET}s, work $WORK, out $OUTDIR"

# ---- shared data
SHARED=${NEGLABEL_SHARED:-}
if [ -z "$SHARED" ]; then
  for d in "$ROOT/.gpu/shared" "$ROOT/../shared"; do
    [ -f "$d/README.md" ] && { SHARED=$d; break; }
  done
fi
TOK=$SHARED/clip-tokenizer
LISTS=$SHARED/neglabel-reference/txtfiles
if [ ! -f "$TOK/vocab.json" ] || [ ! -d "$LISTS" ]; then
  say "FATAL: tokenizer files or word lists not found under '$SHARED' (set NEGLABEL_SHARED)"; exit 1
fi

# ---- our binary
BUILD=${GPU_BENCH_BUILD:-$ROOT/build-gpu}
BIN=$BUILD/bench_gpu
if [ ! -x "$BIN" ]; then
  say "building $BUILD (no bench_gpu there)"
  { cmake -S "$ROOT" -B "$BUILD" -DNEGLABEL_CUDA=ON -DCMAKE_BUILD_TYPE=Release &&
    cmake --build "$BUILD" -j "$(nproc)" --target bench_gpu; } >>"$LOG" 2>&1 || { say "FATAL: build failed (see $LOG)"; exit 1; }
fi

# ---- inputs: checkpoints, pixels, JPEGs, prompts
M=$WORK/models
# the models first, whatever the budget: every later step needs them (a
# budget under ~220 s used to time this step out after a few seconds)
step gen:models 150 20 "${PYCMD[@]}" bench/gpu_models.py --out "$M" --tokenizer "$TOK" --models "$MODELS" \
  --pixels "$WORK/pixels.npy" || say "model generation failed"
step gen:images 90 200 "${PYCMD[@]}" bench/gpu_images.py --out "$WORK/images" --n "$NIMG" || say "image generation failed"
NAMES=()
[[ ,$MODELS, == *,b16,* ]] && NAMES+=(clip-vit-b16)
[[ ,$MODELS, == *,l14,* ]] && NAMES+=(clip-vit-l14)
[ ${#NAMES[@]} -gt 0 ] || { say "FATAL: GPU_BENCH_MODELS='$MODELS' names neither b16 nor l14"; exit 1; }
FIRST=$M/${NAMES[0]}

# an OpenCLIP ResNet (random weights, full RN50 shapes): the build's test helper writes it
RN=
if [ -n "$RESNET" ]; then
  TOC=$BUILD/test_openclip
  if [ ! -x "$TOC" ] && command -v cmake >/dev/null; then
    say "building test_openclip (writes the ResNet checkpoint)"
    cmake --build "$BUILD" -j "$(nproc)" --target test_openclip >>"$LOG" 2>&1
  fi
  if [ ! -x "$TOC" ]; then
    say "no $TOC: no ResNet rows"
  elif [ -f "$M/clip-$RESNET/open_clip_model.safetensors" ] ||
       { step gen:resnet 60 200 "$TOC" --write "$M/clip-$RESNET" "$RESNET" f16 &&
         cp "$TOK/vocab.json" "$TOK/merges.txt" "$M/clip-$RESNET/"; }; then
    RN=$M/clip-$RESNET
  else
    rm -rf "$M/clip-$RESNET"; say "ResNet checkpoint not written: no ResNet rows"
  fi
fi

step ours:devices 30 150 "$BIN" devices
step ours:prompts 60 150 "$BIN" prompts "$FIRST" --lists "$LISTS" --out "$WORK/prompts"

# ---- neglabel
for n in "${NAMES[@]}"; do
  step "ours:images:$n" 120 150 "$BIN" images "$M/$n" --precision fp16,bf16 --batch 256,1024 --iters "$ITERS" --warmup 0
done
[ -n "$RN" ] && step "ours:images:clip-$RESNET" 90 150 "$BIN" images "$RN" --precision fp16,bf16 --batch 256,1024 \
  --iters "$ITERS" --warmup 0
for n in "${NAMES[@]}"; do
  step "ours:stages:$n" 60 150 "$BIN" stages "$M/$n" --precision fp16 --batch 256 --iters "$ITERS"
done
for n in "${NAMES[@]}"; do
  step "ours:texts:$n" 90 150 "$BIN" texts "$M/$n" --prompts "$WORK/prompts.txt" --precision fp16 \
    --save 1024 --out "$WORK/texts_${n}_ours_fp16"
done
step ours:minescore 180 150 "$BIN" minescore --cpu --adaneg-img 20000 --oodd-img 60000
for n in "${NAMES[@]}"; do
  step "ours:e2e:$n" 90 150 "$BIN" e2e "$M/$n" --images "$WORK/images" --precision fp16
done
for n in "${NAMES[@]}"; do
  cn=64; [ "$n" = clip-vit-l14 ] && cn=16
  step "ours:cosine:$n" 90 150 "$BIN" cosine "$M/$n" --pixels "$WORK/pixels.npy" --n "$cn" --out "$WORK/cos_$n"
done

[ -n "$RN" ] && step "ours:cosine:clip-$RESNET" 90 150 "$BIN" cosine "$RN" --pixels "$WORK/pixels.npy" --n 64 \
  --out "$WORK/cos_clip-$RESNET"

# ---- PyTorch / transformers (its own budget: what is left, less the table)
TB=$(( $(left) - 25 ))
step torch "$TB" 15 "${PYCMD[@]}" bench/gpu_torch.py --models "$M" --names "$(IFS=,; echo "${NAMES[*]}")" --work "$WORK" \
  --pixels "$WORK/pixels.npy" --prompts "$WORK/prompts" --out "$TORCHJ" --iters "$ITERS" \
  --compile-batches "$COMPILE" --budget "$(( TB - 10 ))" ${RN:+--resnet "$RN"}

# ---- table (always)
"${PYCMD[@]}" bench/gpu_table.py --ours "$OURS" --torch "$TORCHJ" --work "$WORK" --steps "$STEPS" \
  --models "$(IFS=,; echo "${NAMES[*]}")" ${RN:+--resnet "$(basename "$RN")"} \
  --json "$OUTDIR/gpu_bench.json" --md "$OUTDIR/gpu_bench.md" | tee -a "$LOG"
rc=${PIPESTATUS[0]}
say "done in $(( $(date +%s) - START ))s: $OUTDIR/gpu_bench.json, gpu_bench.md, gpu_bench.log"
bad=$(grep -c '"rc":[1-9]' "$STEPS")
[ "$rc" -eq 0 ] && [ "$bad" -eq 0 ]
