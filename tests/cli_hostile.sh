# cli_hostile.sh — unusual use of the CLI that once went wrong: folder
# loops, outputs that are links, pipes or devices, empty paths, TABs in
# words, cut-short negatives files, clashing set names, option values that
# look like options, outputs that are inputs, environment variables the
# options override, unreadable standard input and a full disk under help. Each case checks the outcome,
# not just the exit status.
. "$(dirname "$0")/lib_cli.sh"
need_shared
need_jq
M=$TINY
IMG=$SHARED/fixtures/images
T() { timeout 60 "$BIN" "$@"; }
ls "$CIFAR" >"$TMP/labels.txt"
mkdir -p "$TMP/mini"
head -n 200 "$LISTS/noun.artifact.txt" >"$TMP/mini/noun.artifact.txt"
head -n 100 "$LISTS/adj.all.txt" >"$TMP/mini/adj.all.txt"
nl mine -q --no-cache --model "$M" --id-labels "$TMP/labels.txt" --lists "$TMP/mini" -o "$TMP/neg.tsv"
check "mine wrote negatives" grep -q '^# neglabel negatives' "$TMP/neg.tsv"
S() { T score -q --no-cache --model "$M" --id-labels "$TMP/labels.txt" --negatives "$TMP/neg.tsv" --ngroup 2 "$@"; }

# --- image folders: symbolic links --------------------------------------
# A link back up the tree used to be walked again and again (two such links:
# the number of paths doubled at every level, a hang); one link listed the
# same image 41 times. Now a folder reached twice is walked once.
mkdir -p "$TMP/loop/sub"
cp "$IMG/dog.jpg" "$TMP/loop/"; cp "$IMG/eagle.jpg" "$TMP/loop/sub/"
ln -s . "$TMP/loop/a"; ln -s .. "$TMP/loop/sub/up"; ln -s sub "$TMP/loop/b"
out=$(S --list "$TMP/loop" 2>"$TMP/loop.err"); rc=$?
check "a folder with link loops: scored (rc=$rc)" test $rc -eq 0
rows=$(printf '%s\n' "$out" | grep -c '\.jpg,')
check "each image once: 2 rows, not $rows" test "$rows" -eq 2
check "the skipped folders are named on stderr" grep -q "already walked" "$TMP/loop.err"
# A link to a folder elsewhere is followed (datasets are often linked in).
mkdir -p "$TMP/linked"; ln -s "$TMP/loop/sub" "$TMP/linked/birds"
out=$(S --list "$TMP/linked" 2>/dev/null)
check "a link to another folder is followed" test "$(printf '%s\n' "$out" | grep -c eagle)" -eq 1
# An entry the walk cannot stat (a dangling link, a link to itself) used to
# be dropped without a word: a class folder linked in from a moved disk
# vanished from the set and the metrics were computed on the rest. Now an
# image's name is kept, so it is reported unreadable and counted skipped
# (--strict: fatal), and anything else is named in a warning.
mkdir -p "$TMP/gone"; cp "$IMG/dog.jpg" "$TMP/gone/"
ln -s "$TMP/nowhere/cat.jpg" "$TMP/gone/cat.jpg"; ln -s "$TMP/nowhere/birds" "$TMP/gone/birds"
ln -s self.png "$TMP/gone/self.png"
out=$(S --list "$TMP/gone" 2>"$TMP/gone.err"); rc=$?
check "dangling links: the rest scored (rc=$rc)" sh -c "[ $rc -eq 0 ] && [ $(printf '%s\n' "$out" | grep -c 'dog\.jpg,') -eq 1 ]"
check "a dangling image link is reported unreadable" grep -q "skipping unreadable image: $TMP/gone/cat.jpg" "$TMP/gone.err"
check "an image link to itself is reported unreadable" grep -q "skipping unreadable image: $TMP/gone/self.png" "$TMP/gone.err"
check "a dangling folder link is named" grep -q "$TMP/gone/birds: skipped, cannot be read: No such file" "$TMP/gone.err"
expect_fail "--strict: a dangling image link is fatal" "gone/(cat\.jpg|self\.png).*--strict" S --strict --list "$TMP/gone"
# A FIFO named by a list file (or given as a file to read) waited in open()
# for a writer that never came: a hang that one Ctrl-C could not end. Now an
# image that is a FIFO is refused at once as "not a regular file" (skipped,
# as unreadable); a text input (labels, negatives, scores, an image list)
# that is one is read as a pipe, and without a writer it is empty at once.
mkdir -p "$TMP/fifos"; cp "$IMG/dog.jpg" "$TMP/fifos/"; mkfifo "$TMP/fifos/pipe.jpg"
printf 'pipe.jpg\ndog.jpg\n' >"$TMP/fifos/list.txt"
out=$(timeout -s KILL 20 "$BIN" score -q --no-cache --model "$M" --id-labels "$TMP/labels.txt" \
  --negatives "$TMP/neg.tsv" --ngroup 2 --list "$TMP/fifos/list.txt" 2>"$TMP/fifos.err"); rc=$?
check "a FIFO in an image list: skipped, not waited for (rc=$rc)" sh -c "[ $rc -eq 0 ] && [ $(printf '%s\n' "$out" | grep -c 'dog\.jpg,') -eq 1 ]"
check "... named as not a regular file" grep -q "pipe.jpg: not a regular file" "$TMP/fifos.err"
expect_fail "a FIFO without a writer as the labels file: empty, not waited for" "pipe.jpg: no ID labels \(the file is empty\)" \
  timeout -s KILL 20 "$BIN" score -q --no-cache --model "$M" --id-labels "$TMP/fifos/pipe.jpg" --method mcm "$IMG/dog.jpg"
# Text inputs from pipes: `<(cmd)` and /dev/stdin give what the files give
# (before: "/dev/fd/63: not a regular file"). "-" is not standard input:
# the error says which name is.
want=$(S "$IMG/dog.jpg" "$IMG/kite.jpg")
got=$(T score -q --no-cache --model "$M" --id-labels <(cat "$TMP/labels.txt") --negatives <(cat "$TMP/neg.tsv") \
  --ngroup 2 "$IMG/dog.jpg" "$IMG/kite.jpg")
check "labels and negatives from <(cat ...): the files' scores" test -n "$want" -a "$got" = "$want"
got=$(printf '%s\n%s\n' "$IMG/dog.jpg" "$IMG/kite.jpg" | S --list /dev/stdin)
check "an image list on /dev/stdin (a pipe): the same scores" test "$got" = "$want"
got=$(S --list /dev/stdin "$IMG/dog.jpg" <<<"$IMG/kite.jpg")
check "an image list on /dev/stdin (a here-string file) after an image: the same scores" test "$got" = "$want"
# Relative names in a list read from a pipe or a descriptor are the current
# folder's (they were looked for under /dev or /dev/fd, the list's "folder").
ABIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN"); AM=$(cd "$M" && pwd)
mkdir -p "$TMP/rel"; cp "$IMG/dog.jpg" "$IMG/kite.jpg" "$TMP/rel/"
R() { (cd "${RDIR:-$TMP/rel}" && timeout 60 "$ABIN" score -q --no-cache --model "$AM" --id-labels "$TMP/labels.txt" \
  --negatives "$TMP/neg.tsv" --ngroup 2 --strict "$@"); }
rel_want=$(printf '%s\n' "$want" | sed "s|$IMG/||")
check "relative names piped to --list /dev/stdin: the current folder's images" \
  test "$(printf 'dog.jpg\nkite.jpg\n' | R --list /dev/stdin)" = "$rel_want"
check "relative names in --list <(printf ...): the current folder's images" \
  test "$(R --list <(printf 'dog.jpg\nkite.jpg\n'))" = "$rel_want"
check "a relative name in a here-string on /dev/stdin: the current folder's image" \
  test "$(R dog.jpg --list /dev/stdin <<<'kite.jpg')" = "$rel_want"
printf 'dog.jpg\nkite.jpg\n' >"$TMP/rel/list.txt"
check "a list file's relative names are still its own folder's" \
  test "$(RDIR=/ R --list "$TMP/rel/list.txt" | sed "s|$TMP/rel/||")" = "$rel_want"
# A signal while a pipe's writer is silent stops the command at once: the
# CLI's handler has SA_RESTART, which restarts a blocking read(), so the
# wait used to go on until the writer closed. This shell holds the FIFO
# open read-write (a writer that never writes; no race with its open).
# SIGTERM to a background job: ended=yes when it ended within 5 s (else it
# is killed: ended=no), rc its exit status
term_and_wait() {
  kill -TERM "$1"
  for i in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$1" 2>/dev/null; then kill -KILL "$1"; ended=no; else ended=yes; fi
  wait "$1"; rc=$?
}
mkfifo "$TMP/silent.txt"
exec 7<>"$TMP/silent.txt"
"$BIN" score -q --no-cache --model "$M" --id-labels "$TMP/silent.txt" --method mcm "$IMG/dog.jpg" \
  >/dev/null 2>"$TMP/silent.err" &
pid=$!
sleep 1
term_and_wait $pid
exec 7>&-
check "SIGTERM while the labels' writer is silent: stopped within 5 s (ended=$ended rc=$rc)" \
  test "$ended" = yes -a "$rc" -eq 143
check "... saying so ($(tr '\n' ' ' <"$TMP/silent.err"))" grep -q "stopped by SIGTERM" "$TMP/silent.err"
# tokenize waiting for its next stdin line: SIGTERM ends it (143), the
# lines done are written; before, getline's read was restarted and the
# command waited until killed, its output unflushed.
mkfifo "$TMP/tok.fifo"
exec 8<>"$TMP/tok.fifo"
printf '{"text": "a photo"}\n' >&8
"$BIN" tokenize -q --model "$M" <"$TMP/tok.fifo" >"$TMP/tok.out" 2>"$TMP/tok.err" &
pid=$!
for i in $(seq 100); do [ -s "$TMP/tok.out" ] && break; sleep 0.1; done
term_and_wait $pid
exec 8>&-
check "SIGTERM while tokenize waits for a line: stopped within 5 s (ended=$ended rc=$rc)" \
  test "$ended" = yes -a "$rc" -eq 143
check "... the line before it written ($(cat "$TMP/tok.out"))" test "$(jq -c '.ids | length' "$TMP/tok.out")" = 4
printf '0.9\n0.8\n0.7\n' >"$TMP/id.txt"; printf '0.1\n0.75\n' >"$TMP/ood.txt"
want=$(T metrics --id-scores "$TMP/id.txt" --ood-scores "$TMP/ood.txt")
check "metrics of <(cat ...): the files' metrics" test -n "$want" -a "$(T metrics --id-scores <(cat "$TMP/id.txt") --ood-scores <(cat "$TMP/ood.txt"))" = "$want"
check "metrics of scores piped to /dev/stdin" test "$(cat "$TMP/ood.txt" | T metrics --id-scores "$TMP/id.txt" --ood-scores /dev/stdin)" = "$want"
expect_fail "'-' is no file: the message names /dev/stdin" "-: cannot open: No such file or directory \(standard input is /dev/stdin\)" \
  T metrics --id-scores "$TMP/id.txt" --ood-scores -
expect_fail "a folder as scores: neither a file nor a pipe" "$TMP/fifos: not a regular file or a pipe" \
  T metrics --id-scores "$TMP/id.txt" --ood-scores "$TMP/fifos"
# The same for a checkpoint: `convert` of a FIFO waited in libzip's open
# (and SIGTERM could not end it).
expect_fail "a FIFO as convert's checkpoint: refused, not waited for" "pipe.pt: not a regular file" \
  sh -c "mkfifo '$TMP/fifos/pipe.pt' && timeout -s KILL 20 '$BIN' convert '$TMP/fifos/pipe.pt' -o '$TMP/fifos/out'"
# A file name is any bytes: the control characters in one (an escape
# sequence that retitles or clears the terminal, a line break that forges a
# line) reached the terminal as they were, in warnings and errors; now '?'.
mkdir -p "$TMP/ctl"; cp "$IMG/dog.jpg" "$TMP/ctl/"
printf 'not an image' >"$TMP/ctl/$(printf 'x\033]0;owned\a\nneglabel: fake.jpg')"
S --list "$TMP/ctl" >/dev/null 2>"$TMP/ctl.err"
check "a warning shows no control character of a file name" sh -c "! LC_ALL=C grep -q '[[:cntrl:]]' '$TMP/ctl.err'"
check "... and stays one line" test "$(grep -c 'skipping unreadable image: .*x?]0;owned??neglabel: fake.jpg' "$TMP/ctl.err")" -eq 1
S --list "$TMP/ctl/$(printf 'gone\033[2J.lst')" >/dev/null 2>"$TMP/ctl2.err"
check "an error shows no control character of a file name" sh -c "grep -q 'gone?\[2J.lst' '$TMP/ctl2.err' && ! LC_ALL=C grep -q '[[:cntrl:]]' '$TMP/ctl2.err'"
# A list file naming an image whose name is not UTF-8 (Latin-1, as old
# archives hold): "invalid UTF-8" refused the whole list, though the same
# folder walked was scored; a file name is bytes.
mkdir -p "$TMP/latin"; cp "$IMG/dog.jpg" "$TMP/latin/"; cp "$IMG/eagle.jpg" "$TMP/latin/$(printf 'caf\xe9.jpg')"
printf 'caf\xe9.jpg\ndog.jpg\n' >"$TMP/latin/list.txt"
out=$(S --list "$TMP/latin/list.txt" 2>"$TMP/latin.err"); rc=$?
check "a list naming a Latin-1 file: scored (rc=$rc: $(cat "$TMP/latin.err"))" sh -c "[ $rc -eq 0 ] && [ $(printf '%s\n' "$out" | grep -c '\.jpg,') -eq 2 ]"

# --- an output that is also an input ------------------------------------
# mine -o onto its own labels file used to replace the labels with the
# negatives (after mining); now refused at once, the input untouched, also
# through a link or another spelling of the path.
cp "$TMP/labels.txt" "$TMP/lab2.txt"; ln -s lab2.txt "$TMP/lab2-link.txt"
want=$(sha256sum <"$TMP/lab2.txt")
expect_fail "mine -o onto its --id-labels" "output .*lab2.txt is also an input \('.*lab2.txt'\)" \
  T mine -q --no-cache --model "$M" --id-labels "$TMP/lab2.txt" --lists "$TMP/mini" -o "$TMP/lab2.txt"
expect_fail "mine -o through a link to its --id-labels" "is also an input" \
  T mine -q --no-cache --model "$M" --id-labels="$TMP/lab2.txt" --lists "$TMP/mini" -o "$TMP/lab2-link.txt"
expect_fail "mine --output=./x onto its --id-labels" "is also an input" \
  sh -c "cd '$TMP' && '$BIN' mine -q --no-cache --model '$M' --id-labels lab2.txt --lists mini --output=./lab2.txt"
check "the labels file is untouched" test "$(sha256sum <"$TMP/lab2.txt")" = "$want"
# one of the word lists --lists reads, named as the output: refused by name
# (the folder's other files, and lists' folders elsewhere, are not inputs)
mkdir -p "$TMP/lists2"; cp "$TMP/mini"/*.txt "$TMP/lists2/"
lst=$(cd "$TMP/lists2" && ls noun.*.txt | head -n 1); want=$(sha256sum <"$TMP/lists2/$lst")
expect_fail "corpus -o onto one of its --lists" "output .*lists2/$lst is one of the word lists read from --lists .*lists2" \
  T corpus -q --lists "$TMP/lists2" -o "$TMP/lists2/$lst"
expect_fail "mine -o onto one of its --lists=, spelt another way" "is one of the word lists" \
  T mine -q --no-cache --model "$M" --id-labels "$TMP/labels.txt" --lists="$TMP/lists2/" -o "$TMP/lists2/../lists2/$lst"
check "the word list is untouched" test "$(sha256sum <"$TMP/lists2/$lst")" = "$want"
# a new file under a word list's name there: the next run would read it as
# one (it was written: the check came after "does the output exist")
expect_fail "corpus -o a new adj.*.txt in its --lists" "is one of the word lists read from --lists" \
  T corpus -q --lists "$TMP/lists2" -o "$TMP/lists2/adj.new.txt"
check "... not written" test ! -e "$TMP/lists2/adj.new.txt"
# a bad template is refused before the model loads (it was found after
# the nouns' embedding: ~57,000 prompts with WordNet)
T mine --no-cache --model "$M" --id-labels "$TMP/labels.txt" --lists "$TMP/mini" --adj-template bad \
  -o "$TMP/badt.tsv" >/dev/null 2>"$TMP/badt.err"; rc=$?
check "mine --adj-template without {}: refused (rc=$rc) before any embedding ($(tr '\n' ' ' <"$TMP/badt.err"))" \
  sh -c "[ $rc -eq 1 ] && grep -q \"prompt template 'bad' has no '{}' placeholder\" '$TMP/badt.err' && ! grep -q 'model on\|embedding' '$TMP/badt.err'"
# score --list is repeatable, as embed's (the last one was the only one
# read, the others silently dropped); eval --id given twice is refused
printf '%s\n' "$IMG/dog.jpg" >"$TMP/l1.lst"; printf '%s\n' "$IMG/eagle.jpg" >"$TMP/l2.lst"
out=$(T score -q --no-cache --model "$M" --id-labels "$TMP/labels.txt" --method mcm --list "$TMP/l1.lst" --list "$TMP/l2.lst")
check "score --list A --list B: both lists' images ($(echo "$out" | tr '\n' ' '))" \
  sh -c "[ \"$(printf '%s\n' "$out" | tail -n +2 | cut -d, -f1 | xargs -n1 basename | tr '\n' ' ')\" = 'dog.jpg eagle.jpg ' ]"
expect_fail "eval --id twice" "--id given twice" \
  T eval --model "$M" --id-labels "$TMP/labels.txt" --id "$TMP/l1.lst" --id "$TMP/l2.lst" --ood "x=$TMP/l2.lst"
# -o given twice is not an input; a command without -o refuses it as an
# unknown option (both were "the output ... is also an input")
T preprocess -q "$IMG/dog.jpg" -o "$TMP/twice.raw"
T preprocess -q "$IMG/dog.jpg" -o "$TMP/twice.raw" -o "$TMP/twice.raw"; rc=$?
check "preprocess -o X -o X onto an existing X (rc=$rc)" test $rc -eq 0
printf '0.5\n0.25\n' >"$TMP/ids-o.txt"
expect_fail "metrics -o: an unknown option" "unknown option '-o'" \
  T metrics --id-scores "$TMP/ids-o.txt" --ood-scores "$TMP/ids-o.txt" -o "$TMP/ids-o.txt"
# embed -o is checked before the model loads, as mine's and preprocess's
expect_fail "embed -o a folder" "cannot write $TMP: it is a folder" T embed --model "$M" --text x -o "$TMP"
expect_fail "embed -o into a missing folder" "the folder $TMP/nope does not exist" \
  T embed --model "$M" --text x -o "$TMP/nope/x.npy"
T corpus -q --lists "$TMP/lists2" -o "$TMP/lists2/corpus.tsv"; rc=$?
check "corpus -o beside its lists, under another name (rc=$rc)" test $rc -eq 0 -a -s "$TMP/lists2/corpus.tsv"
cp "$TMP/lists2/$lst" "$TMP/$lst"
T corpus -q --lists "$TMP/lists2" -o "$TMP/$lst"; rc=$?
check "corpus -o onto a list's name in another folder (rc=$rc)" test $rc -eq 0
cp "$IMG/dog.jpg" "$TMP/dog2.jpg"
expect_fail "preprocess IMAGE -o IMAGE" "is also an input" T preprocess "$TMP/dog2.jpg" -o "$TMP/dog2.jpg"
check "the image is untouched" cmp -s "$IMG/dog.jpg" "$TMP/dog2.jpg"
T preprocess "$TMP/dog2.jpg" -o "$TMP/dog2.rgb"; rc=$?
check "preprocess to another file still works (rc=$rc)" test $rc -eq 0 -a "$(wc -c <"$TMP/dog2.rgb")" -eq $((224 * 224 * 3))

# -o into a folder that does not exist, or a file where the folder should
# be: refused before the command starts (mine used to fail only after
# mining); the lists given do not exist either, and the output is named first
expect_fail "mine -o into a missing folder, before mining" "cannot write .*/nodir/neg.tsv: the folder .*/nodir does not exist" \
  T mine -q --no-cache --model "$M" --id-labels "$TMP/labels.txt" --lists "$TMP/no-such-lists" -o "$TMP/nodir/neg.tsv"
expect_fail "corpus -o under a file" "the folder .*/labels.txt is not a folder" \
  T corpus -q --lists "$TMP/no-such-lists" -o "$TMP/labels.txt/c.tsv"
ln -s "$TMP/nodir/x.tsv" "$TMP/dangling-into-nodir"
expect_fail "a link into a missing folder: the library names the dangling link" "dangling" \
  T corpus -q --lists "$TMP/mini" -o "$TMP/dangling-into-nodir"
(cd "$TMP" && "$BIN" corpus -q --lists mini -o rel.tsv); rc=$?
check "a relative -o in the current folder (rc=$rc)" test $rc -eq 0 -a -s "$TMP/rel.tsv"

# a link to a device whose folder the user cannot write (/dev/stdout sent
# to /dev/null, as any user): written in place, so the folder does not
# matter (a first version of the check above refused it); root ignores
# permissions, so this runs as nobody where root can drop to it
if [ "$(id -u)" -ne 0 ]; then
  "$BIN" preprocess "$IMG/exact-224.png" -o /dev/stdout >/dev/null; rc=$?
  check "-o /dev/stdout sent to /dev/null (rc=$rc)" test $rc -eq 0
elif setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
  cp "$IMG/exact-224.png" "$TMP/e224.png"; chmod 755 "$TMP"; chmod 644 "$TMP/e224.png"
  # setpriv execs the binary itself, as cli_hub.sh does (its exec still
  # reaches a binary that nobody cannot; the program then runs as nobody,
  # without capabilities): through 'sh -c', nobody's shell had to reach it,
  # and a build tree nobody cannot enter (a checkout under /root, mode 700,
  # CI as root) failed this with rc 126. fd 1 is /dev/null either way.
  setpriv --reuid=65534 --regid=65534 --clear-groups -- "$BIN" preprocess "$TMP/e224.png" -o /dev/stdout >/dev/null
  rc=$?
  check "-o /dev/stdout sent to /dev/null, as nobody (rc=$rc)" test $rc -eq 0
else
  partial_skip "cannot drop root to check -o /dev/stdout as another user"
fi

# --- outputs that are not plain files -----------------------------------
nl corpus -q --lists "$TMP/mini" -o "$TMP/corpus.tsv"
# a link to a file: the file gets the output, the link stays
: >"$TMP/real.tsv"; ln -s real.tsv "$TMP/link.tsv"
nl corpus -q --lists "$TMP/mini" -o "$TMP/link.tsv"
check "-o LINK: still a link" test -L "$TMP/link.tsv"
check "-o LINK: its target written" cmp -s "$TMP/real.tsv" "$TMP/corpus.tsv"
check "-o LINK: no temp file left" test -z "$(ls "$TMP" | grep '\.tmp\.')"
# a FIFO: written through, not replaced by a file
mkfifo "$TMP/fifo"
timeout 30 cat "$TMP/fifo" >"$TMP/fifo.out" & # bounded: a FIFO replaced by a file never opens
reader=$!
timeout 30 "$BIN" corpus -q --lists "$TMP/mini" -o "$TMP/fifo"; rc=$?
wait $reader
check "-o FIFO: rc 0 (rc=$rc)" test $rc -eq 0
check "-o FIFO: still a FIFO" test -p "$TMP/fifo"
check "-o FIFO: the reader got the corpus" cmp -s "$TMP/fifo.out" "$TMP/corpus.tsv"
# a link to the process's standard output, as /dev/stdout is (our own link:
# were it replaced, as root would replace /dev/stdout, the machine's stays)
ln -s /proc/self/fd/1 "$TMP/stdout"
n=$(nl corpus -q --lists "$TMP/mini" -o "$TMP/stdout" | wc -l)
check "-o a link to stdout: $n lines through the pipe" test "$n" -eq "$(wc -l <"$TMP/corpus.tsv")"
check "-o a link to stdout: still a link" test -L "$TMP/stdout"
ln -s "$TMP/missing/x.tsv" "$TMP/dangling.tsv"
expect_fail "-o to a dangling link" "dangling.tsv.*symbolic link to a missing file" \
  T corpus -q --lists "$TMP/mini" -o "$TMP/dangling.tsv"

# --- empty paths ---------------------------------------------------------
# a folder without images: the message names every extension the walk takes
# (it left out .jpe and .jfif, which README lists and the walk finds)
mkdir -p "$TMP/noimg"; : >"$TMP/noimg/notes.txt"
expect_fail "a folder without images: the extensions looked for" "no images found \(looked for \.jpg, \.jpeg, \.jpe, \.jfif, " \
  S "$TMP/noimg"
expect_fail "--cache ''" "empty name" \
  T score -q --cache '' --model "$M" --id-labels "$TMP/labels.txt" --negatives "$TMP/neg.tsv" "$IMG/dog.jpg"
expect_fail "eval --out ''" "empty name" \
  T eval -q --no-cache --model "$M" --id-labels "$TMP/labels.txt" --negatives "$TMP/neg.tsv" --id "$IMG" \
  --ood o="$IMG" --out ''
# -o '': refused before the work (it failed at the rename, after mining)
for o in "-o " "--output="; do
  expect_fail "mine ${o}'': refused before mining" "-o: an empty name" \
    T mine -q --no-cache --model "$M" --id-labels "$TMP/labels.txt" --lists "$TMP/mini" $o''
done
expect_fail "preprocess -o ''" "-o: an empty name" T preprocess "$IMG/dog.jpg" -o ''

# --- TABs and truncation in word lists and negatives files ---------------
mkdir -p "$TMP/tabs"; cp "$TMP/mini/"* "$TMP/tabs/"; printf 'tab\tword\n' >>"$TMP/tabs/noun.artifact.txt"
expect_fail "a TAB inside a word" "noun.artifact.txt: line 201: a TAB" T corpus -q --lists "$TMP/tabs" -o "$TMP/t.tsv"
expect_fail "a TAB inside a template" "template.*TAB" \
  T mine -q --no-cache --model "$M" --id-labels "$TMP/labels.txt" --lists "$TMP/mini" --template "$(printf 'a\t{}')" -o "$TMP/t.tsv"
check "no file left by the failed mine" test ! -e "$TMP/t.tsv"
head -n 20 "$TMP/neg.tsv" >"$TMP/cut.tsv"
expect_fail "a negatives file cut at a line" "cut.tsv: 19 entries, but the header says count=" \
  T score -q --no-cache --model "$M" --id-labels "$TMP/labels.txt" --negatives "$TMP/cut.tsv" "$IMG/dog.jpg"
for d in -5 12x 99999999999; do
  sed "1s/dim=[0-9]*/dim=$d/" "$TMP/neg.tsv" >"$TMP/baddim.tsv"
  expect_fail "a negatives header with dim=$d" "baddim.tsv: header: dim '$d' is not an embedding size" \
    T score -q --no-cache --model "$M" --id-labels "$TMP/labels.txt" --negatives "$TMP/baddim.tsv" "$IMG/dog.jpg"
done
head -c 3000 "$TMP/neg.tsv" >"$TMP/cut2.tsv"; printf 'noun\n' >>"$TMP/cut2.tsv"
expect_fail "a negatives line without TABs" "cut2.tsv: entry [0-9]+: 'noun' has no TAB" \
  T score -q --no-cache --model "$M" --id-labels "$TMP/labels.txt" --negatives "$TMP/cut2.tsv" "$IMG/dog.jpg"

# --- eval: set names ------------------------------------------------------
mkdir -p "$TMP/id" "$TMP/ood"; cp "$IMG/dog.jpg" "$TMP/id/"; cp "$IMG/eagle.jpg" "$TMP/ood/"
E() { T eval -q --no-cache --model "$M" --id-labels "$TMP/labels.txt" --negatives "$TMP/neg.tsv" --id "$TMP/id" \
  --out "$TMP/ev" "$@"; }
expect_fail "an OOD set named ID" "OOD set 'ID': the name ID is the ID set's" E --ood ID="$TMP/ood"
expect_fail "two OOD sets of one name" "OOD set 'a' given twice" E --ood a="$TMP/ood" --ood a="$TMP/ood"

# --- options and the environment -----------------------------------------
got=$(nl embed -q --model "$M" --text -q | jq -r .input)
check "embed --text -q: the text is '-q' (got '$got')" test "$got" = "-q"
got=$(nl embed -q --model "$M" --text --device | jq -r .input)
check "embed --text --device: the text is '--device' (got '$got')" test "$got" = "--device"
# a value "--model" is not the option: the default model is still put in
# (it once counted as --model given, and the command said --model was missing)
expect_fail "embed --text --model: the text '--model', the default model" "openai/clip-vit-base-patch16: no such folder" \
  env HF_HUB_OFFLINE=1 HF_HUB_CACHE="$TMP/hf" HF_HOME="$TMP/hf" HF_ENDPOINT=http://127.0.0.1:9 "$BIN" embed -q --text --model
check "NEGLABEL_DEVICE overridden by --device" sh -c "NEGLABEL_DEVICE=bogus '$BIN' --device cpu --version >/dev/null"
check "NEGLABEL_PRECISION overridden by --precision" \
  sh -c "NEGLABEL_PRECISION=fp64 '$BIN' --precision fp32 --version >/dev/null"
expect_fail "a bad NEGLABEL_DEVICE, not overridden" "NEGLABEL_DEVICE.*bogus" env NEGLABEL_DEVICE=bogus "$BIN" info --model "$M"
expect_fail "a bad NEGLABEL_PRECISION, not overridden" "NEGLABEL_PRECISION.*fp64" \
  env NEGLABEL_PRECISION=fp64 "$BIN" embed --model "$M" --text x
# read only by the commands they act on (a bad one failed --version, help,
# and preprocess, which takes --device without effect)
check "a bad NEGLABEL_DEVICE: --version still runs" sh -c "NEGLABEL_DEVICE=bogus '$BIN' --version >/dev/null"
check "... and preprocess" sh -c "NEGLABEL_DEVICE=bogus NEGLABEL_PRECISION=fp64 '$BIN' preprocess -q '$IMG/dog.jpg' -o '$TMP/env-pre.raw'"
# a thread count in the environment that is not one (0 used to be ignored
# silently, 4x taken as 4): one warning, all cores used; a good one is quiet
for v in 0 4x abc 2000; do
  NEGLABEL_THREADS=$v "$BIN" info --model "$M" >/dev/null 2>"$TMP/thr.err"; rc=$?
  check "NEGLABEL_THREADS=$v: runs (rc=$rc) with one warning" \
    test $rc -eq 0 -a "$(grep -c "NEGLABEL_THREADS='$v' is not a thread count from 1 to 1024: ignored" "$TMP/thr.err")" -eq 1
done
# (OMP_NUM_THREADS is read only without NEGLABEL_THREADS: one set by the
# caller would hide the warning, or make the quiet checks pass unread)
env -u NEGLABEL_THREADS OMP_NUM_THREADS=0 "$BIN" info --model "$M" >/dev/null 2>"$TMP/thr.err"
check "OMP_NUM_THREADS=0: named in the warning" grep -q "OMP_NUM_THREADS='0' is not a thread count" "$TMP/thr.err"
for v in 2 "2,1" " 2 "; do
  env -u NEGLABEL_THREADS OMP_NUM_THREADS="$v" "$BIN" info --model "$M" >/dev/null 2>"$TMP/thr.err"
  check "OMP_NUM_THREADS='$v': no warning" test "$(grep -c 'thread count' "$TMP/thr.err")" -eq 0
done
# a bad NEGLABEL_THREADS falls back to OMP_NUM_THREADS, as documented (it
# used to skip it: all cores)
NEGLABEL_THREADS=0 OMP_NUM_THREADS=1 "$BIN" info --model "$M" 2>"$TMP/thr.err" >"$TMP/thr.json"
check "NEGLABEL_THREADS=0 OMP_NUM_THREADS=1: one thread" test "$(jq .threads "$TMP/thr.json")" = 1
check "... and said" grep -q "NEGLABEL_THREADS='0' is not a thread count from 1 to 1024: ignored (OMP_NUM_THREADS read instead)" "$TMP/thr.err"
NEGLABEL_THREADS="3 " "$BIN" info --model "$M" >/dev/null 2>"$TMP/thr.err"
check "NEGLABEL_THREADS='3 ': no warning" test "$(grep -c 'thread count' "$TMP/thr.err")" -eq 0
for s in 99999999999999999999999 18446744073709551616 ' 1' '+1' -1; do
  expect_fail "--seed '$s'" "--seed expects an integer" S --seed "$s" "$IMG/dog.jpg"
done
check "--seed 18446744073709551615 (the largest) is taken" test -n "$(S --seed 18446744073709551615 "$IMG/dog.jpg")"
expect_fail "eval --method: a list past 255 characters" "a list of 283 characters" \
  T eval --method "$(printf 'mcm,%.0s' $(seq 70))csp"
expect_fail "eval --method ','" "no method in ','" T eval --method ,
# a bad value of a command's own option names the command, as every other
# message does ("neglabel: --seed ..." did not say which command)
for a in "score --seed -1" "eval --method bogus" "mine --max-cut 9" "score-embeddings --tau 0" "eval --adaneg-gap 2"; do
  out=$("$BIN" $a 2>&1)
  check "'$a': the command named ($out)" sh -c 'printf "%s" "$1" | grep -qE -- "$2"' _ "$out" "^neglabel ${a%% *}: --"
done
# --fraction and --quantile out of range are usage errors (exit 2) before
# any work, as --total and --max-cut are (before: exit 1, from the library)
for a in "--fraction 2" "--fraction 0" "--quantile 1.5" "--quantile -0.1"; do
  out=$("$BIN" mine --id-labels /nonexistent $a -o "$TMP/never.tsv" 2>&1); rc=$?
  check "mine $a: usage error, exit 2 (rc $rc: $out)" sh -c 'test "$1" -eq 2 && printf "%s" "$2" | grep -qE -- "^neglabel mine: ${3%% *} expects a number in"' _ "$rc" "$out" "$a"
done
# --oodd-k past --oodd-queue is a usage error (exit 2) before any work, as
# the range errors of the other stream options are (before: exit 1, from the
# library, after the images were embedded)
for c in "score --model $TMP/none --id-labels /nonexistent $IMG/dog.jpg" "eval --model $TMP/none --id-labels /nonexistent --id x --ood a=b" \
    "score-embeddings --id /nonexistent --images /nonexistent --method oodd"; do
  out=$("$BIN" $c --oodd-queue 24 --oodd-k 25 2>&1); rc=$?
  check "${c%% *} --oodd-k 25 --oodd-queue 24: usage error, exit 2 (rc $rc: $out)" sh -c 'test "$1" -eq 2 && printf "%s" "$2" | grep -q -- "^neglabel $3: --oodd-k 25 is past the queue.s 24 images"' _ "$rc" "$out" "${c%% *}"
done
out=$("$BIN" score-embeddings --oodd-k 3000 --method oodd 2>&1); rc=$?
check "--oodd-k 3000 past the default queue (2048): exit 2 (rc $rc: $out)" sh -c 'test "$1" -eq 2 && printf "%s" "$2" | grep -q -- "--oodd-k 3000 is past the queue.s 2048 images"' _ "$rc" "$out"
# a missing required option is named, not the default --model with it
check "mine without --id-labels: names it alone" sh -c '"$1" mine -o "$2" 2>&1 | grep -qx "neglabel mine: --id-labels is required"' _ "$BIN" "$TMP/never.tsv"
check "eval without --id-labels and --ood: names both" sh -c '"$1" eval --id "$2" 2>&1 | grep -qx "neglabel eval: --id-labels and at least one --ood NAME=DIR|LIST are required"' _ "$BIN" "$TMP"
out=$("$BIN" --threads abc info 2>&1)
check "an error in a common option names the command once ($out)" test "$out" = \
  "neglabel info: --threads expects an integer in [1, 1024], got 'abc'"
python3 - "$TMP" <<'PY'
import struct, sys
def npy(path, rows, cols):  # float32 C-order .npy, version 1.0
    hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, cols)
    hdr += " " * (63 - (len(hdr) + 10) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
        f.write(struct.pack("<%df" % (rows * cols), *([1.0] * (rows * cols))))
npy(sys.argv[1] + "/id.npy", 2, 4); npy(sys.argv[1] + "/neg.npy", 3, 4); npy(sys.argv[1] + "/img.npy", 1, 5)
PY
out=$("$BIN" score-embeddings --id "$TMP/id.npy" --neg "$TMP/neg.npy" --images "$TMP/img.npy" --ngroup 1 2>&1)
check "score-embeddings: the dimensions named on one line ($out)" test "$(printf '%s\n' "$out" | wc -l)" -eq 1 -a \
  -n "$(printf '%s' "$out" | grep 'id.npy has 4 columns, .*neg.npy 4, .*img.npy 5')"
expect_fail "preprocess --resample model" "needs a model" T preprocess --resample model "$IMG/dog.jpg" -o "$TMP/x.rgb"
# MCM uses no negatives: a --negatives file is not read (nor embedded)
out=$(T score -q --no-cache --model "$M" --id-labels "$TMP/labels.txt" --negatives "$TMP/no-such-neg.tsv" --method mcm "$IMG/dog.jpg" 2>&1 >"$TMP/mcm.csv"); rc=$?
check "score --method mcm --negatives: ignored with a warning (rc $rc: $out)" sh -c 'test "$1" -eq 0 && printf "%s" "$2" | grep -q "warning: --negatives is not used by --method mcm" && test "$(wc -l <"$3")" -eq 2' _ "$rc" "$out" "$TMP/mcm.csv"
printf 'cat\ncat\n' >"$TMP/dup.txt"
expect_fail "duplicate labels under --strict" "duplicate ID label 'cat'.*cannot be told apart" \
  T score -q --no-cache --model "$M" --id-labels "$TMP/dup.txt" --negatives "$TMP/neg.tsv" --strict --method mcm "$IMG/dog.jpg"

# --- parameters that fail: before the expensive work, not after ----------
# (each used to be reported after every image or the whole corpus was
# embedded: here the unreadable image's warning, or the missing list folder,
# shows whether that work ran first)
printf 'junk' >"$TMP/junk.jpg"
has() { printf '%s' "$1" | grep -qE -- "$2"; }
lacks() { ! has "$@"; }
out=$(S --ngroup 100000 "$TMP/junk.jpg" "$IMG/dog.jpg" 2>&1); rc=$?
check "score --ngroup above the negatives: rc 1 (rc=$rc)" test $rc -eq 1
check "score --ngroup above the negatives: named ($out)" has "$out" 'ngroup 100000 outside'
check "score --ngroup above the negatives: before the images" lacks "$out" 'junk.jpg'
# an output that is the wrong kind of file: refused before the work (the
# model path does not exist, so getting to it would say so)
mkdir -p "$TMP/outdir"; : >"$TMP/afile"
expect_fail "mine -o an existing folder: refused first" "cannot write .*outdir: it is a folder" \
  T mine --model "$TMP/no-model" --id-labels "$TMP/labels.txt" --lists "$TMP/mini" -o "$TMP/outdir"
expect_fail "corpus -o an existing folder: refused first" "cannot write .*outdir: it is a folder" \
  T corpus --lists "$TMP/no-lists" -o "$TMP/outdir"
expect_fail "eval --out an existing file: refused before the model" "afile: cannot create directory: a file of that name exists" \
  T eval -q --model "$TMP/no-model" --id-labels "$TMP/labels.txt" --negatives "$TMP/neg.tsv" --id "$IMG" --ood x="$IMG" --out "$TMP/afile"
expect_fail "eval --out below a file" "afile: cannot create directory: Not a directory|afile/sub: cannot create directory" \
  T eval -q --model "$TMP/no-model" --id-labels "$TMP/labels.txt" --negatives "$TMP/neg.tsv" --id "$IMG" --ood x="$IMG" --out "$TMP/afile/sub"
check "score --ngroup above the negatives: the command named once" has "$out" '^neglabel score: ngroup 100000 outside'
# ... but a file spelt as the command keeps its name in the message (that
# "CMD: " start was taken off too: "neglabel metrics: cannot open: ...", which file?)
mkdir -p "$TMP/cwd"; : >"$TMP/cwd/metrics"; printf '1\n' >"$TMP/cwd/one.txt"
expect_fail "metrics --id-scores metrics: the file named" "^neglabel metrics: metrics: no scores in the file" \
  sh -c "cd '$TMP/cwd' && '$BIN' metrics --id-scores metrics --ood-scores one.txt"
expect_fail "metrics --ood-scores=metrics: the file named" "^neglabel metrics: metrics: no scores in the file" \
  sh -c "cd '$TMP/cwd' && '$BIN' metrics --id-scores one.txt --ood-scores=metrics"
expect_fail "score --id-labels score: the file named" "^neglabel score: score: cannot open" \
  sh -c "cd '$TMP/cwd' && '$BIN' score -q --model '$M' --id-labels score --method mcm '$IMG/dog.jpg'"
out=$(S --method oodd --oodd-queue 10 --oodd-k 100 "$TMP/junk.jpg" "$IMG/dog.jpg" 2>&1)
check "score --oodd-k above the queue: named ($out)" has "$out" 'oodd'
check "score --oodd-k above the queue: before the images" lacks "$out" 'junk.jpg'
for f in 2 0 inf; do
  expect_fail "mine --fraction $f, before the corpus" "fraction expects a number in \\(0, 1\\]" \
    T mine -q --no-cache --model "$M" --id-labels "$TMP/labels.txt" --lists "$TMP/no-such-lists" --fraction $f -o "$TMP/f.tsv"
done
expect_fail "mine --quantile 2, before the corpus" "quantile expects a number in \\[0, 1\\], got '2'" \
  T mine -q --no-cache --model "$M" --id-labels "$TMP/labels.txt" --lists "$TMP/no-such-lists" --quantile 2 -o "$TMP/f.tsv"
expect_fail "mine --template with a TAB, before the corpus" "template 'a.\{\}' holds a TAB" \
  T mine -q --no-cache --model "$M" --id-labels "$TMP/labels.txt" --lists "$TMP/no-such-lists" \
  --template "$(printf 'a\t{}')" -o "$TMP/f.tsv"

# --- "--": the end of the options ------------------------------------------
# What follows "--" is an operand even when it starts with '-': an image
# named "-x.jpg", a file named "--quiet"; --help there is no request for help.
mkdir -p "$TMP/dash"; cp "$IMG/dog.jpg" "$TMP/dash/-x.jpg"; cp "$IMG/dog.jpg" "$TMP/dash/--quiet"
a=$(cd "$TMP/dash" && S -- -x.jpg --quiet 2>"$TMP/dash.err"); rc=$?
b=$(cd "$TMP/dash" && S ./-x.jpg ./--quiet 2>/dev/null)
check "score -- -x.jpg --quiet: both scored (rc=$rc: $(cat "$TMP/dash.err"))" test $rc -eq 0 -a \
  "$(printf '%s\n' "$a" | tail -n +2 | cut -d, -f1 | tr '\n' ' ')" = "-x.jpg --quiet "
check "score -- -x.jpg: the scores of ./-x.jpg" test "$(printf '%s\n' "$a" | cut -d, -f2-)" = "$(printf '%s\n' "$b" | cut -d, -f2-)"
expect_fail "score -- --help: an image, not help" "--help" sh -c "cd '$TMP/dash' && '$BIN' score -q --no-cache --model '$M' --id-labels '$TMP/labels.txt' --negatives '$TMP/neg.tsv' --ngroup 2 -- --help"
expect_fail "score -x.jpg without --: still an unknown option" "unknown option '-x.jpg'" \
  sh -c "cd '$TMP/dash' && '$BIN' score -q --no-cache --model '$M' --id-labels '$TMP/labels.txt' -x.jpg"
(cd "$TMP/dash" && nl preprocess --size 32 -o "$TMP/dash/a.rgb" -- -x.jpg && nl preprocess --size 32 -o "$TMP/dash/b.rgb" ./-x.jpg)
check "preprocess -- -x.jpg: the pixels of ./-x.jpg" cmp -s "$TMP/dash/a.rgb" "$TMP/dash/b.rgb"
expect_fail "preprocess: -o after -- is an operand" "one IMAGE at a time" sh -c "cd '$TMP/dash' && '$BIN' preprocess -- -x.jpg -o x.rgb"
cp "$SRC/tests/data/torchscript/vit_sd.pt" "$TMP/dash/-v.pt"
(cd "$TMP/dash" && nl -q convert -o "$TMP/dash/v1" -- -v.pt && nl -q convert -o "$TMP/dash/v2" ./-v.pt)
check "convert -- -v.pt: the file ./-v.pt gives" cmp -s "$TMP/dash/v1/open_clip_model.safetensors" "$TMP/dash/v2/open_clip_model.safetensors"

# --- standard input and output -------------------------------------------
# SIGTERM (and Ctrl-C) stop tokenize after the current line, ending as the
# signal would: it said "stopping" and read on to the end of its input,
# exit status 0 (here it would wait on a quiet pipe: killed after 20 s)
mkfifo "$TMP/tokin"
( printf '{"text":"one"}\n'; while [ ! -e "$TMP/tok.sent" ]; do sleep 0.1; done
  printf '{"text":"two"}\n'; exec sleep 60 ) >"$TMP/tokin" & prod=$!
"$BIN" tokenize --model "$M" <"$TMP/tokin" >"$TMP/tok.out" 2>"$TMP/tok.err" & tp=$!
for i in $(seq 300); do grep -q 'model on' "$TMP/tok.err" && break; sleep 0.1; done
sleep 0.5
kill -TERM $tp; : >"$TMP/tok.sent"
( sleep 20; kill -KILL $tp 2>/dev/null ) & guard=$!
wait $tp; rc=$?
kill $guard $prod 2>/dev/null; wait $guard $prod 2>/dev/null
check "tokenize stopped by SIGTERM: ends as the signal would (status $rc, want 143)" test $rc -eq 143
check "tokenize stopped by SIGTERM: says so" grep -q 'stopped by SIGTERM' "$TMP/tok.err"
check "tokenize stopped by SIGTERM: the line after it not read" sh -c "! grep -q '\"two\"' '$TMP/tok.out'"
expect_fail "tokenize from a folder as stdin" "reading standard input" sh -c "'$BIN' tokenize -q --model '$M' <'$TMP'"
# a byte-order mark before the first line and lines of blanks used to be
# errors ("expected a JSON object"); now the BOM is dropped, blanks skipped
printf '\xEF\xBB\xBF{"text":"a dog"}\n   \n\t\r\n{"text":"a cat"}\n' >"$TMP/bom.jsonl"
nl tokenize -q --model "$M" <"$TMP/bom.jsonl" >"$TMP/bom.out" 2>"$TMP/bom.err"; rc=$?
check "tokenize: BOM and blank lines (rc=$rc: $(head -c 200 "$TMP/bom.err"))" test $rc -eq 0
check "tokenize: the two texts, in order" test "$(jq -r .text "$TMP/bom.out" | tr '\n' ,)" = "a dog,a cat,"
printf '{"text":"x"}\n\xEF\xBB\xBF{"text":"y"}\n' | nl tokenize -q --model "$M" >/dev/null 2>"$TMP/bom2.err"; rc=$?
check "tokenize: a BOM on a later line is still an error, naming line 2 (rc=$rc)" \
  sh -c "test $rc -eq 1 && grep -q 'line 2' '$TMP/bom2.err'"
if [ -w /dev/full ]; then
  expect_fail "help to a full disk" "error writing standard output" sh -c "'$BIN' help >/dev/full"
  expect_fail "score --help to a full disk" "error writing standard output" sh -c "'$BIN' score --help >/dev/full"
else
  partial_skip "/dev/full is not writable here: help to a full disk was not checked"
fi
# a path that is not UTF-8: shown with U+FFFD, not dropped
bad=$(printf 'bad\377.jpg'); cp "$IMG/dog.jpg" "$TMP/$bad"
got=$(nl embed -q --model "$M" --image "$TMP/$bad" | jq -r .input)
check "a non-UTF-8 path in embed's output (got '$got')" test "$got" = "$TMP/bad$(printf '\357\277\275').jpg"

# --- a model whose forward pass overflows ---------------------------------
# Finite weights so large that the image embedding is inf (as fp16 can
# overflow on a GPU): embed wrote "inf", which is not JSON (jq failed), and
# score gave the NaN scores the first ID and negative labels (an argmax over
# NaN). Now embed writes null and warns; score leaves the labels empty and
# warns.
mkdir -p "$TMP/big"
cp "$M"/*.json "$M"/merges.txt "$TMP/big/"
python3 - "$M/model.safetensors" "$TMP/big/model.safetensors" <<'PY'
import array, json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
a, e = h["visual_projection.weight"]["data_offsets"]
w = array.array("f", [3e38]) * ((e - a) // 4)
d = bytearray(b[8 + n:])
d[a:e] = w.tobytes()
open(sys.argv[2], "wb").write(b[:8 + n] + bytes(d))
PY
nl embed --model "$TMP/big" --image "$IMG/dog.jpg" --text "a dog" >"$TMP/big.jsonl" 2>"$TMP/big.err"
check "an overflowed embedding: valid JSON, null values"   test "$(jq -c '[.kind, (.embedding | map(select(. == null)) | length) > 0]' "$TMP/big.jsonl" | tr -d '\n')" = '["image",true]["text",false]'
check "an overflowed embedding: a warning naming the image" grep -q 'embedding of image ".*dog.jpg" is not finite' "$TMP/big.err"
# embed -o FILE.npy: a .npy cannot carry it to score-embeddings (which refuses
# non-finite values): refused naming the input, nothing written
expect_fail "an overflowed embedding to .npy: refused, naming the image" "big.npy: the embedding of image '.*dog.jpg' is not finite" \
  nl embed -q --model "$TMP/big" --text "a dog" --image "$IMG/dog.jpg" -o "$TMP/big.npy"
check "... and no big.npy" test ! -e "$TMP/big.npy"
printf 'a photo of a car.\na photo of a tree.\na photo of a house.\n' >"$TMP/big-neg.txt" # a plain list: no fingerprint
T score --no-cache --model "$TMP/big" --id-labels "$TMP/labels.txt" --negatives "$TMP/big-neg.txt" --ngroup 1 \
  "$IMG/dog.jpg" "$IMG/eagle.jpg" >"$TMP/big.csv" 2>"$TMP/big.err"
check "an overflowed model: NaN scores without labels" \
  test "$(tail -n +2 "$TMP/big.csv" | cut -d, -f2- | sed 's/^-//' | sort -u)" = "nan,,"
check "an overflowed model: a warning" grep -q "2 of 2 images have a NaN score" "$TMP/big.err"
expect_fail "metrics on those NaN rows: the message says where they come from" \
  "big.csv: line 2: '-?nan' is not a finite number \(a NaN score: .neglabel score. writes one" \
  nl metrics --id-scores "$TMP/big.csv" --ood-scores "$TMP/big.csv"
# eval leaves such images out like unreadable ones (--strict: an error);
# with none left, a clear error. Before: their top labels were read at index
# SIZE_MAX (ASan: heap-buffer-overflow in set_score), then the metrics failed.
printf '%s\n' "$IMG/dog.jpg" "$IMG/eagle.jpg" >"$TMP/big-id.lst"
printf '%s\n' "$IMG/dog.jpg" >"$TMP/big-ood.lst"
for meth in mcm neglabel; do
  expect_fail "eval $meth, every embedding overflowed: a clear error" \
    "ID: none of the 2 images has a finite embedding \(the model's forward pass overflowed" \
    nl eval --no-cache --model "$TMP/big" --method $meth --id-labels "$TMP/labels.txt" --negatives "$TMP/big-neg.txt" \
      --ngroup 1 --id "$TMP/big-id.lst" --ood "x=$TMP/big-ood.lst" --out "$TMP/big-eval"
done
nl eval --no-cache --model "$TMP/big" --id-labels "$TMP/labels.txt" --negatives "$TMP/big-neg.txt" --ngroup 1 \
  --id "$TMP/big-id.lst" --ood "x=$TMP/big-ood.lst" >/dev/null 2>"$TMP/big.err"
check "... each image named in a warning" test "$(grep -c "skipping .*: its embedding is not finite" "$TMP/big.err")" = 2
expect_fail "eval --strict: the first such image is the error" "dog.jpg is not finite .*--strict" \
  nl eval --no-cache --strict --model "$TMP/big" --id-labels "$TMP/labels.txt" --negatives "$TMP/big-neg.txt" \
    --ngroup 1 --id "$TMP/big-id.lst" --ood "x=$TMP/big-ood.lst"

# --- image lists: comment lines ---------------------------------------------
# A line beginning with # is a comment; one naming an existing file used to
# vanish without a word. Now it is warned about, and ./#name lists it.
mkdir -p "$TMP/hash"
cp "$IMG/dog.jpg" "$TMP/hash/#1.jpg"; cp "$IMG/dog.jpg" "$TMP/hash/b.jpg"
printf '#1.jpg\n# a comment\nb.jpg\n' >"$TMP/hash/l.lst"
S --list "$TMP/hash/l.lst" >"$TMP/hash.csv" 2>"$TMP/hash.err"
check "a comment line naming a file: warned" grep -q '"#1.jpg" is read as a comment, though a file of that name exists' "$TMP/hash.err"
check "a plain comment: no warning" test "$(grep -c 'is read as a comment' "$TMP/hash.err")" -eq 1
check "comments not scored: 1 row" test "$(tail -n +2 "$TMP/hash.csv" | wc -l)" -eq 1
printf './#1.jpg\n' >"$TMP/hash/l2.lst"
S --list "$TMP/hash/l2.lst" >"$TMP/hash2.csv" 2>/dev/null
check "./#name lists it" grep -q '#1.jpg,' "$TMP/hash2.csv"

# --- eval's terminal table: C1 control characters in a set name ------------
# U+009B (CSI) and U+009D (OSC) are escape sequences to a terminal like ESC [
# and ESC ]; the table replaced C0 and DEL only.
printf '%s\n' "$IMG/dog.jpg" "$IMG/eagle.jpg" >"$TMP/c1-id.lst"
printf '%s\n' "$IMG/giraffe.jpg" "$IMG/horses.jpg" >"$TMP/c1-ood.lst"
nl eval -q --no-cache --model "$M" --id-labels "$TMP/labels.txt" --negatives "$TMP/neg.tsv" --ngroup 2 \
  --out "$TMP/c1-out" --id "$TMP/c1-id.lst" --ood "$(printf 'x\302\2332Jy\302\2350;t\007z')=$TMP/c1-ood.lst" >"$TMP/c1.out" 2>/dev/null
check "eval with a C1 set name ran" grep -q '^Average' "$TMP/c1.out"
check "the table shows no C1 control (CSI, OSC)" sh -c "! LC_ALL=C grep -q \"\$(printf '\302[\200-\237]')\" '$TMP/c1.out'"
check "they are shown as ? (x?2Jy?0;t?z)" grep -q 'x?2Jy?0;t?z' "$TMP/c1.out"

# --- eval: an image twice in a set, or in the ID set and an OOD set ---------
# (by its real path: a link too) was counted each time and on both sides
# without a word (the same list as ID and OOD gave AUROC 50, FPR95 95).
printf '%s\n' "$IMG/dog.jpg" "$IMG/eagle.jpg" "$IMG/dog.jpg" >"$TMP/d-id.lst"
ln -s "$IMG/eagle.jpg" "$TMP/eagle-link.jpg"
printf '%s\n' "$IMG/giraffe.jpg" "$TMP/eagle-link.jpg" >"$TMP/d-ood.lst"
nl eval -q --no-cache --model "$M" --id-labels "$TMP/labels.txt" --negatives "$TMP/neg.tsv" --ngroup 2 \
  --out "$TMP/d-out" --id "$TMP/d-id.lst" --ood a="$TMP/d-ood.lst" --ood b="$TMP/c1-ood.lst" >/dev/null 2>"$TMP/d.err"
check "a duplicate in the ID set: warned" grep -q "ID: 1 image listed more than once (e.g. .*dog.jpg)" "$TMP/d.err"
check "an ID image in an OOD set (through a link): warned" grep -q "OOD set 'a': 1 image also in the ID set (e.g. .*eagle.jpg)" "$TMP/d.err"
check "nothing said of the set that shares nothing" sh -c "! grep -q \"set 'b'\" '$TMP/d.err'"
check "and the run goes on" test -s "$TMP/d-out/results.json"

# --- a weight that is NaN ---------------------------------------------------
# Refused at load naming the file once and the tensor, on both CPU paths
# (the bf16 path named the file twice: its packing threads' message already
# held it and the caller prefixed it again).
mkdir -p "$TMP/nanw"
cp "$M"/*.json "$M"/merges.txt "$TMP/nanw/"
python3 - "$M/model.safetensors" "$TMP/nanw/model.safetensors" <<'PY'
import json, struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
hn = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + hn])
o = 8 + hn + h["vision_model.encoder.layers.0.mlp.fc1.weight"]["data_offsets"][0]
b[o:o + 4] = struct.pack("<f", float("nan"))
open(sys.argv[2], "wb").write(b)
PY
for p in fp32 bf16; do
  out=$(nl embed --model "$TMP/nanw" --precision $p --text "a dog" 2>&1 >/dev/null); rc=$?
  check "a NaN weight, $p: refused (rc=$rc)" test $rc -eq 1
  check "a NaN weight, $p: the tensor named ($out)" grep -q "tensor 'vision_model.encoder.layers.0.mlp.fc1.weight' holds a non-finite value at index 0" <<<"$out"
  check "a NaN weight, $p: the file named once ($out)" test "$(grep -o 'nanw/model.safetensors' <<<"$out" | wc -l)" -eq 1
done

finish
