/* The decay of free pages (PMALLOC_DECAY_MS, issue #11): whole pages
 * inside free chunks away from top go back after the delay, not before;
 * -1 keeps them, 0 returns them at once; a pass is bounded (8 MiB, 1024
 * chunks) and the next one goes on where it stopped, on a 1 GiB heap as
 * on a small one; the heap walker passes. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../harness.h"
#include "pmalloc.h"

/* What one call may give back: a pass's 8 MiB, and some slack for the
 * light call's own pages. */
#define CALL_MOST ((size_t)9 * 1024 * 1024)
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

/* Many separate free chunks: one pass gives back at most its budget, and
 * passes that go on where the last stopped give back all of them (the
 * chunks are more than one pass may look at, so a pass that started
 * again from the first bin would never reach the last ones). */
#define MANY 3000
#define MANY_BLOCK ((size_t)12 * 1024)
static void bounded_passes(void)
{
    REQUIRE(mallopt(PMALLOC_M_DECAY_MS, -1) == 1);
    static char *b[MANY], *sep[MANY];
    for (int i = 0; i < MANY; i++) {
        b[i] = malloc(MANY_BLOCK);
        sep[i] = malloc(64); /* keeps the freed blocks apart */
        REQUIRE(b[i] != NULL && sep[i] != NULL);
        memset(b[i], 7, MANY_BLOCK);
    }
    for (int i = 0; i < MANY; i++)
        free(b[i]);
    CHECK_HEAP();
    size_t before = rss_bytes();
    REQUIRE(mallopt(PMALLOC_M_DECAY_MS, 0) == 1);
    light_call();
    CHECK_HEAP();
    size_t mid = rss_bytes();
    size_t first = before > mid ? before - mid : 0;
    CHECK(first > 0);
    CHECK(first <= CALL_MOST);
    for (int i = 0; i < 12; i++)
        light_call();
    CHECK_HEAP();
    size_t after = rss_bytes();
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    /* each 12 KiB chunk holds at least two whole pages past its links */
    size_t expect = (size_t)MANY * (MANY_BLOCK / page - 1) * page;
    CHECK(before > after && before - after >= expect * 9 / 10);
    for (int i = 0; i < MANY; i++)
        free(sep[i]);
    CHECK_HEAP();
}

/* The same on a 1 GiB heap of separate free chunks: the work of a call
 * stays bounded however big the heap (no call gives back more than a
 * pass's budget), and the passes still reach 90% of the pages. */
#define GIB ((size_t)1 << 30)
#define GIB_BLOCKS (GIB / (MANY_BLOCK + 64 + 32))
static void bounded_on_a_gib_heap(void)
{
    REQUIRE(mallopt(PMALLOC_M_DECAY_MS, -1) == 1);
    static char *b[GIB_BLOCKS], *sep[GIB_BLOCKS];
    for (size_t i = 0; i < GIB_BLOCKS; i++) {
        b[i] = malloc(MANY_BLOCK);
        sep[i] = malloc(64);
        REQUIRE(b[i] != NULL && sep[i] != NULL);
        memset(b[i], 7, MANY_BLOCK);
    }
    for (size_t i = 0; i < GIB_BLOCKS; i++)
        free(b[i]);
    CHECK_HEAP();
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t expect = GIB_BLOCKS * (MANY_BLOCK / page - 1) * page;
    size_t start = rss_bytes(), last = start, largest = 0;
    unsigned calls = 0;
    REQUIRE(mallopt(PMALLOC_M_DECAY_MS, 0) == 1);
    /* at most a pass's 8 MiB a call: 1 GiB takes more than a hundred */
    while (calls < 1000 && (start <= last || start - last < expect * 9 / 10)) {
        light_call();
        calls++;
        size_t now = rss_bytes();
        if (last > now && last - now > largest)
            largest = last - now;
        last = now;
    }
    CHECK_HEAP();
    if (largest > CALL_MOST || start <= last || start - last < expect * 9 / 10)
        fprintf(stderr, "1 GiB heap: %u calls gave back %zu KiB of %zu KiB, at most %zu KiB in one\n", calls,
                start > last ? (start - last) / 1024 : 0, expect / 1024, largest / 1024);
    CHECK(largest <= CALL_MOST);
    CHECK(start > last && start - last >= expect * 9 / 10);
    for (size_t i = 0; i < GIB_BLOCKS; i++)
        free(sep[i]);
    CHECK_HEAP();
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
    /* At once: the merged 16 MiB chunk goes back in one pass. */
    size_t d0 = drop_after(0, 0);
    CHECK(d0 >= total / 4);
    /* A small delay, passed: the pages go. */
    mallopt(PMALLOC_M_DECAY_MS, 50);
    light_call();
    sleep_ms(100);
    CHECK(drop_after(50, 100) >= total / 4);
    bounded_passes();
    bounded_on_a_gib_heap();
    return test_finish("test_decay");
}
