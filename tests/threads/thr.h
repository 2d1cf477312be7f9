/* Shared code of the thread tests (tests/threads): a failure counter that
 * threads may bump (the harness's counters are plain ints, for the main
 * thread only), content patterns, a per-thread random generator, the
 * process's resident size, and a look at one arena's chunks.
 *
 * The programs link the static library (TEST_LDADD), so their malloc is
 * pmalloc and they can read its internals. */
#ifndef PMALLOC_TEST_THR_H
#define PMALLOC_TEST_THR_H

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "../helpers.h"
#include "tcache.h"

/* Failures seen by threads other than main; main turns them into one
 * harness failure each with THR_COLLECT(). */
static atomic_int thr_failures __attribute__((unused));

#define TCHECK(cond)                                                          \
    do {                                                                      \
        if (!(cond)) {                                                        \
            atomic_fetch_add(&thr_failures, 1);                               \
            fprintf(stderr, "%s:%d: thread CHECK failed: %s\n", __FILE__,     \
                    __LINE__, #cond);                                         \
        }                                                                     \
    } while (0)

#define THR_COLLECT()                                                         \
    do {                                                                      \
        int n_ = atomic_exchange(&thr_failures, 0);                           \
        harness_checks++;                                                     \
        harness_failures += n_;                                               \
    } while (0)

/* xorshift64*: a cheap generator per thread, seeded per thread. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static inline size_t rng_below(uint64_t *s, size_t n) { return (size_t)(rng_next(s) % n); }

/* Word-wise content pattern (fast enough for 300 KiB blocks): word i of a
 * block is a mix of its seed and i; the tail bytes come from one more word. */
static inline uint64_t pat_word(uint64_t seed, size_t i)
{
    uint64_t x = seed ^ (i * 0x9E3779B97F4A7C15ull);
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    return x ^ (x >> 29);
}

static inline void fill_words(void *p, size_t n, uint64_t seed)
{
    uint64_t *w = p;
    size_t words = n / 8;
    for (size_t i = 0; i < words; i++)
        w[i] = pat_word(seed, i);
    uint64_t last = pat_word(seed, words);
    memcpy((char *)p + words * 8, &last, n % 8);
}

/* True if the first n bytes hold the pattern. */
static inline bool check_words(const void *p, size_t n, uint64_t seed)
{
    const uint64_t *w = p;
    size_t words = n / 8;
    for (size_t i = 0; i < words; i++)
        if (w[i] != pat_word(seed, i))
            return false;
    uint64_t last = pat_word(seed, words);
    return memcmp((const char *)p + words * 8, &last, n % 8) == 0;
}

static inline double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident set size of the process, from /proc/self/statm (no stdio, so
 * no allocation that could itself move the number). */
static inline size_t rss_bytes(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", 0);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *s = buf;
    while (*s && *s != ' ')
        s++;
    size_t pages = (size_t)strtoull(s, NULL, 10);
    return pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* Chunks of one arena, by walking its heaps (caller holds no lock; this
 * takes the arena's lock).  Fenceposts and top are not counted. */
struct arena_tally {
    size_t inuse_chunks, inuse_bytes;
    size_t free_chunks, free_bytes; /* free chunks in bins, not top */
    size_t top_bytes;
    size_t fast_chunks;             /* in use as far as the walk sees */
};

static inline struct arena_tally tally_arena(struct pm_arena *a)
{
    struct arena_tally t;
    memset(&t, 0, sizeof t);
    pm_lock(&a->lock);
    for (struct pm_heap *h = a->heap; h != NULL; h = h->prev) {
        char *end = heap_end(h);
        mchunk *p = (mchunk *)h->chunks_start;
        while ((char *)p + PM_CHUNK_HDR <= end) {
            if (p == a->top) {
                t.top_bytes = chunk_size(p);
                break;
            }
            size_t size = chunk_size(p);
            if (size == PM_CHUNK_HDR || size < PM_MINSIZE)
                break; /* fencepost: the end of this heap */
            mchunk *next = chunk_at(p, size);
            if (chunk_prev_inuse(next)) {
                t.inuse_chunks++;
                t.inuse_bytes += size;
            } else {
                t.free_chunks++;
                t.free_bytes += size;
            }
            p = next;
        }
    }
    for (unsigned i = 0; i < PM_NFASTBINS; i++)
        for (mchunk *q = a->fastbins[i]; q != NULL; q = link_reveal(chunk_fd_slot(q), chunk_fd(q)))
            t.fast_chunks++;
    pm_unlock(&a->lock);
    return t;
}

/* Prints the sizes of the chunks in use in an arena (for a failure). */
static inline void dump_inuse(struct pm_arena *a)
{
    pm_lock(&a->lock);
    for (struct pm_heap *h = a->heap; h != NULL; h = h->prev) {
        mchunk *p = (mchunk *)h->chunks_start;
        size_t last = 0, run = 0;
        while ((char *)p + PM_CHUNK_HDR <= heap_end(h) && p != a->top && chunk_size(p) >= PM_MINSIZE) {
            mchunk *next = chunk_at(p, chunk_size(p));
            if (chunk_prev_inuse(next)) {
                if (chunk_size(p) != last && run) {
                    fprintf(stderr, "  arena %u: %zu x %zu bytes\n", a->index, run, last);
                    run = 0;
                }
                last = chunk_size(p);
                run++;
            }
            p = next;
        }
        if (run)
            fprintf(stderr, "  arena %u: %zu x %zu bytes\n", a->index, run, last);
    }
    pm_unlock(&a->lock);
}

/* Chunks of thread arenas parked in the calling thread's cache (they
 * count as in use for the walker). */
static inline size_t own_cache_chunks_of_thread_arenas(void)
{
    size_t n = 0;
    struct pm_tcache *t = pm_tcache_get();
    if (t == NULL)
        return 0;
    for (unsigned i = 0; i < PM_TCACHE_BINS; i++)
        for (struct pm_tcache_entry *e = t->entries[i]; tcache_more(e);
             e = tcache_link(&e->next, e->next))
            n += arena_of_chunk(mem_chunk(e)) != &pm_main_arena;
    return n;
}

/* Runs fn(arg) in a forked child and returns its wait status; the child's
 * stderr goes to errbuf (NUL-terminated, truncated to errlen). */
static inline int run_in_child(void (*fn)(void *), void *arg, char *errbuf, size_t errlen)
{
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        alarm(20);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fds[0], errbuf + len, errlen - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == errlen - 1)
            break;
    }
    errbuf[len] = '\0';
    close(fds[0]);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    return status;
}

/* Runs fn in a child, which must be stopped by the thread cache's double
 * free check. */
static inline void expect_double_free(void (*fn)(void *), const char *what)
{
    char err[4096];
    int status = run_in_child(fn, NULL, err, sizeof err);
    bool aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    bool message = strstr(err, "free(): double free detected in tcache 2") != NULL;
    if (!aborted || !message)
        fprintf(stderr, "%s: status 0x%x, stderr: %s\n", what, (unsigned)status, err);
    CHECK(aborted);
    CHECK(message);
}

#endif
