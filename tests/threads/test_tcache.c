/* The thread cache (facts §3): 64 bins for requests up to 1032 bytes, 7
 * chunks per bin by default, PMALLOC_M_TCACHE_COUNT / PMALLOC_M_TCACHE_MAX
 * (0 disables), calloc takes from it too, a cached chunk is never handed out
 * twice, a thread's cache is made on its first call and given back when
 * it exits, and a double free of a cached chunk aborts with glibc's
 * message. */
#include "thr.h"

#include <sys/syscall.h>

/* The calling thread's cache, or NULL if it has none (yet, or any more). */
#define TC (pm_tcache_get())

static unsigned idx_of(void *mem) { return tcache_index(chunk_size(mem_chunk(launder(mem)))); }

static size_t cached_total(void)
{
    size_t n = 0;
    for (unsigned i = 0; i < PM_TCACHE_BINS; i++)
        n += pm_tcache_count(TC, i);
    return n;
}

/* Walks bin idx of the calling thread's cache: its length, and whether
 * it agrees with the count. */
static size_t walk_bin(unsigned idx)
{
    size_t n = 0;
    for (struct pm_tcache_entry *e = TC->entries[idx]; tcache_more(e) && n < 100000;
         e = tcache_link(&e->next, e->next))
        n++;
    return n;
}

static void test_defaults(void)
{
    CHECK_EQ_SIZE(pm_opt.tcache_count, 7);
    CHECK_EQ_SIZE(pm_opt.tcache_max_bytes, 256 * 1024);
    CHECK_EQ_SIZE(pm_global.tcache_request_limit, 1033);
    CHECK_EQ_SIZE(pm_global.tcache_big_request_limit, 256 * 1024 + 1);
    CHECK_EQ_SIZE(pm_global.tcache_chunk_limit, 1040);
    CHECK_EQ_SIZE(PM_TCACHE_BINS, 64);
    CHECK_EQ_SIZE(PM_TCACHE_MAX_CHUNK, 1040);
    REQUIRE(TC != NULL); /* main allocated before (stdio, harness) */
    CHECK_EQ_SIZE(TC->limit, 7);
}

/* Every request size 1..1032 maps to the bin of its chunk size, and a
 * freed chunk comes straight back (LIFO) for the same request. */
static void test_bins_and_lifo(void)
{
    size_t bad_idx = 0, bad_lifo = 0;
    for (size_t r = 1; r <= 1032; r++) {
        void *p = malloc(r);
        REQUIRE(p != NULL);
        unsigned idx = idx_of(p);
        if (idx != tcache_request_index(r) || idx >= PM_TCACHE_BINS)
            bad_idx++;
        unsigned before = pm_tcache_count(TC, idx);
        free(p);
        void *q = malloc(r);
        /* with room in the bin, p went to its head and comes back first */
        if (before < 7 && q != p)
            bad_lifo++;
        free(q);
    }
    CHECK_EQ_SIZE(bad_idx, 0);
    CHECK_EQ_SIZE(bad_lifo, 0);

    /* 1033 bytes: beyond the last bin, so the first size class (a
     * 1168-byte chunk; test_tcache_classes tests the classes), not a bin. */
    void *big = malloc(1033);
    REQUIRE(big != NULL);
    CHECK_EQ_SIZE(chunk_size(mem_chunk(launder(big))), 1168);
    size_t before = cached_total();
    free(big);
    CHECK_EQ_SIZE(cached_total(), before);
    /* 1032 bytes: the last bin */
    void *last = malloc(1032);
    CHECK_EQ_SIZE(idx_of(last), 63);
    unsigned c63 = pm_tcache_count(TC, 63);
    free(last);
    CHECK(pm_tcache_count(TC, 63) == c63 + 1 || c63 >= 7);
}

/* Freeing 20 chunks of one size leaves at most `count` in the bin when
 * the depths are fixed (no byte budget), at most the deepest a bin grows
 * otherwise; the bin's list always agrees with its count. */
/* Frees the n blocks of one size in p and returns the most chunks their
 * cache bin held meanwhile. */
static size_t fullest_while_freeing(void **p, int n)
{
    unsigned idx = idx_of(p[0]);
    size_t worst = 0;
    for (int i = 0; i < n; i++) {
        free(p[i]);
        if (pm_tcache_count(TC, idx) > worst)
            worst = pm_tcache_count(TC, idx);
    }
    return worst;
}

static void count_limit(size_t count, size_t deepest)
{
    enum { N = 20 };
    void *p[N];
    for (size_t size = 16; size <= 1032; size += 88) {
        for (int i = 0; i < N; i++)
            p[i] = malloc(size);
        unsigned idx = idx_of(p[0]);
        size_t worst = fullest_while_freeing(p, N);
        if (worst > deepest)
            fprintf(stderr, "size %zu: %zu chunks in bin %u (limit %zu)\n", size, worst, idx, deepest);
        CHECK(worst <= deepest);
        CHECK(pm_tcache_count(TC, idx) <= TC->bin_limit[idx]);
        CHECK(count == 0 || pm_tcache_count(TC, idx) >= 1);
        CHECK_EQ_SIZE(walk_bin(idx), pm_tcache_count(TC, idx));
    }
}

static void test_count_limit(size_t count)
{
    size_t budget = pm_opt.tcache_bytes;
    REQUIRE(mallopt(PMALLOC_M_TCACHE_BYTES, 0) == 1);
    count_limit(count, count);
    REQUIRE(mallopt(PMALLOC_M_TCACHE_BYTES, (int)budget) == 1);
    count_limit(count, count > PM_TCACHE_BIN_DEPTH_MAX ? count : PM_TCACHE_BIN_DEPTH_MAX);
}

/* With the cache turned off, frees of every cached size add nothing. */
static void check_frees_not_cached(void)
{
    size_t before = cached_total();
    void *p[16];
    for (int i = 0; i < 16; i++)
        p[i] = malloc((size_t)i * 60 + 10);
    for (int i = 0; i < 16; i++)
        free(p[i]);
    CHECK_EQ_SIZE(cached_total(), before);
}

static void test_mallopt(void)
{
    /* out of range */
    CHECK(mallopt(PMALLOC_M_TCACHE_COUNT, 65536) == 0);
    CHECK(mallopt(PMALLOC_M_TCACHE_MAX, 524273) == 0);
    CHECK_EQ_SIZE(pm_opt.tcache_count, 7);
    CHECK_EQ_SIZE(pm_opt.tcache_max_bytes, 256 * 1024);

    /* fewer per bin */
    REQUIRE(mallopt(PMALLOC_M_TCACHE_COUNT, 2) == 1);
    CHECK_EQ_SIZE(pm_opt.tcache_count, 2);
    test_count_limit(2);
    REQUIRE(mallopt(PMALLOC_M_TCACHE_COUNT, 7) == 1);
    test_count_limit(7);
    /* more per bin (up to 65535) */
    REQUIRE(mallopt(PMALLOC_M_TCACHE_COUNT, 100) == 1);
    {
        enum { N = 150 };
        void *p[N];
        for (int i = 0; i < N; i++)
            p[i] = malloc(200);
        unsigned idx = idx_of(p[0]);
        size_t worst = fullest_while_freeing(p, N);
        CHECK(worst > 7 && worst <= 100);
        CHECK_EQ_SIZE(walk_bin(idx), pm_tcache_count(TC, idx));
        /* lowered again: the overfull bin keeps its chunks until its next
         * free, which spills it down to no more than the new limit */
        REQUIRE(mallopt(PMALLOC_M_TCACHE_COUNT, 7) == 1);
        CHECK(pm_tcache_count(TC, idx) > 7);
        void *one = malloc(200);
        free(one);
        CHECK(pm_tcache_count(TC, idx) <= 7);
        CHECK_EQ_SIZE(walk_bin(idx), pm_tcache_count(TC, idx));
    }

    /* a smaller largest request: 100 bytes is cached, 101 and more not */
    REQUIRE(mallopt(PMALLOC_M_TCACHE_MAX, 100) == 1);
    CHECK_EQ_SIZE(pm_global.tcache_request_limit, 101);
    {
        void *a = malloc(100), *b = malloc(300), *c = malloc(1000);
        REQUIRE(a && b && c);
        unsigned ia = idx_of(a), ib = idx_of(b), ic = idx_of(c);
        unsigned ca = pm_tcache_count(TC, ia), cb = pm_tcache_count(TC, ib), cc = pm_tcache_count(TC, ic);
        free(a);
        free(b);
        free(c);
        CHECK(pm_tcache_count(TC, ia) == ca + 1 || ca >= 7);
        CHECK_EQ_SIZE(pm_tcache_count(TC, ib), cb);
        CHECK_EQ_SIZE(pm_tcache_count(TC, ic), cc);
        /* a request above the limit is not served from the cache even
         * when the bin holds chunks from before */
        if (cc > 0) {
            void *old = TC->entries[ic];
            void *d = malloc(1000);
            CHECK(d != old);
            CHECK_EQ_SIZE(pm_tcache_count(TC, ic), cc);
            free(d);
        }
    }
    /* 0 disables it: nothing is added */
    REQUIRE(mallopt(PMALLOC_M_TCACHE_MAX, 0) == 1);
    CHECK_EQ_SIZE(pm_global.tcache_request_limit, 0);
    check_frees_not_cached();
    REQUIRE(mallopt(PMALLOC_M_TCACHE_MAX, 1032) == 1);
    REQUIRE(mallopt(PMALLOC_M_TCACHE_COUNT, 0) == 1);
    CHECK_EQ_SIZE(pm_global.tcache_request_limit, 0);
    check_frees_not_cached();
    REQUIRE(mallopt(PMALLOC_M_TCACHE_COUNT, 7) == 1);
    CHECK_EQ_SIZE(pm_global.tcache_request_limit, 1033);
    CHECK_HEAP();
}

/* calloc takes from the cache as malloc does, and clears the whole
 * usable size of what it takes. */
static void test_calloc_from_cache(void)
{
    void *p = malloc(200);
    size_t usable = malloc_usable_size(p);
    unsigned idx = idx_of(p);
    /* empty the bin first, so p is sure to be its only chunk */
    void *hold[8];
    size_t held = pm_tcache_count(TC, idx);
    REQUIRE(held <= 8);
    for (size_t i = 0; i < held; i++)
        hold[i] = malloc(200);
    memset(p, 0xee, usable);
    free(p);
    REQUIRE(pm_tcache_count(TC, idx) == 1 && TC->entries[idx] == p);
    unsigned char *q = calloc(4, 50);
    CHECK(q == p);
    CHECK_EQ_SIZE(pm_tcache_count(TC, idx), 0);
    CHECK(all_bytes(q, usable, 0));
    CHECK_HEAP();
    free(q);
    for (size_t i = 0; i < held; i++)
        free(hold[i]);
    CHECK_HEAP();
}

/* Allocation and free patterns through the cache, then many live blocks:
 * no two overlap (a chunk handed out twice would). */
struct span {
    uintptr_t lo, hi;
};
static int by_lo(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static size_t overlaps(void **p, size_t n)
{
    struct span *s = malloc(n * sizeof *s);
    REQUIRE(s != NULL);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] != NULL) {
            s[k].lo = (uintptr_t)p[i];
            s[k].hi = (uintptr_t)p[i] + malloc_usable_size(p[i]);
            k++;
        }
    qsort(s, k, sizeof *s, by_lo);
    size_t bad = 0;
    for (size_t i = 1; i < k; i++)
        if (s[i].lo < s[i - 1].hi)
            bad++;
    free(s);
    return bad;
}

#define MANY 4000
static void *pattern_worker(void *arg)
{
    uint64_t r = (uint64_t)(uintptr_t)arg * 7919 + 1;
    void *live[MANY];
    for (int round = 0; round < 200; round++) {
        void *tmp[64];
        size_t n = 1 + rng_below(&r, 64);
        for (size_t i = 0; i < n; i++)
            tmp[i] = malloc(1 + rng_below(&r, 1032));
        /* free in a shuffled order, some twice as malloc again */
        for (size_t i = n; i > 1; i--) {
            size_t j = rng_below(&r, i);
            void *t = tmp[i - 1];
            tmp[i - 1] = tmp[j];
            tmp[j] = t;
        }
        for (size_t i = 0; i < n; i++) {
            if (rng_below(&r, 5) == 0) {
                void *q = realloc(tmp[i], 1 + rng_below(&r, 1032));
                free(q ? q : tmp[i]);
            } else {
                free(tmp[i]);
            }
        }
    }
    for (int i = 0; i < MANY; i++) {
        live[i] = malloc(1 + rng_below(&r, 1032));
        TCHECK(live[i] != NULL);
        fill_words(live[i], malloc_usable_size(live[i]), (uint64_t)i);
    }
    size_t bad = overlaps(live, MANY);
    TCHECK(bad == 0);
    for (int i = 0; i < MANY; i++) {
        if (!check_words(live[i], malloc_usable_size(live[i]), (uint64_t)i))
            TCHECK(!"block overwritten: handed out twice?");
        free(live[i]);
    }
    return NULL;
}

static void test_never_twice(void)
{
    pattern_worker((void *)1);
    THR_COLLECT();
    /* the same in four threads at once */
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        REQUIRE(pthread_create(&t[i], NULL, pattern_worker, (void *)(uintptr_t)(i + 2)) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    THR_COLLECT();
    CHECK_HEAP();
}

/* A thread's cache: none before its first call, one on the list with its
 * thread id after, off the list once it has exited. */
static size_t list_len(void)
{
    size_t n = 0;
    for (struct pm_tcache *t = pm_tcache_list.next; t != &pm_tcache_list; t = t->next)
        n++;
    return n;
}

static pthread_barrier_t life_barrier;
static void *life_thread(void *arg)
{
    (void)arg;
    TCHECK(TC == NULL);
    void *p = malloc(40);
    TCHECK(TC != NULL);
    if (TC != NULL)
        TCHECK(TC->tid == (pid_t)syscall(SYS_gettid));
    /* The malloc may also have stashed ready chunks of this size from a
     * reused arena's bins: the free adds exactly one, unless that filled
     * the bin, when the free spills half of it. */
    unsigned before = TC != NULL ? pm_tcache_count(TC, idx_of(p)) : 0;
    free(p);
    if (before < pm_global.tcache_count)
        TCHECK(TC != NULL && pm_tcache_count(TC, idx_of(p)) == before + 1);
    else
        TCHECK(TC != NULL && pm_tcache_count(TC, idx_of(p)) < before);
    pthread_barrier_wait(&life_barrier); /* main looks at the list */
    pthread_barrier_wait(&life_barrier);
    return NULL;
}

static void test_lifetime(void)
{
    size_t before = list_len();
    REQUIRE(pthread_barrier_init(&life_barrier, NULL, 2) == 0);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, life_thread, NULL) == 0);
    pthread_barrier_wait(&life_barrier);
    CHECK_EQ_SIZE(list_len(), before + 1);
    CHECK(pm_tcache_bytes() >= 48);
    pthread_barrier_wait(&life_barrier);
    pthread_join(t, NULL);
    THR_COLLECT();
    CHECK_EQ_SIZE(list_len(), before);
    pthread_barrier_destroy(&life_barrier);
}

/* A thread whose first call is a free (a consumer) gets a cache then,
 * and the chunk it frees waits in it. */
static void *free_only_thread(void *arg)
{
    TCHECK(TC == NULL);
    free(arg);
    TCHECK(TC != NULL);
    if (TC != NULL) {
        unsigned idx = idx_of(arg);
        TCHECK(pm_tcache_count(TC, idx) == 1 && TC->entries[idx] == arg);
    }
    return NULL;
}

static void test_free_only_thread(void)
{
    size_t before = list_len();
    void *p = malloc(700);
    REQUIRE(p != NULL);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, free_only_thread, p) == 0);
    pthread_join(t, NULL);
    THR_COLLECT();
    CHECK_EQ_SIZE(list_len(), before); /* and gave it back at exit */
    CHECK_HEAP();
}

/* A limit changed by another thread: this thread's cache follows it at
 * its next call that fills a bin, and from then on holds no more. */
static pthread_barrier_t follow_barrier;
static void *follow_thread(void *arg)
{
    (void)arg;
    enum { N = 20 };
    void *p[N];
    free(malloc(600)); /* the thread's cache, at the old limit */
    TCHECK(TC != NULL && TC->limit == 7);
    for (int i = 0; i < N; i++)
        p[i] = malloc(600);
    unsigned idx = idx_of(p[0]);
    pthread_barrier_wait(&follow_barrier); /* main lowers the limit to 3 */
    pthread_barrier_wait(&follow_barrier);
    size_t worst_after_follow = 0;
    for (int i = 0; i < N; i++) {
        free(p[i]);
        if (TC->limit == 3 && pm_tcache_count(TC, idx) > worst_after_follow)
            worst_after_follow = pm_tcache_count(TC, idx);
    }
    TCHECK(TC->limit == 3);
    TCHECK(worst_after_follow <= 3);
    TCHECK(walk_bin(idx) == pm_tcache_count(TC, idx));
    /* raised again: the bin takes more without spilling */
    pthread_barrier_wait(&follow_barrier); /* main raises it to 10 */
    pthread_barrier_wait(&follow_barrier);
    for (int i = 0; i < N; i++)
        p[i] = malloc(600);
    for (int i = 0; i < N; i++)
        free(p[i]);
    TCHECK(TC->limit == 10);
    TCHECK(pm_tcache_count(TC, idx) >= 4 && pm_tcache_count(TC, idx) <= 10);
    TCHECK(walk_bin(idx) == pm_tcache_count(TC, idx));
    return NULL;
}

static void test_other_thread_follows_limit(void)
{
    /* Depths fixed (no byte budget): the thread's bin stays 7 deep, so
     * its frees reach the slow path, where it follows the new limits. */
    size_t budget = pm_opt.tcache_bytes;
    REQUIRE(mallopt(PMALLOC_M_TCACHE_BYTES, 0) == 1);
    REQUIRE(pthread_barrier_init(&follow_barrier, NULL, 2) == 0);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, follow_thread, NULL) == 0);
    pthread_barrier_wait(&follow_barrier);
    REQUIRE(mallopt(PMALLOC_M_TCACHE_COUNT, 3) == 1);
    CHECK(TC->limit == 3); /* the caller's own cache follows at once */
    pthread_barrier_wait(&follow_barrier);
    pthread_barrier_wait(&follow_barrier);
    REQUIRE(mallopt(PMALLOC_M_TCACHE_COUNT, 10) == 1);
    pthread_barrier_wait(&follow_barrier);
    pthread_join(t, NULL);
    REQUIRE(mallopt(PMALLOC_M_TCACHE_COUNT, 7) == 1);
    CHECK(TC->limit == 7);
    REQUIRE(mallopt(PMALLOC_M_TCACHE_BYTES, (int)budget) == 1);
    THR_COLLECT();
    CHECK_HEAP();
    pthread_barrier_destroy(&follow_barrier);
}

/* ---- double free, in a child ---- */

/* Empties bin idx of the calling thread's cache (its chunks are left
 * allocated: the double-free cases run in a child), so the next free of
 * the size is cached, whatever depth and length earlier cases left the
 * bin at (a bin longer than its depth spills at its next free). */
static void drain_bin(unsigned idx)
{
    while (tcache_more(TC->entries[idx]))
        (void)pm_tcache_pop(TC, idx, TC->entries[idx]);
    TCHECK(pm_tcache_count(TC, idx) == 0 && pm_tcache_has_room(TC, idx));
}

static void double_free_head(void *arg)
{
    (void)arg;
    void *p = malloc(100);
    drain_bin(idx_of(p));
    free(p);
    free(p);
}

static void double_free_deep(void *arg)
{
    (void)arg;
    void *p[5];
    for (int i = 0; i < 5; i++)
        p[i] = malloc(300);
    for (int i = 0; i < 5; i++)
        free(p[i]);
    /* A chunk the cache holds in the middle of its bin, not at its head.
     * Which one depends on what earlier cases left in the bins (a full bin
     * spills, and a 300-byte request may get a 336-byte chunk), so it is
     * looked up rather than assumed. */
    for (int i = 0; i < 5; i++) {
        unsigned idx = idx_of(p[i]);
        if (TC->entries[idx] != p[i] && pm_tcache_holds(TC, idx, p[i])) {
            free(p[i]);
            return;
        }
    }
}

static void *alloc_in_thread(void *arg)
{
    (void)arg;
    return malloc(500);
}

static void double_free_other_thread_chunk(void *arg)
{
    (void)arg;
    /* A chunk of another arena in this thread's cache. */
    void *p = NULL;
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, alloc_in_thread, NULL) == 0);
    pthread_join(t, &p);
    /* Empty this thread's bin of the size, so the first free is cached
     * whatever earlier cases left in it. */
    drain_bin(idx_of(p));
    free(p);
    free(p);
}


int main(void)
{
    free(malloc(1)); /* main's cache */
    test_defaults();
    test_bins_and_lifo();
    test_count_limit(7);
    CHECK_HEAP();
    test_mallopt();
    test_calloc_from_cache();
    test_never_twice();
    test_lifetime();
    test_other_thread_follows_limit();
    test_free_only_thread();
    expect_double_free(double_free_head, "double free at the head of a bin");
    expect_double_free(double_free_deep, "double free inside a bin");
    expect_double_free(double_free_other_thread_chunk, "double free of another arena's chunk");
    CHECK_HEAP();
    return test_finish("test_tcache");
}
