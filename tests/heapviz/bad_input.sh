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

# a core dump (any ELF file) where a snapshot is wanted points at heapviz core
for cmd in frag check show; do
    expect_error "$cmd on an ELF file" $cmd "$CHILD"
    check "$cmd on an ELF file names heapviz core" grep -q "heapviz core" "$WORK/err"
done
# every command's bad arguments
expect_error "show: two files" "$WORK/good.json" "$WORK/good.json"
expect_error "show: --pid and a file" --pid 1 "$WORK/good.json"
expect_error "show: --every" --every 10 "$WORK/good.json"
expect_error "show: a program" "$WORK/good.json" -- true
expect_error "--pid without a value" --pid
expect_error "--html without a file" "$WORK/good.json" --html
expect_error "bad arena number" --arena x "$WORK/good.json"
expect_error "bad range" --range 10 "$WORK/good.json"
expect_error "empty range" --range 0x20:0x10 "$WORK/good.json"
expect_error "bad glyph count" --max-glyphs lots "$WORK/good.json"
expect_error "--no-stop on a file" --no-stop "$WORK/good.json"
expect_error "--no-stop with --sigstop" --no-stop --sigstop --pid 1
expect_error "core: no file" core
expect_error "core: three files" core "$WORK/good.json" "$CHILD" "$CHILD"
expect_error "core: --pid" core --pid 1 "$WORK/good.json"
expect_error "core: --no-stop" core --no-stop "$WORK/good.json" "$CHILD"
expect_error "diff: one file" diff "$WORK/good.json"
expect_error "diff: three files" diff "$WORK/good.json" "$WORK/good.json" "$WORK/good.json"
expect_error "diff: --pid" diff --pid 1 "$WORK/good.json"
expect_error "diff: --json and --html" diff --json --html "$WORK/d.html" "$WORK/good.json" "$WORK/good.json"
expect_error "diff: --bins" diff --bins "$WORK/good.json" "$WORK/good.json"
expect_error "diff: a missing file" diff "$WORK/good.json" "$WORK/does-not-exist.json"
expect_error "diff: --html into a missing directory" diff --html "$WORK/no/such/dir.html" "$WORK/good.json" \
    "$WORK/good.json"
expect_error "frag: two files" frag "$WORK/good.json" "$WORK/good.json"
expect_error "frag: --html" frag --html "$WORK/f.html" "$WORK/good.json"
expect_error "frag: --json" frag --json "$WORK/good.json"
expect_error "frag: no snapshot" frag
expect_error "frag: a garbage snapshot" frag "$WORK/garbage.json"
expect_error "check: two files" check "$WORK/good.json" "$WORK/good.json"
expect_error "check: --chunks" check --chunks "$WORK/good.json"
expect_error "check: no snapshot" check
expect_error "run: no program" run
expect_error "run: nothing after --" run --
expect_error "run: an argument before --" run stray -- true
expect_error "run: --every 0" run --every 0 -- true
expect_error "run: --every not a number" run --every soon -- true
expect_error "run: --out without a prefix" run --out
expect_error "run: --pid" run --pid 1 -- true
finish
