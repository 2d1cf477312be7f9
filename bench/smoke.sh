#!/bin/sh
# Smoke test for the benchmarks: each macro workload runs once at a tiny
# size under the built pmalloc ($PMALLOC_LIB) and under glibc, and must
# exit 0 with a verified result line; instr_count and (if built) pm_micro
# must run too, and each real program (bench/real_programs.py --smoke:
# python, sqlite3, perl, gcc, git) must run, bind malloc to the preloaded
# library in every process and give glibc's output.  Takes a few seconds.
set -u
bindir="${top_builddir:-.}/bench"
lib="${PMALLOC_LIB:-${top_builddir:-.}/.libs/libpmalloc.so}"
fail=0

if [ ! -e "$lib" ]; then
    echo "smoke: $lib not found; testing glibc only"
    lib=""
fi

check() {    # check ALLOCATOR-LABEL PRELOAD PROGRAM ARGS...
    label=$1 preload=$2
    shift 2
    if [ -n "$preload" ]; then
        out=$(LD_PRELOAD="$preload" "$@" 2>&1)
    else
        out=$("$@" 2>&1)
    fi
    rc=$?
    case "$out" in
        *"cannot be preloaded"*) rc=99 ;;
    esac
    if [ $rc -ne 0 ]; then
        echo "FAIL [$label] $* (exit $rc)"
        printf '%s\n' "$out" | tail -n 5
        fail=1
    else
        echo "ok   [$label] $* : $(printf '%s\n' "$out" | tail -n 1)"
    fi
}

for alloc in pmalloc glibc; do
    if [ $alloc = pmalloc ]; then
        [ -n "$lib" ] || continue
        preload=$lib
    else
        preload=""
    fi
    check $alloc "$preload" "$bindir/macro_larson" 2 1
    check $alloc "$preload" "$bindir/macro_xmalloc" 2 1
    check $alloc "$preload" "$bindir/macro_scratch" 2 1
    check $alloc "$preload" "$bindir/macro_churn" 1 1
    check $alloc "$preload" "$bindir/macro_large" 2 1
    check $alloc "$preload" "$bindir/macro_rss" exited-threads 4 100
    check $alloc "$preload" "$bindir/macro_rss" same-thread 4 100
    check $alloc "$preload" "$bindir/instr_count" mixed 10000
    if [ -x "$bindir/pm_micro" ]; then
        check $alloc "$preload" "$bindir/pm_micro" \
            --benchmark_min_time=0.001 '--benchmark_filter=pair/64|batch/random|realloc|prodcons64/real_time/threads:2'
    fi
done

srcdir="${top_srcdir:-$(dirname "$0")/..}"
if command -v python3 >/dev/null 2>&1; then
    if [ -n "$lib" ]; then
        PMALLOC_LIB="$lib" PYTHONDONTWRITEBYTECODE=1 python3 "$srcdir/bench/real_programs.py" --smoke || fail=1
    else
        env -u PMALLOC_LIB PYTHONDONTWRITEBYTECODE=1 python3 "$srcdir/bench/real_programs.py" --smoke || fail=1
    fi
else
    echo "smoke: python3 missing; real programs not run"
fi
exit $fail
