#!/usr/bin/env bash
# The shared library exports the malloc family and the pmalloc_ API, and
# nothing else: every internal function must stay hidden.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
. "$(dirname "$0")/common.sh"

require_programs nm readelf

# Must be there: the standard and glibc-extension malloc family, the
# glibc-internal entry points glibc itself calls, the pmalloc.h API.
required=(
    malloc free calloc realloc reallocarray memalign posix_memalign
    aligned_alloc valloc pvalloc malloc_usable_size mallopt mallinfo
    mallinfo2 malloc_trim malloc_stats malloc_info
    __libc_malloc __libc_free __libc_calloc __libc_realloc __libc_memalign
    __libc_valloc __libc_pvalloc __libc_mallinfo __libc_mallopt
    pmalloc_version pmalloc_check
)
# May be there: the ancient cfree, and C23's sized frees (glibc 2.43).
optional=(cfree free_sized free_aligned_sized)

if ! nm -D --defined-only "$PMALLOC_LIB" >"$WORK/nm.txt" 2>"$WORK/nm.err"; then
    hard_error "nm -D failed on $PMALLOC_LIB: $(cat "$WORK/nm.err")"
fi
# "ADDRESS TYPE NAME[@VERSION]" -> NAME
awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }' "$WORK/nm.txt" | sort -u >"$WORK/exported.txt"
check "exports: nm lists some symbols" test -s "$WORK/exported.txt"

declare -A allowed=()
for s in "${required[@]}" "${optional[@]}"; do allowed[$s]=1; done

missing=()
for s in "${required[@]}"; do
    grep -qxF "$s" "$WORK/exported.txt" || missing+=("$s")
done
if ((${#missing[@]} == 0)); then
    ok "exports: all ${#required[@]} required symbols are exported"
else
    fail "exports: required symbols not exported: ${missing[*]}"
fi

extra=()
while IFS= read -r s; do
    [[ -n "${allowed[$s]:-}" || "$s" == pmalloc_* ]] || extra+=("$s")
done <"$WORK/exported.txt"
if ((${#extra[@]} == 0)); then
    ok "exports: nothing but the malloc family and pmalloc_* ($(wc -l <"$WORK/exported.txt") symbols)"
else
    fail "exports: ${#extra[@]} unexpected exported symbol(s): ${extra[*]:0:30}"
fi

# The functions are functions (T, W or i), not data.
notfunc=$(awk 'NF >= 3 && $2 !~ /^[TWi]$/ { sub(/@.*/, "", $3); print $3 "(" $2 ")" }' "$WORK/nm.txt" |
    grep -v '^pmalloc_' || true)
if [[ -z "$notfunc" ]]; then
    ok "exports: every exported malloc-family symbol is a function"
else
    fail "exports: exported symbols that are not functions: $(tr '\n' ' ' <<<"$notfunc")"
fi

soname=$(readelf -d "$PMALLOC_LIB" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [[ "$soname" =~ ^libpmalloc\.so\.[0-9]+$ ]]; then
    ok "exports: soname is $soname"
else
    fail "exports: soname is '$soname', expected libpmalloc.so.N"
fi
finish
