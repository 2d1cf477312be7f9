#!/usr/bin/env bash
# The whole test suite: installs missing packages, builds pmalloc in build/
# (VPATH), runs `make check` to the end and summarises the results.  The
# last line printed is always "N passed, N failed" (plus ", N skipped" when
# there are skips); the exit status is non-zero if the build or any test
# failed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

pm_deps

if ! pm_build; then
    echo
    echo "=== FAILED: build (last 40 lines of the log) ==="
    for log in "$PM_BUILD_DIR/build.log" "$PM_BUILD_DIR/configure.log"; do
        if [[ -f "$log" ]]; then
            tail -n 40 "$log"
            break
        fi
    done
    echo
    echo "0 passed, 1 failed"
    exit 1
fi

# Results of an earlier run must not be counted again.
find "$PM_BUILD_DIR" -path "$PM_BUILD_DIR/pmalloc-*" -prune -o -name '*.trs' -type f -exec rm -f {} +

pm_note "make -j$PM_JOBS check"
check_rc=0
(cd "$PM_BUILD_DIR" && pm_logged check.log make -j"$PM_JOBS" check) || check_rc=$?

extra=()
if ((check_rc != 0)); then
    # make check failed; if no test recorded a failure, the failure is in
    # building the test programs (or in the harness itself): count it.
    if ! grep -qsE '^:test-result:[[:space:]]*(FAIL|XPASS|ERROR)' \
        $(find "$PM_BUILD_DIR" -name '*.trs' -type f) /dev/null; then
        echo
        echo "=== make check exited with $check_rc; last 40 lines ==="
        tail -n 40 "$PM_BUILD_DIR/check.log"
        extra+=("make check (exit status $check_rc, see $PM_BUILD_DIR/check.log)")
    fi
fi

# The release tarball must build and pass the same suite on its own:
# counted as one more test, with its log beside the others.
pm_note "make distcheck"
distcheck_result=PASS
(cd "$PM_BUILD_DIR" && pm_logged distcheck.log make -j"$PM_JOBS" distcheck) >/dev/null 2>&1 ||
    distcheck_result=FAIL
printf ':test-result: %s\n' "$distcheck_result" >"$PM_BUILD_DIR/distcheck.trs"
pm_note "make distcheck: $distcheck_result"

summary_rc=0
bash scripts/summary.sh "$PM_BUILD_DIR" "${extra[@]}" || summary_rc=$?
if ((check_rc != 0 || summary_rc != 0)) || [[ $distcheck_result != PASS ]]; then
    exit 1
fi
