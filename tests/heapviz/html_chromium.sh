#!/bin/sh
# The HTML view renders in headless Chromium with no script error, and
# the page draws as many chunks as the snapshot holds.  Skipped (77) when
# no Chromium is installed.  SCREENSHOT=path also saves a picture.
. "$(dirname "$0")/common.sh"

CHROME=
for c in chromium chromium-browser google-chrome; do
    if command -v "$c" >/dev/null 2>&1; then CHROME=$c; break; fi
done
if [ -z "$CHROME" ]; then
    echo "$TEST_NAME: no chromium installed: skipped"
    exit 77
fi
(ulimit -c 0; cd "$WORK" && "$CHILD" "$WORK/snap.json" x >/dev/null 2>&1 </dev/null)
[ -s "$WORK/snap.json" ] || exit 99
check "--html writes a page" "$HEAPVIZ" --html "$WORK/page.html" "$WORK/snap.json"
check "the page loads nothing from outside" sh -c '! grep -Eq "(src|href)=\"(https?:)?//" "$0"' "$WORK/page.html"
chrome() {
    timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --disable-dev-shm-usage \
        --user-data-dir="$WORK/profile" "$@" 2>"$WORK/chrome.err"
}
chrome --dump-dom "file://$WORK/page.html" >"$WORK/dom.html"
if [ ! -s "$WORK/dom.html" ]; then
    echo "$TEST_NAME: chromium printed nothing: skipped ($(tail -1 "$WORK/chrome.err"))"
    exit 77
fi
want=$(chunk_count "$WORK/snap.json")
got=$(grep -o 'data-chunks-drawn="[0-9]*"' "$WORK/dom.html" | grep -o '[0-9][0-9]*')
check "the page finished drawing" grep -q 'data-render="done"' "$WORK/dom.html"
check "no script error" sh -c '! grep -q "data-error=" "$0"' "$WORK/dom.html"
check "chunks drawn ($got) = chunks in the snapshot ($want)" test "${got:-x}" = "$want"
if [ -n "${SCREENSHOT:-}" ]; then
    chrome --hide-scrollbars --window-size=1280,1500 --screenshot="$SCREENSHOT" "file://$WORK/page.html" >/dev/null
fi
finish
