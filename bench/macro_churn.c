/* Long-running churn whose size distribution changes in phases: small
 * blocks, then medium, then blocks around the mmap threshold, then a mix,
 * repeated SCALE times.  Blocks of one phase linger into the next, as
 * long-lived objects do in real programs, so an allocator that cannot
 * reuse or return the holes they leave shows it as peak RSS well above
 * the peak of live bytes.  The program prints both; the driver reports
 * their ratio (fragmentation) and the time.
 *
 * usage: macro_churn THREADS SCALE
 * Each thread churns its own table; peak_live is the sum of the threads'
 * peaks (exact for one thread, an upper bound for more).
 * Blocks are written on every page and checked before they are freed. */
#include "bench_common.h"

#include <pthread.h>

#define SLOTS (1u << 17)         /* block table entries in total */
#define STEPS_PER_PHASE (3u * SLOTS)

struct phase {
    const char *name;
    size_t lo, hi;         /* request sizes, uniform */
    size_t target;         /* live bytes this phase keeps (all threads) */
};

static const struct phase phases[] = {
    { "small",  16,        256,        24u << 20 },
    { "medium", 1024,      16384,      48u << 20 },
    { "large",  32 * 1024, 512 * 1024, 64u << 20 },
    { "mixed",  16,        4096,       32u << 20 },
};
#define NPHASES (sizeof phases / sizeof phases[0])

struct slot {
    void *p;
    uint32_t size;
    uint32_t tag;
};

struct worker {
    int id, threads;
    long rounds;
    size_t peak_live;
    uint64_t ops;
};

/* Writes the tag into the first and last words and one word per page, so
 * every page of the block is resident, as it would be in a program that
 * uses its memory. */
static void touch(unsigned char *p, size_t size, uint32_t tag)
{
    uint64_t t = tag;
    pm_stamp(p, size, t);
    for (size_t off = 4096; off + 16 <= size; off += 4096) {
        uint64_t w = t ^ off;
        memcpy(p + off, &w, 8);
    }
}

static int intact(const unsigned char *p, size_t size, uint32_t tag)
{
    uint64_t t = tag;
    if (!pm_check(p, size, t))
        return 0;
    for (size_t off = 4096; off + 16 <= size; off += 4096) {
        uint64_t w;
        memcpy(&w, p + off, 8);
        if (w != (t ^ off))
            return 0;
    }
    return 1;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    size_t nslots = SLOTS / (size_t)w->threads;
    struct slot *tab = calloc(nslots, sizeof *tab);
    if (!tab)
        PM_FAIL("churn: out of memory for the table");
    uint64_t rng = 0x5eedu + (uint64_t)w->id * 65537u;
    size_t live = 0, peak = 0;
    uint64_t ops = 0;
    uint32_t seq = 1;
    size_t steps = STEPS_PER_PHASE / (size_t)w->threads;

    for (long r = 0; r < w->rounds; r++) {
        for (size_t ph = 0; ph < NPHASES; ph++) {
            const struct phase *f = &phases[ph];
            size_t target = f->target / (size_t)w->threads;
            for (size_t s = 0; s < steps; s++) {
                size_t k = (size_t)(pm_rand(&rng) % nslots);
                struct slot *sl = &tab[k];
                if (sl->p) {
                    if (!intact(sl->p, sl->size, sl->tag))
                        PM_FAIL("churn: block of %u bytes was overwritten", sl->size);
                    free(sl->p);
                    live -= sl->size;
                    sl->p = NULL;
                    ops++;
                }
                size_t sz = pm_rand_range(&rng, f->lo, f->hi);
                if (live + sz > target)
                    continue;
                void *p = malloc(sz);
                if (!p)
                    PM_FAIL("churn: malloc(%zu) returned NULL", sz);
                ops++;
                sl->p = p;
                sl->size = (uint32_t)sz;
                sl->tag = seq++;
                touch(p, sz, sl->tag);
                live += sz;
                if (live > peak)
                    peak = live;
            }
        }
    }
    for (size_t k = 0; k < nslots; k++) {
        if (!tab[k].p)
            continue;
        if (!intact(tab[k].p, tab[k].size, tab[k].tag))
            PM_FAIL("churn: block of %u bytes was overwritten at the end", tab[k].size);
        free(tab[k].p);
        ops++;
    }
    free(tab);
    w->peak_live = peak;
    w->ops = ops;
    return NULL;
}

int main(int argc, char **argv)
{
    struct pm_args args = pm_args(argc, argv);
    int threads = args.threads;
    struct worker *ws = pm_worker_records("churn", threads, sizeof *ws);
    for (int i = 0; i < threads; i++) {
        ws[i].id = i;
        ws[i].threads = threads;
        ws[i].rounds = args.scale;
    }
    double secs = pm_run_threads("churn", threads, work, ws, sizeof *ws);
    size_t peak = 0;
    uint64_t ops = 0;
    for (int i = 0; i < threads; i++) {
        peak += ws[i].peak_live;
        ops += ws[i].ops;
    }
    free(ws);
    char extra[96];
    snprintf(extra, sizeof extra, " peak_live_kb=%zu", peak / 1024);
    pm_report("churn", threads, ops, secs, extra);
    return 0;
}
