/* The ptmalloc core: the only way into an arena's bins from above
 * (core_malloc.c, core_free.c, merge.c, realloc.c, memalign.c).  Unless
 * said otherwise the arena's lock is held, and nb is a chunk size from
 * request_to_size. */
#ifndef PMALLOC_CORE_H
#define PMALLOC_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include "bins.h"
#include "compiler.h"
#include "lock.h"
#include "state.h"

/* Fast-bin chunks are merged on free once a merged chunk reaches this. */
#define PM_FASTBIN_CONSOLIDATION_THRESHOLD ((size_t)65536)

/* core_malloc.c */
void *pm_int_malloc(struct pm_arena *a, size_t nb);
/* A chunk of exactly nb from the arena's store of its size class
 * (bins.h), or NULL. */
void *pm_int_take_stored(struct pm_arena *a, size_t nb);
/* An exact-size chunk from a small bin, or NULL. */
void *pm_int_take_small(struct pm_arena *a, size_t nb);
/* A chunk of nb cut from the last remainder when it is all the unsorted
 * bin holds (the run a small request just came from), or NULL. */
void *pm_int_take_remainder(struct pm_arena *a, size_t nb);
/* Takes the first chunk of nb's fast bin, or NULL when it is empty;
 * inline, since a cache refill takes several in a row. */
static inline void *pm_int_take_fast(struct pm_arena *a, size_t nb) { return fastbin_pop(a, nb); }

/* merge.c: coalescing, which allocation and freeing both need */
/* Merges a chunk being freed with its free neighbours and files the
 * result in the unsorted bin or the top.  Returns the size of the merged
 * chunk. */
size_t pm_free_merge(struct pm_arena *a, mchunk *p, size_t size);
/* Merges every fast-bin chunk with its neighbours. */
void pm_consolidate(struct pm_arena *a);
/* Merges at most `max` chunks of the class stores with their neighbours;
 * true when the stores are empty now. */
bool pm_merge_stores(struct pm_arena *a, size_t max);
/* Every chunk the arena holds whole, fast bins and stores, merged. */
void pm_merge_held(struct pm_arena *a);
/* Merges at most `max` fast-bin chunks, the smallest sizes first; true
 * when the fast bins are empty now. */
bool pm_consolidate_some(struct pm_arena *a, size_t max);

/* core_free.c */
void pm_int_free(struct pm_arena *a, mchunk *p);
/* Frees p into its own arena.  A batch of frees takes each arena's lock
 * once (held), and chunks of arenas that other threads own are chained
 * and handed to those arenas' remote lists in one step each;
 * pm_free_batch_end finishes the batch.  No lock held on entry. */
struct pm_free_batch {
    struct pm_arena *held;   /* the arena whose lock is held, if any */
    struct pm_arena *remote; /* where the chain head..tail goes */
    mchunk *head, *tail;
};
#define PM_FREE_BATCH_INIT {NULL, NULL, NULL, NULL}
void pm_free_batched(mchunk *p, struct pm_free_batch *b);
void pm_free_batch_end(struct pm_free_batch *b);
/* Frees one chunk the same way, without a batch; no lock held. */
void pm_free_one(mchunk *p);
/* The arena of a chunk the program hands back, after checking that a
 * thread arena it claims really exists. */
struct pm_arena *pm_arena_of_freed(mchunk *p);
/* Every check a chunk handed back must pass before anything trusts it
 * (the thread cache's slow path runs it before caching the chunk); no
 * lock needed. */
void pm_check_freed(mchunk *p);
/* Frees the chunks other threads left on the arena's remote list. */
void pm_drain_remote(struct pm_arena *a);
/* The same a chunk at a time, for a caller that keeps some (the owner's
 * thread cache, tcache.c): the whole list, taken off the arena at once
 * (linked by fd, each chunk still marked held free); a chunk of it freed
 * into the arena; a chunk of it that passed a free's checks, counted and
 * unmarked, for the caller to keep.  Lock held. */
static inline mchunk *pm_take_remote(struct pm_arena *a)
{
    return __atomic_exchange_n(&a->remote_frees, NULL, __ATOMIC_ACQUIRE);
}
void pm_free_remote(struct pm_arena *a, mchunk *p);
void pm_accept_remote(struct pm_arena *a, mchunk *p);
static inline bool pm_has_remote(struct pm_arena *a)
{
    return __atomic_load_n(&a->remote_frees, __ATOMIC_RELAXED) != NULL;
}
/* Locks an arena to serve a call and counts the call (the idle return's
 * activity), leaving its remote list to the caller. */
static inline void pm_lock_arena_only(struct pm_arena *a)
{
    pm_lock(&a->lock);
    a->activity++;
}
/* The same, first freeing what other threads left on its remote list. */
static inline void pm_lock_arena(struct pm_arena *a)
{
    pm_lock_arena_only(a);
    if (PM_UNLIKELY(pm_has_remote(a)))
        pm_drain_remote(a);
}

/* realloc.c: resizes a heap chunk in place when it can, else moves it
 * within the arena.  Returns the user pointer, or NULL (old chunk
 * untouched). */
void *pm_int_realloc(struct pm_arena *a, mchunk *oldp, size_t nb);
/* Grows a block that ends at top into it, the heap under it if it must;
 * NULL, the block unchanged, when it does not end at top, top's size is
 * too big to be true, or top cannot grow where it is.  Lock held. */
void *pm_realloc_at_top(struct pm_arena *a, mchunk *oldp, size_t oldsize, size_t nb);
/* memalign.c */
void *pm_int_memalign(struct pm_arena *a, size_t alignment, size_t nb);

#endif
