/* Tunables: defaults, mallopt(3) return values and effects, and the
 * environment (glibc's and pmalloc's spellings, number syntax, rejected
 * values and their one-line messages); test_options_env.c has the rest of
 * the environment. */
#include "../harness.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "options_env.h"

static void test_defaults(void)
{
    CHECK_EQ_SIZE(pm_max_fast_for(0), 0);
    CHECK_EQ_SIZE(pm_max_fast_for(7), 0);
    CHECK_EQ_SIZE(pm_max_fast_for(8), 0);   /* (8+8)&~15 = 16: no chunk is that small */
    CHECK_EQ_SIZE(pm_max_fast_for(24), 32);
    CHECK_EQ_SIZE(pm_max_fast_for(120), 128);
    CHECK_EQ_SIZE(pm_max_fast_for(128), 128);
    CHECK_EQ_SIZE(pm_max_fast_for(160), 160);

    if (environment_sets_options()) {
        fprintf(stderr, "test_defaults: skipped, the environment sets malloc options\n");
        return;
    }
    CHECK_EQ_SIZE(pm_opt.max_fast, 128);
    CHECK_EQ_SIZE(pm_opt.max_fast, pm_max_fast_for(PM_DEFAULT_MXFAST));
    CHECK_EQ_SIZE(pm_opt.trim_threshold, 128 * 1024);
    CHECK_EQ_SIZE(pm_opt.top_pad, 128 * 1024);
    CHECK_EQ_SIZE(pm_opt.mmap_threshold, 128 * 1024);
    CHECK_EQ_SIZE(pm_opt.mmap_max, 65536);
    CHECK_EQ_SIZE(pm_opt.arena_max, 0);
    CHECK_EQ_SIZE(pm_opt.arena_test, 8);
    CHECK(pm_opt.perturb_byte == 0);
    CHECK(pm_opt.check_action == 3);
    CHECK_EQ_SIZE(pm_opt.tcache_count, 7);
    CHECK_EQ_SIZE(pm_opt.tcache_max_bytes, 256 * 1024);
    CHECK(!pm_opt.no_dyn_threshold);
    CHECK(!pm_opt.stats_at_exit);
    CHECK(!pm_opt.check_heap);
}

/* mallopt must return `ret`; afterwards the options must equal `expect`. */
static void expect_mallopt(int param, int value, int ret, const struct pm_options *expect,
                           int line)
{
    int got = mallopt(param, value);
    if (got != ret || !same_options(&pm_opt, expect)) {
        fprintf(stderr, "line %d: mallopt(%d, %d) returned %d (want %d), options %s\n", line,
                param, value, got, ret, same_options(&pm_opt, expect) ? "ok" : "differ");
    }
    CHECK(got == ret);
    CHECK(same_options(&pm_opt, expect));
    restore_options();
}

#define MALLOPT_OK(param, value, field, want)                                \
    do {                                                                     \
        struct pm_options e_ = startup_options;                             \
        e_.field = (want);                                                   \
        expect_mallopt(param, value, 1, &e_, __LINE__);                     \
    } while (0)

/* The threshold-like parameters also freeze the dynamic threshold. */
#define MALLOPT_OK_FIXED(param, value, field, want)                          \
    do {                                                                     \
        struct pm_options e_ = startup_options;                             \
        e_.field = (want);                                                   \
        e_.no_dyn_threshold = true;                                          \
        expect_mallopt(param, value, 1, &e_, __LINE__);                     \
    } while (0)

#define MALLOPT_RET_UNCHANGED(param, value, ret) \
    expect_mallopt(param, value, ret, &startup_options, __LINE__)

static void test_mallopt(void)
{
    /* M_MXFAST: 0..160 in request bytes; stored as a chunk-size limit */
    MALLOPT_OK(M_MXFAST, 0, max_fast, 0);
    MALLOPT_OK(M_MXFAST, 7, max_fast, 0);
    MALLOPT_OK(M_MXFAST, 24, max_fast, 32);
    MALLOPT_OK(M_MXFAST, 64, max_fast, 64);
    MALLOPT_OK(M_MXFAST, 80, max_fast, 80);
    MALLOPT_OK(M_MXFAST, 128, max_fast, 128);
    MALLOPT_OK(M_MXFAST, 160, max_fast, 160);
    MALLOPT_RET_UNCHANGED(M_MXFAST, 161, 0);
    MALLOPT_RET_UNCHANGED(M_MXFAST, -1, 0);
    MALLOPT_RET_UNCHANGED(M_MXFAST, INT_MAX, 0);

    /* -1 is SIZE_MAX, as with glibc: "never trim" */
    MALLOPT_OK_FIXED(M_TRIM_THRESHOLD, 12345, trim_threshold, 12345);
    MALLOPT_OK_FIXED(M_TRIM_THRESHOLD, 0, trim_threshold, 0);
    MALLOPT_OK_FIXED(M_TRIM_THRESHOLD, -1, trim_threshold, SIZE_MAX);

    MALLOPT_OK_FIXED(M_TOP_PAD, 0, top_pad, 0);
    MALLOPT_OK_FIXED(M_TOP_PAD, 1 << 20, top_pad, 1 << 20);

    MALLOPT_OK_FIXED(M_MMAP_THRESHOLD, 64 * 1024, mmap_threshold, 64 * 1024);
    MALLOPT_OK_FIXED(M_MMAP_THRESHOLD, 0, mmap_threshold, 0);
    MALLOPT_OK_FIXED(M_MMAP_THRESHOLD, 32 * 1024 * 1024, mmap_threshold, 32 * 1024 * 1024);
    MALLOPT_RET_UNCHANGED(M_MMAP_THRESHOLD, 32 * 1024 * 1024 + 1, 0);
    MALLOPT_RET_UNCHANGED(M_MMAP_THRESHOLD, -1, 0);

    /* glibc keeps mmap_max in an int: negative means "never mmap" */
    MALLOPT_OK_FIXED(M_MMAP_MAX, 0, mmap_max, 0);
    MALLOPT_OK_FIXED(M_MMAP_MAX, 100, mmap_max, 100);
    MALLOPT_OK_FIXED(M_MMAP_MAX, -1, mmap_max, 0);

    /* values <= 0 are ignored, yet glibc still reports success */
    MALLOPT_OK(M_ARENA_TEST, 4, arena_test, 4);
    MALLOPT_RET_UNCHANGED(M_ARENA_TEST, 0, 1);
    MALLOPT_RET_UNCHANGED(M_ARENA_TEST, -3, 1);
    MALLOPT_OK(M_ARENA_MAX, 2, arena_max, 2);
    MALLOPT_RET_UNCHANGED(M_ARENA_MAX, 0, 1);
    MALLOPT_RET_UNCHANGED(M_ARENA_MAX, -1, 1);

    MALLOPT_OK(M_PERTURB, 0xa5, perturb_byte, 0xa5);
    MALLOPT_OK(M_PERTURB, 0, perturb_byte, 0);
    MALLOPT_OK(M_CHECK_ACTION, 1, check_action, 1);
    MALLOPT_OK(M_CHECK_ACTION, 0, check_action, 0);

    MALLOPT_OK(PM_M_TCACHE_COUNT, 0, tcache_count, 0);
    MALLOPT_OK(PM_M_TCACHE_COUNT, 65535, tcache_count, 65535);
    MALLOPT_RET_UNCHANGED(PM_M_TCACHE_COUNT, 65536, 0);
    MALLOPT_RET_UNCHANGED(PM_M_TCACHE_COUNT, -1, 0);
    MALLOPT_OK(PM_M_TCACHE_MAX, 0, tcache_max_bytes, 0);
    MALLOPT_OK(PM_M_TCACHE_MAX, 512, tcache_max_bytes, 512);
    MALLOPT_OK(PM_M_TCACHE_MAX, 1032, tcache_max_bytes, 1032);
    MALLOPT_OK(PM_M_TCACHE_MAX, 262144, tcache_max_bytes, 262144);
    MALLOPT_OK(PM_M_TCACHE_MAX, 524272, tcache_max_bytes, 524272);
    MALLOPT_RET_UNCHANGED(PM_M_TCACHE_MAX, 524273, 0);
    MALLOPT_OK(PM_M_TCACHE_BYTES, 0, tcache_bytes, 0);
    MALLOPT_OK(PM_M_TCACHE_BYTES, 1 << 30, tcache_bytes, (size_t)1 << 30);
    MALLOPT_RET_UNCHANGED(PM_M_TCACHE_BYTES, (1 << 30) + 1, 0);

    /* unknown, and glibc's ignored M_NLBLKS / M_GRAIN / M_KEEP */
    MALLOPT_RET_UNCHANGED(2, 5, 1);
    MALLOPT_RET_UNCHANGED(3, 5, 1);
    MALLOPT_RET_UNCHANGED(4, 5, 1);
    MALLOPT_RET_UNCHANGED(12345, 5, 1);
    MALLOPT_RET_UNCHANGED(INT_MIN, 5, 1);

    /* the internal entry point has the same semantics */
    CHECK(pm_options_set(M_MXFAST, 200) == 0);
    CHECK(pm_options_set(M_MXFAST, 32) == 1);
    CHECK_EQ_SIZE(pm_opt.max_fast, 32);
    restore_options();
}

static void test_env_names(void)
{
    ENV_REJECTED(ENV("UNRELATED=1"), "");

    /* glibc's spellings */
    ENV_OK_FIXED(ENV("MALLOC_TRIM_THRESHOLD_=4096"), trim_threshold, 4096);
    ENV_OK_FIXED(ENV("MALLOC_TOP_PAD_=4096"), top_pad, 4096);
    ENV_OK_FIXED(ENV("MALLOC_MMAP_THRESHOLD_=65536"), mmap_threshold, 65536);
    ENV_OK_FIXED(ENV("MALLOC_MMAP_MAX_=100"), mmap_max, 100);
    ENV_OK(ENV("MALLOC_ARENA_MAX=2"), arena_max, 2);
    ENV_OK(ENV("MALLOC_ARENA_TEST=3"), arena_test, 3);
    ENV_OK(ENV("MALLOC_PERTURB_=165"), perturb_byte, 165);
    ENV_OK(ENV("MALLOC_CHECK_=1"), check_action, 1);
    /* glibc has no environment name for mxfast */
    ENV_REJECTED(ENV("MALLOC_MXFAST_=0"), "");

    /* pmalloc's spellings */
    ENV_OK(ENV("PMALLOC_MXFAST=0"), max_fast, 0);
    ENV_OK(ENV("PMALLOC_MXFAST=64"), max_fast, 64);
    ENV_OK(ENV("PMALLOC_MXFAST=160"), max_fast, 160);
    ENV_OK_FIXED(ENV("PMALLOC_TRIM_THRESHOLD=1g"), trim_threshold, (size_t)1 << 30);
    ENV_OK_FIXED(ENV("PMALLOC_TOP_PAD=0"), top_pad, 0);
    ENV_OK_FIXED(ENV("PMALLOC_MMAP_THRESHOLD=1m"), mmap_threshold, (size_t)1 << 20);
    ENV_OK_FIXED(ENV("PMALLOC_MMAP_MAX=0"), mmap_max, 0);
    ENV_OK(ENV("PMALLOC_ARENA_MAX=4"), arena_max, 4);
    ENV_OK(ENV("PMALLOC_ARENA_TEST=1"), arena_test, 1);
    ENV_OK(ENV("PMALLOC_PERTURB=0xa5"), perturb_byte, 0xa5);
    ENV_OK(ENV("PMALLOC_CHECK_ACTION=2"), check_action, 2);
    ENV_OK(ENV("PMALLOC_TCACHE_COUNT=0"), tcache_count, 0);
    ENV_OK(ENV("PMALLOC_TCACHE_COUNT=65535"), tcache_count, 65535);
    ENV_OK(ENV("PMALLOC_TCACHE_MAX=512"), tcache_max_bytes, 512);
    ENV_OK(ENV("PMALLOC_TCACHE_MAX=1k"), tcache_max_bytes, 1024);
    ENV_OK(ENV("PMALLOC_STATS=1"), stats_at_exit, true);
    ENV_OK(ENV("PMALLOC_STATS=true"), stats_at_exit, true);
    ENV_OK(ENV("PMALLOC_STATS=TRUE"), stats_at_exit, true);
    ENV_OK(ENV("PMALLOC_STATS=0"), stats_at_exit, false);
    ENV_OK(ENV("PMALLOC_STATS=false"), stats_at_exit, false);
    ENV_OK(ENV("PMALLOC_CHECK=1"), check_heap, true);
    ENV_OK(ENV("PMALLOC_CHECK=0"), check_heap, false);
    ENV_REJECTED(ENV("PMALLOC_STATS=maybe"),
                 "pmalloc: ignoring PMALLOC_STATS=maybe: expected 1/0, true/false, yes/no, on/off or json\n");
    ENV_REJECTED(ENV("PMALLOC_CHECK="), "pmalloc: ignoring PMALLOC_CHECK=: empty value\n");

    /* the PMALLOC_ spelling wins, in either order in the environment */
    ENV_OK_FIXED(ENV("MALLOC_TOP_PAD_=4096", "PMALLOC_TOP_PAD=8k"), top_pad, 8192);
    ENV_OK_FIXED(ENV("PMALLOC_TOP_PAD=8k", "MALLOC_TOP_PAD_=4096"), top_pad, 8192);
    ENV_OK(ENV("MALLOC_ARENA_MAX=2", "PMALLOC_ARENA_MAX=3"), arena_max, 3);
    /* ... and an unusable PMALLOC_ value falls back to glibc's spelling */
    {
        struct pm_options e = env_base();
        e.top_pad = 4096;
        e.no_dyn_threshold = true;
        expect_env(ENV("PMALLOC_TOP_PAD=lots", "MALLOC_TOP_PAD_=4096"), &e,
                   "pmalloc: ignoring PMALLOC_TOP_PAD=lots: not a number\n", __LINE__);
    }

    /* several at once */
    {
        struct pm_options e = env_base();
        e.arena_max = 2;
        e.mmap_threshold = 256 * 1024;
        e.tcache_count = 3;
        e.no_dyn_threshold = true;
        expect_env(ENV("MALLOC_ARENA_MAX=2", "PMALLOC_MMAP_THRESHOLD=256K",
                       "PMALLOC_TCACHE_COUNT=3"),
                   &e, "", __LINE__);
    }
}

static void test_env_numbers(void)
{
    /* syntax: decimal, hex, suffixes in either case, an explicit plus */
    ENV_OK(ENV("PMALLOC_ARENA_TEST=0x10"), arena_test, 16);
    ENV_OK(ENV("PMALLOC_ARENA_TEST=0XfF"), arena_test, 255);
    ENV_OK(ENV("PMALLOC_ARENA_TEST=2k"), arena_test, 2048);
    ENV_OK(ENV("PMALLOC_ARENA_TEST=2K"), arena_test, 2048);
    ENV_OK(ENV("PMALLOC_ARENA_TEST=3m"), arena_test, (size_t)3 << 20);
    ENV_OK(ENV("PMALLOC_ARENA_TEST=3M"), arena_test, (size_t)3 << 20);
    ENV_OK(ENV("PMALLOC_ARENA_TEST=5g"), arena_test, (size_t)5 << 30);
    ENV_OK(ENV("PMALLOC_ARENA_TEST=0x2G"), arena_test, (size_t)2 << 30);
    ENV_OK(ENV("PMALLOC_ARENA_TEST=+7"), arena_test, 7);
    ENV_OK(ENV("PMALLOC_ARENA_TEST=007"), arena_test, 7);
    ENV_OK_FIXED(ENV("MALLOC_MMAP_THRESHOLD_=32m"), mmap_threshold, (size_t)32 << 20);

    /* malformed */
    ENV_REJECTED(ENV("MALLOC_TOP_PAD_="), "pmalloc: ignoring MALLOC_TOP_PAD_=: empty value\n");
    ENV_REJECTED(ENV("MALLOC_TOP_PAD_=12q"), "pmalloc: ignoring MALLOC_TOP_PAD_=12q: not a number\n");
    ENV_REJECTED(ENV("MALLOC_TOP_PAD_=1kk"), "pmalloc: ignoring MALLOC_TOP_PAD_=1kk: not a number\n");
    ENV_REJECTED(ENV("MALLOC_TOP_PAD_=k"), "pmalloc: ignoring MALLOC_TOP_PAD_=k: not a number\n");
    ENV_REJECTED(ENV("MALLOC_TOP_PAD_=0x"), "pmalloc: ignoring MALLOC_TOP_PAD_=0x: not a number\n");
    ENV_REJECTED(ENV("MALLOC_TOP_PAD_= 12"), "pmalloc: ignoring MALLOC_TOP_PAD_= 12: not a number\n");
    ENV_REJECTED(ENV("MALLOC_TOP_PAD_=12 "), "pmalloc: ignoring MALLOC_TOP_PAD_=12 : not a number\n");
    ENV_REJECTED(ENV("MALLOC_TOP_PAD_=-"), "pmalloc: ignoring MALLOC_TOP_PAD_=-: not a number\n");
    ENV_REJECTED(ENV("MALLOC_TOP_PAD_=1.5m"), "pmalloc: ignoring MALLOC_TOP_PAD_=1.5m: not a number\n");

    /* overflow: of the digits, and of the suffix multiplication */
    ENV_REJECTED(ENV("PMALLOC_TRIM_THRESHOLD=99999999999999999999"),
                 "pmalloc: ignoring PMALLOC_TRIM_THRESHOLD=99999999999999999999: too large\n");
    ENV_REJECTED(ENV("PMALLOC_TRIM_THRESHOLD=0x10000000000000000"),
                 "pmalloc: ignoring PMALLOC_TRIM_THRESHOLD=0x10000000000000000: too large\n");
    ENV_REJECTED(ENV("PMALLOC_TRIM_THRESHOLD=17179869184g"),
                 "pmalloc: ignoring PMALLOC_TRIM_THRESHOLD=17179869184g: too large\n");
    ENV_OK_FIXED(ENV("PMALLOC_TRIM_THRESHOLD=18446744073709551615"), trim_threshold, SIZE_MAX);

    /* out of range */
    ENV_REJECTED(ENV("PMALLOC_MXFAST=161"), "pmalloc: ignoring PMALLOC_MXFAST=161: out of range 0..160 bytes\n");
    ENV_REJECTED(ENV("MALLOC_MMAP_THRESHOLD_=33m"),
                 "pmalloc: ignoring MALLOC_MMAP_THRESHOLD_=33m: out of range 0..32 MiB\n");
    ENV_REJECTED(ENV("MALLOC_ARENA_MAX=0"), "pmalloc: ignoring MALLOC_ARENA_MAX=0: out of range (at least 1)\n");
    ENV_REJECTED(ENV("MALLOC_ARENA_TEST=0"), "pmalloc: ignoring MALLOC_ARENA_TEST=0: out of range (at least 1)\n");
    ENV_REJECTED(ENV("PMALLOC_TCACHE_COUNT=65536"),
                 "pmalloc: ignoring PMALLOC_TCACHE_COUNT=65536: out of range 0..65535\n");
    ENV_REJECTED(ENV("PMALLOC_TCACHE_MAX=524273"),
                 "pmalloc: ignoring PMALLOC_TCACHE_MAX=524273: out of range 0..524272 bytes\n");
    ENV_OK(ENV("PMALLOC_TCACHE_BYTES=8m"), tcache_bytes, (size_t)8 << 20);
    ENV_REJECTED(ENV("PMALLOC_TCACHE_BYTES=2g"), "pmalloc: ignoring PMALLOC_TCACHE_BYTES=2g: out of range 0..1 GiB\n");
    ENV_REJECTED(ENV("MALLOC_MMAP_MAX_=2147483648"),
                 "pmalloc: ignoring MALLOC_MMAP_MAX_=2147483648: out of range -2147483648..2147483647\n");
    ENV_REJECTED(ENV("MALLOC_PERTURB_=-99999999999999999999"),
                 "pmalloc: ignoring MALLOC_PERTURB_=-99999999999999999999: too large\n");

    /* negative: refused for sizes, meaningful for the int options */
    ENV_REJECTED(ENV("PMALLOC_TRIM_THRESHOLD=-1"),
                 "pmalloc: ignoring PMALLOC_TRIM_THRESHOLD=-1: must not be negative\n");
    ENV_REJECTED(ENV("MALLOC_ARENA_MAX=-2"), "pmalloc: ignoring MALLOC_ARENA_MAX=-2: must not be negative\n");
    ENV_OK_FIXED(ENV("MALLOC_MMAP_MAX_=-1"), mmap_max, 0);
    ENV_OK(ENV("PMALLOC_CHECK_ACTION=-2"), check_action, -2);
    ENV_OK(ENV("MALLOC_PERTURB_=-0x10"), perturb_byte, -16);

    /* two bad values: one message each (in the option table's order),
     * nothing applied */
    ENV_REJECTED(ENV("MALLOC_ARENA_MAX=x", "PMALLOC_TCACHE_MAX=1m"),
                 "pmalloc: ignoring MALLOC_ARENA_MAX=x: not a number\n"
                 "pmalloc: ignoring PMALLOC_TCACHE_MAX=1m: out of range 0..524272 bytes\n");
}

/* ---- environment, at real start-up in a fresh process ---- */

#define CHILD_FLAG "--print-options-and-exit"

/* The child: start the allocator (which reads the environment), then
 * report what it decided on stdout. */
static int child_main(void)
{
    free(malloc(1));
    printf("top_pad=%zu mmap_threshold=%zu arena_max=%zu no_dyn=%d\n", pm_opt.top_pad,
           pm_opt.mmap_threshold, pm_opt.arena_max, (int)pm_opt.no_dyn_threshold);
    return 0;
}

static size_t read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    ssize_t r;
    while (len + 1 < cap && (r = read(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)r;
    buf[len] = '\0';
    return len;
}

static void test_startup_message_once(void)
{
    int out_pipe[2], err_pipe[2];
    REQUIRE(pipe(out_pipe) == 0 && pipe(err_pipe) == 0);
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        close(out_pipe[0]);
        close(err_pipe[0]);
        char *const argv[] = {"test_options", CHILD_FLAG, NULL};
        char *const envp[] = {"PMALLOC_TOP_PAD=12q", "MALLOC_MMAP_THRESHOLD_=64k",
                              "MALLOC_ARENA_MAX=3", NULL};
        execve("/proc/self/exe", argv, envp);
        _exit(127);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);
    /* the outputs are far below a pipe's capacity: reading one after the
     * other cannot deadlock */
    char out[512], err[512];
    read_all(out_pipe[0], out, sizeof out);
    read_all(err_pipe[0], err, sizeof err);
    close(out_pipe[0]);
    close(err_pipe[0]);
    int status;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    CHECK(strcmp(err, "pmalloc: ignoring PMALLOC_TOP_PAD=12q: not a number\n") == 0);
    char want[256];
    snprintf(want, sizeof want, "top_pad=%zu mmap_threshold=65536 arena_max=3 no_dyn=1\n",
             (size_t)PM_DEFAULT_TOP_PAD);
    CHECK(strcmp(out, want) == 0);
    if (strcmp(err, "pmalloc: ignoring PMALLOC_TOP_PAD=12q: not a number\n") != 0 ||
        strcmp(out, want) != 0)
        fprintf(stderr, "child stdout \"%s\", stderr \"%s\"\n", out, err);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], CHILD_FLAG) == 0)
        return child_main();

    free(malloc(1)); /* start-up has run */
    startup_options = pm_opt;

    test_defaults();
    test_mallopt();
    test_env_names();
    test_env_numbers();
    test_startup_message_once();
    CHECK(same_options(&pm_opt, &startup_options));
    CHECK_HEAP();
    return test_finish("test_options");
}
