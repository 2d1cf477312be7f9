#!/usr/bin/env bash
# The pmalloc-run wrapper (built from scripts/pmalloc-run.in): usage and
# status 2 without arguments; otherwise it runs the program on pmalloc,
# keeps its arguments and exit status, and appends to an existing
# LD_PRELOAD rather than replacing it.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/common.sh"

require_programs python3 gcc
wrapper="$top_builddir/scripts/pmalloc-run"
[[ -x "$wrapper" ]] || hard_error "$wrapper not found or not executable (make builds it)"

# No arguments: usage on stderr, status 2, nothing on stdout.
rc=0
"$wrapper" >"$WORK/noargs.out" 2>"$WORK/noargs.err" || rc=$?
check "pmalloc-run: no arguments exits 2 (got $rc)" test "$rc" -eq 2
check "pmalloc-run: no arguments prints usage on stderr" grep -qi usage "$WORK/noargs.err"
check "pmalloc-run: no arguments prints nothing on stdout" test ! -s "$WORK/noargs.out"

# Runs the program on pmalloc: the library is mapped, statistics appear.
maps_py='import sys; sys.stdout.write(open("/proc/self/maps").read())'
rc=0
PMALLOC_LIB="$PMALLOC_LIB" PMALLOC_STATS=1 "$wrapper" python3 -c "$maps_py" \
    >"$WORK/maps.out" 2>"$WORK/maps.err" || rc=$?
check "pmalloc-run: python3 exits 0 (got $rc)" test "$rc" -eq 0
if grep -qF "$PMALLOC_LIB" "$WORK/maps.out"; then
    ok "pmalloc-run: python3 has $PMALLOC_LIB mapped"
else
    fail "pmalloc-run: $PMALLOC_LIB is not mapped in the program"
fi
check "pmalloc-run: PMALLOC_STATS report on stderr" test "$(count_stats "$WORK/maps.err")" -ge 1

# Arguments (with spaces, empty, glob characters) pass through unchanged.
PMALLOC_LIB="$PMALLOC_LIB" "$wrapper" printf '[%s]\n' 'a b' '' '*' '$HOME' >"$WORK/args.out"
printf '[%s]\n' 'a b' '' '*' '$HOME' >"$WORK/args.expected"
check "pmalloc-run: arguments are passed unchanged" cmp -s "$WORK/args.out" "$WORK/args.expected"

# The exit status of the program is the wrapper's.
rc=0
PMALLOC_LIB="$PMALLOC_LIB" "$wrapper" sh -c 'exit 42' || rc=$?
check "pmalloc-run: exit status 42 passed through (got $rc)" test "$rc" -eq 42

# An LD_PRELOAD already set is kept (after pmalloc).
cat >"$WORK/marker.c" <<'C'
int pmalloc_test_marker(void) { return 1; }
C
gcc -shared -fPIC -o "$WORK/libmarker.so" "$WORK/marker.c" || hard_error "cannot build libmarker.so"
PMALLOC_LIB="$PMALLOC_LIB" LD_PRELOAD="$WORK/libmarker.so" "$wrapper" \
    python3 -c "$maps_py" >"$WORK/both.out"
check "pmalloc-run: pmalloc is loaded with another LD_PRELOAD" grep -qF "$PMALLOC_LIB" "$WORK/both.out"
check "pmalloc-run: the caller's LD_PRELOAD is kept" grep -qF "$WORK/libmarker.so" "$WORK/both.out"

# A missing library is an error, not a silent run on glibc.
rc=0
PMALLOC_LIB="$WORK/does-not-exist.so" "$wrapper" true 2>"$WORK/missing.err" || rc=$?
check "pmalloc-run: missing library is an error (status $rc)" test "$rc" -ne 0
check "pmalloc-run: missing library is named in the message" \
    grep -qF "$WORK/does-not-exist.so" "$WORK/missing.err"
finish
