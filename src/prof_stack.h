/* The calling thread's return addresses, for the allocation profile:
 * taken inside malloc, so the unwinder must not allocate through us nor
 * take a lock a malloc caller may hold. */
#ifndef PMALLOC_PROF_STACK_H
#define PMALLOC_PROF_STACK_H

#include <stddef.h>
#include <stdint.h>

/* Finds the library's own code, so the stacks start at its caller.  Once,
 * at start-up, before any stack is taken. */
void pm_prof_stack_init(void);
/* Up to max return addresses of the caller's stack, innermost first, the
 * allocator's own frames left out; returns how many. */
size_t pm_prof_backtrace(uint64_t *frames, size_t max);
/* Which unwinder this build has: "libunwind" or "frame pointers". */
const char *pm_prof_unwinder(void);

#endif
