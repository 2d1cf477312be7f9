/* Every allocator lock around fork (fork.c), registered by start-up with
 * pthread_atfork. */
#ifndef PMALLOC_FORK_H
#define PMALLOC_FORK_H

void pm_fork_prepare(void);
void pm_fork_parent(void);
void pm_fork_child(void);

#endif
