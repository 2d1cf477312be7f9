/* Large allocations around the mmap threshold (128 KiB, and glibc's
 * dynamic threshold that rises to 32 MiB): each thread keeps a small
 * working set of blocks between 32 KiB and 2 MiB, replacing a random one
 * per step with a new block or growing or shrinking it with realloc.
 * Every page of a block is written, so the cost of fresh mmap pages
 * (faults, zeroing) against reuse from the heap shows up in the time, and
 * holding on to freed memory shows up in peak RSS.
 *
 * usage: macro_large THREADS SCALE
 * One word per page, plus the head and tail, is checked before a block is
 * freed and after realloc moves it. */
#include "bench_common.h"

#include <pthread.h>

#define WORKING_SET 24
#define STEPS_PER_SCALE 4000
#define MIN_SIZE (32u * 1024)
#define MAX_SIZE (2u * 1024 * 1024)

struct blk {
    unsigned char *p;
    size_t size;
    uint64_t tag;
};

struct worker {
    int id;
    long steps;
    uint64_t ops;
};

static void touch(unsigned char *p, size_t size, uint64_t tag, size_t from)
{
    if (from == 0)
        pm_stamp(p, size, tag);
    for (size_t off = 4096; off + 16 <= size; off += 4096) {
        if (off < from)
            continue;
        uint64_t w = tag ^ off;
        memcpy(p + off, &w, 8);
    }
}

/* Checks the words of [0, limit); the tail word only if limit == size. */
static int intact(const unsigned char *p, size_t size, uint64_t tag, size_t limit)
{
    uint64_t t;
    memcpy(&t, p, 8);
    if (t != tag)
        return 0;
    if (limit == size && !pm_check(p, size, tag))
        return 0;
    for (size_t off = 4096; off + 16 <= limit; off += 4096) {
        uint64_t w;
        memcpy(&w, p + off, 8);
        if (w != (tag ^ off))
            return 0;
    }
    return 1;
}

/* Log-uniform between MIN_SIZE and MAX_SIZE, not page-aligned. */
static size_t pick_size(uint64_t *rng)
{
    unsigned shift = (unsigned)pm_rand_range(rng, 15, 20);   /* 32 KiB .. 1 MiB */
    size_t base = (size_t)1 << shift;
    size_t sz = base + (size_t)(pm_rand(rng) % base);
    sz += (size_t)(pm_rand(rng) % 64) * 16;
    return sz > MAX_SIZE ? MAX_SIZE : sz;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    uint64_t rng = 0x1a46eu + (uint64_t)w->id * 31337u;
    struct blk set[WORKING_SET];
    uint64_t ops = 0;
    for (int i = 0; i < WORKING_SET; i++) {
        set[i].size = pick_size(&rng);
        set[i].p = malloc(set[i].size);
        if (!set[i].p)
            PM_FAIL("large: malloc(%zu) returned NULL", set[i].size);
        set[i].tag = pm_rand(&rng);
        touch(set[i].p, set[i].size, set[i].tag, 0);
        ops++;
    }
    for (long s = 0; s < w->steps; s++) {
        struct blk *b = &set[pm_rand(&rng) % WORKING_SET];
        if (!intact(b->p, b->size, b->tag, b->size))
            PM_FAIL("large: block of %zu bytes was overwritten", b->size);
        size_t nsz = pick_size(&rng);
        if (pm_rand(&rng) % 4 == 0) {
            /* realloc keeps the common prefix; re-stamp head and tail. */
            unsigned char *q = realloc(b->p, nsz);
            if (!q)
                PM_FAIL("large: realloc(%zu) returned NULL", nsz);
            size_t keep = nsz < b->size ? nsz : b->size;
            if (!intact(q, b->size, b->tag, keep - 16))
                PM_FAIL("large: realloc from %zu to %zu lost content", b->size, nsz);
            b->p = q;
            b->size = nsz;
            touch(q, nsz, b->tag, 0);
            ops++;
        } else {
            free(b->p);
            b->size = nsz;
            b->p = malloc(nsz);
            if (!b->p)
                PM_FAIL("large: malloc(%zu) returned NULL", nsz);
            b->tag = pm_rand(&rng);
            touch(b->p, nsz, b->tag, 0);
            ops += 2;
        }
    }
    for (int i = 0; i < WORKING_SET; i++) {
        if (!intact(set[i].p, set[i].size, set[i].tag, set[i].size))
            PM_FAIL("large: block of %zu bytes was overwritten at the end", set[i].size);
        free(set[i].p);
        ops++;
    }
    w->ops = ops;
    return NULL;
}

int main(int argc, char **argv)
{
    struct pm_args args = pm_args(argc, argv);
    int threads = args.threads;
    struct worker *ws = pm_worker_records("large", threads, sizeof *ws);
    for (int i = 0; i < threads; i++) {
        ws[i].id = i;
        ws[i].steps = args.scale * STEPS_PER_SCALE;
    }
    double secs = pm_run_threads("large", threads, work, ws, sizeof *ws);
    uint64_t ops = 0;
    for (int i = 0; i < threads; i++)
        ops += ws[i].ops;
    free(ws);
    pm_report("large", threads, ops, secs, NULL);
    return 0;
}
