# Sourced by tests/cli_*.sh: paths, skip and assertion helpers.
set -u
BIN=${NEGLABEL_BIN:-build/neglabel}
SHARED=${NEGLABEL_SHARED:-${NEGLABEL_SHARED_DEFAULT:-../shared}}
SRC=${NEGLABEL_SRC:-.}
PASS=0; FAIL=0
TMP=$(mktemp -d /tmp/neglabel-cli-XXXXXX)
# Only the test's own shell cleans up: bash runs the EXIT trap in a subshell
# killed by a signal before it has reset its traps (a `( sleep 20; kill ..)
# & guard` killed at once took the whole $TMP with it, mid-test, under load)
trap '[ "$BASHPID" = "$$" ] && rm -rf "$TMP"' EXIT
# The default embedding cache of every command a test runs without --cache:
# its own, never the user's ~/.cache/neglabel (whose entries would also
# spare a test the work it means to check).
export NEGLABEL_CACHE=$TMP/default-cache
need_shared() {
  if [ ! -f "$SHARED/README.md" ]; then
    echo "SKIP: reference data not found at '$SHARED' (set NEGLABEL_SHARED to the shared/ folder)"
    exit 77
  fi
}
# need_cuda: skip (77) with the reason where no CUDA device is usable
need_cuda() {
  local d n
  command -v jq >/dev/null || { echo "SKIP: jq is not installed (apt-get install jq); it tells whether a GPU is usable"; exit 77; }
  d=$(nl devices 2>"$TMP/devices.err") || { echo "SKIP: '$BIN devices' failed: $(cat "$TMP/devices.err")"; exit 77; }
  n=$(printf '%s\n' "$d" | jq '.cuda_devices | length' 2>&1) || { echo "SKIP: jq could not read '$BIN devices' ($n): $d"; exit 77; }
  if [ "${n:-0}" -lt 1 ]; then
    echo "SKIP: no usable CUDA device ($(printf '%s\n' "$d" | jq -r '.cuda_unavailable // "?"' 2>&1))"
    exit 77
  fi
}
need_jq() { command -v jq >/dev/null || { echo "SKIP: jq is not installed (apt-get install jq)"; exit 77; }; }
nl() { "$BIN" "$@"; }
# The reference data the pipeline tests use.
TINY=$SHARED/fixtures/tiny-clip
CIFAR=$SHARED/data/cifar10-test
LISTS=$SHARED/neglabel-reference/txtfiles
ok() { PASS=$((PASS+1)); }
bad() { FAIL=$((FAIL+1)); echo "FAILED: $*" >&2; }
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }
# expect_fail WHAT PATTERN CMD...: non-zero exit and one message matching PATTERN
expect_fail() {
  local what=$1 pat=$2; shift 2
  local out rc
  out=$("$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -ne 0 ] && [ $rc -lt 128 ] && printf '%s' "$out" | grep -qE -- "$pat"; then ok
  else bad "$what (rc=$rc, stderr: $out)"; fi
}
# A part of a test that cannot run here: fails under NEGLABEL_NO_SKIP (CI,
# which installs every tool), else says so.
partial_skip() {
  if [ -n "${NEGLABEL_NO_SKIP:-}" ]; then bad "$1 (NEGLABEL_NO_SKIP is set)"; else echo "note: $1"; fi
}
finish() { echo "$PASS passed, $FAIL failed"; [ $FAIL -eq 0 ]; }
# golden_inputs GOLDEN: args (--image $IMG/NAME for each of the golden
# JSON's images) and targs (--text for each of its texts)
golden_inputs() {
  local f t
  args=() targs=()
  while IFS= read -r f; do args+=(--image "$IMG/$f"); done \
    < <(python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))["images"]))' "$1")
  while IFS= read -r t; do targs+=(--text "$t"); done \
    < <(python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))["texts"]))' "$1")
}
# embed_golden GOLDEN KEY TOL OUT WHAT ARG...: `embed ARG...` into OUT, every
# row within TOL ||g|| of the golden JSON's KEY ("images" or "texts")
embed_golden() {
  local golden=$1 key=$2 tol=$3 out=$4 what=$5 rc res
  shift 5
  nl embed -q --no-cache "$@" >"$out" 2>"$TMP/err"; rc=$?
  check "$what: embed (rc=$rc: $(tail -n 1 "$TMP/err"))" test $rc -eq 0
  res=$(python3 "$SRC/tests/emb_close.py" "$golden" "$key" "$out" "$tol"); rc=$?
  check "$what equal transformers' within $tol ||g|| ($res)" test $rc -eq 0
}
# bf16_golden GOLDEN MODEL TOL: where this CPU has native bf16, the image
# and text embeddings of `--device cpu --precision bf16` within TOL ||g|| of
# GOLDEN (inputs: golden_inputs), each tower's differing from the fp32 run's
# ($TMP/img.jsonl and $TMP/txt.jsonl: so the bf16 path ran for both), and
# info naming the bf16 device; elsewhere a note
bf16_golden() {
  if [ "$(nl devices | jq -r '.cpu.bf16_kernel')" = none ]; then
    echo "note: this CPU has no native bf16: the bf16 checks are not reached"
    return 0
  fi
  embed_golden "$1" images "$3" "$TMP/img-bf16.jsonl" "bf16: image embeddings" \
    --device cpu --precision bf16 --model "$2" "${args[@]}"
  embed_golden "$1" texts "$3" "$TMP/txt-bf16.jsonl" "bf16: text embeddings" \
    --device cpu --precision bf16 --model "$2" "${targs[@]}"
  check "bf16: images not the fp32 bits (the bf16 path ran)" bash -c "! cmp -s '$TMP/img-bf16.jsonl' '$TMP/img.jsonl'"
  check "bf16: texts not the fp32 bits (the bf16 path ran)" bash -c "! cmp -s '$TMP/txt-bf16.jsonl' '$TMP/txt.jsonl'"
  nl info --no-cache --device cpu --precision bf16 --model "$2" >"$TMP/info-bf16.json"
  check "bf16: info names the bf16 device" grep -q '"cpu (bf16' "$TMP/info-bf16.json"
}
# mine_and_score MODEL IMAGE...: NegLabel end to end on MODEL: negatives
# mined from a small word list for four CIFAR-10 labels, then the images
# scored; each must get a finite score in (0, 1]
mine_and_score() {
  local model=$1 rc
  shift
  ls "$CIFAR" | head -n 4 >"$TMP/labels.txt"
  mkdir -p "$TMP/lists"
  printf 'teapot\ntuba\nkayak\nanemone\nviolin\nglacier\n' >"$TMP/lists/noun.artifact.txt"
  printf 'salty\nfurry\n' >"$TMP/lists/adj.all.txt"
  nl mine -q --no-cache --model "$model" --id-labels "$TMP/labels.txt" --lists "$TMP/lists" --fraction 0.5 \
    -o "$TMP/neg.tsv" 2>"$TMP/err"; rc=$?
  check "mine (rc=$rc: $(tail -n 1 "$TMP/err"))" test $rc -eq 0 -a -s "$TMP/neg.tsv"
  nl score -q --no-cache --model "$model" --id-labels "$TMP/labels.txt" --negatives "$TMP/neg.tsv" --ngroup 1 \
    "$@" >"$TMP/scores.csv" 2>"$TMP/err"; rc=$?
  check "score (rc=$rc: $(tail -n 1 "$TMP/err"))" test $rc -eq 0
  check "score: a finite score in (0, 1] for each of $# images" python3 -c '
import csv, math, sys
rows = list(csv.reader(open(sys.argv[1])))[1:]
assert len(rows) == int(sys.argv[2]), rows
assert all(0 < float(r[1]) <= 1 and math.isfinite(float(r[1])) for r in rows), rows
' "$TMP/scores.csv" $#
}

# bad_config WHAT PATTERN JQ-EDIT MODEL: a copy of MODEL whose config.json
# is edited by JQ-EDIT is refused by info, the message matching PATTERN
bad_config() {
  local what=$1 pat=$2 edit=$3 m=$4
  mkdir -p "$TMP/bad"
  cp "$m"/* "$TMP/bad/"
  jq "$edit" "$m/config.json" >"$TMP/bad/config.json"
  expect_fail "$what" "$pat" "$BIN" info --no-cache --model "$TMP/bad"
  rm -rf "$TMP/bad"
}

# bf16_refused NAME MODEL: --precision bf16 is refused naming NAME (where
# this CPU has native bf16; elsewhere the precision falls back to fp32
# before the model sees it)
bf16_refused() {
  if [ "$(nl devices | jq -r '.cpu.bf16_kernel')" != none ]; then
    expect_fail "bf16: refused naming $1" "$1 computes in fp32" \
      "$BIN" embed -q --no-cache --device cpu --precision bf16 --model "$2" --text x
  else
    echo "note: this CPU has no native bf16: the bf16 refusal is not reached"
  fi
}

# ids_golden WHAT GOLDEN MODEL MAX: tokenize gives GOLDEN's ids (a JSON
# file whose "ids" maps each text to transformers' ids) for each of its
# texts of fewer than MAX tokens (tokenize does not cut; the model's MAX
# positions do)
ids_golden() {
  local what=$1 g=$2 m=$3 max=$4 rc
  jq -c --argjson max "$max" '.ids | to_entries[] | select((.value | length) < $max) | {text: .key}' "$g" \
    >"$TMP/tok.in"
  nl tokenize --no-cache --model "$m" <"$TMP/tok.in" >"$TMP/tok.out" 2>"$TMP/err"; rc=$?
  check "$what: tokenize (rc=$rc: $(tail -1 "$TMP/err"))" test $rc -eq 0
  check "$what: transformers' ids for $(wc -l <"$TMP/tok.in") texts" python3 -c '
import json, sys
g, n, m = json.load(open(sys.argv[1]))["ids"], 0, int(sys.argv[3])
for line in open(sys.argv[2]):
    r = json.loads(line)
    assert r["ids"] == g[r["text"]], (r["text"], r["ids"], g[r["text"]])
    n += 1
assert n == sum(len(v) < m for v in g.values()), n
' "$g" "$TMP/tok.out" "$max"
}
