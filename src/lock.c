/* The slow halves of the locks in lock.h. */
#include "config.h"

#include "lock.h"

#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "os.h"

#ifdef HAVE_VALGRIND_HELGRIND_H
#include <valgrind/helgrind.h>
#endif

bool pm_lock_announce;

/* Only helgrind needs the announcements; callgrind, counting the
 * instructions of the real locks, must not pay for them.  Helgrind is the
 * one tool that answers this request, with the number of addressable
 * bytes (the others leave its default, -2, truncated to 32 bits). */
void pm_lock_detect_checker(void)
{
#ifdef HAVE_VALGRIND_HELGRIND_H
    char probe = 0;
    pm_lock_announce = RUNNING_ON_VALGRIND && VALGRIND_HG_GET_ABITS(&probe, NULL, 1) == 1;
#endif
}

/* Helgrind knows neither C11 atomics nor that a stale read can be
 * harmless; told once, at start-up, it stops checking such a word, in any
 * build (a suppression by function name fails when a compiler inlines
 * the read without keeping the frame, as clang does). */
void pm_lock_benign_race(const void *addr, size_t len)
{
#ifdef HAVE_VALGRIND_HELGRIND_H
    if (pm_lock_announce)
        VALGRIND_HG_DISABLE_CHECKING(addr, len);
#else
    (void)addr;
    (void)len;
#endif
}

/* Spinning pays while the holder runs on another CPU and its critical
 * section is short; beyond this the waiter sleeps. */
#define SPINS 100

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

void pm_lock_wait(pm_lock_t *l)
{
    for (int i = 0; i < SPINS; i++) {
        cpu_relax();
        if (__atomic_load_n(&l->state, __ATOMIC_RELAXED) == PM_LOCK_FREE && pm_lock_try_fast(l))
            return;
    }
    /* Marking the lock contended before sleeping makes its holder wake
     * someone on release; whoever takes it this way keeps it marked,
     * since others may still sleep. */
    while (__atomic_exchange_n(&l->state, PM_LOCK_CONTENDED, __ATOMIC_ACQUIRE) != PM_LOCK_FREE)
        pm_os_futex_wait(&l->state, PM_LOCK_CONTENDED);
}

void pm_lock_wake(pm_lock_t *l) { pm_os_futex_wake(&l->state); }

void pm_lock_announce_pre(pm_lock_t *l, bool try_lock)
{
#ifdef HAVE_VALGRIND_HELGRIND_H
    VALGRIND_HG_MUTEX_LOCK_PRE(l, try_lock);
#else
    (void)l;
    (void)try_lock;
#endif
}

void pm_lock_announce_post(pm_lock_t *l, bool acquired)
{
#ifdef HAVE_VALGRIND_HELGRIND_H
    if (acquired) {
        VALGRIND_HG_MUTEX_LOCK_POST(l);
    } else {
        VALGRIND_HG_MUTEX_UNLOCK_PRE(l);
        VALGRIND_HG_MUTEX_UNLOCK_POST(l);
    }
#else
    (void)l;
    (void)acquired;
#endif
}

#ifdef PM_LOCK_CHECK
/* The locks this thread holds, in the order taken.  More than a few at
 * once happens only with every arena locked (fork, mallopt), which is
 * counted rather than listed. */
#define HELD_MAX 16
static __thread pm_lock_t *held[HELD_MAX] __attribute__((tls_model("initial-exec")));
static __thread unsigned nheld __attribute__((tls_model("initial-exec")));

static __attribute__((noreturn, cold)) void order_broken(const char *what, const pm_lock_t *l)
{
    pm_log_at(STDERR_FILENO, "pmalloc: lock order: ", what, l);
    abort();
}

void pm_lock_order_acquire(pm_lock_t *l, bool try_lock)
{
    for (unsigned i = 0; i < nheld && i < HELD_MAX; i++) {
        if (held[i] == l)
            order_broken("lock taken again by the thread that holds it", l);
        /* a trylock cannot wait, so it cannot close a cycle */
        if (!try_lock && held[i]->rank > l->rank)
            order_broken("lock taken while a lock of a later rank is held", l);
        if (!try_lock && held[i]->rank == l->rank && l->rank != PM_LOCK_RANK_ARENA)
            order_broken("two locks of one rank held together", l);
    }
    if (nheld < HELD_MAX)
        held[nheld] = l;
    nheld++;
}

void pm_lock_order_release(pm_lock_t *l)
{
    unsigned n = nheld < HELD_MAX ? nheld : HELD_MAX;
    for (unsigned i = n; i-- > 0;) {
        if (held[i] == l) {
            for (unsigned j = i; j + 1 < n; j++)
                held[j] = held[j + 1];
            nheld--;
            return;
        }
    }
    if (nheld > HELD_MAX) {
        nheld--; /* one of the uncounted arena locks */
        return;
    }
    order_broken("lock released by a thread that does not hold it", l);
}
#endif
