/* Arena choice (arena.c): which arena a thread allocates from, another to
 * try when that one is out of memory, and the arenas of exited threads. */
#ifndef PMALLOC_ARENA_H
#define PMALLOC_ARENA_H

#include "compiler.h"
#include "state.h"

/* Attaches the calling thread to an arena (the idle one with the most
 * free space, a new one, or the least shared) and arms its exit hook. */
struct pm_arena *pm_arena_attach(void);
/* The calling thread lets its arena go (thread exit). */
void pm_arena_detach(void);

static inline struct pm_arena *pm_arena_for_thread(void)
{
    struct pm_arena *a = pm_thread_arena;
    return PM_LIKELY(a != NULL) ? a : pm_arena_attach();
}

/* Another arena to try when `failed` could not satisfy a request; NULL if
 * none.  The returned arena is locked.  When the request failed because
 * its growth was declined (pm_sysmalloc), the calling thread moves to the
 * idle arena with the most free space.  The retried request may grow its
 * arena; pm_arena_retry_done ends that. */
struct pm_arena *pm_arena_retry(struct pm_arena *failed);
static inline void pm_arena_retry_done(void) { pm_thread_growth = PM_GROWTH_ASK_POOL; }

/* In a fork child, with every lock re-initialised: only the forking
 * thread lives on, so every other arena is free for new threads. */
void pm_arena_fork_child(void);

#endif
