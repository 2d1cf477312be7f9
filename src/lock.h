/* Arena and list locks.  A plain pthread mutex: it never allocates, the
 * thread checkers (helgrind, TSan) understand it, and after fork the child
 * can simply re-initialise it. */
#ifndef PMALLOC_LOCK_H
#define PMALLOC_LOCK_H

#include <pthread.h>

typedef pthread_mutex_t pm_lock_t;
#define PM_LOCK_INITIALIZER PTHREAD_MUTEX_INITIALIZER

static inline void pm_lock(pm_lock_t *l) { pthread_mutex_lock(l); }
static inline int pm_trylock(pm_lock_t *l) { return pthread_mutex_trylock(l); }
static inline void pm_unlock(pm_lock_t *l) { pthread_mutex_unlock(l); }
static inline void pm_lock_reinit(pm_lock_t *l) { pthread_mutex_init(l, NULL); }

#endif
