#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/* The arenas' class stores (src/bins.h): chunks of the size classes a
 * thread cache gives back wait whole in their arena's store, the next
 * misses of the class take them back without merging or cutting, the
 * store stays within its bound, and it is merged before the arena grows,
 * by malloc_trim and by the idle return; the walker, the snapshot and the
 * misuse checks know its chunks. */
#include "thr.h"

#include <pmalloc.h>
#include <string.h>

#define CHECK_HEAP_OK() CHECK_EQ_SIZE(pmalloc_check(), 0)

enum { NBLOCKS = 64 };
#define BLOCK 4000 /* class of 4112-byte chunks */

static unsigned class_of(size_t bytes) { return tcache_class_of(request_to_size(bytes)); }

/* Chunks in arena a's store k, by its list. */
static size_t store_length(struct pm_arena *a, unsigned k)
{
    size_t n = 0;
    for (mchunk *p = a->stores[k]; p != NULL; p = link_reveal(chunk_fd_slot(p), chunk_fd(p)))
        n++;
    return n;
}

static bool store_holds(struct pm_arena *a, unsigned k, void *mem)
{
    for (mchunk *p = a->stores[k]; p != NULL; p = link_reveal(chunk_fd_slot(p), chunk_fd(p)))
        if (p == mem_chunk(mem))
            return true;
    return false;
}

/* Each case runs in a thread of its own, which stays until the end (the
 * cases' threads hold their arenas, so every case has a new one). */
enum { MAX_CASES = 8 };
static pthread_t case_threads[MAX_CASES];
static int ncases;
static pthread_mutex_t case_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t case_cond = PTHREAD_COND_INITIALIZER;
static int cases_done;
static bool cases_may_end;
static __thread bool in_case; /* a case's thread, in its own new arena */

/* Allocates NBLOCKS blocks of BLOCK bytes, then takes every class's
 * depth away, so each free of them spills through to the arena, and
 * returns a small block cut from top after them all, which keeps them
 * off top. */
static void *fill_then_drop_depths(void **b)
{
    for (int i = 0; i < NBLOCKS; i++) {
        b[i] = malloc(BLOCK);
        REQUIRE(b[i] != NULL);
        memset(b[i], 0x5a, BLOCK);
    }
    pm_tcache_release_classes(pm_tcache_get());
    mchunk *top = pm_thread_arena->top;
    void *plug = launder(malloc(200));
    /* in a new arena no free chunk precedes top (a death case's child
     * may reuse another arena) */
    if (in_case)
        TCHECK(mem_chunk(plug) == top);
    return plug;
}

/* The same, then frees the blocks into the store; returns the arena. */
static struct pm_arena *fill_store(void **b)
{
    fill_then_drop_depths(b);
    for (int i = 0; i < NBLOCKS; i++)
        free(b[i]);
    return pm_thread_arena;
}

struct case_run {
    void *(*fn)(void *);
};

static void *case_main(void *arg)
{
    void *(*fn)(void *) = ((struct case_run *)arg)->fn;
    in_case = true;
    fn(NULL);
    pthread_mutex_lock(&case_lock);
    cases_done++;
    pthread_cond_broadcast(&case_cond);
    while (!cases_may_end)
        pthread_cond_wait(&case_cond, &case_lock);
    pthread_mutex_unlock(&case_lock);
    return NULL;
}

static void in_thread(void *(*fn)(void *))
{
    static struct case_run runs[MAX_CASES];
    REQUIRE(ncases < MAX_CASES);
    runs[ncases].fn = fn;
    REQUIRE(pthread_create(&case_threads[ncases], NULL, case_main, &runs[ncases]) == 0);
    ncases++;
    pthread_mutex_lock(&case_lock);
    while (cases_done < ncases)
        pthread_cond_wait(&case_cond, &case_lock);
    pthread_mutex_unlock(&case_lock);
    THR_COLLECT();
}

static void end_cases(void)
{
    pthread_mutex_lock(&case_lock);
    cases_may_end = true;
    pthread_cond_broadcast(&case_cond);
    pthread_mutex_unlock(&case_lock);
    for (int i = 0; i < ncases; i++)
        REQUIRE(pthread_join(case_threads[i], NULL) == 0);
}

/* A spill goes to the store whole: no chunk is merged, every one is held
 * free, and a miss of the class takes them back, the stash as many as
 * the class wants, with no request reaching the core's bins. */
static void *spill_and_miss(void *arg)
{
    (void)arg;
    static void *b[NBLOCKS + 1];
    void *plug = fill_then_drop_depths(b);
    struct pm_arena *a = pm_thread_arena;
    unsigned k = class_of(BLOCK);
    size_t before = a->store_bytes;
    for (int i = 0; i < NBLOCKS; i++) {
        free(b[i]);
        TCHECK(store_holds(a, k, b[i]) && chunk_held_free(mem_chunk(launder(b[i]))));
    }
    TCHECK(a->store_bytes - before == NBLOCKS * tcache_class_size(k));
    TCHECK(pmalloc_check() == 0);

    /* everything the store holds: these blocks and what the cache held
     * when its depths went */
    static mchunk *held[4 * NBLOCKS];
    size_t nheld = 0;
    for (mchunk *p = a->stores[k]; p != NULL && nheld < 4 * NBLOCKS; p = link_reveal(chunk_fd_slot(p), chunk_fd(p)))
        held[nheld++] = p;
    /* half of them: the stash may keep the rest in the cache */
    static void *again[NBLOCKS / 2];
    size_t nmalloc = a->nmalloc;
    for (int i = 0; i < NBLOCKS / 2; i++) {
        void *p = again[i] = launder(malloc(BLOCK));
        bool stored = false;
        for (size_t j = 0; j < nheld && !stored; j++)
            stored = mem_chunk(p) == held[j];
        TCHECK(stored);
    }
    /* only the first miss of each refill reaches pm_int_malloc */
    TCHECK(a->nmalloc - nmalloc < NBLOCKS / 4);
    TCHECK(store_length(a, k) <= nheld - NBLOCKS / 2);
    TCHECK(pmalloc_check() == 0);
    for (int i = 0; i < NBLOCKS / 2; i++)
        free(again[i]);
    free(plug);
    TCHECK(pmalloc_check() == 0);
    return NULL;
}

/* A chunk next to top merges into it: stored, it would keep top from
 * shrinking. */
static void *next_to_top(void *arg)
{
    (void)arg;
    free(malloc(16)); /* the thread's arena, new */
    struct pm_arena *a = pm_thread_arena;
    pm_tcache_release_classes(pm_tcache_get());
    void *x = launder(malloc(BLOCK)); /* with no depth, the one chunk cut */
    TCHECK(chunk_at(mem_chunk(x), chunk_size(mem_chunk(x))) == a->top);
    pm_tcache_release_classes(pm_tcache_get());
    size_t stored = a->store_bytes;
    free(x);
    TCHECK(a->store_bytes == stored);
    TCHECK(a->top == mem_chunk(x));
    TCHECK(pmalloc_check() == 0);
    return NULL;
}

/* Past its bound a store takes no more: the rest merge as before. */
static void *bound_holds(void *arg)
{
    (void)arg;
    static void *b[NBLOCKS + 1];
    REQUIRE(mallopt(PMALLOC_M_TCACHE_BYTES, 64 * 1024) == 1);
    TCHECK(pm_global.store_bound == 64 * 1024);
    struct pm_arena *a = fill_store(b);
    TCHECK(a->store_bytes <= 64 * 1024);
    TCHECK(a->store_bytes > 64 * 1024 - tcache_class_size(class_of(BLOCK)));
    TCHECK(pmalloc_check() == 0);
    REQUIRE(mallopt(PMALLOC_M_TCACHE_BYTES, 2 << 20) == 1);
    /* mallopt merged every store before the bound changed */
    TCHECK(a->store_bytes == 0);
    TCHECK(pmalloc_check() == 0);
    return NULL;
}

static bool note_largest(void *ctx, enum pm_bins_list list, unsigned idx, mchunk *p)
{
    (void)list;
    (void)idx;
    size_t *largest = ctx;
    if (chunk_size(p) > *largest)
        *largest = chunk_size(p);
    return true;
}

static void ignore_problem(void *ctx, enum pm_bins_problem what, const void *where)
{
    (void)ctx;
    (void)what;
    (void)where;
}

/* The largest free chunk in arena a's bins. */
static size_t largest_binned(struct pm_arena *a)
{
    size_t largest = 0;
    const struct pm_bins_visitor v = {note_largest, ignore_problem, &largest, true, 0, NULL};
    pm_lock(&a->lock);
    pm_bins_walk(a, &v);
    pm_unlock(&a->lock);
    return largest;
}

/* A request no bin, store or top can serve merges the stores before the
 * heap grows: a run of stored chunks becomes one free chunk again. */
static void *merged_before_growth(void *arg)
{
    (void)arg;
    static void *b[NBLOCKS + 1], *eaten[64];
    /* mapped by the threshold otherwise */
    REQUIRE(mallopt(M_MMAP_THRESHOLD, 1 << 20) == 1);
    free(malloc(16)); /* the thread's arena */
    struct pm_arena *a = pm_thread_arena;
    /* an arena an earlier case used may have free space to serve it, and
     * stores that would scatter the blocks */
    malloc_trim(0);
    size_t neaten = 0;
    while (largest_binned(a) >= request_to_size(150000) && neaten < 64)
        eaten[neaten++] = malloc(150000);
    void *plug = fill_then_drop_depths(b);
    for (int i = 0; i < NBLOCKS; i++)
        free(b[i]);
    TCHECK(a->store_bytes >= (size_t)NBLOCKS * BLOCK);
    /* use up top with a class no store holds */
    static void *fill[4096];
    size_t nfill = 0;
    while (top_size(a) >= 2 * 1664 && nfill < 4096)
        fill[nfill++] = malloc(1500);
    size_t system = a->system_mem;
    void *big = malloc(150000);
    TCHECK(big != NULL);
    /* the blocks (and the chunks the cache held between them) make one
     * run in the new arena, which merged serves the request */
    TCHECK(a->system_mem == system);
    TCHECK(a->store_bytes == 0);
    TCHECK(pmalloc_check() == 0);
    free(big);
    free(plug);
    for (size_t i = 0; i < nfill; i++)
        free(fill[i]);
    for (size_t i = 0; i < neaten; i++)
        free(eaten[i]);
    return NULL;
}

/* malloc_trim merges what the stores hold. */
static void *trim_merges(void *arg)
{
    (void)arg;
    static void *b[NBLOCKS + 1];
    struct pm_arena *a = fill_store(b);
    TCHECK(a->store_bytes != 0);
    malloc_trim(0);
    TCHECK(a->store_bytes == 0);
    TCHECK(pmalloc_check() == 0);
    return NULL;
}

/* The idle return merges the stores of an arena no call has used for the
 * decay's delay, and so can give their pages back. */
static void *idle_merges(void *arg)
{
    (void)arg;
    static void *b[NBLOCKS + 1];
    REQUIRE(mallopt(PMALLOC_M_DECAY_MS, 20) == 1);
    struct pm_arena *a = fill_store(b);
    TCHECK(a->store_bytes != 0);
    for (int i = 0; i < 400 && a->store_bytes != 0; i++) {
        pm_trim_idle_step();
        struct timespec ms = {0, 5 * 1000 * 1000};
        nanosleep(&ms, NULL);
    }
    TCHECK(a->store_bytes == 0);
    TCHECK(pmalloc_check() == 0);
    REQUIRE(mallopt(PMALLOC_M_DECAY_MS, PM_DEFAULT_DECAY_MS) == 1);
    return NULL;
}

/* The walker checks a store against its count, and a snapshot lists the
 * stored chunks in a store of their class. */
static void *walker_and_snapshot(void *arg)
{
    (void)arg;
    static void *b[NBLOCKS + 1];
    struct pm_arena *a = fill_store(b);
    a->store_bytes += 16;
    TCHECK(pmalloc_check() != 0);
    a->store_bytes -= 16;
    TCHECK(pmalloc_check() == 0);
    char *text = snapshot_text();
    TCHECK(text != NULL);
    if (text != NULL) {
        char kind[64];
        snprintf(kind, sizeof kind, "\"kind\":\"store\",\"index\":%u", class_of(BLOCK));
        TCHECK(strstr(text, kind) != NULL);
        TCHECK(strstr(text, "\"state\":\"store\"") != NULL);
        TCHECK(strstr(text, "\"store_bytes\":") != NULL);
        TCHECK(snapshot_problem_free(text));
        free(text);
    }
    return NULL;
}

static void *thread_main(void *arg)
{
    void (*fn)(void *) = (void (*)(void *))arg;
    fn(NULL);
    return NULL;
}

/* A second free of a stored chunk is a double free. */
static void double_free_stored(void *arg)
{
    (void)arg;
    static void *b[NBLOCKS + 1];
    fill_then_drop_depths(b);
    free(b[0]);
    REQUIRE(store_holds(pm_thread_arena, class_of(BLOCK), b[0]));
    free(b[0]);
}

/* A write into a stored chunk is caught when the chunk leaves the store. */
static void write_after_free_stored(void *arg)
{
    (void)arg;
    static void *b[NBLOCKS + 1];
    fill_then_drop_depths(b);
    free(b[0]);
    ((uintptr_t *)b[0])[1] ^= 1;
    (void)malloc(BLOCK);
}

static void run_in_own_thread(void *arg)
{
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, thread_main, arg) == 0);
    REQUIRE(pthread_join(th, NULL) == 0);
}

static void expect_abort(void (*fn)(void *), const char *message)
{
    char err[4096];
    int status = run_in_child(run_in_own_thread, (void *)fn, err, sizeof err);
    bool aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    bool said = strstr(err, message) != NULL;
    if (!aborted || !said)
        fprintf(stderr, "expected '%s': status 0x%x, stderr: %s\n", message, (unsigned)status, err);
    CHECK(aborted);
    CHECK(said);
}

int main(void)
{
    alarm(120);
    free(malloc(1)); /* main's cache */
    REQUIRE(pm_global.store_bound == PM_DEFAULT_TCACHE_BYTES);
    /* first, in the first thread arena: its blocks are cut in one run */
    in_thread(merged_before_growth);
    in_thread(spill_and_miss);
    in_thread(next_to_top);
    in_thread(bound_holds);
    in_thread(trim_merges);
    in_thread(idle_merges);
    in_thread(walker_and_snapshot);
    end_cases();
    expect_abort(double_free_stored, "double free");
    if (PM_CHUNK_CHECKS)
        expect_abort(write_after_free_stored, "malloc(): stored chunk modified after free");
    CHECK_HEAP_OK();
    return test_finish("test_class_store");
}
