/* Between the thread cache and its arena: a full bin spills half of
 * itself into the arena's fast bins, unmerged, even above M_MXFAST; a miss
 * refills half a bin from there (or from the free chunk its request was
 * cut from); such fast chunks are merged before a large request only once
 * they hold 64 KiB; M_MXFAST=0 still turns fast bins off. */
#include "../helpers.h"
#include "tcache.h"

#include <pthread.h>

#define TC (pm_tcache_get())

static size_t in_fastbin(unsigned idx)
{
    size_t n = 0;
    for (mchunk *q = MAIN->fastbins[idx]; q != NULL; q = link_reveal(chunk_fd_slot(q), chunk_fd(q)))
        n++;
    return n;
}

/* Empties the cache bin of `req`-byte blocks into hold[] (up to 8). */
static size_t drain_bin(size_t req, void **hold)
{
    unsigned idx = tcache_index(request_to_size(req));
    size_t n = 0;
    while (pm_tcache_count(TC, idx) > 0 && n < 8)
        hold[n++] = malloc(req);
    REQUIRE(pm_tcache_count(TC, idx) == 0);
    return n;
}

/* 20 frees of 500-byte blocks: the cache keeps 7; the 8th free spills 4
 * of them and itself into the 512-byte fast bin, in use and unmerged. */
static void test_spill_to_fastbin(void)
{
    enum { N = 20 };
    void *p[N], *hold[8];
    size_t held = drain_bin(500, hold);
    for (int i = 0; i < N; i++)
        p[i] = malloc(500);
    unsigned fi = fastbin_index(512), ti = tcache_index(512);
    size_t fast_before = in_fastbin(fi), bytes_before = MAIN->fast_bytes;
    for (int i = 0; i < 7; i++)
        free(p[i]);
    CHECK_EQ_SIZE(pm_tcache_count(TC, ti), 7);
    CHECK_EQ_SIZE(in_fastbin(fi), fast_before);
    free(p[7]);
    CHECK_EQ_SIZE(pm_tcache_count(TC, ti), 3);
    CHECK_EQ_SIZE(in_fastbin(fi), fast_before + 5);
    CHECK_EQ_SIZE(MAIN->fast_bytes, bytes_before + 5 * 512);
    CHECK(MAIN->have_fastchunks);
    CHECK(chunk_in_fastbin(MAIN, fi, hdr(p[7])));
    CHECK(chunk_inuse(hdr(p[7]))); /* fast chunks stay marked in use */
    CHECK_EQ_SIZE(csize(p[7]), 512);
    CHECK_HEAP();
    /* the walker checks the canary of every fast chunk */
    uintptr_t canary = *(uintptr_t *)((char *)p[7] + 8);
    *(uintptr_t *)((char *)p[7] + 8) = 0;
    CHECK_EQ_SIZE(pmalloc_check(), 1);
    *(uintptr_t *)((char *)p[7] + 8) = canary;
    CHECK_HEAP();

    /* A miss takes its chunk from the fast bin and refills half a bin
     * (4 of 7) from it, under the one lock. */
    for (int i = 0; i < 3; i++)
        (void)malloc(500); /* the 3 cached ones: the bin is empty now */
    CHECK_EQ_SIZE(pm_tcache_count(TC, ti), 0);
    size_t fast_now = in_fastbin(fi);
    void *q = malloc(500);
    CHECK(chunk_in_fastbin(MAIN, fi, hdr(q)) == false);
    CHECK_EQ_SIZE(pm_tcache_count(TC, ti), 4);
    CHECK_EQ_SIZE(in_fastbin(fi), fast_now - 5);
    CHECK_HEAP();
    (void)q; /* the blocks of this test are simply left allocated */
    for (size_t i = 0; i < held; i++)
        free(hold[i]);
    CHECK_HEAP();
}

/* A large request merges the fast bins only once they hold 64 KiB when
 * they hold what the caches gave back. */
static void test_large_request_merges_at_threshold(void)
{
    malloc_trim(0);
    CHECK(fastbins_empty(MAIN));
    CHECK_EQ_SIZE(MAIN->fast_bytes, 0);
    void *hold[8];
    size_t held = drain_bin(1000, hold);
    void *guard_before = malloc(5000);
    enum { N = 120 };
    static void *p[N];
    for (int i = 0; i < N; i++)
        p[i] = malloc(1000);
    void *guard_after = malloc(5000);
    /* a few spills: well under 64 KiB in the fast bins */
    for (int i = 0; i < 20; i++)
        free(p[i]);
    size_t few = MAIN->fast_bytes;
    CHECK(few > 0 && few < PM_FASTBIN_CONSOLIDATION_THRESHOLD);
    void *big = malloc(3000);
    CHECK_EQ_SIZE(MAIN->fast_bytes, few); /* left alone */
    CHECK_HEAP();
    /* the rest: past 64 KiB, so the next large request merges them all */
    for (int i = 20; i < N; i++)
        free(p[i]);
    CHECK(MAIN->fast_bytes >= PM_FASTBIN_CONSOLIDATION_THRESHOLD);
    void *big2 = malloc(3000);
    CHECK(fastbins_empty(MAIN));
    CHECK_EQ_SIZE(MAIN->fast_bytes, 0);
    CHECK(!MAIN->have_fastchunks);
    CHECK_HEAP();
    free(big);
    free(big2);
    free(guard_before);
    free(guard_after);
    for (size_t i = 0; i < held; i++)
        free(hold[i]);
    CHECK_HEAP();
}

/* A miss cut from a larger free chunk cuts the rest of its half bin from
 * the same chunk, one after another.  In a thread of its own, whose new
 * arena holds no other free chunk. */
static void *refill_from_remainder(void *arg)
{
    (void)arg;
    free(malloc(8)); /* the thread's cache and arena */
    unsigned ti = tcache_index(96);
    REQUIRE(TC != NULL && pm_tcache_count(TC, ti) == 0);
    void *big = malloc(8000);
    void *guard = malloc(5000);
    free(big); /* a free 8 KiB chunk, in no fast bin */
    char *first = malloc(88);
    CHECK(first == big);
    CHECK_EQ_SIZE(pm_tcache_count(TC, ti), 4);
    /* the cached four follow it in memory */
    char *next[4];
    for (int i = 0; i < 4; i++)
        next[i] = malloc(88);
    for (int i = 0; i < 4; i++)
        CHECK(next[i] > first && next[i] <= first + 4 * 96);
    CHECK(pm_check_heap_and_cache(false) == 0);
    free(first);
    for (int i = 0; i < 4; i++)
        free(next[i]);
    free(guard);
    return NULL;
}

static void test_refill_from_remainder(void)
{
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, refill_from_remainder, NULL) == 0);
    REQUIRE(pthread_join(t, NULL) == 0);
    CHECK_HEAP();
}

/* M_MXFAST=0: no fast bins at all, so what a cache spills is merged. */
static void test_mxfast_zero(void)
{
    REQUIRE(mallopt(M_MXFAST, 0) == 1);
    void *hold[8];
    size_t held = drain_bin(300, hold);
    void *p[10];
    for (int i = 0; i < 10; i++)
        p[i] = malloc(300);
    for (int i = 0; i < 10; i++)
        free(p[i]);
    CHECK(fastbins_empty(MAIN));
    CHECK(!chunk_inuse(hdr(p[7]))); /* merged and free */
    CHECK_HEAP();
    for (size_t i = 0; i < held; i++)
        free(hold[i]);
    REQUIRE(mallopt(M_MXFAST, 128) == 1);
    CHECK_HEAP();
}

/* The heap walker reads the calling thread's cache: a cached chunk
 * without its held-free mark, or a bin whose count disagrees with its
 * list, is a problem it reports (and the sound cache passes). */
static void test_walker_sees_cache(void)
{
    void *hold[8];
    size_t held = drain_bin(200, hold);
    void *a = malloc(200), *b = malloc(200);
    unsigned ti = tcache_index(request_to_size(200));
    size_t refilled = pm_tcache_count(TC, ti); /* by the misses */
    free(a);
    free(b);
    REQUIRE(pm_tcache_count(TC, ti) == refilled + 2);
    CHECK(chunk_held_free(hdr(a)) && chunk_held_free(hdr(b)));
    CHECK_EQ_SIZE(pm_tcache_check(false), 0);
    chunk_clear_held_free(hdr(a));
    CHECK_EQ_SIZE(pm_tcache_check(false), 1);
    chunk_set_held_free(hdr(a));
    TC->room[ti]++; /* one fewer than the list holds */
    CHECK_EQ_SIZE(pm_tcache_check(false), 1);
    TC->room[ti] -= 2; /* one more */
    CHECK_EQ_SIZE(pm_tcache_check(false), 1);
    TC->room[ti]++;
    CHECK_HEAP();
    CHECK(malloc(200) == b && !chunk_held_free(hdr(b)));
    CHECK(malloc(200) == a && !chunk_held_free(hdr(a)));
    free(a);
    free(b);
    for (size_t i = 0; i < held; i++)
        free(hold[i]);
    CHECK_HEAP();
}

int main(void)
{
    /* Arena behaviour with blocks above 1032 bytes: those must reach the
     * arena, not the thread cache's size classes. */
    REQUIRE(mallopt(PMALLOC_M_TCACHE_MAX, 1032) == 1);
    /* No byte budget: every bin keeps the starting depth of 7, so the
     * spills and refills below come where the counts say. */
    REQUIRE(mallopt(PMALLOC_M_TCACHE_BYTES, 0) == 1);
    free(malloc(1)); /* the cache exists */
    REQUIRE(TC != NULL && TC->limit == 7);
    test_spill_to_fastbin();
    test_large_request_merges_at_threshold();
    test_refill_from_remainder();
    test_mxfast_zero();
    test_walker_sees_cache();
    return test_finish("test_cache_arena");
}
