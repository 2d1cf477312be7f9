#!/usr/bin/env bash
# sqlite3 on a database of 100,000 rows (insert through a recursive CTE,
# aggregates, indexes, a join, updates, vacuum): identical results on
# glibc and on pmalloc.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/common.sh"

require_programs sqlite3

RUN_STDIN="$INTEG_SRCDIR/sqlite.sql"
run_both sqlite sqlite3 -bail test.db
compare_runs sqlite
check "sqlite: 100000 rows inserted" grep -q '^rows|100000|' "$WORK/sqlite.plain.out"
check "sqlite: integrity check passed" grep -qx 'ok' "$WORK/sqlite.plain.out"
check "sqlite: the last statement ran" grep -q '^after vacuum|' "$WORK/sqlite.plain.out"
if cmp -s "$WORK/sqlite.plain.dir/test.db" "$WORK/sqlite.pmalloc.dir/test.db"; then
    ok "sqlite: the two database files are byte-identical"
else
    fail "sqlite: the database files differ"
fi
finish
