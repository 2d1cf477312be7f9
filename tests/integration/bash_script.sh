#!/usr/bin/env bash
# bash running a script with arrays, associative arrays, string operations,
# subshells and pipes: identical output on glibc and on pmalloc.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/common.sh"

require_programs bash sort awk
run_both bash bash "$INTEG_SRCDIR/bash_work.bash"
compare_runs bash
check "bash: fib 12 = 144" grep -qx "fib 12 = 144" "$WORK/bash.plain.out"
check "bash: script ran to its last line" \
    test "$(tail -n 1 "$WORK/bash.plain.out" | wc -w)" -eq 10
finish
