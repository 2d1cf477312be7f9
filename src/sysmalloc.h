/* The top chunk and the system (sysmalloc.c): carving chunks off top,
 * growing an arena's heaps, and giving memory back.  The arena's lock is
 * held. */
#ifndef PMALLOC_SYSMALLOC_H
#define PMALLOC_SYSMALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include "options.h"
#include "os.h"
#include "state.h"

/* Grows the arena so top can hold nb, and carves nb off it; NULL with
 * ENOMEM when the system gives nothing.  NULL without errno, and
 * pm_thread_growth PM_GROWTH_DECLINED, when an arena no thread uses may
 * hold the space instead (unless the thread's growth is allowed): the
 * allocation path's retry (pm_arena_retry) then moves the thread. */
void *pm_sysmalloc(struct pm_arena *a, size_t nb);
/* Grows the arena so top holds nb (and a minimal top), asking the system
 * for pad bytes more; false when it could not, or declined to, as
 * pm_sysmalloc says.  Top may then lie in a new
 * heap, away from where it was. */
bool pm_sysgrow(struct pm_arena *a, size_t nb, size_t pad);
/* Gives back the top's excess above pad; true if anything was released. */
bool pm_systrim(struct pm_arena *a, size_t pad);
/* Whether top may hold a whole page beyond pad (and a minimal top), the
 * least pm_systrim can give back: checked first on every large free, so
 * it compares with the smallest page there is, a constant, rather than
 * load the real one; pm_systrim makes the exact test. */
static inline bool pm_systrim_worth(const struct pm_arena *a, size_t pad)
{
    size_t tsize = top_size(a);
    return tsize > PM_MINSIZE && tsize - PM_MINSIZE > pad && tsize - PM_MINSIZE - pad > PM_MIN_PAGE_SIZE;
}
/* Whether a large free trims top, and the pad it keeps.  glibc trims
 * top down to top_pad whenever it passes the trim threshold; once the
 * dynamic threshold has risen (a mapped block of 2 MiB freed puts it at 4
 * MiB), a program that frees and grows blocks of a few MiB then gives
 * pages back and faults them in again on every cycle.  While the
 * threshold follows the program and the idle return gives top back after
 * the decay's delay anyway (trim.c), a free trims only a top past twice
 * the threshold, and down to the threshold: macro_large's page faults
 * 213,000 -> 66,000 (glibc 142,000), its time 0.37 -> 0.16 s (glibc
 * 0.26), peak RSS the same.  So does PMALLOC_DECAY_MS=-1, which keeps
 * free memory anyway (and so measures the return's cost against the
 * same trims).  A threshold or pad set by hand, or a decay of 0 (give
 * back at once), keep glibc's rule. */
static inline bool pm_free_trim_due(const struct pm_arena *a, size_t *pad)
{
    size_t threshold = pm_opt_trim_threshold();
    if (top_size(a) < threshold)
        return false;
    *pad = pm_opt.top_pad;
    if (pm_opt.no_dyn_threshold || pm_opt.decay_ms == 0 || threshold <= *pad)
        return pm_systrim_worth(a, *pad);
    *pad = threshold;
    return pm_systrim_worth(a, 2 * threshold);
}
/* Makes an initialised heap record the arena's newest heap. */
void pm_install_heap(struct pm_arena *a, struct pm_heap *h);
/* Unmaps the newest sub-heaps of a thread arena while they hold nothing
 * but top; true if any was released. */
bool pm_unmap_empty_heaps(struct pm_arena *a);
/* Discards the whole pages inside free chunks (malloc_trim); returns true
 * if any were given back. */
bool pm_discard_free_pages(struct pm_arena *a);
/* The most a pass of the decay gives back, so that no call stalls long. */
#define PM_DECAY_BUDGET ((size_t)8 * 1024 * 1024)
/* The decay of free pages after a merging free (PMALLOC_DECAY_MS). */
void pm_decay_after_free(struct pm_arena *a);
/* One bounded pass of the decay, from *resume, which it moves to where
 * it stopped; true when it reached the last bin.  resume_unsorted: the
 * caller knows the unsorted bin stays as it is until the next pass, so
 * a stop in it may name a chunk. */
bool pm_decay_pass(struct pm_arena *a, struct pm_decay_resume *resume, bool resume_unsorted);
/* Carves nb bytes off the front of top, which must hold nb + MINSIZE.
 * Records the chunk and the arena's untouched-memory mark for calloc. */
void *pm_split_top(struct pm_arena *a, size_t nb);
/* Moves top's start to new_top after its front was taken (split or
 * realloc growth), keeping the untouched-memory mark right. */
void pm_set_top(struct pm_arena *a, mchunk *new_top, size_t size);

#endif
