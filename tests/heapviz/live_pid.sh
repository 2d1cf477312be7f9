#!/bin/sh
# heapviz --pid on a live child gives the same chunks, states and bins as
# the child's own in-process snapshot; it also finds the library through
# the dynamic symbol table of an LD_PRELOADed libpmalloc.so.
. "$(dirname "$0")/common.sh"

start_child "$WORK/self.json"
check "--pid --json succeeds" "$HEAPVIZ" --pid "$CHILD_PID" --json -o "$WORK/live.json"
check "--pid text view succeeds" sh -c '"$0" --pid "$1" >"$2"' "$HEAPVIZ" "$CHILD_PID" "$WORK/live.txt"
stop_child || fail "the child failed"

check "live snapshot source is pid" grep -q '"source":"pid"' "$WORK/live.json"
check "self snapshot source is self" grep -q '"source":"self"' "$WORK/self.json"
"$HEAPVIZ" diff "$WORK/self.json" "$WORK/live.json" >"$WORK/diff.txt" 2>&1
check "same chunks from inside and outside" grep -q '^0 chunks appeared, 0 went, 0 changed size or state' "$WORK/diff.txt"
grep -v '^ *[a-z_]* .*(unchanged)$' "$WORK/diff.txt" | head -20
# the bins, in list order, are the same too
bins() { tr '\n' ' ' <"$1" | grep -o '"bins":\[[^]]*\]' | sort; }
bins "$WORK/self.json" >"$WORK/b1"
bins "$WORK/live.json" >"$WORK/b2"
check "same bins in the same order" cmp -s "$WORK/b1" "$WORK/b2"
check "every state seen" sh -c 'for s in inuse tcache store unsorted large top mmapped; do grep -q "\"state\":\"$s\"" "$0" || exit 1; done' "$WORK/live.json"
check "text names the thread arena" grep -q '^arena 1' "$WORK/live.txt"

# a dynamically linked program with the library preloaded
if [ -n "${PMALLOC_LIB:-}" ] && [ -f "$PMALLOC_LIB" ]; then
    LD_PRELOAD=$PMALLOC_LIB sleep 30 &
    SLEEPER=$!
    sleep 0.3
    check "--pid finds an LD_PRELOADed library" sh -c '"$0" --pid "$1" >"$2"' "$HEAPVIZ" "$SLEEPER" "$WORK/preload.txt"
    kill "$SLEEPER"
    wait "$SLEEPER" 2>/dev/null
    check "preloaded snapshot has the main arena" grep -q '^arena 0 (main)' "$WORK/preload.txt"
fi
finish
