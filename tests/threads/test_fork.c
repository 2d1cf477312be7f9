/* fork while four threads hammer the allocator: 500 children, each of
 * which allocates and frees in the thread-cache range, in the bins and
 * from mmap, checks the heap, and (some of them) starts a thread of its
 * own; the parent checks every child's exit status.  A child that
 * inherits a lock held by a thread that does not exist in it hangs: a
 * watchdog in each child and one in the parent turn that into a clear
 * failure.  (facts §4: fork takes every allocator lock first; the child
 * re-initialises them and frees the other threads' arenas.)
 *
 * Usage: test_fork [forks] (default 500). */
#include "thr.h"

#include <sys/resource.h>
#include <sys/syscall.h>

#define HAMMERS 4
#define CHILD_TIMEOUT 10   /* seconds */
#define PARENT_TIMEOUT 60

static atomic_bool stop;
static atomic_ulong hammer_ops;

static void parent_watchdog(int sig)
{
    (void)sig;
    static const char msg[] = "test_fork: WATCHDOG: the parent made no progress in " "60" " s: deadlock "
                              "in fork or in a hammer thread\n";
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
        /* nothing more to do */
    }
    _exit(1);
}

static size_t hammer_size(uint64_t *r)
{
    size_t k = rng_below(r, 100);
    if (k < 70)
        return 1 + rng_below(r, 1032);              /* thread cache */
    if (k < 95)
        return 1033 + rng_below(r, 60 * KiB);       /* bins */
    return 200 * KiB + rng_below(r, 100 * KiB);     /* mmap */
}

static void *hammer(void *arg)
{
    uint64_t r = 0xabcdefull + (uint64_t)(intptr_t)arg;
    /* On a small machine four busy hammers would starve the forking
     * thread and its children; a lower priority leaves them the CPU
     * whenever they want it, and the hammers the rest. */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0) {
        /* not fatal: only slower */
    }
    enum { HOLD = 64 };
    void *held[HOLD] = { 0 };
    while (!atomic_load(&stop)) {
        size_t i = rng_below(&r, HOLD);
        if (held[i] == NULL) {
            size_t size = hammer_size(&r);
            held[i] = malloc(size);
            if (held[i] != NULL)
                memset(held[i], 0x5a, size < 256 ? size : 256);
        } else if (rng_below(&r, 4) == 0) {
            void *q = realloc(held[i], hammer_size(&r));
            if (q != NULL)
                held[i] = q;
        } else {
            free(held[i]);
            held[i] = NULL;
        }
        atomic_fetch_add(&hammer_ops, 1);
    }
    for (size_t i = 0; i < HOLD; i++)
        free(held[i]);
    return NULL;
}

static void *child_thread(void *arg)
{
    (void)arg;
    void *p[32];
    for (int i = 0; i < 32; i++)
        p[i] = malloc((size_t)(i + 1) * 100);
    for (int i = 0; i < 32; i++)
        free(p[i]);
    return pm_thread_arena;
}

/* The child's work: 0 when all is well, else a code naming what failed. */
static int child_work(int n)
{
    alarm(CHILD_TIMEOUT); /* killed by SIGALRM if it hangs */
    enum { N = 40 };
    void *p[N];
    size_t sizes[N];
    for (int i = 0; i < N; i++) {
        if (i < 20)
            sizes[i] = 8 + (size_t)i * 48;               /* thread cache */
        else if (i < 35)
            sizes[i] = 2000 + (size_t)i * 1000;          /* bins */
        else
            sizes[i] = 300 * KiB + (size_t)i * 4 * KiB;  /* mmap */
        p[i] = malloc(sizes[i]);
        if (p[i] == NULL)
            return 2;
        memset(p[i], i, sizes[i]);
    }
    for (int i = 0; i < N; i += 2)
        free(p[i]);
    for (int i = 0; i < N; i += 2) {
        p[i] = calloc(1, sizes[i]);
        if (p[i] == NULL)
            return 3;
        const unsigned char *c = p[i];
        for (size_t k = 0; k < sizes[i]; k++)
            if (c[k] != 0)
                return 4;
    }
    for (int i = 1; i < N; i += 2) {
        const unsigned char *c = p[i];
        for (size_t k = 0; k < sizes[i]; k++)
            if (c[k] != (unsigned char)i)
                return 5;
    }
    for (int i = 0; i < N; i++)
        free(p[i]);
    if (pmalloc_check() != 0)
        return 6;
    /* Every fifth child starts a thread: it must find an arena (a free
     * one: those of the parent's threads are free in the child, and so is
     * the main arena if the child's thread moved on from it to use their
     * free space). */
    if (n % 5 == 0) {
        size_t before = pm_global.narenas;
        pthread_t t;
        if (pthread_create(&t, NULL, child_thread, NULL) != 0)
            return 7;
        void *arena = NULL;
        pthread_join(t, &arena);
        if (arena == NULL || arena == pm_thread_arena)
            return 8;
        if (pm_global.narenas != before)
            return 9; /* it should have reused an inherited arena */
        if (pmalloc_check() != 0)
            return 10;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int forks = argc > 1 ? atoi(argv[1]) : 500;
    signal(SIGALRM, parent_watchdog);

    pthread_t th[HAMMERS];
    for (int i = 0; i < HAMMERS; i++)
        REQUIRE(pthread_create(&th[i], NULL, hammer, (void *)(intptr_t)i) == 0);
    /* Let the hammers get going (and make their arenas). */
    while (atomic_load(&hammer_ops) < 10000)
        sched_yield();

    double t0 = now_sec();
    int bad = 0;
    for (int n = 0; n < forks; n++) {
        alarm(PARENT_TIMEOUT);
        fflush(NULL);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            signal(SIGALRM, SIG_DFL);
            _exit(child_work(n));
        }
        int status = 0;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            bad++;
            if (WIFSIGNALED(status))
                fprintf(stderr, "child %d (fork %d) killed by signal %d%s\n", (int)pid, n, WTERMSIG(status),
                        WTERMSIG(status) == SIGALRM ? " (child watchdog: it hung, deadlock after fork)" : "");
            else
                fprintf(stderr, "child %d (fork %d) exited with %d\n", (int)pid, n, WEXITSTATUS(status));
            if (bad > 5)
                break;
        }
        /* Keep within time: a slow machine does fewer forks. */
        if (now_sec() - t0 > 40 && n >= 50) {
            fprintf(stderr, "time limit: stopped after %d forks\n", n + 1);
            break;
        }
    }
    CHECK_EQ_SIZE(bad, 0);
    fprintf(stderr, "%.1f s for the forks; hammer ops %lu\n", now_sec() - t0, atomic_load(&hammer_ops));

    atomic_store(&stop, true);
    for (int i = 0; i < HAMMERS; i++)
        pthread_join(th[i], NULL);
    alarm(0);
    CHECK(pm_global.narenas >= 2);
    CHECK_HEAP();
    return test_finish("test_fork");
}
