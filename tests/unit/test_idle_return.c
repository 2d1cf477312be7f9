/* The idle return (issue #11): a heap of small blocks freed into the
 * thread cache, and spilled from it into the fast bins, goes back to the
 * system while the program makes nothing but cache hits, once the decay's
 * delay has passed, and not before; PMALLOC_DECAY_MS=-1 keeps it; each
 * call gives back a bounded amount; the arena of a thread that has exited
 * is returned too, and so is what the calling thread's cache took on;
 * the heap walker passes at every step (it checks where the idle return
 * will go on). */
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../harness.h"
#include "pmalloc.h"
#include "internal.h"

#define HEAP_BYTES ((size_t)128 * 1024 * 1024)
#define DELAY_MS 300
#define PAIR_MS 5
#include "idle_heap.h"

static unsigned long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000ull + (unsigned long long)ts.tv_nsec / 1000000ull;
}

/* One malloc/free pair of a size the cache holds many of: a hit. */
static void light_pair(unsigned i)
{
    size_t n = block_size(i);
    char *p = malloc(n);
    REQUIRE(p != NULL);
    memset(p, (int)i, n);
    free(p);
}

struct idle_result {
    size_t rss_end;
    size_t largest_drop; /* between two pairs */
    unsigned long long reached_ms; /* when RSS came within the bound, or 0 */
};

/* Light pairs every PAIR_MS for up to `ms`, stopping once RSS is within
 * `bound` (when non-zero); the walker runs every 20 pairs. */
static struct idle_result idle_for(long ms, size_t bound)
{
    struct idle_result r = {rss_bytes(), 0, 0};
    unsigned long long start = now_ms();
    for (unsigned i = 0; now_ms() - start < (unsigned long long)ms; i++) {
        light_pair(i);
        size_t rss = rss_bytes();
        if (r.rss_end > rss && r.rss_end - rss > r.largest_drop)
            r.largest_drop = r.rss_end - rss;
        r.rss_end = rss;
        if (i % 20 == 0)
            CHECK_HEAP();
        if (bound != 0 && rss <= bound) {
            r.reached_ms = now_ms() - start;
            break;
        }
        sleep_ms(PAIR_MS);
    }
    CHECK_HEAP();
    return r;
}

/* The heap is made by the calling thread, or by a thread that exits
 * before the frees (its arena is then no thread's). */
static void returned_when_idle(bool by_exited_thread)
{
    REQUIRE(mallopt(PMALLOC_M_DECAY_MS, DELAY_MS) == 1);
    size_t base = rss_bytes();
    make_heap(by_exited_thread);
    CHECK_HEAP();
    size_t live = free_most();
    CHECK_HEAP();
    size_t freed_rss = rss_bytes();
    CHECK(freed_rss > base + HEAP_BYTES / 2);

    /* Before the delay: nothing goes back. */
    struct idle_result early = idle_for(DELAY_MS / 2, 0);
    CHECK(early.rss_end + HEAP_BYTES / 16 > freed_rss);

    /* After it: back to within 1.5x the live bytes (above what the
     * process held before), in bounded steps. */
    size_t bound = base + live + live / 2;
    struct idle_result later = idle_for(5000, bound);
    if (later.reached_ms == 0)
        fprintf(stderr, "idle return (%s): %zu KiB resident for %zu KiB live (from %zu KiB)\n",
                by_exited_thread ? "exited thread" : "same thread", (later.rss_end - base) / 1024, live / 1024,
                (freed_rss - base) / 1024);
    if (later.reached_ms == 0 || later.largest_drop > (size_t)10 * 1024 * 1024) {
        fprintf(stderr, "largest drop %zu KiB\n", later.largest_drop / 1024);
        malloc_stats();
    }
    CHECK(later.reached_ms != 0);
    /* the calling thread's cache gave back what its depths grew to while
     * it freed: its small bins hold no more than their starting depths
     * (the exited thread's cache went back when it exited) */
    size_t cache_bound = (size_t)PM_TCACHE_BINS * 7 * PM_TCACHE_MAX_CHUNK;
    if (pm_tcache_bytes() > cache_bound)
        fprintf(stderr, "the caches hold %zu KiB after the idle return\n", pm_tcache_bytes() / 1024);
    CHECK(pm_tcache_bytes() <= cache_bound);
    CHECK(later.largest_drop <= (size_t)10 * 1024 * 1024);

    /* The returned memory serves the program again. */
    size_t again = rss_bytes();
    free_rest();
    allocate_heap(NULL);
    CHECK_HEAP();
    CHECK(rss_bytes() <= freed_rss + HEAP_BYTES / 8);
    CHECK(rss_bytes() > again);
    free_rest();
    CHECK_HEAP();
    /* so the next case's heap is not served by this one's, free and
     * resident, whose pages would not come back when written */
    malloc_trim(0);
}

/* -1: the fast bins and their pages stay as they are. */
static void kept_when_never(void)
{
    REQUIRE(mallopt(PMALLOC_M_DECAY_MS, -1) == 1);
    allocate_heap(NULL);
    size_t in_use = rss_bytes();
    free_most();
    CHECK_HEAP();
    struct idle_result r = idle_for(DELAY_MS * 3, 0);
    CHECK(r.rss_end + HEAP_BYTES / 8 > in_use);
    free_rest();
    CHECK_HEAP();
}

int main(void)
{
    returned_when_idle(false);
    returned_when_idle(true);
    kept_when_never();
    return test_finish("test_idle_return");
}
