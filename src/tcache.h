/* The per-thread cache: small freed chunks kept per thread, handed out
 * again without any lock. */
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
_Static_assert(((PM_DEFAULT_TCACHE_MAX_BYTES - 9) >> 4) == PM_TCACHE_BINS - 1, "the request table fits the bins");

/* A cached chunk's user area: a safe-linked next pointer and a key that
 * marks it as cached, so a second free of it is caught. */
struct pm_tcache_entry {
    struct pm_tcache_entry *next;
    uintptr_t key;
};

struct pm_tcache {
    struct pm_tcache_entry *entries[PM_TCACHE_BINS];
    /* Free places per bin, limit minus the bin's length: the free fast
     * path then needs one test against zero instead of a load of the
     * global limit and a compare.  Negative after the limit was lowered
     * below a bin's length. */
    int32_t room[PM_TCACHE_BINS];
    /* The chunks-per-bin limit `room` counts against; it follows
     * pm_global.tcache_count at the thread's next slow call. */
    uint32_t limit;
    /* Every live thread cache is on one list (under the list lock in
     * tcache.c) so statistics and heapviz can see the chunks parked in
     * them. */
    struct pm_tcache *next;
    struct pm_tcache *prev;
    pid_t tid;
};

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
    return (size_t)((int64_t)t->limit - t->room[idx]);
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
    e->key = pm_global.tcache_key;
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
    e->key = 0;
    return e;
}

/* tcache.c */
struct pm_tcache *pm_tcache_create(void);
/* Moves more chunks of size nb from the arena's exact-fit bins into the
 * cache while it has room (arena lock held). */
void pm_tcache_stash(struct pm_arena *a, struct pm_tcache *t, size_t nb);
/* Frees a batch of a full bin, and `extra`, to their arenas. */
void pm_tcache_spill(struct pm_tcache *t, unsigned idx, void *extra);
__attribute__((noreturn, cold)) void pm_tcache_double_free(void *mem);
bool pm_tcache_holds(struct pm_tcache *t, unsigned idx, struct pm_tcache_entry *e);
/* Gives the calling thread's cache back, for good (thread exit). */
void pm_tcache_thread_exit(void);
void pm_tcache_refresh_limits(void);
/* Recounts t's room against a changed pm_global.tcache_count. */
void pm_tcache_rebase(struct pm_tcache *t);
static inline void pm_tcache_follow_limit(struct pm_tcache *t)
{
    if (__builtin_expect(t->limit != pm_global.tcache_count, 0))
        pm_tcache_rebase(t);
}
/* The list lock, for fork and for a consistent snapshot. */
void pm_tcache_lock_all(void);
void pm_tcache_unlock_all(bool in_fork_child);
/* In a fork child: gives back the caches of the threads that did not
 * survive the fork. */
void pm_tcache_adopt_orphans(void);
/* Bytes parked in every thread cache. */
size_t pm_tcache_bytes(void);

#endif
