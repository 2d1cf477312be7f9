#!/usr/bin/env bash
# The perl and sqlite3 workloads again, on pmalloc with non-default
# settings from the environment (every fast path off, memory perturbed,
# tiny mmap threshold; then one arena and no padding or trimming): the
# results must still equal glibc's.  The settings must really be read:
# the tiny mmap threshold has to show up as more mmapped chunks.
#
# Then, at a real start-up: glibc's GLIBC_TUNABLES names reach the options
# (as a snapshot of the heap shows them) with their precedence against the
# PMALLOC_ and MALLOC_ names; a misspelt PMALLOC_ name and an out-of-range
# value each get their one line; PMALLOC_VERBOSE=1 lists the options; and
# a set-user-ID program still reads none of it.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/common.sh"

require_programs perl sqlite3 python3

# Only PMALLOC_* names, which glibc ignores, so the plain runs are plain.
small_paths=(PMALLOC_PERTURB=165 PMALLOC_MMAP_THRESHOLD=4096
    PMALLOC_TCACHE_COUNT=0 PMALLOC_MXFAST=0)
one_arena=(PMALLOC_ARENA_MAX=1 PMALLOC_TOP_PAD=0 PMALLOC_TRIM_THRESHOLD=0)

for config in small_paths one_arena; do
    declare -n settings=$config
    RUN_ENV=("${settings[@]}" PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0)
    run_both "perl-$config" perl "$INTEG_SRCDIR/perl_work.pl"
    compare_runs "perl-$config"
    RUN_ENV=("${settings[@]}")
    RUN_STDIN="$INTEG_SRCDIR/sqlite.sql" run_both "sqlite-$config" sqlite3 -bail test.db
    compare_runs "sqlite-$config"
    unset -n settings
done
check "sqlite: 100000 rows in every run" \
    test "$(grep -l '^rows|100000|' "$WORK"/sqlite-*.out | wc -l)" -eq 4

# "mapped chunks, most = N" of the report of the sqlite3 process.
mmap_regions() {
    awk '/^  mapped chunks, most *=/ { n = $NF } END { print n + 0 }' "$1"
}
low=$(mmap_regions "$WORK/sqlite-small_paths.pmalloc.err")
default=$(mmap_regions "$WORK/sqlite-one_arena.pmalloc.err")
if ((low > default)); then
    ok "PMALLOC_MMAP_THRESHOLD=4096 was applied ($low mmapped chunks at most, $default with the default threshold)"
else
    fail "PMALLOC_MMAP_THRESHOLD=4096 made no difference ($low vs $default mmapped chunks)"
fi
# --- GLIBC_TUNABLES, messages and PMALLOC_VERBOSE at start-up ----------
# secure_prog (built for secure.sh, linked statically with pmalloc) prints
# the first byte of a new block: 0xaa when a perturb byte of 0x55 was read.
prog="$top_builddir/tests/integration/secure_prog"
[[ -x "$prog" ]] || hard_error "$prog not built (make check builds it)"

# snapshot_options NAME SETTING...: runs sort on pmalloc with the settings
# and an at-exit snapshot; prints the snapshot's options as key=value.
snapshot_options() {
    local name=$1
    shift
    rm -f "$WORK/$name".*.json
    printf 'b\na\n' | env "$@" LD_PRELOAD="$PMALLOC_LIB" \
        PMALLOC_SNAPSHOT_AT_EXIT="$WORK/$name.%p.json" sort >/dev/null 2>"$WORK/$name.err"
    python3 -c '
import json, sys
opts = json.load(open(sys.argv[1]))["options"]
print(" ".join("%s=%s" % (k, opts[k]) for k in ("arena_max", "tcache_count", "top_pad")))
' "$WORK/$name".*.json 2>&1
}
expect_options() {
    local what=$1 want=$2 got
    shift 2
    got=$(snapshot_options "$@")
    if [[ "$got" == "$want" ]]; then
        ok "$what: the snapshot's options say $want"
    else
        fail "$what: the snapshot's options say '$got', want '$want'"
    fi
}
tunables=GLIBC_TUNABLES=glibc.malloc.arena_max=2:glibc.malloc.tcache_count=0
expect_options "no setting" "arena_max=0 tcache_count=7 top_pad=131072" plain
expect_options "GLIBC_TUNABLES" "arena_max=2 tcache_count=0 top_pad=131072" tunables "$tunables"
check "GLIBC_TUNABLES: nothing on stderr" test ! -s "$WORK/tunables.err"
expect_options "GLIBC_TUNABLES over MALLOC_ARENA_MAX" "arena_max=2 tcache_count=0 top_pad=131072" \
    over_glibc MALLOC_ARENA_MAX=4 "$tunables"
expect_options "GLIBC_TUNABLES over MALLOC_ARENA_MAX, in the other order" \
    "arena_max=2 tcache_count=0 top_pad=131072" over_glibc2 "$tunables" MALLOC_ARENA_MAX=4
expect_options "PMALLOC_ARENA_MAX over GLIBC_TUNABLES" "arena_max=3 tcache_count=0 top_pad=131072" \
    under_pmalloc "$tunables" PMALLOC_ARENA_MAX=3 MALLOC_ARENA_MAX=4
expect_options "other namespaces and glibc names pmalloc lacks" \
    "arena_max=0 tcache_count=7 top_pad=4096" others \
    GLIBC_TUNABLES=glibc.rtld.nns=2:glibc.malloc.hugetlb=1:glibc.malloc.top_pad=4096
check "... are ignored without a word" test ! -s "$WORK/others.err"

# run_prog NAME SETTING...: secure_prog with exactly these settings.
run_prog() {
    local name=$1
    shift
    env -i PATH="$PATH" "$@" "$prog" >"$WORK/$name.out" 2>"$WORK/$name.err"
}
run_prog perturb GLIBC_TUNABLES=glibc.malloc.perturb=0x55
check "glibc.malloc.perturb is applied" grep -q 'first_byte=0xaa' "$WORK/perturb.out"

run_prog misspelt PMALLOC_TCACHE_CONT=0
check "a misspelt name: one line with the closest name" test "$(cat "$WORK/misspelt.err")" = \
    "pmalloc: ignoring PMALLOC_TCACHE_CONT=0: unknown name, did you mean PMALLOC_TCACHE_COUNT?"
run_prog unknown PMALLOC_NO_SUCH_THING=1 PMALLOC_LIB=/elsewhere PMALLOC_TEST_SEED=7
check "an unknown name: one line pointing to pmalloc(3)" test "$(cat "$WORK/unknown.err")" = \
    "pmalloc: ignoring PMALLOC_NO_SUCH_THING=1: unknown name, see pmalloc(3) for the options"
run_prog range GLIBC_TUNABLES=glibc.malloc.tcache_count=70000 PMALLOC_MMAP_THRESHOLD=64m
check "out-of-range values: one line each, with the range" test "$(cat "$WORK/range.err")" = \
    "pmalloc: ignoring PMALLOC_MMAP_THRESHOLD=64m: out of range 0..32 MiB
pmalloc: ignoring glibc.malloc.tcache_count=70000 in GLIBC_TUNABLES: out of range 0..65535"

run_prog verbose PMALLOC_VERBOSE=1 "$tunables" MALLOC_TOP_PAD_=64k PMALLOC_PERTURB=0x55
# One line for each PMALLOC_ name of the option table in src/options.c.
n_options=$(sed -n '/option_table\[\] = {/,/^};/p' "$top_srcdir/src/options.c" |
    grep -oE '"PMALLOC_[A-Z_]*"' | sort -u | wc -l)
((n_options >= 20)) || hard_error "only $n_options names in src/options.c's option_table: has its layout changed?"
check "PMALLOC_VERBOSE: a line per option ($n_options)" \
    test "$(grep -c '^pmalloc: PMALLOC_' "$WORK/verbose.err")" = "$n_options"
for line in "PMALLOC_ARENA_MAX=2 (from GLIBC_TUNABLES glibc.malloc.arena_max)" \
    "PMALLOC_TCACHE_COUNT=0 (from GLIBC_TUNABLES glibc.malloc.tcache_count)" \
    "PMALLOC_TOP_PAD=65536 (from MALLOC_TOP_PAD_)" "PMALLOC_PERTURB=85 (from the environment)" \
    "PMALLOC_MMAP_THRESHOLD=131072 (default)"; do
    check "PMALLOC_VERBOSE: pmalloc: $line" grep -qxF "pmalloc: $line" "$WORK/verbose.err"
done
check "PMALLOC_VERBOSE: the listing is on standard error only" \
    bash -c "! grep -qv '^secure=0 ' '$WORK/verbose.out'"

# The same settings given to the program set-user-ID root, by nobody: no
# option read, no line printed.  (Needs root and setpriv; secure.sh has
# the other half of this, the snapshot file.)
if ((EUID == 0)) && command -v setpriv >/dev/null; then
    chmod 755 "$WORK"
    cp "$prog" "$WORK/suid_prog"
    chown 0:0 "$WORK/suid_prog"
    chmod 4755 "$WORK/suid_prog"
    setpriv --reuid="$(id -u nobody 2>/dev/null || echo 65534)" \
        --regid="$(id -g nobody 2>/dev/null || echo 65534)" --clear-groups \
        env -i PATH="$PATH" PMALLOC_VERBOSE=1 GLIBC_TUNABLES=glibc.malloc.perturb=0x55 \
        PMALLOC_TCACHE_CONT=0 PMALLOC_MMAP_THRESHOLD=64m "$WORK/suid_prog" \
        >"$WORK/suid.out" 2>"$WORK/suid.err" || true
    if grep -q '^secure=1 ' "$WORK/suid.out"; then
        check "set-user-ID: GLIBC_TUNABLES is not read" grep -q 'first_byte=0x00' "$WORK/suid.out"
        check "set-user-ID: no listing, no message" test ! -s "$WORK/suid.err"
    else
        echo "$TEST_NAME: set-user-ID part skipped: the bit is not honoured here"
    fi
else
    echo "$TEST_NAME: set-user-ID part skipped: needs root and setpriv"
fi
finish
