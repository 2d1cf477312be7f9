/* Arena and list locks: a futex word, taken and released inline with one
 * atomic instruction each when nobody waits (a pthread mutex spends about
 * 60 instructions on a lock/unlock pair, which every thread-cache miss
 * pays).  A waiter spins briefly, since arena critical sections are
 * short, then sleeps in the kernel.  The lock never allocates, and after
 * fork the child re-initialises it.
 *
 * Thread checkers: under helgrind each acquisition and release
 * is announced to helgrind as a mutex's, so it sees the same
 * happens-before order as with pthread mutexes; ThreadSanitizer models
 * the acquire/release atomics directly. */
#ifndef PMALLOC_LOCK_H
#define PMALLOC_LOCK_H

#include <stdbool.h>
#ifdef HAVE_SYS_SINGLE_THREADED_H
#include <sys/single_threaded.h>
#endif

typedef struct {
    int state; /* PM_LOCK_FREE, PM_LOCK_HELD or PM_LOCK_CONTENDED */
} pm_lock_t;

enum { PM_LOCK_FREE = 0, PM_LOCK_HELD = 1, PM_LOCK_CONTENDED = 2 };
#define PM_LOCK_INITIALIZER {PM_LOCK_FREE}

/* lock.c: the waiting and waking halves, and the announcements to
 * helgrind (pm_lock_announce is set at start-up when it is watching). */
extern bool pm_lock_announce;
void pm_lock_detect_checker(void);
void pm_lock_wait(pm_lock_t *l);
void pm_lock_wake(pm_lock_t *l);
void pm_lock_announce_pre(pm_lock_t *l, bool try_lock);
void pm_lock_announce_post(pm_lock_t *l, bool acquired);

/* True while the process has never had a second thread (glibc clears it
 * for good at the first pthread_create, and sets it again in a fork
 * child).  Then no other thread can hold or want a lock, and taking one
 * is a plain store: the atomic instructions cost a single-threaded
 * program more than the rest of a lock/unlock pair (glibc's own malloc
 * skips its locks the same way).  No lock is held across a thread's
 * creation, so a lock taken one way is always released the same way. */
static inline bool pm_lock_single_threaded(void)
{
#ifdef HAVE_SYS_SINGLE_THREADED_H
    return __builtin_expect(__libc_single_threaded != 0, 1);
#else
    return false;
#endif
}

static inline bool pm_lock_try_fast(pm_lock_t *l)
{
    int expected = PM_LOCK_FREE;
    return __atomic_compare_exchange_n(&l->state, &expected, PM_LOCK_HELD, false, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}

static inline void pm_lock(pm_lock_t *l)
{
    if (__builtin_expect(pm_lock_announce, 0))
        pm_lock_announce_pre(l, false);
    if (pm_lock_single_threaded())
        __atomic_store_n(&l->state, PM_LOCK_HELD, __ATOMIC_RELAXED);
    else if (__builtin_expect(!pm_lock_try_fast(l), 0))
        pm_lock_wait(l);
    if (__builtin_expect(pm_lock_announce, 0))
        pm_lock_announce_post(l, true);
}

/* 0 when taken, as pthread_mutex_trylock. */
static inline int pm_trylock(pm_lock_t *l)
{
    if (__builtin_expect(pm_lock_announce, 0))
        pm_lock_announce_pre(l, true);
    bool taken = pm_lock_try_fast(l);
    if (__builtin_expect(pm_lock_announce, 0) && taken)
        pm_lock_announce_post(l, true);
    return taken ? 0 : 1;
}

static inline void pm_unlock(pm_lock_t *l)
{
    if (__builtin_expect(pm_lock_announce, 0))
        pm_lock_announce_post(l, false);
    if (pm_lock_single_threaded())
        __atomic_store_n(&l->state, PM_LOCK_FREE, __ATOMIC_RELAXED);
    else if (__builtin_expect(__atomic_exchange_n(&l->state, PM_LOCK_FREE, __ATOMIC_RELEASE) == PM_LOCK_CONTENDED, 0))
        pm_lock_wake(l);
}

/* In a fork child: whoever held the lock in the parent is gone. */
static inline void pm_lock_reinit(pm_lock_t *l) { __atomic_store_n(&l->state, PM_LOCK_FREE, __ATOMIC_RELAXED); }

#endif
