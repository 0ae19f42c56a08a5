# cli_hub.sh — models by name through the CLI, against tests/hub_server.py:
# a stand-in for the Hugging Face Hub on 127.0.0.1 (started here on a free
# port, stopped at the end; nothing else on the network is used). Part 1:
# neglabel's downloader (layout, resume, corruption, 401/404, read-only
# cache, offline, hostile index, tokens). Part 2: the same cache with the
# real huggingface_hub package, both ways; it needs a Python with
# huggingface_hub: NEGLABEL_HF_PYTHON, else $NEGLABEL_SRC/.venv-test/bin/python
# (.ci/run creates it). Without one, part 1 runs and the test reports
# itself skipped.
. "$(dirname "$0")/lib_cli.sh"
need_shared
M=$SHARED/fixtures/tiny-clip
PY=${NEGLABEL_PYTHON:-python3}
HFPY=${NEGLABEL_HF_PYTHON:-$SRC/.venv-test/bin/python}
command -v "$PY" >/dev/null || { echo "SKIP: $PY not found (Debian: python3)"; exit 77; }
command -v jq >/dev/null || { echo "SKIP: jq not found"; exit 77; }
chmod 755 "$TMP"   # the read-only case runs as another user

# Nothing of the caller's Hugging Face setup may leak in.
unset HF_TOKEN HUGGING_FACE_HUB_TOKEN HF_TOKEN_PATH HF_HUB_OFFLINE TRANSFORMERS_OFFLINE HF_HUB_CACHE \
  HUGGINGFACE_HUB_CACHE TRANSFORMERS_CACHE HF_HUB_DISABLE_IMPLICIT_TOKEN HF_ENDPOINT XDG_CACHE_HOME
export HF_HOME=$TMP/hf-home HF_HUB_DISABLE_TELEMETRY=1

# The repositories the server serves.
repo() { mkdir -p "$TMP/$1"; for f in config.json vocab.json merges.txt $2; do cp "$M/$f" "$TMP/$1/"; done; chmod -R u+w "$TMP/$1"; }
repo tiny "preprocessor_config.json model.safetensors"
repo noproc "model.safetensors"
# a fine-tune with an added word (transformers 4's added_tokens.json), and
# LAION's pad_token "!" (tokenizer_config.json, special_tokens_map.json)
repo added "preprocessor_config.json model.safetensors"
printf '{"<|endoftext|>": 49407, "<sks>": 49408}' >"$TMP/added/added_tokens.json"
printf '{"tokenizer_class": "CLIPTokenizer", "pad_token": "!"}' >"$TMP/added/tokenizer_config.json"
printf '{"pad_token": "!"}' >"$TMP/added/special_tokens_map.json"
# no safetensors weights: only pytorch_model.bin (older fine-tunes), sharded
# (its index and shards, tests/torch_zip.py), a damaged one, or nothing
HB=$SRC/tests/data/hf_bin
repo binonly ""
cp "$HB/pytorch_model.bin" "$HB/config.json" "$TMP/binonly/"
repo binsharded ""
cp "$HB/config.json" "$TMP/binsharded/"
"$PY" "$SRC/tests/torch_zip.py" shard "$HB/pytorch_model.bin" "$TMP/binsharded" ok || { echo "FAILED: torch_zip.py shard"; exit 1; }
repo binbad ""
cp "$HB/config.json" "$TMP/binbad/"
head -c 3000 "$HB/pytorch_model.bin" >"$TMP/binbad/pytorch_model.bin"
repo noweights "preprocessor_config.json"
repo sharded "preprocessor_config.json"
"$PY" "$SRC/tests/hub_server.py" shard "$M/model.safetensors" "$TMP/sharded"
repo evil "preprocessor_config.json"
printf '{"weight_map": {"logit_scale": "../../../../../tmp/evil.safetensors"}}' >"$TMP/evil/model.safetensors.index.json"
# OpenCLIP repositories (open_clip_config.json + open_clip_model.safetensors,
# no config.json): with the tokenizer files, and without (as timm/ repos)
"$(dirname "$BIN")/test_openclip" --write "$TMP/openclip" vit-small-gelu f16 || { echo "FAILED: test_openclip --write"; exit 1; }
cp -r "$TMP/openclip" "$TMP/openclip-notok"
cp "$M/vocab.json" "$M/merges.txt" "$TMP/openclip/"
# Both layouts in one repository, two different models (as laion/CLIP-ViT-*:
# transformers reads config.json + model.safetensors, open_clip its
# open_clip_config.json + open_clip_model.safetensors), and a timm/ one:
# timm's config.json (no CLIP config) beside OpenCLIP's files and a .bin
repo both "preprocessor_config.json model.safetensors"
cp "$TMP/openclip/open_clip_config.json" "$TMP/openclip/open_clip_model.safetensors" "$TMP/both/"
mkdir -p "$TMP/timm" && cp "$TMP/openclip/"* "$TMP/timm/" && cp "$SRC/tests/data/hf_bin/pytorch_model.bin" "$TMP/timm/"
printf '{"architecture": "vit_base_patch16_clip_224", "num_classes": 0, "pretrained_cfg": {"tag": "openai"}}' >"$TMP/timm/config.json"
# and one with open_clip_pytorch_model.bin alone (older OpenCLIP repositories):
# OpenAI's names in a torch.save zip, its config as `convert` infers it
"$BIN" convert -q "$SRC/tests/data/torchscript/vit_sd.pt" -o "$TMP/ocref" || { echo "FAILED: convert vit_sd.pt"; exit 1; }
cp "$M/vocab.json" "$M/merges.txt" "$TMP/ocref/"
mkdir -p "$TMP/openclipbin"
cp "$TMP/ocref/open_clip_config.json" "$M/vocab.json" "$M/merges.txt" "$TMP/openclipbin/"
cp "$SRC/tests/data/torchscript/vit_sd.pt" "$TMP/openclipbin/open_clip_pytorch_model.bin"
# A folder as transformers 5 saves it: tokenizer.json instead of vocab.json +
# merges.txt, processor_config.json (the image processor under
# "image_processor") instead of preprocessor_config.json.
mkdir -p "$TMP/v5" && cp "$M/config.json" "$M/model.safetensors" "$TMP/v5/"
"$PY" - "$M" "$TMP/v5" <<'EOF'
import json, sys
src, out = sys.argv[1], sys.argv[2]
vocab = json.load(open(src + "/vocab.json", encoding="utf-8"))
merges = open(src + "/merges.txt", encoding="utf-8").read().split("\n")[1:]
merges = [m.split(" ") for m in merges if m]
tok = {"version": "1.0", "model": {"type": "BPE", "dropout": None, "unk_token": "<|endoftext|>",
       "continuing_subword_prefix": "", "end_of_word_suffix": "</w>", "fuse_unk": False,
       "byte_fallback": False, "ignore_merges": False, "vocab": vocab, "merges": merges}}
json.dump(tok, open(out + "/tokenizer.json", "w", encoding="utf-8"), ensure_ascii=False)
pp = json.load(open(src + "/preprocessor_config.json"))
json.dump({"image_processor": pp, "processor_class": "CLIPProcessor"}, open(out + "/processor_config.json", "w"))
EOF
# GroupViT (model_type "groupvit"), as nvidia/groupvit-gcc-yfcc holds it
mkdir -p "$TMP/gv" && cp "$SRC/tests/data/groupvit/config.json" "$SRC/tests/data/groupvit/model.safetensors" \
  "$SRC/tests/data/groupvit/preprocessor_config.json" "$M/vocab.json" "$M/merges.txt" "$TMP/gv/"
# AltCLIP (model_type "altclip"), as BAAI/AltCLIP holds it: its XLM-R
# tokenizer as tokenizer.json (and a sentencepiece.bpe.model, not read)
mkdir -p "$TMP/alt" && cp "$SRC/tests/data/altclip/config.json" "$SRC/tests/data/altclip/model.safetensors" \
  "$SRC/tests/data/altclip/preprocessor_config.json" "$SRC/tests/data/unigram/tokenizer.json" "$TMP/alt/"
printf 'not a model' >"$TMP/alt/sentencepiece.bpe.model"
# ALIGN (model_type "align"), its BERT tokenizer as vocab.txt +
# tokenizer_config.json only (no tokenizer.json: the last fallback)
mkdir -p "$TMP/align" && cp "$SRC/tests/data/align/config.json" "$SRC/tests/data/align/model.safetensors" \
  "$SRC/tests/data/align/preprocessor_config.json" "$SRC/tests/data/align/vocab.txt" \
  "$SRC/tests/data/align/tokenizer_config.json" "$TMP/align/"
# SigLIP (model_type "siglip"), its tokenizer as spiece.model +
# tokenizer_config.json (google/siglip-*: the last fallback), and a copy
# that has a tokenizer.json too (only its added tokens are read:
# SiglipTokenizer encodes with spiece.model, which must come all the same)
mkdir -p "$TMP/siglip" && cp "$SRC/tests/data/siglip/config.json" "$SRC/tests/data/siglip/model.safetensors" \
  "$SRC/tests/data/siglip/preprocessor_config.json" "$SRC"/tests/data/spm/t5/* "$TMP/siglip/"
mkdir -p "$TMP/siglip-tj" && cp "$TMP/siglip"/* "$TMP/siglip-tj/" && printf '{"added_tokens": []}' >"$TMP/siglip-tj/tokenizer.json"

LOG=$TMP/server.log
"$PY" "$SRC/tests/hub_server.py" --port-file "$TMP/port" --log "$LOG" \
  --repo org/tiny="$TMP/tiny" --repo org/noproc="$TMP/noproc" --repo org/sharded="$TMP/sharded" --repo org/added="$TMP/added" \
  --repo org/evil="$TMP/evil" --repo org/binonly="$TMP/binonly" --repo org/binsharded="$TMP/binsharded" --repo org/binbad="$TMP/binbad" --repo org/noweights="$TMP/noweights" --repo org/cut="$TMP/tiny" --repo org/stall="$TMP/tiny" \
  --repo org/corrupt="$TMP/tiny" --repo org/gated="$TMP/tiny" \
  --repo org/openclip="$TMP/openclip" --repo org/openclip-notok="$TMP/openclip-notok" --repo org/openclipbin="$TMP/openclipbin" --repo org/v5="$TMP/v5" \
  --repo org/both="$TMP/both" --repo org/timm="$TMP/timm" --repo org/groupvit="$TMP/gv" --repo org/altclip="$TMP/alt" --repo org/align="$TMP/align" \
  --repo org/siglip="$TMP/siglip" --repo org/siglip-tj="$TMP/siglip-tj" \
  --cut org/cut:model.safetensors:4000000 --stall org/stall:model.safetensors:3000000 \
  --corrupt org/corrupt:model.safetensors --gated org/gated=hf_test_token \
  --repo org/flaky="$TMP/tiny" --notfound org/flaky:preprocessor_config.json:1 \
  --repo org/mirror="$TMP/tiny" --alias org/mirror=$(printf 'b%.0s' $(seq 40)) \
  --repo org/busy="$TMP/tiny" --busy org/busy:config.json:1:3 \
  --repo org/slow="$TMP/tiny" --busy org/slow:config.json:1:50 \
  --repo org/denied="$TMP/tiny" --cdn-expire org/denied:model.safetensors:1000 \
  --repo org/expired="$TMP/tiny" --cdn-expire org/expired:model.safetensors:1 \
  --repo org/once="$TMP/tiny" --cdn-once org/once:model.safetensors --cut org/once:model.safetensors:4000000 \
  --repo org/errpage="$TMP/tiny" --error-page org/errpage:config.json:1 --error-page org/errpage:model.safetensors:1 \
  --repo org/down="$TMP/tiny" --error-page org/down:config.json:100 \
  --repo org/limited="$TMP/tiny" --ratelimit org/limited:config.json:1:3 &
SERVER=$!
# (only in this shell, not in a subshell killed before it reset its traps: lib_cli.sh)
trap 'if [ "$BASHPID" = "$$" ]; then kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; chmod -R u+w "$TMP" 2>/dev/null; rm -rf "$TMP"; fi' EXIT
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
[ -s "$TMP/port" ] || { echo "FAILED: the test server did not start"; exit 1; }
EP=http://127.0.0.1:$(cat "$TMP/port")
export HF_ENDPOINT=$EP

T() { timeout 120 "$BIN" --no-cache "$@"; }
# info without the "model" path field
info_of() { T info --model "$1" | jq -S 'del(.model)'; }
requests() { wc -l <"$LOG"; }
since() { tail -n +$(($1 + 1)) "$LOG"; }
snapshot() { echo "$1"/models--org--"$2"/snapshots/"$(cat "$1"/models--org--"$2"/refs/main)"; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }
gitblob() { "$PY" -c 'import hashlib,sys; d=open(sys.argv[1],"rb").read(); print(hashlib.sha1(b"blob %d\0" % len(d) + d).hexdigest())' "$1"; }

info_of "$TMP/tiny" >"$TMP/want.json"

# --- a fresh download
C=$TMP/c1
HF_HUB_CACHE=$C T info --model org/tiny >"$TMP/got-full.json" 2>"$TMP/err"
check "download: info works" test $? -eq 0
jq -S 'del(.model)' "$TMP/got-full.json" >"$TMP/got.json"
check "download: info equals info on the folder" cmp -s "$TMP/want.json" "$TMP/got.json"
check "download: progress line names what is fetched" grep -q "downloading org/tiny@" "$TMP/err"
R=$C/models--org--tiny
COMMIT=$(cat "$R/refs/main")
check "refs/main holds a commit" grep -qxE '[0-9a-f]{40}' "$R/refs/main"
check "refs/main has no newline (as huggingface_hub)" test "$(wc -c <"$R/refs/main")" -eq 40
for f in added_tokens.json tokenizer_config.json special_tokens_map.json; do
  check "$f asked for, recorded absent" test -e "$R/.no_exist/$COMMIT/$f"
done
check "info names the snapshot" test "$(jq -r .model "$TMP/got-full.json")" = "$R/snapshots/$COMMIT"
for f in config.json vocab.json merges.txt preprocessor_config.json model.safetensors; do
  if [ "$f" = model.safetensors ]; then e=$(sha256 "$M/$f"); else e=$(gitblob "$M/$f"); fi
  check "$f: relative symlink to blobs/<etag>" test "$(readlink "$R/snapshots/$COMMIT/$f")" = "../../blobs/$e"
  check "$f: same bytes" cmp -s "$M/$f" "$R/snapshots/$COMMIT/$f"
done
check "no partial files left" test -z "$(find "$C" -name '*.incomplete' -o -name '*.tmp')"
check "CACHEDIR.TAG" grep -q huggingface_hub "$C/CACHEDIR.TAG"
check "LFS file fetched from the CDN host, not followed on HEAD" \
  test "$(grep -c '"path": "/cdn/' "$LOG")" -eq 1
# a repository's added_tokens.json, tokenizer_config.json and
# special_tokens_map.json are fetched with vocab.json + merges.txt, so the
# model tokenizes as the folder does: "<sks>" and LAION's "!" matched whole,
# as transformers does (5.24 gives these ids for this folder;
# test_tokenizer_added checks more against transformers). Before, only
# added_tokens.json was fetched, and "!" came out as "!</w>" where
# transformers gives the pad token.
printf '{"text": "a <sks>!"}\n' >"$TMP/added-text.jsonl"
"$BIN" --no-cache tokenize --model "$TMP/added" <"$TMP/added-text.jsonl" >"$TMP/added-folder.jsonl" 2>/dev/null
check "added tokens: the folder matches \"<sks>\" and \"!\" whole" \
  test "$(jq -c .ids "$TMP/added-folder.jsonl")" = "[49406,320,49408,0,49407]"
HF_HUB_CACHE="$TMP/c-added" T tokenize --model org/added <"$TMP/added-text.jsonl" >"$TMP/added-hub.jsonl" 2>"$TMP/err"
check "added tokens: the Hub model tokenizes as the folder" cmp -s "$TMP/added-folder.jsonl" "$TMP/added-hub.jsonl"
for f in added_tokens.json tokenizer_config.json special_tokens_map.json; do
  check "added tokens: $f fetched" cmp -s "$TMP/added/$f" "$(snapshot "$TMP/c-added" added)/$f"
done
# a repository without safetensors weights: its pytorch_model.bin is fetched
# and converted in the snapshot, as `neglabel convert` converts it (before:
# refused, with the commands to do that by hand)
"$BIN" convert -q "$HB/pytorch_model.bin" -o "$TMP/binref" || bad "convert of hf_bin"
cp "$M/vocab.json" "$M/merges.txt" "$TMP/binref/"
info_of "$TMP/binref" >"$TMP/want-bin.json"
check "info on the converted folder" test "$(jq -r .fingerprint "$TMP/want-bin.json")" != null
HF_HUB_CACHE=$TMP/c-bin T info --model org/binonly 2>"$TMP/err-bin" | jq -S 'del(.model)' >"$TMP/got-bin.json"
check "only pytorch_model.bin: info equals info on the converted folder" cmp -s "$TMP/want-bin.json" "$TMP/got-bin.json"
check "only pytorch_model.bin: the conversion is said" grep -q "org/binonly@[0-9a-f]* has no safetensors weights: converting its pytorch_model.bin to model.safetensors" "$TMP/err-bin"
B=$(snapshot "$TMP/c-bin" binonly)
check "converted: model.safetensors a file of its own in the snapshot" test -f "$B/model.safetensors" -a ! -L "$B/model.safetensors"
check "converted: the same bytes as neglabel convert writes" cmp -s "$TMP/binref/model.safetensors" "$B/model.safetensors"
check "converted: pytorch_model.bin kept, linked to its blob" test "$(readlink "$B/pytorch_model.bin")" = "../../blobs/$(gitblob "$HB/pytorch_model.bin")"
check "converted: no temporary file left" test -z "$(find "$TMP/c-bin" -name '*.tmp*' -o -name '*.incomplete')"
n=$(requests)
HF_HUB_CACHE=$TMP/c-bin T info --model org/binonly >/dev/null 2>"$TMP/err-bin2"
check "converted, cached: one request" test "$(since $n | wc -l)" -eq 1
check "converted, cached: not converted again" test "$(grep -c converting "$TMP/err-bin2")" -eq 0
HF_HUB_CACHE=$TMP/c-bin HF_HUB_OFFLINE=1 T info --model org/binonly >/dev/null 2>&1
check "converted, offline: loads" test $? -eq 0
# a snapshot asked again (here: no record that tokenizer_config.json is
# absent, as in one taken before that file was asked for) keeps the
# converted file: not converted again (before the fix: converted anew)
rm "$B/../../.no_exist/$(basename "$B")/tokenizer_config.json"
HF_HUB_CACHE=$TMP/c-bin T info --model org/binonly >/dev/null 2>"$TMP/err-bin5"
check "converted, asked again: works, not converted again" \
  test $? -eq 0 -a "$(grep -c converting "$TMP/err-bin5")" -eq 0 -a -e "$B/../../.no_exist/$(basename "$B")/tokenizer_config.json"
# a cache holding the .bin alone (as transformers leaves it): converted
# offline, without the Hub
B=$(snapshot "$TMP/c-bin" binonly)
rm "$B/model.safetensors"
n=$(requests)
HF_HUB_CACHE=$TMP/c-bin HF_HUB_OFFLINE=1 T info --model org/binonly 2>"$TMP/err-bin4" | jq -S 'del(.model)' >"$TMP/got-bin4.json"
check "the .bin alone in the cache, offline: converted and loaded" cmp -s "$TMP/want-bin.json" "$TMP/got-bin4.json"
check "the .bin alone in the cache, offline: said" grep -q "converting its pytorch_model.bin" "$TMP/err-bin4"
check "the .bin alone in the cache, offline: no request" test "$(requests)" -eq "$n"
check "the .bin alone in the cache, offline: the same bytes" cmp -s "$TMP/binref/model.safetensors" "$B/model.safetensors"
# sharded: every shard fetched, one model.safetensors, the same bytes
HF_HUB_CACHE=$TMP/c-bin T info --model org/binsharded 2>"$TMP/err-bin3" | jq -S 'del(.model)' >"$TMP/got-bin3.json"
check "sharded pytorch_model.bin: info equals info on the converted folder" cmp -s "$TMP/want-bin.json" "$TMP/got-bin3.json"
B=$(snapshot "$TMP/c-bin" binsharded)
check "sharded: both shards fetched" test -L "$B/pytorch_model-00001-of-00002.bin" -a -L "$B/pytorch_model-00002-of-00002.bin"
check "sharded: converted to the same bytes" cmp -s "$TMP/binref/model.safetensors" "$B/model.safetensors"
expect_fail "a damaged pytorch_model.bin: the conversion's error" \
  "org/binbad@[0-9a-f]+: converting pytorch_model.bin to model.safetensors: .*pytorch_model.bin" \
  env HF_HUB_CACHE="$TMP/c-bin" "$BIN" --no-cache info --model org/binbad
check "damaged: no model.safetensors in its snapshot" test -z "$(find "$TMP/c-bin/models--org--binbad/snapshots" -name 'model.safetensors*')"
expect_fail "no weights at all" "org/noweights@[0-9a-f]+ has neither model.safetensors nor model.safetensors.index.json, nor a pytorch_model.bin \(or its index\) to convert" \
  env HF_HUB_CACHE="$TMP/c-bin" "$BIN" --no-cache info --model org/noweights

# --- cached: one HEAD to learn the commit, nothing downloaded
n=$(requests)
HF_HUB_CACHE=$C T info --model org/tiny >/dev/null 2>&1
check "cached: one request" test "$(since $n | wc -l)" -eq 1
check "cached: it is a HEAD of config.json" grep -q '"HEAD", "path": "/org/tiny/resolve/main/config.json"' <(since $n)
n=$(requests)
HF_HUB_CACHE=$C HF_HUB_OFFLINE=1 T info --model org/tiny >/dev/null 2>&1
check "offline and cached: works" test $? -eq 0
HF_HUB_CACHE=$C T info --model "org/tiny@$COMMIT" >/dev/null 2>&1
check "by commit: works" test $? -eq 0
check "offline / by commit: no request" test "$(requests)" -eq "$n"
HF_HUB_CACHE=$C T info --model org/tiny@v1 >/dev/null 2>&1
check "a tag: works" test $? -eq 0
check "a tag: refs/v1 written" test "$(cat "$R/refs/v1")" = "$COMMIT"

# --- --quiet: no progress, no messages
HF_HUB_CACHE=$TMP/c-quiet T --quiet info --model org/tiny >/dev/null 2>"$TMP/err"
check "quiet download: nothing on stderr" test ! -s "$TMP/err"

# --- offline, not cached
n=$(requests)
expect_fail "offline, not cached" "org/tiny.*not in the Hugging Face cache" \
  env HF_HUB_CACHE="$TMP/c-empty" HF_HUB_OFFLINE=1 "$BIN" --no-cache info --model org/tiny
check "offline: no request" test "$(requests)" -eq "$n"
# --- a snapshot whose download was interrupted before preprocessor_config.json
# (the files are fetched one by one; the ref is written last, so this is a
# pinned commit): offline it loads with CLIP's default preprocessing, which
# is said, not silent; with the Hub reachable the file is fetched
cp -a "$C" "$TMP/c-part"
rm "$TMP/c-part/models--org--tiny/snapshots/$COMMIT/preprocessor_config.json"
HF_HUB_CACHE=$TMP/c-part HF_HUB_OFFLINE=1 "$BIN" --no-cache info --model "org/tiny@$COMMIT" >/dev/null 2>"$TMP/err"
check "interrupted before the preprocessing file: offline still works" test $? -eq 0
check "interrupted before the preprocessing file: offline warns, naming it" \
  grep -q "warning:.*no preprocessor_config.json in the cached snapshot" "$TMP/err"
HF_HUB_CACHE=$C HF_HUB_OFFLINE=1 "$BIN" --no-cache info --model "org/tiny@$COMMIT" >/dev/null 2>"$TMP/err"
check "a complete snapshot offline: no warning" sh -c "! grep -q warning '$TMP/err'"
HF_HUB_CACHE=$TMP/c-part "$BIN" --no-cache info --model "org/tiny@$COMMIT" >/dev/null 2>&1
check "with the Hub reachable the file is fetched" \
  cmp -s "$M/preprocessor_config.json" "$TMP/c-part/models--org--tiny/snapshots/$COMMIT/preprocessor_config.json"
# the default model is the paper's, by name
expect_fail "default model" "openai/clip-vit-base-patch16.*not in the Hugging Face cache" \
  env HF_HUB_CACHE="$TMP/c-empty" HF_HUB_OFFLINE=1 "$BIN" --no-cache info

# --- a connection cut mid-file: resumed with a Range request, same bytes
C=$TMP/c-cut
HF_HUB_CACHE=$C T info --model org/cut >/dev/null 2>"$TMP/err"
rc=$?; check "cut: works ($(tail -1 "$TMP/err"))" test $rc -eq 0
check "cut: resumed at byte 4000000 (206)" grep -q '"range": "bytes=4000000-", "auth": null, "status": 206' "$LOG"
check "cut: same bytes" cmp -s "$M/model.safetensors" "$(snapshot "$C" cut)/model.safetensors"

# --- a download killed mid-file: the next run resumes the .incomplete file
C=$TMP/c-stall
HF_HUB_CACHE=$C "$BIN" --no-cache info --model org/stall >/dev/null 2>&1 &
PID=$!
INC=$C/models--org--stall/blobs/$(sha256 "$M/model.safetensors").incomplete
for _ in $(seq 300); do [ "$(stat -c %s "$INC" 2>/dev/null || echo 0)" -ge 3000000 ] && break; sleep 0.1; done
kill -9 $PID 2>/dev/null; wait $PID 2>/dev/null
check "killed: 3000000 bytes kept in .incomplete" test "$(stat -c %s "$INC" 2>/dev/null)" = 3000000
HF_HUB_CACHE=$C T info --model org/stall >/dev/null 2>"$TMP/err"
rc=$?; check "killed: the next run works ($(tail -1 "$TMP/err"))" test $rc -eq 0
check "killed: one GET of the rest" test "$(grep -c '"range": "bytes=3000000-"' "$LOG")" -eq 1
check "killed: resumed at byte 3000000 (206)" grep -q '"range": "bytes=3000000-", "auth": null, "status": 206' "$LOG"
check "killed: same bytes" cmp -s "$M/model.safetensors" "$(snapshot "$C" stall)/model.safetensors"
check "killed: .incomplete gone" test ! -e "$INC"

# --- waiting for another process's download of the same blob (its lock
# held, as huggingface_hub or another neglabel holds it while downloading):
# SIGTERM still stops the command promptly, with nothing downloaded
C=$TMP/c-locked
mkdir -p "$C/.locks/models--org--tiny"
LOCK=$C/.locks/models--org--tiny/$(sha256 "$M/model.safetensors").lock
"$PY" -c 'import fcntl, sys, time; f = open(sys.argv[1], "w"); fcntl.flock(f, fcntl.LOCK_EX); print(flush=True); time.sleep(60)' \
  "$LOCK" >"$TMP/locker.out" &
LOCKER=$!
for _ in $(seq 100); do [ -s "$TMP/locker.out" ] && break; sleep 0.1; done
HF_HUB_CACHE=$C "$BIN" --no-cache info --model org/tiny >/dev/null 2>"$TMP/err" &
PID=$!
for _ in $(seq 100); do grep -q downloading "$TMP/err" && break; sleep 0.1; done
sleep 0.5
kill -TERM $PID
for _ in $(seq 50); do kill -0 $PID 2>/dev/null || break; sleep 0.1; done
if kill -0 $PID 2>/dev/null; then stopped=no; kill -9 $PID; else stopped=yes; fi
wait $PID; rc=$?
kill $LOCKER 2>/dev/null; wait $LOCKER 2>/dev/null
check "lock held elsewhere: SIGTERM stops the wait within 5 s" test $stopped = yes
check "lock held elsewhere: ends by SIGTERM (exit $rc), saying so" test $rc -eq 143 -a "$(grep -c 'stopped by SIGTERM' "$TMP/err")" -eq 1
check "lock held elsewhere: no model.safetensors fetched" test -z "$(find "$C" -name "$(sha256 "$M/model.safetensors")*" -path '*/blobs/*')"

# --- corrupted bytes under the true SHA-256: refused, nothing kept
C=$TMP/c-corrupt
expect_fail "corrupt blob refused" "localhost:[0-9]+/cdn/org/corrupt/.*do not match.*SHA-256.*expected $(sha256 "$M/model.safetensors")" \
  env HF_HUB_CACHE="$C" "$BIN" --no-cache info --model org/corrupt
env HF_HUB_CACHE="$C" "$BIN" --no-cache info --model org/corrupt >/dev/null 2>"$TMP/err"
check "corrupt: the URL's query (?sig=...) is left out of the message" \
  grep -qE "localhost:[0-9]+/cdn/org/corrupt/[0-9a-f]{64}\?\.\.\.: the downloaded bytes" "$TMP/err"
check "corrupt: no blob, no partial file" test -z "$(find "$C/models--org--corrupt/blobs" -name "$(sha256 "$M/model.safetensors")*")"
check "corrupt: not in the snapshot" test -z "$(find "$C/models--org--corrupt/snapshots" -name model.safetensors)"

# --- 401 and 404
expect_fail "401 without a token" "$EP/org/gated/resolve/main/config.json: HTTP 401 GatedRepo.*HF_TOKEN" \
  env HF_HUB_CACHE="$TMP/c-gated" "$BIN" --no-cache info --model org/gated
expect_fail "401 with a wrong token" "HTTP 401.*the token in HF_TOKEN has no access" \
  env HF_HUB_CACHE="$TMP/c-gated" HF_TOKEN=hf_wrong "$BIN" --no-cache info --model org/gated
n=$(requests)
HF_HUB_CACHE=$TMP/c-gated HF_TOKEN=hf_test_token T info --model org/gated >/dev/null 2>&1
check "with the token: works" test $? -eq 0
check "the token goes to the Hub" test "$(since $n | grep '/org/gated/resolve/' | grep -vc 'Bearer hf_test_token')" -eq 0
check "the token does not go to the CDN" test "$(since $n | grep '/cdn/' | grep -c 'Bearer')" -eq 0
# the CDN refusing the signed link the Hub gave (expired: a link fetched
# before a long download of other files, or kept for a resume, is past its
# time): a new link is asked of the Hub at the same commit, and the file
# comes from it
n=$(requests)
HF_HUB_CACHE=$TMP/c-expired T info --model org/expired >/dev/null 2>"$TMP/err"
rc=$?; check "CDN link expired: works ($(tail -1 "$TMP/err"))" test $rc -eq 0
check "CDN link expired: the first link refused (403), the second used" \
  test "$(since $n | jq -r 'select(.path | startswith("/cdn/")) | "\(.status) \(.path | sub(".*-"; ""))"' | tr '\n' ' ')" = "403 1 200 2 "
check "CDN link expired: the new link asked of the Hub at the commit" \
  test "$(since $n | jq -r 'select(.method == "HEAD" and (.path | endswith("/model.safetensors"))) | .path' | grep -cE "^/org/expired/resolve/[0-9a-f]{40}/")" -eq 2
check "CDN link expired: the log says why" grep -q "model.safetensors: the storage host answered HTTP 403 to the download link: asking the Hub for a new one" "$TMP/err"
check "CDN link expired: same bytes" cmp -s "$M/model.safetensors" "$(snapshot "$TMP/c-expired" expired)/model.safetensors"
# a link that expires during the download: the resume (Range) goes on with
# a new link from the byte reached, not from the start
n=$(requests)
HF_HUB_CACHE=$TMP/c-once T info --model org/once >/dev/null 2>"$TMP/err"
rc=$?; check "CDN link expired mid-download: works ($(tail -1 "$TMP/err"))" test $rc -eq 0
check "CDN link expired mid-download: cut, refused, resumed at byte 4000000 with the new link" \
  test "$(since $n | jq -r 'select(.path | startswith("/cdn/")) | "\(.status) \(.range) \(.path | sub(".*-"; ""))"' | tr '\n' ' ')" = "200 null 1 403 bytes=4000000- 1 206 bytes=4000000- 2 "
check "CDN link expired mid-download: same bytes" cmp -s "$M/model.safetensors" "$(snapshot "$TMP/c-once" once)/model.safetensors"
# the CDN refusing every link: the error says so, and does not blame the
# token, which never goes there
n=$(requests)
HF_HUB_CACHE=$TMP/c-denied HF_TOKEN=hf_some_token "$BIN" --no-cache info --model org/denied >/dev/null 2>"$TMP/err"
check "CDN 403 always: fails (exit $?)" test $? -eq 1
check "CDN 403 always: the error says the storage host refused the link, new ones too" \
  grep -qE "localhost:[0-9]+/cdn/org/denied/.*HTTP 403: Request has expired \(the storage host refused the download link the Hub gave\); refused with 2 new links from the Hub too" "$TMP/err"
check "CDN 403 always: 3 links tried, then no more" test "$(since $n | grep -c '"path": "/cdn/')" -eq 3
check "CDN 403 always: the token is not blamed" sh -c "! grep -q HF_TOKEN '$TMP/err'"
# the storage host's signed link (its query string: the signature, which
# lets whoever reads the log fetch the file until it expires) is not shown
check "CDN 403 always: the URL's query (?sig=...) is left out of the message" sh -c "! grep -q 'sig=' '$TMP/err'"
# a GroupViT repository by name: fetched as a Hugging Face model, read as GroupViT
HF_HUB_CACHE=$TMP/c-gv T info --model org/groupvit >"$TMP/gv.json" 2>"$TMP/err"
rc=$?; check "GroupViT by name: works ($(tail -1 "$TMP/err"))" test $rc -eq 0
check "GroupViT by name: its architecture" test "$(jq -r .architecture "$TMP/gv.json")" = GroupViT
check "GroupViT by name: the weights fetched" \
  cmp -s "$SRC/tests/data/groupvit/model.safetensors" "$(snapshot "$TMP/c-gv" groupvit)/model.safetensors"
# an AltCLIP repository by name: its tokenizer.json fetched, read as AltCLIP
HF_HUB_CACHE=$TMP/c-alt T info --model org/altclip >"$TMP/alt.json" 2>"$TMP/err"
rc=$?; check "AltCLIP by name: works ($(tail -1 "$TMP/err"))" test $rc -eq 0
check "AltCLIP by name: its architecture" test "$(jq -r .architecture "$TMP/alt.json")" = AltCLIP
check "AltCLIP by name: its tokenizer.json fetched" \
  cmp -s "$SRC/tests/data/unigram/tokenizer.json" "$(snapshot "$TMP/c-alt" altclip)/tokenizer.json"
# an ALIGN repository with vocab.txt alone: fetched, read as ALIGN
HF_HUB_CACHE=$TMP/c-align T info --model org/align >"$TMP/align.json" 2>"$TMP/err"
rc=$?; check "ALIGN by name: works ($(tail -1 "$TMP/err"))" test $rc -eq 0
check "ALIGN by name: its architecture and WordPiece tokenizer" \
  test "$(jq -r '.architecture + " " + .tokenizer' "$TMP/align.json")" = "ALIGN vocab.txt (WordPiece)"
check "ALIGN by name: its vocab.txt fetched" \
  cmp -s "$SRC/tests/data/align/vocab.txt" "$(snapshot "$TMP/c-align" align)/vocab.txt"
# SigLIP repositories: spiece.model fetched as their tokenizer, also
# beside a tokenizer.json
for r in siglip siglip-tj; do
  HF_HUB_CACHE=$TMP/c-$r T info --model org/$r >"$TMP/$r.json" 2>"$TMP/err"
  rc=$?; check "SigLIP by name ($r): works ($(tail -1 "$TMP/err"))" test $rc -eq 0
  check "SigLIP by name ($r): its architecture and SentencePiece tokenizer" \
    test "$(jq -r '.architecture + " " + (.tokenizer | split(" ")[0])' "$TMP/$r.json")" = "SigLIP spiece.model"
  check "SigLIP by name ($r): its spiece.model fetched" \
    cmp -s "$SRC/tests/data/spm/t5/spiece.model" "$(snapshot "$TMP/c-$r" $r)/spiece.model"
done
# a 503 with a long error page (a proxy's, 100 kB): retried as any 503, on
# the Hub and on the CDN; it used to end the download at once with libcurl's
# "Failure writing output to destination" (the page is read 64 kB at most)
n=$(requests)
HF_HUB_CACHE=$TMP/c-errpage T info --model org/errpage >/dev/null 2>&1
check "503 with a long page: retried, works" test $? -eq 0
check "503 with a long page: once on the Hub, once on the CDN" \
  test "$(since $n | jq -r 'select(.method == "GET" and .status == 503) | .path' | cut -d/ -f2 | tr '\n' ' ')" = "org cdn "
expect_fail "503 with a long page every time: the error names the status" \
  "GET $EP/org/down/resolve/[0-9a-f]{40}/config.json: HTTP 503" \
  env HF_HUB_CACHE="$TMP/c-down" "$BIN" --no-cache info --model org/down
mkdir -p "$TMP/hf-home2" && printf 'hf_test_token\n' >"$TMP/hf-home2/token"
HF_HOME=$TMP/hf-home2 HF_HUB_CACHE=$TMP/c-gated2 T info --model org/gated >/dev/null 2>&1
check "the token file of 'hf auth login' is used" test $? -eq 0
HF_TOKEN=' ' HF_HOME=$TMP/hf-home2 HF_HUB_CACHE=$TMP/c-gated3 T info --model org/gated >/dev/null 2>&1
check "HF_TOKEN of white space only: the token file is used (as huggingface_hub)" test $? -eq 0
expect_fail "404 repository" "$EP/org/missing/resolve/main/config.json: HTTP 404 RepoNotFound" \
  env HF_HUB_CACHE="$TMP/c-404" "$BIN" --no-cache info --model org/missing
expect_fail "404 revision" "$EP/org/tiny/resolve/nope/config.json: HTTP 404 RevisionNotFound" \
  env HF_HUB_CACHE="$TMP/c-404" "$BIN" --no-cache info --model org/tiny@nope
expect_fail "unreachable endpoint" "http://127.0.0.1:1/org/tiny/resolve/main/config.json" \
  env HF_HUB_CACHE="$TMP/c-404" HF_ENDPOINT=http://127.0.0.1:1 "$BIN" --no-cache info --model org/tiny
quietly() { "$@" >/dev/null; }
check "unreachable endpoint, cached model: used" \
  quietly env HF_HUB_CACHE="$TMP/c1" HF_ENDPOINT=http://127.0.0.1:1 "$BIN" --no-cache --quiet info --model org/tiny

# --- a read-only cache: a clear error when something must be written,
# fine when the model is there. root ignores permissions: run as nobody.
AS=()
if [ "$(id -u)" -eq 0 ]; then
  if setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
    AS=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
  else
    AS=(none)
  fi
fi
mkdir -p "$TMP/c-ro" && chmod 555 "$TMP/c-ro"
cp -a "$TMP/c1" "$TMP/c-ro-full" && chmod -R a-w "$TMP/c-ro-full"
if [ "${AS[0]:-}" = none ]; then
  # no way to drop root here: a cache path that cannot be created instead
  : >"$TMP/not-a-folder"
  expect_fail "unwritable cache" "cannot write to the Hugging Face cache.*HF_HUB_CACHE" \
    env HF_HUB_CACHE="$TMP/not-a-folder/hub" "$BIN" --no-cache info --model org/tiny
else
  expect_fail "read-only cache" "cannot write to the Hugging Face cache $TMP/c-ro.*Permission denied.*HF_HUB_CACHE" \
    env HF_HUB_CACHE="$TMP/c-ro" "${AS[@]}" "$BIN" --no-cache info --model org/tiny
  check "read-only cache holding the model" quietly env HF_HUB_CACHE="$TMP/c-ro-full" "${AS[@]}" "$BIN" --no-cache --quiet info --model org/tiny@v1
  # holding the model's files but not the optional ones (nor their absence:
  # another tool fetched the model alone): used as it is, with warnings
  # (before: "cannot write to the Hugging Face cache", though offline it loads)
  cp -a "$TMP/c1" "$TMP/c-ro-part"
  rm -rf "$TMP/c-ro-part/models--org--tiny/.no_exist" "$(snapshot "$TMP/c-ro-part" tiny)/preprocessor_config.json"
  chmod -R a-w "$TMP/c-ro-part"
  env HF_HUB_CACHE="$TMP/c-ro-part" "${AS[@]}" "$BIN" --no-cache info --model org/tiny >/dev/null 2>"$TMP/ro-part.err"
  rc=$?
  check "read-only cache with the model alone: loads (rc=$rc): $(head -c 300 "$TMP/ro-part.err")" test $rc -eq 0
  check "... said" grep -q "lacks optional files .* cannot be written to fetch them: used as it is" "$TMP/ro-part.err"
  check "... and says the preprocessing is CLIP's default" grep -q "CLIP's default image preprocessing is used" "$TMP/ro-part.err"
fi

# --- sharded weights: the index, then each shard
C=$TMP/c-sharded
info_of "$TMP/sharded" >"$TMP/want-sharded.json"
HF_HUB_CACHE=$C T info --model org/sharded 2>/dev/null | jq -S 'del(.model)' >"$TMP/got-sharded.json"
check "sharded: info equals info on the folder" cmp -s "$TMP/want-sharded.json" "$TMP/got-sharded.json"
S=$(snapshot "$C" sharded)
check "sharded: both shards" test -f "$S/model-00001-of-00002.safetensors" -a -f "$S/model-00002-of-00002.safetensors"
check "sharded: model.safetensors recorded as absent" test -f "$C/models--org--sharded/.no_exist/$(basename "$S")/model.safetensors"

# --- a hostile index: the traversal is refused before any request for it
expect_fail "index with ../" "not a plain file name" env HF_HUB_CACHE="$TMP/c-evil" "$BIN" --no-cache info --model org/evil
check "index with ../: never requested" test "$(grep -c 'evil.safetensors' "$LOG")" -eq 0
check "index with ../: nothing written outside" test ! -e /tmp/evil.safetensors

# --- no preprocessor_config.json: recorded in .no_exist, not asked again
C=$TMP/c-noproc
HF_HUB_CACHE=$C T info --model org/noproc >/dev/null 2>&1
check "no preprocessor config: works" test $? -eq 0
S=$(snapshot "$C" noproc)
check "no preprocessor config: .no_exist marker" test -f "$C/models--org--noproc/.no_exist/$(basename "$S")/preprocessor_config.json"
n=$(requests)
HF_HUB_CACHE=$C T info --model org/noproc >/dev/null 2>&1
check "no preprocessor config: one request the second time" test "$(since $n | wc -l)" -eq 1

# --- a bare 404 (no X-Error-Code EntryNotFound: a proxy's, a load
# balancer's) is a failure, not "the repo has no such file": nothing is
# recorded in .no_exist, so the next run fetches the file (a marker would
# make every later run, and transformers, use the default preprocessing)
C=$TMP/c-flaky
expect_fail "bare 404: an error naming the file" "preprocessor_config.json: HTTP 404" \
  env HF_HUB_CACHE="$C" "$BIN" --no-cache info --model org/flaky
check "bare 404: not recorded in .no_exist" test -z "$(find "$C" -path '*/.no_exist/*' -name 'preprocessor_config.json')"
HF_HUB_CACHE=$C T info --model org/flaky >/dev/null 2>&1
check "bare 404: the next run works" test $? -eq 0
check "bare 404: the next run fetches the file" \
  cmp -s "$M/preprocessor_config.json" "$(snapshot "$C" flaky)/preprocessor_config.json"

# --- rate limited (429 with Retry-After: 3): the next attempt waits as
# long, as huggingface_hub does, instead of its one second
HF_HUB_CACHE=$TMP/c-busy T info --model org/busy >/dev/null 2>&1
check "429 Retry-After: works" test $? -eq 0
gap=$(jq -s '[.[] | select(.method == "GET" and (.path | test("^/org/busy/resolve/[0-9a-f]{40}/config.json$")))]
  | if length == 2 and .[0].status == 429 then .[1].time - .[0].time else -1 end' "$LOG")
check "429 Retry-After: the retry came $gap s later (>= 3)" awk "BEGIN { exit !($gap >= 3) }"
# the Hub's own header on a 429, 'RateLimit: "resolvers";r=0;t=3' (no
# Retry-After): waited for as huggingface_hub does; it used to be retried
# after one second, 5 times in 5 s, against a window that resets later
HF_HUB_CACHE=$TMP/c-limited T info --model org/limited >/dev/null 2>&1
check "429 RateLimit: works" test $? -eq 0
gap=$(jq -s '[.[] | select(.method == "GET" and (.path | test("^/org/limited/resolve/[0-9a-f]{40}/config.json$")))]
  | if length == 2 and .[0].status == 429 then .[1].time - .[0].time else -1 end' "$LOG")
check "429 RateLimit: the retry came $gap s later (>= 3)" awk "BEGIN { exit !($gap >= 3) }"
# A signal during such a wait (Retry-After: 50) stops the command at once;
# the wait used to run its course (the cancel callback was not asked).
HF_HUB_CACHE=$TMP/c-slow "$BIN" --no-cache info --model org/slow >/dev/null 2>"$TMP/slow.err" &
pid=$!
for _ in $(seq 100); do
  jq -e -s 'any(.[]; .method == "GET" and .status == 429 and (.path | test("^/org/slow/")))' "$LOG" >/dev/null 2>&1 && break
  sleep 0.1
done
sleep 0.5
kill -TERM $pid
for _ in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then kill -KILL $pid; ended=no; else ended=yes; fi
wait $pid; rc=$?
check "SIGTERM in a 50 s Retry-After wait: stopped within 5 s (ended=$ended rc=$rc: $(tr '\n' ' ' <"$TMP/slow.err"))" \
  test "$ended" = yes -a "$rc" -eq 143

# --- a pinned commit answered for another commit (a mirror ignoring the
# revision): refused, and no refs/<pinned> pointing elsewhere (which
# huggingface_hub's try_to_load_from_cache would follow too)
PIN=$(printf 'b%.0s' $(seq 40))
C=$TMP/c-mirror
expect_fail "pinned commit, another answered: refused" "at commit $PIN: the server answered for commit [0-9a-f]{40}" \
  env HF_HUB_CACHE="$C" "$BIN" --no-cache info --model "org/mirror@$PIN"
check "pinned commit, another answered: no ref, no snapshot" \
  test ! -e "$C/models--org--mirror/refs/$PIN" -a -z "$(ls "$C/models--org--mirror/snapshots" 2>/dev/null)"

# --- an OpenCLIP repository: no config.json, so open_clip_config.json and
# open_clip_model.safetensors (+ the tokenizer files when there)
C=$TMP/c-openclip
info_of "$TMP/openclip" >"$TMP/want-oc.json"
HF_HUB_CACHE=$C T info --model org/openclip 2>/dev/null | jq -S 'del(.model)' >"$TMP/got-oc.json"
check "OpenCLIP repo: info equals info on the folder" cmp -s "$TMP/want-oc.json" "$TMP/got-oc.json"
check "OpenCLIP repo: architecture" grep -q '"format": "open_clip"' "$TMP/got-oc.json"
S=$(snapshot "$C" openclip)
for f in open_clip_config.json open_clip_model.safetensors vocab.json merges.txt; do
  check "OpenCLIP repo: $f same bytes" cmp -s "$TMP/openclip/$f" "$S/$f"
done
check "OpenCLIP repo: no config.json fetched" test ! -e "$S/config.json"
# cached_ok WHAT REPO HEADS: in the cache $C, the repo loads again with HEADS
# requests (HEADs) and nothing downloaded, and offline with none
cached_ok() {
  local n
  n=$(requests)
  HF_HUB_CACHE=$C T info --model "$2" >/dev/null 2>&1
  check "$1 cached: works" test $? -eq 0
  check "$1 cached: $3 HEAD(s), nothing downloaded" test "$(since $n | grep -c '"HEAD"')" -eq "$3" -a "$(since $n | wc -l)" -eq "$3"
  HF_HUB_OFFLINE=1 HF_HUB_CACHE=$C T info --model "$2" >/dev/null 2>&1
  check "$1 offline from the cache" test $? -eq 0
}
cached_ok "OpenCLIP repo" org/openclip 2
# open_clip's own spelling of a Hub model, as users paste it from
# create_model_and_transforms("hf-hub:org/name"): the same model (before:
# "not a valid Hub repo id")
HF_HUB_OFFLINE=1 HF_HUB_CACHE=$C T info --model hf-hub:org/openclip 2>"$TMP/err-hfhub" | jq -S 'del(.model)' >"$TMP/got-hfhub.json"
check "hf-hub:org/name is org/name: $(head -c 200 "$TMP/err-hfhub")" cmp -s "$TMP/want-oc.json" "$TMP/got-hfhub.json"
mkdir -p "$TMP/cwd-hfhub/hf-hub:org" && cp -r "$TMP/openclip-notok" "$TMP/cwd-hfhub/hf-hub:org/openclip"
(cd "$TMP/cwd-hfhub" && HF_HUB_OFFLINE=1 HF_HUB_CACHE=$C T info --model hf-hub:org/openclip 2>/dev/null) | jq -r .tokenizer >"$TMP/got-hfhub-dir"
check "a folder named hf-hub:org/name wins over the Hub" grep -q "built-in" "$TMP/got-hfhub-dir"
# open_clip_pytorch_model.bin alone: fetched and converted in the snapshot to
# the open_clip_model.safetensors `convert` writes (before: refused)
info_of "$TMP/ocref" >"$TMP/want-ocbin.json"
HF_HUB_CACHE=$C T info --model org/openclipbin 2>"$TMP/err-ocbin" | jq -S 'del(.model)' >"$TMP/got-ocbin.json"
check "OpenCLIP .bin alone: info equals info on the converted folder" cmp -s "$TMP/want-ocbin.json" "$TMP/got-ocbin.json"
check "OpenCLIP .bin alone: an OpenCLIP model" grep -q '"format": "open_clip"' "$TMP/got-ocbin.json"
check "OpenCLIP .bin alone: the conversion is said" \
  grep -q "converting its open_clip_pytorch_model.bin to open_clip_model.safetensors" "$TMP/err-ocbin"
S=$(snapshot "$C" openclipbin)
check "OpenCLIP .bin alone: the same bytes as convert writes" \
  cmp -s "$TMP/ocref/open_clip_model.safetensors" "$S/open_clip_model.safetensors"
check "OpenCLIP .bin alone: its config kept as the Hub's (a link to its blob)" test -L "$S/open_clip_config.json"
cached_ok "OpenCLIP .bin alone" org/openclipbin 2
rm "$S/open_clip_model.safetensors"
HF_HUB_OFFLINE=1 HF_HUB_CACHE=$C T info --model org/openclipbin >/dev/null 2>"$TMP/err-ocbin2"
check "OpenCLIP .bin alone in the cache, offline: converted" \
  cmp -s "$TMP/ocref/open_clip_model.safetensors" "$S/open_clip_model.safetensors"
# without tokenizer files (as timm/ repos): the built-in BPE, as open_clip
HF_HUB_CACHE=$TMP/c-openclip2 T info --model org/openclip-notok 2>/dev/null | jq -S 'del(.model)' >"$TMP/got-oc2.json"
check "OpenCLIP repo without tokenizer files: the built-in BPE" \
  test "$(jq -r .tokenizer "$TMP/got-oc2.json")" = "built-in OpenAI CLIP BPE"
check "OpenCLIP repo without tokenizer files: the same model otherwise" \
  cmp -s <(jq -S 'del(.tokenizer)' "$TMP/want-oc.json") <(jq -S 'del(.tokenizer)' "$TMP/got-oc2.json")

# --- both layouts in one repository: "org/name" is what transformers reads,
# "hf-hub:org/name" what open_clip reads, whatever the cache holds already
# (before: whichever layout's files were cached, so a load by one spelling
# changed what the other loaded, and hf-hub: fetched the Hugging Face files)
info_of "$TMP/tiny" | jq -r .format >"$TMP/both-hf-want"
fmt() { jq -r .format 2>/dev/null; }
for order in hf-first oc-first; do
  C=$TMP/c-both-$order
  if [ $order = hf-first ]; then first=org/both; else first=hf-hub:org/both; fi
  HF_HUB_CACHE=$C T info --model $first 2>/dev/null >"$TMP/both-1.json"
  HF_HUB_CACHE=$C T info --model org/both 2>/dev/null | fmt >"$TMP/both-hf"
  HF_HUB_CACHE=$C T info --model hf-hub:org/both 2>/dev/null | fmt >"$TMP/both-oc"
  check "both layouts, $order: org/name is the Hugging Face model" grep -qx huggingface "$TMP/both-hf"
  check "both layouts, $order: hf-hub:org/name is the OpenCLIP model" grep -qx open_clip "$TMP/both-oc"
  HF_HUB_OFFLINE=1 HF_HUB_CACHE=$C T info --model org/both 2>/dev/null | fmt >"$TMP/both-hf"
  HF_HUB_OFFLINE=1 HF_HUB_CACHE=$C T info --model hf-hub:org/both 2>/dev/null | fmt >"$TMP/both-oc"
  check "both layouts, $order, offline: org/name is the Hugging Face model" grep -qx huggingface "$TMP/both-hf"
  check "both layouts, $order, offline: hf-hub:org/name is the OpenCLIP model" grep -qx open_clip "$TMP/both-oc"
done
check "both layouts: the OpenCLIP model is the folder's" \
  cmp -s "$TMP/want-oc.json" <(HF_HUB_OFFLINE=1 HF_HUB_CACHE=$C T info --model hf-hub:org/both 2>/dev/null | jq -S 'del(.model)')
check "both layouts: the Hugging Face model is the folder's" \
  cmp -s "$TMP/want.json" <(HF_HUB_OFFLINE=1 HF_HUB_CACHE=$C T info --model org/both 2>/dev/null | jq -S 'del(.model)')
# hf-hub: fetched only open_clip's files: offline, org/name reads them, and
# says that transformers would read another model
C=$TMP/c-both-oconly
HF_HUB_CACHE=$C T info --model hf-hub:org/both >/dev/null 2>&1
S=$(snapshot "$C" both)
check "hf-hub: fetches no config.json" test ! -e "$S/config.json" -a ! -e "$S/model.safetensors"
HF_HUB_OFFLINE=1 HF_HUB_CACHE=$C T info --model org/both 2>"$TMP/err-both" | fmt >"$TMP/both-hf"
check "only OpenCLIP's files cached, offline org/name: read" grep -qx open_clip "$TMP/both-hf"
check "only OpenCLIP's files cached, offline org/name: said: $(head -c 300 "$TMP/err-both")" \
  grep -q "has no config.json, and no record that the repository has none: read as an OpenCLIP model" "$TMP/err-both"
# a repository with one layout under the other spelling: that one, and,
# known to lack the other's config (.no_exist), nothing said offline
C=$TMP/c-one-layout
HF_HUB_CACHE=$C T info --model hf-hub:org/tiny 2>/dev/null | fmt >"$TMP/one"
check "hf-hub: on a Hugging Face repository: its model" grep -qx huggingface "$TMP/one"
check "hf-hub: on a Hugging Face repository: its lack of open_clip_config.json recorded" \
  test -e "$C/models--org--tiny/.no_exist/$(cat "$C/models--org--tiny/refs/main")/open_clip_config.json"
HF_HUB_OFFLINE=1 HF_HUB_CACHE=$C T info --model hf-hub:org/tiny 2>"$TMP/err-one" | fmt >"$TMP/one"
check "hf-hub: on a Hugging Face repository, offline: nothing said: $(head -c 300 "$TMP/err-one")" \
  test "$(cat "$TMP/one")" = huggingface -a -z "$(grep -i warn "$TMP/err-one")"
# timm/ repositories: timm's config.json is no CLIP config; open_clip's
# files are read, and nothing is converted into the snapshot (before: the
# Hugging Face path ran on timm's config and converted its .bin)
C=$TMP/c-timm
HF_HUB_CACHE=$C T info --model org/timm 2>"$TMP/err-timm" | jq -S 'del(.model)' >"$TMP/got-timm.json"
check "timm repo: the OpenCLIP model: $(head -c 300 "$TMP/err-timm")" cmp -s "$TMP/want-oc.json" "$TMP/got-timm.json"
S=$(snapshot "$C" timm)
check "timm repo: nothing fetched but what is read" \
  test ! -e "$S/model.safetensors" -a ! -e "$S/pytorch_model.bin" -a -L "$S/open_clip_model.safetensors"
check "timm repo, offline" test "$(HF_HUB_OFFLINE=1 HF_HUB_CACHE=$C T info --model org/timm 2>/dev/null | fmt)" = open_clip
n=$(requests)
check "timm repo, cached: works" test "$(HF_HUB_CACHE=$C T info --model org/timm 2>/dev/null | fmt)" = open_clip
check "timm repo, cached: one HEAD, nothing downloaded" test "$(since $n | wc -l)" -eq 1
check "timm folder: read as OpenCLIP" test "$(T info --model "$TMP/timm" 2>/dev/null | fmt)" = open_clip

# --- a repo saved by transformers 5: tokenizer.json, processor_config.json
C=$TMP/c-v5
info_of "$TMP/v5" >"$TMP/want-v5.json"
check "transformers 5 folder: same model as with vocab.json + merges.txt" \
  cmp -s <(jq -S 'del(.tokenizer)' "$TMP/want.json") <(jq -S 'del(.tokenizer)' "$TMP/want-v5.json")
check "transformers 5 folder: tokenizer.json read" test "$(jq -r .tokenizer "$TMP/want-v5.json")" = tokenizer.json
HF_HUB_CACHE=$C T info --model org/v5 2>/dev/null | jq -S 'del(.model)' >"$TMP/got-v5.json"
check "transformers 5 repo: info equals info on the folder" cmp -s "$TMP/want-v5.json" "$TMP/got-v5.json"
S=$(snapshot "$C" v5)
for f in config.json model.safetensors tokenizer.json processor_config.json; do
  check "transformers 5 repo: $f same bytes" cmp -s "$TMP/v5/$f" "$S/$f"
done
check "transformers 5 repo: no vocab.json or preprocessor_config.json" \
  test ! -e "$S/vocab.json" -a ! -e "$S/preprocessor_config.json"
cached_ok "transformers 5 repo" org/v5 1
# the same text and image embeddings from both kinds of files
T embed -q --model "$TMP/tiny" --text "a photo of a goldfish" --image "$SHARED/fixtures/images/dog.jpg" >"$TMP/e-tiny.jsonl" 2>/dev/null
T embed -q --model "$TMP/v5" --text "a photo of a goldfish" --image "$SHARED/fixtures/images/dog.jpg" >"$TMP/e-v5.jsonl" 2>/dev/null
check "transformers 5 folder: same embeddings" cmp -s "$TMP/e-tiny.jsonl" "$TMP/e-v5.jsonl"
check "transformers 5 folder: two embeddings" test "$(wc -l <"$TMP/e-v5.jsonl")" -eq 2
expect_fail "neither config.json nor open_clip_config.json" "config.json" \
  env HF_HUB_CACHE=$TMP/c-none timeout 120 "$BIN" --no-cache info --model org/nothere-config

# --- an existing folder wins over a Hub id of the same spelling
mkdir -p "$TMP/cwd/org" && cp -r "$TMP/noproc" "$TMP/cwd/org/tiny"
n=$(requests)
(cd "$TMP/cwd" && HF_HUB_CACHE=$TMP/c-empty "$BIN" --no-cache info --model org/tiny) >"$TMP/local.json" 2>/dev/null
check "folder wins: works, no request" test "$(requests)" -eq "$n"
check "folder wins: model is the folder" test "$(jq -r .model "$TMP/local.json")" = org/tiny
expect_fail "not a Hub id" "org/na me: no such folder, and not a Hugging Face Hub model name" T info --model "org/na me"
expect_fail "bad revision" "not a valid revision" T info --model "org/tiny@../../x"

# --- a full disk or an I/O error in the download's writes to each part of
# the cache (tests/fault_shim.c preloaded; the failure sticky: that part of
# the disk stays full): the lock files, the blobs, refs/ and the snapshot
# folders, each from every one of its first write operations on. The shim
# counts only the paths of the part under test (NLFAULT_MATCH), so the k-th
# point is the same operation in every run: parallel downloads interleave
# their writes differently from run to run, and the blobs' write count
# follows the network's chunking, but each part's first operations do not
# move. Each time: exit 1, one error naming the cache file and the cause,
# no temporary file left, no snapshot entry on a partial blob, and a run
# without faults then completes the cache (resuming the .incomplete blob).
SHIM=${NEGLABEL_FAULT_SHIM:-}
if [ ! -f "$SHIM" ]; then
  bad "fault shim not found ('$SHIM'; CMake builds it as fault_shim and exports NEGLABEL_FAULT_SHIM)"
else
  PRELOAD=$SHIM
  [ -n "${NEGLABEL_ASAN_RT:-}" ] && PRELOAD="$NEGLABEL_ASAN_RT $SHIM"
  CF=$TMP/cfault
  tried=0 fired=0 bad_rc=0 bad_msg=0 left_tmp=0 bad_snap=0 not_resumed=0
  for part in /.locks/ /blobs/ /refs/ /snapshots/; do
    HF_HUB_CACHE=$CF/trace$tried LD_PRELOAD=$PRELOAD NLFAULT_MATCH="$part" NLFAULT_AT=0 NLFAULT_TRACE="$TMP/trace" \
      T info --model org/tiny >/dev/null 2>&1
    npts=$(wc -l <"$TMP/trace")
    rm -f "$TMP/trace"
    check "faults: a traced download writes $part ($npts points)" test "$npts" -gt 0
    [ "$npts" -gt 6 ] && npts=6
    for k in $(seq 1 "$npts"); do
      for err in ENOSPC EIO; do
        d=$CF/k$tried-$err
        HF_HUB_CACHE=$d LD_PRELOAD=$PRELOAD NLFAULT_MATCH="$part" NLFAULT_AT=$k NLFAULT_STICKY=1 NLFAULT_ERRNO=$err \
          NLFAULT_TRACE=$d.trace T info --model org/tiny >/dev/null 2>"$TMP/ferr"
        rc=$?
        tried=$((tried + 1))
        [ "$(wc -l <"$d.trace")" -ge "$k" ] && fired=$((fired + 1))
        [ $rc -eq 1 ] || { bad_rc=$((bad_rc + 1)); echo "fault $part $k ($err): exit $rc; $(tail -n 2 "$d.trace" | tr '\n' ' ')" >&2; }
        msg=$(grep -c '^neglabel info:' "$TMP/ferr")
        want='No space left on device'; [ $err = EIO ] && want='Input/output error'
        if [ "$msg" -ne 1 ] || ! grep -q "$d.*$want" "$TMP/ferr"; then
          bad_msg=$((bad_msg + 1)); echo "fault $part $k ($err): $(cat "$TMP/ferr")" >&2
        fi
        [ -z "$(find "$d" -name '*.tmp' 2>/dev/null)" ] || { left_tmp=$((left_tmp + 1)); echo "fault $part $k: temp left" >&2; }
        for f in $(find "$d" -path '*/snapshots/*' -name model.safetensors 2>/dev/null); do
          cmp -s "$f" "$M/model.safetensors" || { bad_snap=$((bad_snap + 1)); echo "fault $part $k: partial $f" >&2; }
        done
        HF_HUB_CACHE=$d T info --model org/tiny 2>/dev/null | jq -S 'del(.model)' >"$TMP/fgot.json"
        cmp -s "$TMP/want.json" "$TMP/fgot.json" || { not_resumed=$((not_resumed + 1)); echo "fault $part $k: the rerun did not complete" >&2; }
      done
    done
  done
  check "faults: $tried injected (4 parts of the cache, ENOSPC and EIO), each fired" test "$tried" -ge 20 -a "$fired" -eq "$tried"
  check "faults: exit status 1 each time" test $bad_rc -eq 0
  check "faults: one error line naming the cache file and the cause" test $bad_msg -eq 0
  check "faults: no temporary file left" test $left_tmp -eq 0
  check "faults: no snapshot entry on a partial blob" test $bad_snap -eq 0
  check "faults: a run without faults completes the cache" test $not_resumed -eq 0
  # a download that cannot be read back to check it (EIO on reading the
  # .incomplete file): an error, and the bytes kept to be checked again
  # (before: deleted as if corrupt, and fetched again whole)
  d=$TMP/c-readfault
  HF_HUB_CACHE=$d LD_PRELOAD=$PRELOAD NLFAULT_MATCH=.incomplete NLFAULT_READS=1 NLFAULT_ONLY=read NLFAULT_AT=1 \
    NLFAULT_ERRNO=EIO T info --model org/tiny >/dev/null 2>"$TMP/rerr"
  rc=$?
  check "read-back fault: exit 1 (rc=$rc)" test $rc -eq 1
  check "read-back fault: said: $(head -c 300 "$TMP/rerr")" \
    grep -q "checking the download (kept, to be checked again next time): .*incomplete: Input/output error" "$TMP/rerr"
  inc=$(find "$d" -name '*.incomplete' | head -n 1)
  check "read-back fault: the download kept" test -n "$inc" -a -s "$inc"
  HF_HUB_CACHE=$d T info --model org/tiny 2>/dev/null | jq -S 'del(.model)' >"$TMP/rgot.json"
  check "read-back fault: a rerun completes the cache" cmp -s "$TMP/want.json" "$TMP/rgot.json"
fi

# --- part 2: the real huggingface_hub package on the same caches
if ! "$HFPY" -c 'import huggingface_hub' 2>/dev/null; then
  echo "neglabel's downloader: $PASS passed, $FAIL failed"
  [ $FAIL -eq 0 ] || exit 1
  echo "SKIP: no Python with huggingface_hub at '$HFPY' for the interoperability checks (set NEGLABEL_HF_PYTHON, or run .ci/run which creates .venv-test)"
  exit 77
fi
echo "huggingface_hub $("$HFPY" -c 'import huggingface_hub; print(huggingface_hub.__version__)')"
FILES="config.json vocab.json merges.txt preprocessor_config.json model.safetensors"

# huggingface_hub downloads (hf_hub_download, as transformers; and
# snapshot_download); neglabel loads by name offline
for how in hf_hub_download snapshot_download; do
  C=$TMP/c-hf-$how
  HF_HUB_CACHE=$C "$HFPY" - "$how" $FILES <<'EOF' >"$TMP/hf.out" 2>&1
import sys
from huggingface_hub import hf_hub_download, snapshot_download
how, files = sys.argv[1], sys.argv[2:]
if how == "hf_hub_download":
    for f in files:
        hf_hub_download("org/tiny", f)
else:
    snapshot_download("org/tiny", allow_patterns=files)
EOF
  rc=$?; check "huggingface_hub $how ($(tail -1 "$TMP/hf.out"))" test $rc -eq 0
  n=$(requests)
  HF_HUB_CACHE=$C HF_HUB_OFFLINE=1 T info --model org/tiny 2>/dev/null | jq -S 'del(.model)' >"$TMP/got-hf.json"
  check "$how cache: neglabel loads it offline, same info" cmp -s "$TMP/want.json" "$TMP/got-hf.json"
  check "$how cache: no request" test "$(requests)" -eq "$n"
  HF_HUB_CACHE=$C T info --model org/tiny >/dev/null 2>&1
  check "$how cache: online, only the HEAD" test "$(since $n | grep -c '"GET"')" -eq 0
done

# neglabel downloads; huggingface_hub finds every file in the cache
C=$TMP/c1
HF_HUB_CACHE=$C "$HFPY" - "$C" "$M" "$COMMIT" $FILES <<'EOF' >"$TMP/hf.out" 2>&1
import filecmp, os, sys
from huggingface_hub import try_to_load_from_cache, scan_cache_dir
cache, model, commit, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
bad = []
for f in files:
    for rev in (None, "main", "v1", commit):
        p = try_to_load_from_cache("org/tiny", f, cache_dir=cache, revision=rev)
        if not isinstance(p, str) or not filecmp.cmp(p, os.path.join(model, f), shallow=False):
            bad.append("%s@%s: %r" % (f, rev, p))
info = scan_cache_dir(cache)
repos = {r.repo_id: r for r in info.repos}
r = repos.get("org/tiny")
if info.warnings:
    bad.append("scan_cache_dir warnings: %s" % info.warnings)
if r is None or r.nb_files != len(files) or [x.commit_hash for x in r.revisions] != [commit]:
    bad.append("scan_cache_dir: %r" % (r,))
elif sorted(r.revisions)[0].refs != frozenset({"main", "v1"}):
    bad.append("refs: %r" % (sorted(r.revisions)[0].refs,))
print("; ".join(bad) or "ok")
sys.exit(1 if bad else 0)
EOF
rc=$?; check "neglabel's cache: try_to_load_from_cache and scan_cache_dir ($(tail -1 "$TMP/hf.out"))" test $rc -eq 0
n=$(requests)
HF_HUB_CACHE=$C "$HFPY" -c 'from huggingface_hub import hf_hub_download; hf_hub_download("org/tiny", "model.safetensors")' >/dev/null 2>&1
check "neglabel's cache: huggingface_hub online downloads nothing" test "$(since $n | grep -c '"GET"')" -eq 0
# an interrupted huggingface_hub-style partial blob is resumed by neglabel
C=$TMP/c-hf-partial
HF_HUB_CACHE=$C "$HFPY" -c 'from huggingface_hub import hf_hub_download; hf_hub_download("org/tiny", "config.json")' >/dev/null 2>&1
mkdir -p "$C/models--org--tiny/blobs"
head -c 1234567 "$M/model.safetensors" >"$C/models--org--tiny/blobs/$(sha256 "$M/model.safetensors").incomplete"
HF_HUB_CACHE=$C T info --model org/tiny >/dev/null 2>&1
check "partial blob: resumed at byte 1234567" grep -q '"range": "bytes=1234567-"' "$LOG"
check "partial blob: same bytes" cmp -s "$M/model.safetensors" "$(snapshot "$C" tiny)/model.safetensors"
finish
