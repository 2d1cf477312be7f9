#!/bin/sh
# make check's fuzzing run: builds tests/fuzz/fuzz_ops with clang's
# libFuzzer (tests/fuzz/build.sh; skipped, 77, when clang cannot) and runs
# it from the seed corpus for a fixed number of inputs (about 30 s on one
# core).  A longer run: tests/fuzz/run.sh SECONDS (see tests/fuzz/README.md).
# Environment: FUZZ_RUNS (default 5000), FUZZ_SEED (default 1).
set -u
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
bin=$top_builddir/tests/fuzz/fuzz_ops
sh "$top_srcdir/tests/fuzz/build.sh" "$bin"
rc=$?
[ $rc -eq 0 ] || exit $rc

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
art=$top_builddir/tests/fuzz/artifacts/
mkdir -p "$art"
"$bin" -runs="${FUZZ_RUNS:-5000}" -seed="${FUZZ_SEED:-1}" -max_total_time=150 \
    -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art" \
    "$work" "$top_srcdir/tests/fuzz/corpus" 2>&1 | grep -v '^#[0-9]*[[:space:]]*\(NEW\|REDUCE\|pulse\)'
rc=$?
# the pipeline's status is grep's; the fuzzer's verdict is in artifacts
if ls "$art" | grep -q '^\(crash\|leak\|timeout\|oom\)-'; then
    echo "fuzz_ops found a problem; inputs kept in $art:"
    ls "$art"
    exit 1
fi
exit 0
