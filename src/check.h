/* The heap walker: every invariant of every arena, checked without
 * changing the heap (check.c). */
#ifndef PMALLOC_CHECK_H
#define PMALLOC_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include "corrupt.h"

struct pm_arena;

/* Checks every arena (its remote-free list too) and the mmapped-chunk
 * list, taking each lock in turn.  With abort_on_problem the first
 * problem aborts via pm_corruption; otherwise each is written to stderr
 * and the count is returned.  (The thread cache's part of the walk is
 * one floor up, tcache_check.h.) */
size_t pm_check_all(bool abort_on_problem);
/* Where the walkers send a problem: the abort, or a line on stderr. */
pm_problem_fn pm_check_sink(bool abort_on_problem);

#endif
