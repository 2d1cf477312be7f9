#!/bin/sh
# Builds the libFuzzer harness: tests/fuzz/build.sh OUTPUT
# pmalloc's sources (the PMALLOC_SOURCES list of Makefile.am) are compiled
# with coverage instrumentation (-fsanitize=fuzzer-no-link) and linked into
# the harness, so libFuzzer's own allocations go through pmalloc as well.
# Needs clang with libFuzzer (Debian: clang, libclang-rt-14-dev) and a
# configured build tree for config.h.  Exits 77 when clang cannot build a
# fuzzer.  Environment: top_srcdir, top_builddir, CLANG (default clang).
set -eu
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=.}"
CLANG=${CLANG:-clang}
out=$1
mkdir -p "$(dirname "$out")"

if ! command -v "$CLANG" >/dev/null 2>&1; then
    echo "no $CLANG: skipped"
    exit 77
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' > "$probe/p.c"
if ! "$CLANG" -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
    echo "$CLANG cannot build a libFuzzer target (install libclang-rt-dev): skipped"
    exit 77
fi
if [ ! -f "$top_builddir/config.h" ]; then
    echo "no config.h in $top_builddir (run configure first)"
    exit 1
fi

# the library's sources, as Makefile.am lists them
srcs=$(sed -n '/^PMALLOC_SOURCES *=/,/^$/p' "$top_srcdir/Makefile.am" |
    tr ' \\\t' '\n\n\n' | grep '^src/.*\.c$')
[ -n "$srcs" ] || { echo "cannot read PMALLOC_SOURCES from Makefile.am"; exit 1; }

CFLAGS="-std=gnu11 -g -O1 -Wall -Wextra -Werror -pthread -I$top_builddir -I$top_srcdir/include -I$top_srcdir/src"
LIBFLAGS="-fvisibility=hidden -fno-builtin-malloc -fno-builtin-free -fno-builtin-calloc -fno-builtin-realloc -ftls-model=initial-exec"
objs=
for s in $srcs; do
    o=$probe/$(basename "$s" .c).o
    "$CLANG" $CFLAGS $LIBFLAGS -fsanitize=fuzzer-no-link -c "$top_srcdir/$s" -o "$o"
    objs="$objs $o"
done
"$CLANG" $CFLAGS -fno-builtin -fsanitize=fuzzer "$top_srcdir/tests/fuzz/fuzz_ops.c" $objs -o "$out"
