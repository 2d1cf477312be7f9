/* The decay of free pages (PMALLOC_DECAY_MS, issue #11): whole pages
 * inside free chunks away from top go back after the delay, not before;
 * -1 keeps them, 0 returns them at once; the heap walker passes. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../harness.h"
#include "pmalloc.h"

#define BLOCKS 256
#define BLOCK ((size_t)64 * 1024) /* under the mmap threshold: from the heap */

static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (f != NULL) {
        if (fscanf(f, "%lu %lu", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A light call that goes through the merging free path. */
static void light_call(void)
{
    void *p = malloc(20000);
    memset(p, 1, 20000);
    free(p);
}

/* Frees 16 MiB away from top (a guard stays after it) and returns the
 * RSS drop seen after `wait_ms` and a light call. */
static size_t drop_after(int decay_ms, long wait_ms)
{
    REQUIRE(mallopt(PMALLOC_M_DECAY_MS, decay_ms) == 1);
    char *b[BLOCKS];
    for (int i = 0; i < BLOCKS; i++) {
        b[i] = malloc(BLOCK);
        REQUIRE(b[i] != NULL);
        memset(b[i], 7, BLOCK);
    }
    void *guard = malloc(100);
    size_t before = rss_bytes();
    for (int i = 0; i < BLOCKS; i++)
        free(b[i]);
    CHECK_HEAP();
    sleep_ms(wait_ms);
    light_call();
    CHECK_HEAP();
    size_t after = rss_bytes();
    free(guard);
    return before > after ? before - after : 0;
}

int main(void)
{
    /* The light call's free must reach the arena, not the thread cache:
     * the decay runs only on the arena's merging path. */
    REQUIRE(mallopt(PMALLOC_M_TCACHE_MAX, 1024) == 1);
    size_t total = (size_t)BLOCKS * BLOCK;
    /* Never: the pages stay. */
    CHECK(drop_after(-1, 100) < total / 4);
    /* A delay not yet passed: the pages stay. */
    CHECK(drop_after(5000, 10) < total / 4);
    /* At once: at most the budget (8 MiB) per call, so half comes back. */
    size_t d0 = drop_after(0, 0);
    CHECK(d0 >= total / 4);
    /* A small delay, passed: the pages go. */
    mallopt(PMALLOC_M_DECAY_MS, 50);
    light_call();
    sleep_ms(100);
    CHECK(drop_after(50, 100) >= total / 4);
    return test_finish("test_decay");
}
