/* The micro benchmark bodies; see micro_cases.h. */
#include "micro_cases.h"

#include "bench_common.h"

#include <sched.h>
#include <stdatomic.h>

/* ---- malloc/free pairs ------------------------------------------------ */

static void pair(const struct pm_micro_ctx *ctx, size_t size, uint64_t iters)
{
    (void)ctx;
    for (uint64_t i = 0; i < iters; i++) {
        void *p = malloc(size);
        PM_ESCAPE(p);
        free(p);
    }
}

/* Same, but writes the first byte, so pages of large blocks are touched
 * the way a program would touch them. */
static void pair_touch(const struct pm_micro_ctx *ctx, size_t size, uint64_t iters)
{
    (void)ctx;
    for (uint64_t i = 0; i < iters; i++) {
        char *p = malloc(size);
        if (p)
            p[0] = (char)i;
        PM_ESCAPE(p);
        free(p);
    }
}

/* ---- batches: allocate BATCH blocks, then free them in some order ----- */

#define BATCH 1000

static const unsigned short batch_sizes[16] = {
    16, 24, 32, 48, 64, 80, 96, 128, 160, 192, 256, 320, 384, 448, 512, 40
};

/* A fixed random permutation of 0..BATCH-1, built once before any run. */
static unsigned short batch_perm[BATCH];

static void batch_setup(size_t arg)
{
    (void)arg;
    uint64_t rng = 42;
    for (unsigned i = 0; i < BATCH; i++)
        batch_perm[i] = (unsigned short)i;
    for (unsigned i = BATCH - 1; i > 0; i--) {
        unsigned j = (unsigned)(pm_rand(&rng) % (i + 1));
        unsigned short t = batch_perm[i];
        batch_perm[i] = batch_perm[j];
        batch_perm[j] = t;
    }
}

enum { ORDER_LIFO, ORDER_FIFO, ORDER_RANDOM };

static void batch(const struct pm_micro_ctx *ctx, size_t order, uint64_t iters)
{
    (void)ctx;
    void *ptr[BATCH];
    for (uint64_t done = 0; done < iters; done += BATCH) {
        for (unsigned i = 0; i < BATCH; i++) {
            ptr[i] = malloc(batch_sizes[i & 15]);
            PM_ESCAPE(ptr[i]);
        }
        if (order == ORDER_LIFO) {
            for (unsigned i = BATCH; i-- > 0;)
                free(ptr[i]);
        } else if (order == ORDER_FIFO) {
            for (unsigned i = 0; i < BATCH; i++)
                free(ptr[i]);
        } else {
            for (unsigned i = 0; i < BATCH; i++)
                free(ptr[batch_perm[i]]);
        }
    }
}

/* A batch of DEEP_BATCH blocks of one size class, beyond what a thread's
 * cache keeps of it (a class may take half the 2 MiB budget, 255 chunks
 * of 4 KiB): every round spills most of the batch to the arena and misses
 * it back, the path the class stores serve (issue #10, item 3). */
#define DEEP_BATCH 700

static void deep_batch(const struct pm_micro_ctx *ctx, size_t size, uint64_t iters)
{
    (void)ctx;
    static void *ptr[DEEP_BATCH];
    for (uint64_t done = 0; done < iters; done += DEEP_BATCH) {
        for (unsigned i = 0; i < DEEP_BATCH; i++) {
            ptr[i] = malloc(size);
            PM_ESCAPE(ptr[i]);
        }
        for (unsigned i = 0; i < DEEP_BATCH; i++)
            free(ptr[i]);
    }
}

/* ---- random mixed working set of 8..1024-byte blocks ------------------ */

#define MIXED_SLOTS 4096          /* live blocks */
#define MIXED_SEQ (1u << 16)      /* precomputed (slot, size) steps */

static void *mixed_ptr[MIXED_SLOTS];
static uint32_t mixed_seq[MIXED_SEQ];   /* slot << 16 | size */
static uint32_t mixed_pos;

static void mixed_setup(size_t arg)
{
    (void)arg;
    uint64_t rng = 7;
    for (unsigned i = 0; i < MIXED_SEQ; i++) {
        uint32_t slot = (uint32_t)(pm_rand(&rng) % MIXED_SLOTS);
        uint32_t size = (uint32_t)pm_rand_range(&rng, 8, 1024);
        mixed_seq[i] = slot << 16 | size;
    }
    for (unsigned i = 0; i < MIXED_SLOTS; i++) {
        mixed_ptr[i] = malloc((size_t)pm_rand_range(&rng, 8, 1024));
        PM_ESCAPE(mixed_ptr[i]);
    }
    mixed_pos = 0;
}

static void mixed_teardown(size_t arg)
{
    (void)arg;
    for (unsigned i = 0; i < MIXED_SLOTS; i++) {
        free(mixed_ptr[i]);
        mixed_ptr[i] = NULL;
    }
}

/* One iteration frees a random live block and allocates a random size in
 * its place: two calls. */
static void mixed(const struct pm_micro_ctx *ctx, size_t arg, uint64_t iters)
{
    (void)ctx;
    (void)arg;
    uint32_t pos = mixed_pos;
    for (uint64_t i = 0; i < iters; i++) {
        uint32_t s = mixed_seq[pos++ & (MIXED_SEQ - 1)];
        uint32_t slot = s >> 16;
        free(mixed_ptr[slot]);
        mixed_ptr[slot] = malloc(s & 0xffff);
        PM_ESCAPE(mixed_ptr[slot]);
    }
    mixed_pos = pos;
}

/* ---- realloc growth from 16 bytes to 1 MiB ---------------------------- */

/* One iteration: malloc(16), grow by a quarter (plus 16) per realloc up
 * to 1 MiB, writing the new last byte each time, then free.  50 reallocs
 * plus the malloc and the free: 52 calls. */
static void realloc_grow(const struct pm_micro_ctx *ctx, size_t limit, uint64_t iters)
{
    (void)ctx;
    for (uint64_t i = 0; i < iters; i++) {
        size_t size = 16;
        char *p = malloc(size);
        if (!p)
            abort();
        p[0] = 'x';
        while (size < limit) {
            size_t next = size + size / 4 + 16;
            if (next > limit)
                next = limit;
            char *q = realloc(p, next);
            if (!q)
                abort();
            p = q;
            p[next - 1] = 'y';
            size = next;
        }
        if (p[0] != 'x')
            abort();
        free(p);
    }
}

static unsigned realloc_calls(size_t limit)
{
    unsigned n = 2;
    for (size_t size = 16; size < limit; n++) {
        size_t next = size + size / 4 + 16;
        size = next > limit ? limit : next;
    }
    return n;
}

/* ---- calloc ------------------------------------------------------------ */

static void calloc_pair(const struct pm_micro_ctx *ctx, size_t size, uint64_t iters)
{
    (void)ctx;
    for (uint64_t i = 0; i < iters; i++) {
        unsigned char *p = calloc(1, size);
        if (!p || p[size / 2] != 0)
            abort();
        p[size / 2] = 1;
        free(p);
    }
}

/* ---- aligned allocation: 256-byte blocks at alignment `align` ---------- */

static void aligned_pair(const struct pm_micro_ctx *ctx, size_t align, uint64_t iters)
{
    (void)ctx;
    for (uint64_t i = 0; i < iters; i++) {
        void *p = NULL;
        if (posix_memalign(&p, align, 256) != 0 || ((uintptr_t)p & (align - 1)))
            abort();
        PM_ESCAPE(p);
        free(p);
    }
}

/* ---- threads ------------------------------------------------------------ */

/* Producer/consumer ring: each of the n threads allocates blocks and
 * passes them to the next thread, which frees them, so every block is
 * freed by a thread other than the one that allocated it (with one
 * thread, the thread frees its own blocks after a delay).  With two
 * threads this is a producer/consumer pair in both directions. */

#define RING_CAP 1024               /* power of two */
#define MAX_THREADS 64

struct ring {
    _Alignas(64) _Atomic uint64_t head;   /* next slot to write */
    _Alignas(64) _Atomic uint64_t tail;   /* next slot to read */
    _Alignas(64) void *slot[RING_CAP];
};

static struct ring rings[MAX_THREADS];

/* Blocks a thread received beyond what its previous call needed (the
 * previous thread may already be in its next call); they count towards
 * the next call.  Back to zero when all threads have finished. */
static uint64_t surplus[MAX_THREADS];

static int ring_push(struct ring *r, void *p)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (h - t >= RING_CAP)
        return 0;
    r->slot[h & (RING_CAP - 1)] = p;
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
    return 1;
}

static void *ring_pop(struct ring *r)
{
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
    if (t == h)
        return NULL;
    void *p = r->slot[t & (RING_CAP - 1)];
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
    return p;
}

/* One iteration: one malloc here, one free of a block from the previous
 * thread.  Every thread runs the same number of iterations in total, so
 * each receives exactly as many blocks as it sends. */
static void prodcons(const struct pm_micro_ctx *ctx, size_t size, uint64_t iters)
{
    int n = ctx->threads < MAX_THREADS ? ctx->threads : MAX_THREADS;
    int me = ctx->thread_index % n;
    struct ring *out = &rings[(me + 1) % n];
    struct ring *in = &rings[me];
    uint64_t sent = 0, got = surplus[me];
    void *pending = NULL;
    unsigned idle = 0;
    while (sent < iters || got < iters) {
        int progress = 0;
        if (sent < iters) {
            if (!pending) {
                pending = malloc(size);
                if (!pending)
                    abort();
                *(uint64_t *)pending = 0x5a5a5a5a5a5a5a5aULL ^ sent;
            }
            if (ring_push(out, pending)) {
                pending = NULL;
                sent++;
                progress = 1;
            }
        }
        void *p;
        for (int k = 0; k < 32 && (p = ring_pop(in)) != NULL; k++) {
            free(p);
            got++;
            progress = 1;
        }
        if (progress) {
            idle = 0;
        } else if (++idle > 64) {
            sched_yield();   /* more threads than cores: let the peer run */
            idle = 0;
        }
    }
    surplus[me] = got - iters;
}

/* Each thread makes its own malloc/free pairs: scaling with no sharing. */
static void pair_mt(const struct pm_micro_ctx *ctx, size_t size, uint64_t iters)
{
    pair(ctx, size, iters);
}

/* ---- the table ---------------------------------------------------------- */

#define KIB 1024u
#define MIB (1024u * 1024u)

const struct pm_micro_case pm_micro_cases[] = {
    { "pair/16",          "pair16",  pair,        16,         256, 2, 0, NULL, NULL },
    { "pair/64",          "pair64",  pair,        64,         256, 2, 0, NULL, NULL },
    { "pair/512",         "pair512", pair,        512,        256, 2, 0, NULL, NULL },
    { "pair/4096",        "pair4k",  pair_touch,  4 * KIB,    256, 2, 0, NULL, NULL },
    { "pair/262144",      "pair256k", pair_touch, 256 * KIB,  16,  2, 0, NULL, NULL },
    { "pair/4194304",     "pair4m",  pair_touch,  4 * MIB,    1,   2, 0, NULL, NULL },
    { "batch/lifo",       "batch_lifo", batch,    ORDER_LIFO, BATCH, 2, 0, batch_setup, NULL },
    { "batch/fifo",       "batch",   batch,       ORDER_FIFO, BATCH, 2, 0, batch_setup, NULL },
    { "batch/random",     "batch_random", batch,  ORDER_RANDOM, BATCH, 2, 0, batch_setup, NULL },
    { "batch/4096x700",   "batch4k", deep_batch,  4000,       DEEP_BATCH, 2, 0, NULL, NULL },
    { "mixed/8-1024",     "mixed",   mixed,       0,          256, 2, 0, mixed_setup, mixed_teardown },
    { "realloc/16-1M",    "realloc", realloc_grow, 1 * MIB,   1,   0, 0, NULL, NULL },
    { "calloc/64",        "calloc64", calloc_pair, 64,        256, 2, 0, NULL, NULL },
    { "calloc/4096",      "calloc4k", calloc_pair, 4 * KIB,   256, 2, 0, NULL, NULL },
    { "aligned/64",       "aligned64", aligned_pair, 64,      256, 2, 0, NULL, NULL },
    { "aligned/4096",     "aligned4k", aligned_pair, 4 * KIB, 256, 2, 0, NULL, NULL },
    { "threads/pair64",   NULL,      pair_mt,     64,         256, 2, 1, NULL, NULL },
    { "threads/prodcons64", NULL,    prodcons,    64,         256, 2, 1, NULL, NULL },
};

const size_t pm_micro_ncases = sizeof pm_micro_cases / sizeof pm_micro_cases[0];

const struct pm_micro_case *pm_micro_find(const char *short_name)
{
    for (size_t i = 0; i < pm_micro_ncases; i++)
        if (pm_micro_cases[i].short_name &&
            strcmp(pm_micro_cases[i].short_name, short_name) == 0)
            return &pm_micro_cases[i];
    return NULL;
}

/* calls_per_iter of the realloc case depends on its limit; the table keeps
 * 0 there and this fills it in. */
unsigned pm_micro_calls(const struct pm_micro_case *c)
{
    if (c->fn == realloc_grow)
        return realloc_calls(c->arg);
    return c->calls_per_iter;
}
