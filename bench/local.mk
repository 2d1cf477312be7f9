# Benchmarks: pmalloc against glibc, jemalloc, tcmalloc and mimalloc.
#
# None of these programs links pmalloc: the allocator under test is
# injected with LD_PRELOAD, so the same binaries measure all five.
# `make bench` builds them and runs the driver (bench/run.py); pass
# driver options with BENCH_ARGS, e.g. `make bench BENCH_ARGS=--quick`.

BENCH_CFLAGS = $(AM_CFLAGS) -O2 -pthread
BENCH_LDFLAGS = -pthread

bench_macros = bench/macro_larson bench/macro_xmalloc bench/macro_scratch \
	bench/macro_churn bench/macro_large bench/macro_rss
bench_programs = $(bench_macros) bench/instr_count
noinst_PROGRAMS += $(bench_macros) bench/instr_count

bench_macro_larson_SOURCES = bench/macro_larson.c bench/bench_common.h
bench_macro_larson_CFLAGS = $(BENCH_CFLAGS)
bench_macro_larson_LDFLAGS = $(BENCH_LDFLAGS)
bench_macro_xmalloc_SOURCES = bench/macro_xmalloc.c bench/bench_common.h
bench_macro_xmalloc_CFLAGS = $(BENCH_CFLAGS)
bench_macro_xmalloc_LDFLAGS = $(BENCH_LDFLAGS)
bench_macro_scratch_SOURCES = bench/macro_scratch.c bench/bench_common.h
bench_macro_scratch_CFLAGS = $(BENCH_CFLAGS)
bench_macro_scratch_LDFLAGS = $(BENCH_LDFLAGS)
bench_macro_churn_SOURCES = bench/macro_churn.c bench/bench_common.h
bench_macro_churn_CFLAGS = $(BENCH_CFLAGS)
bench_macro_churn_LDFLAGS = $(BENCH_LDFLAGS)
bench_macro_large_SOURCES = bench/macro_large.c bench/bench_common.h
bench_macro_large_CFLAGS = $(BENCH_CFLAGS)
bench_macro_large_LDFLAGS = $(BENCH_LDFLAGS)
bench_macro_rss_SOURCES = bench/macro_rss.c bench/bench_common.h
bench_macro_rss_CFLAGS = $(BENCH_CFLAGS)
bench_macro_rss_LDFLAGS = $(BENCH_LDFLAGS)

# The micro case bodies are shared by the callgrind driver and the
# google-benchmark binary.
bench_micro_sources = bench/micro_cases.c bench/micro_cases.h bench/bench_common.h
bench_instr_count_SOURCES = bench/instr_count.c $(bench_micro_sources)
bench_instr_count_CFLAGS = $(BENCH_CFLAGS)
bench_instr_count_LDFLAGS = $(BENCH_LDFLAGS)

if HAVE_BENCHMARK
noinst_PROGRAMS += bench/pm_micro
bench_programs += bench/pm_micro
bench_pm_micro_SOURCES = bench/micro_shim.cc $(bench_micro_sources)
bench_pm_micro_CFLAGS = $(BENCH_CFLAGS)
bench_pm_micro_CXXFLAGS = -std=c++17 -O2 $(PM_WARN) $(BENCHMARK_CFLAGS) -pthread
bench_pm_micro_LDADD = $(BENCHMARK_LIBS)
bench_pm_micro_LDFLAGS = $(BENCH_LDFLAGS)
endif

# One fast smoke test: every macro workload at a tiny size under the built
# pmalloc and under glibc must run and verify its checksums.
TESTS += bench/smoke.sh

EXTRA_DIST += bench/run.py bench/rss_timeline.py bench/variant_cost.py bench/smoke.sh bench/README.md bench/ANALYSIS.md \
	bench/real_programs.py bench/real_inputs.py bench/real_work.py bench/real_work.pl

PYTHON3 = python3
BENCH_ARGS =

.PHONY: bench
bench: $(bench_programs) libpmalloc.la libpmalloc_nochecks.la
	$(PYTHON3) $(abs_top_srcdir)/bench/run.py \
		--bindir '$(abs_top_builddir)/bench' \
		--pmalloc '$(abs_top_builddir)/.libs/libpmalloc.so' \
		--out '$(abs_top_srcdir)/bench/results' $(BENCH_ARGS)
