# cli_adaneg.sh — `score-embeddings --method adaneg` on the inputs of the
# first two cases of tests/data/adaneg_golden.txt (tests/gen/gen_adaneg.py,
# a numpy re-implementation of the reference): the CLI's scores equal the
# reference's to 1e-9 relative, for the task-adaptive proxies and with
# --adaneg-sample-adaptive, with the method's defaults (5 groups, torch
# permutation, seed 0) taken when not given; bad AdaNeg options refused.
. "$(dirname "$0")/lib_cli.sh"
D=$SRC/tests/data/adaneg
G=$SRC/tests/data/adaneg_golden.txt
# golden scores of case number $1 (0-based) of the golden file
golden() {
  awk -v want="$1" '/^case /{k++; n=$3; next} /^counts /{if (k-1==want) {take=n}; next}
    take>0 {print $1; take--}' "$G"
}
# max relative difference between two files of numbers, line by line
maxrel() {
  paste "$1" "$2" | awk 'BEGIN{m=0; n=0} {n++; d=$1-$2; if (d<0) d=-d; w=$2<0?-$2:$2; if (w<1e-12) w=1e-12;
    if (d/w>m) m=d/w} END{if (n==0) print "none"; else printf "%.3g\n", m}'
}
run() {
  nl score-embeddings --method adaneg --id "$D/id.npy" --neg "$D/neg.npy" --images "$D/img.npy" --tau 0.05 \
    --adaneg-batch 64 --adaneg-memory 3 --adaneg-thres 0.5 --adaneg-gap 0.5 --adaneg-lambda 0.1 "$@"
}
for v in task sample; do
  if [ $v = task ]; then k=0; extra=; else k=1; extra=--adaneg-sample-adaptive; fi
  golden $k >"$TMP/want_$v.txt"
  check "$v: golden has 300 scores" test "$(wc -l <"$TMP/want_$v.txt")" -eq 300
  run $extra >"$TMP/got_$v.txt" 2>"$TMP/err_$v.txt"
  check "$v: score-embeddings succeeded ($(cat "$TMP/err_$v.txt"))" test -s "$TMP/got_$v.txt"
  check "$v: 300 scores" test "$(wc -l <"$TMP/got_$v.txt")" -eq 300
  r=$(maxrel "$TMP/got_$v.txt" "$TMP/want_$v.txt")
  check "$v: scores equal the reference's to 1e-9 (max relative difference $r)" \
    awk -v r="$r" 'BEGIN{exit !(r != "none" && r+0 <= 1e-9)}'
done
# the defaults are the reference script's: giving them changes nothing
run --ngroup 5 --seed 0 --permutation torch >"$TMP/explicit.txt" 2>/dev/null
check "explicit defaults give the same scores" cmp -s "$TMP/explicit.txt" "$TMP/got_task.txt"
# and another grouping gives other scores (the option reaches the method)
run --permutation splitmix >"$TMP/splitmix.txt" 2>/dev/null
check "splitmix grouping gives other scores" sh -c "! cmp -s '$TMP/splitmix.txt' '$TMP/got_task.txt'"
expect_fail "--adaneg-batch 0 refused" "adaneg-batch" run --adaneg-batch 0
expect_fail "--adaneg-memory 0 refused" "adaneg-memory" run --adaneg-memory 0
expect_fail "--adaneg-thres 2 refused" "adaneg-thres" run --adaneg-thres 2
# sample-adaptive keeps an S x S matrix per label with images: 10,000
# slots (800 MB each) are refused at once, saying why and what to change
expect_fail "--adaneg-memory 10000 sample-adaptive: refused, naming the matrix and the option" \
  "10001 x 10001 matrix \(800\.2 MB\) per label.*--adaneg-memory, now 10000" run --adaneg-memory 10000 --adaneg-sample-adaptive
expect_fail "--adaneg-gap -1 refused" "adaneg-gap" run --adaneg-gap -1
finish
