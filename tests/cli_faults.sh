# cli_faults.sh — faults while writing: a full disk or an I/O error at every
# write call of every command that writes a file (the fault shim,
# tests/fault_shim.c, preloaded), a real full tmpfs and a read-only folder
# (in the test's own mount namespace), eval killed with SIGKILL at 20
# points and resumed, and two evals sharing one cache at once.
#
# After every injected failure: exit status 1, one error line naming the
# file, no temporary file left, the earlier outputs at the same paths and
# the earlier cache content unchanged, the cache still valid (a later run
# reports no damage), and a run without faults then gives exactly the
# results of a run that never failed.
. "$(dirname "$0")/lib_cli.sh"
need_shared
need_jq
SHIM=${NEGLABEL_FAULT_SHIM:-}
if [ ! -f "$SHIM" ]; then
  bad "fault shim not found ('$SHIM'; CMake builds it as fault_shim and exports NEGLABEL_FAULT_SHIM)"
  finish; exit 1
fi
# An ASan build needs its runtime first in the preload list.
PRELOAD=$SHIM
[ -n "${NEGLABEL_ASAN_RT:-}" ] && PRELOAD="$NEGLABEL_ASAN_RT $SHIM"
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
SHARED=$(cd "$SHARED" && pwd)
TINY=$SHARED/fixtures/tiny-clip CIFAR=$SHARED/data/cifar10-test LISTS=$SHARED/neglabel-reference/txtfiles
M=$TINY
T0=$(date +%s)
# Every write call is faulted; NEGLABEL_FAULT_STRIDE=n takes every n-th
# (the ASan build, where each run is several times slower, uses 3; the
# release build covers every call).
S=${NEGLABEL_FAULT_STRIDE:-1}

# --- fixtures: a few dozen CIFAR images, two small candidate lists ----------
W=$TMP/w
mkdir -p "$W/mini" "$W/mini2" "$W/o"
head -n 100 "$LISTS/noun.artifact.txt" >"$W/mini/noun.artifact.txt"
head -n 50 "$LISTS/adj.all.txt" >"$W/mini/adj.all.txt"
head -n 120 "$LISTS/noun.artifact.txt" >"$W/mini2/noun.artifact.txt"
cp "$W/mini/adj.all.txt" "$W/mini2/"
ls "$CIFAR" >"$W/labels.txt"
ls -d "$CIFAR"/airplane/* | head -n 20 >"$W/id.lst"
ls -d "$CIFAR"/ship/* | head -n 20 >"$W/ships.lst"
ls -d "$CIFAR"/cat/* | head -n 20 >"$W/cats.lst"

EV="$BIN eval -q --model $M --id-labels $W/labels.txt --id $W/id.lst --ngroup 5 --threads 1"
# The seed run: what a user has from an earlier run (outputs and cache).
E1="$EV --lists $W/mini --ood ships=$W/ships.lst"
# The run that fails: more candidates and one more OOD set, so it adds to
# both cache files and replaces every output file.
E2="$EV --lists $W/mini2 --ood ships=$W/ships.lst --ood cats=$W/cats.lst"
OUTS="negatives.tsv results.json scores.csv report.html"
TIME_SED='s/run time [0-9.]* s/run time - s/' 

$E1 --cache "$W/seed_cache" --out "$W/seed_out" >/dev/null 2>"$W/seed.err"
check "seed eval" test $? -eq 0
cp -a "$W/seed_cache" "$W/good_cache"
cp -a "$W/seed_out" "$W/good_out"
$E2 --cache "$W/good_cache" --out "$W/good_out" >/dev/null 2>&1
check "reference eval" test $? -eq 0
for f in $OUTS; do check "reference eval replaced $f" sh -c "! cmp -s '$W/seed_out/$f' '$W/good_out/$f'"; done
check "reference eval added to both caches" sh -c \
  "for f in '$W'/seed_cache/*; do test \$(stat -c %s \"\$f\") -lt \$(stat -c %s '$W'/good_cache/\$(basename \"\$f\")) || exit 1; done"

# Helpers -------------------------------------------------------------------
shim() { env LD_PRELOAD="$PRELOAD" NLFAULT_MATCH="$W/" "$@"; }
no_temps() { [ -z "$(find "$@" -name '*.tmp.*' -o -name '*.old.*' 2>/dev/null)" ]; }
# results.json without the run's wall time
rj() { jq -S 'del(.seconds)' "$1"; }
same_outputs() { # DIR REF: every output file equal (results.json and report.html up to the run's time)
  local f
  for f in negatives.tsv scores.csv; do cmp -s "$1/$f" "$2/$f" || return 1; done
  [ "$(rj "$1/results.json")" = "$(rj "$2/results.json")" ] || return 1
  [ "$(sed "$TIME_SED" "$1/report.html")" = "$(sed "$TIME_SED" "$2/report.html")" ]
}
unchanged_outputs() { # DIR REF: byte for byte, all four
  local f
  for f in $OUTS; do cmp -s "$1/$f" "$2/$f" || return 1; done
}
same_cache() { # DIR REF: the same files, byte for byte
  [ "$(ls "$1")" = "$(ls "$2")" ] || return 1
  local f
  for f in "$2"/*; do cmp -s "$1/$(basename "$f")" "$f" || return 1; done
}
# Every cache file in DIR starts with the seed's bytes and is a prefix of the
# reference's (records are appended in a fixed order; nothing half-written).
cache_between() { # DIR SEED REF
  local f n
  for f in "$3"/*; do
    n=$(basename "$f")
    [ -f "$1/$n" ] || { [ ! -f "$2/$n" ] && continue; return 1; }
    [ -f "$2/$n" ] && { cmp -s -n "$(stat -c %s "$2/$n")" "$1/$n" "$2/$n" || return 1; }
    cmp -s -n "$(stat -c %s "$1/$n")" "$1/$n" "$f" || return 1
  done
}
npoints() { grep -vc '^paused' "$1"; }
# The path of fault point K in TRACE, with a temp file's suffix dropped: the
# file the error message must name.
point_path() { awk -v k="$2" '$1 == k { $1 = ""; $2 = ""; sub(/^  /, ""); print; exit }' "$1" | sed 's/\.tmp\.[0-9.]*$//'; }
point_line() { awk -v k="$2" '$1 == k { print; exit }' "$1"; }
# names_fault MSGFILE TRACE K STICKY: the message names the file of fault
# point K, or (the disk staying full) of a later point, when the failure at
# K was one the program may go past (close of a synced file).
names_fault() {
  local p
  if [ "$4" = 1 ]; then
    for p in $(awk -v k="$3" '$1 >= k && $1 ~ /^[0-9]+$/ { print $3 }' "$2" | sed 's/\.tmp\.[0-9.]*$//' | sort -u); do
      grep -qF -- "$p" "$1" && return 0
    done
    return 1
  fi
  grep -qF -- "$(point_path "$2" "$3")" "$1"
}
# One output file equal to the reference's (up to the run's time).
same_file() { # NAME DIR REF
  case $1 in
    results.json) [ "$(rj "$2/$1")" = "$(rj "$3/$1")" ] ;;
    report.html) [ "$(sed "$TIME_SED" "$2/$1")" = "$(sed "$TIME_SED" "$3/$1")" ] ;;
    *) cmp -s "$2/$1" "$3/$1" ;;
  esac
}
# After a failed rename (all files were written and synced, then renamed in
# turn, and those renamed put back when the disk lets it): the files the
# message lists as already replaced are the new ones, complete; every other
# is the earlier one, byte for byte.
rename_mix() { # MSGFILE DIR OLD NEW
  local done f
  done=$(sed -n 's/.*already replaced: //p' "$1")
  for f in $OUTS; do
    case ", $done," in
      *", $f,"*) same_file "$f" "$2" "$4" || return 1 ;;
      *) cmp -s "$2/$f" "$3/$f" || return 1 ;;
    esac
  done
}

# --- 1. eval: a full disk (ENOSPC, and it stays full) at every write call ---
rm -rf "$W/tc" "$W/to" "$W/trace"
cp -a "$W/seed_cache" "$W/tc"; cp -a "$W/seed_out" "$W/to"
shim NLFAULT_TRACE="$W/trace" $E2 --cache "$W/tc" --out "$W/to" >/dev/null 2>&1
K=$(npoints "$W/trace")
check "eval makes write calls the shim sees ($K)" test "$K" -ge 30
check "the shim sees cache writes" grep -q 'pwrite .*image.*\.nlc' "$W/trace"
check "the shim sees report writes" grep -q 'write .*report.html.tmp' "$W/trace"
check "the shim sees renames" grep -q 'rename .*results.json' "$W/trace"
check "a traced run gives the reference results" same_outputs "$W/to" "$W/good_out"

# One faulted eval, its checks, then the resume.
# fault_eval WHAT ERRNO_TEXT ENV...
fault_eval() {
  local what=$1 etext=$2; shift 2
  rm -rf "$W/fc" "$W/fo" "$W/ft"
  cp -a "$W/seed_cache" "$W/fc"; cp -a "$W/seed_out" "$W/fo"
  shim NLFAULT_TRACE="$W/ft" "$@" $E2 --cache "$W/fc" --out "$W/fo" >/dev/null 2>"$W/fe"
  local rc=$?
  local k sticky=0 resume=1
  k=$(printf '%s\n' "$@" | sed -n 's/^NLFAULT_AT=//p')
  printf '%s\n' "$@" | grep -q '^NLFAULT_STICKY=1$' && sticky=1
  printf '%s\n' "$@" | grep -q '^NLFAULT_ERRNO=EIO$' && resume=0  # the ENOSPC sweep resumes every case
  local ok=1 why=""
  if [ $rc -eq 0 ] && [ -n "$k" ] && point_line "$W/ft" "$k" | grep -q ' close .*\.nlc$'; then
    # close(2) failing on the cache after its fsync succeeded: the data is on
    # disk, the run is right to finish (and must have finished right).
    same_outputs "$W/fo" "$W/good_out" || { ok=0; why="$why results differ;"; }
  else
    [ $rc -eq 1 ] || { ok=0; why="$why exit $rc;"; }
    [ "$(wc -l <"$W/fe")" -eq 1 ] || { ok=0; why="$why not one error line;"; }
    if [ -n "$k" ]; then
      names_fault "$W/fe" "$W/ft" "$k" $sticky || { ok=0; why="$why message does not name the file;"; }
    else # a byte budget: the first write past it, in the cache or the outputs
      grep -qF -- "$W/f" "$W/fe" || { ok=0; why="$why message does not name the file;"; }
    fi
    grep -q -- "$etext" "$W/fe" || { ok=0; why="$why message lacks '$etext';"; }
    if [ -n "$k" ] && point_line "$W/ft" "$k" | grep -q ' rename ' && [ $sticky -eq 0 ]; then
      # one failing rename: what was replaced before it is put back
      grep -q 'no file was changed' "$W/fe" || { ok=0; why="$why message does not say no file was changed;"; }
      unchanged_outputs "$W/fo" "$W/seed_out" || { ok=0; why="$why earlier outputs not put back;"; }
    elif [ -n "$k" ] && point_line "$W/ft" "$k" | grep -q ' rename '; then
      rename_mix "$W/fe" "$W/fo" "$W/seed_out" "$W/good_out" || { ok=0; why="$why outputs not the old ones and the listed new ones;"; }
    else
      unchanged_outputs "$W/fo" "$W/seed_out" || { ok=0; why="$why earlier outputs changed;"; }
    fi
  fi
  no_temps "$W/fo" "$W/fc" || { ok=0; why="$why temp files left;"; }
  cache_between "$W/fc" "$W/seed_cache" "$W/good_cache" || { ok=0; why="$why cache not the seed + whole records;"; }
  # resume without faults
  if [ $resume -eq 0 ]; then
    if [ $ok -eq 1 ]; then ok; else bad "$what ($(point_line "$W/ft" "$k")):$why stderr: $(head -c 400 "$W/fe")"; fi
    return
  fi
  $E2 --cache "$W/fc" --out "$W/fo" >/dev/null 2>"$W/fr"
  local rrc=$?
  [ $rrc -eq 0 ] || { ok=0; why="$why resume exit $rrc;"; }
  [ ! -s "$W/fr" ] || { ok=0; why="$why resume reported: $(head -c 300 "$W/fr");"; }
  same_outputs "$W/fo" "$W/good_out" || { ok=0; why="$why resumed results differ;"; }
  same_cache "$W/fc" "$W/good_cache" || { ok=0; why="$why resumed cache differs;"; }
  no_temps "$W/fo" "$W/fc" || { ok=0; why="$why temp files after resume;"; }
  if [ $ok -eq 1 ]; then ok; else bad "$what ($(point_line "$W/ft" "$k")):$why stderr: $(head -c 400 "$W/fe")"; fi
}
for k in $(seq 1 "$S" "$K"); do
  fault_eval "eval, disk full at write call $k of $K" "No space left on device" NLFAULT_AT=$k NLFAULT_STICKY=1
done
# An I/O error at one call (the next calls work): every third call.
for k in $(seq 1 $((3 * S)) "$K"); do
  fault_eval "eval, EIO at write call $k of $K" "Input/output error" NLFAULT_AT=$k NLFAULT_ERRNO=EIO
done
# Every rename of the publish, whatever the stride: a one-off I/O error (the
# files renamed before it are put back: no file changed), and an I/O error
# that stays (nothing can be put back: the message lists what is new).
RENAMES=$(awk '$2 == "rename" { print $1 }' "$W/trace")
check "eval publishes its four files with renames" test "$(echo $RENAMES | wc -w)" -eq 4
for k in $RENAMES; do
  fault_eval "eval, EIO at rename call $k of $K" "Input/output error" NLFAULT_AT=$k NLFAULT_ERRNO=EIO
  fault_eval "eval, EIO from rename call $k of $K on" "Input/output error" NLFAULT_AT=$k NLFAULT_ERRNO=EIO \
    NLFAULT_STICKY=1
done
# The disk fills in the middle of a cache record and of a report file.
for b in 3000 20000 60000; do
  fault_eval "eval, disk full after $b bytes" "No space left on device" NLFAULT_BYTES=$b
done
echo "eval fault sweep: $K write calls, $(( $(date +%s) - T0 )) s so far"

# --- 2. the other commands that write a file --------------------------------
# sweep_cmd NAME OUT SEED_OUTPUT_CMD... -- CMD...: a good earlier output at
# OUT (made by the seed command), then a fault at every call of CMD.
sweep_cmd() {
  local name=$1 out=$2; shift 2
  local seed=() cmd=()
  while [ "$1" != -- ]; do seed+=("$1"); shift; done; shift
  cmd=("$@")
  rm -rf "$W/sc"; mkdir -p "$W/sc"
  "${seed[@]}" >/dev/null 2>&1 || { bad "$name: seed command failed"; return; }
  cp -a "$out" "$W/sc/old"
  "${cmd[@]}" >/dev/null 2>&1 || { bad "$name: command failed"; return; }
  cp -a "$out" "$W/sc/new"
  cmp -s "$W/sc/old" "$W/sc/new" && { bad "$name: the seed output equals the new one"; return; }
  local dir k n
  dir=$(dirname "$out")
  rm -f "$W/st"; cp -a "$W/sc/old" "$out"
  shim NLFAULT_TRACE="$W/st" "${cmd[@]}" >/dev/null 2>&1
  n=$(npoints "$W/st")
  check "$name: write calls seen ($n)" test "$n" -ge 4
  for k in $(seq 1 "$S" "$n"); do
    for mode in ENOSPC EIO; do
      cp -a "$W/sc/old" "$out"; rm -f "$W/st"
      shim NLFAULT_TRACE="$W/st" NLFAULT_AT=$k NLFAULT_ERRNO=$mode "${cmd[@]}" >/dev/null 2>"$W/se"
      local rc=$? target
      target=$(point_path "$W/st" "$k")
      if [ $rc -eq 1 ] && [ "$(wc -l <"$W/se")" -eq 1 ] && grep -qF -- "$target" "$W/se" &&
         cmp -s "$out" "$W/sc/old" && no_temps "$dir"; then ok
      else bad "$name: $mode at call $k of $n ($(point_line "$W/st" "$k")): exit $rc, stderr: $(head -c 300 "$W/se")"; fi
    done
  done
  "${cmd[@]}" >/dev/null 2>&1
  check "$name: a run after the faults writes the new output" cmp -s "$out" "$W/sc/new"
}
sweep_cmd "corpus -o" "$W/o/corpus.tsv" \
  "$BIN" corpus -q --lists "$W/mini" -o "$W/o/corpus.tsv" -- "$BIN" corpus -q --lists "$W/mini2" -o "$W/o/corpus.tsv"
sweep_cmd "mine -o (negatives file)" "$W/o/neg.tsv" \
  "$BIN" mine -q --no-cache --model "$M" --id-labels "$W/labels.txt" --lists "$W/mini" -o "$W/o/neg.tsv" -- \
  "$BIN" mine -q --no-cache --model "$M" --id-labels "$W/labels.txt" --lists "$W/mini2" -o "$W/o/neg.tsv"
img1=$(head -n 1 "$W/id.lst"); img2=$(head -n 1 "$W/cats.lst")
sweep_cmd "preprocess -o" "$W/o/px.bin" \
  "$BIN" preprocess -q --size 32 "$img1" -o "$W/o/px.bin" -- "$BIN" preprocess -q --size 32 "$img2" -o "$W/o/px.bin"
# mine with a cache: the cache is written too; a fault anywhere fails it cleanly.
rm -rf "$W/mc"
"$BIN" mine -q --cache "$W/mc" --model "$M" --id-labels "$W/labels.txt" --lists "$W/mini" -o "$W/o/negc.tsv" >/dev/null 2>&1
cp -a "$W/mc" "$W/mc_seed"; cp "$W/o/negc.tsv" "$W/o/negc.old"
rm -f "$W/st"; cp -a "$W/mc_seed" "$W/mct"
shim NLFAULT_TRACE="$W/st" "$BIN" mine -q --cache "$W/mct" --model "$M" --id-labels "$W/labels.txt" --lists "$W/mini2" \
  -o "$W/o/negc_t.tsv" >/dev/null 2>&1
n=$(npoints "$W/st")
for k in $(seq 1 "$S" "$n"); do
  rm -rf "$W/mc"; cp -a "$W/mc_seed" "$W/mc"; cp "$W/o/negc.old" "$W/o/negc.tsv"; rm -f "$W/st"
  shim NLFAULT_TRACE="$W/st" NLFAULT_AT=$k NLFAULT_STICKY=1 "$BIN" mine -q --cache "$W/mc" --model "$M" \
    --id-labels "$W/labels.txt" --lists "$W/mini2" -o "$W/o/negc.tsv" >/dev/null 2>"$W/se"
  rc=$?
  if [ $rc -eq 1 ] && names_fault "$W/se" "$W/st" "$k" 1 && cmp -s "$W/o/negc.tsv" "$W/o/negc.old" &&
     no_temps "$W/o" "$W/mc" && cache_between "$W/mc" "$W/mc_seed" "$W/mct"; then ok
  else bad "mine --cache: disk full at call $k of $n ($(point_line "$W/st" "$k")): exit $rc, $(head -c 300 "$W/se")"; fi
done

# Standard output to a full device: embed, tokenize, score, the eval table.
expect_fail "embed to a full disk" 'standard output.*No space' sh -c "'$BIN' embed -q --model '$M' --text dog >/dev/full"
expect_fail "tokenize to a full disk" 'standard output.*No space' \
  sh -c "echo '{\"text\": \"a dog\"}' | '$BIN' tokenize -q --model '$M' >/dev/full"
expect_fail "score to a full disk" 'standard output.*No space' \
  sh -c "'$BIN' score -q --no-cache --ngroup 5 --model '$M' --id-labels '$W/labels.txt' --negatives '$W/good_out/negatives.tsv' --list '$W/id.lst' >/dev/full"
expect_fail "eval table to a full disk" 'standard output.*No space' \
  sh -c "$E1 --no-cache --out '$W/eo' >/dev/full"
echo "other commands: $(( $(date +%s) - T0 )) s so far"

# --- 3. a real full disk and a read-only folder (own mount namespace) -------
cat >"$W/ns.sh" <<'EOS'
# runs in `unshare -rm`: tmpfs mounts seen by this process only
set -u
r=0
say() { echo "$*"; }
mkdir -p "$W/full" "$W/ro"
# 100 KiB: the earlier outputs (80 KiB in pages) fit, the new ones beside them do not.
mount -t tmpfs -o size=100k tmpfs "$W/full" || { say "FAIL: cannot mount a tmpfs"; exit 1; }
cp -a "$W/seed_out" "$W/full/out"
$E2 --no-cache --out "$W/full/out" >/dev/null 2>"$W/full.err"; rc=$?
if [ $rc -eq 1 ] && grep -q 'No space left on device' "$W/full.err" && grep -q "$W/full/out/" "$W/full.err" &&
   [ -z "$(find "$W/full" -name '*.tmp.*')" ]; then say "ok full-disk-eval"
else say "FAIL full-disk-eval: exit $rc, $(cat "$W/full.err")"; r=1; fi
for f in negatives.tsv results.json scores.csv report.html; do
  cmp -s "$W/full/out/$f" "$W/seed_out/$f" || { say "FAIL full-disk-eval changed $f"; r=1; }
done
# The cache on the full disk: cut back to its valid length, reported.
rm -rf "$W/full/out"; cp -a "$W/seed_cache" "$W/full/c"
dd if=/dev/zero of="$W/full/pad" bs=1k count=400 2>/dev/null  # fill the rest
$E2 --cache "$W/full/c" --out "$W/out_ok" >/dev/null 2>"$W/fullc.err"; rc=$?
if [ $rc -eq 1 ] && grep -q 'No space left on device' "$W/fullc.err" && grep -q '\.nlc' "$W/fullc.err"; then
  say "ok full-disk-cache"
else say "FAIL full-disk-cache: exit $rc, $(cat "$W/fullc.err")"; r=1; fi
for f in "$W"/seed_cache/*; do
  cmp -s "$f" "$W/full/c/$(basename "$f")" || { say "FAIL full-disk-cache: $(basename "$f") changed"; r=1; }
done
# A read-only output folder and a read-only cache folder.
mount -t tmpfs -o size=1m tmpfs "$W/ro"
cp -a "$W/seed_out" "$W/ro/out"; cp -a "$W/seed_cache" "$W/ro/c"; mkdir -p "$W/ro/o"
cp "$W/seed_out/negatives.tsv" "$W/ro/o/neg.tsv"
mount -o remount,ro "$W/ro" || { say "FAIL: cannot remount read-only"; exit 1; }
chk() { # NAME PATTERN CMD...
  local name=$1 pat=$2; shift 2
  "$@" >/dev/null 2>"$W/ro.err"; local rc=$?
  if [ $rc -eq 1 ] && [ "$(wc -l <"$W/ro.err")" -eq 1 ] && grep -q "$pat" "$W/ro.err" &&
     grep -q 'Read-only file system' "$W/ro.err"; then say "ok $name"
  else say "FAIL $name: exit $rc, $(cat "$W/ro.err")"; r=1; fi
}
chk "read-only --out" "$W/ro/out" $E2 --no-cache --out "$W/ro/out"
chk "read-only --cache" "$W/ro/c/" $E2 --cache "$W/ro/c" --out "$W/out_ok"
chk "read-only mine -o" "$W/ro/o/neg.tsv" "$BIN" mine -q --no-cache --model "$M" --id-labels "$W/labels.txt" \
  --lists "$W/mini" -o "$W/ro/o/neg.tsv"
chk "read-only corpus -o" "$W/ro/o/c.tsv" "$BIN" corpus -q --lists "$W/mini" -o "$W/ro/o/c.tsv"
chk "read-only preprocess -o" "$W/ro/o/px" "$BIN" preprocess -q "$IMG" -o "$W/ro/o/px"
for f in negatives.tsv results.json scores.csv report.html; do
  cmp -s "$W/ro/out/$f" "$W/seed_out/$f" || { say "FAIL read-only: $f changed"; r=1; }
done
exit $r
EOS
if ! command -v unshare >/dev/null || ! unshare -rm true 2>/dev/null; then
  bad "unshare -rm (a user and mount namespace, util-linux) is not available: the full-disk and read-only checks did not run"
else
  W=$W E2=$E2 BIN=$BIN M=$M IMG=$img1 unshare -rm bash "$W/ns.sh" >"$W/ns.out" 2>&1
  rc=$?
  while read -r line; do
    case $line in ok\ *) ok ;; FAIL*) bad "$line" ;; *) echo "$line" ;; esac
  done <"$W/ns.out"
  check "namespace checks ran ($(grep -c '^ok' "$W/ns.out") passed)" test $rc -eq 0 -a "$(grep -c '^ok' "$W/ns.out")" -eq 7
fi
echo "full disk / read-only: $(( $(date +%s) - T0 )) s so far"

# --- 4. SIGKILL at 20 points, then resume ------------------------------------
# From an empty cache: the uninterrupted run is the reference.
rm -rf "$W/kref_c" "$W/kref_o"
cp -a "$W/seed_out" "$W/kref_o"
t_start=$(date +%s%N)
$E2 --cache "$W/kref_c" --out "$W/kref_o" >/dev/null 2>&1
dur_ms=$(( ($(date +%s%N) - t_start) / 1000000 ))
rm -f "$W/kt"; rm -rf "$W/ktc" "$W/kto"
shim NLFAULT_TRACE="$W/kt" $E2 --cache "$W/ktc" --out "$W/kto" >/dev/null 2>&1
KK=$(npoints "$W/kt")
kill_resume() { # WHAT: run "$@" (it dies), then resume and compare
  local what=$1; shift
  rm -rf "$W/kc" "$W/ko"; cp -a "$W/seed_out" "$W/ko"
  "$@"
  $E2 --cache "$W/kc" --out "$W/ko" >/dev/null 2>"$W/kr"
  local rc=$?
  if [ $rc -eq 0 ] && same_outputs "$W/ko" "$W/kref_o" && same_cache "$W/kc" "$W/kref_c" && no_temps "$W/ko" "$W/kc" &&
     ! grep -v 'cut-off record\|interrupted run' "$W/kr" | grep -q .; then ok
  else bad "SIGKILL $what: resume exit $rc; stderr: $(head -c 300 "$W/kr")"; fi
}
# The interesting points, deterministically: 12 write calls spread over the
# run (cache records, temp files, fsyncs, renames) and 2 kills in the middle
# of a cache record.
nk=0
for i in $(seq 1 12); do
  k=$(( (i * KK + 6) / 13 ))
  [ $k -ge 1 ] || k=1
  kill_resume "at write call $k of $KK ($(sed -n "${k}p" "$W/kt" | cut -d' ' -f2-))" \
    shim NLFAULT_AT=$k NLFAULT_ACTION=kill $E2 --cache "$W/kc" --out "$W/ko" >/dev/null 2>&1
  nk=$((nk + 1))
done
for b in 5000 40000; do
  kill_resume "after $b bytes (a cut-off cache record)" \
    env LD_PRELOAD="$PRELOAD" NLFAULT_MATCH="$W/kc/" NLFAULT_BYTES=$b NLFAULT_ACTION=kill \
    $E2 --cache "$W/kc" --out "$W/ko" >/dev/null 2>&1
  nk=$((nk + 1))
done
# And 6 at random times within an uninterrupted run's duration.
SEED=${NEGLABEL_FAULT_SEED:-$$}
RANDOM=$SEED
echo "random kill delays: seed $SEED, run takes $dur_ms ms"
killed_mid=0
for i in $(seq 1 6); do
  d=$(( RANDOM % (dur_ms > 20 ? dur_ms : 20) ))
  rand_kill() {
    $E2 --cache "$W/kc" --out "$W/ko" >/dev/null 2>&1 &
    local pid=$!
    sleep "$(awk -v d="$d" 'BEGIN { printf "%.3f", d / 1000 }')"
    kill -9 $pid 2>/dev/null && killed_mid=$((killed_mid + 1))
    wait $pid 2>/dev/null
  }
  kill_resume "after $d ms" rand_kill
  nk=$((nk + 1))
done
check "20 kills ($nk), $killed_mid of the random ones before the end" test $nk -eq 20
echo "SIGKILL: $(( $(date +%s) - T0 )) s so far"

# --- 5. two evals sharing one cache at once ---------------------------------
# Totals of "N to embed" minus "M ... reused" over the given logs: the
# vectors a process computed itself.
computed() {
  local a b
  a=$(cat "$@" | sed -n 's/.*cached, \([0-9]*\) to embed.*/\1/p' | awk '{s += $1} END {print s + 0}')
  b=$(cat "$@" | sed -n 's/.*: \([0-9]*\) of them were stored meanwhile.*/\1/p' | awk '{s += $1} END {print s + 0}')
  echo $((a - b))
}
EVV="$BIN eval --model $M --id-labels $W/labels.txt --id $W/id.lst --ngroup 5 --threads 1 --lists $W/mini2 --ood ships=$W/ships.lst --ood cats=$W/cats.lst"
rm -rf "$W/cc1"
$EVV --cache "$W/cc1" --out "$W/co1" >/dev/null 2>"$W/cl1"
single=$(computed "$W/cl1")
check "a single run computes its vectors ($single)" test "$single" -gt 100
check "a single run's cache equals the reference's" same_cache "$W/cc1" "$W/kref_c"
for round in 1 2 3; do
  rm -rf "$W/cc" "$W/ca" "$W/cb" "$W/pt"
  if [ $round -eq 1 ]; then
    # A holds the image cache's lock while it writes the ID images' records
    # (paused at that write: the 5th call on the file, after open, truncate
    # and the header's write and sync); B starts then, must wait for the
    # lock, and then finds every ID image in the cache.
    env LD_PRELOAD="$PRELOAD" NLFAULT_MATCH="image" NLFAULT_AT=5 NLFAULT_ACTION=pause NLFAULT_PAUSE_MS=1500 \
      NLFAULT_TRACE="$W/pt" $EVV --cache "$W/cc" --out "$W/ca" >/dev/null 2>"$W/la" &
    pa=$!
    for _ in $(seq 1 200); do grep -q '^paused' "$W/pt" 2>/dev/null && break; sleep 0.05; done
    $EVV --cache "$W/cc" --out "$W/cb" >/dev/null 2>"$W/lb" &
    pb=$!
  else
    $EVV --cache "$W/cc" --out "$W/ca" >/dev/null 2>"$W/la" &
    pa=$!
    $EVV --cache "$W/cc" --out "$W/cb" >/dev/null 2>"$W/lb" &
    pb=$!
  fi
  wait $pa; ra=$?
  wait $pb; rb=$?
  check "round $round: both evals succeed ($ra, $rb)" test $ra -eq 0 -a $rb -eq 0
  check "round $round: identical results" sh -c "cmp -s '$W/ca/scores.csv' '$W/cb/scores.csv' && cmp -s '$W/ca/negatives.tsv' '$W/cb/negatives.tsv'"
  check "round $round: the results of a single run" same_outputs "$W/ca" "$W/co1"
  check "round $round: the cache equals a single run's, byte for byte" same_cache "$W/cc" "$W/cc1"
  both=$(computed "$W/la" "$W/lb")
  check "round $round: each vector computed once between the two ($both = $single)" test "$both" -eq "$single"
  check "round $round: no damage reported" sh -c "! grep -qi 'damaged\|cut-off\|error' '$W/la' '$W/lb'"
  if [ $round -eq 1 ]; then
    check "round 1: the first was paused holding the lock" grep -q '^paused' "$W/pt"
    check "round 1: the second waited for the lock" grep -q 'in use by another process; waiting' "$W/lb"
    check "round 1: A was paused writing image records" grep -q '^5 pwrite .*image' "$W/pt"
    check "round 1: the second took the 20 ID images from the cache" \
      test "$(grep -m1 'images: ' "$W/lb" | sed 's/.*images: //')" = "20 cached, 0 to embed"
  fi
done
echo "concurrency: $(( $(date +%s) - T0 )) s in all"
finish
