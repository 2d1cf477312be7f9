/* Memory of a thread arena goes back to the system (facts §4 heap_trim,
 * shrink_heap; §7 malloc_trim):
 *  - a sub-heap that becomes entirely free is unmapped, the older heap's
 *    free end becomes top and is shrunk, and the resident size falls;
 *  - malloc_trim(0) after fragmentation returns 1 and gives back the
 *    pages inside free chunks in the middle of a heap (RSS falls). */
#include "thr.h"

#define BLOCK (256 * KiB)
#define NBLOCKS 300 /* 75 MiB: more than one 64 MiB sub-heap */

static void *unmap_thread(void *arg)
{
    (void)arg;
    static void *blk[NBLOCKS];
    void *first = malloc(100);
    struct pm_arena *a = pm_thread_arena;
    TCHECK(a != NULL && a != &pm_main_arena);
    if (a == NULL || a == &pm_main_arena)
        return NULL;
    TCHECK(a->nheaps == 1);
    size_t rss0 = rss_bytes();
    unsigned long unmaps0 = pm_os_calls(PM_OS_MUNMAP);

    for (int i = 0; i < NBLOCKS; i++) {
        blk[i] = malloc(BLOCK);
        TCHECK(blk[i] != NULL);
        if (blk[i] == NULL)
            return NULL;
        TCHECK(!chunk_is_mmapped(mem_chunk(blk[i])));
        TCHECK(arena_of_chunk(mem_chunk(blk[i])) == a);
        memset(blk[i], i, BLOCK); /* make it resident */
    }
    size_t heaps_full = a->nheaps;
    size_t rss_full = rss_bytes();
    fprintf(stderr, "after %d x %zu KiB: %zu sub-heaps, RSS %zu -> %zu MiB\n", NBLOCKS, BLOCK / KiB, heaps_full,
            rss0 / MiB, rss_full / MiB);
    TCHECK(heaps_full >= 2);
    TCHECK(rss_full >= rss0 + (size_t)NBLOCKS * BLOCK * 9 / 10);
    size_t problems = pmalloc_check();
    TCHECK(problems == 0);
    /* The walker reports a link-check hint that names no heap of the
     * arena (test_subheap_map: unmapping a heap forgets it). */
    pm_lock(&a->lock);
    struct pm_heap *hint = a->owned_hint;
    a->owned_hint = (struct pm_heap *)((char *)a->heap + PM_HEAP_MAX_SIZE);
    pm_unlock(&a->lock);
    TCHECK(pmalloc_check() == 1);
    pm_lock(&a->lock);
    a->owned_hint = hint;
    pm_unlock(&a->lock);

    for (int i = 0; i < NBLOCKS; i++) {
        if (((unsigned char *)blk[i])[BLOCK - 1] != (unsigned char)i)
            TCHECK(!"block content changed");
        free(blk[i]);
    }
    size_t rss_freed = rss_bytes();
    fprintf(stderr, "after freeing them: %zu sub-heap(s), RSS %zu MiB, system_mem %zu KiB\n", a->nheaps,
            rss_freed / MiB, a->system_mem / KiB);
    TCHECK(a->nheaps == 1);
    TCHECK(pm_os_calls(PM_OS_MUNMAP) > unmaps0);
    /* Most of it is gone: at most 8 MiB stays resident. */
    TCHECK(rss_freed < rss0 + 8 * MiB);
    TCHECK(a->system_mem < 8 * MiB);
    /* The remaining heap shrank the way it grew: what it no longer uses
     * is reserved-only again (inaccessible). */
    TCHECK(a->heap->mprotect_size == a->heap->size);
    problems = pmalloc_check();
    TCHECK(problems == 0);

    /* The arena still works, and can grow a second heap again. */
    for (int i = 0; i < NBLOCKS; i++) {
        blk[i] = malloc(BLOCK);
        TCHECK(blk[i] != NULL);
    }
    TCHECK(a->nheaps >= 2);
    /* Freed newest first this time. */
    for (int i = NBLOCKS - 1; i >= 0; i--)
        free(blk[i]);
    TCHECK(a->nheaps == 1);
    problems = pmalloc_check();
    TCHECK(problems == 0);
    free(first);
    return NULL;
}

/* Fragmentation: 64 KiB blocks between small ones that stay. */
#define NFRAG 200
#define FRAG (64 * KiB)
static void *trim_thread(void *arg)
{
    (void)arg;
    static void *big[NFRAG], *pin[NFRAG];
    free(malloc(10));
    struct pm_arena *a = pm_thread_arena;
    for (int i = 0; i < NFRAG; i++) {
        big[i] = malloc(FRAG);
        pin[i] = malloc(2000);
        TCHECK(big[i] && pin[i]);
        memset(big[i], 0x77, FRAG);
        memset(pin[i], 0x11, 2000);
    }
    for (int i = 0; i < NFRAG; i++) {
        TCHECK(arena_of_chunk(mem_chunk(big[i])) == a);
        TCHECK(!chunk_is_mmapped(mem_chunk(big[i])));
    }
    size_t rss_full = rss_bytes();
    for (int i = 0; i < NFRAG; i++)
        free(big[i]);
    size_t rss_freed = rss_bytes();
    struct arena_tally t = tally_arena(a);
    fprintf(stderr, "fragmented: %zu free chunks, %zu KiB free in bins; RSS %zu -> %zu KiB\n", t.free_chunks,
            t.free_bytes / KiB, rss_full / KiB, rss_freed / KiB);
    TCHECK(t.free_chunks >= NFRAG - 1);
    unsigned long madv0 = pm_os_calls(PM_OS_MADVISE);
    int r = malloc_trim(0);
    size_t rss_trimmed = rss_bytes();
    fprintf(stderr, "malloc_trim(0) = %d; RSS %zu KiB\n", r, rss_trimmed / KiB);
    TCHECK(r == 1);
    TCHECK(pm_os_calls(PM_OS_MADVISE) > madv0);
    /* 200 x 64 KiB freed: at least 3/4 of their pages left */
    TCHECK(rss_trimmed + (size_t)NFRAG * FRAG * 3 / 4 <= rss_freed);
    size_t problems = pmalloc_check();
    TCHECK(problems == 0);
    /* The pinned blocks are intact, the freed space is usable again. */
    for (int i = 0; i < NFRAG; i++) {
        const unsigned char *c = pin[i];
        if (c[0] != 0x11 || c[1999] != 0x11)
            TCHECK(!"a block in use lost its contents to malloc_trim");
    }
    for (int i = 0; i < NFRAG; i++) {
        big[i] = malloc(FRAG);
        TCHECK(big[i] != NULL);
        if (big[i])
            memset(big[i], 0x33, FRAG);
    }
    for (int i = 0; i < NFRAG; i++) {
        free(big[i]);
        free(pin[i]);
    }
    problems = pmalloc_check();
    TCHECK(problems == 0);
    return NULL;
}

static void run(void *(*fn)(void *))
{
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, fn, NULL) == 0);
    pthread_join(t, NULL);
    THR_COLLECT();
}

int main(void)
{
    /* Arena behaviour with blocks above 1032 bytes: those must reach the
     * arena, not the thread cache's size classes. */
    REQUIRE(mallopt(PMALLOC_M_TCACHE_MAX, 1032) == 1);
    /* 256 KiB blocks from the heap, not from mmap. */
    REQUIRE(mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024) == 1);
    run(unmap_thread);
    CHECK_HEAP();
    run(trim_thread);
    CHECK_HEAP();
    return test_finish("test_heap_unmap");
}
