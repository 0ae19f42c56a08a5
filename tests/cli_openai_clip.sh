# cli_openai_clip.sh — OpenAI's CLIPs by the names of OpenAI's `clip`
# package (--model ViT-B/16, as clip.load("ViT-B/16")) and checkpoint files
# by path (--model x.pt): read from ~/.cache/clip (where clip.load keeps its
# downloads), converted once into $NEGLABEL_CACHE/openai-clip/<SHA-256>.
# - The names, files and digests are exactly clip's (openai_clip_models.tsv,
#   tests/gen/gen_openai_clip_names.py): each name, its file missing, fails
#   naming ~/.cache/clip, the file and the URL clip.load downloads it from.
# - A name's file (tests/data/torchscript's scripted ViT, so not OpenAI's
#   digest: warned) and a .pt path load as `neglabel convert`'s folder does:
#   the same safetensors bytes, the same image embedding; the second load
#   converts nothing; the published digest's conversion loads without the file.
# - A config beside a .pt is part of the key; a damaged .pt fails naming it
#   and leaves nothing; concurrent first loads share one conversion; a
#   folder of that name still wins; a cut-off download under a name says
#   so; a killed conversion's temporary folder is removed by the next.
. "$(dirname "$0")/lib_cli.sh"
need_shared
D=$SRC/tests/data/torchscript
IMG=$CIFAR/bird/0000.jpg
export HOME=$TMP/home
CLIPDIR=$HOME/.cache/clip
mkdir -p "$CLIPDIR"
OC=$NEGLABEL_CACHE/openai-clip

# ------------------------------------------------ clip's names, files missing
n=0
while IFS=$'\t' read -r name url; do
  case $name in '#'*|'') continue ;; esac
  n=$((n+1))
  file=${url##*/}
  expect_fail "$name: missing file is an error naming ~/.cache/clip, $file and clip's URL" \
    "$name: OpenAI's checkpoint is not in $CLIPDIR \\(clip.load downloads it there from $url; neglabel does not download it\\): put $file there" \
    nl info --model "$name"
done <"$SRC/tests/data/openai_clip_models.tsv"
check "the golden lists clip's 9 models ($n)" test $n -eq 9
expect_fail "ViT-B/16: the error names the Hugging Face conversion" \
  "or name its Hugging Face conversion, openai/clip-vit-base-patch16" nl info --model ViT-B/16
check "nothing written to the cache for missing files" test ! -e "$OC"
# not clip's names: as before (a path, or a Hub id)
expect_fail "vit-b/16 (clip's names are case-sensitive) is not one of them" "Hugging Face Hub" \
  env HF_HUB_OFFLINE=1 "$BIN" info --model vit-b/16

expect_fail "hf-hub:ViT-B/16 names a Hub repository, not clip's model" \
  "ViT-B/16: no such folder; as a Hugging Face Hub model: not in the Hugging Face cache" \
  env HF_HUB_OFFLINE=1 HF_HUB_CACHE="$TMP/hf" "$BIN" info --model hf-hub:ViT-B/16

# --------------------------------------------------- a name's file, converted
nl convert "$D/vit_jit.pt" -o "$TMP/ref" 2>/dev/null || bad "convert vit_jit.pt"
nl embed --no-cache --model "$TMP/ref" --image "$IMG" >"$TMP/ref.json" 2>/dev/null || bad "embed with the converted folder"
cp "$D/vit_jit.pt" "$CLIPDIR/ViT-B-16.pt"
sha=$(sha256sum "$D/vit_jit.pt" | cut -d' ' -f1)
nl info --model ViT-B/16 >"$TMP/info.json" 2>"$TMP/err"; rc=$?
check "info --model ViT-B/16 exits 0 (rc=$rc: $(cat "$TMP/err"))" test $rc -eq 0
check "warned: not the digest OpenAI publishes ($(cat "$TMP/err"))" grep -q \
  "ViT-B/16: $CLIPDIR/ViT-B-16.pt has SHA-256 $sha, not the 5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f OpenAI publishes (clip.load would download it again; neglabel does not): converting it as it is" \
  "$TMP/err"
check "converted once, said so" grep -q "ViT-B/16: converting $CLIPDIR/ViT-B-16.pt once into $OC/$sha" "$TMP/err"
check "info names the converted folder" grep -q "\"model\":\"$OC/$sha\"" "$TMP/info.json"
check "an OpenCLIP ViT with QuickGELU" grep -q '"format":"open_clip","architecture":"ViT".*"hidden_act":"quick_gelu"' "$TMP/info.json"
check "the same safetensors as neglabel convert's" \
  cmp -s "$TMP/ref/open_clip_model.safetensors" "$OC/$sha/open_clip_model.safetensors"
check "the same config as neglabel convert's" cmp -s "$TMP/ref/open_clip_config.json" "$OC/$sha/open_clip_config.json"
check "the cache holds the folder alone (no temporary left): $(ls -A "$OC")" test "$(ls -A "$OC")" = "$sha"
nl embed --no-cache --model ViT-B/16 --image "$IMG" >"$TMP/name.json" 2>"$TMP/err"
check "embed --model ViT-B/16: the converted folder's embedding" cmp -s "$TMP/ref.json" "$TMP/name.json"
check "the second load converts nothing" bash -c "! grep -q 'once into' '$TMP/err'"
# The published file's conversion needs no ~/.cache/clip: stand the fixture's
# in for it (the name is all that is looked up).
mv "$OC/$sha" "$OC/5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f"
rm "$CLIPDIR/ViT-B-16.pt"
nl embed --no-cache --model ViT-B/16 --image "$IMG" >"$TMP/name2.json" 2>"$TMP/err"; rc=$?
check "the published digest's folder loads without the file (rc=$rc: $(cat "$TMP/err"))" test $rc -eq 0
check "... with no warning and no conversion" bash -c "! grep -qE 'warning|converting' '$TMP/err'"
check "... the same embedding" cmp -s "$TMP/ref.json" "$TMP/name2.json"

# A folder of that name wins, as any path does.
mkdir -p "$TMP/cwd/ViT-B"
cp -r "$TMP/ref" "$TMP/cwd/ViT-B/32"
absbin=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")   # BIN may be relative to the repository
(cd "$TMP/cwd" && "$absbin" info --model ViT-B/32 >"$TMP/info.json" 2>"$TMP/err")
check "a folder ./ViT-B/32 is read as the folder ($(cat "$TMP/err"))" grep -q '"model":"ViT-B/32"' "$TMP/info.json"

# ------------------------------------------------------------ .pt by its path
rsha=$(sha256sum "$D/rn_jit.pt" | cut -d' ' -f1)
nl convert "$D/rn_jit.pt" -o "$TMP/rref" 2>/dev/null || bad "convert rn_jit.pt"
nl embed --no-cache --model "$TMP/rref" --image "$IMG" >"$TMP/rref.json" 2>/dev/null || bad "embed rn_jit's folder"
nl embed --no-cache --model "$D/rn_jit.pt" --image "$IMG" >"$TMP/rpt.json" 2>"$TMP/err"; rc=$?
check "embed --model rn_jit.pt exits 0 (rc=$rc: $(cat "$TMP/err"))" test $rc -eq 0
check "rn_jit.pt: converted into $OC/$rsha" grep -q "$D/rn_jit.pt: converting $D/rn_jit.pt once into $OC/$rsha" "$TMP/err"
check "rn_jit.pt: no digest warning (not one of clip's names)" bash -c "! grep -q 'OpenAI publishes' '$TMP/err'"
check "rn_jit.pt: the converted folder's embedding" cmp -s "$TMP/rref.json" "$TMP/rpt.json"
check "rn_jit.pt: the same safetensors" cmp -s "$TMP/rref/open_clip_model.safetensors" "$OC/$rsha/open_clip_model.safetensors"

# A config beside the checkpoint is read by convert, so it is part of the key.
mkdir -p "$TMP/withcfg"
cp "$D/vit_sd.pt" "$TMP/withcfg/model.pt"
cp "$TMP/ref/open_clip_config.json" "$TMP/withcfg/"
nl info --model "$TMP/withcfg/model.pt" >/dev/null 2>"$TMP/err" || bad "model.pt with a config beside: $(cat "$TMP/err")"
s1=$(sha256sum "$D/vit_sd.pt" | cut -d' ' -f1)
c1=$(sha256sum "$TMP/withcfg/open_clip_config.json" | cut -c1-16)
check "keyed by the checkpoint's and the config's digests ($(ls "$OC"))" test -d "$OC/$s1-$c1"
check "the config beside it is the folder's" cmp -s "$TMP/withcfg/open_clip_config.json" "$OC/$s1-$c1/open_clip_config.json"
sed -i 's/"quick_gelu": true/"quick_gelu": false/' "$TMP/withcfg/open_clip_config.json"
c2=$(sha256sum "$TMP/withcfg/open_clip_config.json" | cut -c1-16)
check "the edit changed the config" test "$c1" != "$c2"
nl info --model "$TMP/withcfg/model.pt" >"$TMP/info.json" 2>"$TMP/err" || bad "after the edit: $(cat "$TMP/err")"
check "another config, another conversion" test -d "$OC/$s1-$c2"
check "... read with GELU" grep -q '"hidden_act":"gelu"' "$TMP/info.json"

# A damaged checkpoint fails naming it, leaves nothing behind.
head -c 5000 "$D/vit_jit.pt" >"$TMP/cut.pt"
before=$(ls -A "$OC" | sort | tr '\n' ' ')
expect_fail "a truncated .pt fails naming the file" "$TMP/cut.pt: converting $TMP/cut.pt" \
  nl info --model "$TMP/cut.pt"
check "nothing left in the cache for it" test "$(ls -A "$OC" | sort | tr '\n' ' ')" = "$before"
# clip.load downloads straight into its file: an interrupted one is cut short
head -c 5000 "$D/vit_jit.pt" >"$CLIPDIR/RN101.pt"
expect_fail "a cut-off download under a name: the error says so" \
  "RN101: converting $CLIPDIR/RN101.pt: .*not the file OpenAI publishes: an interrupted or damaged download\\? delete it and let clip.load fetch it again" \
  nl info --model RN101
rm "$CLIPDIR/RN101.pt"
check "nothing left in the cache for it either" test "$(ls -A "$OC" | sort | tr '\n' ' ')" = "$before"
# What a killed conversion left (its pid gone) is removed by the next one;
# a running one's is left alone, and so is one with another host's or pid
# namespace's tag (a cache shared with a container or over NFS: its pid
# means nothing here). The killed run is real: SIGKILL at its first write.
SHIM=${NEGLABEL_FAULT_SHIM:-}
[ -f "$SHIM" ] || bad "fault shim not found ('$SHIM'; CMake builds it as fault_shim and exports NEGLABEL_FAULT_SHIM)"
PRELOAD=$SHIM
[ -n "${NEGLABEL_ASAN_RT:-}" ] && PRELOAD="$NEGLABEL_ASAN_RT $SHIM"
cp "$D/vit_sd.pt" "$TMP/other.pt"   # not converted yet without a config beside it
{ env LD_PRELOAD="$PRELOAD" NLFAULT_MATCH="$OC/.tmp." NLFAULT_AT=1 NLFAULT_ACTION=kill \
  "$BIN" info --model "$TMP/other.pt" >/dev/null 2>&1; } 2>/dev/null
left=$(cd "$OC" && ls -d .tmp.* 2>/dev/null)
check "the killed conversion left its folder ($left)" test "$(printf '%s\n' "$left" | grep -c .)" = 1
tag=$(printf '%s\n' "$left" | sed -n 's/^\.tmp\.[0-9]*\.\([0-9a-f]\{8\}\)\.[A-Za-z0-9]\{6\}$/\1/p')
check "its name is .tmp.<pid>.<tag>.XXXXXX ($left)" test -n "$tag"
other=0badc0de; [ "$tag" = $other ] && other=0badc0df
sleep 0 & dead=$!; wait $dead
mkdir -p "$OC/.tmp.$$.$tag.def456" "$OC/.tmp.$dead.$other.ghi789" "$OC/.tmp.$dead.jkl012"
nl info --model "$TMP/other.pt" >/dev/null 2>"$TMP/err" || bad "other.pt: $(cat "$TMP/err")"
check "a dead run's temporary folder is removed ($(cat "$TMP/err"))" test ! -e "$OC/$left"
check "... and said so" grep -q "removed $OC/$left, left by an interrupted conversion" "$TMP/err"
check "a live run's is kept" test -d "$OC/.tmp.$$.$tag.def456"
check "another namespace's is kept" test -d "$OC/.tmp.$dead.$other.ghi789"
check "an untagged one is kept" test -d "$OC/.tmp.$dead.jkl012"
rmdir "$OC/.tmp.$$.$tag.def456" "$OC/.tmp.$dead.$other.ghi789" "$OC/.tmp.$dead.jkl012"
# a cache that cannot be written: one message naming it
: >"$TMP/afile"
expect_fail "an unwritable cache is an error naming it" "$TMP/afile" \
  env NEGLABEL_CACHE="$TMP/afile" "$BIN" info --model "$D/rn_jit.pt"

# Concurrent first loads share one conversion.
cp "$D/vit_jit.pt" "$CLIPDIR/ViT-B-32.pt"
export NEGLABEL_CACHE=$TMP/cc
for i in 1 2 3 4; do nl info --model ViT-B/32 >"$TMP/c$i.json" 2>"$TMP/c$i.err" & done
wait
for i in 1 2 3 4; do
  check "concurrent load $i succeeded ($(cat "$TMP/c$i.err"))" grep -q "\"model\":\"$TMP/cc/openai-clip/$sha\"" "$TMP/c$i.json"
done
check "one folder, no temporary left ($(ls -A "$TMP/cc/openai-clip"))" test "$(ls -A "$TMP/cc/openai-clip")" = "$sha"
finish
