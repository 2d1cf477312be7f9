/* The arena lock (src/lock.h): plain stores while the process has one
 * thread, mutual exclusion with atomics (and sleeping waiters) once it
 * has more, and a lock taken before the first thread starts is released
 * the same way after.  Built with PM_LOCK_CHECK, as every thread test is:
 * a lock taken against the order of ranks stops the program. */
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

static pm_lock_t list = PM_LOCK_INITIALIZER(PM_LOCK_RANK_LIST);
static pm_lock_t arena2 = PM_LOCK_INITIALIZER(PM_LOCK_RANK_ARENA);
static pm_lock_t mmaps = PM_LOCK_INITIALIZER(PM_LOCK_RANK_MMAP);
static pm_lock_t caches = PM_LOCK_INITIALIZER(PM_LOCK_RANK_TCACHE);

static void in_order(void *unused)
{
    (void)unused;
    pm_lock(&list);
    pm_lock(&lock);
    pm_lock(&arena2); /* arenas may be held together */
    pm_lock(&mmaps);
    pm_lock(&caches);
    pm_unlock(&caches);
    pm_unlock(&mmaps);
    pm_unlock(&arena2);
    pm_unlock(&lock);
    pm_unlock(&list);
}

static void against_order(void *unused)
{
    (void)unused;
    pm_lock(&caches);
    pm_lock(&lock);
}

static void twice(void *unused)
{
    (void)unused;
    pm_lock(&mmaps);
    pm_lock(&mmaps);
}

static void foreign_unlock(void *unused)
{
    (void)unused;
    pm_unlock(&mmaps);
}

static void expect_stopped(void (*fn)(void *), const char *message)
{
    char err[512];
    int status = run_in_child(fn, NULL, err, sizeof err);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    CHECK(strstr(err, message) != NULL);
    if (strstr(err, message) == NULL)
        fprintf(stderr, "expected '%s', got '%s'\n", message, err);
}

/* The order check itself, in children (it stops the program). */
static void test_lock_order(void)
{
    char err[512];
    int status = run_in_child(in_order, NULL, err, sizeof err);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && err[0] == 0);
    expect_stopped(against_order, "pmalloc: lock order: lock taken while a lock of a later rank is held at ");
    expect_stopped(twice, "pmalloc: lock order: lock taken again by the thread that holds it at ");
    expect_stopped(foreign_unlock, "pmalloc: lock order: lock released by a thread that does not hold it at ");
}

int main(void)
{
    alarm(120); /* a deadlock fails the test instead of hanging it */
    test_single_threaded();
    test_lock_order();
    test_mutual_exclusion();
    return test_finish("test_lock");
}
