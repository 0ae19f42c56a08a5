# cli_embed_npy.sh — embed with many inputs and a .npy output: --list (a
# folder, a list file) and --texts add inputs in the order given; -o writes
# every row, in that order, as float32 .npy, bit for bit the JSON lines'
# values (%.9g round-trips float32), raw or --normalize'd; score-embeddings
# of such files gives score's numbers; bad inputs and outputs fail with one
# message and write nothing.
. "$(dirname "$0")/lib_cli.sh"
need_shared
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed (it reads the .npy files)"; exit 77; }
M=$TINY
IMG=$SHARED/fixtures/images
E() { nl embed -q --model "$M" "$@"; }
mkdir -p "$TMP/imgs/sub"
cp "$IMG/dog.jpg" "$TMP/imgs/"; cp "$IMG/kite.jpg" "$TMP/imgs/sub/"; cp "$IMG/eagle.jpg" "$TMP/imgs/"
printf '%s\n' "$IMG/gray-dog.png" "$IMG/horses.jpg" >"$TMP/list.txt"
printf 'the nice cat\n\n  a photo of a dog  \nThis is a salty photo\n' >"$TMP/texts.txt"

# same_rows NPY JSONL: the .npy holds exactly the JSON lines' embeddings, in order
same_rows() {
  python3 - "$1" "$2" <<'PY'
import ast, json, struct, sys
npy, jsonl = sys.argv[1], sys.argv[2]
raw = open(npy, "rb").read()
assert raw[:8] == b"\x93NUMPY\x01\x00", "not a .npy v1.0"
hlen = struct.unpack("<H", raw[8:10])[0]
hdr = ast.literal_eval(raw[10:10 + hlen].decode("latin1"))
assert hdr["descr"] == "<f4" and not hdr["fortran_order"], hdr
rows, cols = hdr["shape"]
data = struct.unpack(f"<{rows * cols}f", raw[10 + hlen:])
want = [json.loads(l)["embedding"] for l in open(jsonl)]
assert len(want) == rows and all(len(w) == cols for w in want), (rows, cols, len(want))
for r, w in enumerate(want):
    got = data[r * cols:(r + 1) * cols]
    # the JSON's %.9g values, rounded to float32, are the .npy's bits
    if any(struct.pack("<f", g) != struct.pack("<f", v) for g, v in zip(got, w)):
        sys.exit(f"row {r} differs")
print(rows, cols)
PY
}

# the inputs in the order given: an image, a folder (sorted, recursive), a text, a text file, a list file
args=(--image "$IMG/scream.jpg" --list "$TMP/imgs" --text "x" --texts "$TMP/texts.txt" --list "$TMP/list.txt")
E "${args[@]}" >"$TMP/all.jsonl"; rc=$?
check "JSON lines of 10 inputs (rc=$rc)" test $rc -eq 0 -a "$(wc -l <"$TMP/all.jsonl")" -eq 10
order=$(python3 -c 'import json,sys; print(" ".join(json.loads(l)["input"].rsplit("/",1)[-1] for l in open(sys.argv[1])))' "$TMP/all.jsonl")
check "in the order given (got: $order)" test "$order" = "scream.jpg dog.jpg eagle.jpg kite.jpg x the nice cat a photo of a dog This is a salty photo gray-dog.png horses.jpg"
E "${args[@]}" -o "$TMP/all.npy"; rc=$?
check "-o all.npy (rc=$rc)" test $rc -eq 0
check "-o writes nothing on stdout" test -z "$(E "${args[@]}" -o "$TMP/again.npy")"
check "the .npy rows are the JSON lines' values, bit for bit" same_rows "$TMP/all.npy" "$TMP/all.jsonl"
E --normalize "${args[@]}" >"$TMP/norm.jsonl" && E --normalize "${args[@]}" --output "$TMP/norm.npy"
check "--normalize: the same, normalised" same_rows "$TMP/norm.npy" "$TMP/norm.jsonl"
check "... and not the raw rows" sh -c "! cmp -s '$TMP/norm.npy' '$TMP/all.npy'"

# score-embeddings of embed's .npy files gives score's numbers: the ID
# prompts and the negatives' prompts embedded as texts, the images as a list
ls "$CIFAR" | head -n 4 >"$TMP/labels.txt"
sed 's/^/the nice /' "$TMP/labels.txt" >"$TMP/id_prompts.txt"
printf 'noun\tteapot\tthe nice teapot\nnoun\ttuba\tthe nice tuba\nadj\tsalty\tThis is a salty photo\nnoun\tkayak\tthe nice kayak\n' >"$TMP/neg.tsv"
cut -f3 "$TMP/neg.tsv" >"$TMP/neg_prompts.txt"
E --normalize --texts "$TMP/id_prompts.txt" -o "$TMP/id.npy" && E --normalize --texts "$TMP/neg_prompts.txt" -o "$TMP/neg.npy" &&
  E --list "$TMP/imgs" -o "$TMP/img.npy"
check "embed wrote id.npy, neg.npy and img.npy" test -s "$TMP/id.npy" -a -s "$TMP/neg.npy" -a -s "$TMP/img.npy"
se=$(nl score-embeddings -q --id "$TMP/id.npy" --neg "$TMP/neg.npy" --images "$TMP/img.npy" --ngroup 2)
sc=$(nl score -q --no-cache --model "$M" --id-labels "$TMP/labels.txt" --negatives "$TMP/neg.tsv" --ngroup 2 --list "$TMP/imgs" | tail -n +2 | cut -d, -f2)
close=$(python3 -c 'import sys; a=[float(x) for x in sys.argv[1].split()]; b=[float(x) for x in sys.argv[2].split()]; print(int(len(a) == len(b) == 3 and all(abs(x - y) <= 1e-6 * max(abs(y), 1e-9) for x, y in zip(a, b))))' "$se" "$sc")
check "score-embeddings of embed's files = score's numbers (1e-6 relative): '$se' vs '$sc'" test "$close" = 1

# failures: one message, nothing written
expect_fail "a missing --list" "nolist.txt: No such file" E --list "$TMP/nolist.txt" -o "$TMP/x.npy"
expect_fail "a --texts file with a bad UTF-8 line" "bad.txt:2: " sh -c "printf 'ok\n\377\n' >'$TMP/bad.txt' && '$BIN' embed -q --model '$M' --texts '$TMP/bad.txt' -o '$TMP/x.npy'"
expect_fail "an unreadable image fails the .npy (rows would shift)" "not-an-image" \
  sh -c "echo junk >'$TMP/not-an-image.jpg' && '$BIN' embed -q --model '$M' --image '$IMG/dog.jpg' --image '$TMP/not-an-image.jpg' -o '$TMP/x.npy'"
expect_fail "an empty folder: nothing to embed" "empty" sh -c "mkdir -p '$TMP/empty' && '$BIN' embed -q --model '$M' --list '$TMP/empty' -o '$TMP/x.npy'"
check "no x.npy was left" test ! -e "$TMP/x.npy"
expect_fail "-o naming an input" "is also an input" E --texts "$TMP/texts.txt" -o "$TMP/texts.txt"
check "... which is intact" grep -q "salty" "$TMP/texts.txt"
expect_fail "nothing to embed names the four inputs" "give --image PATH, --list FILE, --text TEXT and/or --texts FILE" \
  E -o "$TMP/x.npy"
finish
