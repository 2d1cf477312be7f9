/* The allocation profile: when to sample, and the tables of samples.
 *
 * Sampling is by bytes, as in jemalloc and tcmalloc: the distance from
 * one sampled byte to the next is drawn from an exponential law of mean
 * PMALLOC_PROF_SAMPLE, so a block of s bytes is sampled with probability
 * p = 1 - exp(-s / mean) whatever the sizes around it, and stands for
 * s / p bytes and 1 / p blocks: the estimates are unbiased.
 *
 * The tables are open-addressed arrays in one anonymous mapping, under
 * one lock (rank PM_LOCK_RANK_PROF, the highest: it is taken with no
 * other held and nothing is called under it).  The stack is taken before
 * the lock, with a per-thread guard so anything the unwinder allocates is
 * served unsampled. */
#include "config.h"

#include "prof.h"

#include "lock.h"
#include "options.h"
#include "os.h"
#include "prof_stack.h"
#include "state.h"

#define STACKS_CAP (1u << 14)
#define LIVE_CAP (1u << 16)

struct pm_prof_header pm_prof_header = {
    .magic = PM_PROF_MAGIC,
    .version = PM_PROF_VERSION,
    .frames_max = PM_PROF_FRAMES,
    .stack_size = sizeof(struct pm_prof_stack),
    .live_size = sizeof(struct pm_prof_live),
};
bool pm_prof_on;
static pm_lock_t prof_lock = PM_LOCK_INITIALIZER(PM_LOCK_RANK_PROF);

__thread int64_t pm_prof_left __attribute__((tls_model("initial-exec"))) = PM_PROF_UNDRAWN;
static __thread uint64_t rng_state __attribute__((tls_model("initial-exec")));
static __thread bool in_profile __attribute__((tls_model("initial-exec")));

static struct pm_prof_stack *stacks;
/* The sampled blocks: records kept dense at the front of `live` (the
 * readers, snapshot_prof.c and prof_leaks.c, scan the first live_cap of
 * them, where a chunk of 0 is a vacant record), found by address through
 * live_index, an open-addressed table of record numbers + 1 (0: empty).
 * A table of the records themselves, at random places, would fault in a
 * page of 128 of them for nearly every sample until all 512 pages were in;
 * this way the records take pages as the live samples grow, and the index,
 * an eighth of their size, at most 64. */
static struct pm_prof_live *live;
static uint32_t *live_index;
static uint32_t live_vacant; /* a vacant record's number + 1, chained through its size; 0: none */

void pm_prof_start(void)
{
    if (!pm_opt.prof || pm_opt.hardened || pm_global.on_valgrind)
        return;
    size_t bytes = STACKS_CAP * sizeof *stacks + LIVE_CAP * sizeof *live + LIVE_CAP * sizeof *live_index;
    void *map = pm_os_map(bytes, false);
    if (map == NULL)
        return;
    stacks = map;
    live = (struct pm_prof_live *)(stacks + STACKS_CAP);
    live_index = (uint32_t *)(live + LIVE_CAP);
    pm_prof_header.stacks = (uintptr_t)stacks;
    pm_prof_header.live = (uintptr_t)live;
    pm_prof_header.stacks_cap = STACKS_CAP;
    pm_prof_header.live_cap = 0; /* the records in use so far, vacant ones among them */
    pm_prof_header.lock = (uintptr_t)&prof_lock;
    pm_prof_header.period = pm_opt.prof_sample;
}

void pm_prof_enable(void)
{
    if (pm_prof_header.period == 0)
        return;
    in_profile = true;
    pm_prof_stack_init();
    in_profile = false;
    __atomic_store_n(&pm_prof_on, true, __ATOMIC_RELEASE);
}

/* ---- the law of the distances ---- */

static double uniform01(void)
{
    if (rng_state == 0)
        rng_state = (pm_chunk_secret ^ (uint64_t)pm_os_gettid() * 0x9e3779b97f4a7c15u) | 1;
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t r = rng_state * 0x2545f4914f6cdd1dull;
    return ((double)(r >> 11) + 1.0) / 9007199254740992.0; /* (0, 1] */
}

/* Natural logarithm of x in (0, 1], without libm: x = m 2^e read from
 * its bits, with m in [sqrt(1/2), sqrt(2)), and ln m = 2 atanh(z), z =
 * (m - 1) / (m + 1), |z| < 0.172, whose series to z^11 is within 1e-10
 * (far below the sampling noise). */
static double ln01(double x)
{
    union {
        double d;
        uint64_t u;
    } v = {.d = x};
    int e = (int)(v.u >> 52) - 1023; /* x > 0: no sign bit; a draw is never subnormal */
    v.u = (v.u & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
    double m = v.d;
    if (m > 1.4142135623730951) {
        m *= 0.5;
        e++;
    }
    double z = (m - 1.0) / (m + 1.0), z2 = z * z;
    double series = 1.0 + z2 * (1.0 / 3 + z2 * (1.0 / 5 + z2 * (1.0 / 7 + z2 * (1.0 / 9 + z2 * (1.0 / 11)))));
    return 2.0 * z * series + e * 0.6931471805599453;
}

/* 1 - exp(-x) for 0 <= x <= 0.5: the series x - x^2/2! + ... to
 * x^12/12!, nested (within 1e-13).  The reciprocals are constants, so a
 * sample costs no chain of divisions (perf put a third of
 * pm_prof_record's time in them). */
static double one_minus_exp_small(double x)
{
    static const double inv[13] = {0,        0,         1.0 / 2,  1.0 / 3,  1.0 / 4,
                                   1.0 / 5,  1.0 / 6,   1.0 / 7,  1.0 / 8,  1.0 / 9,
                                   1.0 / 10, 1.0 / 11,  1.0 / 12};
    double r = 1.0 - x * inv[12];
    for (int k = 11; k >= 2; k--)
        r = 1.0 - x * r * inv[k];
    return x * r;
}

/* 1 - exp(-x) for x >= 0, accurate for tiny x too (a 16-byte block at
 * the default mean has x near 3e-5). */
static double sample_probability(double x)
{
    if (x > 40.0)
        return 1.0;
    if (x <= 0.5)
        return one_minus_exp_small(x);
    /* exp(-x) = exp(-x / 64) ^ 64 */
    double e = 1.0 - one_minus_exp_small(x / 64.0);
    for (int i = 0; i < 6; i++)
        e *= e;
    return 1.0 - e;
}

static int64_t next_distance(void)
{
    double d = -ln01(uniform01()) * (double)pm_opt.prof_sample;
    if (d < 1.0)
        return 1;
    if (d > 9e18)
        return INT64_MAX;
    return (int64_t)d;
}

bool pm_prof_next(int64_t *left, size_t bytes)
{
    if (!pm_prof_on) {
        /* before start-up enabled sampling, a countdown stays undrawn */
        *left = pm_prof_initial_left();
        return false;
    }
    /* a countdown's first allocation draws its first distance: it started
     * undrawn, not at a draw */
    if (*left <= PM_PROF_UNDRAWN / 2) {
        *left = next_distance() - (int64_t)bytes;
        if (*left > 0)
            return false;
    }
    /* the exponential law forgets: draw afresh from this block's end */
    *left = next_distance();
    return !in_profile;
}

/* ---- the tables ---- */

static uint64_t hash_frames(const uint64_t *frames, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    for (size_t i = 0; i < n; i++) {
        h ^= frames[i];
        h *= 0x100000001b3ull;
        h ^= h >> 29;
    }
    return h == 0 ? 1 : h;
}

static bool same_frames(const struct pm_prof_stack *s, const uint64_t *frames, size_t n)
{
    if (s->nframes != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s->frames[i] != frames[i])
            return false;
    return true;
}

/* The slot of this stack, new or old; -1 when the table is full (lock
 * held). */
static long stack_slot(const uint64_t *frames, size_t n)
{
    uint64_t h = hash_frames(frames, n);
    for (uint32_t probe = 0; probe < STACKS_CAP; probe++) {
        uint32_t i = (uint32_t)(h + probe) & (STACKS_CAP - 1);
        struct pm_prof_stack *s = &stacks[i];
        if (s->hash == h && same_frames(s, frames, n))
            return i;
        if (s->hash == 0) {
            if (pm_prof_header.nstacks >= STACKS_CAP - STACKS_CAP / 8)
                return -1;
            s->hash = h;
            s->nframes = (uint32_t)n;
            for (size_t k = 0; k < n; k++)
                s->frames[k] = frames[k];
            pm_prof_header.nstacks++;
            return i;
        }
    }
    return -1;
}

static uint32_t live_home(uintptr_t chunk) { return (uint32_t)((chunk >> 4) * 0x9e3779b97f4a7c15ull >> 48); }
_Static_assert(LIVE_CAP == 1u << 16, "live_home gives 16 bits");
static inline uint32_t next_slot(uint32_t i) { return (i + 1) & (LIVE_CAP - 1); }

/* A record for a new sample: a vacant one, else the next never used
 * (the caller keeps nlive under LIVE_CAP, so there is one). */
static uint32_t take_record(void)
{
    uint32_t r = live_vacant;
    if (r != 0) {
        live_vacant = (uint32_t)live[r - 1].size;
        return r - 1;
    }
    return pm_prof_header.live_cap++;
}

static void index_insert(uintptr_t chunk, uint32_t record)
{
    uint32_t i = live_home(chunk);
    while (live_index[i] != 0)
        i = next_slot(i);
    live_index[i] = record + 1;
}

/* Removes chunk's sample, if it has one: its record becomes vacant. */
static bool index_remove(uintptr_t chunk)
{
    uint32_t i = live_home(chunk);
    for (uint32_t probe = 0; probe < LIVE_CAP && live_index[i] != 0; probe++, i = next_slot(i)) {
        uint32_t r = live_index[i] - 1;
        if (live[r].chunk != chunk)
            continue;
        /* backward-shift deletion: move later members of the run up
         * where their home allows, so no tombstones pile up */
        uint32_t hole = i;
        for (uint32_t j = next_slot(i); live_index[j] != 0; j = next_slot(j)) {
            uint32_t home = live_home((uintptr_t)live[live_index[j] - 1].chunk);
            if (((j - home) & (LIVE_CAP - 1)) >= ((j - hole) & (LIVE_CAP - 1))) {
                live_index[hole] = live_index[j];
                hole = j;
            }
        }
        live_index[hole] = 0;
        live[r].chunk = 0;
        live[r].size = live_vacant;
        live_vacant = r + 1;
        return true;
    }
    return false;
}

void pm_prof_record(void *mem, size_t bytes)
{
    if (mem == NULL)
        return;
    uint64_t frames[PM_PROF_FRAMES];
    /* The block's index slot is a cache miss in a 256 KiB table: start
     * it now, and the unwinding hides it. */
    __builtin_prefetch(&live_index[live_home((uintptr_t)mem_chunk(mem))], 1);
    in_profile = true;
    size_t n = pm_prof_backtrace(frames, PM_PROF_FRAMES);
    in_profile = false;
    double per_sample = 1.0 / sample_probability((double)bytes / (double)pm_opt.prof_sample);
    uint64_t weight = (uint64_t)((double)bytes * per_sample + 0.5);
    uint64_t count = (uint64_t)(per_sample + 0.5);
    mchunk *c = mem_chunk(mem);
    pm_lock(&prof_lock);
    long si = stack_slot(frames, n);
    bool kept = false;
    if (si >= 0 && pm_prof_header.nlive < LIVE_CAP - LIVE_CAP / 8) {
        struct pm_prof_stack *s = &stacks[si];
        s->samples++;
        s->alloc_bytes += weight;
        s->alloc_count += count;
        uint32_t r = take_record();
        live[r].size = bytes;
        live[r].weight = weight;
        live[r].stack = (uint32_t)si;
        live[r].chunk = (uintptr_t)c;
        index_insert((uintptr_t)c, r);
        pm_prof_header.nlive++;
        kept = true;
    } else {
        pm_prof_header.dropped++;
    }
    if (kept)
        chunk_set_sampled(c);
    pm_unlock(&prof_lock);
}

bool pm_prof_release(mchunk *p)
{
    if (!pm_prof_on)
        return false;
    bool found = false;
    pm_lock(&prof_lock);
    if (index_remove((uintptr_t)p)) {
        found = true;
        pm_prof_header.nlive--;
        chunk_clear_sampled(p);
    }
    pm_unlock(&prof_lock);
    return found;
}

void pm_prof_lock_all(void) { pm_lock(&prof_lock); }
void pm_prof_unlock_all(bool in_child) { pm_lock_after_fork(&prof_lock, in_child); }
