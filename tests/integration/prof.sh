# The allocation profile end to end: sites ranked with the right byte
# totals (within sampling error), the leak report naming the leaking
# function, the pinned pages charged to the function that pins them, and
# bad arguments refused with one line.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/common.sh"

require_programs python3 nm
prog="$top_builddir/tests/integration/prof_prog"
heapviz="$top_builddir/tools/heapviz/heapviz"
[[ -x "$prog" && -x "$heapviz" ]] || hard_error "$prog or $heapviz not built (make check builds them)"

rc=0
PMALLOC_PROF_LEAKS=1 PMALLOC_PROF_SAMPLE=65536 PMALLOC_SNAPSHOT_AT_EXIT="$WORK/a.json" LD_PRELOAD="$PMALLOC_LIB" \
    "$prog" 2>"$WORK/leaks.err" || rc=$?
check "profiled run exits 0 (rc=$rc)" test "$rc" = 0
"$heapviz" sites "$WORK/a.json" >"$WORK/sites.txt" 2>&1 || rc=$?
check "heapviz sites exits 0 (rc=$rc)" test "$rc" = 0
cat "$WORK/sites.txt" | head -12
check "sites ranks the four sites by allocated bytes, totals within sampling error" \
    python3 - "$WORK/sites.txt" <<'PY'
import sys
rows = {}
order = []
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 5 and f[0].isdigit():
        rows[f[4]] = (int(f[0]), int(f[2]))
        order.append(f[4])
mib = 2**20
want = {"grow_large": 64 * mib, "grow_small": 16 * mib, "clear_some": 12 * mib, "leak_some": 8 * mib}
for site, total in want.items():
    live, alloc = rows[site]
    # 65536-byte mean: 128 samples or more, a 9% standard error at most
    assert abs(alloc - total) < 0.35 * total, (site, alloc, total)
assert order.index("grow_large") < order.index("grow_small") < order.index("leak_some"), order
# calloc is sampled as malloc is, its cache hits too
assert order.index("grow_small") < order.index("clear_some") < order.index("leak_some"), order
assert abs(rows["leak_some"][0] - 8 * mib) < 0.35 * 8 * mib, rows["leak_some"]
assert rows["grow_large"][0] < mib and rows["grow_small"][0] < mib, rows
assert rows["clear_some"][0] < mib, rows
PY
"$heapviz" sites --collapsed "$WORK/a.json" >"$WORK/collapsed.txt" || rc=$?
check "--collapsed: a line per stack, outermost first, ending in the site and its bytes" \
    grep -qE '(^|;)main;leak_some [0-9]+$' "$WORK/collapsed.txt"
"$heapviz" sites --html "$WORK/flame.html" "$WORK/a.json" || rc=$?
check "--html: a flame graph page naming the sites" grep -q '<title>leak_some' "$WORK/flame.html"

head -4 "$WORK/leaks.err"
check "the leak report's largest stack starts in leak_some" python3 - "$WORK/leaks.err" "$prog" <<'PY'
import subprocess, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines[0].startswith("pmalloc: leak report: about "), lines[:2]
assert " allocated at:" in lines[1], lines[1]
where = lines[2].split()[-1]
assert where.startswith("[program]+"), where
addr = int(where.split("+")[1], 16) - 1
syms = []
for l in subprocess.run(["nm", "-S", "--defined-only", sys.argv[2]], capture_output=True, text=True).stdout.splitlines():
    f = l.split()
    if len(f) == 4:
        syms.append((int(f[0], 16), int(f[1], 16), f[3]))
names = [n for lo, size, n in syms if lo <= addr < lo + size]
assert names == ["leak_some"], (hex(addr), names)
PY

# The mean of one sample per N bytes, whichever path serves the block:
# malloc's fast path (grow_small's cache hits, on the cache's countdown),
# the size classes (grow_large), calloc and the arena (clear_some,
# leak_some, on the thread's own).  A block of s bytes is sampled with
# probability 1 - exp(-s / N), so each site's count of samples is within
# a few standard deviations of its expectation.
PMALLOC_PROF=1 PMALLOC_PROF_SAMPLE=4096 PMALLOC_SNAPSHOT_AT_EXIT="$WORK/rate.json" LD_PRELOAD="$PMALLOC_LIB" \
    "$prog" || rc=$?
"$heapviz" sites "$WORK/rate.json" >"$WORK/rate.txt" || rc=$?
check "one sample per 4096 bytes on every path: each site's samples within 5 sigma of the expected count" \
    python3 - "$WORK/rate.txt" <<'PY'
import math, re, sys
samples = {}
lines = open(sys.argv[1]).read().splitlines()
for i, l in enumerate(lines):
    m = re.match(r"\s+#\d+: .*\((\d+) samples\)$", l)
    if m:
        site = lines[i + 1].split()[0].split("+")[0]
        samples[site] = samples.get(site, 0) + int(m.group(1))
mib = 2**20
want = {"grow_large": (64 * mib // 4000, 4000), "grow_small": (16 * mib // 64, 64),
        "clear_some": (12 * mib // 64, 64), "leak_some": (8 * mib // 1000, 1000)}
for site, (n, size) in want.items():
    p = 1 - math.exp(-size / 4096.0)
    expected, sd = n * p, math.sqrt(n * p * (1 - p))
    print(site, samples.get(site, 0), "samples, expected", round(expected))
    assert abs(samples.get(site, 0) - expected) < 5 * sd, (site, samples.get(site), expected, sd)
PY

# the size classes would cut the big blocks in batches: off, so the
# pieces alternate
PMALLOC_TCACHE_BYTES=0 PMALLOC_PROF=1 PMALLOC_PROF_SAMPLE=1 PMALLOC_SNAPSHOT_AT_EXIT="$WORK/b.json" LD_PRELOAD="$PMALLOC_LIB" "$prog" pin || rc=$?
"$heapviz" sites --pinned "$WORK/b.json" >"$WORK/pinned.txt" || rc=$?
cat "$WORK/pinned.txt" | head -5
check "--pinned: pin_pages pins 100 to 200 pages, more than any other site" python3 - "$WORK/pinned.txt" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[2:]]
rows = [r for r in rows if len(r) == 4]
assert rows and rows[0][3] == "pin_pages", rows
assert 100 <= float(rows[0][0]) <= 200, rows[0]
PY

echo '{"format":"pmalloc-snapshot","version":1}' >"$WORK/plain.json"
out=$("$heapviz" sites "$WORK/plain.json" 2>&1) && rc=0 || rc=$?
check "sites on a snapshot without a profile: one line, status 2" test "$rc" = 2 -a "$(wc -l <<<"$out")" = 1
out=$("$heapviz" sites --collapsed --pinned "$WORK/a.json" 2>&1) && rc=0 || rc=$?
check "sites with two views: one line, status 2" test "$rc" = 2 -a "$(wc -l <<<"$out")" = 1
out=$("$heapviz" sites --live --bins "$WORK/a.json" 2>&1) && rc=0 || rc=$?
check "sites with a view option of another command: one line, status 2" test "$rc" = 2 -a "$(wc -l <<<"$out")" = 1
out=$("$heapviz" frag --collapsed "$WORK/a.json" 2>&1) && rc=0 || rc=$?
check "frag refuses --collapsed: one line, status 2" test "$rc" = 2 -a "$(wc -l <<<"$out")" = 1
# libunwind is opened when a profile starts, never before (configure.ac):
# a process without a profile maps neither it nor liblzma
if grep -q '^#define HAVE_LIBUNWIND 1' "$top_builddir/config.h" 2>/dev/null; then
    maps=$(LD_PRELOAD="$PMALLOC_LIB" cat /proc/self/maps)
    check "no profile: libunwind is not mapped" test "$(grep -c libunwind <<<"$maps")" = 0
    maps=$(PMALLOC_PROF=1 LD_PRELOAD="$PMALLOC_LIB" cat /proc/self/maps)
    check "a profile: libunwind is mapped" test "$(grep -c libunwind <<<"$maps")" -gt 0
fi
finish
