/* Remote frees: a chunk freed by a thread other than the one that owns
 * its arena never waits for that arena's lock: it goes on the arena's
 * lock-free list, and whoever next holds the lock frees it.  Nothing may be lost: a producer that
 * keeps allocating while a consumer frees everything it makes must keep
 * reusing the same memory, and once both are done (and malloc_trim has
 * drained the lists) the producer's arena has no chunk in use.
 *
 * Usage: test_remote_free [blocks] (default 300000). */
#include "thr.h"

#define RING 1024  /* blocks in flight at most */

struct ring {
    pthread_mutex_t m;
    pthread_cond_t not_empty, not_full;
    void *slot[RING];
    uint64_t seed[RING];
    size_t size[RING];
    size_t head, tail; /* head: next to take; tail: next to put */
    bool done;
};

static struct ring q = {
    .m = PTHREAD_MUTEX_INITIALIZER,
    .not_empty = PTHREAD_COND_INITIALIZER,
    .not_full = PTHREAD_COND_INITIALIZER,
};

static size_t total_blocks = 300000;
static struct pm_arena *producer_arena;
static atomic_ulong remote_seen; /* times the consumer saw a non-empty remote list */
static size_t producer_max_mem;

static void put(void *p, size_t size, uint64_t seed)
{
    pthread_mutex_lock(&q.m);
    while (q.tail - q.head == RING)
        pthread_cond_wait(&q.not_full, &q.m);
    q.slot[q.tail % RING] = p;
    q.size[q.tail % RING] = size;
    q.seed[q.tail % RING] = seed;
    q.tail++;
    pthread_cond_signal(&q.not_empty);
    pthread_mutex_unlock(&q.m);
}

static void *producer(void *arg)
{
    (void)arg;
    uint64_t r = 42;
    free(malloc(1));
    producer_arena = pm_thread_arena;
    for (size_t i = 0; i < total_blocks; i++) {
        /* sizes for the cache (they reach the arena when the consumer's
         * cache spills), for the bins, and a few larger ones */
        size_t k = rng_below(&r, 10), size;
        if (k < 4)
            size = 16 + rng_below(&r, 1000);
        else if (k < 9)
            size = 1100 + rng_below(&r, 3000);
        else
            size = 8 * KiB + rng_below(&r, 56 * KiB);
        void *p = malloc(size);
        TCHECK(p != NULL);
        if (p == NULL)
            break;
        TCHECK(arena_of_chunk(hdr(p)) == producer_arena || size <= 1032);
        uint64_t seed = rng_next(&r);
        fill_words(p, size < 64 ? size : 64, seed);
        put(p, size, seed);
        /* Keep the arena's lock busy: a burst of work under it. */
        if (i % 64 == 0) {
            void *tmp[16];
            for (int j = 0; j < 16; j++)
                tmp[j] = malloc(1100 + (size_t)j * 8);
            for (int j = 0; j < 16; j++)
                free(tmp[j]);
        }
        if (producer_arena->system_mem > producer_max_mem)
            producer_max_mem = producer_arena->system_mem;
    }
    pthread_mutex_lock(&q.m);
    q.done = true;
    pthread_cond_signal(&q.not_empty);
    pthread_mutex_unlock(&q.m);
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    free(malloc(1)); /* an arena (and cache) of its own */
    for (;;) {
        pthread_mutex_lock(&q.m);
        while (q.head == q.tail && !q.done)
            pthread_cond_wait(&q.not_empty, &q.m);
        if (q.head == q.tail && q.done) {
            pthread_mutex_unlock(&q.m);
            break;
        }
        size_t i = q.head++ % RING;
        void *p = q.slot[i];
        size_t size = q.size[i];
        uint64_t seed = q.seed[i];
        pthread_cond_signal(&q.not_full);
        pthread_mutex_unlock(&q.m);
        if (!check_words(p, size < 64 ? size : 64, seed))
            TCHECK(!"block changed between producer and consumer");
        free(p);
        if (__atomic_load_n(&producer_arena->remote_frees, __ATOMIC_RELAXED) != NULL)
            atomic_fetch_add(&remote_seen, 1);
    }
    return NULL;
}

/* Deterministic: while the producer's thread holds its own arena's lock,
 * the frees of its chunks by another thread must go to the remote list,
 * without blocking; the producer's next allocation drains it. */
static pthread_barrier_t step;
static void *blocks[64];

static void *holder(void *arg)
{
    (void)arg;
    for (int i = 0; i < 64; i++)
        blocks[i] = malloc(2000 + (size_t)i * 16);
    struct pm_arena *a = pm_thread_arena;
    producer_arena = a;
    pm_lock(&a->lock);
    pthread_barrier_wait(&step); /* 1: the freer may go */
    pthread_barrier_wait(&step); /* 2: it has freed everything */
    TCHECK(__atomic_load_n(&a->remote_frees, __ATOMIC_ACQUIRE) != NULL);
    size_t listed = 0;
    for (mchunk *p = a->remote_frees; p != NULL && listed < 1000; p = chunk_fd(p))
        listed++;
    TCHECK(listed == 64);
    /* Still in use as far as the heap is concerned. */
    pm_unlock(&a->lock);
    /* The walker reads the list (nothing drains it but an allocation
     * here): each chunk held free; one without the mark is a problem. */
    TCHECK(pmalloc_check() == 0);
    chunk_clear_held_free(a->remote_frees);
    TCHECK(pmalloc_check() == 1);
    chunk_set_held_free(a->remote_frees);
    struct arena_tally t = tally_arena(a);
    TCHECK(t.inuse_chunks >= 64);
    /* The next allocation in this arena drains the list, and can reuse
     * the space. */
    void *p = malloc(2000);
    TCHECK(a->remote_frees == NULL);
    bool reused = false;
    for (int i = 0; i < 64; i++)
        reused |= p == blocks[i];
    TCHECK(reused);
    free(p);
    size_t problems = pmalloc_check();
    TCHECK(problems == 0);
    return NULL;
}

static void *freer(void *arg)
{
    (void)arg;
    free(malloc(1));
    pthread_barrier_wait(&step); /* 1 */
    TCHECK(pm_thread_arena != producer_arena);
    double t0 = now_sec();
    for (int i = 0; i < 64; i++)
        free(blocks[i]); /* would block on the lock if not remote */
    TCHECK(now_sec() - t0 < 5);
    pthread_barrier_wait(&step); /* 2 */
    return NULL;
}

static void test_deterministic(void)
{
    REQUIRE(pthread_barrier_init(&step, NULL, 2) == 0);
    pthread_t h, f;
    REQUIRE(pthread_create(&h, NULL, holder, NULL) == 0);
    REQUIRE(pthread_create(&f, NULL, freer, NULL) == 0);
    pthread_join(h, NULL);
    pthread_join(f, NULL);
    pthread_barrier_destroy(&step);
    THR_COLLECT();
    CHECK_HEAP();
}

/* Small blocks another thread freed come back to their owner's cache:
 * the owner's next miss in its own arena files them in its bins while
 * they have room (tcache.c, pm_tcache_drain_remote) instead of the fast
 * bins, and serves the request from them.  The freer's frees reach the
 * remote list when its exit empties its cache. */
#define SMALL 48
static void *small_blocks[64];
static size_t small_count;

static void *small_freer(void *arg)
{
    (void)arg;
    for (size_t i = 0; i < small_count; i++)
        free(small_blocks[i]);
    return NULL;
}

static void *small_owner(void *arg)
{
    (void)arg;
    free(malloc(1));
    /* this thread's arena may be an earlier test's: no fast chunk left */
    malloc_trim(0);
    struct pm_arena *a = pm_thread_arena;
    struct pm_tcache *t = pm_tcache_get();
    unsigned idx = tcache_index(request_to_size(SMALL));
    TCHECK(t != NULL && pm_tcache_count(t, idx) == 0);
    small_count = (size_t)t->room[idx];
    TCHECK(small_count >= 4 && small_count <= 64);
    for (size_t i = 0; i < small_count; i++)
        small_blocks[i] = malloc(SMALL);
    pthread_t f;
    TCHECK(pthread_create(&f, NULL, small_freer, NULL) == 0);
    pthread_join(f, NULL);
    size_t listed = 0;
    for (mchunk *p = __atomic_load_n(&a->remote_frees, __ATOMIC_ACQUIRE); p != NULL; p = chunk_fd(p))
        listed++;
    TCHECK(listed == small_count);
    TCHECK(pmalloc_check() == 0);

    /* the bin is empty: a miss, which takes the list; none of it went
     * through a fast bin (the arena never had a fast chunk) */
    TCHECK(!a->have_fastchunks);
    void *p = malloc(SMALL);
    TCHECK(a->remote_frees == NULL);
    TCHECK(!a->have_fastchunks);
    TCHECK(pm_tcache_count(t, idx) == small_count - 1);
    void *got[64];
    got[0] = p;
    for (size_t i = 1; i < small_count; i++)
        got[i] = malloc(SMALL);
    TCHECK(pm_tcache_count(t, idx) == 0);
    for (size_t i = 0; i < small_count; i++) {
        bool found = false;
        for (size_t j = 0; j < small_count; j++)
            found |= got[i] == small_blocks[j];
        TCHECK(found);
    }
    TCHECK(pmalloc_check() == 0);
    for (size_t i = 0; i < small_count; i++)
        free(got[i]);
    return NULL;
}

static void test_small_back_to_owner(void)
{
    pthread_t o;
    REQUIRE(pthread_create(&o, NULL, small_owner, NULL) == 0);
    pthread_join(o, NULL);
    THR_COLLECT();
    CHECK_HEAP();
}

/* A freed-remotely chunk left on the list of an arena whose threads have
 * all gone is not lost: the last thread to leave drains the list, so the
 * space counts among what the idle arena can lend.  The chunks are freed
 * while the arena's thread still lives (so they go to the list, not
 * through the lock), and the thread exits before anyone else drains it. */
static pthread_barrier_t owner_step;

static void *alloc_many(void *arg)
{
    void **out = arg;
    for (int i = 0; i < 64; i++)
        out[i] = malloc(3000);
    pthread_barrier_wait(&owner_step); /* 1: main may free them */
    pthread_barrier_wait(&owner_step); /* 2: main has freed them */
    return pm_thread_arena;
}

static void test_orphaned_list(void)
{
    void *mem[64];
    pthread_t t;
    REQUIRE(pthread_barrier_init(&owner_step, NULL, 2) == 0);
    REQUIRE(pthread_create(&t, NULL, alloc_many, mem) == 0);
    pthread_barrier_wait(&owner_step); /* 1 */
    struct pm_arena *a = arena_of_chunk(hdr(mem[0]));
    REQUIRE(a != &pm_main_arena);
    for (int i = 0; i < 64; i++)
        free(mem[i]);
    CHECK(a->remote_frees != NULL);
    pthread_barrier_wait(&owner_step); /* 2 */
    void *ar = NULL;
    pthread_join(t, &ar);
    pthread_barrier_destroy(&owner_step);
    CHECK(ar == a);
    CHECK(a->remote_frees == NULL);
    struct arena_tally after = tally_arena(a);
    CHECK_EQ_SIZE(after.inuse_chunks, 0);
    CHECK(a->pool_free >= after.free_bytes + after.top_bytes);
    malloc_trim(0);
    CHECK_HEAP();
}

int main(int argc, char **argv)
{
    /* Arena behaviour with blocks above 1032 bytes: those must reach the
     * arena, not the thread cache's size classes. */
    REQUIRE(mallopt(PMALLOC_M_TCACHE_MAX, 1032) == 1);
    if (argc > 1)
        total_blocks = (size_t)atol(argv[1]);
    test_deterministic();
    test_small_back_to_owner();
    test_orphaned_list();

    struct mallinfo2 mi0 = mallinfo2();
    pthread_t pt, ct;
    REQUIRE(pthread_create(&pt, NULL, producer, NULL) == 0);
    REQUIRE(pthread_create(&ct, NULL, consumer, NULL) == 0);
    pthread_join(pt, NULL);
    pthread_join(ct, NULL);
    THR_COLLECT();
    fprintf(stderr, "%zu blocks; consumer saw a pending remote list %lu times; producer arena peak %zu KiB\n",
            total_blocks, atomic_load(&remote_seen), producer_max_mem / KiB);
    CHECK_HEAP();

    /* At most RING blocks (under 64 KiB each) were alive at once: if the
     * remote frees were not reused the arena would have grown to
     * gigabytes. */
    CHECK(producer_max_mem < 96 * MiB);
    CHECK(producer_arena->nheaps <= 2);

    malloc_trim(0);
    struct arena_tally t = tally_arena(producer_arena);
    fprintf(stderr, "producer arena after trim: %zu in use, %zu free chunks (%zu KiB), top %zu KiB\n",
            t.inuse_chunks, t.free_chunks, t.free_bytes / KiB, t.top_bytes / KiB);
    CHECK(producer_arena->remote_frees == NULL);
    /* Everything was freed: no chunk in use but those parked in main's
     * own cache (none: main freed nothing of the producer's). */
    CHECK_EQ_SIZE(t.inuse_chunks, own_cache_chunks_of_thread_arenas());
    /* and the free space accounts for the whole arena */
    size_t space = 0;
    for (struct pm_heap *h = producer_arena->heap; h != NULL; h = h->prev)
        space += (size_t)(heap_end(h) - h->chunks_start);
    size_t accounted = t.free_bytes + t.top_bytes;
    CHECK(accounted + (producer_arena->nheaps) * (PM_FENCEPOST_SIZE + PM_ALIGNMENT) >= space);
    struct mallinfo2 mi1 = mallinfo2();
    fprintf(stderr, "mallinfo2 uordblks %zu -> %zu\n", mi0.uordblks, mi1.uordblks);
    CHECK(mi1.uordblks <= mi0.uordblks + 64 * KiB);
    CHECK_HEAP();
    return test_finish("test_remote_free");
}
