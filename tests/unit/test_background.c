/* The background thread (PMALLOC_BACKGROUND_THREAD=1, issue #11): a
 * process that frees most of its heap and then makes no call at all
 * gets it back, which without the thread it does not; in a fork child
 * too (the thread does not survive the fork: the child's next slow call
 * starts another); threads that come and go while it runs leave a heap
 * the walker passes.  The test runs itself again with the option set. */
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../harness.h"
#include "pmalloc.h"

#define HEAP_BYTES ((size_t)64 * 1024 * 1024)
#define DELAY_MS "200"
#define QUIET_MS 1500
#include "idle_heap.h"

/* A heap made again where one was freed is cut in the order the free
 * chunks come, not the address order, so the runs freed together are
 * not whole pages: then only some of it can go back. */
static bool reused_heap;

/* Makes a heap (in a thread that exits, or in this one), frees most of
 * it, makes no call for QUIET_MS; true if RSS came within 2x the live
 * bytes above what the process held before (the calling thread's cache,
 * up to 2 MiB, stays: only its own calls can give it back). */
static bool returned_without_calls(bool by_exited_thread)
{
    size_t base = rss_bytes();
    make_heap(by_exited_thread);
    size_t live = free_most();
    size_t before = rss_bytes();
    REQUIRE(before > base + HEAP_BYTES / 2);
    sleep_ms(QUIET_MS);
    size_t after = rss_bytes();
    bool back = reused_heap ? before - after >= (before - base) / 3 : after <= base + 2 * live;
    if (!back)
        fprintf(stderr, "no calls for %d ms: %zu KiB resident for %zu KiB live (from %zu KiB)\n", QUIET_MS,
                (after - base) / 1024, live / 1024, (before - base) / 1024);
    CHECK_HEAP();
    free_rest();
    CHECK_HEAP();
    return back;
}

static void *churn(void *unused)
{
    (void)unused;
    for (int i = 0; i < 20000; i++)
        free(malloc(block_size((size_t)i)));
    return NULL;
}

static void with_thread(void)
{
    CHECK(returned_without_calls(true));

    /* A fork child makes its own heap, in the free space of the one
     * before, and gets a good part of it back the same way (without the
     * thread, none: the first case above). */
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        malloc_trim(0);
        reused_heap = true;
        _exit(returned_without_calls(false) && pmalloc_check() == 0 ? 0 : 1);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* threads that start, allocate and exit while the thread runs */
    for (int round = 0; round < 10; round++) {
        pthread_t th[4];
        for (int i = 0; i < 4; i++)
            REQUIRE(pthread_create(&th[i], NULL, churn, NULL) == 0);
        for (int i = 0; i < 4; i++)
            REQUIRE(pthread_join(th[i], NULL) == 0);
        sleep_ms(20);
        CHECK_HEAP();
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    if (getenv("PMALLOC_BACKGROUND_THREAD") == NULL) {
        /* Without the thread a process that makes no calls keeps it all. */
        setenv("PMALLOC_DECAY_MS", DELAY_MS, 1);
        CHECK(mallopt(PMALLOC_M_DECAY_MS, atoi(DELAY_MS)) == 1);
        CHECK(!returned_without_calls(false));
        if (harness_failures != 0)
            return test_finish("test_background (without the thread)");
        setenv("PMALLOC_BACKGROUND_THREAD", "1", 1);
        execv("/proc/self/exe", argv);
        perror("execv");
        return 1;
    }
    with_thread();
    return test_finish("test_background");
}
