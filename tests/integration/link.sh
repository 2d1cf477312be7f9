#!/usr/bin/env bash
# link_prog.c linked fully static (link_static) and with -lpmalloc
# (link_dynamic), both built by `make check`:
#  1. the static binary holds none of glibc's allocator (the symbols that
#     glibc's own malloc.o defines, taken from libc.a here, not from a list);
#  2. the dynamic binary needs libpmalloc, ahead of libc, and its malloc
#     and libc's bind to it;
#  3. both run, pass their own checks, print the same summary, and print
#     pmalloc's statistics with PMALLOC_STATS=1.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/common.sh"

require_programs nm readelf ar gcc file
static_bin="$top_builddir/tests/integration/link_static"
dynamic_bin="$top_builddir/tests/integration/link_dynamic"
static_lib="$top_builddir/.libs/libpmalloc.a"
for f in "$static_bin" "$dynamic_bin"; do
    [[ -x "$f" ]] || hard_error "$f not built (make check builds it)"
done
[[ -f "$static_lib" ]] || hard_error "$static_lib not found"
if [[ "$(head -c 2 "$dynamic_bin")" == '#!' ]]; then
    hard_error "$dynamic_bin is a libtool wrapper script; it must be linked -no-install"
fi

# --- 1. no glibc allocator in the static binary -------------------------
libc_a=$(gcc -print-file-name=libc.a)
[[ -f "$libc_a" ]] || hard_error "glibc's libc.a not found (gcc -print-file-name=libc.a)"
(cd "$WORK" && ar x "$libc_a" malloc.o) || hard_error "no malloc.o in $libc_a"
# Names glibc's malloc.o defines (local ones too), without compiler
# suffixes such as .part.0, minus the names pmalloc defines itself
# (malloc, __libc_malloc, ...): what remains exists only in glibc's malloc.
defined_names() {
    nm --defined-only "$1" 2>/dev/null | awk 'NF == 3 { print $3 }' |
        grep -vE '^(\.L|__PRETTY_FUNCTION__)' | sed 's/\..*//' | sort -u
}
defined_names "$WORK/malloc.o" >"$WORK/glibc_malloc.txt"
defined_names "$static_lib" >"$WORK/pmalloc_a.txt"
comm -23 "$WORK/glibc_malloc.txt" "$WORK/pmalloc_a.txt" >"$WORK/glibc_only.txt"
for s in _int_malloc _int_free main_arena tcache_init; do
    check "static: glibc's malloc.o defines $s (and pmalloc does not)" \
        grep -qxF "$s" "$WORK/glibc_only.txt"
done

check "static: file(1) says the binary is statically linked" \
    grep -q 'statically linked' <<<"$(file -L "$static_bin")"
defined_names "$static_bin" >"$WORK/static_syms.txt"
check "static: the binary has a symbol table" grep -qx main "$WORK/static_syms.txt"
check "static: the binary holds pmalloc (pmalloc_check defined)" \
    grep -qx pmalloc_check "$WORK/static_syms.txt"
leaked=$(comm -12 "$WORK/glibc_only.txt" "$WORK/static_syms.txt" | tr '\n' ' ')
if [[ -z "$leaked" ]]; then
    ok "static: none of the $(wc -l <"$WORK/glibc_only.txt") glibc malloc.o symbols is in the binary"
else
    fail "static: glibc's allocator was linked in: $leaked"
fi

# --- 2. the dynamic binary needs libpmalloc, ahead of libc --------------
readelf -d "$dynamic_bin" >"$WORK/dynamic.txt" || hard_error "readelf -d failed"
sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' "$WORK/dynamic.txt" >"$WORK/needed.txt"
pm_line=$(grep -nE '^libpmalloc\.so' "$WORK/needed.txt" | cut -d: -f1 || true)
libc_line=$(grep -nE '^libc\.so' "$WORK/needed.txt" | cut -d: -f1 || true)
if [[ -n "$pm_line" ]]; then
    ok "dynamic: NEEDED lists $(sed -n "${pm_line}p" "$WORK/needed.txt")"
else
    fail "dynamic: NEEDED does not list libpmalloc: $(tr '\n' ' ' <"$WORK/needed.txt")"
fi
check "dynamic: libpmalloc comes before libc in NEEDED" \
    test -n "$pm_line" -a -n "$libc_line" -a "${pm_line:-0}" -lt "${libc_line:-0}"
resolved=$(ldd "$dynamic_bin" | awk '$1 ~ /^libpmalloc\.so/ { print $3 }')
if [[ -n "$resolved" && "$(readlink -f "$resolved")" == "$PMALLOC_LIB" ]]; then
    ok "dynamic: ldd resolves libpmalloc to the built $PMALLOC_LIB"
else
    fail "dynamic: ldd resolves libpmalloc to '${resolved:-nothing}', not $PMALLOC_LIB"
fi

# --- 3. both run, agree, and print pmalloc's statistics -----------------
for kind in static dynamic; do
    bin="$top_builddir/tests/integration/link_$kind"
    mkdir -p "$WORK/ld.$kind"
    rc=0
    (cd "$WORK" && env PMALLOC_STATS=1 LD_DEBUG=bindings \
        LD_DEBUG_OUTPUT="$WORK/ld.$kind/pid" "$bin") \
        >"$WORK/$kind.out" 2>"$WORK/$kind.err" || rc=$?
    if ((rc == 0)); then
        ok "$kind: link_prog passed its own checks"
    else
        fail "$kind: link_prog exited with $rc"
        tail -n 20 "$WORK/$kind.err" >&2
    fi
    n=$(count_stats "$WORK/$kind.err")
    check "$kind: PMALLOC_STATS=1 printed a statistics report ($n)" test "$n" -ge 1
    rc=0
    (cd "$WORK" && "$bin") >/dev/null 2>"$WORK/$kind.nostats.err" || rc=$?
    check "$kind: runs without PMALLOC_STATS (exit $rc)" test "$rc" -eq 0
    check "$kind: no statistics without PMALLOC_STATS" \
        test "$(count_stats "$WORK/$kind.nostats.err")" -eq 0
done
if cmp -s "$WORK/static.out" "$WORK/dynamic.out"; then
    ok "static and dynamic print the same summary"
else
    fail "static and dynamic print different summaries"
    show_diff "$WORK/static.out" "$WORK/dynamic.out" "summary"
fi
check "summary reports a sound heap" grep -qx 'pmalloc_check problems: 0' "$WORK/static.out"

# Where the dynamic program's (and libc's) malloc calls go.
bound=$(grep -hE "normal symbol \`(malloc|free)'" "$WORK"/ld.dynamic/pid.* 2>/dev/null |
    sed 's/^ *[0-9]*:[[:space:]]*//' | sort -u || true)
if [[ -z "$bound" ]]; then
    fail "dynamic: the dynamic linker logged no binding of malloc or free"
elif grep -qv ' to [^ ]*/libpmalloc\.so[.0-9]* \[' <<<"$bound"; then
    fail "dynamic: malloc/free bound elsewhere than libpmalloc:"
    grep -v ' to [^ ]*/libpmalloc\.so[.0-9]* \[' <<<"$bound" | head -n 5 >&2
else
    ok "dynamic: malloc and free (of the program and of libc) bind to libpmalloc"
fi
finish
