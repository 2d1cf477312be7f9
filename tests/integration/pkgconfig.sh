#!/usr/bin/env bash
# Programs linked the way a user links them, through pmalloc.pc, with
# Debian's own gcc and g++ (not the compiler the build was configured with:
# Debian's passes --as-needed to the linker).  Two programs that never name
# the malloc family: pkg_strdup.c (only strdup) and pkg_cxx.cpp (only new,
# delete and the standard containers).  Each is linked
#   dynamic:  gcc/g++ prog $(pkg-config --cflags --libs pmalloc)
#   static:   gcc/g++ -static prog $(pkg-config --cflags --static --libs pmalloc)
# and must then
#  1. (dynamic) list libpmalloc.so.1 in NEEDED, with libc's and libstdc++'s
#     malloc calls bound to it;
#     (static) hold pmalloc, none of glibc's allocator, and the layout
#     record heapviz looks for;
#  2. run on pmalloc: PMALLOC_STATS=1 prints its report at exit;
#  3. be read live by `heapviz --pid`, which finds the program's own block
#     (from strdup or new) in use in pmalloc's heap;
#  4. write a snapshot with PMALLOC_SNAPSHOT_AT_EXIT, holding that block.
# A third program, which calls malloc itself, is linked with a bare
# `gcc -static prog.c -lpmalloc` and must pass the same static checks: the
# library itself keeps the layout record and the at-exit snapshot in.
# pkg-config reads the build's pmalloc.pc (the file `make install` installs)
# with libdir and includedir pointed at the build and source trees.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/common.sh"

require_programs gcc g++ pkg-config readelf nm ar file
HEAPVIZ="$top_builddir/tools/heapviz/heapviz"
pc_file="$top_builddir/pmalloc.pc"
libs_dir="$top_builddir/.libs"
[[ -f "$pc_file" ]] || hard_error "$pc_file not found (configure makes it)"
[[ -x "$HEAPVIZ" ]] || hard_error "$HEAPVIZ not built"
[[ -f "$libs_dir/libpmalloc.a" ]] || hard_error "$libs_dir/libpmalloc.a not built"

# Only the build's pmalloc.pc, never one installed on this machine.
export PKG_CONFIG_LIBDIR="$top_builddir"
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
pc() {
    pkg-config --define-variable=libdir="$libs_dir" \
        --define-variable=includedir="$top_srcdir/include" "$@" pmalloc
}
pc --exists || hard_error "pkg-config does not accept $pc_file"
if gcc -dumpspecs | grep -q -- '--as-needed'; then
    echo "note: gcc links with --as-needed by default (as Debian's does)"
fi

# The block each program keeps live: PKG_BLOCK bytes, so a chunk of at
# least PKG_BLOCK plus a size word (more in the hardened mode).
block=7777
# Names glibc's malloc.o defines that only glibc's allocator has.
libc_a=$(gcc -print-file-name=libc.a)
[[ -f "$libc_a" ]] || hard_error "glibc's libc.a not found"
(cd "$WORK" && ar x "$libc_a" malloc.o) || hard_error "no malloc.o in $libc_a"
glibc_only=(_int_malloc _int_free main_arena)
for s in "${glibc_only[@]}"; do
    nm "$WORK/malloc.o" | grep -qE " $s\$" || hard_error "glibc's malloc.o has no $s"
done

MALLOC_FAMILY_RE='malloc|free|calloc|realloc|reallocarray|memalign|aligned_alloc|posix_memalign|valloc|pvalloc|malloc_usable_size|mallopt|malloc_trim|mallinfo2?|malloc_stats|malloc_info|pmalloc_.*'

# in_use_block SNAPSHOT: true if the snapshot holds an in-use chunk of the
# program's block size (up to 64 bytes of overhead, or the rest of the
# thread cache's size class it falls in: under an eighth more).
in_use_block() {
    grep -oE '"size":[0-9]+,"flags":[0-9]+,"state":"inuse"' "$1" |
        sed 's/"size":\([0-9]*\).*/\1/' |
        awk -v min=$((block + 8)) -v max=$((block + block / 4 + 64)) \
            '$1 >= min && $1 <= max { found = 1 } END { exit !found }'
}

# run_live BIN LABEL [ENV...]: runs BIN waiting on a fifo, reads it with
# heapviz --pid into $WORK/LABEL.live.json, lets it finish; its output is in
# $WORK/LABEL.{out,err} and its exit status in RUN_RC.
run_live() {
    local bin=$1 label=$2 fifo="$WORK/$2.fifo" pid i
    shift 2
    mkfifo "$fifo"
    env "$@" "$bin" wait <"$fifo" >"$WORK/$label.out" 2>"$WORK/$label.err" &
    pid=$!
    exec 3>"$fifo"
    for i in $(seq 200); do
        grep -qx ready "$WORK/$label.out" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    HEAPVIZ_RC=0
    if grep -qx ready "$WORK/$label.out" 2>/dev/null; then
        "$HEAPVIZ" --pid "$pid" --json -o "$WORK/$label.live.json" \
            2>"$WORK/$label.heapviz.err" || HEAPVIZ_RC=$?
    else
        echo "$label: the program never said it was ready" >"$WORK/$label.heapviz.err"
        HEAPVIZ_RC=99
    fi
    exec 3>&-
    RUN_RC=0
    wait "$pid" || RUN_RC=$?
}

# The third program names malloc itself; linked with a bare -static
# -lpmalloc (no pkg-config), it still must get the layout record and the
# at-exit snapshot.
cat >"$WORK/plain_malloc.c" <<EOF
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    (void)argv;
    char *p = malloc($block);
    if (p == NULL)
        return 1;
    memset(p, 1, $block);
    if (argc > 1) {
        puts("ready");
        fflush(stdout);
        char buf[64];
        while (read(0, buf, sizeof buf) > 0)
            ;
    }
    return 0;
}
EOF

for variant in strdup-dynamic strdup-static cxx-dynamic cxx-static malloc-plain; do
    prog=${variant%-*} kind=${variant#*-}
    case $prog in
    strdup) compiler=gcc src="$INTEG_SRCDIR/pkg_strdup.c" ;;
    cxx) compiler=g++ src="$INTEG_SRCDIR/pkg_cxx.cpp" ;;
    *) compiler=gcc src="$WORK/plain_malloc.c" ;;
    esac
    label=$variant
    bin="$WORK/$label"
    # Without optimisation, so the compiler keeps every allocation.
    case $kind in
    dynamic)
        flags=$(pc --cflags --libs)
        link=("$compiler" -O0 -o "$bin" "$src")
        how="through pkg-config" ;;
    static)
        flags=$(pc --cflags --static --libs)
        link=("$compiler" -O0 -static -o "$bin" "$src")
        how="through pkg-config --static" ;;
    *)
        flags="-L$libs_dir -lpmalloc"
        link=("$compiler" -O0 -static -o "$bin" "$src")
        how="-static -lpmalloc" ;;
    esac
    # shellcheck disable=SC2206 # pkg-config's output is split into words
    link+=($flags)
    if ! "${link[@]}" >"$WORK/$label.link.log" 2>&1; then
        fail "$label: ${link[*]} failed"
        tail -n 20 "$WORK/$label.link.log" >&2
        continue
    fi
    ok "$label: linked with $compiler $how"

    if [[ $kind == dynamic ]]; then
        # The premise: the program's own code names no malloc-family
        # function, so nothing but the link flags keeps libpmalloc.
        own=$(nm -D --undefined-only "$bin" 2>/dev/null | awk '{ print $NF }' |
            sed 's/@.*//' | grep -xE "$MALLOC_FAMILY_RE" | xargs || true)
        check "$label: the program names no malloc-family function ${own:+(names $own)}" \
            test -z "$own"
        needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | xargs)
        check "$label: NEEDED lists libpmalloc.so.1 ($needed)" \
            grep -qw 'libpmalloc\.so\.1' <<<"$needed"
        env_run=(LD_LIBRARY_PATH="$libs_dir" LD_DEBUG=bindings
            LD_DEBUG_OUTPUT="$WORK/$label.ld")
    else
        check "$label: file(1) says statically linked" \
            grep -q 'statically linked' <<<"$(file -L "$bin")"
        nm "$bin" >"$WORK/$label.nm" 2>/dev/null || true
        check "$label: the binary defines malloc" grep -qE ' T malloc$' "$WORK/$label.nm"
        # pkg-config's flags pull every malloc-family object, the one that
        # defines pmalloc_check (with malloc_usable_size) among them.
        if [[ $kind == static ]]; then
            check "$label: the binary holds all of pmalloc's API (pmalloc_check defined)" \
                grep -qE ' T pmalloc_check$' "$WORK/$label.nm"
        fi
        leaked=""
        for s in "${glibc_only[@]}"; do
            grep -qE " $s\$" "$WORK/$label.nm" && leaked+="$s "
        done
        check "$label: none of glibc's allocator is linked in ${leaked:+(has $leaked)}" \
            test -z "$leaked"
        check "$label: the layout record heapviz reads is linked in" \
            grep -qE ' [DR] pmalloc_layout$' "$WORK/$label.nm"
        env_run=()
    fi

    snap="$WORK/$label.snap.json"
    run_live "$bin" "$label" ${env_run[@]+"${env_run[@]}"} \
        PMALLOC_STATS=1 PMALLOC_SNAPSHOT_AT_EXIT="$snap"
    check "$label: runs and exits 0 (exit $RUN_RC)" test "$RUN_RC" -eq 0
    n=$(count_stats "$WORK/$label.err")
    check "$label: PMALLOC_STATS=1 printed pmalloc's report ($n)" test "$n" -ge 1
    if [[ $kind == dynamic ]]; then
        bound=$(cat "$WORK/$label.ld".* 2>/dev/null |
            grep -E "normal symbol \`malloc'" | sed 's/.* to \([^ ]*\) .*/\1/' | sort -u |
            xargs || true)
        check "$label: every malloc call binds to libpmalloc (${bound:-none})" \
            test -n "$bound" -a -z "$(tr ' ' '\n' <<<"$bound" | grep -v '^$' |
                grep -v '/libpmalloc\.so')"
    fi
    if ((HEAPVIZ_RC == 0)); then
        ok "$label: heapviz --pid read the live process"
    else
        fail "$label: heapviz --pid failed ($HEAPVIZ_RC): $(head -n 1 "$WORK/$label.heapviz.err")"
    fi
    check "$label: the live heap holds the program's $block-byte block in use" \
        in_use_block "$WORK/$label.live.json"
    check "$label: PMALLOC_SNAPSHOT_AT_EXIT wrote a snapshot" \
        grep -q '^{"format":"pmalloc-snapshot"' "$snap"
    check "$label: the snapshot at exit holds the block in use" in_use_block "$snap"
    check "$label: heapviz check finds the snapshot sound" \
        "$HEAPVIZ" check -o "$WORK/$label.check.txt" "$snap"
done
finish
