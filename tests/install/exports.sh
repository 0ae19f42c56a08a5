#!/usr/bin/env bash
# exports.sh LIB HEADER — the shared library LIB exports exactly the functions
# that HEADER (include/neglabel.h) declares, and every one of those
# declarations is marked NL_API. Run by ctest (install_exports) on the
# build tree's libneglabel.so and by check.sh on an installed one.
#
# Exported: `nm -D --defined-only LIB`. Declared: what the C compiler sees
# in HEADER (gcc -aux-info lists every function declaration with its line);
# with a compiler without -aux-info, the NL_API lines of HEADER.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 LIB HEADER" >&2; exit 2; }
lib=$1 header=$2
CC=${CC:-cc}
tmp=$(mktemp -d /tmp/neglabel-exports-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0

# Names with NL_API in front, one declaration per line in the header.
sed -nE 's/^NL_API[^(]*[^A-Za-z0-9_(]([A-Za-z_][A-Za-z0-9_]*) *\(.*/\1/p' "$header" | sort -u > "$tmp/marked"

if "$CC" -fsyntax-only -aux-info "$tmp/aux" -x c "$header" 2>/dev/null && [ -s "$tmp/aux" ]; then
  base=$(basename "$header")
  # "/* path/neglabel.h:40:NC */ extern const char *nl_last_error (void);"
  grep -F "/$base:" "$tmp/aux" > "$tmp/aux.own" || true
  sed -E 's@^/\*[^*]*\*/ *@@; s/ \(.*//; s/.*[ *]//' "$tmp/aux.own" | sort -u > "$tmp/declared"
  # each declaration's line must start with NL_API
  sed -nE 's@^/\* .*:([0-9]+):[A-Z]+ \*/.*@\1@p' "$tmp/aux.own" | while read -r line; do
    text=$(sed -n "${line}p" "$header")
    case $text in
      NL_API\ *) ;;
      *) echo "FAILED: $header:$line declares a function without NL_API: $text" ;;
    esac
  done > "$tmp/unmarked"
  if [ -s "$tmp/unmarked" ]; then cat "$tmp/unmarked" >&2; fail=1; fi
  if ! diff -u "$tmp/declared" "$tmp/marked" > "$tmp/d1"; then
    echo "FAILED: the declarations of $header (-, from the compiler) and its NL_API lines (+) differ:" >&2
    cat "$tmp/d1" >&2; fail=1
  fi
else
  echo "note: $CC has no -aux-info; using the NL_API lines of $header"
  cp "$tmp/marked" "$tmp/declared"
fi
[ -s "$tmp/declared" ] || { echo "FAILED: no function declarations found in $header" >&2; exit 1; }

nm -D --defined-only "$lib" | awk 'NF >= 2 { print $NF }' | sed 's/@.*//' | sort -u > "$tmp/exported"
if ! diff -u "$tmp/declared" "$tmp/exported" > "$tmp/d2"; then
  echo "FAILED: symbols exported by $lib (+) differ from the functions declared in $header (-):" >&2
  grep -E '^[-+][^-+]' "$tmp/d2" >&2; fail=1
fi
if grep -qv '^nl_' "$tmp/exported"; then
  echo "FAILED: $lib exports symbols outside the nl_ namespace:" >&2
  grep -v '^nl_' "$tmp/exported" >&2; fail=1
fi
# The library's internal functions are named nli_*, never nl_* (the public
# prefix) nor unprefixed: checked on the static archive, which keeps them
# global (NEGLABEL_STATIC_LIB, set by ctest).
if [ -n "${NEGLABEL_STATIC_LIB:-}" ]; then
  nm -g --defined-only "$NEGLABEL_STATIC_LIB" | awk 'NF >= 3 { print $3 }' | sort -u > "$tmp/static"
  [ -s "$tmp/static" ] || { echo "FAILED: no symbols in $NEGLABEL_STATIC_LIB" >&2; exit 1; }
  grep '^nl_' "$tmp/static" | comm -23 - "$tmp/declared" > "$tmp/bad_nl" || true
  if [ -s "$tmp/bad_nl" ]; then
    echo "FAILED: internal functions with the public prefix nl_ (rename them nli_):" >&2
    cat "$tmp/bad_nl" >&2; fail=1
  fi
  grep -E '^[A-Za-z]' "$tmp/static" | grep -Ev '^(nl|nli)_' > "$tmp/bad_other" || true
  if [ -s "$tmp/bad_other" ]; then
    echo "FAILED: global symbols of $NEGLABEL_STATIC_LIB without the nli_ prefix:" >&2
    cat "$tmp/bad_other" >&2; fail=1
  fi
  echo "ok: $(grep -c '^nli_' "$tmp/static") internal functions, all named nli_*"
fi
[ $fail -eq 0 ] || exit 1
echo "ok: $(wc -l < "$tmp/exported") symbols exported, all declared NL_API in $(basename "$header")"
