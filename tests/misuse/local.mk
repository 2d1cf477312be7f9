# misuse (death) tests, the hardened mode, sanitizer builds, valgrind,
# and the fuzzer (tests/fuzz).  Failing system calls and running out of
# memory are tests/fault's.

# Built without the compiler's built-in knowledge of malloc: the tests
# commit misuse the compiler must not see through or fold away.
MISUSE_CFLAGS = $(AM_CFLAGS) -fno-builtin

EXTRA_DIST += tests/misuse/death.h tests/misuse/misuse.h
# Makefile.am does not start the list of expected failures; it is started
# here (move this line next to TESTS = in Makefile.am when another part
# needs it too).

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

# Checks pmalloc lacks (test_missing.c): one program per missing check,
# expected to fail until the check exists (then XPASS: drop the line).
check_PROGRAMS += tests/misuse/test_missing_foreign_tcache
tests_misuse_test_missing_foreign_tcache_SOURCES = tests/misuse/test_missing.c
tests_misuse_test_missing_foreign_tcache_CPPFLAGS = $(AM_CPPFLAGS) -DMISSING_CASE='"foreign_tcache"'
tests_misuse_test_missing_foreign_tcache_CFLAGS = $(MISUSE_CFLAGS)
tests_misuse_test_missing_foreign_tcache_LDADD = $(TEST_LDADD)
tests_misuse_test_missing_foreign_tcache_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/misuse/test_missing_foreign_tcache
check_PROGRAMS += tests/misuse/test_missing_foreign_fastbin
tests_misuse_test_missing_foreign_fastbin_SOURCES = tests/misuse/test_missing.c
tests_misuse_test_missing_foreign_fastbin_CPPFLAGS = $(AM_CPPFLAGS) -DMISSING_CASE='"foreign_fastbin"'
tests_misuse_test_missing_foreign_fastbin_CFLAGS = $(MISUSE_CFLAGS)
tests_misuse_test_missing_foreign_fastbin_LDADD = $(TEST_LDADD)
tests_misuse_test_missing_foreign_fastbin_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/misuse/test_missing_foreign_fastbin
check_PROGRAMS += tests/misuse/test_missing_foreign_arena
tests_misuse_test_missing_foreign_arena_SOURCES = tests/misuse/test_missing.c
tests_misuse_test_missing_foreign_arena_CPPFLAGS = $(AM_CPPFLAGS) -DMISSING_CASE='"foreign_arena"'
tests_misuse_test_missing_foreign_arena_CFLAGS = $(MISUSE_CFLAGS)
tests_misuse_test_missing_foreign_arena_LDADD = $(TEST_LDADD)
tests_misuse_test_missing_foreign_arena_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/misuse/test_missing_foreign_arena
check_PROGRAMS += tests/misuse/test_missing_foreign_stack
tests_misuse_test_missing_foreign_stack_SOURCES = tests/misuse/test_missing.c
tests_misuse_test_missing_foreign_stack_CPPFLAGS = $(AM_CPPFLAGS) -DMISSING_CASE='"foreign_stack"'
tests_misuse_test_missing_foreign_stack_CFLAGS = $(MISUSE_CFLAGS)
tests_misuse_test_missing_foreign_stack_LDADD = $(TEST_LDADD)
tests_misuse_test_missing_foreign_stack_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/misuse/test_missing_foreign_stack
check_PROGRAMS += tests/misuse/test_missing_top_size_shrunk
tests_misuse_test_missing_top_size_shrunk_SOURCES = tests/misuse/test_missing.c
tests_misuse_test_missing_top_size_shrunk_CPPFLAGS = $(AM_CPPFLAGS) -DMISSING_CASE='"top_size_shrunk"'
tests_misuse_test_missing_top_size_shrunk_CFLAGS = $(MISUSE_CFLAGS)
tests_misuse_test_missing_top_size_shrunk_LDADD = $(TEST_LDADD)
tests_misuse_test_missing_top_size_shrunk_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/misuse/test_missing_top_size_shrunk
check_PROGRAMS += tests/misuse/test_missing_break_adjusted
tests_misuse_test_missing_break_adjusted_SOURCES = tests/misuse/test_missing.c
tests_misuse_test_missing_break_adjusted_CPPFLAGS = $(AM_CPPFLAGS) -DMISSING_CASE='"break_adjusted"'
tests_misuse_test_missing_break_adjusted_CFLAGS = $(MISUSE_CFLAGS)
tests_misuse_test_missing_break_adjusted_LDADD = $(TEST_LDADD)
tests_misuse_test_missing_break_adjusted_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/misuse/test_missing_break_adjusted
check_PROGRAMS += tests/misuse/test_missing_mmap_self_linked
tests_misuse_test_missing_mmap_self_linked_SOURCES = tests/misuse/test_missing.c
tests_misuse_test_missing_mmap_self_linked_CPPFLAGS = $(AM_CPPFLAGS) -DMISSING_CASE='"mmap_self_linked"'
tests_misuse_test_missing_mmap_self_linked_CFLAGS = $(MISUSE_CFLAGS)
tests_misuse_test_missing_mmap_self_linked_LDADD = $(TEST_LDADD)
tests_misuse_test_missing_mmap_self_linked_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/misuse/test_missing_mmap_self_linked

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
