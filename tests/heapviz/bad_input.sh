#!/bin/sh
# Bad input gives a one-line error and a non-zero exit, never a crash.
. "$(dirname "$0")/common.sh"

# expect_error NAME ARGS...: non-zero exit (not a signal), one line on stderr
expect_error() {
    name=$1
    shift
    "$HEAPVIZ" "$@" >"$WORK/out" 2>"$WORK/err"
    rc=$?
    lines=$(wc -l <"$WORK/err")
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && [ "$lines" -eq 1 ] && grep -q '^heapviz: ' "$WORK/err"; then
        ok "$name: $(cat "$WORK/err")"
    else
        fail "$name: exit $rc, $lines line(s) on stderr: $(head -3 "$WORK/err")"
    fi
}

(ulimit -c 0; cd "$WORK" && "$CHILD" "$WORK/good.json" x >/dev/null 2>&1 </dev/null) # the abort mode: snapshot, then abort
[ -s "$WORK/good.json" ] || { echo "no snapshot from the child" >&2; exit 99; }
head -c 3000 "$WORK/good.json" >"$WORK/truncated.json"
printf '{"format":"pmalloc-snapshot","version":1,' >"$WORK/cut.json"
printf 'not json at all\n' >"$WORK/garbage.json"
printf '{"format":"something-else","version":1}' >"$WORK/other.json"
printf '{"format":"pmalloc-snapshot","version":99}' >"$WORK/future.json"
: >"$WORK/empty.json"

expect_error "truncated snapshot" "$WORK/truncated.json"
expect_error "cut after a comma" "$WORK/cut.json"
expect_error "invalid JSON" "$WORK/garbage.json"
expect_error "empty file" "$WORK/empty.json"
expect_error "JSON of another format" "$WORK/other.json"
expect_error "a future snapshot version" "$WORK/future.json"
expect_error "missing file" "$WORK/does-not-exist.json"
expect_error "check on a truncated snapshot" check "$WORK/truncated.json"
expect_error "diff with a broken snapshot" diff "$WORK/good.json" "$WORK/garbage.json"

# a pid that does not exist (the highest pid is never in use for long)
expect_error "non-existent pid" --pid 2147483647
expect_error "pid 0" --pid 0
expect_error "pid that is not a number" --pid abc
# a process without pmalloc
sleep 30 &
SLEEPER=$!
expect_error "process without pmalloc" --pid "$SLEEPER"
kill "$SLEEPER"
wait "$SLEEPER" 2>/dev/null
# a kernel thread (no user memory at all)
expect_error "kernel thread" --pid 2
# no permission: as an unprivileged user on pid 1
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
    setpriv --reuid=65534 --regid=65534 --clear-groups "$HEAPVIZ" --pid 1 >"$WORK/out" 2>"$WORK/err"
    rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && [ "$(wc -l <"$WORK/err")" -eq 1 ]; then
        ok "no permission: $(cat "$WORK/err")"
    else
        fail "no permission: exit $rc: $(cat "$WORK/err")"
    fi
elif [ "$(id -u)" -ne 0 ]; then
    expect_error "no permission (pid 1)" --pid 1
fi
expect_error "core file that is not a core" core "$WORK/good.json" "$CHILD"
expect_error "unknown option" --frobnicate
finish
