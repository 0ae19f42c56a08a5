# cli_convert_faults.sh — convert into a folder that holds an earlier
# conversion, with a full disk (the fault shim, tests/fault_shim.c) or a
# SIGKILL at every write call before the files are renamed into place.
#
# A converted Hugging Face folder is several files read together
# (model.safetensors, config.json, the tokenizer). They used to be replaced
# one after the other, so a failure or a kill after model.safetensors left
# the new weights with the earlier model's config.json: a folder that loads
# without a word and embeds with neither model (here B's weights under A's
# QuickGELU instead of B's GELU). Now every file is written and synced
# first and the set is renamed together (nli_atomic_publish_set): until the
# renames, the earlier folder stays exactly as it was.
. "$(dirname "$0")/lib_cli.sh"
need_shared
SHIM=${NEGLABEL_FAULT_SHIM:-}
if [ ! -f "$SHIM" ]; then
  bad "fault shim not found ('$SHIM'; CMake builds it as fault_shim and exports NEGLABEL_FAULT_SHIM)"
  finish; exit 1
fi
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to make a second checkpoint"; exit 77; }
PRELOAD=$SHIM
[ -n "${NEGLABEL_ASAN_RT:-}" ] && PRELOAD="$NEGLABEL_ASAN_RT $SHIM"
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
SRC=$(cd "$SRC" && pwd)
SHARED=$(cd "$SHARED" && pwd)
W=$TMP/w
mkdir -p "$W/A" "$W/B"
# A: the test's pytorch_model.bin; B: every tensor's first byte changed and
# GELU instead of QuickGELU (same shapes: both load in either config).
cp "$SRC/tests/data/hf_bin/config.json" "$SRC/tests/data/hf_bin/pytorch_model.bin" "$W/A/"
sed 's/"quick_gelu"/"gelu"/g' "$W/A/config.json" >"$W/B/config.json"
python3 - "$W/A/pytorch_model.bin" "$W/B/pytorch_model.bin" <<'PY'
import sys, zipfile
src, dst = sys.argv[1:]
with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zo:
    for n in zi.namelist():
        d = zi.read(n)
        if "/data/" in n and d:
            d = bytes([d[0] ^ 1]) + d[1:]
        zo.writestr(n, d)
PY
for d in A B; do cp "$SHARED/clip-tokenizer/vocab.json" "$SHARED/clip-tokenizer/merges.txt" "$W/$d/"; done
check "B's config differs from A's" sh -c "! cmp -s '$W/A/config.json' '$W/B/config.json'"

OUT=$W/out
FILES="model.safetensors config.json vocab.json merges.txt"
digest() { (cd "$1" && for f in $FILES; do sha1sum "$f"; done) 2>&1; }
nl convert -q "$W/A/pytorch_model.bin" -o "$W/refA" && nl convert -q "$W/B/pytorch_model.bin" -o "$W/refB"
check "both checkpoints convert" test $? -eq 0
check "B's weights differ from A's" sh -c "! cmp -s '$W/refA/model.safetensors' '$W/refB/model.safetensors'"
A_SUM=$(digest "$W/refA") B_SUM=$(digest "$W/refB")

seed() { rm -rf "$OUT"; nl convert -q "$W/A/pytorch_model.bin" -o "$OUT"; }
seed
rm -f "$W/trace"
env LD_PRELOAD="$PRELOAD" NLFAULT_MATCH="$OUT/" NLFAULT_TRACE="$W/trace" \
  "$BIN" convert -q "$W/B/pytorch_model.bin" -o "$OUT" >/dev/null 2>&1
check "a traced run converts B" test "$(digest "$OUT")" = "$B_SUM"
n=$(grep -c . "$W/trace")
# the renames publish the set: a kill between two of them is the one
# window left (microseconds); every point before the first is checked
first_rename=$(awk '$2 == "rename" { print $1; exit }' "$W/trace")
check "write calls seen ($n), the renames last (first at ${first_rename:-none})" \
  test "$n" -ge 10 -a -n "$first_rename"
for k in $(seq 1 "$n"); do
  for action in fail kill; do
    [ "$action" = kill ] && [ "$k" -ge "${first_rename:-1}" ] && continue
    # a disk that stays full up to the renames; a rename that fails once
    # (a full disk fails every rename back as well: no file could be put back)
    sticky=1; [ "$k" -ge "${first_rename:-1}" ] && sticky=0
    seed
    { env LD_PRELOAD="$PRELOAD" NLFAULT_MATCH="$OUT/" NLFAULT_AT=$k NLFAULT_STICKY=$sticky NLFAULT_ACTION=$action \
      "$BIN" convert -q "$W/B/pytorch_model.bin" -o "$OUT" >/dev/null 2>"$W/err"; } 2>/dev/null
    rc=$?
    want=1; [ "$action" = kill ] && want=137
    what="$action at call $k of $n ($(awk -v k="$k" '$1 == k { print $2, $3; exit }' "$W/trace"))"
    if [ "$rc" -eq "$want" ] && [ "$(digest "$OUT")" = "$A_SUM" ]; then ok
    else bad "$what: exit $rc (want $want), the folder is no longer A's: $(digest "$OUT" | tr '\n' ' ') $(head -c 300 "$W/err")"; fi
    if [ "$action" = fail ]; then
      check "$what: no temporary file left" sh -c "[ -z \"\$(find '$OUT' -name '*.tmp.*' -o -name '*.old.*')\" ]"
    fi
  done
done
# after a kill, the next run removes the killed run's temporary files and converts
seed
{ env LD_PRELOAD="$PRELOAD" NLFAULT_MATCH="$OUT/" NLFAULT_AT=$((first_rename - 1)) NLFAULT_ACTION=kill \
  "$BIN" convert -q "$W/B/pytorch_model.bin" -o "$OUT" >/dev/null 2>&1; } 2>/dev/null
check "the killed run left its temporary files" sh -c "[ -n \"\$(find '$OUT' -name '*.tmp.*')\" ]"
nl convert -q "$W/B/pytorch_model.bin" -o "$OUT" 2>/dev/null
check "a run after a kill converts B" test "$(digest "$OUT")" = "$B_SUM"
check "and leaves no temporary file" sh -c "[ -z \"\$(find '$OUT' -name '*.tmp.*' -o -name '*.old.*')\" ]"
finish
