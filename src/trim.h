/* Giving memory back (trim.c): what malloc_trim does, and what the
 * allocation path does near a memory limit.  No lock held on entry. */
#ifndef PMALLOC_TRIM_H
#define PMALLOC_TRIM_H

#include <stdbool.h>
#include <stddef.h>

/* In every arena: merges the fast bins, unmaps empty sub-heaps, gives
 * back top beyond pad and the whole pages inside free chunks.  True if
 * anything was released. */
bool pm_trim_all(size_t pad);
/* Near a memory limit, before growing: the calling thread's cache gives
 * back its size classes, then every arena is trimmed. */
void pm_trim_for_limit(void);

#endif
