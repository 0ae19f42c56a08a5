# cli_errors.sh — hostile and broken input through the CLI: every case must
# exit non-zero (not crash, not hang) with one message naming the file and
# the problem. The library-level cases are in test_safetensors, test_config
# and test_image; this checks that the CLI passes them on intact.
. "$(dirname "$0")/lib_cli.sh"
need_shared
need_jq
M=$SHARED/fixtures/tiny-clip
IMG=$SHARED/fixtures/images
T() { timeout 60 "$BIN" "$@"; }

# A model folder we can break, one file at a time.
model() {
  rm -rf "$TMP/m"; mkdir -p "$TMP/m"
  for f in config.json vocab.json merges.txt preprocessor_config.json model.safetensors; do cp "$M/$f" "$TMP/m/"; done
}

expect_fail "missing model folder" "$TMP/none.*(No such file|cannot open)" T info --model "$TMP/none"
model; rm "$TMP/m/model.safetensors"
expect_fail "no weights" "$TMP/m.*safetensors" T info --model "$TMP/m"
model; head -c 100000 "$M/model.safetensors" >"$TMP/m/model.safetensors"
expect_fail "truncated safetensors" "model.safetensors" T info --model "$TMP/m"
model; printf '\xff\xff\xff\xff\xff\xff\x00\x00{}' >"$TMP/m/model.safetensors"
expect_fail "header length past the end" "model.safetensors.*header" T info --model "$TMP/m"
# a clone made without git-lfs: a pointer file in place of the weights
model; printf 'version https://git-lfs.github.com/spec/v1\noid sha256:%064d\nsize 605157884\n' 0 >"$TMP/m/model.safetensors"
expect_fail "a Git LFS pointer for model.safetensors: says so" \
  "model.safetensors: a Git LFS pointer .*, not the weights: .*git lfs pull" T info --model "$TMP/m"
model; printf '{"text_config": {"hidden_size": 64,' >"$TMP/m/config.json"
expect_fail "malformed config.json" "config.json" T info --model "$TMP/m"
model; sed -i 's/"hidden_size": 128/"hidden_size": 96/' "$TMP/m/config.json"
expect_fail "shape not matching the config" "model.safetensors.*(shape|config)" T info --model "$TMP/m"
model; printf '{"a": 1' >"$TMP/m/vocab.json"
expect_fail "malformed vocab.json" "vocab.json" T info --model "$TMP/m"

head -c 5000 "$IMG/dog.jpg" >"$TMP/cut.jpg"
expect_fail "truncated JPEG" "cut.jpg.*truncated" T embed --no-cache --model "$M" --image "$TMP/cut.jpg"
printf 'hello' >"$TMP/text.jpg"
expect_fail "not an image" "text.jpg" T embed --no-cache --model "$M" --image "$TMP/text.jpg"
expect_fail "missing image" "nothere.png" T preprocess "$TMP/nothere.png" -o "$TMP/x.rgb"
# A PNG header claiming 100000 x 100000 pixels: refused before decoding.
printf '\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x01\x86\xa0\x00\x01\x86\xa0\x08\x02\x00\x00\x00\x00\x00\x00\x00' >"$TMP/huge.png"
expect_fail "gigantic image header" "huge.png.*(pixel|large|limit)" T preprocess "$TMP/huge.png" -o "$TMP/x.rgb"
printf '\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x00\x00\x00\x00\x00\x08\x02\x00\x00\x00\x00\x00\x00\x00' >"$TMP/zero.png"
expect_fail "zero-size image" "zero.png" T preprocess "$TMP/zero.png" -o "$TMP/x.rgb"
check "failed preprocess wrote nothing" test ! -e "$TMP/x.rgb"
expect_fail "invalid UTF-8 text" "UTF-8" T embed --no-cache --model "$M" --text "$(printf 'caf\xe9')"
# A text is tokenised whole before the cut to 77 tokens (~26 bytes a byte:
# a 60 MB label took 1.6 GB), so a line of labels or texts longer than 1 MiB
# (a file whose line breaks were lost) is refused on reading, naming it;
# one of exactly 1 MiB is embedded.
{ printf 'dog\ncat\n'; head -c 1048577 /dev/zero | tr '\0' x; printf '\n'; } >"$TMP/long_labels.txt"
expect_fail "a label line over 1 MiB" "long_labels.txt:3: a line of 1048577 bytes.*1 MiB" \
  T mine --no-cache --model "$M" --id-labels "$TMP/long_labels.txt" -o "$TMP/long_neg.txt"
expect_fail "a text line over 1 MiB" "long_labels.txt:3: a line of 1048577 bytes" \
  T embed --no-cache --model "$M" --texts "$TMP/long_labels.txt"
{ head -c 1048576 /dev/zero | tr '\0' x; printf '\n'; } >"$TMP/mib_text.txt"
T embed --no-cache --model "$M" --texts "$TMP/mib_text.txt" >"$TMP/mib.out" 2>"$TMP/mib.err"
check "a text of exactly 1 MiB is embedded" test "$(jq -r '.input | length' "$TMP/mib.out")" = 1048576
printf '{"text": "ok"}\n{"text": \n{"nope": 1}\n{"text": "after"}\n{"text": "a\\u0000b"}\n{"text": "ab"}\n' |
  T tokenize --model "$M" >"$TMP/tok.out" 2>"$TMP/tok.err"
check "tokenize: malformed JSON line fails (exit 1)" test $? -eq 1
check "tokenize: names the line" grep -q 'line 2' "$TMP/tok.err"
check "tokenize: the stream goes on after bad lines" test "$(jq -r '.text // empty' "$TMP/tok.out" | head -2 | tr '\n' ,)" = "ok,after,"
# \u0000 is a character (ftfy removes it: the ids of "ab"), echoed back intact
check "tokenize: \\u0000 in the text is tokenized" test "$(jq -c 'select(.ids) | .ids' "$TMP/tok.out" | sed -n 3p)" = "$(jq -c 'select(.ids) | .ids' "$TMP/tok.out" | sed -n 4p)"
check "tokenize: \\u0000 echoed in the text" test "$(jq -c 'select(.ids) | .text' "$TMP/tok.out" | sed -n 3p)" = '"a\u0000b"'
check "tokenize: 4 lines tokenized" test "$(jq -c 'select(.ids)' "$TMP/tok.out" | wc -l)" -eq 4
check "tokenize: an error object per bad line" test "$(jq -c 'select(.error) | .line' "$TMP/tok.out" | tr '\n' ,)" = "2,3,"
# a line over 16 MiB (a stream with no line break) is an error for that line,
# read past without being kept (getline kept it whole, however long)
{ printf '{"text": "'; head -c 16777216 /dev/zero | tr '\0' x; printf '"}\n{"text": "a cat"}\n'; } |
  T tokenize --model "$M" >"$TMP/tokl.out" 2>"$TMP/tokl.err"
check "tokenize: a line over 16 MiB fails (exit 1)" test $? -eq 1
check "tokenize: names its length" grep -q 'line 1: a line of 16777229 bytes: at most 16 MiB' "$TMP/tokl.err"
check "tokenize: the next line is tokenized" test "$(jq -c 'select(.ids) | .text' "$TMP/tokl.out")" = '"a cat"'
# a line of many JSON values is refused before jansson parses it (a 16 MiB
# line of {} took 1.3 GB); as many commas inside the text are characters
# (counted as the model's JSON files are: the commas and opening brackets, +1)
python3 -c 'import sys; n = 65535; sys.stdout.write("[" + ",".join(["0"] * n) + "]\n" + "[" + ",".join(["0"] * (n + 1)) + "]\n" + "{\"text\": \"" + "a,[{" * 100000 + "\"}\n" + "[" + "{}," * 5000000 + "{}]\n{\"text\": \"a cat\"}\n")' |
  "${NEGLABEL_BUILD:-build}/memtool" peak "$TMP/tokv.rss" "$BIN" tokenize --model "$M" >"$TMP/tokv.out" 2>"$TMP/tokv.err"
check "tokenize: many JSON values fail (exit 1)" test $? -eq 1
check "tokenize: 65,536 values are parsed" grep -q 'line 1: expected a JSON object with a "text" string' "$TMP/tokv.err"
check "tokenize: 65,537 values are refused unparsed" grep -q 'line 2: more than 65536 JSON values on the line' "$TMP/tokv.err"
check "tokenize: 15 MB of values refused" grep -q 'line 4: more than 65536 JSON values on the line' "$TMP/tokv.err"
check "tokenize: commas and brackets in the text are text" test "$(jq -c 'select(.ids) | .ids | length' "$TMP/tokv.out" | head -1)" -gt 1000
check "tokenize: the next line is tokenized" test "$(jq -c 'select(.ids) | .text' "$TMP/tokv.out" | tail -1)" = '"a cat"'
# (under AddressSanitizer RSS measures the sanitizer: printed, not bounded)
echo "tokenize of 15 MB of JSON values: peak RSS $(cat "$TMP/tokv.rss") KiB"
grep -qs '^NEGLABEL_SANITIZE:BOOL=ON' "${NEGLABEL_BUILD:-build}/CMakeCache.txt" ||
  check "tokenize: under 300 MiB for 15 MB of values" test "$(cat "$TMP/tokv.rss")" -lt 307200

# Corpus categories: a name the source lacks is an error naming it and the
# source, found before the model is loaded (the model here does not exist,
# so a later check would report the model instead).
printf 'cat\ndog\n' >"$TMP/labels.txt"
L=$SHARED/neglabel-reference/txtfiles
expect_fail "corpus --exclude a misspelt category" "$L: exclude 'noun.artifcat' matches no category.*noun.artifact" \
  T corpus -q --lists "$L" --exclude noun.artifcat -o "$TMP/c.tsv"
expect_fail "corpus --include a misspelt category" "$L: include 'noun.artifcat' matches no category" \
  T corpus -q --lists "$L" --include noun.artifcat -o "$TMP/c.tsv"
expect_fail "corpus --exclude a category the lists lack" "exclude 'noun.animal' matches no category" \
  T corpus -q --lists "$L" --exclude noun.animal -o "$TMP/c.tsv"
check "failed corpus wrote nothing" test ! -e "$TMP/c.tsv"
expect_fail "mine: misspelt category before the model" "noun.artifcat' matches no category" \
  T mine --model "$TMP/none" --id-labels "$TMP/labels.txt" --lists "$L" --exclude noun.artifcat -o "$TMP/n.tsv"
expect_fail "score (mining): misspelt category before the model" "noun.artifcat' matches no category" \
  T score --model "$TMP/none" --id-labels "$TMP/labels.txt" --lists "$L" --include noun.artifcat "$IMG/dog.jpg"
expect_fail "eval: misspelt category before the model" "noun.artifcat' matches no category" \
  T eval --model "$TMP/none" --id-labels "$TMP/labels.txt" --id "$IMG" --ood x="$IMG" --lists "$L" \
  --method all --exclude noun.artifcat --out "$TMP/ev"
if [ -f /usr/share/wordnet/data.noun ]; then
  expect_fail "WordNet --exclude a misspelt category" "/usr/share/wordnet.*noun.artifcat" \
    T corpus -q --exclude noun.artifcat -o "$TMP/c.tsv"
  # noun.animal and noun.food stay out whatever the filters: dropping a
  # category gives fewer candidates than the default, never more
  T corpus -q -o "$TMP/wn.tsv"; T corpus -q --exclude noun.plant -o "$TMP/wn-plant.tsv"
  T corpus -q --include noun -o "$TMP/wn-noun.tsv"; T corpus -q --include noun.animal -o "$TMP/wn-animal.tsv"
  a=$(wc -l <"$TMP/wn.tsv"); b=$(wc -l <"$TMP/wn-plant.tsv")
  check "WordNet --exclude noun.plant: fewer candidates ($b) than the default ($a)" test "$b" -lt "$a"
  check "WordNet --include noun: no animals" sh -c "! grep -qx 'noun	poodle' '$TMP/wn-noun.tsv'"
  check "WordNet --include noun.animal: animals" grep -qx 'noun	poodle' "$TMP/wn-animal.tsv"
else
  partial_skip "WordNet database not installed (apt-get install wordnet-base): its filters were not checked"
fi
expect_fail "unknown command" "unknown command" T frobnicate
expect_fail "unknown option" "unknown option" T info --model "$M" --bogus
finish
