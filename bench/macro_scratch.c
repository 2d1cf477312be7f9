/* False-sharing test modelled on Hoard's cache-scratch: the main thread
 * allocates one small block per worker and hands them out; each worker
 * frees the block it was given, then repeatedly allocates a small block,
 * writes it many times and frees it.  An allocator that gives threads
 * blocks in the same cache line (for example by reusing the freed block
 * the main thread placed next to another worker's) makes the writes
 * bounce the line between cores and the run slow.
 *
 * usage: macro_scratch THREADS SCALE
 * Each worker checks after every write burst that its block still holds
 * exactly what it wrote, so two threads sharing a block fail the run. */
#include "bench_common.h"

#include <pthread.h>

#define OBJ_SIZE 8
#define WRITES 500            /* write passes over a block per allocation */
#define ITERS_PER_SCALE 2000  /* allocations per thread per scale unit */

struct worker {
    void *given;
    long iters;
    int id;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    free(w->given);
    for (long i = 0; i < w->iters; i++) {
        volatile unsigned char *p = malloc(OBJ_SIZE);
        if (!p)
            PM_FAIL("scratch: malloc(%d) returned NULL", OBJ_SIZE);
        for (int r = 0; r < WRITES; r++)
            for (int j = 0; j < OBJ_SIZE; j++)
                p[j] = (unsigned char)(w->id * 31 + r + j);
        for (int j = 0; j < OBJ_SIZE; j++)
            if (p[j] != (unsigned char)(w->id * 31 + (WRITES - 1) + j))
                PM_FAIL("scratch: thread %d's block was written by another thread", w->id);
        free((void *)p);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct pm_args args = pm_args(argc, argv);
    int threads = args.threads;
    long scale = args.scale;
    struct worker *ws = pm_worker_records("scratch", threads, sizeof *ws);
    double t0 = pm_now();
    for (int i = 0; i < threads; i++) {
        ws[i].given = malloc(OBJ_SIZE);
        if (!ws[i].given)
            PM_FAIL("scratch: malloc(%d) returned NULL", OBJ_SIZE);
        memset(ws[i].given, 0, OBJ_SIZE);
        ws[i].iters = scale * ITERS_PER_SCALE;
        ws[i].id = i;
    }
    (void)pm_run_threads("scratch", threads, work, ws, sizeof *ws);
    double secs = pm_now() - t0;
    free(ws);
    /* ops = allocations (each with its write burst) across all threads */
    pm_report("scratch", threads, (uint64_t)threads * (uint64_t)(scale * ITERS_PER_SCALE), secs, NULL);
    return 0;
}
