#!/usr/bin/env bash
# python3 allocating heavily (dicts, lists, strings, bytes, json, threads
# and a fork), on glibc and on pmalloc: the checksums it prints must agree,
# and its own /proc/self/maps must list libpmalloc only in the pmalloc run.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/common.sh"

require_programs python3
# PYTHONMALLOC=malloc sends every object, even small ones, to malloc
# instead of Python's own small-object allocator.
RUN_ENV=(PYTHONMALLOC=malloc PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1)
# The interpreter itself, not a wrapper such as a pyenv shim.
python=$(python3 -c 'import sys; print(sys.executable)') || hard_error "python3 does not run"
[[ -x "$python" ]] || hard_error "python3's sys.executable '$python' is not executable"
run_both python "$python" "$INTEG_SRCDIR/python_alloc.py" maps.txt
compare_runs python

check "python: checksums printed for all 6 phases" \
    test "$(grep -cE '^[a-z]+ +[0-9a-f]{16}$' "$WORK/python.plain.out")" -eq 6
if grep -qxF "$PMALLOC_LIB" "$WORK/python.pmalloc.dir/maps.txt"; then
    ok "python: /proc/self/maps lists $PMALLOC_LIB"
else
    fail "python: /proc/self/maps of the preloaded python does not list $PMALLOC_LIB"
fi
if grep -qxF "$PMALLOC_LIB" "$WORK/python.plain.dir/maps.txt"; then
    fail "python: the plain run had libpmalloc mapped"
else
    ok "python: the plain run did not map libpmalloc"
fi
finish
