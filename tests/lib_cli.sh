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
