/* The heap walker: every invariant of every arena, checked without
 * changing the heap (check.c). */
#ifndef PMALLOC_CHECK_H
#define PMALLOC_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include "corrupt.h"
#include "options.h"

struct pm_arena;

/* Checks every arena and the mmapped-chunk list, taking each lock in turn.
 * With abort_on_problem the first problem aborts via pm_corruption;
 * otherwise each is written to stderr and the count is returned. */
size_t pm_check_all(bool abort_on_problem);

/* The debug mode (PMALLOC_CHECK=1) walks every arena after every call. */
static inline void debug_check(void)
{
    if (__builtin_expect(pm_opt.check_heap, 0))
        pm_check_all(true);
}

#endif
