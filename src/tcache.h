/* The per-thread cache: freed chunks kept per thread, handed out again
 * without any lock.  Chunks up to 1040 bytes go to small bins, one per 16
 * bytes, each with a depth that starts at PMALLOC_TCACHE_COUNT and adapts
 * to how the bin is used; larger ones, up to the
 * cache's largest request, to size classes eight per doubling (1152,
 * 1280, ..., 2048, 2304, ..., each plus a header), each with a depth
 * that adapts to how
 * the class is used, all of them within a byte budget per thread.  A
 * request in a class is given a chunk of the class's full size, so a
 * cached chunk serves every later request of its class exactly; the
 * waste is under an eighth of the block (malloc_usable_size says what it
 * really holds). */
#ifndef PMALLOC_TCACHE_H
#define PMALLOC_TCACHE_H

#include <stdint.h>
#include <sys/types.h>
#include "bins.h"
#include "chunk.h"
#include "corrupt.h"
#include "options.h"
#include "state.h"

#define PM_TCACHE_BINS 64
/* Bin i holds chunks of size 32 + 16 i: 32..1040 (requests up to 1032). */
#define PM_TCACHE_MAX_CHUNK ((size_t)PM_MINSIZE + (PM_TCACHE_BINS - 1) * PM_ALIGNMENT)
/* Chunks a cache gives back wait in the arena's fast bins (fastbin_limit
 * in state.h), so there must be one for every size a cache holds. */
_Static_assert((PM_TCACHE_MAX_CHUNK >> 4) - 2 < PM_NFASTBINS, "a fast bin for every thread-cache size");
/* A request of the largest cached size maps to the last bin. */
_Static_assert(((PM_TCACHE_SMALL_MAX_BYTES - 9) >> 4) == PM_TCACHE_BINS - 1, "the request table fits the bins");

/* Size classes above the small bins: class 8g + s (s = 0..7) holds
 * chunks of (9 + s) << (7 + g) bytes plus a header, from 1168 up to 512
 * KiB + 16: eight per doubling keep the rounding under 1/8 of a block,
 * and the header makes room for requests of exactly a power of two (4096
 * bytes fit a 4112-byte chunk), the most common sizes. */
static inline size_t tcache_class_grid(unsigned k) { return (size_t)(9 + (k & 7)) << (7 + (k >> 3)); }
static inline size_t tcache_class_size(unsigned k) { return tcache_class_grid(k) + PM_CHUNK_HDR; }
_Static_assert(((size_t)16 << (7 + (PM_TCACHE_CLASSES - 1) / 8)) == PM_TCACHE_CLASS_STEPS * PM_TCACHE_CLASS_STEP,
               "the class table covers the largest class");
/* The class of the smallest size that holds a chunk of nb bytes
 * (PM_TCACHE_MAX_CHUNK < nb <= the largest class). */
static inline unsigned tcache_class_of(size_t nb)
{
    size_t m = nb - PM_CHUNK_HDR - 1;
    unsigned g = (unsigned)(63 - __builtin_clzl(m)) - 10;
    return 8 * g + (unsigned)((m >> (7 + g)) & 7);
}
_Static_assert(PM_TCACHE_MAX_BYTES_LIMIT + PM_SIZE_SZ <= ((size_t)16 << (7 + (PM_TCACHE_CLASSES - 1) / 8)) + PM_CHUNK_HDR,
               "the largest class holds the largest request the cache takes");
_Static_assert(((size_t)9 << 7) > PM_TCACHE_MAX_CHUNK, "the first class lies above the small bins");
_Static_assert(PM_TCACHE_CLASS_STEP == 1 << 7, "the fast paths index the class table by size >> 7");
_Static_assert(PM_TCACHE_CLASSES <= 255, "a class, or the class of no depth between classes, fits a byte");

/* The class serving a request of `bytes` (above the small bins, below
 * the classes' bound).  Class sizes are a header more than multiples of
 * 128: the class of the request's chunk size less the header, rounded up
 * to 128, is its class.  A class's size is a multiple of the alignment,
 * so the request fits it exactly when bytes plus the size word does, and
 * the step comes from bytes with no rounding to the alignment first. */
_Static_assert(PM_CHUNK_HDR % PM_ALIGNMENT == 0 && PM_CHUNK_HDR >= PM_SIZE_SZ, "class sizes are aligned");
static inline unsigned tcache_request_class(size_t bytes)
{
    return pm_global.tcache_class_by_step[(bytes + PM_SIZE_SZ - PM_CHUNK_HDR + PM_TCACHE_CLASS_STEP - 1) >> 7];
}

/* A cached chunk's user area begins with a safe-linked next pointer; the
 * chunk's held-free mark (chunk.h) says it is cached, so a second free
 * of it is caught. */
struct pm_tcache_entry {
    struct pm_tcache_entry *next;
};

/* The end of every cache list, and so an empty list's head: a pointer no
 * chunk has, and not aligned, so the malloc fast path's one alignment
 * test sends an empty list, like a corrupt head, to the slow path (which
 * tells the two apart), with no NULL test of its own. */
#define PM_TCACHE_END_VALUE 1u
#define PM_TCACHE_END ((struct pm_tcache_entry *)(uintptr_t)PM_TCACHE_END_VALUE)
_Static_assert((PM_TCACHE_END_VALUE & PM_ALIGN_MASK) != 0, "an empty list fails the alignment test");
static inline bool tcache_more(const struct pm_tcache_entry *e) { return e != PM_TCACHE_END; }

struct pm_tcache {
    struct pm_tcache_entry *entries[PM_TCACHE_BINS];
    /* Free places per bin, its depth (bin_limit) minus its length: the
     * free fast path then needs one test against zero instead of a load
     * of the depth and a compare, and a depth changes on the slow path by
     * changing room alone.  Negative after a depth was lowered below a
     * bin's length. */
    int32_t room[PM_TCACHE_BINS];
    /* The starting depth of every small bin, pm_global.tcache_count when
     * the cache last followed the options (at the thread's next slow call
     * after a change). */
    uint32_t limit;
    /* Every live thread cache is on one list (under the list lock in
     * tcache.c) so statistics and heapviz can see the chunks parked in
     * them. */
    struct pm_tcache *next;
    struct pm_tcache *prev;
    pid_t tid;
    /* The size classes: each a safe-linked list as the small bins, with
     * its length and its adaptive depth. */
    struct pm_tcache_entry *class_entries[PM_TCACHE_CLASSES];
    /* and one more, between the classes, always empty and of no depth
     * (pm_global.tcache_class_exact_by_step) */
    uint32_t class_count[PM_TCACHE_CLASSES + 1];
    uint32_t class_limit[PM_TCACHE_CLASSES + 1];
    uint32_t class_misses[PM_TCACHE_CLASSES]; /* since the depth last grew */
    uint8_t class_used[PM_TCACHE_CLASSES]; /* missed or spilled since the last idle check */
    uint32_t slow_calls;  /* slow calls since the last idle check */
    /* The small bins' depths: each starts at `limit` and doubles, up to
     * PM_TCACHE_BIN_DEPTH_MAX, when the bin keeps missing or spilling;
     * the idle check halves it again, never below `limit`. */
    uint32_t bin_limit[PM_TCACHE_BINS];
    uint8_t bin_events[PM_TCACHE_BINS]; /* misses and spills since the depth last grew */
    uint8_t bin_used[PM_TCACHE_BINS];   /* missed or spilled since the last idle check */
    /* What the small bins and the classes may hold at their depths: a
     * depth grows only while the two together stay within
     * pm_global.tcache_byte_budget, so the cache never holds more than
     * the budget, and no hit or free on a fast path counts bytes. */
    size_t bin_depth_bytes;
    size_t class_depth_bytes;
    uint32_t generation; /* pm_global.tcache_generation last followed */
    /* The countdown of the hits of malloc's and calloc's fast paths:
     * every hit is taken off it, one subtraction in memory.  While
     * allocations are profiled it runs to the next sample (prof.h);
     * without a profile it paces the idle return's looks (trim.c). */
    int64_t prof_left;
    /* The idle return's pace for this thread (tcache.c, pm_tcache_pace):
     * where the countdown last started and when, so a look knows the
     * rate of the hits since, and the batches given to arenas since. */
    int64_t look_set;
    unsigned long long look_ns;
    uint32_t batches_since_look;
    /* The looks of its slow calls (trim.c, pm_trim_slow_look): when the
     * last was, and whether it left work due. */
    unsigned long long slow_look_ns;
    bool slow_look_due;
    /* The cache gave back what its depths had grown to because an arena
     * was found idle (trim.c); a slow allocation clears it. */
    bool idle_trimmed;
};

/* Deepest a small bin grows (unless PMALLOC_TCACHE_COUNT starts it
 * deeper): a mix of many sizes then goes to its arena about once in 32
 * calls, and all 64 bins this deep hold about the default byte budget. */
#define PM_TCACHE_BIN_DEPTH_MAX 64u

/* The calling thread's cache.  Until the thread's first allocation, and
 * once it has begun to exit, it is pm_tcache_none: a cache whose bins are
 * all empty and all full, so the fast paths need no NULL test. */
extern __thread struct pm_tcache *pm_tc __attribute__((tls_model("initial-exec")));
extern struct pm_tcache pm_tcache_none;
extern struct pm_tcache pm_tcache_list;
/* Guards pm_tcache_list; named here for the layout descriptor, taken
 * only through pm_tcache_lock_all and tcache.c itself. */
extern pm_lock_t pm_tcache_list_lock;

static inline size_t pm_tcache_count(const struct pm_tcache *t, unsigned idx)
{
    return (size_t)((int64_t)t->bin_limit[idx] - t->room[idx]);
}

static inline bool pm_tcache_has_room(const struct pm_tcache *t, size_t idx) { return t->room[idx] > 0; }

static inline struct pm_tcache *pm_tcache_get(void)
{
    struct pm_tcache *t = pm_tc;
    return t == &pm_tcache_none ? NULL : t;
}

static inline unsigned tcache_index(size_t nb) { return (unsigned)((nb - PM_MINSIZE) >> 4); }
static inline size_t tcache_bin_size(unsigned idx) { return PM_MINSIZE + (size_t)idx * PM_ALIGNMENT; }

/* Index of the bin a request of `bytes` (at most 1032) maps to. */
static inline unsigned tcache_request_index(size_t bytes)
{
    return bytes <= 24 ? 0 : (unsigned)((bytes - 9) >> 4);
}

/* Safe-linking as in the fast bins (bins.h, link_mix). */
static inline struct pm_tcache_entry *tcache_link(struct pm_tcache_entry **slot, struct pm_tcache_entry *p)
{
    return (struct pm_tcache_entry *)link_mix(slot, (uintptr_t)p);
}

static inline void pm_tcache_push(struct pm_tcache *t, size_t idx, struct pm_tcache_entry *e)
{
    e->next = tcache_link(&e->next, t->entries[idx]);
    chunk_set_held_free(mem_chunk(e));
    t->entries[idx] = e;
    t->room[idx]--;
}

/* Takes e, the first entry of bin idx (the caller has read it), off the
 * cache. */
static inline struct pm_tcache_entry *pm_tcache_pop(struct pm_tcache *t, size_t idx, struct pm_tcache_entry *e)
{
    if (__builtin_expect(!ptr_aligned(e), 0))
        pm_corruption("malloc(): unaligned tcache chunk detected", e);
    t->entries[idx] = tcache_link(&e->next, e->next);
    t->room[idx]++;
    chunk_clear_held_free(mem_chunk(e));
    return e;
}

/* Takes e, the first chunk of class k, off the cache: the caller has read
 * it and seen it aligned. */
static inline void *pm_tcache_class_take(struct pm_tcache *t, unsigned k, struct pm_tcache_entry *e)
{
    t->class_entries[k] = tcache_link(&e->next, e->next);
    t->class_count[k]--;
    chunk_clear_held_free(mem_chunk(e));
    return e;
}

/* Takes the first chunk of class k (which has one). */
static inline void *pm_tcache_class_pop(struct pm_tcache *t, unsigned k)
{
    struct pm_tcache_entry *e = t->class_entries[k];
    if (__builtin_expect(!ptr_aligned(e), 0))
        pm_corruption("malloc(): unaligned tcache chunk detected", e);
    return pm_tcache_class_take(t, k, e);
}

static inline void pm_tcache_class_push(struct pm_tcache *t, size_t k, struct pm_tcache_entry *e)
{
    e->next = tcache_link(&e->next, t->class_entries[k]);
    chunk_set_held_free(mem_chunk(e));
    t->class_entries[k] = e;
    t->class_count[k]++;
}

/* Whether a free of a chunk of class k may keep it (the depths keep
 * the cache within its budget). */
static inline bool pm_tcache_class_has_room(const struct pm_tcache *t, size_t k)
{
    return t->class_count[k] < t->class_limit[k];
}

/* A request of `bytes` (from tcache_request_limit up) that a size class
 * serves: its class and chunk size; false when no class does. */
static inline bool pm_tcache_class_for(size_t bytes, size_t nb, unsigned *k, size_t *class_nb)
{
    if (bytes >= pm_global.tcache_big_request_limit || nb <= PM_TCACHE_MAX_CHUNK)
        return false;
    *k = tcache_class_of(nb);
    *class_nb = tcache_class_size(*k);
    return true;
}
/* The class a freed chunk of `size` bytes goes to, if it is exactly a
 * class's size (a chunk cut to another size goes back to its arena). */
static inline bool pm_tcache_class_holds_size(size_t size, unsigned *k)
{
    if (size <= PM_TCACHE_MAX_CHUNK || pm_global.tcache_big_request_limit == 0 ||
        size > tcache_class_size(PM_TCACHE_CLASSES - 1))
        return false;
    *k = tcache_class_of(size);
    return tcache_class_size(*k) == size;
}

/* tcache.c */
/* A miss in class k: counts towards a deeper class. */
void pm_tcache_class_missed(struct pm_tcache *t, unsigned k);
/* Moves more chunks of class k into the cache after a miss (arena lock
 * held), up to half the class's depth. */
void pm_tcache_class_stash(struct pm_arena *a, struct pm_tcache *t, unsigned k);
/* Frees chunk mem of class k into the cache, or, when the class is full
 * or the budget spent, gives half the class and mem back to the arenas.
 * The chunk has passed the free checks of the slow path. */
void pm_tcache_class_free(struct pm_tcache *t, unsigned k, void *mem);
bool pm_tcache_class_has(struct pm_tcache *t, unsigned k, struct pm_tcache_entry *e);
/* Counts a slow call; now and then, classes that neither missed nor
 * spilled since the last check lose half their depth and give the excess
 * back. */
#define PM_TCACHE_IDLE_CHECK_CALLS 4096
void pm_tcache_idle_check(struct pm_tcache *t);
/* Gives back every chunk of the size classes, and what the small bins
 * hold beyond their starting depth, to which they return (near a memory
 * limit). */
void pm_tcache_release_classes(struct pm_tcache *t);
static inline void pm_tcache_tick(struct pm_tcache *t)
{
    if (__builtin_expect(++t->slow_calls >= PM_TCACHE_IDLE_CHECK_CALLS, 0))
        pm_tcache_idle_check(t);
}
/* A free found small bin idx full: counts towards a deeper bin; true
 * when the bin grew and has room now. */
bool pm_tcache_bin_full(struct pm_tcache *t, unsigned idx);
struct pm_tcache *pm_tcache_create(void);
/* Moves more chunks of size nb from the arena's exact-fit bins into the
 * cache while it has room (arena lock held). */
void pm_tcache_stash(struct pm_arena *a, struct pm_tcache *t, size_t nb);
/* Frees what other threads left on arena a's remote list, a locked by
 * its owner, into the owner's cache while it has room, the rest into the
 * arena. */
void pm_tcache_drain_remote(struct pm_arena *a);
/* Frees a batch of a full bin, and `extra`, to their arenas. */
void pm_tcache_spill(struct pm_tcache *t, unsigned idx, void *extra);
__attribute__((noreturn, cold)) void pm_tcache_double_free(void *mem);
bool pm_tcache_holds(struct pm_tcache *t, unsigned idx, struct pm_tcache_entry *e);
/* Gives the calling thread's cache back, for good (thread exit). */
void pm_tcache_thread_exit(void);
void pm_tcache_refresh_limits(void);
/* Follows changed options: every small bin starts again at the
 * configured depth (pm_global.tcache_count), and the budget is shared
 * out again. */
void pm_tcache_rebase(struct pm_tcache *t);
static inline void pm_tcache_follow_limit(struct pm_tcache *t)
{
    if (__builtin_expect(t->generation != pm_global.tcache_generation, 0))
        pm_tcache_rebase(t);
}
/* The idle return's pace (without a profile, the hit countdown runs to
 * its next look, trim.c): given the time of a look and whether it left
 * work due, where the countdown starts again.  Looks come about every
 * PM_LOOK_EVERY_NS at the rate the hits came since the last (the
 * countdown counts bytes), and, while work is due, at the next hit. */
#define PM_LOOK_EVERY_NS (50ull * 1000 * 1000)
int64_t pm_tcache_pace(struct pm_tcache *t, unsigned long long now, bool due);
/* The list lock, for fork and for a consistent snapshot. */
void pm_tcache_lock_all(void);
void pm_tcache_unlock_all(bool in_fork_child);
/* In a fork child: gives back the caches of the threads that did not
 * survive the fork. */
void pm_tcache_adopt_orphans(void);
/* Bytes parked in every thread cache. */
size_t pm_tcache_bytes(void);
/* Of the calling thread's size classes: the bytes they hold, and how many
 * of those are resident (a class chunk cut for a refill has been written
 * only at its start). */
size_t pm_tcache_own_class_resident(size_t *held);

#endif
