#!/usr/bin/env bash
# The perl and sqlite3 workloads again, on pmalloc with non-default
# settings from the environment (every fast path off, memory perturbed,
# tiny mmap threshold; then one arena and no padding or trimming): the
# results must still equal glibc's.  The settings must really be read:
# the tiny mmap threshold has to show up as more mmapped chunks.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/common.sh"

require_programs perl sqlite3

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
finish
