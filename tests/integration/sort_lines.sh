#!/usr/bin/env bash
# coreutils sort on a million generated lines (several key orders, and a
# small buffer so that sort merges temporary files): the sha256 of every
# result must be the same on glibc and on pmalloc.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/common.sh"

require_programs sort awk sha256sum

# A million lines from a fixed linear congruential generator (all
# arithmetic stays below 2^53, so any awk computes the same numbers).
awk 'BEGIN {
    x = 12345
    for (i = 0; i < 1000000; i++) {
        x = (x * 69069 + 1) % 4294967296
        printf "%08x %d %s%d\n", x, x % 100000, substr("kilo lima mike oscar papa romeo", 1 + x % 27, 4), i % 977
    }
}' >"$WORK/input.txt"
check "sort: input has 1000000 lines" test "$(wc -l <"$WORK/input.txt")" -eq 1000000

cat >"$WORK/sort_session.sh" <<SESSION
set -euo pipefail
in="$WORK/input.txt"
sort -o plain.txt "\$in"
sort -t ' ' -k2,2n -k1,1r -o numeric.txt "\$in"
sort -S 4M -T . -k3,3 -s -o merged.txt "\$in"
sort -u -k3,3 -o unique.txt "\$in"
sha256sum plain.txt numeric.txt merged.txt unique.txt
wc -l <unique.txt
SESSION
run_both sort bash "$WORK/sort_session.sh"
compare_runs sort

# The results are really sorted (so comparing them means something).
d="$WORK/sort.plain.dir"
check "sort: plain.txt is sorted" sort -c "$d/plain.txt"
check "sort: numeric.txt is sorted" sort -c -t ' ' -k2,2n -k1,1r "$d/numeric.txt"
check "sort: merged.txt is sorted" sort -c -k3,3 -s "$d/merged.txt"
check "sort: no line lost" test "$(wc -l <"$d/merged.txt")" -eq 1000000
for f in plain numeric merged unique; do
    if cmp -s "$d/$f.txt" "$WORK/sort.pmalloc.dir/$f.txt"; then
        ok "sort: $f.txt identical"
    else
        fail "sort: $f.txt differs between glibc and pmalloc"
    fi
done
finish
