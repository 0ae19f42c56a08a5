# cli_eval_methods.sh — `neglabel eval --method all` end to end on the
# random-weight tiny CLIP and CIFAR-10 images: every method (NegLabel, MCM,
# CSP, AdaNeg, OODD) in the table, results.json, scores.csv (each OOD set's
# stream in order for AdaNeg and OODD) and report.html (one ROC curve per
# method, the Figure 4 view beside each example, checked in headless
# Chromium); a second run with the cache embeds nothing, CSP's prompt
# ensembles included; every score equals what `neglabel score` gives on its
# own (the stream methods on the stream's images in the stream's order),
# and every metric equals `neglabel metrics` on the scores in scores.csv.
. "$(dirname "$0")/lib_cli.sh"
need_shared
need_jq
M=$TINY L=$LISTS
D=$(cd "$CIFAR" && pwd) # list files hold absolute paths

mkdir -p "$TMP/mini"
head -n 400 "$L/noun.artifact.txt" >"$TMP/mini/noun.artifact.txt"
head -n 300 "$L/noun.plant.txt" >"$TMP/mini/noun.plant.txt"
head -n 300 "$L/adj.all.txt" >"$TMP/mini/adj.all.txt"
for c in airplane automobile bird; do ls "$D/$c"/*.jpg | head -n 20; done >"$TMP/id.lst"
for c in frog horse; do ls "$D/$c"/*.jpg | head -n 20; done >"$TMP/animals.lst"
ls "$D/ship"/*.jpg | head -n 30 >"$TMP/ships.lst"
printf 'airplane\nautomobile\nbird\n' >"$TMP/id_labels.txt"
C="$TMP/cache"
# Small batches and queue so that the streams of 100 and 90 images run
# several AdaNeg batches and OODD evicts.
OPTS="--ngroup 5 --adaneg-batch 16 --adaneg-memory 4 --oodd-batch 8 --oodd-queue 24 --oodd-k 3"
E="nl eval --model $M --id-labels $TMP/id_labels.txt --lists $TMP/mini --id $TMP/id.lst --ood animals=$TMP/animals.lst --ood ships=$TMP/ships.lst $OPTS"

$E --method all --cache "$C" --out "$TMP/ev1" >"$TMP/ev1.out" 2>"$TMP/ev1.err"
rc=$?; check "eval --method all succeeded" test $rc -eq 0; [ $rc -eq 0 ] || cat "$TMP/ev1.err" >&2
for f in results.json scores.csv report.html negatives.tsv negatives-csp.tsv; do check "eval wrote $f" test -s "$TMP/ev1/$f"; done
check "eval's last line names every file it wrote, the negatives too" \
  grep -qx "neglabel eval: wrote $TMP/ev1/results.json, scores.csv, report.html, negatives.tsv, negatives-csp.tsv" "$TMP/ev1.err"
check "CSP's negatives are its own (raw ensembles, superclass phrases)" sh -c \
  "head -n 1 '$TMP/ev1/negatives-csp.tsv' | grep -q 'ensemble=raw' && ! cmp -s '$TMP/ev1/negatives.tsv' '$TMP/ev1/negatives-csp.tsv'"
for m in NegLabel MCM CSP AdaNeg OODD; do
  check "table: $m on each set and the average" test "$(grep -c " $m " "$TMP/ev1.out")" -eq 3
done
check "table: the best of each set starred" test "$(grep -c ' \*$' "$TMP/ev1.out")" -eq 3
J="$TMP/ev1/results.json"
check "results.json: methods in order" test "$(jq -r '[.params.methods[].name] | join(",")' "$J")" = "neglabel,mcm,csp,adaneg,oodd"
check "results.json: every method's metrics per set" jq -e >/dev/null \
  '[.ood[], .average | .neglabel.auroc, .mcm.auroc, .csp.fpr95, .adaneg.aupr_in, .oodd.aupr_out] | all(. >= 0 and . <= 1)' "$J"
check "results.json: best named" jq -e >/dev/null '[.ood[], .average | .best] | all(. as $b | ["neglabel","mcm","csp","adaneg","oodd"] | index($b))' "$J"
check "results.json: stream parameters" jq -e >/dev/null \
  '.params.stream_seed == 110 and (.params.methods[3] | .batch == 16 and .memory == 4 and .ngroup == 5) and (.params.methods[4] | .queue == 24 and .k == 3 and .batch == 8)' "$J"

S="$TMP/ev1/scores.csv"
check "scores.csv header" test "$(head -n 1 "$S")" = "set,path,neglabel,mcm,csp,adaneg,oodd,top_id_label,top_negative_label,stream,position"
# 130 images once (order-free methods), then the streams: 60 + 40 and 60 + 30.
check "scores.csv rows" test "$(tail -n +2 "$S" | wc -l)" -eq $((130 + 100 + 90))
for st in animals:100 ships:90; do
  s=${st%%:*} n=${st##*:}
  awk -F, -v s="$s" 'NR > 1 && $10 == s' "$S" >"$TMP/stream_$s.csv"
  check "stream $s: positions 0..$((n - 1)) in order" test "$(cut -d, -f11 "$TMP/stream_$s.csv" | tr '\n' ' ')" = "$(seq -s ' ' 0 $((n - 1))) "
  check "stream $s: the ID images and the set's, each once" test \
    "$(cut -d, -f2 "$TMP/stream_$s.csv" | sort | tr '\n' ' ')" = "$(sort "$TMP/id.lst" "$TMP/$s.lst" | tr '\n' ' ')"
  check "stream $s: not in list order" bash -c "! cut -d, -f2 '$TMP/stream_$s.csv' | cmp -s - <(cat '$TMP/id.lst' '$TMP/$s.lst')"
  cut -d, -f2 "$TMP/stream_$s.csv" >"$TMP/stream_$s.lst"
done

# Every score equals `neglabel score` on its own (same cache, same options).
# `score` prints 9 significant digits (a rounding of up to 5e-9 relative)
close() { # FILE_A COL_A FILE_B COL_B: the columns agree to 1e-8 relative, row by row
  paste -d, <(cut -d, -f"$2" "$1") <(cut -d, -f"$4" "$3") |
    awk -F, '{ d = $1 - $2; if (d < 0) d = -d; a = $1 < 0 ? -$1 : $1; if (d > 1e-8 * (a > 1e-300 ? a : 1) + 1e-15) bad++ } END { exit bad > 0 || NR == 0 }'
}
SC="nl score --model $M --id-labels $TMP/id_labels.txt --lists $TMP/mini $OPTS --cache $C"
awk -F, 'NR > 1 && $1 == "ID" && $10 == ""' "$S" >"$TMP/id_rows.csv"
for mc in neglabel:3 csp:5; do
  m=${mc%%:*} col=${mc##*:}
  neg=negatives.tsv; [ "$m" = csp ] && neg=negatives-csp.tsv
  $SC --method "$m" --negatives "$TMP/ev1/$neg" --list "$TMP/id.lst" 2>/dev/null | tail -n +2 >"$TMP/own_$m.csv"
  check "$m: eval's ID scores equal 'score --method $m' (to 1e-8: its 9 digits)" close "$TMP/id_rows.csv" "$col" "$TMP/own_$m.csv" 2
done
$SC --method mcm --list "$TMP/id.lst" 2>/dev/null | tail -n +2 >"$TMP/own_mcm.csv"
check "mcm: eval's ID scores equal 'score --method mcm'" close "$TMP/id_rows.csv" 4 "$TMP/own_mcm.csv" 2
for s in animals ships; do
  for mc in adaneg:6 oodd:7; do
    m=${mc%%:*} col=${mc##*:}
    $SC --method "$m" --negatives "$TMP/ev1/negatives.tsv" --list "$TMP/stream_$s.lst" 2>/dev/null | tail -n +2 >"$TMP/own_${m}_$s.csv"
    check "$m, stream $s: equals 'score --method $m' on the stream in order" close "$TMP/stream_$s.csv" "$col" "$TMP/own_${m}_$s.csv" 2
  done
done
check "AdaNeg and OODD differ from each other" bash -c \
  "! awk -F, '{ print \$6 }' '$TMP/stream_ships.csv' | cmp -s - <(awk -F, '{ print \$7 }' '$TMP/stream_ships.csv')"

# Every metric equals `neglabel metrics` on the scores in scores.csv.
metric_ok() { # METHOD COL SET: results.json's metrics of METHOD on SET
  local m=$1 col=$2 s=$3
  if [ "$m" = adaneg ] || [ "$m" = oodd ]; then
    awk -F, -v c="$col" -v s="$s" 'NR > 1 && $10 == s && $1 == "ID" { print $c }' "$S" >"$TMP/a.txt"
    awk -F, -v c="$col" -v s="$s" 'NR > 1 && $10 == s && $1 == s { print $c }' "$S" >"$TMP/b.txt"
  else
    awk -F, -v c="$col" 'NR > 1 && $10 == "" && $1 == "ID" { print $c }' "$S" >"$TMP/a.txt"
    awk -F, -v c="$col" -v s="$s" 'NR > 1 && $10 == "" && $1 == s { print $c }' "$S" >"$TMP/b.txt"
  fi
  nl metrics --id-scores "$TMP/a.txt" --ood-scores "$TMP/b.txt" >"$TMP/m.json" 2>/dev/null || return 1
  jq -e --slurpfile w "$TMP/m.json" --arg s "$s" --arg m "$m" \
    '.ood[] | select(.name == $s) | .[$m] as $g | [$g.auroc - $w[0].auroc, $g.fpr95 - $w[0].fpr95, $g.aupr_in - $w[0].aupr_in] | all(. * . < 1e-24)' "$J" >/dev/null
}
for mc in neglabel:3 mcm:4 csp:5 adaneg:6 oodd:7; do
  for s in animals ships; do check "metrics of ${mc%%:*} on $s" metric_ok "${mc%%:*}" "${mc##*:}" "$s"; done
done

# Cached: a second run embeds nothing (images, prompts, CSP's ensembles) and
# gives the same files.
$E --method all --cache "$C" --out "$TMP/ev2" >/dev/null 2>"$TMP/ev2.err"
check "second eval embeds no image" sh -c "grep -q 'images: 60 cached, 0 to embed' '$TMP/ev2.err' && ! grep -q 'images: [0-9]* cached, [1-9][0-9]* to embed' '$TMP/ev2.err'"
check "second eval embeds no prompt (CSP's included)" sh -c "grep -q 'prompts: [1-9][0-9]* cached, 0 to embed' '$TMP/ev2.err' && ! grep -q 'cached, [1-9][0-9]* to embed' '$TMP/ev2.err'"
for f in scores.csv negatives.tsv negatives-csp.tsv; do check "cached run: same $f" cmp -s "$TMP/ev1/$f" "$TMP/ev2/$f"; done
$E --method oodd --method csp,mcm --no-cache --threads 1 --out "$TMP/ev3" >"$TMP/ev3.out" 2>/dev/null
check "repeatable --method keeps the order given" test "$(jq -r '[.params.methods[].name] | join(",")' "$TMP/ev3/results.json")" = "oodd,csp,mcm"
check "uncached, 1 thread: the same metrics" sh -c "jq -S '[.ood[] | {name, oodd, csp, mcm}]' '$TMP/ev1/results.json' >'$TMP/r1' && jq -S '[.ood[] | {name, oodd, csp, mcm}]' '$TMP/ev3/results.json' >'$TMP/r3' && cmp -s '$TMP/r1' '$TMP/r3'"
$E --method adaneg --stream-seed 7 --cache "$C" --out "$TMP/ev4" >/dev/null 2>&1
check "--stream-seed changes the stream" bash -c "! cmp -s <(awk -F, '\$10 == \"ships\" { print \$2 }' '$TMP/ev1/scores.csv') <(awk -F, '\$10 == \"ships\" { print \$2 }' '$TMP/ev4/scores.csv')"
expect_fail "unknown method" "neglabel, mcm, csp, adaneg, oodd or all" $E --method bogus --out "$TMP/x"

# results.json names the negatives each run used; a negatives file left in a
# reused --out by an earlier run is pointed out, not passed off as this run's.
check "results.json: mined negatives saved beside it" test "$(jq -r '.params.negatives_file + " " + .params.negatives_csp_file' "$TMP/ev1/results.json")" = "negatives.tsv negatives-csp.tsv"
check "results.json: no CSP negatives when CSP did not run" test "$(jq -r '.params.negatives_csp_file' "$TMP/ev4/results.json")" = null
cp "$TMP/ev1/negatives.tsv" "$TMP/given.tsv"
cp -r "$TMP/ev1" "$TMP/ev5"
$E --method neglabel --negatives "$TMP/given.tsv" --cache "$C" --out "$TMP/ev5" >/dev/null 2>"$TMP/ev5.err"
check "results.json: --negatives FILE named" test "$(jq -r '.params.negatives_file' "$TMP/ev5/results.json")" = "$TMP/given.tsv"
check "report.html names the negatives file" grep -q "negative labels (<code>$TMP/given.tsv</code>)" "$TMP/ev5/report.html"
check "an earlier run's negatives in --out: warned, named, kept" sh -c \
  "grep -q '$TMP/ev5/negatives.tsv is from an earlier run, not this one (this run.s negatives: $TMP/given.tsv)' '$TMP/ev5.err' &&
   grep -q 'negatives-csp.tsv is from an earlier run, not this one (this run.s CSP negatives: none)' '$TMP/ev5.err' && test -s '$TMP/ev5/negatives-csp.tsv'"
$E --method neglabel --negatives "$TMP/ev4/negatives.tsv" --cache "$C" --out "$TMP/ev4" >/dev/null 2>"$TMP/ev6.err"; rc=$?
check "--negatives is --out's own negatives.tsv: no warning (rc=$rc)" sh -c "test $rc -eq 0 && ! grep -q 'earlier run' '$TMP/ev6.err'"

# The report in a real browser: every method, the Figure 4 view.
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
  echo "SKIP: chromium is not installed (apt-get install chromium)"
  exit 77
fi
URL="file://$TMP/ev1/report.html"
chrome() { timeout 30 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$TMP/profile" --enable-logging=stderr --v=0 "$@"; }
chrome --dump-dom "$URL" >"$TMP/dom.html" 2>"$TMP/dom.log"
count() { grep -o -- "$1" "$TMP/dom.html" | wc -l; }
check "browser: 5 methods x 3 rows in the table" test "$(count '<td class="method[ a-z]*">')" -eq 15
check "browser: one ROC curve per method and set" test "$(count '<polyline class="\(neglabel\|mcm\|csp\|adaneg\|oodd\)"')" -eq 10
check "browser: Figure 4 chart beside each of the 18 examples" test "$(count '<svg class="aff"')" -eq 18
check "browser: 3 ID and 3 negative bars per example (3 ID labels)" test "$(count '<rect x="110"')" -eq 108
check "browser: example images" test "$(count 'src="data:image/jpeg;base64,')" -eq 18
chrome --screenshot="$TMP/eval.png" --window-size=1200,2400 "$URL" >"$TMP/shot.log" 2>&1
if grep -hE 'CONSOLE|Uncaught|Failed to load resource|Refused to' "$TMP/dom.log" "$TMP/shot.log"; then bad "browser console errors"; else ok; fi
check "browser: screenshot rendered" test "$(stat -c %s "$TMP/eval.png" 2>/dev/null || echo 0)" -gt 50000
[ -n "${NEGLABEL_KEEP_SCREENSHOT:-}" ] && cp "$TMP/eval.png" "$NEGLABEL_KEEP_SCREENSHOT"
finish
