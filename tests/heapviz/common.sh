# Shared code of the heapviz tests; each test sources it with
#   . "$(dirname "$0")/common.sh"
# Exit status: 0 pass, 1 fail, 77 skip, 99 hard error.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
HEAPVIZ=$top_builddir/tools/heapviz/heapviz
CHILD=$top_builddir/tests/heapviz/hv_child
HVSRC=$top_srcdir/tests/heapviz
TEST_NAME=$(basename "$0" .sh)
[ -x "$HEAPVIZ" ] || { echo "$TEST_NAME: $HEAPVIZ not built" >&2; exit 99; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/heapviz-$TEST_NAME.XXXXXX") || exit 99
CHILD_PID=
cleanup() {
    if [ -n "$CHILD_PID" ]; then kill "$CHILD_PID" 2>/dev/null; wait "$CHILD_PID" 2>/dev/null; fi
    exec 3>&- 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
export LC_ALL=C NO_COLOR=1
FAILURES=0
CHECKS=0
ok() { CHECKS=$((CHECKS + 1)); echo "ok: $*"; }
fail() { CHECKS=$((CHECKS + 1)); FAILURES=$((FAILURES + 1)); echo "FAIL: $*" >&2; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
finish() {
    echo "$TEST_NAME: $CHECKS checks, $FAILURES failed"
    [ "$FAILURES" -eq 0 ]
    exit $?
}
# The child's heap must show every kind of free chunk the arena has, so
# its frees above 1032 bytes go to the arena, not to the thread cache's
# size classes (tests/threads/test_tcache_classes covers those).
export PMALLOC_TCACHE_MAX=1032

# Starts hv_child, which snapshots itself into $1 and then waits until
# fd 3 is closed; sets CHILD_PID.
start_child() {
    mkfifo "$WORK/fifo" || exit 99
    "$CHILD" "$1" <"$WORK/fifo" >"$WORK/ready" &
    CHILD_PID=$!
    exec 3>"$WORK/fifo"
    for _ in $(seq 100); do
        grep -q ready "$WORK/ready" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "$TEST_NAME: the child did not start" >&2
    exit 99
}
stop_child() {
    exec 3>&-
    wait "$CHILD_PID"
    local rc=$?
    CHILD_PID=
    return $rc
}
# the count of chunks (heap and mmapped) in a snapshot
chunk_count() {
    "$HEAPVIZ" check "$1" >/dev/null 2>&1 # must at least parse
    grep -o '"state":"' "$1" | wc -l
}
