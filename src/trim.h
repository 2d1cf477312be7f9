/* Giving memory back (trim.c): what malloc_trim does, and what the
 * allocation path does near a memory limit.  No lock held on entry. */
#ifndef PMALLOC_TRIM_H
#define PMALLOC_TRIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* In every arena: merges the fast bins, unmaps empty sub-heaps, gives
 * back top beyond pad and the whole pages inside free chunks.  True if
 * anything was released. */
bool pm_trim_all(size_t pad);
/* Near a memory limit, before growing: the calling thread's cache gives
 * back its size classes, then every arena is trimmed. */
void pm_trim_for_limit(void);
/* The idle return's look, when the hit countdown of the calling thread's
 * cache t ran out: a bounded step of work in an arena no call has used
 * for the decay's delay.  Returns where the countdown starts again when
 * nothing is profiled. */
struct pm_tcache;
int64_t pm_trim_idle_look(struct pm_tcache *t);
/* The same look from a slow call of the thread with cache t (api.c): a
 * thread whose calls all go to an arena, or that only frees (a
 * consumer), never runs its hit countdown out.  A slow call reads the
 * clock once in PM_SLOW_LOOK_CALLS, and looks if PM_LOOK_EVERY_NS have
 * passed since its last; while work is due, every slow call looks. */
#define PM_SLOW_LOOK_CALLS 8u
void pm_trim_slow_look(struct pm_tcache *t);
/* The same look for a thread with no cache (background.c): true while
 * work is due. */
bool pm_trim_idle_step(void);

#endif
