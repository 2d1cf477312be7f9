/* mprotect and madvise failures in thread arenas (test_fault_os covers brk,
 * mmap, mremap, munmap, a new thread's first heap, and madvise in the main
 * arena's malloc_trim; this adds what happens to an existing sub-heap):
 *  - a thread's sub-heap cannot grow (mprotect fails, and so does a new
 *    sub-heap): each API is served by the main arena, the thread's heap is
 *    unchanged, and it grows again once mprotect works;
 *  - mprotect, brk and mmap all fail: every API gives NULL with ENOMEM
 *    (posix_memalign returns it), old blocks are intact;
 *  - madvise fails while a sub-heap's top is trimmed (free and
 *    malloc_trim): nothing is released or lost, the heap stays consistent,
 *    and the next trim works.
 * Each part runs in a child, so a fault never leaks into the next. */
#include "enomem.h"

#include <pthread.h>
#include "os.h"

static struct pm_arena *my_arena(void) { return pm_thread_arena; }

struct snap {
    size_t system_mem, heap_size, mprotect_size, nheaps;
};
static struct snap snap_of(struct pm_arena *a)
{
    return (struct snap){ a->system_mem, a->heap->size, a->heap->mprotect_size, a->nheaps };
}
static bool same(struct snap x, struct snap y)
{
    return x.system_mem == y.system_mem && x.heap_size == y.heap_size &&
           x.mprotect_size == y.mprotect_size && x.nheaps == y.nheaps;
}

/* A request too large for the sub-heap's committed part (at first the
 * request that made it plus M_TOP_PAD) but below the mmap threshold,
 * which in_thread raises. */
#define BIG ((size_t)1024 * 1024)

static void check_main_block(void *p, size_t n, uint64_t seed)
{
    CHECK(p != NULL);
    if (p == NULL)
        return;
    CHECK(!chunk_non_main(hdr(p)) && !chunk_is_mmapped(hdr(p)));
    pat_fill(p, n, seed);
}

static void *no_growth(void *arg)
{
    (void)arg;
    void *small = malloc(100);
    REQUIRE(small != NULL && chunk_non_main(hdr(small)));
    pat_fill(small, 100, 1);
    struct pm_arena *a = my_arena();
    REQUIRE(a != MAIN);
    struct snap before = snap_of(a);
    REQUIRE(before.mprotect_size < BIG);

    pm_os_fault(PM_OS_MPROTECT, 0, -1);
    unsigned long calls = pm_os_calls(PM_OS_MPROTECT);
    void *m = malloc(BIG);
    CHECK(pm_os_calls(PM_OS_MPROTECT) > calls); /* growth was tried */
    check_main_block(m, BIG, 2);
    void *c = calloc(1, BIG);
    check_main_block(c, 0, 0);
    CHECK(c == NULL || all_bytes(c, BIG, 0));
    void *al = memalign(4096, BIG);
    check_main_block(al, BIG, 3);
    CHECK(((uintptr_t)al & 4095) == 0);
    void *pm = NULL;
    CHECK(posix_memalign(&pm, 512, BIG) == 0);
    check_main_block(pm, BIG, 4);
    /* realloc moves the thread's block to the main arena */
    void *r = realloc(small, BIG);
    check_main_block(r, 0, 0);
    CHECK(r == NULL || pat_check(r, 100, 1) == 100);
    CHECK(same(before, snap_of(a)));
    CHECK_HEAP();

    /* the arena still serves what fits */
    void *s = malloc(200);
    CHECK(s != NULL && chunk_non_main(hdr(s)));

    pm_os_fault_clear();
    void *g = malloc(BIG);
    CHECK(g != NULL && chunk_non_main(hdr(g)));
    CHECK(a->heap->mprotect_size > before.mprotect_size);
    CHECK(pat_check(m, BIG, 2) == BIG);
    CHECK(pat_check(al, BIG, 3) == BIG);
    CHECK(pat_check(pm, BIG, 4) == BIG);
    free(m), free(c), free(al), free(pm), free(r), free(s), free(g);
    CHECK_HEAP();
    return NULL;
}

static void *nothing_works(void *arg)
{
    (void)arg;
    void *small = malloc(100);
    REQUIRE(small != NULL && chunk_non_main(hdr(small)));
    pat_fill(small, 100, 5);
    struct pm_arena *a = my_arena();
    struct snap before = snap_of(a);

    pm_os_fault(PM_OS_MPROTECT, 0, -1);
    pm_os_fault(PM_OS_BRK, 0, -1);
    pm_os_fault(PM_OS_MMAP, 0, -1);
    pm_os_fault(PM_OS_MREMAP, 0, -1);
    size_t sizes[] = { BIG, 3 * BIG, 16 * MiB };
    for (size_t i = 0; i < 3; i++) {
        size_t n = sizes[i];
        expect_every_api_enomem(n, small);
    }
    CHECK(pat_check(small, 100, 5) == 100);
    CHECK(same(before, snap_of(a)));
    CHECK_HEAP();
    pm_os_fault_clear();
    void *p = malloc(4 * MiB);
    CHECK(p != NULL);
    free(p);
    free(small);
    CHECK_HEAP();
    return NULL;
}

static void *trim_fails(void *arg)
{
    (void)arg;
    /* grow the sub-heap well past the trim threshold, then free it all */
    enum { N = 8 };
    void *v[N];
    for (int i = 0; i < N; i++) {
        v[i] = malloc(60 * KiB);
        REQUIRE(v[i] != NULL && chunk_non_main(hdr(v[i])));
        pat_fill(v[i], 60 * KiB, 10 + (uint64_t)i);
    }
    struct pm_arena *a = my_arena();
    size_t grown = a->heap->size;

    pm_os_fault(PM_OS_MADVISE, 0, -1);
    unsigned long calls = pm_os_calls(PM_OS_MADVISE);
    /* freeing the last block merges it into top, which is then large
     * enough to trim: the shrink fails, nothing changes */
    for (int i = N - 1; i >= 2; i--)
        free(v[i]);
    CHECK(pm_os_calls(PM_OS_MADVISE) > calls);
    CHECK_EQ_SIZE(a->heap->size, grown);
    CHECK_HEAP();
    /* malloc_trim: the sub-heap's top cannot shrink, and the free chunk
     * in the middle (v[0] freed, v[1] kept) cannot be discarded either */
    free(v[0]);
    calls = pm_os_calls(PM_OS_MADVISE);
    CHECK(malloc_trim(0) == 0);
    CHECK(pm_os_calls(PM_OS_MADVISE) > calls);
    CHECK_EQ_SIZE(a->heap->size, grown);
    CHECK(pat_check(v[1], 60 * KiB, 11) == 60 * KiB);
    CHECK_HEAP();
    /* the space is all still there */
    void *again = malloc(5 * 60 * KiB);
    CHECK(again != NULL && chunk_non_main(hdr(again)));
    CHECK_EQ_SIZE(a->heap->size, grown);
    free(again);
    CHECK_HEAP();

    pm_os_fault_clear();
    CHECK(malloc_trim(0) == 1);
    CHECK(a->heap->size < grown);
    CHECK(pat_check(v[1], 60 * KiB, 11) == 60 * KiB);
    free(v[1]);
    CHECK_HEAP();
    return NULL;
}

static void in_thread(void *(*fn)(void *))
{
    /* a first allocation in the main thread, so the thread gets an arena
     * of its own; large blocks come from the heaps, not from mmap */
    free(malloc(16));
    REQUIRE(mallopt(M_MMAP_THRESHOLD, 8 * 1024 * 1024) == 1);
    /* the main arena's trim must not hide a failed trim elsewhere */
    malloc_trim(0);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, fn, NULL) == 0);
    REQUIRE(pthread_join(t, NULL) == 0);
}

static void part_no_growth(void) { in_thread(no_growth); }
static void part_nothing_works(void) { in_thread(nothing_works); }
static void part_trim_fails(void) { in_thread(trim_fails); }

int main(void)
{
    /* Arena behaviour with blocks above 1032 bytes: those must reach the
     * arena, not the thread cache's size classes. */
    REQUIRE(mallopt(PMALLOC_M_TCACHE_MAX, 1032) == 1);
    run_forked_case("no_growth", part_no_growth);
    run_forked_case("nothing_works", part_nothing_works);
    run_forked_case("trim_fails", part_trim_fails);
    return test_finish("test_fault_subheap");
}
