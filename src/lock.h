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
#include <stddef.h>
#ifdef HAVE_SYS_SINGLE_THREADED_H
#include <sys/single_threaded.h>
#endif

/* The lock order, lowest first: a thread may take a lock only while
 * every lock it holds has a lower rank, except that arena locks may be
 * held together (fork, mallopt and malloc_trim take them all, in list
 * order).  Builds with PM_LOCK_CHECK (the thread tests' copy of the
 * library) check this on every acquisition, in the spirit of jemalloc's
 * witness. */
enum pm_lock_rank {
    PM_LOCK_RANK_LIST = 1,       /* pm_global.list_lock: the arena list */
    PM_LOCK_RANK_ARENA = 2,      /* each arena */
    PM_LOCK_RANK_MMAP = 3,       /* the mmapped-chunk list */
    PM_LOCK_RANK_TCACHE = 4,     /* the thread-cache list */
    PM_LOCK_RANK_QUARANTINE = 5, /* the hardened mode's quarantine */
    PM_LOCK_RANK_PROF = 6,       /* the allocation profile (prof.c) */
};

typedef struct {
    int state; /* PM_LOCK_FREE, PM_LOCK_HELD or PM_LOCK_CONTENDED */
    int rank;  /* enum pm_lock_rank */
} pm_lock_t;

enum { PM_LOCK_FREE = 0, PM_LOCK_HELD = 1, PM_LOCK_CONTENDED = 2 };
#define PM_LOCK_INITIALIZER(rank) {PM_LOCK_FREE, (rank)}

#ifdef PM_LOCK_CHECK
/* lock.c: records an acquisition (aborting with a message if it breaks
 * the order) and a release. */
void pm_lock_order_acquire(pm_lock_t *l, bool try_lock);
void pm_lock_order_release(pm_lock_t *l);
#else
static inline void pm_lock_order_acquire(pm_lock_t *l, bool try_lock)
{
    (void)l;
    (void)try_lock;
}
static inline void pm_lock_order_release(pm_lock_t *l) { (void)l; }
#endif

/* lock.c: the waiting and waking halves, and the announcements to
 * helgrind (pm_lock_announce is set at start-up when it is watching). */
extern bool pm_lock_announce;
void pm_lock_detect_checker(void);
/* A word read without its writer's lock on purpose: helgrind stops
 * checking it (nothing at all outside helgrind). */
void pm_lock_benign_race(const void *addr, size_t len);
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
    pm_lock_order_acquire(l, false);
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
    if (taken)
        pm_lock_order_acquire(l, true);
    return taken ? 0 : 1;
}

static inline void pm_unlock(pm_lock_t *l)
{
    pm_lock_order_release(l);
    if (__builtin_expect(pm_lock_announce, 0))
        pm_lock_announce_post(l, false);
    if (pm_lock_single_threaded())
        __atomic_store_n(&l->state, PM_LOCK_FREE, __ATOMIC_RELAXED);
    else if (__builtin_expect(__atomic_exchange_n(&l->state, PM_LOCK_FREE, __ATOMIC_RELEASE) == PM_LOCK_CONTENDED, 0))
        pm_lock_wake(l);
}

/* A lock in memory that was just cleared (a new arena). */
static inline void pm_lock_init(pm_lock_t *l, enum pm_lock_rank rank)
{
    l->rank = rank;
    __atomic_store_n(&l->state, PM_LOCK_FREE, __ATOMIC_RELAXED);
}

/* Every lock is taken before fork (fork.c) and let go after it, in both
 * processes: the parent unlocks, the child re-initialises (whoever else
 * held it there is gone). */
static inline void pm_lock_after_fork(pm_lock_t *l, bool in_child)
{
    if (in_child) {
        pm_lock_order_release(l);
        __atomic_store_n(&l->state, PM_LOCK_FREE, __ATOMIC_RELAXED);
    } else {
        pm_unlock(l);
    }
}

#endif
