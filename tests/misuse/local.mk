# misuse (death) tests, the hardened mode, sanitizer builds, valgrind,
# and the fuzzer (tests/fuzz).  Failing system calls and running out of
# memory are tests/fault's.

# Built without the compiler's built-in knowledge of malloc: the tests
# commit misuse the compiler must not see through or fold away.
MISUSE_CFLAGS = $(AM_CFLAGS) -fno-builtin

EXTRA_DIST += tests/misuse/death.h tests/misuse/misuse.h

check_PROGRAMS += tests/misuse/test_death_free
tests_misuse_test_death_free_CFLAGS = $(MISUSE_CFLAGS)
tests_misuse_test_death_free_LDADD = $(TEST_LDADD)
tests_misuse_test_death_free_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/misuse/test_death_free

check_PROGRAMS += tests/misuse/test_death_malloc
tests_misuse_test_death_malloc_CFLAGS = $(MISUSE_CFLAGS)
tests_misuse_test_death_malloc_LDADD = $(TEST_LDADD)
tests_misuse_test_death_malloc_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/misuse/test_death_malloc

check_PROGRAMS += tests/misuse/test_death_other
tests_misuse_test_death_other_CFLAGS = $(MISUSE_CFLAGS)
tests_misuse_test_death_other_LDADD = $(TEST_LDADD)
tests_misuse_test_death_other_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/misuse/test_death_other

# Memory the allocator does not own, a forged top, a moved break.
check_PROGRAMS += tests/misuse/test_heap_bounds
tests_misuse_test_heap_bounds_CFLAGS = $(MISUSE_CFLAGS)
tests_misuse_test_heap_bounds_LDADD = $(TEST_LDADD)
tests_misuse_test_heap_bounds_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/misuse/test_heap_bounds

# valgrind's memcheck on a program with known errors: with pmalloc's
# functions replaced by valgrind's (the glibc-equivalent baseline) and with
# pmalloc itself running (its client requests).  leaky is a plain dynamic
# program; pmalloc reaches it through LD_PRELOAD.
check_PROGRAMS += tests/misuse/leaky
tests_misuse_leaky_CFLAGS = $(AM_CFLAGS) -O1 -fno-builtin
EXTRA_DIST += tests/misuse/memcheck.sh tests/misuse/memcheck_client.sh
TESTS += tests/misuse/memcheck.sh tests/misuse/memcheck_client.sh
# pmalloc's own heap under memcheck: a leaked block's last word is the next
# chunk's prev_size, so the arena's pointer to that chunk makes memcheck
# call the block "possibly lost" (see the report in the commit message)

# The libFuzzer harness (tests/fuzz): built by the test script itself with
# clang -fsanitize=fuzzer, skipped when clang cannot build one.
EXTRA_DIST += tests/fuzz/fuzz_ops.c tests/fuzz/build.sh tests/fuzz/fuzz.sh \
	tests/fuzz/run.sh tests/fuzz/make_corpus.py tests/fuzz/README.md \
	tests/fuzz/corpus
TESTS += tests/fuzz/fuzz.sh
CLEANFILES += tests/fuzz/fuzz_ops
clean-local: clean-local-fuzz
clean-local-fuzz:
	-rm -rf tests/fuzz/artifacts

# UBSan and ASan builds of the allocator's code (the script explains how).
EXTRA_DIST += tests/misuse/sanitizers.sh
TESTS += tests/misuse/sanitizers.sh
clean-local-fuzz: clean-local-san
clean-local-san:
	-rm -rf tests/misuse/san

# The hardened mode: its checks, the guard page, and ordinary work with it on.
check_PROGRAMS += tests/misuse/test_hardened
tests_misuse_test_hardened_CFLAGS = $(MISUSE_CFLAGS)
tests_misuse_test_hardened_LDADD = $(TEST_LDADD)
tests_misuse_test_hardened_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/misuse/test_hardened

# Forged list links that pass the consistency checks but lead outside the
# arena's heaps, or to a bin header where only a chunk may be.
check_PROGRAMS += tests/misuse/test_death_links
tests_misuse_test_death_links_CFLAGS = $(MISUSE_CFLAGS)
tests_misuse_test_death_links_LDADD = $(TEST_LDADD)
tests_misuse_test_death_links_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/misuse/test_death_links

check_PROGRAMS += tests/misuse/test_death_fastbin_state
tests_misuse_test_death_fastbin_state_CFLAGS = $(MISUSE_CFLAGS)
tests_misuse_test_death_fastbin_state_LDADD = $(TEST_LDADD)
tests_misuse_test_death_fastbin_state_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/misuse/test_death_fastbin_state

check_PROGRAMS += tests/misuse/test_death_state
tests_misuse_test_death_state_CFLAGS = $(MISUSE_CFLAGS)
tests_misuse_test_death_state_LDADD = $(TEST_LDADD)
tests_misuse_test_death_state_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/misuse/test_death_state

check_PROGRAMS += tests/misuse/test_death_uaf
tests_misuse_test_death_uaf_CFLAGS = $(MISUSE_CFLAGS)
tests_misuse_test_death_uaf_LDADD = $(TEST_LDADD)
tests_misuse_test_death_uaf_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/misuse/test_death_uaf

check_PROGRAMS += tests/misuse/test_death_size_tag
tests_misuse_test_death_size_tag_CFLAGS = $(MISUSE_CFLAGS)
tests_misuse_test_death_size_tag_LDADD = $(TEST_LDADD)
tests_misuse_test_death_size_tag_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/misuse/test_death_size_tag
