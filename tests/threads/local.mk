# thread, fork and thread-exit tests
#
# Thread tests (test developer).  All link the static library, so their
# malloc is pmalloc and they read its internals; thr.h has the shared code.
# -fno-builtin: malloc/free pairs that only move counters must stay.
TEST_THR_CFLAGS = $(AM_CFLAGS) -fno-builtin
EXTRA_DIST += tests/threads/thr.h

# 8 threads of random operations with cross-thread frees and heap checks
# at barriers (about 3 s).
check_PROGRAMS += tests/threads/test_mt_random
tests_threads_test_mt_random_CFLAGS = $(TEST_THR_CFLAGS)
tests_threads_test_mt_random_LDADD = $(TEST_LDADD)
tests_threads_test_mt_random_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/threads/test_mt_random

# 500 forks while 4 threads hammer the allocator, under watchdogs (~10 s).
check_PROGRAMS += tests/threads/test_fork
tests_threads_test_fork_CFLAGS = $(TEST_THR_CFLAGS)
tests_threads_test_fork_LDADD = $(TEST_LDADD)
tests_threads_test_fork_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/threads/test_fork

# Arena per thread, reuse after exit, the default limit, M_ARENA_MAX and
# the PMALLOC_ARENA_MAX / MALLOC_ARENA_MAX variables (re-runs itself).
check_PROGRAMS += tests/threads/test_arenas
tests_threads_test_arenas_CFLAGS = $(TEST_THR_CFLAGS)
tests_threads_test_arenas_LDADD = $(TEST_LDADD)
tests_threads_test_arenas_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/threads/test_arenas

# 10,000 short-lived threads: RSS, arenas and thread caches stay bounded.
check_PROGRAMS += tests/threads/test_thread_churn
tests_threads_test_thread_churn_CFLAGS = $(TEST_THR_CFLAGS)
tests_threads_test_thread_churn_LDADD = $(TEST_LDADD)
tests_threads_test_thread_churn_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/threads/test_thread_churn
