/* The abort path: what every integrity check calls when the heap cannot
 * be trusted any more, and the sink type the non-aborting walkers report
 * to. */
#ifndef PMALLOC_CORRUPT_H
#define PMALLOC_CORRUPT_H

/* Reports a failed integrity check naming the check and the address, then
 * aborts.  Written with write(2) only: the heap is not to be trusted. */
__attribute__((noreturn, cold)) void pm_corruption(const char *check, const void *addr);

/* A walker that must not abort (pmalloc_check, the mmap list check)
 * reports each broken invariant here. */
typedef void (*pm_problem_fn)(void *ctx, const char *what, const void *addr);

#endif
