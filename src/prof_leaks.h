/* The PMALLOC_PROF_LEAKS report at exit (prof_leaks.c). */
#ifndef PMALLOC_PROF_LEAKS_H
#define PMALLOC_PROF_LEAKS_H

/* Once, if PMALLOC_PROF_LEAKS asked for it: the stacks of the sampled
 * blocks still live, largest first, on standard error. */
void pm_prof_leaks_at_exit(void);

#endif
