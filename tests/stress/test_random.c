/* A seeded, reproducible random workout of the whole malloc family.
 *
 *   test_random [SEED [OPS]]     (or PMALLOC_TEST_SEED / PMALLOC_TEST_OPS)
 *
 * Phases change the working-set size and the size distribution (tiny,
 * small, medium, large near the mmap threshold, huge mmapped, mixed).
 * Every live block carries a pattern derived from (slot, generation) that
 * is verified before the block is freed or reallocated; the heap walker
 * runs every 10,000 operations.  A failure prints the seed and the step,
 * so the run can be repeated exactly. */
#include "../helpers.h"

#include <inttypes.h>
#include <time.h>

#define NSLOTS 4096
#define EDGE 64          /* bytes checked at each end of a block */

struct slot {
    unsigned char *p;
    size_t size;
    uint64_t gen;
};

static struct slot slots[NSLOTS];
static uint64_t rng_state;
static uint64_t step;
static uint64_t seed;
static unsigned long counts[16];

enum { OP_MALLOC, OP_CALLOC, OP_MEMALIGN, OP_POSIX_MEMALIGN, OP_ALIGNED_ALLOC,
       OP_REALLOC_GROW, OP_REALLOC_SHRINK, OP_FREE, OP_USABLE, OP_TRIM, OP_MALLOPT,
       OP_REALLOC_NULL, OP_NOPS };
static const char *const op_names[OP_NOPS] = {
    "malloc", "calloc", "memalign", "posix_memalign", "aligned_alloc", "realloc+",
    "realloc-", "free", "usable_size", "malloc_trim", "mallopt", "realloc(NULL)"};

static inline uint64_t rnd(void)
{
    /* xorshift64* */
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static inline size_t rnd_below(size_t n) { return (size_t)(rnd() % n); }
static inline size_t rnd_range(size_t lo, size_t hi) { return lo + rnd_below(hi - lo + 1); }

static void fail(const char *what, size_t slot)
{
    fprintf(stderr, "test_random: %s (slot %zu, size %zu, gen %" PRIu64 ") at step %" PRIu64
            ", seed %" PRIu64 "\n", what, slot, slots[slot].size, slots[slot].gen, step, seed);
    harness_failures++;
    if (harness_failures > 20) {
        fprintf(stderr, "test_random: too many failures, stopping\n");
        exit(1);
    }
}

/* The pattern byte at offset i of a block of slot s, generation g. */
static inline unsigned char pbyte(uint64_t key, size_t i)
{
    uint64_t x = (key + i) * 0x9E3779B97F4A7C15ull;
    return (unsigned char)(x >> 56);
}

static inline uint64_t key_of(size_t s, uint64_t g) { return ((uint64_t)s << 40) ^ (g * 0x100000001B3ull); }

/* The offsets that carry the pattern: both ends and 8 words between. */
static void fill(size_t s)
{
    struct slot *sl = &slots[s];
    uint64_t k = key_of(s, sl->gen);
    size_t n = sl->size;
    if (n <= 2 * EDGE) {
        for (size_t i = 0; i < n; i++)
            sl->p[i] = pbyte(k, i);
        return;
    }
    for (size_t i = 0; i < EDGE; i++)
        sl->p[i] = pbyte(k, i);
    for (size_t i = n - EDGE; i < n; i++)
        sl->p[i] = pbyte(k, i);
    for (size_t j = 1; j <= 8; j++) {
        size_t i = n / 9 * j;
        sl->p[i] = pbyte(k, i);
    }
}

/* Verifies the pattern of slot s at every marked offset below `limit`. */
static bool verify(size_t s, size_t limit)
{
    struct slot *sl = &slots[s];
    uint64_t k = key_of(s, sl->gen);
    size_t n = sl->size;
    if (limit > n)
        limit = n;
    if (n <= 2 * EDGE) {
        for (size_t i = 0; i < limit; i++)
            if (sl->p[i] != pbyte(k, i))
                return false;
        return true;
    }
    for (size_t i = 0; i < EDGE && i < limit; i++)
        if (sl->p[i] != pbyte(k, i))
            return false;
    for (size_t i = n - EDGE; i < limit; i++)
        if (sl->p[i] != pbyte(k, i))
            return false;
    for (size_t j = 1; j <= 8; j++) {
        size_t i = n / 9 * j;
        if (i < limit && sl->p[i] != pbyte(k, i))
            return false;
    }
    return true;
}

/* calloc: the marked offsets (and for small blocks, all) read zero. */
static bool zero_at_marks(const unsigned char *p, size_t n)
{
    if (n <= 2 * EDGE)
        return all_bytes(p, n, 0);
    if (!all_bytes(p, EDGE, 0) || !all_bytes(p + n - EDGE, EDGE, 0))
        return false;
    for (size_t j = 1; j <= 8; j++)
        if (p[n / 9 * j] != 0)
            return false;
    return true;
}

struct phase {
    const char *name;
    size_t active;          /* slots in use by this phase */
    size_t lo, hi;          /* size range */
    unsigned huge_pct;      /* % of allocations from the huge range instead */
};

static const struct phase phases[] = {
    {"tiny", 4096, 0, 64, 0},
    {"small", 2048, 1, 1032, 0},
    {"medium", 512, 1024, 65536, 0},
    {"threshold", 96, 100 * 1024, 160 * 1024, 0},
    {"huge", 24, 256 * 1024, 4 << 20, 100},
    {"mixed", 4096, 0, 4096, 1},
    {"few", 16, 0, 300000, 5},
};
#define NPHASES (sizeof phases / sizeof phases[0])

static size_t pick_size(const struct phase *ph)
{
    if (ph->huge_pct && rnd_below(100) < ph->huge_pct)
        return rnd_range(256 * 1024, 4 << 20);
    /* skew towards the small end of the range: half the time a quarter */
    size_t hi = ph->hi;
    if (rnd() & 1)
        hi = ph->lo + (ph->hi - ph->lo) / 4;
    return rnd_range(ph->lo, hi);
}

static void set_block(size_t s, void *p, size_t n)
{
    slots[s].p = p;
    slots[s].size = n;
    slots[s].gen++;
    fill(s);
}

static void do_alloc(size_t s, const struct phase *ph)
{
    size_t n = pick_size(ph);
    unsigned r = (unsigned)rnd_below(100);
    void *p = NULL;
    if (r < 55) {
        p = malloc(n);
        counts[OP_MALLOC]++;
    } else if (r < 70) {
        size_t m = 1 + rnd_below(8);
        n = (n + m - 1) / m * m;
        p = calloc(n / m, m);
        counts[OP_CALLOC]++;
        if (p && !zero_at_marks(p, n))
            fail("calloc memory not zero", s);
    } else if (r < 77) {
        size_t al = (size_t)1 << rnd_range(3, 16);
        p = memalign(al, n);
        counts[OP_MEMALIGN]++;
        if (p && ((uintptr_t)p & (al - 1)))
            fail("memalign misaligned", s);
    } else if (r < 84) {
        size_t al = (size_t)1 << rnd_range(3, 16);
        if (posix_memalign(&p, al, n) != 0)
            p = NULL;
        counts[OP_POSIX_MEMALIGN]++;
        if (p && ((uintptr_t)p & (al - 1)))
            fail("posix_memalign misaligned", s);
    } else if (r < 90) {
        size_t al = (size_t)1 << rnd_range(4, 13);
        p = aligned_alloc(al, n);
        counts[OP_ALIGNED_ALLOC]++;
        if (p && ((uintptr_t)p & (al - 1)))
            fail("aligned_alloc misaligned", s);
    } else {
        p = realloc(NULL, n);
        counts[OP_REALLOC_NULL]++;
    }
    if (p == NULL) {
        fail("allocation returned NULL", s);
        return;
    }
    if (!ptr_aligned(p))
        fail("block not 16-aligned", s);
    if (malloc_usable_size(p) < n)
        fail("usable size below the request", s);
    set_block(s, p, n);
}

static void do_realloc(size_t s, const struct phase *ph, bool grow)
{
    struct slot *sl = &slots[s];
    size_t n;
    if (grow) {
        n = sl->size + 1 + rnd_below(sl->size + 64);
        if (n > (8u << 20))
            n = pick_size(ph);
    } else {
        n = sl->size ? rnd_below(sl->size) + 1 : 1;
    }
    counts[grow ? OP_REALLOC_GROW : OP_REALLOC_SHRINK]++;
    unsigned char *q = realloc(sl->p, n);
    if (q == NULL) {
        fail("realloc returned NULL", s);
        return;
    }
    sl->p = q;
    size_t keep = sl->size < n ? sl->size : n;
    if (!verify(s, keep))
        fail("realloc lost the contents", s);
    if (malloc_usable_size(q) < n)
        fail("usable size below the realloc request", s);
    sl->size = n;
    sl->gen++;
    fill(s);
}

static void do_free(size_t s)
{
    if (!verify(s, SIZE_MAX))
        fail("block changed while allocated", s);
    free(slots[s].p);
    slots[s].p = NULL;
    counts[OP_FREE]++;
}

static void do_tuning(void)
{
    unsigned r = (unsigned)rnd_below(6);
    counts[OP_MALLOPT]++;
    int ok = 1;
    switch (r) {
    case 0: ok = mallopt(M_MMAP_THRESHOLD, (int)rnd_range(64 * 1024, 1 << 20)); break;
    case 1: ok = mallopt(M_TRIM_THRESHOLD, (int)rnd_range(64 * 1024, 4 << 20)); break;
    case 2: ok = mallopt(M_TOP_PAD, (int)rnd_range(0, 1 << 20)); break;
    case 3: ok = mallopt(M_MXFAST, (int)rnd_range(0, 160)); break;
    case 4: ok = mallopt(M_MMAP_MAX, (int)rnd_range(0, 64)); break;
    default: ok = mallopt(M_MMAP_MAX, 65536); break;
    }
    if (ok != 1) {
        fprintf(stderr, "test_random: mallopt case %u rejected a valid value at step %" PRIu64
                ", seed %" PRIu64 "\n", r, step, seed);
        harness_failures++;
    }
}

static uint64_t env_or(const char *name, const char *arg, uint64_t dflt)
{
    const char *v = arg ? arg : getenv(name);
    return v && *v ? strtoull(v, NULL, 0) : dflt;
}

int main(int argc, char **argv)
{
    seed = env_or("PMALLOC_TEST_SEED", argc > 1 ? argv[1] : NULL, 20261117);
    uint64_t ops = env_or("PMALLOC_TEST_OPS", argc > 2 ? argv[2] : NULL, 10000000);
    rng_state = seed * 2 + 1;
    fprintf(stderr, "test_random: seed %" PRIu64 ", %" PRIu64 " operations\n", seed, ops);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    uint64_t phase_len = ops / 20 + 1;
    size_t pi = 0;
    const struct phase *ph = &phases[0];
    size_t checks = 0;
    for (step = 0; step < ops; step++) {
        if (step % phase_len == 0) {
            /* every phase in turn, each one several times */
            pi = (size_t)(step / phase_len) % NPHASES;
            ph = &phases[pi];
            if (getenv("PMALLOC_TEST_VERBOSE")) {
                clock_gettime(CLOCK_MONOTONIC, &t1);
                fprintf(stderr, "  %6.2f s: step %" PRIu64 " phase %s\n",
                        (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
                        step, ph->name);
            }
            /* a smaller working set: free the slots beyond it */
            for (size_t s = ph->active; s < NSLOTS; s++)
                if (slots[s].p)
                    do_free(s);
        }
        size_t s = rnd_below(ph->active);
        if (slots[s].p == NULL) {
            do_alloc(s, ph);
        } else {
            unsigned r = (unsigned)rnd_below(100);
            if (r < 45)
                do_free(s);
            else if (r < 60)
                do_realloc(s, ph, true);
            else if (r < 75)
                do_realloc(s, ph, false);
            else if (r < 85) {
                counts[OP_USABLE]++;
                if (malloc_usable_size(slots[s].p) < slots[s].size)
                    fail("usable size shrank", s);
            } else {
                if (!verify(s, SIZE_MAX))
                    fail("block changed while allocated", s);
            }
        }
        if (rnd_below(250000) == 0) {
            counts[OP_TRIM]++;
            malloc_trim(rnd_below(4) ? 0 : rnd_below(1 << 20));
        }
        if (rnd_below(300000) == 0)
            do_tuning();
        if (step % 10000 == 9999) {
            checks++;
            size_t problems = pmalloc_check();
            if (problems) {
                fprintf(stderr, "test_random: heap walker found %zu problem(s) at step %" PRIu64
                        ", seed %" PRIu64 ", phase %s\n", problems, step, seed, ph->name);
                harness_failures++;
                if (harness_failures > 20)
                    return 1;
            }
        }
    }
    for (size_t s = 0; s < NSLOTS; s++)
        if (slots[s].p)
            do_free(s);
    CHECK_HEAP();
    malloc_trim(0);
    CHECK_HEAP();

    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr, "test_random: %.1f s, %zu heap walks;", secs, checks);
    for (int i = 0; i < OP_NOPS; i++)
        fprintf(stderr, " %s %lu", op_names[i], counts[i]);
    fprintf(stderr, "\n");
    /* every kind of operation really ran */
    for (int i = 0; i < OP_NOPS; i++)
        if (ops >= 1000000 && counts[i] == 0) {
            fprintf(stderr, "test_random: no %s at all\n", op_names[i]);
            harness_failures++;
        }
    harness_checks += (int)(ops / 1000);
    return test_finish("test_random");
}
