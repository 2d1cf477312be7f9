#!/usr/bin/env bash
# perl (hashes, regexes, sort, string building): identical output on glibc
# and on pmalloc.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/common.sh"

require_programs perl
# Same hash seed in both runs (the script does not depend on it, but this
# also keeps Perl's allocation pattern the same).
RUN_ENV=(PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0)
run_both perl perl "$INTEG_SRCDIR/perl_work.pl"
compare_runs perl
check "perl: all 7 result lines printed" test "$(wc -l <"$WORK/perl.plain.out")" -eq 7
finish
