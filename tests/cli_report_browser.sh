# cli_report_browser.sh — render the synthetic report of test_report in
# headless Chromium: the DOM must hold the table, the SVG curves and the
# images, the console must stay silent (the page has no scripts), and a
# screenshot must come out as a non-empty PNG.
. "$(dirname "$0")/lib_cli.sh"

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
  echo "SKIP: chromium is not installed (apt-get install chromium)"
  exit 77
fi
BUILD=${NEGLABEL_BUILD:-build}
if [ ! -x "$BUILD/test_report" ]; then
  echo "FAILED: $BUILD/test_report not built" >&2
  exit 1
fi

OUT="$TMP/report"
check "test_report writes the report" env NEGLABEL_REPORT_OUT="$OUT" "$BUILD/test_report" >"$TMP/test_report.log" 2>&1
[ -f "$OUT/report.html" ] || { echo "FAILED: no report.html"; cat "$TMP/test_report.log"; exit 1; }

URL="file://$OUT/report.html"
# A private profile so runs do not share state; headless runs need no sandbox here.
chrome() {
  timeout 20 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$TMP/profile" \
    --enable-logging=stderr --v=0 "$@"
}

chrome --dump-dom "$URL" >"$TMP/dom.html" 2>"$TMP/dom.log"
check "chromium dumped the DOM" test -s "$TMP/dom.html"
count() { grep -o -- "$1" "$TMP/dom.html" | wc -l; }
check "DOM has the metrics table" grep -q '<table class="metrics" id="metrics">' "$TMP/dom.html"
check "table has the average row" grep -q '>Average<' "$TMP/dom.html"
check "2 ROC and 2 histogram SVGs" test "$(count '<svg class="roc"')" -eq 2 -a "$(count '<svg class="hist"')" -eq 2
check "6 ROC polylines (3 methods, 2 sets)" test "$(count '<polyline class="\(neglabel\|mcm\|oodd\)"')" -eq 6
check "12 Figure 4 charts" test "$(count '<svg class="aff"')" -eq 12
check "Figure 4 bars drawn" test "$(count '<rect x="110"')" -eq 72
check "best method starred" test "$(count 'class="method best"')" -eq 3
check "12 embedded images" test "$(count '<img alt="example [0-9]*" src="data:image/jpeg;base64,')" -eq 12
check "no image from anywhere else" test "$(count '<img ')" -eq 12
# The hostile label must come back as text, not as an element.
check "hostile label is text" grep -q '&lt;script&gt;alert("x")&lt;/script&gt;' "$TMP/dom.html"
check "no script element" test "$(count '<script')" -eq 0

# Chromium logs console messages (errors, uncaught exceptions, failed loads)
# as "CONSOLE" lines; a page without scripts must produce none.
chrome --screenshot="$TMP/shot.png" --window-size=1200,1600 "$URL" >"$TMP/shot.log" 2>&1
if grep -hE 'CONSOLE|Uncaught|Failed to load resource|ERR_FILE_NOT_FOUND|Refused to' "$TMP/dom.log" "$TMP/shot.log"; then
  bad "console reported problems (above)"
else
  ok
fi
check "screenshot written" test -s "$TMP/shot.png"
check "screenshot is a PNG" test "$(head -c 8 "$TMP/shot.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a"
# A blank page compresses to a few KB; the rendered report is far larger.
check "screenshot is not blank" test "$(stat -c %s "$TMP/shot.png")" -gt 50000
if [ -n "${NEGLABEL_KEEP_SCREENSHOT:-}" ]; then cp "$TMP/shot.png" "$NEGLABEL_KEEP_SCREENSHOT"; fi
finish
