# Integration tests: real programs (python3, gcc, git, sqlite3, perl,
# sort, bash) run on glibc and on pmalloc with identical results, the
# exported symbol set, the pmalloc-run wrapper, programs linked
# against libpmalloc statically and dynamically, and programs linked the
# way a user links them, through pkg-config (pkgconfig.sh).  common.sh has the
# shared code; see the comment at its top.

INTEGRATION_TESTS = \
	tests/integration/exports.sh \
	tests/integration/pmalloc_run.sh \
	tests/integration/link.sh \
	tests/integration/secure.sh \
	tests/integration/report.sh \
	tests/integration/prof.sh \
	tests/integration/pkgconfig.sh \
	tests/integration/man_pages.sh \
	tests/integration/python_alloc.sh \
	tests/integration/gcc_compile.sh \
	tests/integration/git_repo.sh \
	tests/integration/sqlite.sh \
	tests/integration/perl.sh \
	tests/integration/sort_lines.sh \
	tests/integration/bash_script.sh \
	tests/integration/tunables.sh

TESTS += $(INTEGRATION_TESTS)
EXTRA_DIST += $(INTEGRATION_TESTS) \
	tests/integration/common.sh \
	tests/integration/python_alloc.py \
	tests/integration/gcc_input.c \
	tests/integration/gcc_broken.c \
	tests/integration/sqlite.sql \
	tests/integration/perl_work.pl \
	tests/integration/bash_work.bash \
	tests/integration/pkg_strdup.c \
	tests/integration/pkg_cxx.cpp

# The same program linked two ways; link.sh runs and inspects both.
# link_static: fully static (-all-static), libpmalloc.a replaces glibc's
# malloc inside libc.a.  link_dynamic: -lpmalloc, run from the build tree
# (-no-install: a real executable with the build's .libs in its run path).
check_PROGRAMS += tests/integration/link_static tests/integration/link_dynamic
tests_integration_link_static_SOURCES = tests/integration/link_prog.c
tests_integration_link_static_LDADD = libpmalloc.la
tests_integration_link_static_LDFLAGS = -all-static -pthread
tests_integration_link_dynamic_SOURCES = tests/integration/link_prog.c
tests_integration_link_dynamic_LDADD = libpmalloc.la
tests_integration_link_dynamic_LDFLAGS = -no-install -pthread

# secure.sh makes a copy of this program set-user-ID root and runs it as
# nobody; fully static, since the dynamic loader would ignore a build
# tree's run path in a set-user-ID program.
check_PROGRAMS += tests/integration/secure_prog
tests_integration_secure_prog_SOURCES = tests/integration/secure_prog.c
tests_integration_secure_prog_LDADD = libpmalloc.la
tests_integration_secure_prog_LDFLAGS = -all-static -pthread

# report.sh runs it under LD_PRELOAD with PMALLOC_STATS.
check_PROGRAMS += tests/integration/report_prog
tests_integration_report_prog_SOURCES = tests/integration/report_prog.c

# prof.sh runs it under LD_PRELOAD with PMALLOC_PROF: known sites.
check_PROGRAMS += tests/integration/prof_prog
tests_integration_prof_prog_SOURCES = tests/integration/prof_prog.c
