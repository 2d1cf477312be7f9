/* One pool of free memory for every thread: an arena no thread is
 * attached to lends its free space.
 *
 *  - a new thread takes the idle arena with the most free space, before
 *    any new arena is made;
 *  - the arena of an exited thread serves another thread: when the main
 *    thread has freed what an exited thread allocated and then allocates
 *    as much again, it moves to that arena instead of growing its own
 *    heap, and the process obtains (almost) nothing more from the system. */
#include "thr.h"

#define BLOCK 512
#define POOL_BYTES (16 * MiB)
#define NBLOCKS (POOL_BYTES / BLOCK)

struct filler {
    void **blocks;
    size_t n;
    struct pm_arena *arena;
    pthread_barrier_t *together; /* fillers that must live at once, or NULL */
};

static void *fill(void *arg)
{
    struct filler *f = arg;
    for (size_t i = 0; i < f->n; i++) {
        f->blocks[i] = malloc(BLOCK);
        TCHECK(f->blocks[i] != NULL);
        if (f->blocks[i] != NULL)
            memset(f->blocks[i], 0x5a, BLOCK);
    }
    f->arena = pm_thread_arena;
    if (f->together != NULL)
        pthread_barrier_wait(f->together);
    return NULL;
}

static void prepare(struct filler *f, size_t n)
{
    f->n = n;
    f->blocks = calloc(n, sizeof *f->blocks);
    REQUIRE(f->blocks != NULL);
}

static void run_filler(struct filler *f, size_t n)
{
    prepare(f, n);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, fill, f) == 0);
    pthread_join(t, NULL);
    THR_COLLECT();
}

static void free_all(struct filler *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->blocks[i]);
    free(f->blocks);
    f->blocks = NULL;
}

static void *report_arena(void *arg)
{
    free(malloc(64));
    *(struct pm_arena **)arg = pm_thread_arena;
    return NULL;
}

/* Two threads fill their arenas at once and exit; main frees all of the first
 * one's blocks: a third thread gets that arena, and no new one is made. */
static void test_choice_prefers_free_space(void)
{
    struct filler roomy = {0}, full = {0};
    pthread_barrier_t together;
    REQUIRE(pthread_barrier_init(&together, NULL, 2) == 0);
    roomy.together = full.together = &together;
    prepare(&roomy, NBLOCKS / 4);
    prepare(&full, NBLOCKS / 4);
    pthread_t a, b;
    REQUIRE(pthread_create(&a, NULL, fill, &roomy) == 0);
    REQUIRE(pthread_create(&b, NULL, fill, &full) == 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    pthread_barrier_destroy(&together);
    THR_COLLECT();
    REQUIRE(roomy.arena != full.arena);
    /* (Either may be the main arena, idle since the main thread moved.) */
    REQUIRE(roomy.arena != pm_thread_arena && full.arena != pm_thread_arena);
    CHECK_EQ_SIZE(roomy.arena->attached_threads, 0);
    CHECK_EQ_SIZE(full.arena->attached_threads, 0);
    free_all(&roomy);
    /* Counted as it was freed: the arena has no thread to say so. */
    CHECK(roomy.arena->pool_free >= POOL_BYTES / 4);
    size_t arenas = pm_global.narenas;
    struct pm_arena *got = NULL;
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, report_arena, &got) == 0);
    pthread_join(t, NULL);
    CHECK(got == roomy.arena);
    CHECK_EQ_SIZE(pm_global.narenas, arenas);
    for (size_t i = 0; i < full.n; i++)
        free(full.blocks[i]);
    free(full.blocks);
    CHECK_HEAP();
}

/* The scenario of the issue, in small: a thread allocates, exits; main
 * frees it all and allocates as much again. */
static void test_exited_arena_serves_main(void)
{
    struct filler f = {0};
    run_filler(&f, NBLOCKS);
    REQUIRE(f.arena != &pm_main_arena);
    REQUIRE(pm_thread_arena == &pm_main_arena);
    free_all(&f);
    CHECK(f.arena->pool_free >= POOL_BYTES * 3 / 4);
    size_t before = pm_global.system_total;
    void **again = calloc(NBLOCKS, sizeof *again);
    REQUIRE(again != NULL);
    size_t in_exited = 0;
    for (size_t i = 0; i < NBLOCKS; i++) {
        again[i] = malloc(BLOCK);
        REQUIRE(again[i] != NULL);
        memset(again[i], 0xa5, BLOCK);
        in_exited += arena_of_chunk(hdr(again[i])) == f.arena;
    }
    size_t after = pm_global.system_total;
    fprintf(stderr, "system memory %zu KiB -> %zu KiB; %zu of %zu blocks from the exited thread's arena\n",
            before / KiB, after / KiB, in_exited, (size_t)NBLOCKS);
    /* Main moved to the exited thread's arena, and its heap did not grow
     * by more than a sliver of what was allocated again. */
    CHECK(pm_thread_arena == f.arena);
    CHECK_EQ_SIZE(f.arena->attached_threads, 1);
    CHECK(in_exited >= NBLOCKS * 9 / 10);
    CHECK(after <= before + POOL_BYTES / 20);
    /* The main arena is idle now, and lends its space in turn. */
    CHECK_EQ_SIZE(pm_main_arena.attached_threads, 0);
    for (size_t i = 0; i < NBLOCKS; i++)
        free(again[i]);
    free(again);
    CHECK_HEAP();
    CHECK(pmalloc_check() == 0);
}

int main(void)
{
    /* First, while the exited thread's is the only other arena. */
    test_exited_arena_serves_main();
    test_choice_prefers_free_space();
    return test_finish("test_arena_pool");
}
