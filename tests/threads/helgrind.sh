#!/bin/sh
# The thread-safety of pmalloc under valgrind's helgrind: helgrind_prog
# (four threads, cross-thread frees, remote frees during malloc_trim,
# thread exit and arena reuse) runs with LD_PRELOAD=$PMALLOC_LIB.
#
# Helgrind replaces malloc by default in every object that exports it,
# which would test valgrind's allocator instead of ours.  The option
# --soname-synonyms=somalloc=nouserintercepts (valgrind manual, "Alternate
# malloc library": a library name that matches nothing) limits the
# replacement to the system libraries, so the preloaded libpmalloc.so
# serves every call; the test checks valgrind's redirection trace to be
# sure.  Intentional lock-free accesses are suppressed, with reasons, in
# helgrind.supp; any other race fails the test (exit status 1).
# Exit status 77 (skip) when valgrind or the library is missing.
set -u

here=$(cd "$(dirname "$0")" && pwd)
: "${top_builddir:=$here/../..}"
prog="$top_builddir/tests/threads/helgrind_prog"
supp="$here/helgrind.supp"
rounds=${HELGRIND_ROUNDS:-1500}

if ! command -v valgrind >/dev/null 2>&1; then
    echo "helgrind.sh: valgrind not installed: skipped"
    exit 77
fi
if [ -z "${PMALLOC_LIB:-}" ] || [ ! -f "$PMALLOC_LIB" ]; then
    echo "helgrind.sh: PMALLOC_LIB (libpmalloc.so) not set or missing: skipped"
    exit 77
fi
if [ ! -x "$prog" ]; then
    echo "helgrind.sh: $prog not built" >&2
    exit 99
fi

log=$(mktemp "${TMPDIR:-/tmp}/pmalloc-helgrind.XXXXXX") || exit 99
trap 'rm -f "$log"' EXIT

LD_PRELOAD="$PMALLOC_LIB" valgrind --tool=helgrind --error-exitcode=1 \
    --soname-synonyms=somalloc=nouserintercepts --suppressions="$supp" \
    --trace-redir=yes --log-file="$log" "$prog" "$rounds"
status=$?

# valgrind's own messages (the trace) are lines starting "--PID--";
# the tool's reports start "==PID==".
grep -v '^--[0-9]*-- ' "$log"
if grep -E '^--[0-9]+-- +REDIR: .*\(libpmalloc[^)]*:(malloc|free|calloc|realloc)\) redirected' "$log" >/dev/null; then
    echo "helgrind.sh: FAIL: valgrind replaced pmalloc's malloc; pmalloc was not tested"
    exit 1
fi
if ! grep -E '^--[0-9]+-- Reading syms from .*libpmalloc' "$log" >/dev/null; then
    echo "helgrind.sh: FAIL: libpmalloc.so was not loaded"
    exit 1
fi
if [ "$status" -ne 0 ]; then
    echo "helgrind.sh: FAIL: helgrind found races or the program failed (status $status)"
    exit 1
fi
echo "helgrind.sh: no unexplained race"
exit 0
