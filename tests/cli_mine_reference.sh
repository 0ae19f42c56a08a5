# cli_mine_reference.sh — NegMining over the full reference corpus (70,000
# WordNet words) with CLIP's 1,000 ImageNet class names must keep 15% of
# each part of speech: 8,536 nouns + 1,963 adjectives = 10,499 labels, the
# size of the authors' selected list. (The tiny model's weights are random,
# so which words are kept is meaningless; the counts and format are not.)
. "$(dirname "$0")/lib_cli.sh"
need_shared
R=$SHARED/neglabel-reference
"$BIN" mine --no-cache --quiet --model "$SHARED/fixtures/tiny-clip" --id-labels "$R/imagenet_classes.txt" \
  --lists "$R/txtfiles" -o "$TMP/neg.tsv"
check "mine succeeded" test -s "$TMP/neg.tsv"
check "10,499 labels" test "$(grep -vc '^#' "$TMP/neg.tsv")" -eq 10499
check "8,536 nouns" test "$(grep -c '^noun' "$TMP/neg.tsv")" -eq 8536
check "1,963 adjectives" test "$(grep -c '^adj' "$TMP/neg.tsv")" -eq 1963
check "as many as the authors' list" test "$(wc -l <"$R/selected_neg_labels_in1k_10k.txt")" -eq 10499
check "noun prompts" test "$(grep '^noun' "$TMP/neg.tsv" | head -n 1 | cut -f3 | cut -c1-9)" = "the nice "
check "adjective prompts" sh -c "grep '^adj' '$TMP/neg.tsv' | head -n 1 | cut -f3 | grep -q '^This is a .* photo\$'"
finish
