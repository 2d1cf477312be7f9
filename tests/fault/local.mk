# tests and programs of tests/fault are listed here

# Failure injection through the OS layer, and a real RLIMIT_DATA.

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
