# cli_convert.sh — `neglabel convert` through the CLI: each archive of
# tests/data/torchscript (OpenAI-layout TorchScript CLIPs and a torch.save'd
# state dict, from tests/gen/gen_torchscript.py) becomes an OpenCLIP folder
# with the two files; a second run replaces them; a hostile archive fails
# with exit 1, one message, and writes nothing; usage errors exit 2.
# Round trip through the CLI: the converted ViT and ResNet (no tokenizer
# files: OpenCLIP folders use the built-in BPE) embed the fixture images as the torch model itself does (golden.txt, float64),
# within 1e-4 * ||g||; that part needs ../shared. (test_convert.c checks the
# tensors bit for bit and the text towers through the engine;
# test_unpickler.c the hostile inputs one by one.) Then a Hugging Face
# pytorch_model.bin becomes a Hugging Face folder (below).
. "$(dirname "$0")/lib_cli.sh"
D=$SRC/tests/data/torchscript
for a in vit_jit rn_jit vit_sd; do
  out=$TMP/$a
  nl convert "$D/$a.pt" -o "$out" 2>"$TMP/err"; rc=$?
  check "convert $a.pt exits 0 (rc=$rc: $(cat "$TMP/err"))" test $rc -eq 0
  check "$a: the log says OpenAI's QuickGELU and preprocessing were assumed ($(cat "$TMP/err"))" \
    grep -q "no open_clip_config.json beside it: assuming OpenAI's QuickGELU and preprocessing" "$TMP/err"
  check "$a: open_clip_model.safetensors written" test -s "$out/open_clip_model.safetensors"
  check "$a: open_clip_config.json written" test -s "$out/open_clip_config.json"
  check "$a: no temporary files left" test "$(ls "$out" | wc -l)" -eq 2
  cp "$out/open_clip_model.safetensors" "$TMP/first"
  nl --quiet convert "$D/$a.pt" --output "$out" 2>"$TMP/err"; rc=$?
  check "$a: converting again exits 0 and prints nothing with --quiet (rc=$rc)" test $rc -eq 0 -a ! -s "$TMP/err"
  check "$a: converting again gives the same file" cmp -s "$TMP/first" "$out/open_clip_model.safetensors"
done
check "vit_jit: a ViT config" grep -q '"patch_size": 8' "$TMP/vit_jit/open_clip_config.json"
check "rn_jit: a ResNet config" grep -q '"layers": \[1, 2, 1, 1\]' "$TMP/rn_jit/open_clip_config.json"
check "vit_jit and vit_sd (the same weights, fp16 vs bf16) differ in the safetensors" \
  bash -c "! cmp -s '$TMP/vit_jit/open_clip_model.safetensors' '$TMP/vit_sd/open_clip_model.safetensors'"

# ------------------------------------------- an OpenCLIP training checkpoint
# open_clip_train saves {"epoch", "name", "state_dict", "optimizer",
# "scaler"}, the weights under DDP's "module." when trained distributed;
# open_clip's load_state_dict takes the 'state_dict' entry and strips the
# prefix. vit_sd.pt's state dict re-saved so (tests/torch_zip.py wrap: torch's
# pickling without torch) converts to the very file vit_sd.pt gives, the
# optimizer's storages never read (present or not).
for m in train train-nostor module; do
  python3 "$SRC/tests/torch_zip.py" wrap "$D/vit_sd.pt" "$TMP/$m.pt" $m || bad "torch_zip.py wrap $m"
  nl convert "$TMP/$m.pt" -o "$TMP/$m" 2>"$TMP/err"; rc=$?
  check "$m: convert exits 0 (rc=$rc: $(cat "$TMP/err"))" test $rc -eq 0
  check "$m: the same open_clip_model.safetensors as vit_sd.pt's" \
    cmp -s "$TMP/vit_sd/open_clip_model.safetensors" "$TMP/$m/open_clip_model.safetensors"
  check "$m: the same open_clip_config.json" cmp -s "$TMP/vit_sd/open_clip_config.json" "$TMP/$m/open_clip_config.json"
  check "$m: the log says the prefix was stripped ($(cat "$TMP/err"))" \
    grep -q "DDP's 'module.' prefix stripped from its 53 tensor names, as open_clip does" "$TMP/err"
  cp "$TMP/err" "$TMP/err.$m"
done
check "train: the log says the 'state_dict' entry was taken ($(cat "$TMP/err.train"))" grep -q \
  "train.pt: a training checkpoint (epoch 3): its 'state_dict' entry taken, as open_clip does; its 4 other entries" \
  "$TMP/err.train"
check "module: a plain state dict, not said to be a training checkpoint" \
  bash -c "! grep -q 'training checkpoint' '$TMP/err.module'"
python3 "$SRC/tests/torch_zip.py" wrap "$D/vit_sd.pt" "$TMP/bad.pt" bad || bad "torch_zip.py wrap bad"
expect_fail "a training checkpoint whose 'state_dict' is a list" \
  "bad.pt: checkpoint/data.pkl: its 'state_dict' entry is a list, not a dict of tensors" nl convert "$TMP/bad.pt" -o "$TMP/bad"
check "nothing written for it" test ! -e "$TMP/bad"

# a pickle that calls os.system, in a torch-like archive
python3 - "$TMP/evil.pt" <<'PY'
import sys, zipfile
pkl = b"\x80\x02cos\nsystem\nX\x1e\x00\x00\x00touch /tmp/neglabel-cli-pwned\x85R."
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("evil/data.pkl", pkl)
PY
expect_fail "os.system in the pickle" "evil/data.pkl: pickle byte 2 .*global 'os.system' is not allowed" \
  nl convert "$TMP/evil.pt" -o "$TMP/evil"
check "os.system did not run" test ! -e /tmp/neglabel-cli-pwned
check "nothing written for a refused archive" test ! -e "$TMP/evil/open_clip_model.safetensors"
expect_fail "a file that is not a zip" "not a readable zip archive" nl convert "$D/golden.txt" -o "$TMP/x"
# a clone made without git-lfs, and torch.save's format before torch 1.6
# (it begins with a protocol-2 pickle of torch's MAGIC_NUMBER): each said
printf 'version https://git-lfs.github.com/spec/v1\noid sha256:%064d\nsize 605157884\n' 0 >"$TMP/lfs.bin"
expect_fail "a Git LFS pointer" "lfs.bin: a Git LFS pointer, not the checkpoint: .*git lfs pull" \
  nl convert "$TMP/lfs.bin" -o "$TMP/x"
python3 -c 'import pickle, sys; open(sys.argv[1], "wb").write(pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2) + pickle.dumps(2, protocol=2))' "$TMP/legacy.bin"
expect_fail "torch.save's legacy format" "legacy.bin: saved in torch.save's format before torch 1.6" \
  nl convert "$TMP/legacy.bin" -o "$TMP/x"
expect_fail "views_sd.pt is not a CLIP" "not an OpenAI CLIP state dict" nl convert "$D/views_sd.pt" -o "$TMP/x"
nl convert "$D/vit_jit.pt" >/dev/null 2>&1; rc=$?
check "convert without -o: usage error, exit 2 (rc=$rc)" test $rc -eq 2
nl convert "$D/vit_jit.pt" "$D/rn_jit.pt" -o "$TMP/x" >/dev/null 2>&1; rc=$?
check "convert with two checkpoints: usage error, exit 2 (rc=$rc)" test $rc -eq 2

# ---------------------------------------------------------------- round trip
if [ ! -f "$SHARED/README.md" ]; then
  partial_skip "reference data not found at '$SHARED': the round trip through 'neglabel embed' did not run"
  finish; exit
fi
for a in vit_jit rn_jit; do
  # no tokenizer files to add: OpenCLIP folders use the built-in BPE
  nl embed --model "$TMP/$a" --no-cache --image "$SHARED/fixtures/images/dog.jpg" \
    --image "$SHARED/fixtures/images/eagle.jpg" >"$TMP/$a.emb" 2>"$TMP/err"; rc=$?
  check "embed with the converted $a exits 0 (rc=$rc: $(cat "$TMP/err"))" test $rc -eq 0
  out=$(python3 - "$D/golden.txt" "$a.pt" "$TMP/$a.emb" <<'PY'
import json, math, sys
golden, arch, got = sys.argv[1:4]
want, cur = {}, None
for line in open(golden):
    f = line.split()
    if f and f[0] == "archive":
        cur = f[1]
    elif f and f[0] == "image" and cur == arch:
        want[f[1]] = [float(x) for x in f[2:]]
n = 0
for line in open(got):
    r = json.loads(line)
    g = want[r["input"].rsplit("/", 1)[1]]
    e = r["embedding"]
    assert len(e) == len(g), "dimension %d, golden %d" % (len(e), len(g))
    err = max(abs(a - b) for a, b in zip(e, g)) / math.sqrt(sum(b * b for b in g))
    print("%s %.3g" % (r["input"].rsplit("/", 1)[1], err))
    assert err < 1e-4, "error %.3g of ||g||" % err
    n += 1
assert n == len(want) == 2, "%d embeddings for %d golden images" % (n, len(want))
PY
  ); rc=$?
  check "$a: 'neglabel embed' equals the model's own image embeddings within 1e-4 ||g|| ($out)" test $rc -eq 0
done

# ------------------------------------------ a Hugging Face pytorch_model.bin
# A CLIPModel state dict saved by torch.save (tests/gen/gen_hf_bin.py: fp16,
# with the int64 position_ids buffers older transformers saved), in a folder
# with its config.json and the tokenizer files: the folder alone is refused
# with the command that fixes it; convert writes model.safetensors (every
# tensor bit for bit, by SHA-256) and copies the other files; the result
# embeds texts as transformers does (float64 goldens) within 1e-5 ||g||.
H=$TMP/hf && mkdir -p "$H"
cp "$SRC/tests/data/hf_bin/config.json" "$SRC/tests/data/hf_bin/pytorch_model.bin" "$H/"
cp "$TINY/vocab.json" "$TINY/merges.txt" "$H/"
expect_fail "a folder with pytorch_model.bin only: says how to convert it" \
  "the folder has pytorch_model.bin, which .neglabel convert .*/hf/pytorch_model.bin -o" nl info -q --model "$H"
nl convert "$H/pytorch_model.bin" -o "$TMP/hf-out" 2>"$TMP/err"; rc=$?
check "convert a Hugging Face pytorch_model.bin (rc=$rc: $(cat "$TMP/err"))" test $rc -eq 0
check "the log says what it was" grep -q "Hugging Face state dict, 48 tensors" "$TMP/err"
check "hf-out: model.safetensors and the three files, nothing else" \
  test "$(ls "$TMP/hf-out" | tr '\n' ' ')" = "config.json merges.txt model.safetensors vocab.json "
out=$(python3 - "$SRC/tests/data/hf_bin/golden.json" "$TMP/hf-out/model.safetensors" <<'PY'
import hashlib, json, struct, sys
g = json.load(open(sys.argv[1]))["tensors"]
raw = open(sys.argv[2], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
hdr.pop("__metadata__", None)
names = {"float16": "F16", "int64": "I64"}
assert len(hdr) == len(g), "%d tensors, golden %d" % (len(hdr), len(g))
for t in g:
    h = hdr[t["name"]]
    a, b = h["data_offsets"]
    assert h["dtype"] == names[t["dtype"]] and h["shape"] == t["shape"], t["name"]
    assert hashlib.sha256(raw[8 + n + a:8 + n + b]).hexdigest() == t["sha256"], t["name"] + ": bytes differ"
print(len(g))
PY
); rc=$?
check "hf-out: every tensor bit for bit, names, dtypes and shapes ($out)" test $rc -eq 0
nl embed -q --model "$TMP/hf-out" --text "a photo of a dog." --text "a photo of a goldfish, a type of fish" \
  >"$TMP/hf.emb" 2>"$TMP/err"; rc=$?
check "embed with the converted folder (rc=$rc: $(cat "$TMP/err"))" test $rc -eq 0
out=$(python3 "$SRC/tests/emb_close.py" "$SRC/tests/data/hf_bin/golden.json" texts "$TMP/hf.emb" 1e-5); rc=$?
check "the converted folder's text embeddings equal transformers' within 1e-5 ||g|| ($out)" test $rc -eq 0
ino=$(stat -c %i "$H/config.json")
nl convert -q "$H/pytorch_model.bin" -o "$H"; rc=$?
check "convert into the .bin's own folder (rc=$rc)" test $rc -eq 0 -a -s "$H/model.safetensors"
check "its own files are left as they were" test "$(stat -c %i "$H/config.json")" = "$ino"
check "that folder now loads" sh -c "'$BIN' info -q --model '$H' >/dev/null"
# a fine-tune's added_tokens.json and LAION's tokenizer_config.json /
# special_tokens_map.json (pad_token "!") go with the weights: the tokenizer
# matches their tokens whole, as transformers does (test_tokenizer_added), so
# without them the converted folder would tokenize "<sks>" and "!" as plain BPE
mkdir -p "$TMP/hf-added" && cp "$H/config.json" "$H/pytorch_model.bin" "$H/vocab.json" "$H/merges.txt" "$TMP/hf-added/"
echo '{"<sks>": 49408}' >"$TMP/hf-added/added_tokens.json"
echo '{"tokenizer_class": "CLIPTokenizer", "pad_token": "!"}' >"$TMP/hf-added/tokenizer_config.json"
echo '{"pad_token": "!"}' >"$TMP/hf-added/special_tokens_map.json"
nl convert -q "$TMP/hf-added/pytorch_model.bin" -o "$TMP/hf-added-out"; rc=$?
check "convert a .bin whose folder has added tokens (rc=$rc)" test $rc -eq 0
for f in added_tokens.json tokenizer_config.json special_tokens_map.json; do
  check "$f is copied" cmp -s "$TMP/hf-added/$f" "$TMP/hf-added-out/$f"
done
printf '{"text": "a <sks>!"}\n' | nl tokenize -q --model "$TMP/hf-added-out" >"$TMP/added-ids.jsonl"
check "the converted folder matches \"<sks>\" and \"!\" whole, as transformers 5.24 does" \
  test "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ids"])' "$TMP/added-ids.jsonl")" = \
  "[49406, 320, 49408, 0, 49407]"
# transformers loads pytorch_model.bin as the state dict itself: a training
# checkpoint's 'state_dict' or DDP's 'module.' prefix is not looked through
for m in train module; do
  mkdir -p "$TMP/hf-$m" && cp "$H/config.json" "$H/vocab.json" "$H/merges.txt" "$TMP/hf-$m/"
  python3 "$SRC/tests/torch_zip.py" wrap "$SRC/tests/data/hf_bin/pytorch_model.bin" "$TMP/hf-$m/pytorch_model.bin" $m ||
    bad "torch_zip.py wrap hf $m"
done
expect_fail "a Hugging Face state dict in a training checkpoint" \
  "hf-train/pytorch_model.bin: Hugging Face CLIPModel names in a training checkpoint's 'state_dict' under DDP's 'module.' prefix: transformers loads a pytorch_model.bin as the state dict itself" \
  nl convert -q "$TMP/hf-train/pytorch_model.bin" -o "$TMP/hf-train-out"
expect_fail "a Hugging Face state dict under 'module.'" \
  "hf-module/pytorch_model.bin: Hugging Face CLIPModel names under DDP's 'module.' prefix: transformers" \
  nl convert -q "$TMP/hf-module/pytorch_model.bin" -o "$TMP/hf-module-out"
check "nothing written for them" test ! -e "$TMP/hf-train-out" -a ! -e "$TMP/hf-module-out"
mkdir -p "$TMP/hf-lone" && cp "$H/pytorch_model.bin" "$TMP/hf-lone/"
expect_fail "a Hugging Face .bin without config.json beside it" "no config.json beside it" \
  nl convert -q "$TMP/hf-lone/pytorch_model.bin" -o "$TMP/hf-lone-out"
check "nothing written for it" test ! -e "$TMP/hf-lone-out"
# transformers' sharded pytorch_model.bin (save_pretrained with
# safe_serialization=False past max_shard_size): pytorch_model.bin.index.json
# names each tensor's shard. The .bin above split so (torch_zip.py shard: its pickle
# re-saved in two torch.save zips without torch, each with its own storages)
# converts, from the index, to the very model.safetensors the whole .bin
# gives; an index that disagrees with its shards is refused, naming the
# tensor; one shard alone is refused, naming the index to convert.
for m in ok missing wrong unlisted; do
  mkdir -p "$TMP/hf-sh-$m" && cp "$H/config.json" "$H/vocab.json" "$H/merges.txt" "$TMP/hf-sh-$m/"
  python3 "$SRC/tests/torch_zip.py" shard "$SRC/tests/data/hf_bin/pytorch_model.bin" "$TMP/hf-sh-$m" $m || bad "torch_zip.py shard $m"
done
S=$TMP/hf-sh-ok
expect_fail "a folder with a sharded pytorch_model.bin only: says how to convert it" \
  "the folder has pytorch_model.bin.index.json and its shards, which .neglabel convert .*/hf-sh-ok/pytorch_model.bin.index.json -o" \
  nl info -q --model "$S"
nl convert "$S/pytorch_model.bin.index.json" -o "$TMP/hf-sh-out" 2>"$TMP/err"; rc=$?
check "convert a sharded pytorch_model.bin from its index (rc=$rc: $(cat "$TMP/err"))" test $rc -eq 0
check "the log says it read 2 shards" grep -q "Hugging Face state dict in 2 shards, 48 tensors" "$TMP/err"
check "the same model.safetensors as the whole .bin gives" cmp -s "$TMP/hf-out/model.safetensors" "$TMP/hf-sh-out/model.safetensors"
check "and the same files beside it" \
  test "$(ls "$TMP/hf-sh-out" | tr '\n' ' ')" = "config.json merges.txt model.safetensors vocab.json "
nl convert -q "$S/pytorch_model.bin.index.json" -o "$S"; rc=$?
check "convert into the shards' own folder, which then loads (rc=$rc)" sh -c "test $rc -eq 0 && '$BIN' info -q --model '$S' >/dev/null"
expect_fail "one shard alone: the index is named" \
  "pytorch_model-00001-of-00002.bin: one shard of the model that .*pytorch_model.bin.index.json lists: convert the index" \
  nl convert -q "$S/pytorch_model-00001-of-00002.bin" -o "$TMP/hf-sh-one"
expect_fail "an index naming a tensor no shard has" \
  "tensor 'text_model.extra.weight' is mapped to 'pytorch_model-00002-of-00002.bin' but not found there" \
  nl convert -q "$TMP/hf-sh-missing/pytorch_model.bin.index.json" -o "$TMP/hf-sh-bad"
expect_fail "an index mapping a tensor to the other shard" \
  "is in shard 'pytorch_model-00001-of-00002.bin', but the index maps it to 'pytorch_model-00002-of-00002.bin'" \
  nl convert -q "$TMP/hf-sh-wrong/pytorch_model.bin.index.json" -o "$TMP/hf-sh-bad"
expect_fail "a shard tensor the index lacks" "of shard 'pytorch_model-00002-of-00002.bin' is not in the index's weight_map" \
  nl convert -q "$TMP/hf-sh-unlisted/pytorch_model.bin.index.json" -o "$TMP/hf-sh-bad"
check "nothing written for them" test ! -e "$TMP/hf-sh-one" -a ! -e "$TMP/hf-sh-bad"
rm "$TMP/hf-sh-missing/pytorch_model-00002-of-00002.bin"
expect_fail "a shard that is not there" "shard 'pytorch_model-00002-of-00002.bin' does not exist" \
  nl convert -q "$TMP/hf-sh-missing/pytorch_model.bin.index.json" -o "$TMP/hf-sh-bad"
mkdir -p "$TMP/hf-stale" && echo '{}' >"$TMP/hf-stale/tokenizer.json"
expect_fail "into a folder holding a tokenizer.json the source has not" \
  "hf-stale holds tokenizer.json, which .*/hf does not: it would be read with the converted weights" \
  nl convert -q "$H/pytorch_model.bin" -o "$TMP/hf-stale"
check "nothing written there" test ! -e "$TMP/hf-stale/model.safetensors"
mkdir -p "$TMP/hf-oc" && echo '{}' >"$TMP/hf-oc/open_clip_config.json"
expect_fail "into a folder holding open_clip_config.json" "would be read as an OpenCLIP folder" \
  nl convert -q "$H/pytorch_model.bin" -o "$TMP/hf-oc"
# ------------------------------- an OpenCLIP open_clip_pytorch_model.bin
# An OpenCLIP (GELU, not QuickGELU; non-default MLP ratios and preprocessing)
# folder written by the test_openclip helper, and the same state dict as a
# torch.save zip (open_clip_pytorch_model.bin, no torch needed) beside the
# same open_clip_config.json: convert uses that config (checked against the
# shapes) instead of OpenAI's assumptions, so the converted folder embeds
# exactly as the safetensors folder does; it never replaces a different
# config in the output folder, and refuses a config the shapes contradict.
HELPER=$(dirname "$BIN")/test_openclip
# vit-small-gelu: GELU, MLP ratios 2.5 and 3, squash resize, a text width of
# 32; rn-small: a GELU ModifiedResNet with OpenAI's preprocessing (what the
# old convert silently turned into QuickGELU)
for spec in vit-small-gelu rn-small; do
OC=$TMP/oc-st-$spec OB=$TMP/oc-bin-$spec CV=$TMP/oc-conv-$spec
"$HELPER" --write "$OC" $spec f32 >/dev/null || bad "test_openclip --write $spec"
mkdir -p "$OB" && cp "$OC/open_clip_config.json" "$OB/"
python3 - "$OC/open_clip_model.safetensors" "$OB/open_clip_pytorch_model.bin" <<'PY'
import json, struct, sys, zipfile
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n]); hdr.pop("__metadata__", None)
types = {"F32": (b"FloatStorage", 4), "F16": (b"HalfStorage", 2), "I64": (b"LongStorage", 8)}
def s(x):
    b = x.encode(); return b"\x8c" + bytes([len(b)]) + b
def i(v):
    return b"K" + bytes([v]) if 0 <= v < 256 else b"\x8a\x08" + struct.pack("<q", v)
def tup(v):
    return b"(" + b"".join(i(x) for x in v) + b"t"
pkl, blobs = b"\x80\x02}(", {}
for k, (name, h) in enumerate(sorted(hdr.items())):
    typ, es = types[h["dtype"]]
    a, b = h["data_offsets"]
    blobs[str(k)] = raw[8 + n + a:8 + n + b]
    shape = h["shape"]; stride = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1): stride[d] = stride[d + 1] * shape[d + 1]
    pkl += (s(name) + b"ctorch._utils\n_rebuild_tensor_v2\n((" + s("storage") + b"ctorch\n" + typ + b"\n" +
            s(str(k)) + s("cpu") + i((b - a) // es) + b"tQ" + i(0) + tup(shape) + tup(stride) + b"\x89" +
            b"ccollections\nOrderedDict\n)RtR")
with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_STORED) as z:
    z.writestr("archive/data.pkl", pkl + b"u.")
    z.writestr("archive/version", "3\n")
    for k, v in blobs.items(): z.writestr("archive/data/" + k, v)
PY
check "$spec: open_clip_pytorch_model.bin written" test -s "$OB/open_clip_pytorch_model.bin"
nl convert "$OB/open_clip_pytorch_model.bin" -o "$CV" 2>"$TMP/err"; rc=$?
check "$spec: convert an OpenCLIP .bin (rc=$rc: $(cat "$TMP/err"))" test $rc -eq 0
check "$spec: the log names the config beside it" grep -q "config from the open_clip_config.json beside it" "$TMP/err"
check "$spec: the converted folder keeps the OpenCLIP config (GELU), byte for byte" \
  cmp -s "$OC/open_clip_config.json" "$CV/open_clip_config.json"
check "$spec: no quick_gelu true in it" bash -c "! grep -q '\"quick_gelu\": *true' '$CV/open_clip_config.json'"
IMG=$SRC/tests/data/images/gif_bmp/rgb24.bmp
for m in "$OC" "$CV"; do
  nl embed -q --device cpu --model "$m" --image "$IMG" --text "a photo of a dog." >"$m.emb" 2>"$TMP/err"; rc=$?
  check "$spec: embed with $m (rc=$rc: $(cat "$TMP/err"))" test $rc -eq 0
done
# the same weights and config on the same machine: equal up to float
# rounding (1e-6 of the norm; in practice bit for bit)
out=$(python3 - "$OC.emb" "$CV.emb" <<'PY'
import json, math, sys
a, b = ([json.loads(l)["embedding"] for l in open(f)] for f in sys.argv[1:3])
assert len(a) == len(b) == 2, "%d and %d embeddings" % (len(a), len(b))
for u, v in zip(a, b):
    err = max(abs(x - y) for x, y in zip(u, v)) / math.sqrt(sum(x * x for x in u))
    print("%.3g" % err)
    assert len(u) == len(v) and err <= 1e-6, "error %.3g of ||e||" % err
PY
); rc=$?
check "$spec: the converted .bin embeds as the safetensors folder does, image and text ($out)" test $rc -eq 0
done
OC=$TMP/oc-st-vit-small-gelu OB=$TMP/oc-bin-vit-small-gelu
# converting in place: the folder's own config stays as it is
cp -r "$OB" "$TMP/oc-inplace"
nl convert -q "$TMP/oc-inplace/open_clip_pytorch_model.bin" -o "$TMP/oc-inplace"; rc=$?
check "convert into the .bin's own folder (rc=$rc)" test $rc -eq 0 -a -s "$TMP/oc-inplace/open_clip_model.safetensors"
check "its open_clip_config.json is left as it was" cmp -s "$OC/open_clip_config.json" "$TMP/oc-inplace/open_clip_config.json"
# a different config already in the output folder is not replaced
mkdir -p "$TMP/oc-clash"
sed 's/"quick_gelu": *false/"quick_gelu": true/' \
  "$OC/open_clip_config.json" >"$TMP/oc-clash/open_clip_config.json"
cp "$TMP/oc-clash/open_clip_config.json" "$TMP/clash.json"
expect_fail "into a folder holding a different open_clip_config.json" \
  "oc-clash already holds an open_clip_config.json that differs from .*oc-bin-vit-small-gelu/open_clip_config.json" \
  nl convert -q "$OB/open_clip_pytorch_model.bin" -o "$TMP/oc-clash"
check "that config is left as it was" cmp -s "$TMP/clash.json" "$TMP/oc-clash/open_clip_config.json"
check "nothing written there" test ! -e "$TMP/oc-clash/open_clip_model.safetensors"
# a config that contradicts the shapes
mkdir -p "$TMP/oc-bad" && ln -s "$OB/open_clip_pytorch_model.bin" "$TMP/oc-bad/"
python3 - "$OC/open_clip_config.json" "$TMP/oc-bad/open_clip_config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["model_cfg"]["vision_cfg"]["layers"] += 1
json.dump(c, open(sys.argv[2], "w"))
PY
expect_fail "a config whose layers the checkpoint does not have" \
  "oc-bad/open_clip_config.json does not describe .*: model_cfg.vision_cfg.layers is 4, the checkpoint's visual.transformer.resblocks give 3" \
  nl convert -q "$TMP/oc-bad/open_clip_pytorch_model.bin" -o "$TMP/oc-bad-out"
check "nothing written for it" test ! -e "$TMP/oc-bad-out"
finish
