#!/bin/sh
# heapviz core reads a core dump of a crashed pmalloc program: the same
# chunks as the program's own snapshot just before it aborted.  Skipped
# when the system writes no core file here.
. "$(dirname "$0")/common.sh"

pattern=$(cat /proc/sys/kernel/core_pattern 2>/dev/null)
case $pattern in
"|"*) echo "$TEST_NAME: cores go to a program ($pattern): skipped"; exit 77 ;;
esac
(ulimit -c unlimited; cd "$WORK" && exec "$CHILD" "$WORK/self.json" crash >/dev/null 2>&1 </dev/null)
core=$(ls "$WORK"/core* 2>/dev/null | head -1)
if [ -z "$core" ]; then
    echo "$TEST_NAME: no core file was written: skipped"
    exit 77
fi
check "core: snapshot from the core" "$HEAPVIZ" core --json -o "$WORK/core.json" "$core" "$CHILD"
check "core: source is core" grep -q '"source":"core"' "$WORK/core.json"
"$HEAPVIZ" diff "$WORK/self.json" "$WORK/core.json" >"$WORK/diff.txt"
check "core: same chunks as the program saw" grep -q '^0 chunks appeared, 0 went, 0 changed size or state' "$WORK/diff.txt"
check "core: text view" sh -c '"$0" core "$1" "$2" | grep -q "^arena 0 (main)"' "$HEAPVIZ" "$core" "$CHILD"
finish
