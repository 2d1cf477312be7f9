/* The idle return's own thread (PMALLOC_BACKGROUND_THREAD=1, off by
 * default): it looks at the arenas as the caches' hits do (trim.c), so a
 * process that makes no calls at all still gives back what it freed. */
#ifndef PMALLOC_BACKGROUND_H
#define PMALLOC_BACKGROUND_H

#include <stdbool.h>
#include "compiler.h"

/* Set while the thread is wanted and not running: at start-up when the
 * option asks for it, and in a fork child (the thread does not survive
 * the fork).  Read by malloc's slow path without a lock. */
extern int pm_background_wanted PM_HIDDEN;
/* Starts the thread if it is wanted (no lock held: making a thread may
 * allocate). */
void pm_background_start(void);
static inline void pm_background_start_if_wanted(void)
{
    if (PM_UNLIKELY(__atomic_load_n(&pm_background_wanted, __ATOMIC_RELAXED)))
        pm_background_start();
}
/* In a fork child: wanted again if it ran in the parent. */
void pm_background_fork_child(void);

#endif
