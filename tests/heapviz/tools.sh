#!/bin/sh
# frag, check, diff and run.
. "$(dirname "$0")/common.sh"

(ulimit -c 0; cd "$WORK" && "$CHILD" "$WORK/a.json" x >/dev/null 2>&1 </dev/null)
[ -s "$WORK/a.json" ] || exit 99

"$HEAPVIZ" frag "$WORK/a.json" >"$WORK/frag.txt"
check "frag: exit 0" test $? -eq 0
for row in "process resident set" "free chunks in bins" "top slack" "parked in thread caches" \
    "mmapped overhead" "largest free chunk" "free bytes by size class"; do
    check "frag shows: $row" grep -q "$row" "$WORK/frag.txt"
done

"$HEAPVIZ" check "$WORK/a.json" >"$WORK/check.txt"
check "check: a sound heap has no problems" test $? -eq 0
check "check: says so" grep -q '^0 problems found' "$WORK/check.txt"

# corrupt one chunk's size and one bin's count in a copy: check lists
# both (and more), without stopping at the first
sed -e '0,/"size":32,/s//"size":48,/' -e '0,/"count":1,"bytes"/s//"count":5,"bytes"/' \
    "$WORK/a.json" >"$WORK/bad.json"
"$HEAPVIZ" check "$WORK/bad.json" >"$WORK/bad.txt"
check "check: a broken heap exits 1" test $? -eq 1
n=$(grep -c '^problem:' "$WORK/bad.txt")
check "check: several problems listed ($n)" test "$n" -ge 2
check "check: names the broken size" grep -q 'next chunk does not start where this one ends' "$WORK/bad.txt"
check "check: names the bin count" grep -q 'bin count disagrees' "$WORK/bad.txt"

# a partial snapshot: frag and check say so on stderr; check's status
# tells a heap found corrupt (1) from one not read consistently (3)
sed -e 's/"problems":\[\],"problems_dropped":0,"partial":false,"partial_reason":null/"problems":[{"what":"walk stopped here","addr":"0x10"}],"problems_dropped":0,"partial":true,"partial_reason":"walk stopped here"/' \
    "$WORK/a.json" >"$WORK/partial.json"
check "(the partial copy is partial)" grep -q '"partial":true' "$WORK/partial.json"
"$HEAPVIZ" frag "$WORK/partial.json" >/dev/null 2>"$WORK/frag.err"
check "frag on a partial snapshot: exit 0" test $? -eq 0
check "frag on a partial snapshot: one line says so" \
    sh -c 'test "$(wc -l <"$0")" -eq 1 && grep -q "is partial.*walk stopped here" "$0"' "$WORK/frag.err"
"$HEAPVIZ" check "$WORK/partial.json" >/dev/null 2>"$WORK/check.err"
check "check on a partial snapshot read consistently: exit 1" test $? -eq 1
check "check on a partial snapshot: one line says so" \
    sh -c 'test "$(wc -l <"$0")" -eq 1 && grep -q "is partial" "$0"' "$WORK/check.err"
sed -e 's/}$/,"capture":{"stop":"none","stops":0,"attempts":8,"locks_held":0,"consistent":false}}/' \
    "$WORK/partial.json" >"$WORK/unsteady.json"
"$HEAPVIZ" check "$WORK/unsteady.json" >/dev/null 2>"$WORK/check.err"
check "check on a snapshot not read consistently: exit 3" test $? -eq 3
check "check: says it was not read consistently" grep -q "not read consistently" "$WORK/check.err"

# diff: a heap against itself, and against the broken copy
"$HEAPVIZ" diff "$WORK/a.json" "$WORK/a.json" >"$WORK/same.txt"
check "diff: nothing changed" grep -q '^0 chunks appeared, 0 went, 0 changed size or state' "$WORK/same.txt"
"$HEAPVIZ" diff "$WORK/a.json" "$WORK/bad.json" >"$WORK/d.txt"
check "diff: one chunk changed" grep -q '^0 chunks appeared, 0 went, 1 changed' "$WORK/d.txt"
# the same difference as a JSON object and as a page
"$HEAPVIZ" diff --json "$WORK/a.json" "$WORK/bad.json" >"$WORK/d.json"
check "diff --json: exit 0" test $? -eq 0
check "diff --json: a pmalloc-diff object" grep -q '^{"format":"pmalloc-diff","version":1,' "$WORK/d.json"
check "diff --json: the counts" grep -q '"counts":{"appeared":0,"went":0,"changed":1,' "$WORK/d.json"
check "diff --json: the changed chunk, before and after" \
    grep -q '"change":"changed",.*"a":{"size":32,.*"b":{"size":48,' "$WORK/d.json"
if command -v python3 >/dev/null 2>&1; then
    check "diff --json: valid JSON" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$WORK/d.json"
fi
"$HEAPVIZ" diff --html "$WORK/d.html" "$WORK/a.json" "$WORK/bad.json"
check "diff --html: exit 0" test $? -eq 0
check "diff --html: a page" grep -q '^<!DOCTYPE html>' "$WORK/d.html"
check "diff --html: the counts" grep -q '0 appeared, 0 went, 1 changed size or state' "$WORK/d.html"
check "diff --html: one row for the changed chunk" test "$(grep -c '<tr class="changed">' "$WORK/d.html")" -eq 1
check "diff --html: self-contained" sh -c '! grep -qiE "(src|href)=|https?:" "$0"' "$WORK/d.html"

# run: a program on pmalloc, snapshot at exit (and a timeline)
if [ -n "${PMALLOC_LIB:-}" ] && [ -f "$PMALLOC_LIB" ]; then
    "$HEAPVIZ" run -- sh -c 'x=$(seq 1 2000 | sort -rn | head -1); test "$x" = 2000 && exec true' >"$WORK/run.txt"
    check "run: exit status of the program" test $? -eq 0
    check "run: text view of the exit snapshot" grep -q '^arena 0 (main)' "$WORK/run.txt"
    "$HEAPVIZ" run --every 50 --html "$WORK/run.html" -- sh -c 'sleep 0.4' >/dev/null
    check "run --every: the page has a timeline" grep -q '"time_ms":[0-9]*,"frag"' "$WORK/run.html"
    # --out PREFIX keeps every timeline point and the exit snapshot, and
    # diff compares any two
    "$HEAPVIZ" run --every 50 --out "$WORK/tl" -- sh -c 'sleep 0.4; seq 1 3000 | sort -rn >/dev/null' \
        >/dev/null 2>"$WORK/tl.err"
    check "run --out: exit 0" test $? -eq 0
    check "run --out: the first timeline point" test -s "$WORK/tl-1.json"
    check "run --out: a second one" test -s "$WORK/tl-2.json"
    check "run --out: the exit snapshot" test -s "$WORK/tl-exit.json"
    check "run --out: says where they went" grep -q "saved .* timeline snapshots ($WORK/tl-1.json" "$WORK/tl.err"
    check "run --out: diff of two points" sh -c '"$0" diff "$1" "$2" | grep -q "chunks\? appeared"' \
        "$HEAPVIZ" "$WORK/tl-1.json" "$WORK/tl-exit.json"
    "$HEAPVIZ" run -- false >/dev/null
    check "run: passes the exit status on" test $? -eq 1
    "$HEAPVIZ" run -- /nonexistent/program >/dev/null 2>"$WORK/run.err"
    check "run: a missing program is an error" test $? -ne 0
fi
finish
