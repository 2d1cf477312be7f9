#!/bin/sh
# valgrind's memcheck must find the same leaks, invalid reads and invalid
# frees in a program running on pmalloc as on glibc's malloc.
#
# tests/misuse/leaky (a plain dynamic program) is run three ways:
#   glibc    no pmalloc at all: the reference;
#   replace  LD_PRELOAD=libpmalloc.so with --soname-synonyms=somalloc=*pmalloc*:
#            valgrind replaces pmalloc's malloc family with its own (the
#            glibc-equivalent baseline: what users get with that option);
#   client   LD_PRELOAD=libpmalloc.so with --soname-synonyms=somalloc=NONE:
#            pmalloc's own functions run, and memcheck knows its blocks
#            only through pmalloc's client requests (src/memcheck.h).
# memcheck.sh checks glibc and replace; memcheck_client.sh (the same script
# under another name) checks client.  Each mode must report exactly:
#   leaks:   "definitely lost: 35,666 bytes in 3 blocks", nothing possibly
#            lost or still reachable, 2 invalid reads of size 1 (past the
#            end, after free), 5 errors in all;
#   badfree: 2 invalid frees (a double free, a pointer into a block) and
#            the program carries on to a normal exit, 2 errors in all;
# and memcheck's --error-exitcode must be the exit status.  Skips (77)
# without valgrind.

set -u
: "${top_builddir:=.}"
LEAKY=$top_builddir/tests/misuse/leaky
LIB=${PMALLOC_LIB:-$top_builddir/.libs/libpmalloc.so}

case $(basename "$0") in
memcheck_client*) MODES="client" ;;
*) MODES="glibc replace" ;;
esac

if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind not found: skipped"
    exit 77
fi
if ! valgrind -q --tool=none /bin/true >/dev/null 2>&1; then
    echo "valgrind does not run here: skipped"
    exit 77
fi
[ -x "$LEAKY" ] || { echo "missing $LEAKY"; exit 1; }
[ -f "$LIB" ] || { echo "missing $LIB"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# run MODE WHAT: runs leaky WHAT under memcheck; output in $tmp/MODE.WHAT
run() {
    mode=$1 what=$2 out=$tmp/$1.$2
    set -- valgrind --leak-check=full --show-leak-kinds=all --error-exitcode=3 \
        --log-file="$out"
    case $mode in
    glibc) "$@" "$LEAKY" "$what" ;;
    replace) LD_PRELOAD=$LIB "$@" "--soname-synonyms=somalloc=*pmalloc*" "$LEAKY" "$what" ;;
    client) LD_PRELOAD=$LIB "$@" --soname-synonyms=somalloc=NONE "$LEAKY" "$what" ;;
    esac
    echo $? > "$out.rc"
}

# expect MODE WHAT PATTERN COUNT: PATTERN occurs COUNT times
expect() {
    n=$(grep -c -- "$3" "$tmp/$1.$2")
    if [ "$n" -ne "$4" ]; then
        echo "FAIL $1 $2: \"$3\" seen $n times, expected $4"
        fail=1
    fi
}

for mode in $MODES; do
    run "$mode" leaks
    run "$mode" badfree
    # the allocator that served the blocks is the one the mode says:
    # valgrind's own (vgpreload_memcheck) or pmalloc's
    case $mode in
    client) expect "$mode" leaks "vgpreload_memcheck" 0 ;;
    *) [ "$(grep -c "vgpreload_memcheck" "$tmp/$mode.leaks")" -gt 0 ] ||
        { echo "FAIL $mode: valgrind did not replace malloc"; fail=1; } ;;
    esac
    expect "$mode" leaks "definitely lost: 35,666 bytes in 3 blocks" 1
    expect "$mode" leaks "111 bytes in 1 blocks are definitely lost" 1
    expect "$mode" leaks "2,222 bytes in 1 blocks are definitely lost" 1
    expect "$mode" leaks "33,333 bytes in 1 blocks are definitely lost" 1
    expect "$mode" leaks "possibly lost: 0 bytes in 0 blocks" 1
    expect "$mode" leaks "still reachable: 0 bytes in 0 blocks" 1
    expect "$mode" leaks "Invalid read of size 1" 2
    expect "$mode" leaks "Address .* is 0 bytes after a block of size 10 alloc'd" 1
    expect "$mode" leaks "Address .* is 8 bytes inside a block of size 64 free'd" 1
    expect "$mode" leaks "ERROR SUMMARY: 5 errors from 5 contexts" 1
    expect "$mode" badfree "Invalid free() / delete / delete\[\] / realloc()" 2
    expect "$mode" badfree "is 0 bytes inside a block of size 40 free'd" 1
    expect "$mode" badfree "is 16 bytes inside a block of size 4,000 alloc'd" 1
    expect "$mode" badfree "ERROR SUMMARY: 2 errors from 2 contexts" 1
    expect "$mode" badfree "Process terminating" 0
    for what in leaks badfree; do
        rc=$(cat "$tmp/$mode.$what.rc")
        if [ "$rc" -ne 3 ]; then
            echo "FAIL $mode $what: exit status $rc, expected 3 (memcheck's --error-exitcode)"
            fail=1
        fi
    done
    if [ $fail -ne 0 ]; then
        for what in leaks badfree; do
            echo "---- $mode $what"
            grep -v "^==[0-9]*==    \(at\|by\) " "$tmp/$mode.$what"
        done
    else
        echo "ok   $mode"
    fi
done
exit $fail
