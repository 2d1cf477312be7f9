/* Helpers shared by the pmalloc benchmark programs: a fast seeded random
 * generator, a monotonic clock, object stamping and checking, argument
 * parsing, the threads of a run and the single result line each macro
 * workload prints.
 *
 * Nothing here allocates but pm_worker_records, so the allocator under
 * test (injected with LD_PRELOAD) is the only heap user besides libc's
 * own start-up. */
#ifndef PM_BENCH_COMMON_H
#define PM_BENCH_COMMON_H

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Keeps the compiler from proving that a block is unused and deleting a
 * malloc/free pair (gcc and clang both do that for builtin malloc). */
#define PM_ESCAPE(p) __asm__ volatile("" : : "r"(p) : "memory")

#define PM_UNUSED __attribute__((unused))

/* splitmix64: every thread gets its own state, seeded from its index, so a
 * run is the same sequence of requests under every allocator. */
static inline uint64_t pm_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static inline size_t pm_rand_range(uint64_t *s, size_t lo, size_t hi)
{
    return lo + (size_t)(pm_rand(s) % (uint64_t)(hi - lo + 1));
}

static inline double pm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Peak resident set of this process in KiB (same figure as time -f %M). */
static inline long pm_maxrss_kb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return ru.ru_maxrss;
}

/* Object stamp: the first 16 bytes hold (tag, size) and the last 8 bytes
 * hold a word derived from both, so a block that overlaps another one or
 * was handed out twice is caught when it is checked before free.  Blocks
 * must be at least 16 bytes; smaller ones keep only the tag. */
static inline uint64_t pm_tail_word(uint64_t tag, size_t size)
{
    return (tag * 0x2545f4914f6cdd1dULL) ^ (uint64_t)size ^ 0xa5a5a5a5a5a5a5a5ULL;
}

static inline void pm_stamp(void *p, size_t size, uint64_t tag)
{
    unsigned char *b = (unsigned char *)p;
    if (size < 8) {
        memset(b, (int)(tag & 0xff), size);
        return;
    }
    memcpy(b, &tag, 8);
    if (size >= 24) {
        uint64_t sz = size, tail = pm_tail_word(tag, size);
        memcpy(b + 8, &sz, 8);
        memcpy(b + size - 8, &tail, 8);
    }
}

/* Returns 1 if the stamp written by pm_stamp is intact. */
static inline int pm_check(const void *p, size_t size, uint64_t tag)
{
    const unsigned char *b = (const unsigned char *)p;
    if (size < 8) {
        for (size_t i = 0; i < size; i++)
            if (b[i] != (unsigned char)(tag & 0xff))
                return 0;
        return 1;
    }
    uint64_t t;
    memcpy(&t, b, 8);
    if (t != tag)
        return 0;
    if (size >= 24) {
        uint64_t sz, tail;
        memcpy(&sz, b + 8, 8);
        memcpy(&tail, b + size - 8, 8);
        if (sz != size || tail != pm_tail_word(tag, size))
            return 0;
    }
    return 1;
}

/* Fills a whole block with a pattern derived from tag; pm_sum_full checks
 * it.  Used where every byte of content matters (large blocks, realloc). */
static inline void pm_fill_full(void *p, size_t size, uint64_t tag)
{
    unsigned char *b = (unsigned char *)p;
    size_t words = size / 8;
    for (size_t i = 0; i < words; i++) {
        uint64_t w = tag ^ (i * 0x9e3779b97f4a7c15ULL);
        memcpy(b + i * 8, &w, 8);
    }
    for (size_t i = words * 8; i < size; i++)
        b[i] = (unsigned char)(tag + i);
}

static inline int pm_check_full(const void *p, size_t size, uint64_t tag)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t words = size / 8;
    for (size_t i = 0; i < words; i++) {
        uint64_t w;
        memcpy(&w, b + i * 8, 8);
        if (w != (tag ^ (i * 0x9e3779b97f4a7c15ULL)))
            return 0;
    }
    for (size_t i = words * 8; i < size; i++)
        if (b[i] != (unsigned char)(tag + i))
            return 0;
    return 1;
}

/* Parses a positive integer argument or exits with a usage error. */
static inline long pm_arg(int argc, char **argv, int i, long def, const char *usage)
{
    if (i >= argc)
        return def;
    char *end;
    errno = 0;
    long v = strtol(argv[i], &end, 10);
    if (errno || *end || v <= 0) {
        fprintf(stderr, "usage: %s %s\n", argv[0], usage);
        exit(2);
    }
    return v;
}

/* Verification failure: say what broke and exit non-zero (3), so the
 * driver records the run as failed instead of fast. */
#define PM_FAIL(...)                                            \
    do {                                                        \
        fprintf(stderr, "VERIFY FAILED: " __VA_ARGS__);         \
        fputc('\n', stderr);                                    \
        printf("RESULT check=failed\n");                        \
        fflush(stdout);                                         \
        exit(3);                                                \
    } while (0)

/* The arguments of every macro workload: THREADS SCALE, each 1 when
 * left out. */
struct pm_args {
    int threads;
    long scale;
};

static inline struct pm_args pm_args(int argc, char **argv)
{
    const char *usage = "THREADS SCALE";
    return (struct pm_args){ (int)pm_arg(argc, argv, 1, 1, usage), pm_arg(argc, argv, 2, 1, usage) };
}

/* One zeroed record per thread, from the allocator under test like
 * everything else the program uses. */
static inline void *pm_worker_records(const char *name, int threads, size_t size)
{
    void *ws = calloc((size_t)threads, size);
    if (!ws)
        PM_FAIL("%s: out of memory", name);
    return ws;
}

/* Runs work on `threads` threads, thread i on the record at
 * workers + i * stride, and returns the seconds from the first start to
 * the last end.  The thread handles stay on the stack (threads is a
 * small count given on the command line), so the allocator under test
 * sees only the workload. */
static inline double pm_run_threads(const char *name, int threads, void *(*work)(void *),
                                    void *workers, size_t stride)
{
    pthread_t tid[threads];
    double t0 = pm_now();
    for (int i = 0; i < threads; i++)
        if (pthread_create(&tid[i], NULL, work, (char *)workers + (size_t)i * stride) != 0)
            PM_FAIL("%s: pthread_create failed", name);
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    return pm_now() - t0;
}

/* Minor page faults of this process so far (first touches of fresh
 * pages, including pages given back and touched again). */
static inline long pm_minflt(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return ru.ru_minflt;
}

/* Prints the one result line the driver parses.  extra may be NULL or a
 * preformatted " key=value" list. */
static inline void pm_report(const char *name, int threads, uint64_t ops,
                             double secs, const char *extra)
{
    printf("RESULT workload=%s threads=%d ops=%" PRIu64
           " secs=%.6f ops_per_sec=%.1f maxrss_kb=%ld minflt=%ld%s check=ok\n",
           name, threads, ops, secs, secs > 0 ? (double)ops / secs : 0.0,
           pm_maxrss_kb(), pm_minflt(), extra ? extra : "");
    fflush(stdout);
}

#endif
