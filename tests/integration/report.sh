#!/usr/bin/env bash
# PMALLOC_STATS=1 and PMALLOC_STATS=json print a report at exit headed with
# the program, pid and version, whose resident-memory breakdown adds up to
# the process's RSS, with the known amounts a test program leaves in use,
# free in the bins and mapped each in its place.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/common.sh"

require_programs python3
prog="$top_builddir/tests/integration/report_prog"
[[ -x "$prog" ]] || hard_error "$prog not built (make check builds it)"
live=24 freed=16 mapped=8

rc=0
PMALLOC_STATS=json LD_PRELOAD="$PMALLOC_LIB" "$prog" $live $freed $mapped \
    >"$WORK/json.out" 2>"$WORK/json.err" || rc=$?
check "json run exits 0 (rc=$rc)" test "$rc" = 0
cat "$WORK/json.err"
check "json: the report is one JSON object whose parts add up" python3 - "$WORK/json.err" $live $freed $mapped <<'PY'
import json, sys
text = open(sys.argv[1]).read().strip()
r = json.loads(text)
live, freed, mapped = (int(x) * 2**20 for x in sys.argv[2:5])
res, mem = r["resident"], r["memory"]
assert r["format"] == "pmalloc-stats" and r["program"].endswith("report_prog") and r["pid"] > 0, r
parts = sum(res[k] for k in ("in_use", "free_in_bins", "top", "thread_caches",
                             "mapped_chunks", "metadata", "outside_pmalloc"))
assert parts == mem["rss"], (parts, mem["rss"])
assert mem["rss_peak"] >= mem["rss"]
# what the program left, each in its place (headers and the program's own
# table of pointers are small against these)
assert live <= res["in_use"] <= live * 1.05 + 2**20, (res["in_use"], live)
# freed blocks wait in the bins or, up to its budget, in the thread cache
freed_seen = res["free_in_bins"] + res["thread_caches"]
assert freed * 0.95 <= freed_seen <= freed * 1.05 + 2**20, (freed_seen, freed)
assert mapped <= res["mapped_chunks"] <= mapped + 2 * 4096, (res["mapped_chunks"], mapped)
assert mem["system_peak"] >= mem["system"] >= live + freed + mapped
assert r["calls"]["mmap"] >= 1 and r["calls"]["arena_requests"] > 0
PY

rc=0
PMALLOC_STATS=1 LD_PRELOAD="$PMALLOC_LIB" "$prog" $live $freed $mapped \
    >"$WORK/text.out" 2>"$WORK/text.err" || rc=$?
check "text run exits 0 (rc=$rc)" test "$rc" = 0
check "text: headed with version, program and pid" \
    grep -qE '^pmalloc [0-9]+\.[0-9]+\.[0-9]+ statistics: .*report_prog \(pid [0-9]+\)$' "$WORK/text.err"
for label in "in use" "free in bins" "top" "thread caches" "mapped chunks" "metadata" \
    "outside pmalloc" "process RSS" "from the system, peak"; do
    check "text: names '$label'" grep -qE "^  $label +=  *[0-9]+$" "$WORK/text.err"
done
check "text: ends with its closing line" test "$(tail -n 1 "$WORK/text.err")" = "end of pmalloc statistics"
check "text: counted as one report by the other tests' filter" test "$(count_stats "$WORK/text.err")" = 1
check "program output untouched" grep -qx ready "$WORK/text.out"

finish
