# tests and programs of tests/fault are listed here

# What happens when memory cannot be had: failure injection through the
# OS layer (test_fault_os; test_fault_subheap for thread arenas' sub-heaps),
# a real RLIMIT_DATA (test_fault_rlimit), requests no address space holds
# and a real RLIMIT_AS (test_oom).

EXTRA_DIST += tests/fault/enomem.h

check_PROGRAMS += tests/fault/test_fault_os
tests_fault_test_fault_os_CFLAGS = $(TEST_WB_CFLAGS)
tests_fault_test_fault_os_LDADD = $(TEST_LDADD)
tests_fault_test_fault_os_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/fault/test_fault_os

check_PROGRAMS += tests/fault/test_fault_rlimit
tests_fault_test_fault_rlimit_CFLAGS = $(TEST_WB_CFLAGS)
tests_fault_test_fault_rlimit_LDADD = $(TEST_LDADD)
tests_fault_test_fault_rlimit_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/fault/test_fault_rlimit

check_PROGRAMS += tests/fault/test_fault_subheap
tests_fault_test_fault_subheap_CFLAGS = $(TEST_WB_CFLAGS)
tests_fault_test_fault_subheap_LDADD = $(TEST_LDADD)
tests_fault_test_fault_subheap_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/fault/test_fault_subheap

check_PROGRAMS += tests/fault/test_oom
tests_fault_test_oom_CFLAGS = $(TEST_WB_CFLAGS)
tests_fault_test_oom_LDADD = $(TEST_LDADD)
tests_fault_test_oom_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/fault/test_oom
