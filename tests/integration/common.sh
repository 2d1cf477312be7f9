# Shared code of the integration tests; each test sources it with
#   . "$(dirname "$0")/common.sh"
# Environment (exported by `make check`, or set by hand):
#   PMALLOC_LIB   the built libpmalloc.so (required)
#   top_srcdir, top_builddir
#
# A test runs a real program twice, in a fresh directory with the same path
# both times: once on glibc's malloc and once with LD_PRELOAD=$PMALLOC_LIB
# and PMALLOC_STATS=1.  Standard output and exit status must be identical;
# standard error must be identical once pmalloc's statistics are removed,
# and the statistics must be there (proof that pmalloc was really in use).
# Exit status: 0 pass, 1 fail, 77 skip (a program is not installed),
# 99 hard error (the test could not be set up).

set -euo pipefail

TEST_NAME=$(basename "$0" .sh)
INTEG_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$INTEG_SRCDIR/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"

hard_error() {
    echo "$TEST_NAME: ERROR: $*" >&2
    exit 99
}

if [[ -z "${PMALLOC_LIB:-}" ]]; then
    hard_error "PMALLOC_LIB is not set (run through 'make check', or set it" \
        "to the path of libpmalloc.so)"
fi
if [[ ! -f "$PMALLOC_LIB" ]]; then
    hard_error "PMALLOC_LIB=$PMALLOC_LIB does not exist (is the library built?)"
fi
PMALLOC_LIB=$(readlink -f "$PMALLOC_LIB")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pmalloc-$TEST_NAME.XXXXXX") ||
    hard_error "mktemp failed"
# KEEP_WORK=1 leaves the directory for inspection.
cleanup() {
    if [[ "${KEEP_WORK:-0}" == 1 ]]; then
        echo "$TEST_NAME: work directory kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# Programs run the same way in both modes, whatever the caller's settings.
export LC_ALL=C TZ=UTC
unset LD_PRELOAD MALLOC_CHECK_ MALLOC_PERTURB_ GLIBC_TUNABLES PMALLOC_STATS

FAILURES=0
CHECKS=0

fail() {
    FAILURES=$((FAILURES + 1))
    CHECKS=$((CHECKS + 1))
    echo "FAIL: $*" >&2
}

ok() {
    CHECKS=$((CHECKS + 1))
    echo "ok: $*"
}

# check DESCRIPTION COMMAND...: records the outcome of COMMAND.
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}

finish() {
    echo "$TEST_NAME: $CHECKS checks, $FAILURES failed"
    if ((CHECKS == 0)); then
        echo "$TEST_NAME: ERROR: no check was made" >&2
        exit 99
    fi
    ((FAILURES == 0)) || exit 1
    exit 0
}

require_programs() {
    local p
    for p in "$@"; do
        if ! command -v "$p" >/dev/null 2>&1; then
            echo "$TEST_NAME: SKIP: '$p' is not installed (scripts/deps.sh installs it)" >&2
            exit 77
        fi
    done
}

# The report PMALLOC_STATS=1 prints at exit (src/report.c) is
#   pmalloc VERSION statistics: PROGRAM (pid PID)
#   ... sections ...
#   end of pmalloc statistics
# Each process that exits prints one (child processes too), so a report can
# sit between two lines of the program's own standard error.
STATS_FIRST_RE='^pmalloc [0-9]+\.[0-9]+\.[0-9]+ statistics: .* \(pid [0-9]+\)$'
STATS_LAST_RE='^end of pmalloc statistics$'

# strip_stats FILE: FILE without the statistics reports.
strip_stats() {
    awk -v first="$STATS_FIRST_RE" -v last="$STATS_LAST_RE" '
        !inblock && $0 ~ first { inblock = 1 }
        !inblock { print }
        inblock && $0 ~ last { inblock = 0 }
    ' "$1"
}

# count_stats FILE: number of complete statistics reports in FILE.
count_stats() {
    awk -v first="$STATS_FIRST_RE" -v last="$STATS_LAST_RE" '
        $0 ~ first { open = 1 }
        open && $0 ~ /^resident memory \(bytes\):$/ { total = 1 }
        open && total && $0 ~ last { n++; open = 0; total = 0 }
        END { print n + 0 }
    ' "$1"
}

# run_both NAME COMMAND...: runs COMMAND in $WORK/run (recreated empty for
# each run, so paths are the same) with stdin from $RUN_STDIN (default
# /dev/null), first plain then on pmalloc.  Results land in
#   $WORK/NAME.{plain,pmalloc}.{out,err,rc}  and  $WORK/NAME.{plain,pmalloc}.dir
# RUN_ENV (an array, optional) holds extra VAR=VALUE settings for both runs.
run_both() {
    local name=$1
    shift
    local mode rc
    local -a preload
    for mode in plain pmalloc; do
        rm -rf "$WORK/run"
        mkdir "$WORK/run"
        if [[ $mode == pmalloc ]]; then
            # The dynamic linker's log of symbol bindings (one file per
            # process) shows where each process's malloc calls go.
            mkdir -p "$WORK/$name.ldlog"
            preload=(LD_PRELOAD="$PMALLOC_LIB" PMALLOC_STATS=1
                LD_DEBUG=bindings LD_DEBUG_OUTPUT="$WORK/$name.ldlog/pid")
        else
            preload=()
        fi
        rc=0
        (cd "$WORK/run" &&
            exec env ${RUN_ENV[@]+"${RUN_ENV[@]}"} ${preload[@]+"${preload[@]}"} "$@") \
            <"${RUN_STDIN:-/dev/null}" \
            >"$WORK/$name.$mode.out" 2>"$WORK/$name.$mode.err" || rc=$?
        echo "$rc" >"$WORK/$name.$mode.rc"
        mv "$WORK/run" "$WORK/$name.$mode.dir"
    done
}

# show_diff A B LABEL: prints a short unified diff of two files.
show_diff() {
    diff -u --label "$3 (glibc)" --label "$3 (pmalloc)" "$1" "$2" | head -n 40 >&2 || true
}

# check_malloc_bound NAME: in the pmalloc run, every process bound its
# calls to malloc and free (and libc's own calls) to $PMALLOC_LIB, never to
# another shared library such as libc.so.6.  A binding to the executable
# itself is fine: a non-PIE program that takes the address of free owns
# the canonical address (its PLT entry, which leads to pmalloc).
# (Statistics alone do not prove this for every process: programs such as
# coreutils close stderr before they exit.)
check_malloc_bound() {
    local name=$1 log procs=0 without=0 wrong="" to_pm
    local sym_re="normal symbol \`(malloc|free)'"
    for log in "$WORK/$name.ldlog"/pid.*; do
        [[ -e "$log" ]] || continue
        # (No grep -q inside a pipeline: with pipefail, the writer's
        # SIGPIPE would make a match look like a failure.)
        grep -E "$sym_re" "$log" >"$WORK/bindings.txt" || continue
        procs=$((procs + 1))
        to_pm=$(grep -cF " to $PMALLOC_LIB [" "$WORK/bindings.txt" || true)
        if ((to_pm == 0)); then
            without=$((without + 1))
            wrong+="$(head -n 4 "$WORK/bindings.txt")"$'\n'
        fi
        wrong+=$(grep -vF " to $PMALLOC_LIB [" "$WORK/bindings.txt" |
            grep -E ' to [^ ]*\.so(\.[0-9]+)* \[' || true)
    done
    if ((procs == 0)); then
        fail "$name: the dynamic linker logged no binding of malloc or free"
    elif [[ -n "${wrong//$'\n'/}" ]] || ((without > 0)); then
        fail "$name: malloc/free bound elsewhere than $PMALLOC_LIB" \
            "($without of $procs processes never bound them to pmalloc):"
        sed 's/^ *[0-9]*:[[:space:]]*//' <<<"$wrong" | sort -u | head -n 10 >&2
    else
        ok "$name: malloc and free bound to pmalloc in all $procs process(es)"
    fi
}

# compare_runs NAME: the checks every program gets after run_both.
compare_runs() {
    local name=$1 p="$WORK/$1.plain" m="$WORK/$1.pmalloc"
    local rc_plain rc_pm n
    rc_plain=$(cat "$p.rc")
    rc_pm=$(cat "$m.rc")
    if [[ "$rc_plain" == "$rc_pm" ]]; then
        ok "$name: same exit status ($rc_plain)"
    else
        fail "$name: exit status $rc_plain on glibc but $rc_pm on pmalloc"
        echo "--- stderr on pmalloc (last 20 lines):" >&2
        tail -n 20 "$m.err" >&2
    fi
    if cmp -s "$p.out" "$m.out"; then
        ok "$name: same standard output ($(wc -l <"$p.out") lines)"
    else
        fail "$name: standard output differs"
        show_diff "$p.out" "$m.out" "$name stdout"
    fi
    strip_stats "$p.err" >"$p.err.nostats"
    strip_stats "$m.err" >"$m.err.nostats"
    if cmp -s "$p.err.nostats" "$m.err.nostats"; then
        ok "$name: same standard error ($(wc -l <"$p.err.nostats") lines besides statistics)"
    else
        fail "$name: standard error differs (statistics removed)"
        show_diff "$p.err.nostats" "$m.err.nostats" "$name stderr"
    fi
    check_malloc_bound "$name"
    n=$(count_stats "$m.err")
    if ((n > 0)); then
        ok "$name: pmalloc was in use ($n PMALLOC_STATS report(s) on stderr)"
    else
        fail "$name: no PMALLOC_STATS=1 report on stderr: pmalloc was not in use," \
            "or its statistics format changed"
        echo "--- stderr on pmalloc (last 20 lines):" >&2
        tail -n 20 "$m.err" >&2
    fi
    n=$(count_stats "$p.err")
    if ((n == 0)); then
        ok "$name: no statistics report on glibc"
    else
        fail "$name: a statistics report appeared without pmalloc"
    fi
}
