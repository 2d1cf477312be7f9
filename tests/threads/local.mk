# thread, fork and thread-exit tests
#
# Thread tests (test developer).  All link the static library, so their
# malloc is pmalloc and they read its internals; thr.h has the shared code.
# -fno-builtin: malloc/free pairs that only move counters must stay.
# They link the copy of the library that checks the lock order on every
# acquisition (PM_LOCK_CHECK), and are compiled with it too, since the
# lock functions are inline.
TEST_THR_CFLAGS = $(AM_CFLAGS) -fno-builtin -DPM_LOCK_CHECK
TEST_THR_LDADD = libpmalloc_lockcheck.la
EXTRA_DIST += tests/threads/thr.h

# 8 threads of random operations with cross-thread frees and heap checks
# at barriers (about 3 s).
check_PROGRAMS += tests/threads/test_mt_random
tests_threads_test_mt_random_CFLAGS = $(TEST_THR_CFLAGS)
tests_threads_test_mt_random_LDADD = $(TEST_THR_LDADD)
tests_threads_test_mt_random_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/threads/test_mt_random

# 500 forks while 4 threads hammer the allocator, under watchdogs (~10 s).
check_PROGRAMS += tests/threads/test_fork
tests_threads_test_fork_CFLAGS = $(TEST_THR_CFLAGS)
tests_threads_test_fork_LDADD = $(TEST_THR_LDADD)
tests_threads_test_fork_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/threads/test_fork

# Arena per thread, reuse after exit, the default limit, M_ARENA_MAX and
# the PMALLOC_ARENA_MAX / MALLOC_ARENA_MAX variables (re-runs itself).
check_PROGRAMS += tests/threads/test_arenas
tests_threads_test_arenas_CFLAGS = $(TEST_THR_CFLAGS)
tests_threads_test_arenas_LDADD = $(TEST_THR_LDADD)
tests_threads_test_arenas_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/threads/test_arenas

# 10,000 short-lived threads: RSS, arenas and thread caches stay bounded.
check_PROGRAMS += tests/threads/test_thread_churn
tests_threads_test_thread_churn_CFLAGS = $(TEST_THR_CFLAGS)
tests_threads_test_thread_churn_LDADD = $(TEST_THR_LDADD)
tests_threads_test_thread_churn_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/threads/test_thread_churn

# An emptied sub-heap is unmapped and RSS falls; malloc_trim in a thread
# arena gives back the pages of free chunks inside a heap.
check_PROGRAMS += tests/threads/test_heap_unmap
tests_threads_test_heap_unmap_CFLAGS = $(TEST_THR_CFLAGS)
tests_threads_test_heap_unmap_LDADD = $(TEST_THR_LDADD)
tests_threads_test_heap_unmap_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/threads/test_heap_unmap

# Thread-cache bins, counts and limits, mallopt, calloc bypass, no chunk
# handed out twice, cache lifetime, double-free detection.
check_PROGRAMS += tests/threads/test_tcache
tests_threads_test_tcache_CFLAGS = $(TEST_THR_CFLAGS)
tests_threads_test_tcache_LDADD = $(TEST_THR_LDADD)
tests_threads_test_tcache_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/threads/test_tcache

# Remote frees: the lock-free list of a busy arena, drained by the next
# holder; a producer/consumer pair reuses its memory and leaks nothing.
# An idle arena's free space serves other threads: arena choice and the
# move before a heap grows (issue #11).
check_PROGRAMS += tests/threads/test_arena_pool
tests_threads_test_arena_pool_CFLAGS = $(TEST_THR_CFLAGS)
tests_threads_test_arena_pool_LDADD = $(TEST_THR_LDADD)
tests_threads_test_arena_pool_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/threads/test_arena_pool

check_PROGRAMS += tests/threads/test_remote_free
tests_threads_test_remote_free_CFLAGS = $(TEST_THR_CFLAGS)
tests_threads_test_remote_free_LDADD = $(TEST_THR_LDADD)
tests_threads_test_remote_free_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/threads/test_remote_free

# helgrind.sh runs helgrind_prog (dynamic, on the C library; the script
# preloads libpmalloc.so) under valgrind's helgrind, with the intentional
# lock-free accesses suppressed in helgrind.supp.  Skipped without valgrind.
check_PROGRAMS += tests/threads/helgrind_prog
tests_threads_helgrind_prog_CFLAGS = $(AM_CFLAGS)
tests_threads_helgrind_prog_LDADD = -ldl
tests_threads_helgrind_prog_LDFLAGS = -pthread
TESTS += tests/threads/helgrind.sh
EXTRA_DIST += tests/threads/helgrind.sh tests/threads/helgrind.supp

# The arena lock itself: plain stores while single-threaded, mutual
# exclusion once threads contend.
check_PROGRAMS += tests/threads/test_lock
tests_threads_test_lock_CFLAGS = $(TEST_THR_CFLAGS)
tests_threads_test_lock_LDADD = $(TEST_THR_LDADD)
tests_threads_test_lock_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/threads/test_lock

# The thread cache's size classes above 1032 bytes: exact reuse, the byte
# budget, adaptive depth, idle shrinking, double frees, thread exit.
check_PROGRAMS += tests/threads/test_class_store
tests_threads_test_class_store_CFLAGS = $(TEST_THR_CFLAGS)
tests_threads_test_class_store_LDADD = $(TEST_THR_LDADD)
tests_threads_test_class_store_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/threads/test_class_store

check_PROGRAMS += tests/threads/test_tcache_classes
tests_threads_test_tcache_classes_CFLAGS = $(TEST_THR_CFLAGS)
tests_threads_test_tcache_classes_LDADD = $(TEST_THR_LDADD)
tests_threads_test_tcache_classes_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/threads/test_tcache_classes
