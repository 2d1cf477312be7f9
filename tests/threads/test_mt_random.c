/* Eight threads for a few seconds of random malloc, calloc, realloc,
 * free, memalign, posix_memalign and aligned_alloc (1 B to 300 KiB) on a
 * shared slot table, so most blocks are freed (or resized) by a thread
 * other than the one that allocated them.  Every block carries a pattern
 * that is checked before it is touched again.  Several times during the
 * run all threads meet at a barrier, one of them checks every block in
 * the table and runs the heap walker over every arena, and all go on.
 *
 * Usage: test_mt_random [seconds] (default 3). */
#include "thr.h"

#define NTHREADS 8
#define NSLOTS 4096
#define GROUP_SHIFT 6                   /* 64 slots share one mutex */
#define NGROUPS (NSLOTS >> GROUP_SHIFT)
#define CHECKPOINTS 6

struct slot {
    void *p;
    size_t size;       /* bytes requested (and patterned) */
    size_t align;      /* alignment asked for, 0 for none */
    uint64_t seed;
    int owner;         /* thread that made it (statistics only) */
};

static struct slot slots[NSLOTS];
static pthread_mutex_t groups[NGROUPS];
static pthread_barrier_t barrier;
static double phase_end;      /* written by the serial thread between barriers */
static bool stop;
static double run_seconds = 3.0;

static atomic_ulong n_ops, n_cross, n_realloc, n_aligned, n_calloc, n_big;

static size_t random_size(uint64_t *r)
{
    size_t k = rng_below(r, 100);
    if (k < 60)
        return 1 + rng_below(r, 256);              /* tcache and fast bins */
    if (k < 85)
        return 1 + rng_below(r, 1100);             /* around the tcache limit */
    if (k < 97)
        return 1 + rng_below(r, 32 * KiB);         /* small and large bins */
    return 64 * KiB + rng_below(r, 236 * KiB + 1); /* up to 300 KiB: mmap too */
}

/* A block that fits: usable size, alignment and (calloc) zeroes. */
static bool block_ok(void *p, size_t size, size_t align)
{
    if (p == NULL)
        return false;
    if (((uintptr_t)p & 15) != 0)
        return false;
    if (align && ((uintptr_t)p & (align - 1)) != 0)
        return false;
    return malloc_usable_size(p) >= size;
}

static void fill_slot(struct slot *s, uint64_t *r)
{
    s->seed = rng_next(r);
    fill_words(s->p, s->size, s->seed);
}

static void new_block(struct slot *s, uint64_t *r, int self)
{
    size_t size = random_size(r);
    size_t align = 0;
    void *p = NULL;
    switch (rng_below(r, 10)) {
    case 0:
    case 1: {
        size_t n = 1 + rng_below(r, 8);
        size_t each = (size + n - 1) / n;
        size = n * each;
        p = calloc(n, each);
        TCHECK(p != NULL);
        if (p != NULL) {
            const unsigned char *c = p;
            /* All of it for small blocks; a sparse look for big ones. */
            size_t step = size > 4096 ? 61 : 1;
            for (size_t i = 0; i < size; i += step)
                if (c[i] != 0) {
                    TCHECK(!"calloc block not zeroed");
                    break;
                }
        }
        atomic_fetch_add(&n_calloc, 1);
        break;
    }
    case 2:
        align = (size_t)16 << rng_below(r, 9); /* 16 .. 4096 */
        p = memalign(align, size);
        atomic_fetch_add(&n_aligned, 1);
        break;
    case 3:
        align = (size_t)8 << rng_below(r, 10);
        if (posix_memalign(&p, align, size) != 0)
            p = NULL;
        atomic_fetch_add(&n_aligned, 1);
        break;
    case 4:
        align = (size_t)32 << rng_below(r, 6);
        p = aligned_alloc(align, size);
        atomic_fetch_add(&n_aligned, 1);
        break;
    default:
        p = malloc(size);
        break;
    }
    if (align < 16)
        align = 0;
    TCHECK(block_ok(p, size, align));
    if (p == NULL)
        return;
    if (size >= 64 * KiB)
        atomic_fetch_add(&n_big, 1);
    s->p = p;
    s->size = size;
    s->align = align;
    s->owner = self;
    fill_slot(s, r);
}

static void touch_slot(struct slot *s, uint64_t *r, int self)
{
    if (!check_words(s->p, s->size, s->seed)) {
        TCHECK(!"block content changed while it was allocated");
        fprintf(stderr, "  block %p size %zu (align %zu) made by thread %d\n", s->p, s->size, s->align,
                s->owner);
    }
    if (s->owner != self)
        atomic_fetch_add(&n_cross, 1);
    if (rng_below(r, 4) == 0) {
        size_t size = random_size(r);
        void *q = realloc(s->p, size);
        TCHECK(q != NULL);
        if (q == NULL)
            return; /* the old block is still valid and still in the slot */
        size_t keep = size < s->size ? size : s->size;
        if (!check_words(q, keep, s->seed))
            TCHECK(!"realloc lost the contents");
        TCHECK(block_ok(q, size, 0));
        s->p = q;
        s->size = size;
        s->align = 0;
        s->owner = self;
        fill_slot(s, r);
        atomic_fetch_add(&n_realloc, 1);
        return;
    }
    free(s->p);
    s->p = NULL;
}

/* At a checkpoint: every block still holds its pattern, and the heap
 * walker finds nothing wrong in any arena. */
static void checkpoint(void)
{
    size_t live = 0;
    for (size_t i = 0; i < NSLOTS; i++) {
        if (slots[i].p == NULL)
            continue;
        live++;
        if (!check_words(slots[i].p, slots[i].size, slots[i].seed))
            TCHECK(!"checkpoint: block content changed");
    }
    size_t problems = pmalloc_check();
    if (problems != 0)
        fprintf(stderr, "checkpoint: heap walker found %zu problem(s)\n", problems);
    TCHECK(problems == 0);
    /* (unless the environment limits arenas) */
    TCHECK(pm_opt.arena_max != 0 || pm_global.narenas >= 2);
    (void)live;
}

static void *worker(void *arg)
{
    int self = (int)(intptr_t)arg;
    uint64_t r = 0x1234567ull * (uint64_t)(self + 1) ^ (uint64_t)time(NULL);
    for (;;) {
        while (now_sec() < phase_end) {
            for (int k = 0; k < 64; k++) {
                size_t i = rng_below(&r, NSLOTS);
                pthread_mutex_t *m = &groups[i >> GROUP_SHIFT];
                pthread_mutex_lock(m);
                if (slots[i].p == NULL)
                    new_block(&slots[i], &r, self);
                else
                    touch_slot(&slots[i], &r, self);
                pthread_mutex_unlock(m);
            }
            atomic_fetch_add(&n_ops, 64);
        }
        /* Quiescent point: nobody allocates between the two barriers. */
        if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD) {
            checkpoint();
            static int done;
            stop = ++done >= CHECKPOINTS;
            phase_end = now_sec() + run_seconds / CHECKPOINTS;
        }
        pthread_barrier_wait(&barrier);
        if (stop)
            break;
    }
    /* Each thread empties its share of the table. */
    for (size_t i = (size_t)self; i < NSLOTS; i += NTHREADS) {
        pthread_mutex_lock(&groups[i >> GROUP_SHIFT]);
        if (slots[i].p != NULL) {
            if (!check_words(slots[i].p, slots[i].size, slots[i].seed))
                TCHECK(!"final: block content changed");
            free(slots[i].p);
            slots[i].p = NULL;
        }
        pthread_mutex_unlock(&groups[i >> GROUP_SHIFT]);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        run_seconds = atof(argv[1]);
    for (size_t g = 0; g < NGROUPS; g++)
        pthread_mutex_init(&groups[g], NULL);
    REQUIRE(pthread_barrier_init(&barrier, NULL, NTHREADS) == 0);
    phase_end = now_sec() + run_seconds / CHECKPOINTS;

    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        REQUIRE(pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) == 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    THR_COLLECT();

    fprintf(stderr, "ops %lu, cross-thread %lu, realloc %lu, aligned %lu, calloc %lu, >=64KiB %lu, arenas %zu\n",
            atomic_load(&n_ops), atomic_load(&n_cross), atomic_load(&n_realloc), atomic_load(&n_aligned),
            atomic_load(&n_calloc), atomic_load(&n_big), pm_global.narenas);
    /* Enough work happened for the test to mean something. */
    CHECK(atomic_load(&n_ops) > 10000);
    CHECK(atomic_load(&n_cross) > 1000);
    /* 8 threads under the default limit each made an arena of their own. */
    CHECK(pm_opt.arena_max != 0 || pm_global.narenas >= NTHREADS + 1);
    CHECK_HEAP();

    /* Every block is gone and the threads have exited: once the remote
     * lists are drained (malloc_trim), no arena holds a chunk in use. */
    malloc_trim(0);
    CHECK_EQ_SIZE(pm_global.n_mmaps, 0);
    struct pm_arena *a = &pm_main_arena;
    do {
        if (a != &pm_main_arena) {
            struct arena_tally t = tally_arena(a);
            if (t.inuse_chunks != 0)
                fprintf(stderr, "arena %u: %zu chunk(s), %zu bytes still in use\n", a->index,
                        t.inuse_chunks, t.inuse_bytes);
            CHECK_EQ_SIZE(t.inuse_chunks, 0);
            CHECK(a->remote_frees == NULL);
        }
        a = arena_next(a);
    } while (a != &pm_main_arena);
    CHECK_HEAP();
    return test_finish("test_mt_random");
}
