#!/usr/bin/env bash
# gcc (driver, cc1, as, collect2, ld: all of them preloaded) compiles a
# small C program on glibc and on pmalloc.  Same warnings, same status,
# byte-identical executables, and both executables print the same output.
# A file that does not compile must fail the same way.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/common.sh"

require_programs gcc sha256sum
cp "$INTEG_SRCDIR/gcc_input.c" "$INTEG_SRCDIR/gcc_broken.c" "$WORK/"

# -fdiagnostics-color=never: the output is a file in both runs anyway.
GCC=(gcc -O2 -Wall -Wextra -fdiagnostics-color=never)
run_both gcc "${GCC[@]}" -o prog "$WORK/gcc_input.c"
compare_runs gcc

for mode in plain pmalloc; do
    if [[ -x "$WORK/gcc.$mode.dir/prog" ]]; then
        ok "gcc: the $mode compiler produced an executable"
    else
        fail "gcc: the $mode compiler produced no executable"
    fi
done
check "gcc: warning about the unused variable printed" \
    grep -q "unused variable 'unused_on_purpose'" "$WORK/gcc.plain.err"
if cmp -s "$WORK/gcc.plain.dir/prog" "$WORK/gcc.pmalloc.dir/prog"; then
    ok "gcc: both compilers produced byte-identical executables"
else
    fail "gcc: the executables differ: $(sha256sum "$WORK"/gcc.*.dir/prog | tr '\n' ' ')"
fi

# The compiled programs themselves (on glibc, both).
for mode in plain pmalloc; do
    rc=0
    "$WORK/gcc.$mode.dir/prog" >"$WORK/prog.$mode.out" 2>&1 || rc=$?
    check "gcc: program built on $mode exits 0" test "$rc" -eq 0
done
if cmp -s "$WORK/prog.plain.out" "$WORK/prog.pmalloc.out"; then
    ok "gcc: both programs print the same $(wc -l <"$WORK/prog.plain.out") lines"
else
    fail "gcc: the programs print different output"
    show_diff "$WORK/prog.plain.out" "$WORK/prog.pmalloc.out" "prog output"
fi
check "gcc: the program printed its results" \
    grep -q "ackermann(2, 3) = 9" "$WORK/prog.plain.out"

# The error path.
run_both gcc_broken "${GCC[@]}" -o prog "$WORK/gcc_broken.c"
compare_runs gcc_broken
check "gcc_broken: gcc failed" test "$(cat "$WORK/gcc_broken.plain.rc")" -ne 0
check "gcc_broken: error about the missing member" \
    grep -q "has no member named 'z'" "$WORK/gcc_broken.plain.err"
finish
