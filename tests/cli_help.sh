# cli_help.sh — the CLI's help (tools/help.c) against the CLI itself, the
# README and the man page:
# - every command of the dispatcher (tools/neglabel.c) has `--help`, `-h` and
#   `help CMD` (the same text, exit 0, a usage line), and only those do;
#   --help wins over missing or bad options; unknown commands exit 2;
# - every option a command's parser accepts has a line in its help, and
#   every option its help documents is accepted: each option string in
#   tools/*.c is tried on each command, accepted unless the command says
#   "unknown option" (nothing is run: a required option is always missing);
# - every command and option of the README's "## Command line" section is
#   in that command's help (options in its prose: in some command's help);
# - docs/neglabel.1 is what `neglabel help --man` prints, and groff takes it
#   without warnings.
# Needs no reference data: never skips.
. "$(dirname "$0")/lib_cli.sh"
# A probe that gets past the options may try to load the default model:
# keep it offline, out of the user's caches.
export HF_HUB_OFFLINE=1 HF_HUB_CACHE=$TMP/hf HF_HOME=$TMP/hf HF_ENDPOINT=http://127.0.0.1:9 NEGLABEL_CACHE=$TMP/cache
T() { timeout 30 "$BIN" "$@" </dev/null; }
[ -x "$BIN" ] || { echo "FAILED: no neglabel binary at '$BIN'" >&2; exit 1; }

# has_line FILE OPT: FILE documents OPT on a line of its own ("  -o, --output
# FILE  meaning"), or lists it among the common options without effect.
has_line() {
  grep -qE -- "^  ([^ ]+, )?$2([ ,]|\$)" "$1" || grep -qE -- "^  Accepted here without effect:.* $2( |\$)" "$1"
}

# ---------------------------------------------------------------- commands
cmds=$(grep -oE '\{"[a-z-]+", cmd_[a-z_]+\}' "$SRC/tools/neglabel.c" | sed -E 's/^\{"([a-z-]+)".*/\1/' | sort)
check "the dispatcher's commands found in tools/neglabel.c" test "$(echo $cmds | wc -w)" -ge 10
check "help documents exactly the dispatcher's commands" test "$cmds" = "$(T help --commands | sort)"

for c in $cmds; do
  H=$TMP/help.$c
  T "$c" --help >"$H" 2>"$TMP/err"; rc=$?
  check "$c --help exits 0 (rc=$rc)" test $rc -eq 0
  check "$c --help writes nothing on stderr" test ! -s "$TMP/err"
  check "$c --help starts with its usage line" grep -qE "^usage: neglabel $c( |\$)" "$H"
  T "$c" -h >"$TMP/out" 2>/dev/null; rc=$?
  check "$c -h prints --help's text, exit 0" test $rc -eq 0 -a -s "$H"
  check "$c -h prints --help's text" cmp -s "$TMP/out" "$H"
  T help "$c" >"$TMP/out" 2>/dev/null; rc=$?
  check "help $c exits 0" test $rc -eq 0
  check "help $c prints --help's text" cmp -s "$TMP/out" "$H"
done

# --help wins: over missing required options (every command above), bad and
# unknown options, common options before the command; not as a value.
for args in "mine --fraction nope --help" "score --bogus -h" "--quiet eval --help" "--threads 0 metrics -h" \
            "corpus --include=noun --help"; do
  T $args >"$TMP/out" 2>"$TMP/err"; rc=$?
  check "'neglabel $args' prints help (rc=$rc)" test $rc -eq 0 -a ! -s "$TMP/err"
  check "'neglabel $args' prints its command's usage" grep -q "^usage: neglabel " "$TMP/out"
done
T help --man | grep -q '^\.TH NEGLABEL 1 '
check "help --man prints a man page" test $? -eq 0
expect_fail "--text -h is a text, not help" "config.json" T embed --model "$TMP/none" --text -h

# The overview.
T --help >"$TMP/overview"; rc=$?
check "--help exits 0" test $rc -eq 0
for a in -h help "--quiet --help"; do
  T $a >"$TMP/out"; rc=$?
  check "'neglabel $a' prints the overview, exit 0" test $rc -eq 0
  check "'neglabel $a' = 'neglabel --help'" cmp -s "$TMP/out" "$TMP/overview"
done
for c in $cmds; do check "the overview names $c" grep -qE "^  $c( |\$)" "$TMP/overview"; done
T >"$TMP/out" 2>"$TMP/err"; rc=$?
check "no command: usage error, exit 2 (rc=$rc)" test $rc -eq 2
check "no command: the overview on stderr, nothing on stdout" cmp -s "$TMP/err" "$TMP/overview"
check "no command: nothing on stdout" test ! -s "$TMP/out"

# Usage errors: exit 2, one message.
expect_fail "help for an unknown command" "unknown command 'frobnicate'" T help frobnicate
T help frobnicate >/dev/null 2>&1; rc=$?
check "help for an unknown command exits 2 (rc=$rc)" test $rc -eq 2
T frobnicate --help >/dev/null 2>&1; rc=$?
check "--help of an unknown command exits 2 (rc=$rc)" test $rc -eq 2
T help --options frobnicate >/dev/null 2>&1; rc=$?
check "help --options for an unknown command exits 2 (rc=$rc)" test $rc -eq 2
T help mine score >/dev/null 2>&1; rc=$?
check "help with two commands exits 2 (rc=$rc)" test $rc -eq 2
expect_fail "a command's usage error points at its --help" "see 'neglabel info --help'" T info --bogus
# a bad value is the one line naming the option (README, "Errors"), exit 2
one_line() {
  local what=$1 pat=$2; shift 2
  local out rc
  out=$("$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -eq 2 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && printf '%s' "$out" | grep -q -- "$pat"; then ok
  else bad "bad value, one line: $what (rc=$rc, stderr: $out)"; fi
}
one_line "--device" "--device" T info --device foo
one_line "--precision" "--precision" T info --precision fp8
one_line "metrics --convention" "--convention" T metrics --convention bad --id-scores a --ood-scores b
one_line "eval --convention" "--convention" T eval --convention x
one_line "eval --ood" "--ood expects" T eval --ood nothing
one_line "eval --mcm-tau" "--mcm-tau" T eval --mcm-tau -1
one_line "preprocess --resample model" "--resample model" T preprocess --resample model a.png -o b.npy
one_line "--threads" "--threads" T info --threads 0

# ---------------------------------------------------------------- options
cands=$(grep -ohE '"--?[a-z][a-z0-9-]*"' "$SRC"/tools/*.c | tr -d '"' | sort -u)
check "option strings found in tools/*.c" test "$(echo $cands | wc -w)" -ge 40
for c in $cmds; do
  H=$TMP/help.$c
  : >"$TMP/acc.$c"
  for o in $cands; do
    T "$c" "$o" >/dev/null 2>"$TMP/err"; rc=$?
    if [ $rc -ge 124 ]; then bad "$c $o: crashed or hung (rc=$rc)"; continue; fi
    grep -qF "unknown option '$o'" "$TMP/err" && continue
    echo "$o" >>"$TMP/acc.$c"
  done
  T help --options "$c" >"$TMP/doc.$c"
  check "$c accepts --help" grep -qx -- --help "$TMP/acc.$c"
  while read -r o; do
    check "$c accepts $o, but its help has no line for it" has_line "$H" "$o"
    check "$c accepts $o, but 'help --options $c' does not list it" grep -qx -- "$o" "$TMP/doc.$c"
  done <"$TMP/acc.$c"
  while read -r o; do
    check "$c --help documents $o, which its parser refuses" grep -qx -- "$o" "$TMP/acc.$c"
    check "$c: 'help --options' lists $o, its help has no line for it" has_line "$H" "$o"
  done <"$TMP/doc.$c"
done

# ---------------------------------------------------------------- README
awk '/^## Command line/ {on = 1; next} /^## / {on = 0} on' "$SRC/README.md" >"$TMP/readme"
check "README.md has a '## Command line' section" test -s "$TMP/readme"
opts_in() { grep -oE -- '(^|[^A-Za-z0-9-])--?[a-z][a-z0-9-]*' | sed -E 's/^[^-]+//'; }
rows=0
while IFS= read -r row; do
  rows=$((rows+1))
  c=$(printf '%s' "$row" | sed -E 's/^\| `([a-z-]+).*/\1/')
  if [ ! -f "$TMP/help.$c" ]; then bad "README's command '$c' has no --help (not a command?)"; continue; fi
  for o in $(printf '%s' "$row" | opts_in | sort -u); do
    check "README shows $c $o; '$c --help' has no line for it" has_line "$TMP/help.$c" "$o"
  done
done < <(grep -E '^\| `[a-z]' "$TMP/readme")
check "README's command table found" test $rows -ge 10
cat "$TMP"/help.* "$TMP/overview" >"$TMP/allhelp"
for o in $(opts_in <"$TMP/readme" | sort -u); do
  check "README's command line section mentions $o; no help documents it" has_line "$TMP/allhelp" "$o"
done

# ---------------------------------------------------------------- defaults
# --ngroup's default, as the help states it for each method, is the one the
# commands use (the help once said 100 for all; AdaNeg's is 5): with one
# negative, score-embeddings names the ngroup it was given in its refusal.
python3 - "$TMP/one.npy" <<'PY'
import struct, sys
h = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }"
h += " " * ((64 - (10 + len(h) + 1) % 64) % 64) + "\n"
open(sys.argv[1], "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + struct.pack("<2f", 1, .5))
PY
ng=$(grep -E '^  --ngroup ' "$TMP/help.score")
perm=$(grep -E '^  --permutation ' "$TMP/help.score")
for mt in neglabel:NegLabel csp:CSP adaneg:AdaNeg oodd:OODD; do
  m=${mt%%:*} title=${mt#*:}
  want=$(printf '%s' "$ng" | grep -oE "[0-9]+ for ([A-Za-z]+(, | and ))*$title" | head -n 1 | cut -d' ' -f1)
  [ -n "$want" ] || want=$(printf '%s' "$ng" | sed -nE 's/.*\(default ([0-9]+).*/\1/p')
  out=$(T score-embeddings --device cpu --method "$m" --id "$TMP/one.npy" --neg "$TMP/one.npy" --images "$TMP/one.npy" 2>&1)
  check "--method $m: help's default ngroup ${want:-?} is the one used ($out)" \
    sh -c "test -n '$want' && printf '%s' \"\$1\" | grep -q 'ngroup $want outside'" _ "$out"
done
check "--permutation's help names torch as CSP's, AdaNeg's and OODD's default (src/method/score.c)" \
  sh -c "printf '%s' \"\$1\" | grep -q 'torch for CSP, AdaNeg and OODD'" _ "$perm"

# ---------------------------------------------------------------- man page
T help --man >"$TMP/neglabel.1"
check "docs/neglabel.1 is 'neglabel help --man' (regenerate: build/neglabel help --man > docs/neglabel.1)" \
  cmp -s "$TMP/neglabel.1" "$SRC/docs/neglabel.1"
if command -v groff >/dev/null; then
  out=$(groff -man -ww -z "$TMP/neglabel.1" 2>&1)
  check "groff warns about the man page: $out" test -z "$out"
else
  partial_skip "groff not installed (apt-get install groff-base): the man page was not checked with groff"
fi
finish
