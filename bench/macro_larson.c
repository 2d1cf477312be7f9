/* Server-like workload modelled on Larson & Krishnan's benchmark: each
 * thread owns a table of live blocks and repeatedly frees a random one and
 * allocates a new block of random size in its place.  Work is split into
 * epochs; each epoch runs on freshly created threads and every table moves
 * to a different thread, so blocks are freed by threads (and thread
 * caches) other than the ones that allocated them, and thread start-up
 * and exit are part of the cost, as in a server handing connections over.
 *
 * usage: macro_larson THREADS SCALE
 * Every block is stamped with a tag and checked before it is freed. */
#include "bench_common.h"

#include <pthread.h>

#define SLOTS 2000          /* live blocks per table */
#define MIN_SIZE 8
#define MAX_SIZE 1000
#define EPOCHS 8
#define OPS_PER_SCALE 100000 /* free+malloc steps per thread per scale unit */

struct table {
    void *ptr[SLOTS];
    size_t size[SLOTS];
    uint64_t tag[SLOTS];
    uint64_t rng;
};

struct worker {
    struct table *t;
    long steps;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct table *t = w->t;
    for (long i = 0; i < w->steps; i++) {
        size_t k = (size_t)(pm_rand(&t->rng) % SLOTS);
        if (!pm_check(t->ptr[k], t->size[k], t->tag[k]))
            PM_FAIL("larson: block %zu (size %zu) was overwritten", k, t->size[k]);
        free(t->ptr[k]);
        size_t sz = pm_rand_range(&t->rng, MIN_SIZE, MAX_SIZE);
        void *p = malloc(sz);
        if (!p)
            PM_FAIL("larson: malloc(%zu) returned NULL", sz);
        t->ptr[k] = p;
        t->size[k] = sz;
        t->tag[k] = pm_rand(&t->rng);
        pm_stamp(p, sz, t->tag[k]);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct pm_args args = pm_args(argc, argv);
    int threads = args.threads;
    long scale = args.scale;
    long steps = scale * OPS_PER_SCALE / EPOCHS;

    struct table **tables = calloc((size_t)threads, sizeof *tables);
    struct worker *ws = calloc((size_t)threads, sizeof *ws);
    if (!tables || !ws)
        PM_FAIL("larson: out of memory for tables");

    double t0 = pm_now();
    for (int i = 0; i < threads; i++) {
        struct table *t = malloc(sizeof *t);
        if (!t)
            PM_FAIL("larson: out of memory for a table");
        t->rng = 0x1234u + (uint64_t)i * 7919u;
        for (size_t k = 0; k < SLOTS; k++) {
            size_t sz = pm_rand_range(&t->rng, MIN_SIZE, MAX_SIZE);
            t->ptr[k] = malloc(sz);
            if (!t->ptr[k])
                PM_FAIL("larson: malloc(%zu) returned NULL", sz);
            t->size[k] = sz;
            t->tag[k] = pm_rand(&t->rng);
            pm_stamp(t->ptr[k], sz, t->tag[k]);
        }
        tables[i] = t;
    }
    for (int e = 0; e < EPOCHS; e++) {
        for (int i = 0; i < threads; i++) {
            ws[i].t = tables[(i + e) % threads];
            ws[i].steps = steps;
        }
        pm_run_threads("larson", threads, work, ws, sizeof *ws);
    }
    for (int i = 0; i < threads; i++) {
        struct table *t = tables[i];
        for (size_t k = 0; k < SLOTS; k++) {
            if (!pm_check(t->ptr[k], t->size[k], t->tag[k]))
                PM_FAIL("larson: block %zu was overwritten at the end", k);
            free(t->ptr[k]);
        }
        free(t);
    }
    double secs = pm_now() - t0;
    free(tables);
    free(ws);

    uint64_t ops = (uint64_t)threads * (uint64_t)(2 * SLOTS + 2 * steps * EPOCHS);
    pm_report("larson", threads, ops, secs, NULL);
    return 0;
}
