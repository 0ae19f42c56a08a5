#!/usr/bin/env bash
# memcheck.sh — the CLI's main paths under valgrind memcheck (invalid reads
# and writes, uses of uninitialised values, bad frees): info, embed (JPEG,
# PNG with alpha, text), tokenize with a bad line, corpus, mine, eval, a
# missing image, on the tiny model and a few CIFAR-10 images, and convert
# (tests/data/torchscript). Run by .ci/run (about 2 minutes; not a ctest).
# Leaks are ASan's job (the sanitizer suite). Valgrind hides AVX-512 and
# AMX, so the AVX2 paths run; the device is the CPU (NEGLABEL_DEVICE=cpu).
# tests/memcheck.supp silences one glibc ld.so report (a CUDA build's
# runtime probes for libcuda).
#   bash tests/memcheck.sh [BIN]     (NEGLABEL_SHARED: the reference data)
set -uo pipefail
BIN=${1:-build/neglabel}
SHARED=${NEGLABEL_SHARED:-../shared}
M=$SHARED/fixtures/tiny-clip
L=$SHARED/neglabel-reference/txtfiles
D=$SHARED/data/cifar10-test
command -v valgrind >/dev/null || { echo "memcheck: valgrind is not installed" >&2; exit 1; }
[ -f "$M/config.json" ] || { echo "memcheck: no reference data at $SHARED" >&2; exit 1; }
T=$(mktemp -d /tmp/neglabel-memcheck-XXXXXX)
trap '[ "$BASHPID" = "$$" ] && rm -rf "$T"' EXIT  # not in a subshell killed early (lib_cli.sh)
fail=0
# run WHAT EXPECTED_STATUS CMD...: valgrind errors give status 99
run() {
  local what=$1 want=$2
  shift 2
  NEGLABEL_DEVICE=cpu valgrind -q --error-exitcode=99 --leak-check=no --track-origins=yes --trace-children=yes \
    --suppressions="$(dirname "$0")/memcheck.supp" "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  if [ $rc -ne "$want" ]; then
    echo "FAILED: $what: exit status $rc, expected $want (99: valgrind found errors)" >&2
    grep -v '^neglabel' "$T/err" | head -n 40 >&2
    fail=1
  else
    echo "ok: $what"
  fi
}
mkdir -p "$T/mini"
head -n 200 "$L/noun.artifact.txt" >"$T/mini/noun.artifact.txt"
head -n 100 "$L/adj.all.txt" >"$T/mini/adj.all.txt"
printf 'airplane\nbird\n' >"$T/labels.txt"
ls "$D/airplane"/*.jpg | head -n 4 >"$T/id.lst"
ls "$D/ship"/*.jpg | head -n 4 >"$T/ood.lst"
N="--no-cache --quiet --threads 2"
run "info" 0 "$BIN" info $N --model "$M"
run "embed: JPEG, PNG with alpha, text" 0 "$BIN" embed $N --model "$M" --image "$SHARED/fixtures/images/dog.jpg" \
  --image "$SHARED/fixtures/images/rgba-dog.png" --text "a photo of a dog"
# the last line is mojibake, so ftfy.fix_text's slow path (PCRE2's JIT) runs
printf '{"text":"hi"}\n{"bad"\n{"text":"caf\\u00e9 \\u65e5"}\n{"text":"\\u00c3\\u00a9 \\u00e2\\u20ac\\u0153x\\u00e2\\u20ac\\u009d it\\u00e2\\u20ac\\u2122s Ð¿Ñ€Ð¸Ð²ÐµÑ‚ \\ufb01 &amp;"}\n' >"$T/tok.jsonl"
run "tokenize with a bad line (exit 1)" 1 sh -c "'$BIN' tokenize $N --model '$M' < '$T/tok.jsonl'"
run "corpus" 0 "$BIN" corpus $N --lists "$T/mini" -o "$T/corpus.tsv"
run "mine" 0 "$BIN" mine $N --model "$M" --id-labels "$T/labels.txt" --lists "$T/mini" -o "$T/neg.tsv"
run "eval" 0 "$BIN" eval $N --model "$M" --id-labels "$T/labels.txt" --negatives "$T/neg.tsv" --ngroup 4 \
  --id "$T/id.lst" --ood ships="$T/ood.lst" --out "$T/ev"
run "a missing image (exit 1)" 1 "$BIN" embed $N --model "$M" --image "$T/missing.jpg"
TS=$(dirname "$0")/data/torchscript
run "convert: TorchScript ResNet" 0 "$BIN" convert $N "$TS/rn_jit.pt" -o "$T/rn"
run "convert: torch.save'd state dict" 0 "$BIN" convert $N "$TS/vit_sd.pt" -o "$T/vit"
run "convert: not a CLIP (exit 1)" 1 "$BIN" convert $N "$TS/views_sd.pt" -o "$T/views"
exit $fail
