/* The arena lock (src/lock.h): plain stores while the process has one
 * thread, mutual exclusion with atomics (and sleeping waiters) once it
 * has more, and a lock taken before the first thread starts is released
 * the same way after. */
#include "thr.h"

#include <sched.h>
#include <sys/single_threaded.h>

static pm_lock_t lock = PM_LOCK_INITIALIZER(PM_LOCK_RANK_ARENA);
static unsigned long counter; /* only ever touched under `lock` */

enum { ROUNDS = 200000, THREADS = 4 };

static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        pm_lock(&lock);
        unsigned long c = counter;
        /* a window for a second holder, were there one */
        if ((i & 1023) == 0)
            sched_yield();
        counter = c + 1;
        pm_unlock(&lock);
    }
    return NULL;
}

static void test_single_threaded(void)
{
    REQUIRE(__libc_single_threaded);
    pm_lock(&lock);
    CHECK(lock.state == PM_LOCK_HELD);
    CHECK(pm_trylock(&lock) != 0);
    pm_unlock(&lock);
    CHECK(lock.state == PM_LOCK_FREE);
    CHECK(pm_trylock(&lock) == 0);
    CHECK(lock.state == PM_LOCK_HELD);
    pm_unlock(&lock);
    CHECK(lock.state == PM_LOCK_FREE);
}

/* Threads contending for the lock: no increment is lost, and the lock
 * ends free (a waiter that slept was woken, or the joins would hang). */
static void test_mutual_exclusion(void)
{
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        REQUIRE(pthread_create(&t[i], NULL, hammer, NULL) == 0);
    CHECK(!__libc_single_threaded);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ_SIZE(counter, (size_t)THREADS * ROUNDS);
    CHECK(lock.state == PM_LOCK_FREE);
}

int main(void)
{
    alarm(120); /* a deadlock fails the test instead of hanging it */
    test_single_threaded();
    test_mutual_exclusion();
    return test_finish("test_lock");
}
