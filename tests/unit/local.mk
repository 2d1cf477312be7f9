# tests and programs of tests/unit are listed here

check_PROGRAMS += tests/unit/test_options
# -fno-builtin: the compiler must not fold away malloc/free pairs whose
# only purpose is to move the counters these tests read.
tests_unit_test_options_CFLAGS = $(AM_CFLAGS) -fno-builtin
tests_unit_test_options_LDADD = $(TEST_LDADD)
tests_unit_test_options_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_options

check_PROGRAMS += tests/unit/test_options_env
tests_unit_test_options_env_CFLAGS = $(AM_CFLAGS) -fno-builtin
tests_unit_test_options_env_LDADD = $(TEST_LDADD)
tests_unit_test_options_env_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_options_env
EXTRA_DIST += tests/unit/options_env.h tests/unit/idle_heap.h

check_PROGRAMS += tests/unit/test_stats
tests_unit_test_stats_CFLAGS = $(AM_CFLAGS) -fno-builtin
tests_unit_test_stats_LDADD = $(TEST_LDADD)
tests_unit_test_stats_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_stats

# White-box tests (test developer): built without the compiler's built-in
# knowledge of malloc, so calloc zeros or malloc/free pairs are never folded.
TEST_WB_CFLAGS = $(AM_CFLAGS) -fno-builtin

check_PROGRAMS += tests/unit/test_bins
tests_unit_test_bins_CFLAGS = $(TEST_WB_CFLAGS)
tests_unit_test_bins_LDADD = $(TEST_LDADD)
tests_unit_test_bins_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_bins

check_PROGRAMS += tests/unit/test_split_coalesce
tests_unit_test_split_coalesce_CFLAGS = $(TEST_WB_CFLAGS)
tests_unit_test_split_coalesce_LDADD = $(TEST_LDADD)
tests_unit_test_split_coalesce_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_split_coalesce

check_PROGRAMS += tests/unit/test_malloc_paths
tests_unit_test_malloc_paths_CFLAGS = $(TEST_WB_CFLAGS)
tests_unit_test_malloc_paths_LDADD = $(TEST_LDADD)
tests_unit_test_malloc_paths_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_malloc_paths

check_PROGRAMS += tests/unit/test_top_trim
tests_unit_test_top_trim_CFLAGS = $(TEST_WB_CFLAGS)
tests_unit_test_top_trim_LDADD = $(TEST_LDADD)
tests_unit_test_top_trim_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_top_trim

check_PROGRAMS += tests/unit/test_trim_keep
tests_unit_test_trim_keep_CFLAGS = $(TEST_WB_CFLAGS)
tests_unit_test_trim_keep_LDADD = $(TEST_LDADD)
tests_unit_test_trim_keep_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_trim_keep

check_PROGRAMS += tests/unit/test_mmap_threshold
tests_unit_test_mmap_threshold_CFLAGS = $(TEST_WB_CFLAGS)
tests_unit_test_mmap_threshold_LDADD = $(TEST_LDADD)
tests_unit_test_mmap_threshold_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_mmap_threshold


check_PROGRAMS += tests/unit/test_api
tests_unit_test_api_CFLAGS = $(TEST_WB_CFLAGS)
tests_unit_test_api_LDADD = $(TEST_LDADD)
tests_unit_test_api_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_api

check_PROGRAMS += tests/unit/test_perturb
tests_unit_test_perturb_CFLAGS = $(TEST_WB_CFLAGS)
tests_unit_test_perturb_LDADD = $(TEST_LDADD)
tests_unit_test_perturb_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_perturb


# The thread cache and its arena: spills into fast bins above M_MXFAST,
# half-bin refills, merging before a large request at 64 KiB.
check_PROGRAMS += tests/unit/test_cache_arena
tests_unit_test_cache_arena_CFLAGS = $(TEST_WB_CFLAGS)
tests_unit_test_cache_arena_LDADD = $(TEST_LDADD)
tests_unit_test_cache_arena_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_cache_arena

# The small bins' adaptive depth: a repeated batch stops missing, an idle
# bin shrinks, the byte budget holds, deep bins in the heap walker and the
# snapshot; calloc's cache hits cleared whole.
check_PROGRAMS += tests/unit/test_tcache_depth
tests_unit_test_tcache_depth_CFLAGS = $(TEST_WB_CFLAGS)
tests_unit_test_tcache_depth_LDADD = $(TEST_LDADD)
tests_unit_test_tcache_depth_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_tcache_depth
check_PROGRAMS += tests/unit/test_look_pace
tests_unit_test_look_pace_CFLAGS = $(TEST_WB_CFLAGS)
tests_unit_test_look_pace_LDADD = $(TEST_LDADD)
tests_unit_test_look_pace_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_look_pace

# The page size read at run time, faked bigger than the kernel's through
# the OS layer: one program per size.
check_PROGRAMS += tests/unit/test_page_size_16k tests/unit/test_page_size_64k
tests_unit_test_page_size_16k_SOURCES = tests/unit/test_page_size.c
tests_unit_test_page_size_16k_CFLAGS = $(TEST_WB_CFLAGS) -DFAKE_PAGE=16384
tests_unit_test_page_size_16k_LDADD = $(TEST_LDADD)
tests_unit_test_page_size_16k_LDFLAGS = $(TEST_LDFLAGS)
tests_unit_test_page_size_64k_SOURCES = tests/unit/test_page_size.c
tests_unit_test_page_size_64k_CFLAGS = $(TEST_WB_CFLAGS) -DFAKE_PAGE=65536
tests_unit_test_page_size_64k_LDADD = $(TEST_LDADD)
tests_unit_test_page_size_64k_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_page_size_16k tests/unit/test_page_size_64k

check_PROGRAMS += tests/unit/test_subheap_map
tests_unit_test_subheap_map_CFLAGS = $(TEST_WB_CFLAGS)
tests_unit_test_subheap_map_LDADD = $(TEST_LDADD)
tests_unit_test_subheap_map_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_subheap_map

# Memory limits: a cgroup's memory.high (a limits directory named by a
# test-only variable), PMALLOC_MEMORY_LIMIT and PMALLOC_MEMORY_LIMIT_HARD
# (re-runs itself once per scenario).
check_PROGRAMS += tests/unit/test_memory_limit
tests_unit_test_memory_limit_CFLAGS = $(TEST_WB_CFLAGS)
tests_unit_test_memory_limit_LDADD = $(TEST_LDADD)
tests_unit_test_memory_limit_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_memory_limit

check_PROGRAMS += tests/unit/test_decay
tests_unit_test_decay_CFLAGS = $(AM_CFLAGS) -fno-builtin
tests_unit_test_decay_LDADD = $(TEST_LDADD)
tests_unit_test_decay_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_decay

check_PROGRAMS += tests/unit/test_idle_return
tests_unit_test_idle_return_CFLAGS = $(AM_CFLAGS) -fno-builtin
tests_unit_test_idle_return_LDADD = $(TEST_LDADD)
tests_unit_test_idle_return_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_idle_return

check_PROGRAMS += tests/unit/test_background
tests_unit_test_background_CFLAGS = $(AM_CFLAGS) -fno-builtin
tests_unit_test_background_LDADD = $(TEST_LDADD)
tests_unit_test_background_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_background

check_PROGRAMS += tests/unit/test_prof_stack
tests_unit_test_prof_stack_CFLAGS = $(AM_CFLAGS) -fno-omit-frame-pointer
tests_unit_test_prof_stack_LDADD = $(TEST_LDADD)
tests_unit_test_prof_stack_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_prof_stack

check_PROGRAMS += tests/unit/test_prof_table
tests_unit_test_prof_table_LDADD = $(TEST_LDADD)
tests_unit_test_prof_table_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_prof_table
