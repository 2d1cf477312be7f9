#!/usr/bin/env bash
# Usage: scripts/summary.sh BUILD_DIR [EXTRA_FAILURE...]
#
# Reads every *.trs file under BUILD_DIR (written by automake's parallel
# test harness), prints the tail of the log of each test that did not pass,
# and prints as its very last line exactly "N passed, N failed" (followed by
# ", N skipped" only when some tests were skipped).
#   PASS, XFAIL          -> passed
#   FAIL, XPASS, ERROR   -> failed
#   SKIP                 -> skipped
# Each EXTRA_FAILURE argument (e.g. "make check") is counted as one more
# failure: the caller uses it when a step failed without producing a .trs.
# Exits 1 if anything failed, else 0.
set -euo pipefail

if (($# < 1)); then
    echo "usage: $(basename "$0") BUILD_DIR [EXTRA_FAILURE...]" >&2
    exit 2
fi
build=$1
shift
if [[ ! -d "$build" ]]; then
    echo "$(basename "$0"): error: build directory '$build' does not exist" >&2
    exit 2
fi
TAIL_LINES=${TAIL_LINES:-40}

passed=0 failed=0 skipped=0
failed_logs=()
while IFS= read -r -d '' trs; do
    results=$(sed -n 's/^:test-result:[[:space:]]*\([A-Z]*\).*/\1/p' "$trs")
    if [[ -z "$results" ]]; then
        # A .trs without a result means the harness was interrupted.
        results=ERROR
    fi
    bad=0
    while IFS= read -r r; do
        case "$r" in
        PASS | XFAIL) passed=$((passed + 1)) ;;
        SKIP) skipped=$((skipped + 1)) ;;
        FAIL | XPASS | ERROR) failed=$((failed + 1)); bad=1 ;;
        *) echo "$(basename "$0"): warning: unknown result '$r' in $trs" >&2
           failed=$((failed + 1)); bad=1 ;;
        esac
    done <<<"$results"
    if ((bad)); then
        failed_logs+=("${trs%.trs}.log")
    fi
done < <(find "$build" -path "$build/pmalloc-*" -prune -o -name '*.trs' -type f -print0 | sort -z)

for log in "${failed_logs[@]}"; do
    echo
    echo "=== FAILED: ${log#"$build"/} (last $TAIL_LINES lines) ==="
    if [[ -f "$log" ]]; then
        tail -n "$TAIL_LINES" "$log"
    else
        echo "(no log file $log)"
    fi
done

for extra in "$@"; do
    echo
    echo "=== FAILED: $extra ==="
    failed=$((failed + 1))
done

((${#failed_logs[@]} == 0 && $# == 0)) || echo
line="$passed passed, $failed failed"
if ((skipped > 0)); then
    line+=", $skipped skipped"
fi
echo "$line"
((failed == 0))
