# tests and programs of tests/stress are listed here

# A seeded random workout of the whole API (about a minute on 2 cores).
check_PROGRAMS += tests/stress/test_random
tests_stress_test_random_CFLAGS = $(TEST_WB_CFLAGS)
tests_stress_test_random_LDADD = $(TEST_LDADD)
tests_stress_test_random_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/stress/test_random
