/* The per-thread cache: freed chunks parked per thread and handed out
 * again without a lock.  A miss refills a bin from the arena's exact fits
 * (a size class from the arena's store of the class, then its free
 * space) under one lock; a full bin spills half of itself under one lock
 * (a size class into the store); a thread's exit gives everything back. */
#include "config.h"

#include "tcache.h"

#include "arena.h"
#include "core.h"
#include "os.h"
#include "prof.h"
#include "thread.h"

struct pm_tcache pm_tcache_none = {
    .entries = {[0 ... PM_TCACHE_BINS - 1] = PM_TCACHE_END},
    .class_entries = {[0 ... PM_TCACHE_CLASSES - 1] = PM_TCACHE_END},
};
__thread struct pm_tcache *pm_tc __attribute__((tls_model("initial-exec"))) = &pm_tcache_none;
/* Set once the thread's cache is gone, so frees from later thread-exit
 * code do not build a new one. */
static __thread bool tcache_shut __attribute__((tls_model("initial-exec")));

struct pm_tcache pm_tcache_list = { .next = &pm_tcache_list, .prev = &pm_tcache_list };
pm_lock_t pm_tcache_list_lock = PM_LOCK_INITIALIZER(PM_LOCK_RANK_TCACHE);

void pm_tcache_refresh_limits(void)
{
    for (size_t bytes = 0; bytes <= PM_TCACHE_SMALL_MAX_BYTES; bytes++)
        pm_global.tcache_class[bytes] = (uint8_t)tcache_request_index(bytes);
    for (size_t j = 0; j <= PM_TCACHE_CLASS_STEPS; j++) {
        size_t nb = j * PM_TCACHE_CLASS_STEP + PM_CHUNK_HDR;
        pm_global.tcache_class_by_step[j] = (uint8_t)(nb > PM_TCACHE_MAX_CHUNK ? tcache_class_of(nb) : 0);
        unsigned k = pm_global.tcache_class_by_step[j];
        bool exact = nb > PM_TCACHE_MAX_CHUNK && tcache_class_size(k) == nb;
        pm_global.tcache_class_exact_by_step[j] = (uint8_t)(exact ? k : PM_TCACHE_CLASSES);
    }
    for (unsigned k = 0; k < PM_TCACHE_CLASSES; k++)
        pm_global.tcache_class_bytes[k] = (uint32_t)tcache_class_size(k);
    size_t all = pm_opt.tcache_max_bytes;
    if (all > PM_TCACHE_MAX_BYTES_LIMIT)
        all = PM_TCACHE_MAX_BYTES_LIMIT;
    size_t max = all < PM_TCACHE_SMALL_MAX_BYTES ? all : PM_TCACHE_SMALL_MAX_BYTES;
    /* The debug mode walks the heap on every call, memcheck must see every
     * block come and go, and the hardened mode checks every free: the
     * lock-free fast paths would skip all three, so those run without the
     * cache. */
    bool off = max == 0 || pm_opt.tcache_count == 0 || pm_opt.check_heap || pm_global.on_valgrind ||
               pm_opt.hardened;
    pm_global.tcache_request_limit = off ? 0 : max + 1;
    pm_global.tcache_chunk_limit = off ? 0 : request_to_size(max);
    pm_global.tcache_bins = off ? 0 : tcache_index(request_to_size(max)) + 1;
    pm_global.tcache_count = pm_opt.tcache_count;
    pm_global.tcache_generation++;
    bool classes = !off && all > PM_TCACHE_SMALL_MAX_BYTES && pm_opt.tcache_bytes != 0;
    pm_global.tcache_big_request_limit = classes ? all + 1 : 0;
    pm_global.tcache_byte_budget = pm_opt.tcache_bytes;
    pm_global.tcache_class_span = classes ? tcache_class_size(PM_TCACHE_CLASSES - 1) - PM_TCACHE_MAX_CHUNK : 0;
    /* An arena's stores hold what one thread's cache may: the spills of
     * a cache at its budget find room, and no more waits unmerged.  The
     * caller merged every store first (mallopt), or they are empty
     * (start-up). */
    pm_global.store_bound = classes ? pm_opt.tcache_bytes : 0;
    pm_global.fastbin_limit = fastbin_limit_for(pm_opt.max_fast, pm_global.tcache_chunk_limit);
    /* The caller's cache follows at once; other threads' at their next
     * slow call (only the owner may touch a cache). */
    struct pm_tcache *t = pm_tcache_get();
    if (t != NULL)
        pm_tcache_follow_limit(t);
}

/* What the budget leaves beside the depths of the bins and classes. */
static size_t budget_left(const struct pm_tcache *t)
{
    size_t used = t->bin_depth_bytes + t->class_depth_bytes;
    return pm_global.tcache_byte_budget > used ? pm_global.tcache_byte_budget - used : 0;
}

static void set_class_depth(struct pm_tcache *t, unsigned k, uint32_t depth)
{
    t->class_depth_bytes = t->class_depth_bytes - (size_t)t->class_limit[k] * tcache_class_size(k) +
                           (size_t)depth * tcache_class_size(k);
    t->class_limit[k] = depth;
    t->class_misses[k] = 0;
}

static void set_depth(struct pm_tcache *t, unsigned idx, uint32_t depth)
{
    t->room[idx] += (int32_t)((int64_t)depth - t->bin_limit[idx]);
    t->bin_depth_bytes = t->bin_depth_bytes - (size_t)t->bin_limit[idx] * tcache_bin_size(idx) +
                         (size_t)depth * tcache_bin_size(idx);
    t->bin_limit[idx] = depth;
    t->bin_events[idx] = 0;
}

void pm_tcache_rebase(struct pm_tcache *t)
{
    uint32_t start = (uint32_t)pm_global.tcache_count;
    for (unsigned idx = 0; idx < PM_TCACHE_BINS; idx++)
        set_depth(t, idx, start);
    /* A budget lowered below the depths: the classes start again at no
     * depth, and one longer than its depth gives its chunks back at its
     * next free. */
    if (t->bin_depth_bytes + t->class_depth_bytes > pm_global.tcache_byte_budget)
        for (unsigned k = 0; k < PM_TCACHE_CLASSES; k++)
            set_class_depth(t, k, 0);
    t->limit = start;
    t->generation = pm_global.tcache_generation;
}

/* A bin that missed or spilled twice since its depth last grew doubles
 * it, out of what the budget has left: a program that allocates and
 * frees batches of one size stops reaching its arena after a few
 * batches, and a random mix of sizes reaches it about once in every
 * depth / 2 calls of a size. */
static bool deepen(struct pm_tcache *t, unsigned idx)
{
    t->bin_used[idx] = 1;
    if (++t->bin_events[idx] < 2)
        return false;
    t->bin_events[idx] = 0;
    uint32_t depth = t->bin_limit[idx];
    uint32_t deeper = depth * 2 < PM_TCACHE_BIN_DEPTH_MAX ? depth * 2 : PM_TCACHE_BIN_DEPTH_MAX;
    size_t affordable = budget_left(t) / tcache_bin_size(idx);
    if (deeper > depth + affordable)
        deeper = depth + (uint32_t)affordable;
    if (deeper <= depth)
        return false;
    set_depth(t, idx, deeper);
    return true;
}

bool pm_tcache_bin_full(struct pm_tcache *t, unsigned idx) { return deepen(t, idx); }

struct pm_tcache *pm_tcache_create(void)
{
    if (tcache_shut || pm_global.tcache_chunk_limit == 0)
        return NULL;
    size_t nb = request_to_size(sizeof(struct pm_tcache));
    struct pm_arena *a = pm_arena_for_thread();
    pm_lock(&a->lock);
    struct pm_tcache *t = pm_int_malloc(a, nb);
    pm_unlock(&a->lock);
    if (t == NULL)
        return NULL;
    __builtin_memset(t, 0, sizeof *t);
    for (unsigned idx = 0; idx < PM_TCACHE_BINS; idx++)
        t->entries[idx] = PM_TCACHE_END;
    for (unsigned k = 0; k < PM_TCACHE_CLASSES; k++)
        t->class_entries[k] = PM_TCACHE_END;
    /* Classes start at no depth and deepen as they miss (class_missed). */
    pm_tcache_rebase(t);
    t->prof_left = t->look_set = pm_prof_initial_left();
    t->look_ns = pm_os_now_ns();
    t->tid = pm_os_gettid();
    pm_lock(&pm_tcache_list_lock);
    t->next = pm_tcache_list.next;
    t->prev = &pm_tcache_list;
    pm_tcache_list.next->prev = t;
    pm_tcache_list.next = t;
    pm_unlock(&pm_tcache_list_lock);
    pm_tc = t;
    pm_thread_watch();
    return t;
}

/* A refill stops at half the limit, where a spill stops too: a bin then
 * starts in the middle after either, and a run of frees or of mallocs of
 * one size must be half a limit long before it reaches the arena again.
 * Filled to the limit, the next free of the size would spill at once. */
void pm_tcache_stash(struct pm_arena *a, struct pm_tcache *t, size_t nb)
{
    unsigned idx = tcache_index(nb);
    deepen(t, idx);
    size_t half = (t->bin_limit[idx] + 1) / 2;
    if (nb <= fastbin_limit())
        while (pm_tcache_count(t, idx) < half) {
            struct pm_tcache_entry *e = pm_int_take_fast(a, nb);
            if (e == NULL)
                break;
            pm_tcache_push(t, idx, e);
        }
    while (pm_tcache_count(t, idx) < half) {
        struct pm_tcache_entry *e = pm_int_take_small(a, nb);
        if (e == NULL)
            break;
        pm_tcache_push(t, idx, e);
    }
    /* When the request was cut from a larger free chunk, cut the rest of
     * the half bin from it too: the next misses would do just that, one
     * lock each. */
    while (pm_tcache_count(t, idx) < half) {
        struct pm_tcache_entry *e = pm_int_take_remainder(a, nb);
        if (e == NULL)
            break;
        pm_tcache_push(t, idx, e);
    }
}

/* What other threads freed into the calling thread's own arena (a
 * consumer's spills): chunks of the small bins' sizes go straight to the
 * cache while their bins have room, as the owner's own frees would, and
 * the rest into the arena.  A chunk kept so skips a fast bin's push and
 * the stash's pop, and the owner's next misses find it cached: xmalloc
 * at 2 threads 0.16 -> 0.13 s (median of 9; stopping at half a bin, as a
 * refill does, gained nothing). */
void pm_tcache_drain_remote(struct pm_arena *a)
{
    struct pm_tcache *t = a == pm_thread_arena ? pm_tcache_get() : NULL;
    mchunk *p = pm_take_remote(a);
    while (p != NULL) {
        mchunk *next = chunk_fd(p);
        size_t size = chunk_size(p);
        unsigned idx = tcache_index(size);
        if (t != NULL && size <= pm_global.tcache_chunk_limit && size >= PM_MINSIZE &&
            pm_tcache_has_room(t, idx)) {
            pm_accept_remote(a, p);
            pm_tcache_push(t, idx, chunk_mem(p));
        } else {
            pm_free_remote(a, p);
        }
        p = next;
    }
}

static struct pm_tcache_entry *pop(struct pm_tcache *t, unsigned idx)
{
    return pm_tcache_pop(t, idx, t->entries[idx]);
}

/* ---- the idle return's pace ---- */

/* The coarse clock's step, about: two looks closer than this seem this
 * far apart. */
#define PM_LOOK_CLOCK_NS (4ull * 1000 * 1000)
#define PM_LOOK_MAX_BYTES ((int64_t)1 << 36)
_Static_assert(PM_LOOK_FIRST_BYTES > 1 && PM_LOOK_FIRST_BYTES < PM_LOOK_MAX_BYTES, "the pace has room");

int64_t pm_tcache_pace(struct pm_tcache *t, unsigned long long now, bool due)
{
    /* the countdown ran out (or below): what the hits took off it since
     * it started, at least its start */
    unsigned __int128 served = (uint64_t)(t->look_set - t->prof_left);
    unsigned long long elapsed = now - t->look_ns;
    if (elapsed < PM_LOOK_CLOCK_NS)
        elapsed = PM_LOOK_CLOCK_NS;
    unsigned __int128 want = served * PM_LOOK_EVERY_NS / elapsed;
    int64_t next = want < PM_LOOK_FIRST_BYTES ? PM_LOOK_FIRST_BYTES
                   : want > PM_LOOK_MAX_BYTES ? PM_LOOK_MAX_BYTES
                                              : (int64_t)want;
    if (due)
        next = 1;
    t->look_set = next;
    t->look_ns = now;
    t->batches_since_look = 0;
    return next;
}

/* A cache that keeps giving batches to the arenas makes work for the
 * idle return, and may be about to go quiet, when the pace it set at a
 * busy time would put the next look far off.  So after PM_LOOK_BATCHES
 * since the last look the countdown (without a profile) is cut to
 * PM_LOOK_SOON_BYTES of hits, and the pace measured afresh from then.
 * That is as soon as a new cache's first look: the hits that come after
 * a burst of frees may be a pair every 30 ms, and 64 KiB of them put the
 * first look 5 s off (test_idle_return failed so on a loaded machine). */
#define PM_LOOK_BATCHES 64u
#define PM_LOOK_SOON_BYTES PM_LOOK_FIRST_BYTES
static void gave_back(struct pm_tcache *t)
{
    if (++t->batches_since_look < PM_LOOK_BATCHES || t->prof_left <= PM_LOOK_SOON_BYTES ||
        pm_prof_header.period != 0)
        return;
    t->batches_since_look = 0;
    t->look_ns = pm_os_now_ns();
    t->look_set = t->prof_left = PM_LOOK_SOON_BYTES;
}

/* ---- spills ---- */

void pm_tcache_spill(struct pm_tcache *t, unsigned idx, void *extra)
{
    struct pm_free_batch batch = PM_FREE_BATCH_INIT;
    size_t count = pm_tcache_count(t, idx);
    size_t keep = (count < t->bin_limit[idx] ? count : t->bin_limit[idx]) / 2;
    while (pm_tcache_count(t, idx) > keep)
        pm_free_batched(mem_chunk(pop(t, idx)), &batch);
    if (extra != NULL)
        pm_free_batched(mem_chunk(extra), &batch);
    pm_free_batch_end(&batch);
    gave_back(t);
}

/* Whether e is on a cache list of `count` chunks from `head`: the scan a
 * suspected double free takes, checking the list as it goes. */
static bool list_holds(struct pm_tcache_entry *head, size_t count, struct pm_tcache_entry *e)
{
    size_t seen = 0;
    for (struct pm_tcache_entry *p = head; tcache_more(p); p = tcache_link(&p->next, p->next)) {
        if (PM_UNLIKELY(++seen > count))
            pm_corruption("free(): too many chunks detected in tcache", p);
        if (PM_UNLIKELY(!ptr_aligned(p)))
            pm_corruption("free(): unaligned chunk detected in tcache 2", p);
        if (p == e)
            return true;
    }
    return false;
}

bool pm_tcache_holds(struct pm_tcache *t, unsigned idx, struct pm_tcache_entry *e)
{
    return list_holds(t->entries[idx], pm_tcache_count(t, idx), e);
}

void pm_tcache_double_free(void *mem)
{
    pm_corruption("free(): double free detected in tcache 2", mem);
}

static void unlist(struct pm_tcache *t)
{
    t->prev->next = t->next;
    t->next->prev = t->prev;
}

/* Gives every cached chunk and the cache itself back to the arenas. */
static void flush(struct pm_tcache *t)
{
    struct pm_free_batch batch = PM_FREE_BATCH_INIT;
    for (unsigned idx = 0; idx < PM_TCACHE_BINS; idx++)
        while (tcache_more(t->entries[idx]))
            pm_free_batched(mem_chunk(pop(t, idx)), &batch);
    /* By the lists, not the counts: in a fork child, a cache whose thread
     * was between updating a list and its count when the process forked
     * has the two disagree. */
    for (unsigned k = 0; k < PM_TCACHE_CLASSES; k++)
        while (tcache_more(t->class_entries[k]))
            pm_free_batched(mem_chunk(pm_tcache_class_pop(t, k)), &batch);
    pm_free_batched(mem_chunk(t), &batch);
    pm_free_batch_end(&batch);
}

void pm_tcache_thread_exit(void)
{
    struct pm_tcache *t = pm_tcache_get();
    tcache_shut = true;
    if (t == NULL)
        return;
    pm_tc = &pm_tcache_none;
    pm_lock(&pm_tcache_list_lock);
    unlist(t);
    pm_unlock(&pm_tcache_list_lock);
    flush(t);
}

size_t pm_tcache_bytes(void)
{
    size_t bytes = 0;
    pm_lock(&pm_tcache_list_lock);
    for (struct pm_tcache *t = pm_tcache_list.next; t != &pm_tcache_list; t = t->next) {
        for (unsigned idx = 0; idx < PM_TCACHE_BINS; idx++)
            bytes += pm_tcache_count(t, idx) * tcache_bin_size(idx);
        for (unsigned k = 0; k < PM_TCACHE_CLASSES; k++)
            bytes += (size_t)__atomic_load_n(&t->class_count[k], __ATOMIC_RELAXED) * tcache_class_size(k);
    }
    pm_unlock(&pm_tcache_list_lock);
    return bytes;
}

size_t pm_tcache_own_class_resident(size_t *held)
{
    size_t resident = 0;
    *held = 0;
    struct pm_tcache *t = pm_tcache_get();
    if (t == NULL)
        return 0;
    for (unsigned k = 0; k < PM_TCACHE_CLASSES; k++) {
        uint32_t seen = 0;
        size_t size = tcache_class_size(k);
        for (struct pm_tcache_entry *e = t->class_entries[k]; tcache_more(e) && seen++ < t->class_count[k];
             e = tcache_link(&e->next, e->next)) {
            *held += size;
            resident += pm_os_resident_bytes(mem_chunk(e), size);
        }
    }
    return resident;
}

void pm_tcache_lock_all(void) { pm_lock(&pm_tcache_list_lock); }

void pm_tcache_unlock_all(bool in_fork_child) { pm_lock_after_fork(&pm_tcache_list_lock, in_fork_child); }

/* In a fork child only the forking thread survives; the caches of the
 * others would hold their chunks for ever. */
void pm_tcache_adopt_orphans(void)
{
    struct pm_tcache *t = pm_tcache_list.next;
    while (t != &pm_tcache_list) {
        struct pm_tcache *next = t->next;
        if (t != pm_tc) {
            unlist(t);
            flush(t);
        }
        t = next;
    }
}

/* ---- the size classes ---- */

/* Deepest a class may grow: its share of the byte budget, and what its
 * counter holds. */
static uint32_t class_depth_cap(unsigned k)
{
    size_t cap = pm_global.tcache_byte_budget / 2 / tcache_class_size(k);
    if (cap > PM_MAX_TCACHE_COUNT)
        cap = PM_MAX_TCACHE_COUNT;
    return cap == 0 ? 1 : (uint32_t)cap;
}

/* A class's first miss gives it a depth of one; one that ran dry twice
 * since its depth last changed doubles it, out of what the budget has
 * left: a program allocating batches of one size stops missing after a
 * few batches, and a class used one block at a time stays one deep. */
void pm_tcache_class_missed(struct pm_tcache *t, unsigned k)
{
    t->class_used[k] = 1;
    uint32_t depth = t->class_limit[k];
    if (depth != 0 && ++t->class_misses[k] < 2)
        return;
    t->class_misses[k] = 0;
    uint32_t cap = class_depth_cap(k);
    uint32_t deeper = depth == 0 ? 1 : depth * 2 < cap ? depth * 2 : cap;
    size_t affordable = budget_left(t) / tcache_class_size(k);
    if (deeper > depth + affordable)
        deeper = depth + (uint32_t)affordable;
    if (deeper > depth)
        set_class_depth(t, k, deeper);
}

void pm_tcache_class_stash(struct pm_arena *a, struct pm_tcache *t, unsigned k)
{
    size_t nb = tcache_class_size(k);
    uint32_t want = t->class_limit[k] / 2;
    /* What the class's store holds first, as it is; then only from space
     * the arena already has: a refill must never make the heap grow for
     * blocks nobody asked for yet. */
    while (t->class_count[k] < want) {
        void *mem = pm_int_take_stored(a, nb);
        if (mem == NULL)
            break;
        pm_tcache_class_push(t, k, mem);
    }
    while (t->class_count[k] < want && top_size(a) >= nb + PM_MINSIZE) {
        void *mem = pm_int_malloc(a, nb);
        if (mem == NULL)
            break;
        /* A free chunk a little larger than the class is handed out
         * whole (what is left would be too small to cut); it is not of
         * the class, and goes back. */
        if (chunk_size(mem_chunk(mem)) != nb) {
            pm_int_free(a, mem_chunk(mem));
            break;
        }
        pm_tcache_class_push(t, k, mem);
    }
}

bool pm_tcache_class_has(struct pm_tcache *t, unsigned k, struct pm_tcache_entry *e)
{
    return list_holds(t->class_entries[k], t->class_count[k], e);
}

/* Gives back chunks of class k until `keep` are left, and `extra`. */
static void class_spill(struct pm_tcache *t, unsigned k, uint32_t keep, void *extra)
{
    struct pm_free_batch batch = PM_FREE_BATCH_INIT;
    while (t->class_count[k] > keep)
        pm_free_batched(mem_chunk(pm_tcache_class_pop(t, k)), &batch);
    if (extra != NULL)
        pm_free_batched(mem_chunk(extra), &batch);
    pm_free_batch_end(&batch);
    gave_back(t);
}

void pm_tcache_class_free(struct pm_tcache *t, unsigned k, void *mem)
{
    if (pm_tcache_class_has_room(t, k)) {
        pm_tcache_class_push(t, k, mem);
        return;
    }
    t->class_used[k] = 1;
    uint32_t count = t->class_count[k];
    class_spill(t, k, (count < t->class_limit[k] ? count : t->class_limit[k]) / 2, mem);
}

/* Lowers bin idx to `depth`, giving back what it holds beyond it into
 * the batch. */
static void make_shallower(struct pm_tcache *t, unsigned idx, uint32_t depth, struct pm_free_batch *batch)
{
    set_depth(t, idx, depth);
    while (t->room[idx] < 0 && tcache_more(t->entries[idx]))
        pm_free_batched(mem_chunk(pop(t, idx)), batch);
}

/* Small bins that neither missed nor spilled since the last check halve
 * their depth, down to the starting one. */
static void idle_bins(struct pm_tcache *t)
{
    struct pm_free_batch batch = PM_FREE_BATCH_INIT;
    for (unsigned idx = 0; idx < PM_TCACHE_BINS; idx++) {
        if (t->bin_used[idx]) {
            t->bin_used[idx] = 0;
            continue;
        }
        uint32_t depth = t->bin_limit[idx];
        if (depth > t->limit)
            make_shallower(t, idx, depth / 2 > t->limit ? depth / 2 : t->limit, &batch);
    }
    pm_free_batch_end(&batch);
    gave_back(t);
}

void pm_tcache_idle_check(struct pm_tcache *t)
{
    t->slow_calls = 0;
    idle_bins(t);
    for (unsigned k = 0; k < PM_TCACHE_CLASSES; k++) {
        if (t->class_used[k] || t->class_limit[k] == 0) {
            t->class_used[k] = 0;
            continue;
        }
        /* down to no depth at all: a class idle this long holds nothing
         * of the budget */
        set_class_depth(t, k, t->class_limit[k] / 2);
        if (t->class_count[k] > t->class_limit[k])
            class_spill(t, k, t->class_limit[k], NULL);
    }
}

void pm_tcache_release_classes(struct pm_tcache *t)
{
    for (unsigned k = 0; k < PM_TCACHE_CLASSES; k++) {
        if (t->class_count[k] > 0)
            class_spill(t, k, 0, NULL);
        set_class_depth(t, k, 0);
    }
    struct pm_free_batch batch = PM_FREE_BATCH_INIT;
    for (unsigned idx = 0; idx < PM_TCACHE_BINS; idx++)
        if (t->bin_limit[idx] > t->limit)
            make_shallower(t, idx, t->limit, &batch);
    pm_free_batch_end(&batch);
    gave_back(t);
}
