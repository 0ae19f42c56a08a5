# cli_docs.sh — the documentation (README.md, docs/*.md) against the CLI and
# the repository; cli_help.sh does the same for the README's "## Command
# line" section, this test for everything else:
# - every `neglabel <command> ... --option` written in a shell block or an
#   inline code span (common options before the command included) is an
#   option that command's help documents;
# - every value a command's help lists for an option (`--method
#   neglabel|csp|...`) is accepted by that command: run with it, the
#   command's required files missing, it fails on a file (exit 1), never
#   with a usage error (exit 2);
# - the README's C API example compiles as written against this build's
#   libneglabel.so and, on the tiny model, gives 'neglabel score''s number;
# - every relative link [text](path#anchor) points at a file that exists,
#   and an #anchor at a heading of that Markdown file (GitHub's slugs).
# Only the C example's run needs the reference data (without it, that part
# is reported as not run).
. "$(dirname "$0")/lib_cli.sh"
export HF_HUB_OFFLINE=1 HF_HUB_CACHE=$TMP/hf HF_HOME=$TMP/hf HF_ENDPOINT=http://127.0.0.1:9
T() { timeout 60 "$BIN" "$@" </dev/null; }
[ -x "$BIN" ] || { echo "FAILED: no neglabel binary at '$BIN'" >&2; exit 1; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN") # the C example runs in a folder of its own
command -v python3 >/dev/null || { echo "FAILED: python3 is needed to read the Markdown" >&2; exit 1; }
docs=("$SRC/README.md" "$SRC"/docs/*.md)

# same rule as cli_help.sh: a line of its own, or among the options accepted
# without effect
has_line() {
  grep -qE -- "^  ([^ ]+, )?$2([ ,]|\$)" "$1" || grep -qE -- "^  Accepted here without effect:.* $2( |\$)" "$1"
}

cmds=$(T help --commands)
check "help --commands lists the commands" test "$(echo $cmds | wc -w)" -ge 10
for c in $cmds; do T "$c" --help >"$TMP/help.$c"; done

# ------------------------------------------------- options in the docs
python3 - "$cmds" "${docs[@]}" >"$TMP/uses" <<'EOF'
import re, sys, pathlib
cmds = set(sys.argv[1].split())
word = r"--?[a-z][a-z0-9-]*"
for f in sys.argv[2:]:
    text = pathlib.Path(f).read_text()
    spans = []
    def fence(m):  # shell blocks: each line, continuations joined, comments cut
        if m.group(1) in ("sh", "bash", "console", ""):
            spans.extend(ln.split(" #")[0] for ln in m.group(2).replace("\\\n", " ").splitlines())
        return ""
    text = re.sub(r"^```(\w*)\n(.*?)^```", fence, text, flags=re.S | re.M)
    spans += [m.group(1).replace("\n", " ") for m in re.finditer(r"`([^`]+)`", text)]
    for s in spans:
        # neglabel [common options] COMMAND rest
        for m in re.finditer(rf"(?:^|[\s/(])neglabel((?:\s+{word}(?:\s+(?!-)\S+)?)*)\s+([a-z][a-z-]*)(?![\w-])(.*)", s):
            if m.group(2) not in cmds:
                continue
            rest = re.split(r"[|;>]|&&|\bneglabel\b", m.group(3))[0]
            for o in re.findall(rf"(?:^|[\s\[(])({word})", m.group(1) + " " + rest):
                print(f"{pathlib.Path(f).name}\t{m.group(2)}\t{o}")
EOF
uses=$(sort -u "$TMP/uses" | wc -l)
check "option uses of neglabel commands found in the docs ($uses)" test "$uses" -ge 20
while IFS=$'\t' read -r f c o; do
  check "$f shows 'neglabel $c ... $o'; '$c --help' has no line for it" has_line "$TMP/help.$c" "$o"
done < <(sort -u "$TMP/uses")

# ------------------------------------------------- listed values are accepted
# The least each command needs to get past its options: files that do not
# exist (the command then fails on the first one it reads, exit 1).
M=$TMP/no-such-model
declare -A need=(
  [info]="--model $M" [embed]="--model $M --image $TMP/none.jpg" [tokenize]="--model $M"
  [preprocess]="$TMP/none.jpg -o $TMP/out.bin" [convert]="$TMP/none.pt -o $TMP/out"
  [corpus]="--wordnet $TMP/none -o $TMP/out.tsv" [mine]="--model $M --id-labels $TMP/none.txt -o $TMP/out.tsv"
  [score]="--model $M --id-labels $TMP/none.txt $TMP/none.jpg"
  [score-embeddings]="--id $TMP/none.npy --neg $TMP/none.npy --images $TMP/none.npy"
  [metrics]="--id-scores $TMP/none.txt --ood-scores $TMP/none.txt"
  [eval]="--model $M --id-labels $TMP/none.txt --id $TMP/none --ood x=$TMP/none --out $TMP/eval"
  [devices]="")
values=0
for c in $cmds; do
  [ -n "${need[$c]+x}" ] || { bad "cli_docs.sh has no minimal arguments for the command '$c': add them to 'need'"; continue; }
  while read -r o vals; do
    for v in ${vals//|/ }; do
      case $v in cuda*) continue ;; esac # would look for a GPU
      values=$((values+1))
      # shellcheck disable=SC2086
      T "$c" ${need[$c]} "$o" "$v" >/dev/null 2>"$TMP/err"; rc=$?
      check "'$c --help' lists '$o $v', which '$c' refuses as a usage error: $(head -n 1 "$TMP/err")" test $rc -ne 2
      check "'$c $o $v' crashed or hung (rc=$rc)" test $rc -lt 124
    done
  done < <(grep -oE '^  (-[a-z], )?--[a-z-]+ [a-z0-9]+(\|[a-z0-9:]+)+ ' "$TMP/help.$c" | sed -E 's/^  (-[a-z], )?//')
done
check "enumerated option values found in the helps ($values)" test $values -ge 20

# ------------------------------------------------- the README's C example
# Built as written (in a main(), with the two headers it leaves out) against
# this build's libneglabel.so and run on the tiny model: its score must be
# the CLI's for the same prompts, one group and bicubic resizing.
BUILD=${NEGLABEL_BUILD:-build}
CC=${CC:-cc}
awk '/^## C API/ {on = 1} on && /^```c$/ {c = 1; next} c && /^```$/ {exit} c' "$SRC/README.md" >"$TMP/example.c"
check "README.md's C API section has a \`\`\`c example" grep -q nl_model_load "$TMP/example.c"
if [ ! -f "$BUILD/libneglabel.so" ] || ! command -v "$CC" >/dev/null; then
  partial_skip "no $BUILD/libneglabel.so or no C compiler '$CC': the README's C example was not built"
else
  mkdir -p "$TMP/capi"
  { echo '#include <stdio.h>'; echo '#include <stdlib.h>'; cat "$TMP/example.c"; } |
    sed -e 's/^\(#include <neglabel.h>\)$/\1\nint main(void) {/' >"$TMP/capi/app.c"
  printf '%s\n' 'printf("%.9g\n", score); free(id); free(neg); free(img); return 0; }' >>"$TMP/capi/app.c"
  san=(); [ -n "${NEGLABEL_ASAN_RT:-}" ] && san=(-fsanitize=address,undefined)
  "$CC" "${san[@]}" -std=c17 -Wall -Werror -I"$SRC/include" "$TMP/capi/app.c" \
    "$BUILD/libneglabel.so" -Wl,-rpath,"$(cd "$BUILD" && pwd)" -o "$TMP/capi/app" 2>"$TMP/cc.err"
  check "the README's C example compiles: $(head -n 3 "$TMP/cc.err")" test -x "$TMP/capi/app"
  if [ ! -f "$SHARED/README.md" ]; then
    partial_skip "reference data not found at '$SHARED': the README's C example was built, not run"
  elif [ -x "$TMP/capi/app" ]; then
    (cd "$TMP/capi" && ln -s "$TINY" clip-vit-base-patch16 && cp "$SHARED/fixtures/images/dog.jpg" photo.jpg &&
      printf 'cat\ndog\n' >classes.txt && printf 'the nice tuba\nThis is a salty photo\n' >negs.txt)
    got=$(cd "$TMP/capi" && ./app 2>"$TMP/app.err"); rc=$?
    check "the README's C example runs (rc=$rc): $(head -n 3 "$TMP/app.err")" test $rc -eq 0
    want=$(cd "$TMP/capi" && "$BIN" score -q --no-cache --device cpu --model clip-vit-base-patch16 \
      --id-labels classes.txt --negatives negs.txt --ngroup 1 --resample bicubic photo.jpg | sed -n '2s/^[^,]*,\([^,]*\),.*/\1/p')
    check "the README's C example scores $got, 'neglabel score' $want" \
      python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(abs(a - b) > 1e-8)" "$got" "$want"
  fi
fi

# ------------------------------------------------- links
python3 - "$SRC" "${docs[@]}" >"$TMP/links" <<'EOF'
import os, re, sys, pathlib
def strip_code(t):
    return re.sub(r"^```.*?^```", "", t, flags=re.S | re.M)
def slug(h):  # GitHub's heading ids
    h = re.sub(r"[`*]", "", h.strip().lower())
    return re.sub(r"[^\w\- ]", "", h).replace(" ", "-")
cache = {}
def anchors(p):
    if p not in cache:
        seen, out = {}, set()
        for m in re.finditer(r"^#{1,6}\s+(.*?)\s*#*\s*$", strip_code(pathlib.Path(p).read_text()), re.M):
            b = slug(m.group(1)); n = seen.get(b, 0); seen[b] = n + 1
            out.add(b if n == 0 else f"{b}-{n}")
        cache[p] = out
    return cache[p]
n = 0
for f in sys.argv[2:]:
    for m in re.finditer(r"\]\(([^)\s]+)\)", strip_code(pathlib.Path(f).read_text())):
        t = m.group(1)
        if re.match(r"[a-z][a-z0-9+.-]*:", t):
            continue
        n += 1
        path, _, frag = t.partition("#")
        p = os.path.normpath(os.path.join(os.path.dirname(f), path)) if path else f
        name = os.path.relpath(f, sys.argv[1])
        if not os.path.exists(p):
            print(f"BAD\t{name}: the link ({t}) points at no file")
        elif frag and p.endswith(".md") and frag not in anchors(p):
            print(f"BAD\t{name}: the link ({t}) names no heading of {os.path.relpath(p, sys.argv[1])}")
print(f"LINKS\t{n}")
EOF
check "links found in the docs" test "$(sed -n 's/^LINKS\t//p' "$TMP/links")" -ge 20
while IFS=$'\t' read -r k what; do [ "$k" = BAD ] && bad "$what"; done <"$TMP/links"
finish
