# tests and programs of tests/unit are listed here

check_PROGRAMS += tests/unit/test_options
# -fno-builtin: the compiler must not fold away malloc/free pairs whose
# only purpose is to move the counters these tests read.
tests_unit_test_options_CFLAGS = $(AM_CFLAGS) -fno-builtin
tests_unit_test_options_LDADD = $(TEST_LDADD)
tests_unit_test_options_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_options

check_PROGRAMS += tests/unit/test_stats
tests_unit_test_stats_CFLAGS = $(AM_CFLAGS) -fno-builtin
tests_unit_test_stats_LDADD = $(TEST_LDADD)
tests_unit_test_stats_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/unit/test_stats
