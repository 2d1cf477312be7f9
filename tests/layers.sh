#!/usr/bin/env bash
# The library's files use each other one way only (src/LAYERS): runs
# scripts/layers.py over src/ with the includes and, from the built
# objects, the symbols each file takes from the others.  First it shows
# the checker catches what it is for, on a small tree made here with an
# upward include, a loop and a file of no room.
set -euo pipefail
: "${top_srcdir:?}" "${top_builddir:?}"
checker="$top_srcdir/scripts/layers.py"
work=$(mktemp -d "${TMPDIR:-/tmp}/pmalloc-layers.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# --- the checker has teeth --------------------------------------------
mkdir "$work/bad"
printf 'low 1\nhigh 2\nleft 3\nright 3\n' >"$work/bad/LAYERS"
printf '#include "high.h"\n' >"$work/bad/low.h"
printf '/* nothing */\n' >"$work/bad/high.h"
printf '#include "right.h"\n' >"$work/bad/left.c"
printf '#include "left.h"\n' >"$work/bad/right.c"
: >"$work/bad/left.h"
: >"$work/bad/right.h"
: >"$work/bad/stray.c"
rc=0
python3 "$checker" "$work/bad" >"$work/bad.out" 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "a tree with problems was passed (exit $rc)"
grep -q '^up: low (floor 1) uses high (floor 2)' "$work/bad.out" || fail "upward include not reported"
grep -q '^loop: left <-> right' "$work/bad.out" || fail "loop not reported"
grep -q "stray.c: its room 'stray' is not in LAYERS" "$work/bad.out" || fail "file of no room not reported"
cat "$work/bad.out"

# --- the library ---------------------------------------------------------
objects=()
for c in "$top_srcdir"/src/*.c; do
    name="libpmalloc_la-$(basename "$c" .c).o"
    obj="$top_builddir/src/.libs/$name"
    [[ -f "$obj" ]] || obj="$top_builddir/src/$name"
    [[ -f "$obj" ]] || { echo "ERROR: $name not built" >&2; exit 99; }
    objects+=("$obj")
done
python3 "$checker" "$top_srcdir/src" "${objects[@]}" || fail "src/ breaks its layers (above)"

if ((failures > 0)); then
    echo "layers: $failures failed" >&2
    exit 1
fi
echo "layers: ok"
