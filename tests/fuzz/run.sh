#!/bin/sh
# A long fuzzing run: tests/fuzz/run.sh [SECONDS] [JOBS]
# Run from a configured build directory (where config.h is).  Builds
# tests/fuzz/fuzz_ops, keeps the corpus it grows in tests/fuzz/work-corpus
# (seeded from the committed tests/fuzz/corpus) and writes any crashing
# input to tests/fuzz/artifacts/.  Default: one hour, one job.
set -eu
secs=${1:-3600}
jobs=${2:-1}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-.}
export top_srcdir top_builddir
bin=$top_builddir/tests/fuzz/fuzz_ops
sh "$top_srcdir/tests/fuzz/build.sh" "$bin"
work=$top_builddir/tests/fuzz/work-corpus
art=$top_builddir/tests/fuzz/artifacts/
mkdir -p "$work" "$art"
exec "$bin" -max_total_time="$secs" -jobs="$jobs" -workers="$jobs" -timeout=20 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art" \
    "$work" "$top_srcdir/tests/fuzz/corpus"
