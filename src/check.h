/* Integrity checks, the abort path, and the heap walker. */
#ifndef PMALLOC_CHECK_H
#define PMALLOC_CHECK_H

#include <stdbool.h>
#include <stddef.h>

struct pm_arena;

/* Reports a failed integrity check naming the check and the address, then
 * aborts.  Written with write(2) only: the heap is not to be trusted. */
__attribute__((noreturn, cold)) void pm_corruption(const char *check, const void *addr);

/* Walks every chunk, bin and list of an arena (its lock held by the
 * caller) and checks every invariant.  Each broken one is reported to the
 * sink; returns the number found. */
typedef void (*pm_problem_fn)(void *ctx, const char *what, const void *addr);
size_t pm_check_arena(struct pm_arena *a, pm_problem_fn report, void *ctx);

/* Checks every arena and the mmapped-chunk list, taking each lock in turn.
 * With abort_on_problem the first problem aborts via pm_corruption;
 * otherwise each is written to stderr and the count is returned. */
size_t pm_check_all(bool abort_on_problem);

#endif
