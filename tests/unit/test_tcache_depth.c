/* The small bins' adaptive depth (src/tcache.c): a repeated batch of one
 * size stops reaching the arena after a few rounds, an idle bin falls
 * back to its starting depth and gives back what it held beyond it, one
 * thread freeing many small blocks keeps at most the byte budget, and
 * the heap walker, the snapshot and the statistics agree with deep bins.
 * calloc's cleared hits cover the whole usable size of every bin. */
#include "../helpers.h"
#include "tcache.h"

#define TC (pm_tcache_get())

/* Requests that reached the calling thread's arena: a cache miss is one. */
static size_t arena_requests(void) { return pm_thread_arena->nmalloc; }

/* The chunks on bin idx's list, walked. */
static size_t walk_bin(unsigned idx)
{
    size_t n = 0;
    for (struct pm_tcache_entry *e = TC->entries[idx]; tcache_more(e) && n < 100000; e = tcache_link(&e->next, e->next))
        n++;
    return n;
}

/* What the calling thread's cache holds, by its counts. */
static size_t held_bytes(void)
{
    size_t bytes = 0;
    for (unsigned idx = 0; idx < PM_TCACHE_BINS; idx++)
        bytes += pm_tcache_count(TC, idx) * tcache_bin_size(idx);
    for (unsigned k = 0; k < PM_TCACHE_CLASSES; k++)
        bytes += (size_t)TC->class_count[k] * tcache_class_size(k);
    return bytes;
}

enum { BATCH = 48, ROUNDS = 10, BATCH_SIZE = 200 };

/* Rounds of BATCH mallocs then BATCH frees of one size: at the starting
 * depth of 7 every round misses and spills; the bin deepens until a
 * round stays in the cache. */
static void test_batch_stops_missing(void)
{
    static void *b[BATCH];
    unsigned idx = tcache_request_index(BATCH_SIZE);
    size_t first = 0, last = 0;
    for (int r = 0; r < ROUNDS; r++) {
        size_t before = arena_requests();
        for (int i = 0; i < BATCH; i++)
            REQUIRE((b[i] = malloc(BATCH_SIZE)) != NULL);
        for (int i = 0; i < BATCH; i++)
            free(b[i]);
        size_t misses = arena_requests() - before;
        if (r == 0)
            first = misses;
        last = misses;
        CHECK(pm_tcache_count(TC, idx) <= TC->bin_limit[idx]);
    }
    CHECK(first >= 4); /* the starting depth did miss */
    CHECK_EQ_SIZE(last, 0);
    CHECK(TC->bin_limit[idx] >= BATCH);
    CHECK(TC->bin_limit[idx] <= PM_TCACHE_BIN_DEPTH_MAX);
    /* nothing spilled in the last round: the whole batch is cached */
    CHECK(pm_tcache_count(TC, idx) >= BATCH);
    CHECK_EQ_SIZE(walk_bin(idx), pm_tcache_count(TC, idx));
    CHECK_HEAP();
}

/* The heap walker behind heapviz reads each bin's own depth: a deep bin
 * gives no problem. */
static void test_snapshot_deep_bin(void)
{
    char *text = snapshot_text();
    REQUIRE(text != NULL);
    CHECK(snapshot_problem_free(text));
    free(text);
    /* the statistics count every cached chunk */
    CHECK(pm_tcache_bytes() >= held_bytes());
}

/* Slow calls that never touch the deep bin: its depth halves at each idle
 * check, down to the starting depth, and what it held beyond goes back. */
static void test_idle_shrinks(void)
{
    unsigned idx = tcache_request_index(BATCH_SIZE);
    uint32_t deep = TC->bin_limit[idx];
    REQUIRE(deep > TC->limit);
    size_t reserved = TC->bin_depth_bytes;
    for (int i = 0; i < 6 * PM_TCACHE_IDLE_CHECK_CALLS; i++)
        free(malloc(600 * 1024)); /* above the cache: two slow calls */
    CHECK_EQ_SIZE(TC->bin_limit[idx], TC->limit);
    CHECK(pm_tcache_count(TC, idx) <= TC->limit);
    CHECK_EQ_SIZE(walk_bin(idx), pm_tcache_count(TC, idx));
    CHECK(TC->bin_depth_bytes < reserved);
    CHECK_HEAP();
}

/* One thread allocates and frees many blocks of every small size, round
 * after round, under a budget the bins would pass if only their depths
 * limited them: what the cache holds, and what its depths allow, stay
 * within the budget. */
static void test_budget_holds(void)
{
    const size_t budget = 512 * KiB;
    REQUIRE(mallopt(PMALLOC_M_TCACHE_BYTES, (int)budget) == 1);
    enum { PER_SIZE = 80, SIZES = PM_TCACHE_BINS };
    static void *b[PER_SIZE * SIZES];
    size_t most = 0;
    for (int r = 0; r < 6; r++) {
        for (int i = 0; i < PER_SIZE * SIZES; i++)
            REQUIRE((b[i] = malloc(24 + 16 * (size_t)(i % SIZES))) != NULL);
        for (int i = 0; i < PER_SIZE * SIZES; i++) {
            free(b[i]);
            size_t held = i % 97 == 0 ? held_bytes() : 0;
            most = held > most ? held : most;
        }
        size_t held = held_bytes();
        most = held > most ? held : most;
        CHECK(TC->bin_depth_bytes + TC->class_depth_bytes <= budget);
    }
    if (most > budget)
        fprintf(stderr, "cache held %zu bytes, budget %zu\n", most, budget);
    CHECK(most <= budget);
    /* the bins did grow: beyond what the starting depths hold */
    CHECK(most > (size_t)TC->limit * (PM_TCACHE_BINS * PM_MINSIZE + PM_TCACHE_BINS * (PM_TCACHE_BINS - 1) / 2 * 16));
    for (unsigned idx = 0; idx < PM_TCACHE_BINS; idx++)
        CHECK_EQ_SIZE(walk_bin(idx), pm_tcache_count(TC, idx));
    CHECK_HEAP();
    REQUIRE(mallopt(PMALLOC_M_TCACHE_BYTES, (int)PM_DEFAULT_TCACHE_BYTES) == 1);
}

/* A calloc that hits the cache clears the chunk's whole usable size, for
 * every small bin, and nothing past it. */
static void test_calloc_clears_every_bin(void)
{
    for (size_t bytes = 1; bytes <= PM_TCACHE_SMALL_MAX_BYTES; bytes += 7) {
        unsigned idx = tcache_request_index(bytes);
        /* room in the bin, so the free below is cached (earlier tests
         * left bins full); the blocks taken are simply kept */
        while (!pm_tcache_has_room(TC, idx))
            REQUIRE(malloc(bytes) != NULL);
        unsigned char *p = malloc(bytes);
        REQUIRE(p != NULL);
        size_t usable = malloc_usable_size(p);
        memset(p, 0xa5, usable);
        free(p);
        unsigned char *q = calloc(1, bytes);
        CHECK(q == p); /* the cache's hit, not the arena's */
        CHECK(all_bytes(q, usable, 0));
        free(q);
    }
    CHECK_HEAP();
}

int main(void)
{
    free(malloc(1)); /* the cache exists */
    REQUIRE(TC != NULL && TC->limit == PM_DEFAULT_TCACHE_COUNT);
    test_batch_stops_missing();
    test_snapshot_deep_bin();
    test_idle_shrinks();
    test_budget_holds();
    test_calloc_clears_every_bin();
    return test_finish("test_tcache_depth");
}
