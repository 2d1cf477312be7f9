#!/bin/sh
# The HTML view in headless Chromium: no script error, as many chunks
# drawn as the snapshot holds, an RSS bar whose parts add up to the
# process's RSS, a treemap whose drawn areas are proportional to the
# chunks' bytes, and a timeline with ticked axes whose points open their
# own snapshot; with a profiled snapshot, a flame graph section whose
# boxes are as wide as their bytes and whose top frames are the profiled
# program's functions, and without one, a section that says so.  The page measures what it drew when its address ends in
# #test (a hidden element with JSON); the geometry is read back from the
# drawn rectangles.  Skipped (77) when no Chromium is installed.
# SCREENSHOT=path also saves a picture.
. "$(dirname "$0")/common.sh"

CHROME=
for c in chromium chromium-browser google-chrome; do
    if command -v "$c" >/dev/null 2>&1; then CHROME=$c; break; fi
done
if [ -z "$CHROME" ]; then
    echo "$TEST_NAME: no chromium installed: skipped"
    exit 77
fi
command -v python3 >/dev/null 2>&1 || { echo "$TEST_NAME: needs python3" >&2; exit 99; }
(ulimit -c 0; cd "$WORK" && "$CHILD" "$WORK/snap.json" x >/dev/null 2>&1 </dev/null)
[ -s "$WORK/snap.json" ] || exit 99
check "--html writes a page" "$HEAPVIZ" --html "$WORK/page.html" "$WORK/snap.json"
check "the page loads nothing from outside" sh -c '! grep -Eq "(src|href)=\"(https?:)?//" "$0"' "$WORK/page.html"
# a fresh, empty profile each time: nothing of an earlier run is reused
chrome() {
    rm -rf "$WORK/profile"
    timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync --disable-dev-shm-usage \
        --user-data-dir="$WORK/profile" "$@" 2>"$WORK/chrome.err"
}
chrome --window-size=1280,900 --dump-dom "file://$WORK/page.html#test" >"$WORK/dom.html"
if [ ! -s "$WORK/dom.html" ]; then
    echo "$TEST_NAME: chromium printed nothing: skipped ($(tail -1 "$WORK/chrome.err"))"
    exit 77
fi
want=$(chunk_count "$WORK/snap.json")
got=$(grep -o 'data-chunks-drawn="[0-9]*"' "$WORK/dom.html" | grep -o '[0-9][0-9]*')
check "the page finished drawing" grep -q 'data-render="done"' "$WORK/dom.html"
check "no script error" sh -c '! grep -q "data-error=" "$0"' "$WORK/dom.html"
check "chunks drawn ($got) = chunks in the snapshot ($want)" test "${got:-x}" = "$want"

# geometry.py DOM SNAPSHOT WHAT: reads what the page drew and checks it
cat >"$WORK/geometry.py" <<'PY'
import html.parser, json, sys

dom, snap_path, what = sys.argv[1], sys.argv[2], sys.argv[3]
snap = json.load(open(snap_path))

class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.svg = None; self.stack = []; self.rects = []; self.measured = None
        self.in_test = False; self.ticks = {"x": 0, "y": 0}; self.circles = 0; self.heading = ""
        self.in_h1 = False; self.notes = []
        self.in_template = 0; self.flames = []; self.flame_bytes = {}; self.flame_section = None
        self.in_flame_section = False; self.flame_text = ""; self.in_title = False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "template": self.in_template += 1
        if tag == "section" and a.get("data-section") == "drawFlame":
            self.flame_section = a.get("data-profile"); self.in_flame_section = True
        elif tag == "section": self.in_flame_section = False
        if not self.in_template and self.in_flame_section:
            if tag == "svg" and (a.get("id") or "").startswith("flame-"):
                self.flame_bytes[a["id"]] = int(a["data-bytes"])
            if tag == "g" and "frame" in a.get("class", "").split():
                self.flames.append({"svg": self.stack[-1], "bytes": int(a["data-bytes"]), "name": ""})
            if tag == "rect" and self.flames and "width" not in self.flames[-1]:
                self.flames[-1].update(x=float(a["x"]), y=int(a["y"]), width=float(a["width"]))
            if tag == "title": self.in_title = True
        if tag == "svg" and a.get("id") == "treemap":
            self.svg = a
        if tag == "svg":
            self.stack.append(a.get("id"))
        if tag == "rect" and self.stack and self.stack[-1] == "treemap" and "leaf" in a.get("class", "").split():
            self.rects.append(a)
        if tag == "circle" and self.stack and self.stack[-1] == "timeline-chart":
            self.circles += 1
        if tag == "text" and self.stack and self.stack[-1] == "timeline-chart":
            anchor = a.get("text-anchor")
            if anchor == "end": self.ticks["y"] += 1
            if anchor == "middle": self.ticks["x"] += 1
        if tag == "pre" and a.get("id") == "hv-test":
            self.in_test = True
    def handle_endtag(self, tag):
        if tag == "template": self.in_template -= 1
        if tag == "title": self.in_title = False
        if tag == "svg" and self.stack: self.stack.pop()
        if tag == "pre": self.in_test = False
    def handle_data(self, data):
        if self.in_test: self.measured = json.loads(data)
        if self.in_flame_section and not self.in_template:
            if self.in_title and self.flames: self.flames[-1]["name"] = data.rsplit(" (", 1)[0]
            elif not self.in_title: self.flame_text += data

p = Page(); p.feed(open(dom).read())
m = p.measured
assert m is not None, "the page wrote no measurements (#test)"

def fail(msg):
    print(msg); sys.exit(1)

if what == "rss":
    proc = snap["process"]
    rss = proc.get("smaps_rss_bytes", proc["rss_bytes"])
    parts = sum(x["bytes"] for x in m["parts"])
    if m["rss"] != rss: fail("bar's RSS %d, snapshot's %d" % (m["rss"], rss))
    if parts != rss: fail("parts add up to %d, RSS is %d" % (parts, rss))
    if abs(rss - proc["rss_bytes"]) > 0.05 * proc["rss_bytes"]:
        fail("smaps RSS %d far from statm's %d" % (rss, proc["rss_bytes"]))
    names = [x["part"] for x in m["parts"]]
    for want in ("in use", "free in bins", "top", "thread caches and stores", "returned", "mapped chunks",
                 "metadata", "outside: code and files", "outside: stack", "outside: other mappings"):
        if want not in names: fail("no part named " + want)
    res = snap["resident"]
    if [x["bytes"] for x in m["parts"] if x["part"] == "in use"] != [res["in_use"]]: fail("in use is not the snapshot's")
    inner = sum(x["width"] for x in m["parts"])
    for x in m["parts"]:
        if abs(x["width"] - inner * x["bytes"] / rss) > 1: fail("part %s drawn %.1f px wide" % (x["part"], x["width"]))
elif what == "treemap":
    tm = m["treemap"]
    rects = p.rects
    if len(rects) != tm["leaves"] or not rects: fail("%d rectangles drawn, page says %d" % (len(rects), tm["leaves"]))
    total = sum(h["size"] for a in snap["arenas"] for h in a["heaps"]) + sum(c["size"] for c in snap["mmapped"])
    drawn_bytes = sum(int(r["data-bytes"]) for r in rects)
    if drawn_bytes != total: fail("rectangles hold %d bytes, the heaps and mapped chunks %d" % (drawn_bytes, total))
    W, H = float(p.svg["width"]), float(p.svg["height"])
    area = W * H
    if abs(sum(float(r["width"]) * float(r["height"]) for r in rects) - area) > 0.001 * area:
        fail("rectangles do not tile the map")
    per_byte = area / total
    worst = 0
    for r in rects:
        a = float(r["width"]) * float(r["height"]); want = int(r["data-bytes"]) * per_byte
        if min(float(r["x"]), float(r["y"])) < -0.01 or float(r["x"]) + float(r["width"]) > W + 0.01 or \
                float(r["y"]) + float(r["height"]) > H + 0.01:
            fail("rectangle outside the map")
        err = abs(a - want)
        if err > max(0.01 * want, 0.02): fail("%s bytes drawn as %.3f px2, want %.3f" % (r["data-bytes"], a, want))
        worst = max(worst, err / want if want else 0)
    print("%d rectangles, worst relative area error %.2e" % (len(rects), worst))
elif what == "timeline":
    n = int(sys.argv[4])
    if p.circles != n: fail("%d points drawn for %d snapshots" % (p.circles, n))
    if p.ticks["x"] < 3 or p.ticks["y"] < 3: fail("axes have %s ticks" % p.ticks)
elif what == "flame":
    kind = sys.argv[4]
    if p.flame_section != "samples": fail("the flame graph section says %r" % p.flame_section)
    shown = [g for g in p.flames if g["svg"] == "flame-%s-svg" % kind]
    if not shown or len(shown) != len(p.flames): fail("the section shows %s, not the %s graph" %
                                                    (sorted({g["svg"] for g in p.flames}), kind))
    total = p.flame_bytes[shown[0]["svg"]]
    if total <= 0 or shown[0]["name"] != "all" or shown[0]["bytes"] != total: fail("no root box of %d bytes" % total)
    for g in shown:
        want = g["bytes"] * 1200.0 / total
        if abs(g["width"] - want) > 0.051: fail("%s: %d bytes drawn %.1f px wide, want %.2f" % (g["name"], g["bytes"], g["width"], want))
    # the top frames: boxes with no box drawn on them
    top = [g for g in shown if not any(h["y"] == g["y"] - 18 and g["x"] - 0.05 <= h["x"] < g["x"] + g["width"] - 0.05
                                       for h in shown)]
    known = {"grow_large", "grow_small", "clear_some", "leak_some", "pin_pages"}
    by_name = {}
    for g in top: by_name[g["name"]] = by_name.get(g["name"], 0) + g["bytes"]
    if sum(b for n, b in by_name.items() if n in known) < 0.99 * total: fail("top frames %s" % by_name)
    mib = 2 ** 20
    want = {"alloc": {"grow_large": 64 * mib, "grow_small": 16 * mib, "clear_some": 12 * mib, "leak_some": 8 * mib},
            "live": {"leak_some": 8 * mib}}[kind]
    for n, b in want.items():
        if abs(by_name.get(n, 0) - b) > 0.35 * b: fail("%s: %d bytes, want about %d" % (n, by_name.get(n, 0), b))
    widest = max(by_name, key=by_name.get)
    if widest != max(want, key=want.get): fail("the widest top frame is %s" % widest)
    print("%s flame graph: %d boxes, top frames %s" % (kind, len(shown), sorted(by_name)))
elif what == "noflame":
    if p.flame_section != "none" or p.flames or "No profile" not in p.flame_text:
        fail("without samples the flame section says %r (%d boxes)" % (p.flame_text, len(p.flames)))
elif what == "opened":
    point = int(sys.argv[4])
    if m["point"] != point: fail("page shows point %s, not %d" % (m["point"], point))
    proc = snap["process"]
    if m["rss"] != proc.get("smaps_rss_bytes", proc["rss_bytes"]): fail("the bar is not the opened snapshot's")
PY
geometry() { python3 "$WORK/geometry.py" "$@" >"$WORK/geometry.out" 2>&1 || { cat "$WORK/geometry.out" >&2; return 1; }; }
check "the RSS bar's parts add up to the process's RSS, each drawn to scale" geometry "$WORK/dom.html" "$WORK/snap.json" rss
check "the treemap's areas are proportional to bytes" geometry "$WORK/dom.html" "$WORK/snap.json" treemap
cat "$WORK/geometry.out"
check "without profile samples the flame graph section says there is no profile" \
    geometry "$WORK/dom.html" "$WORK/snap.json" noflame

# a profiled snapshot: the flame graph section, live bytes first, and
# allocated bytes at the switch
PROF_PROG=$top_builddir/tests/integration/prof_prog
if [ -n "${PMALLOC_LIB:-}" ] && [ -f "$PMALLOC_LIB" ] && [ -x "$PROF_PROG" ]; then
    PMALLOC_PROF=1 PMALLOC_PROF_SAMPLE=65536 PMALLOC_SNAPSHOT_AT_EXIT="$WORK/prof.json" LD_PRELOAD="$PMALLOC_LIB" \
        "$PROF_PROG" >/dev/null 2>&1
    check "--html of a profiled snapshot" "$HEAPVIZ" --html "$WORK/prof.html" "$WORK/prof.json"
    for kind in live alloc; do
        chrome --window-size=1280,900 --dump-dom "file://$WORK/prof.html#test,flame=$kind" >"$WORK/prof-$kind.html"
        check "profiled page ($kind): no script error" \
            sh -c '! grep -q "data-error=" "$0" && grep -q "data-render=\"done\"" "$0"' "$WORK/prof-$kind.html"
        check "profiled page: the $kind bytes flame graph, boxes to scale, the program's functions on top" \
            geometry "$WORK/prof-$kind.html" "$WORK/prof.json" flame "$kind"
        cat "$WORK/geometry.out"
    done
else
    echo "$TEST_NAME: no libpmalloc or prof_prog: the flame graph section is not checked"
fi

# a snapshot of format version 1 (no resident split, no smaps) still draws
"$HEAPVIZ" --html "$WORK/v1.html" "$HVSRC/golden_input.json"
chrome --window-size=1280,900 --dump-dom "file://$WORK/v1.html#test" >"$WORK/v1-dom.html"
check "a version 1 snapshot draws with no script error" \
    sh -c '! grep -q "data-error=" "$0" && grep -q "data-render=\"done\"" "$0"' "$WORK/v1-dom.html"

# a timeline: ticked axes, one point per snapshot, each opens its own
if [ -n "${PMALLOC_LIB:-}" ] && [ -f "$PMALLOC_LIB" ]; then
    "$HEAPVIZ" run --every 60 --out "$WORK/tl" --html "$WORK/run.html" -- sh -c 'sleep 0.5' >/dev/null 2>&1
    n=$(ls "$WORK"/tl-[0-9]*.json 2>/dev/null | wc -l)
    check "run --every --html: timeline snapshots saved ($n)" test "$n" -ge 3
    chrome --window-size=1280,900 --dump-dom "file://$WORK/run.html#test" >"$WORK/run-dom.html"
    check "timeline page: no script error" sh -c '! grep -q "data-error=" "$0" && grep -q "data-render=\"done\"" "$0"' \
        "$WORK/run-dom.html"
    check "timeline page: a point per snapshot, ticked axes" geometry "$WORK/run-dom.html" "$WORK/tl-exit.json" timeline "$n"
    chrome --window-size=1280,900 --dump-dom "file://$WORK/run.html#test,open=2" >"$WORK/open-dom.html"
    check "timeline page: point 2 opens as its snapshot" geometry "$WORK/open-dom.html" "$WORK/tl-2.json" opened 2
    check "timeline page: opened point draws with no script error" sh -c '! grep -q "data-error=" "$0"' "$WORK/open-dom.html"
    check "timeline page: the opened point's RSS bar adds up" geometry "$WORK/open-dom.html" "$WORK/tl-2.json" rss
fi
if [ -n "${SCREENSHOT:-}" ]; then
    chrome --hide-scrollbars --window-size=1280,1500 --screenshot="$SCREENSHOT" "file://$WORK/page.html" >/dev/null
fi
finish
