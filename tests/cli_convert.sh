# cli_convert.sh — `neglabel convert` through the CLI: each archive of
# tests/data/torchscript (OpenAI-layout TorchScript CLIPs and a torch.save'd
# state dict, from tests/gen/gen_torchscript.py) becomes an OpenCLIP folder
# with the two files; a second run replaces them; a hostile archive fails
# with exit 1, one message, and writes nothing; usage errors exit 2.
# Round trip through the CLI: the converted ViT and ResNet (with the BPE
# files of the tiny fixture model copied in: OpenCLIP folders carry none)
# embed the fixture images as the torch model itself does (golden.txt, float64),
# within 1e-4 * ||g||; that part needs ../shared. (test_convert.c checks the
# tensors bit for bit and the text towers through the engine;
# test_unpickler.c the hostile inputs one by one.)
. "$(dirname "$0")/lib_cli.sh"
D=$SRC/tests/data/torchscript
for a in vit_jit rn_jit vit_sd; do
  out=$TMP/$a
  nl convert "$D/$a.pt" -o "$out" 2>"$TMP/err"; rc=$?
  check "convert $a.pt exits 0 (rc=$rc: $(cat "$TMP/err"))" test $rc -eq 0
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
finish
