#!/usr/bin/env bash
# A set-user-ID-root program linked with pmalloc, run by an unprivileged
# user, must read no environment option and must create or truncate no
# file the caller names (PMALLOC_SNAPSHOT_AT_EXIT): the caller could make
# it write a root-owned file anywhere, or empty one.  Also, in an ordinary
# program, the at-exit snapshot is written only as a new file: an existing
# file (or a link) is left as it was, with one line saying why.
#
# Needs root (to make the binary set-user-ID root) and setpriv; skipped
# otherwise, and when the file system ignores the set-user-ID bit.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/common.sh"

require_programs setpriv
prog="$top_builddir/tests/integration/secure_prog"
[[ -x "$prog" ]] || hard_error "$prog not built (make check builds it)"
if ((EUID != 0)); then
    echo "$TEST_NAME: SKIP: needs root to make a set-user-ID-root binary"
    exit 77
fi

nobody_uid=$(id -u nobody 2>/dev/null || echo 65534)
nobody_gid=$(id -g nobody 2>/dev/null || echo 65534)
# Every directory on the way must let nobody through.
chmod 755 "$WORK"
bin="$WORK/secure_prog"
cp "$prog" "$bin"
chown 0:0 "$bin"
chmod 4755 "$bin"
out_dir="$WORK/root-only"      # nobody cannot write here, root can
mkdir "$out_dir"
chmod 755 "$out_dir"
victim="$out_dir/victim"       # a file the caller would like emptied
echo "precious contents" >"$victim"
ln -s "$victim" "$out_dir/link"

options=(PMALLOC_PERTURB=0x55 MALLOC_PERTURB_=85 PMALLOC_STATS=1)

# --- 1. the options work in an ordinary run (so the checks below can fail)
rc=0
env "${options[@]}" PMALLOC_SNAPSHOT_AT_EXIT="$WORK/plain-%p.json" \
    "$prog" >"$WORK/plain.out" 2>"$WORK/plain.err" || rc=$?
check "ordinary run exits 0 (rc=$rc)" test "$rc" = 0
check "ordinary run: not in secure mode" grep -q '^secure=0 ' "$WORK/plain.out"
check "ordinary run: PMALLOC_PERTURB is read (a new block is filled)" \
    grep -q 'first_byte=0xaa' "$WORK/plain.out"
check "ordinary run: PMALLOC_STATS is read (statistics at exit)" \
    grep -q '^end of pmalloc statistics$' "$WORK/plain.err"
check "ordinary run: PMALLOC_SNAPSHOT_AT_EXIT writes a snapshot" \
    bash -c "compgen -G '$WORK/plain-*.json' >/dev/null"

# --- 2. the same options given to the set-user-ID program by nobody ------
run_as_nobody() {
    setpriv --reuid="$nobody_uid" --regid="$nobody_gid" --clear-groups \
        env "${options[@]}" "$@"
}
for target in "$out_dir/snap-%p.json" "$victim" "$out_dir/link"; do
    rc=0
    run_as_nobody PMALLOC_SNAPSHOT_AT_EXIT="$target" "$bin" \
        >"$WORK/suid.out" 2>"$WORK/suid.err" || rc=$?
    if grep -q '^secure=0 ' "$WORK/suid.out"; then
        echo "$TEST_NAME: SKIP: the set-user-ID bit is not honoured here (nosuid mount?)"
        exit 77
    fi
    check "set-user-ID run ($target) exits 0 (rc=$rc)" test "$rc" = 0
    check "set-user-ID run: in secure mode with euid 0" grep -q '^secure=1 euid=0 ' "$WORK/suid.out"
    check "set-user-ID run: PMALLOC_PERTURB is not read" grep -q 'first_byte=0x00' "$WORK/suid.out"
    check "set-user-ID run: nothing on stderr (no statistics, no message)" test ! -s "$WORK/suid.err"
done
check "set-user-ID runs created no file in a directory only root may write" \
    test "$(find "$out_dir" -mindepth 1 | sort | tr '\n' ' ')" = "$out_dir/link $victim "
check "set-user-ID runs left the named file untouched" \
    test "$(cat "$victim")" = "precious contents"

# --- 3. an ordinary run never overwrites an existing file or follows a link
for target in "$victim" "$out_dir/link"; do
    rc=0
    PMALLOC_SNAPSHOT_AT_EXIT="$target" "$prog" >/dev/null 2>"$WORK/exists.err" || rc=$?
    check "existing $target: the program still exits 0 (rc=$rc)" test "$rc" = 0
    check "existing $target: left untouched" test "$(cat "$victim")" = "precious contents"
    check "existing $target: one line names the file and the reason" \
        grep -qE "^pmalloc: PMALLOC_SNAPSHOT_AT_EXIT: cannot write $target: .*\((EEXIST|ELOOP)\)" \
        "$WORK/exists.err"
done

finish
