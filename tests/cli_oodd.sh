# cli_oodd.sh — `score-embeddings --method oodd` on the golden stream of
# tests/gen/gen_oodd.py (case ref_stream: the reference's ID-then-OOD order
# permuted by np.random.seed(110), saved as tests/data/oodd_cli_*.npy):
# every score within 1e-9 relative of the numpy re-implementation of the
# reference (zxk1212/OODD NegLabel/tools/ood_test.py), on 1 and 2 threads
# with identical output; the batching matters (--oodd-batch 32 scores
# differently); OODD's defaults are the reference's (--oodd-batch 64
# etc. spelled out give the same bytes); bad parameters are refused.
. "$(dirname "$0")/lib_cli.sh"
D=$SRC/tests/data
G=$D/oodd_golden.txt
line=$(grep -n '^case ref_stream ' "$G" | cut -d: -f1)
check "golden case ref_stream present" test -n "$line"
sed -n "$((line + 3))p" "$G" | tr ' ' '\n' | tail -n +2 >"$TMP/want"
check "golden ref_stream: 240 scores" test "$(wc -l <"$TMP/want")" -eq 240
se() { nl ${GLOBAL:-} score-embeddings --id "$D/oodd_cli_id.npy" --neg "$D/oodd_cli_neg.npy" --images "$D/oodd_cli_img.npy" \
  --method oodd --oodd-queue 100 "$@"; }
GLOBAL="--threads 1" se >"$TMP/got1" 2>"$TMP/err1"
check "score-embeddings --method oodd succeeded" test -s "$TMP/got1"
check "240 scores" test "$(wc -l <"$TMP/got1")" -eq 240
check "every score within 1e-9 relative of the reference" awk '
  NR == FNR { want[FNR] = $1; next }
  { d = $1 - want[FNR]; if (d < 0) d = -d; a = want[FNR] < 0 ? -want[FNR] : want[FNR]
    if (!(d <= 1e-9 * a)) { printf "image %d: %s vs %s\n", FNR, $1, want[FNR] > "/dev/stderr"; bad = 1 } }
  END { exit bad || FNR != 240 }' "$TMP/want" "$TMP/got1"
GLOBAL="--threads 2" se >"$TMP/got2" 2>/dev/null
check "2 threads: the same bytes" cmp -s "$TMP/got1" "$TMP/got2"
nl score-embeddings --id "$D/oodd_cli_id.npy" --neg "$D/oodd_cli_neg.npy" --images "$D/oodd_cli_img.npy" \
  --method oodd --oodd-queue 100 --oodd-batch 64 --oodd-k 5 --ngroup 100 --tau 0.01 --permutation torch >"$TMP/expl" 2>/dev/null
check "the defaults are batch 64, k 5, 100 groups, tau 0.01, torch's permutation" cmp -s "$TMP/got1" "$TMP/expl"
se --oodd-batch 32 >"$TMP/b32" 2>/dev/null
check "another batch size scores differently (the stream matters)" sh -c "! cmp -s '$TMP/got1' '$TMP/b32'"

expect_fail "k above the queue refused" "--oodd-k 4 is past the queue's 3 images" se --oodd-queue 3 --oodd-k 4
expect_fail "--oodd-batch 0 refused" "oodd-batch" se --oodd-batch 0
expect_fail "--oodd-k 0 refused" "oodd-k" se --oodd-k 0
expect_fail "OODD without negatives refused" "neg" \
  nl score-embeddings --id "$D/oodd_cli_id.npy" --images "$D/oodd_cli_img.npy" --method oodd
finish
