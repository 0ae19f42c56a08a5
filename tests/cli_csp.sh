# cli_csp.sh — `mine --method csp` and `score --method csp` with the tiny
# model on a small word-list folder: CSP's excluded categories left out,
# adjectives conjugated with a superclass phrase, the 8 + 4 templates and
# "ensemble=raw" in the header, a warm cache embedding nothing, `score`
# with the file equal to `score` mining on the fly, the torch permutation
# by default (equal to --permutation torch, not to splitmix), and the
# refusals (--method mcm for mine, bad --max-cut). The numbers themselves
# are checked against the reference in test_csp.c and test_csp_model.c.
. "$(dirname "$0")/lib_cli.sh"
need_shared
L=$TMP/lists
mkdir -p "$L"
printf 'hammer\nsailing_boat\nteapot\nviolin\nlamp\nbridge\nkettle\nkite\n' >"$L/noun.artifact.txt"
printf 'oak\nfern\nrose\nmoss\nlily\ncactus\n' >"$L/noun.plant.txt"
printf 'carpenter\nsailor\n' >"$L/noun.person.txt"
printf 'orchestra\n' >"$L/noun.group.txt"
printf 'lively\nquiet\nrusty\nbright\nwooden\ngreen\ncold\nsoft\n' >"$L/adj.all.txt"
printf 'musical\n' >"$L/adj.pert.txt"
printf 'dog\ncat\nship\nairplane\n' >"$TMP/ids.txt"
IMG=$SHARED/fixtures/images
mine() { nl mine --model "$TINY" --id-labels "$TMP/ids.txt" --lists "$L" --cache "$TMP/cache" --method csp "$@"; }

mine --fraction 0.5 -o "$TMP/neg.tsv" 2>"$TMP/mine1.err"
check "mine --method csp succeeded" test -s "$TMP/neg.tsv"
head -n 1 "$TMP/neg.tsv" >"$TMP/header"
check "header: ensemble=raw" grep -q "ensemble=raw" "$TMP/header"
check "header: CSP's 8 noun templates" test "$(tr '\t' '\n' <"$TMP/header" | grep -c '^noun_template=')" -eq 8
check "header: CSP's 4 adjective templates" test "$(tr '\t' '\n' <"$TMP/header" | grep -c '^adj_template=')" -eq 4
check "7 of 14 nouns, 4 of 8 adjectives" test "$(grep -c '^noun' "$TMP/neg.tsv")" -eq 7 -a "$(grep -c '^adj' "$TMP/neg.tsv")" -eq 4
check "no excluded category" sh -c "! grep -qE 'carpenter|sailor|orchestra|musical' '$TMP/neg.tsv'"
check "adjectives are superclass phrases" sh -c "grep '^adj' '$TMP/neg.tsv' | cut -f2 | grep -vqE ' (environment|space|object|scene|place|item|area|view|thing|pattern|structure|landscape|vista|creature)\$' && exit 1 || exit 0"
check "noun prompts use CSP's first template" sh -c "grep '^noun' '$TMP/neg.tsv' | head -n 1 | cut -f3 | grep -q '^a close-up photo of the nice .*\\.\$'"
mine --fraction 0.5 -o "$TMP/neg2.tsv" 2>"$TMP/mine2.err"
check "the same negatives again" cmp -s "$TMP/neg.tsv" "$TMP/neg2.tsv"
check "a warm cache embeds no prompt" sh -c "! grep -E 'prompts: .* [1-9][0-9]* to embed' '$TMP/mine2.err' >/dev/null"

score() { nl score --model "$TINY" --id-labels "$TMP/ids.txt" --cache "$TMP/cache" --method csp --ngroup 2 "$@" \
  "$IMG/cifar10-cat-0000.jpg" "$IMG/cifar10-ship-0000.jpg" "$IMG/dog.jpg"; }
score --negatives "$TMP/neg.tsv" >"$TMP/s_file.csv" 2>/dev/null
score --lists "$L" --fraction 0.5 >"$TMP/s_mine.csv" 2>/dev/null
score --negatives "$TMP/neg.tsv" --permutation torch >"$TMP/s_torch.csv" 2>/dev/null
score --negatives "$TMP/neg.tsv" --permutation splitmix >"$TMP/s_split.csv" 2>/dev/null
check "score --method csp: 3 images" test "$(tail -n +2 "$TMP/s_file.csv" | wc -l)" -eq 3
check "scores from the file = scores mining on the fly" cmp -s "$TMP/s_file.csv" "$TMP/s_mine.csv"
check "CSP's default permutation is torch's" cmp -s "$TMP/s_file.csv" "$TMP/s_torch.csv"
check "splitmix groups differently" sh -c "! cmp -s '$TMP/s_file.csv' '$TMP/s_split.csv'"

# CSP's ensemble embeds its words 1,024 at a time: each step reopened the
# text cache, and an open reads and checks the whole file (with a WordNet
# corpus, ~80 opens of a cache growing to ~1.4 GB). Now one open per
# embedding call: here two, the ID labels' and the 1,100 nouns' (two steps).
# The fault shim, failing nothing, traces every open of a cache file.
SHIM=${NEGLABEL_FAULT_SHIM:-}
if [ -f "$SHIM" ]; then
  mkdir -p "$TMP/big"; head -n 1100 "$LISTS/noun.artifact.txt" >"$TMP/big/noun.artifact.txt"
  PRELOAD=$SHIM
  [ -n "${NEGLABEL_ASAN_RT:-}" ] && PRELOAD="$NEGLABEL_ASAN_RT $SHIM" # ASan's runtime first, as it requires
  env LD_PRELOAD="$PRELOAD" NLFAULT_MATCH="$TMP/bigcache/" NLFAULT_TRACE="$TMP/big.trace" "$BIN" mine -q --model "$TINY" \
    --id-labels "$TMP/ids.txt" --lists "$TMP/big" --cache "$TMP/bigcache" --method csp -o "$TMP/big.tsv" 2>"$TMP/big.err"
  opens=$(grep -c ' open .*-text\.nlc$' "$TMP/big.trace" 2>/dev/null)
  check "CSP mining of 1,100 words opens the text cache twice, not per step ($opens; $(head -c 200 "$TMP/big.err"))" \
    test "${opens:-0}" -eq 2
else
  partial_skip "the fault shim (NEGLABEL_FAULT_SHIM) is needed to count the cache's opens"
fi

expect_fail "mine --method mcm refused" "mcm uses no negatives" \
  nl mine --model "$TINY" --id-labels "$TMP/ids.txt" --lists "$L" --method mcm -o "$TMP/x.tsv"
expect_fail "bad --max-cut refused" "max-cut" mine --max-cut 7 -o "$TMP/x.tsv"
expect_fail "bad --method refused" "neglabel, mcm, csp, adaneg or oodd" mine --method bogus -o "$TMP/x.tsv"
finish
