/* The heap walker's part for the calling thread's cache, and the whole
 * walk that the debug mode and pmalloc_check run (tcache_check.c). */
#ifndef PMALLOC_TCACHE_CHECK_H
#define PMALLOC_TCACHE_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include "check.h"
#include "options.h"

/* Checks every chunk the calling thread's cache holds: a whole chunk of
 * an arena's heap, of its bin's or class's size, held free and in use to
 * its heap, on a list as long as its count.  Other threads' caches change
 * under no lock, so only the caller's is read.  Returns the problems
 * found, reported as pm_check_all does. */
size_t pm_tcache_check(bool abort_on_problem);

/* Every arena, the mapped chunks and the calling thread's cache. */
static inline size_t pm_check_heap_and_cache(bool abort_on_problem)
{
    return pm_check_all(abort_on_problem) + pm_tcache_check(abort_on_problem);
}

/* The debug mode (PMALLOC_CHECK=1) walks everything after every call. */
static inline void debug_check(void)
{
    if (__builtin_expect(pm_opt.check_heap, 0))
        pm_check_heap_and_cache(true);
}

#endif
