/* The environment beyond single values: long values, PMALLOC_ names that
 * are no option (and the hint for a misspelt one), glibc's GLIBC_TUNABLES
 * names and their precedence, and the PMALLOC_VERBOSE listing. */
#include "../harness.h"

#include <stdio.h>
#include <string.h>

#include "options_env.h"

static void test_env_long_values(void)
{
    /* a path one byte too long: the line names the limit, and the value
     * is cut so that the reason still fits */
    static char entry[32 + PM_OPTION_PATH_MAX];
    int n = snprintf(entry, sizeof entry, "PMALLOC_SNAPSHOT_AT_EXIT=");
    memset(entry + n, 'a', PM_OPTION_PATH_MAX);
    entry[n + PM_OPTION_PATH_MAX] = '\0';
    char want[512];
    snprintf(want, sizeof want,
             "pmalloc: ignoring PMALLOC_SNAPSHOT_AT_EXIT=%.128s...: path too long (at most 4095 bytes)\n",
             entry + n);
    ENV_REJECTED(ENV(entry), want);
    entry[n + PM_OPTION_PATH_MAX - 1] = '\0';
    const char *out = env_run(ENV(entry));
    CHECK(strcmp(out, "") == 0);
    CHECK_EQ_SIZE(strlen(pm_opt.snapshot_path), PM_OPTION_PATH_MAX - 1);
    restore_options();
}

/* ---- PMALLOC_ names that are no option ---- */

static void test_env_unknown_names(void)
{
    /* a misspelt name gets the closest option as a hint */
    ENV_REJECTED(ENV("PMALLOC_TCACHE_CONT=0"),
                 "pmalloc: ignoring PMALLOC_TCACHE_CONT=0: unknown name, did you mean "
                 "PMALLOC_TCACHE_COUNT?\n");
    ENV_REJECTED(ENV("PMALLOC_TRIM_THRESHHOLD=0"),
                 "pmalloc: ignoring PMALLOC_TRIM_THRESHHOLD=0: unknown name, did you mean "
                 "PMALLOC_TRIM_THRESHOLD?\n");
    ENV_REJECTED(ENV("PMALLOC_ARENAMAX=1"),
                 "pmalloc: ignoring PMALLOC_ARENAMAX=1: unknown name, did you mean "
                 "PMALLOC_ARENA_MAX?\n");
    ENV_REJECTED(ENV("PMALLOC_MXAFST=0"),   /* two letters swapped: one edit */
                 "pmalloc: ignoring PMALLOC_MXAFST=0: unknown name, did you mean PMALLOC_MXFAST?\n");
    ENV_REJECTED(ENV("PMALLOC_stats=1"),
                 "pmalloc: ignoring PMALLOC_stats=1: unknown name, did you mean PMALLOC_STATS?\n");
    ENV_REJECTED(ENV("PMALLOC_VERBSE=1"),
                 "pmalloc: ignoring PMALLOC_VERBSE=1: unknown name, did you mean PMALLOC_VERBOSE?\n");
    /* nothing close: where to look instead */
    ENV_REJECTED(ENV("PMALLOC_SNAPSHOT=x.json"),
                 "pmalloc: ignoring PMALLOC_SNAPSHOT=x.json: unknown name, see pmalloc(3) for the "
                 "options\n");
    ENV_REJECTED(ENV("PMALLOC_FOO="), "pmalloc: ignoring PMALLOC_FOO=: unknown name, see pmalloc(3) "
                                      "for the options\n");
    /* once per name, however often it appears; each name in order */
    ENV_REJECTED(ENV("PMALLOC_TCACHE_CONT=0", "PMALLOC_FOO=1", "PMALLOC_TCACHE_CONT=1"),
                 "pmalloc: ignoring PMALLOC_TCACHE_CONT=0: unknown name, did you mean "
                 "PMALLOC_TCACHE_COUNT?\n"
                 "pmalloc: ignoring PMALLOC_FOO=1: unknown name, see pmalloc(3) for the options\n");
    /* a known name given twice is no unknown name; the first counts */
    ENV_OK(ENV("PMALLOC_ARENA_MAX=2", "PMALLOC_ARENA_MAX=3"), arena_max, 2);
    /* read by pmalloc-run, heapviz and the tests; not glibc's either */
    ENV_REJECTED(ENV("PMALLOC_LIB=/x/libpmalloc.so", "PMALLOC_TEST_SEED=7", "MALLOC_FOO_=1",
                     "PMALLOC_LIBRARY=1"),
                 "pmalloc: ignoring PMALLOC_LIBRARY=1: unknown name, see pmalloc(3) for the "
                 "options\n");
    /* the valid options around an unknown one still apply */
    {
        struct pm_options e = env_base();
        e.tcache_count = 3;
        expect_env(ENV("PMALLOC_TCACHE_COUNT=3", "PMALLOC_TCACHE_CONT=0"), &e,
                   "pmalloc: ignoring PMALLOC_TCACHE_CONT=0: unknown name, did you mean "
                   "PMALLOC_TCACHE_COUNT?\n",
                   __LINE__);
    }
}

/* ---- GLIBC_TUNABLES ---- */

static void test_glibc_tunables(void)
{
    /* every glibc.malloc name pmalloc has, in glibc's units */
    ENV_OK(ENV("GLIBC_TUNABLES=glibc.malloc.arena_max=2"), arena_max, 2);
    ENV_OK(ENV("GLIBC_TUNABLES=glibc.malloc.arena_test=3"), arena_test, 3);
    ENV_OK(ENV("GLIBC_TUNABLES=glibc.malloc.check=1"), check_action, 1);
    ENV_OK_FIXED(ENV("GLIBC_TUNABLES=glibc.malloc.mmap_max=10"), mmap_max, 10);
    ENV_OK_FIXED(ENV("GLIBC_TUNABLES=glibc.malloc.mmap_threshold=65536"), mmap_threshold, 65536);
    ENV_OK(ENV("GLIBC_TUNABLES=glibc.malloc.perturb=165"), perturb_byte, 165);
    ENV_OK(ENV("GLIBC_TUNABLES=glibc.malloc.tcache_count=0"), tcache_count, 0);
    ENV_OK(ENV("GLIBC_TUNABLES=glibc.malloc.tcache_max=512"), tcache_max_bytes, 512);
    ENV_OK_FIXED(ENV("GLIBC_TUNABLES=glibc.malloc.top_pad=4096"), top_pad, 4096);
    ENV_OK_FIXED(ENV("GLIBC_TUNABLES=glibc.malloc.trim_threshold=0x1000"), trim_threshold, 4096);
    ENV_OK(ENV("GLIBC_TUNABLES=glibc.malloc.mxfast=0"), max_fast, 0);
    ENV_OK(ENV("GLIBC_TUNABLES=glibc.malloc.mxfast=64"), max_fast, 64);

    /* several, with other namespaces, unimplemented and unknown glibc
     * names, empty and '='-less items around them: those are skipped
     * without a word, as glibc does */
    {
        struct pm_options e = env_base();
        e.arena_max = 2;
        e.tcache_count = 0;
        expect_env(ENV("GLIBC_TUNABLES=glibc.rtld.nns=2:glibc.malloc.arena_max=2::"
                       "glibc.malloc.hugetlb=1:glibc.malloc.tcache_count=0:glibc.malloc.tcache_cont=9:"
                       "glibc.malloc.tcache_unsorted_limit=4:glibc.malloc.arena_test:"
                       "glibc.mem.tagging=1:glibc.malloc.=1:glibc.malloc:"),
                   &e, "", __LINE__);
    }
    /* the names are case-sensitive, as in glibc */
    ENV_REJECTED(ENV("GLIBC_TUNABLES=glibc.malloc.ARENA_MAX=2:GLIBC.MALLOC.arena_max=2"), "");
    /* the last occurrence counts, as in glibc */
    ENV_OK(ENV("GLIBC_TUNABLES=glibc.malloc.arena_max=2:glibc.malloc.arena_max=5"), arena_max, 5);

    /* rejected values: named as they appear, with the range */
    ENV_REJECTED(ENV("GLIBC_TUNABLES=glibc.malloc.tcache_count=65536"),
                 "pmalloc: ignoring glibc.malloc.tcache_count=65536 in GLIBC_TUNABLES: "
                 "out of range 0..65535\n");
    ENV_REJECTED(ENV("GLIBC_TUNABLES=glibc.malloc.tcache_max=513k:glibc.malloc.mxfast=161"),
                 "pmalloc: ignoring glibc.malloc.mxfast=161 in GLIBC_TUNABLES: out of range 0..160 bytes\n"
                 "pmalloc: ignoring glibc.malloc.tcache_max=513k in GLIBC_TUNABLES: "
                 "out of range 0..524272 bytes\n");
    ENV_REJECTED(ENV("GLIBC_TUNABLES=glibc.malloc.mmap_threshold=64m"),
                 "pmalloc: ignoring glibc.malloc.mmap_threshold=64m in GLIBC_TUNABLES: "
                 "out of range 0..32 MiB\n");
    ENV_REJECTED(ENV("GLIBC_TUNABLES=glibc.malloc.arena_max=0"),
                 "pmalloc: ignoring glibc.malloc.arena_max=0 in GLIBC_TUNABLES: "
                 "out of range (at least 1)\n");
    ENV_REJECTED(ENV("GLIBC_TUNABLES=glibc.malloc.top_pad=lots:glibc.rtld.nns=2"),
                 "pmalloc: ignoring glibc.malloc.top_pad=lots in GLIBC_TUNABLES: not a number\n");
    /* the memory limits: sizes of at least 1 MiB */
    ENV_OK(ENV("PMALLOC_MEMORY_LIMIT=2g"), memory_limit, (size_t)2 << 30);
    ENV_OK(ENV("PMALLOC_MEMORY_LIMIT_HARD=1m"), memory_limit_hard, (size_t)1 << 20);
    ENV_REJECTED(ENV("PMALLOC_MEMORY_LIMIT=512k"),
                 "pmalloc: ignoring PMALLOC_MEMORY_LIMIT=512k: out of range (at least 1 MiB)\n");
    ENV_REJECTED(ENV("PMALLOC_MEMORY_LIMIT_HARD=lots"),
                 "pmalloc: ignoring PMALLOC_MEMORY_LIMIT_HARD=lots: not a number\n");
    ENV_REJECTED(ENV("GLIBC_TUNABLES=glibc.malloc.top_pad="),
                 "pmalloc: ignoring glibc.malloc.top_pad= in GLIBC_TUNABLES: empty value\n");
    {
        static char entry[256];
        snprintf(entry, sizeof entry, "GLIBC_TUNABLES=glibc.malloc.top_pad=%0100d", 1);
        char want[512];
        snprintf(want, sizeof want,
                 "pmalloc: ignoring glibc.malloc.top_pad=%0100d in GLIBC_TUNABLES: not a number\n", 1);
        ENV_REJECTED(ENV(entry), want);
    }

    /* precedence: PMALLOC_ name, then GLIBC_TUNABLES, then glibc's older
     * name, whatever their order in the environment */
    ENV_OK(ENV("PMALLOC_ARENA_MAX=3", "GLIBC_TUNABLES=glibc.malloc.arena_max=2"), arena_max, 3);
    ENV_OK(ENV("GLIBC_TUNABLES=glibc.malloc.arena_max=2", "PMALLOC_ARENA_MAX=3"), arena_max, 3);
    ENV_OK(ENV("MALLOC_ARENA_MAX=4", "GLIBC_TUNABLES=glibc.malloc.arena_max=2"), arena_max, 2);
    ENV_OK(ENV("GLIBC_TUNABLES=glibc.malloc.arena_max=2", "MALLOC_ARENA_MAX=4"), arena_max, 2);
    ENV_OK(ENV("MALLOC_ARENA_MAX=4", "GLIBC_TUNABLES=glibc.malloc.arena_max=2", "PMALLOC_ARENA_MAX=3"),
           arena_max, 3);
    /* ... and an unusable value falls back to the next */
    {
        struct pm_options e = env_base();
        e.arena_max = 2;
        expect_env(ENV("PMALLOC_ARENA_MAX=x", "GLIBC_TUNABLES=glibc.malloc.arena_max=2",
                       "MALLOC_ARENA_MAX=4"),
                   &e, "pmalloc: ignoring PMALLOC_ARENA_MAX=x: not a number\n", __LINE__);
        e.arena_max = 4;
        expect_env(ENV("GLIBC_TUNABLES=glibc.malloc.arena_max=0", "MALLOC_ARENA_MAX=4"), &e,
                   "pmalloc: ignoring glibc.malloc.arena_max=0 in GLIBC_TUNABLES: "
                   "out of range (at least 1)\n",
                   __LINE__);
    }
    /* the first GLIBC_TUNABLES variable counts, as with getenv */
    ENV_OK(ENV("GLIBC_TUNABLES=glibc.malloc.arena_max=2", "GLIBC_TUNABLES=glibc.malloc.arena_max=5"),
           arena_max, 2);
}

/* ---- PMALLOC_VERBOSE ---- */

static void test_verbose(void)
{
    /* nothing is listed unless asked for */
    ENV_OK(ENV("PMALLOC_VERBOSE=0"), verbose, false);

    const char *out = env_run(ENV("PMALLOC_VERBOSE=1", "PMALLOC_TOP_PAD=8k", "MALLOC_PERTURB_=165",
                                  "MALLOC_ARENA_MAX=4", "PMALLOC_TCACHE_MAX=1m",
                                  "GLIBC_TUNABLES=glibc.malloc.arena_max=2:glibc.malloc.tcache_count=0:"
                                  "glibc.malloc.hugetlb=1:glibc.rtld.nns=2",
                                  "PMALLOC_SNAPSHOT_AT_EXIT=/tmp/s-%p.json"));
    static const char *const want[] = {
        "pmalloc: ignoring PMALLOC_TCACHE_MAX=1m: out of range 0..524272 bytes",
        "pmalloc: PMALLOC_MXFAST=128 (default)",
        "pmalloc: PMALLOC_TRIM_THRESHOLD=131072 (default)",
        "pmalloc: PMALLOC_TOP_PAD=8192 (from the environment)",
        "pmalloc: PMALLOC_MMAP_THRESHOLD=131072 (default)",
        "pmalloc: PMALLOC_MMAP_MAX=65536 (default)",
        "pmalloc: PMALLOC_ARENA_MAX=2 (from GLIBC_TUNABLES glibc.malloc.arena_max)",
        "pmalloc: PMALLOC_ARENA_TEST=8 (default)",
        "pmalloc: PMALLOC_PERTURB=165 (from MALLOC_PERTURB_)",
        "pmalloc: PMALLOC_CHECK_ACTION=3 (default)",
        "pmalloc: PMALLOC_TCACHE_COUNT=0 (from GLIBC_TUNABLES glibc.malloc.tcache_count)",
        "pmalloc: PMALLOC_TCACHE_MAX=262144 (default)",
        "pmalloc: PMALLOC_TCACHE_BYTES=2097152 (default)",
        "pmalloc: PMALLOC_STATS=0 (default)",
        "pmalloc: PMALLOC_CHECK=0 (default)",
        "pmalloc: PMALLOC_HARDENED=0 (default)",
        "pmalloc: PMALLOC_SNAPSHOT_AT_EXIT=/tmp/s-%p.json (from the environment)",
        "pmalloc: PMALLOC_VERBOSE=1 (from the environment)",
        "pmalloc: PMALLOC_MEMORY_LIMIT=0 (default)",
        "pmalloc: PMALLOC_MEMORY_LIMIT_HARD=0 (default)",
        "pmalloc: PMALLOC_TEST_CGROUP_DIR= (default)",
        "pmalloc: PMALLOC_PROF=0 (default)",
        "pmalloc: PMALLOC_PROF_SAMPLE=524288 (default)",
        "pmalloc: PMALLOC_PROF_LEAKS=0 (default)",
        "pmalloc: PMALLOC_DECAY_MS=1000 (default)",
        "pmalloc: PMALLOC_DECAY_MADV_FREE=0 (default)",
        "pmalloc: PMALLOC_BACKGROUND_THREAD=0 (default)",
        "pmalloc: GLIBC_TUNABLES: glibc.malloc.hugetlb is not a pmalloc option, ignored",
    };
    char expected[4096];
    size_t len = 0;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        len += (size_t)snprintf(expected + len, sizeof expected - len, "%s\n", want[i]);
    /* the defaults are only defaults in a clean environment */
    bool same = environment_sets_options() || strcmp(out, expected) == 0;
    if (!same)
        fprintf(stderr, "PMALLOC_VERBOSE=1 wrote\n%s\nwant\n%s\n", out, expected);
    CHECK(same);
    /* every option of the table has its line */
    CHECK_EQ_SIZE(sizeof want / sizeof want[0], PM_OPTION_COUNT + 2);
    restore_options();

    /* negative values as they are, sources of the other kinds */
    out = env_run(ENV("PMALLOC_VERBOSE=yes", "GLIBC_TUNABLES=glibc.malloc.check=-2",
                      "PMALLOC_HARDENED=on"));
    CHECK(strstr(out, "\npmalloc: PMALLOC_CHECK_ACTION=-2 (from GLIBC_TUNABLES glibc.malloc.check)\n") !=
          NULL);
    CHECK(strstr(out, "\npmalloc: PMALLOC_HARDENED=1 (from the environment)\n") != NULL);
    CHECK(strstr(out, "\npmalloc: PMALLOC_SNAPSHOT_AT_EXIT= (default)\n") != NULL);
    restore_options();
}

int main(void)
{
    free(malloc(1)); /* start-up has run */
    startup_options = pm_opt;

    test_env_long_values();
    test_env_unknown_names();
    test_glibc_tunables();
    test_verbose();
    CHECK(same_options(&pm_opt, &startup_options));
    CHECK_HEAP();
    return test_finish("test_options_env");
}
