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

# diff: a heap against itself, and against the broken copy
"$HEAPVIZ" diff "$WORK/a.json" "$WORK/a.json" >"$WORK/same.txt"
check "diff: nothing changed" grep -q '^0 chunks appeared, 0 went, 0 changed size or state' "$WORK/same.txt"
"$HEAPVIZ" diff "$WORK/a.json" "$WORK/bad.json" >"$WORK/d.txt"
check "diff: one chunk changed" grep -q '^0 chunks appeared, 0 went, 1 changed' "$WORK/d.txt"

# run: a program on pmalloc, snapshot at exit (and a timeline)
if [ -n "${PMALLOC_LIB:-}" ] && [ -f "$PMALLOC_LIB" ]; then
    "$HEAPVIZ" run -- sh -c 'x=$(seq 1 2000 | sort -rn | head -1); test "$x" = 2000 && exec true' >"$WORK/run.txt"
    check "run: exit status of the program" test $? -eq 0
    check "run: text view of the exit snapshot" grep -q '^arena 0 (main)' "$WORK/run.txt"
    "$HEAPVIZ" run --every 50 --html "$WORK/run.html" -- sh -c 'sleep 0.4' >/dev/null
    check "run --every: the page has a timeline" grep -q '"time_ms":[0-9]*,"frag"' "$WORK/run.html"
    "$HEAPVIZ" run -- false >/dev/null
    check "run: passes the exit status on" test $? -eq 1
    "$HEAPVIZ" run -- /nonexistent/program >/dev/null 2>"$WORK/run.err"
    check "run: a missing program is an error" test $? -ne 0
fi
finish
