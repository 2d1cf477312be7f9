# heapviz: the tool, its tests and docs
#
# heapviz is an ordinary program on the C library's malloc: it compiles the
# library's walker sources (src/snapshot_walk.c and friends) into itself and
# never links libpmalloc.

bin_PROGRAMS = tools/heapviz/heapviz
tools_heapviz_heapviz_SOURCES = \
	tools/heapviz/main.c \
	tools/heapviz/cli.h tools/heapviz/run.c \
	tools/heapviz/json.h tools/heapviz/json.c \
	tools/heapviz/source.h tools/heapviz/source.c \
	tools/heapviz/elf.c \
	tools/heapviz/stop.h tools/heapviz/stop.c \
	tools/heapviz/views.h \
	tools/heapviz/view_text.c \
	tools/heapviz/view_html.c \
	tools/heapviz/analysis.c \
	tools/heapviz/diff.c \
	tools/heapviz/sites.h \
	tools/heapviz/symbols.h \
	tools/heapviz/symbols.c \
	tools/heapviz/view_sites.c \
	tools/heapviz/pinned.c \
	tools/heapviz/flame.c \
	src/emit.h src/snapshot.h \
	src/snapshot_walk.c \
	src/snapshot_header.c \
	src/snapshot_lists.c \
	src/snapshot_os.c \
	src/snapshot_prof.c \
	src/snapshot_resident.c \
	src/emit.c
tools_heapviz_heapviz_CFLAGS = $(AM_CFLAGS)
tools_heapviz_heapviz_CPPFLAGS = $(AM_CPPFLAGS) \
	-DHEAPVIZ_BUILD_LIB='"$(abs_top_builddir)/.libs/libpmalloc.so"' \
	-DHEAPVIZ_INSTALL_LIB='"$(libdir)/libpmalloc.so"' \
	-DHEAPVIZ_PAGE='"$(abs_top_srcdir)/tools/heapviz/page.html"'
# view_html.c builds page.html in (.incbin): rebuild it when the page changes
tools/heapviz/heapviz-view_html.$(OBJEXT): $(top_srcdir)/tools/heapviz/page.html

man1_MANS = doc/heapviz.1
EXTRA_DIST += doc/heapviz.1 doc/heapviz.md doc/heapviz.png tools/heapviz/page.html

# ---- tests ----

# pmalloc_snapshot on a heap of known layout (links pmalloc statically).
check_PROGRAMS += tests/heapviz/test_snapshot_layout
tests_heapviz_test_snapshot_layout_SOURCES = tests/heapviz/test_snapshot_layout.c \
	tools/heapviz/json.c tools/heapviz/json.h
tests_heapviz_test_snapshot_layout_CFLAGS = $(AM_CFLAGS) -fno-builtin
tests_heapviz_test_snapshot_layout_LDADD = $(TEST_LDADD)
tests_heapviz_test_snapshot_layout_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/heapviz/test_snapshot_layout

# mallinfo2, the snapshot and the PMALLOC_STATS report agree on "in use".
check_PROGRAMS += tests/heapviz/test_in_use
tests_heapviz_test_in_use_SOURCES = tests/heapviz/test_in_use.c \
	tools/heapviz/json.c tools/heapviz/json.h
tests_heapviz_test_in_use_CFLAGS = $(AM_CFLAGS) -fno-builtin
tests_heapviz_test_in_use_LDADD = $(TEST_LDADD)
tests_heapviz_test_in_use_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/heapviz/test_in_use

# A corrupt heap gives a partial snapshot, never a crash or a hang.
check_PROGRAMS += tests/heapviz/test_corrupt
tests_heapviz_test_corrupt_CFLAGS = $(AM_CFLAGS) -fno-builtin
tests_heapviz_test_corrupt_LDADD = $(TEST_LDADD)
tests_heapviz_test_corrupt_LDFLAGS = $(TEST_LDFLAGS)
TESTS += tests/heapviz/test_corrupt

# A program that builds a heap, snapshots itself and waits (for --pid).
check_PROGRAMS += tests/heapviz/hv_child
tests_heapviz_hv_child_SOURCES = tests/heapviz/hv_child.c
tests_heapviz_hv_child_CFLAGS = $(AM_CFLAGS) -fno-builtin
tests_heapviz_hv_child_LDADD = $(TEST_LDADD)
tests_heapviz_hv_child_LDFLAGS = $(TEST_LDFLAGS)

# A busy multi-threaded program (for live snapshots while it runs).
check_PROGRAMS += tests/heapviz/hv_busy
tests_heapviz_hv_busy_SOURCES = tests/heapviz/hv_busy.c
tests_heapviz_hv_busy_CFLAGS = $(AM_CFLAGS) -fno-builtin
tests_heapviz_hv_busy_LDADD = $(TEST_LDADD)
tests_heapviz_hv_busy_LDFLAGS = $(TEST_LDFLAGS)

HEAPVIZ_TESTS = \
	tests/heapviz/text_golden.sh \
	tests/heapviz/live_pid.sh \
	tests/heapviz/live_busy.sh \
	tests/heapviz/bad_input.sh \
	tests/heapviz/html_chromium.sh \
	tests/heapviz/tools.sh \
	tests/heapviz/core.sh
TESTS += $(HEAPVIZ_TESTS)
EXTRA_DIST += $(HEAPVIZ_TESTS) tests/heapviz/common.sh \
	tests/heapviz/golden_input.json tests/heapviz/golden_text.txt \
	tests/heapviz/golden_bins.txt tests/heapviz/golden_chunks.txt
