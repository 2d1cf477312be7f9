/* Fault injection through the OS layer (os.h): every system call the
 * allocator makes can fail, and each failure must give a clean error (NULL
 * and ENOMEM) or a working fallback, never a broken heap or lost data.
 *
 * Each scenario runs in a child process of its own (a single-threaded
 * fork), so the arena flags and thresholds one leaves behind do not leak
 * into the next; the thread cache is off in every one (the children
 * inherit it from main), so frees reach the arena. */
#include "../helpers.h"

#include <pthread.h>

struct block {
    void *p;
    size_t n;
    uint64_t seed;
};

static void *fill_block(struct block *b, size_t n, uint64_t seed)
{
    b->p = malloc(n);
    b->n = n;
    b->seed = seed;
    if (b->p)
        pat_fill(b->p, n, seed);
    return b->p;
}

static size_t broken_blocks(const struct block *v, size_t count)
{
    size_t bad = 0;
    for (size_t i = 0; i < count; i++)
        if (v[i].p && pat_check(v[i].p, v[i].n, v[i].seed) != v[i].n)
            bad++;
    return bad;
}

static void free_blocks(struct block *v, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(v[i].p);
        v[i].p = NULL;
    }
}

static bool in_brk_area(const void *p, const char *brk_lo, const char *brk_hi)
{
    return (const char *)p >= brk_lo && (const char *)p < brk_hi;
}

/* brk fails from the start: the main arena carries on in mmap'd heaps. */
static void brk_fails(void)
{
    struct block before[8];
    for (int i = 0; i < 8; i++)
        REQUIRE(fill_block(&before[i], 100 + 700 * (size_t)i, 100 + (uint64_t)i));
    char *brk_start = sbrk(0);
    char *brk_lo = (char *)pm_global.sbrk_base_mem;
    unsigned long brk_calls = pm_os_calls(PM_OS_BRK);

    pm_os_fault(PM_OS_BRK, 0, -1);
    enum { N = 300 };
    static struct block v[N];
    size_t outside = 0;
    for (size_t i = 0; i < N; i++) {
        size_t n = (i % 10 == 9) ? 100000 : 1000 + 37 * i;
        REQUIRE(fill_block(&v[i], n, i));
        CHECK(!chunk_is_mmapped(hdr(v[i].p)));
        if (!in_brk_area(v[i].p, brk_lo ? brk_lo : brk_start, brk_start))
            outside++;
    }
    CHECK_HEAP();
    size_t heaps_before_growth = MAIN->nheaps;
    CHECK(pm_os_calls(PM_OS_BRK) > brk_calls);      /* it was tried */
    CHECK((char *)sbrk(0) == brk_start);            /* and never moved */
    CHECK(MAIN->flags & PM_ARENA_NONCONTIGUOUS);
    CHECK(outside > 0);
    CHECK_EQ_SIZE(broken_blocks(v, N), 0);
    CHECK_EQ_SIZE(broken_blocks(before, 8), 0);

    /* free every other block, realloc the rest, and allocate again */
    for (size_t i = 0; i < N; i += 2) {
        free(v[i].p);
        v[i].p = NULL;
    }
    CHECK_HEAP();
    for (size_t i = 1; i < N; i += 2) {
        void *q = realloc(v[i].p, v[i].n * 2);
        REQUIRE(q);
        v[i].p = q;
        CHECK_EQ_SIZE(pat_check(q, v[i].n, v[i].seed), v[i].n);
        v[i].n *= 2;
        pat_fill(q, v[i].n, v[i].seed);
    }
    CHECK_HEAP();
    for (size_t i = 0; i < N; i += 2)
        REQUIRE(fill_block(&v[i], 5000, 7 * i));
    CHECK_HEAP();
    CHECK_EQ_SIZE(broken_blocks(v, N), 0);
    /* 64 MiB more in 100000-byte blocks: the mmap'd heaps double, so
     * there are a few more of them, not one per MiB */
    enum { BIG = 640 };
    static struct block big[BIG];
    for (size_t i = 0; i < BIG; i++)
        REQUIRE(fill_block(&big[i], 100000, 9000 + i));
    CHECK(MAIN->nheaps <= heaps_before_growth + 8);
    CHECK_HEAP();
    CHECK_EQ_SIZE(broken_blocks(big, BIG), 0);
    free_blocks(big, BIG);
    CHECK_HEAP();
    /* trimming an mmap'd heap works without brk too */
    free_blocks(v, N);
    malloc_trim(0);
    CHECK_HEAP();
    CHECK_EQ_SIZE(broken_blocks(before, 8), 0);
    /* and memalign / calloc from those heaps */
    void *a = memalign(4096, 50000);
    char *c = calloc(1000, 50);
    REQUIRE(a && c);
    CHECK(((uintptr_t)a & 4095) == 0);
    CHECK(all_bytes(c, 50000, 0));
    free(a);
    free(c);
    CHECK((char *)sbrk(0) == brk_start);
    pm_os_fault_clear();
    free_blocks(before, 8);
    CHECK_HEAP();
}

/* brk fails: list links into the main arena's older heaps (mmap'd, so
 * no address names their heap) are checked against the last such heap
 * first, as a thread arena's are (heap.c, pm_chunk_owned_locked_slow),
 * not by a walk of the heap list each. */
static void brk_fails_link_hint(void)
{
    pm_os_fault(PM_OS_BRK, 0, -1);
    enum { N = 400 };
    static void *v[N];
    struct pm_heap *first = NULL;
    size_t n = 0;
    /* until a second mmap'd heap opens: the blocks of the first stay */
    for (; n < N && (first == NULL || MAIN->heap == first); n++) {
        v[n] = malloc(20000);
        REQUIRE(v[n] != NULL && !chunk_is_mmapped(hdr(v[n])));
        if (first == NULL && MAIN->heap->kind == PM_HEAP_MMAP)
            first = MAIN->heap;
    }
    REQUIRE(first != NULL && MAIN->heap != first);
    /* every other block of the older heap into the unsorted bin */
    size_t freed = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        if (heap_holds(first, hdr(v[i]), csize(v[i]))) {
            free(v[i]);
            v[i] = NULL;
            freed++;
        }
    REQUIRE(freed >= 4);
    pm_link_hint_clear(MAIN);
    /* a request none of them fits sorts them into their bin: links
     * followed into the older heap */
    void *big = malloc(100000);
    REQUIRE(big != NULL);
    CHECK(MAIN->owned_hint == first);
    CHECK_HEAP();
    free(big);
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    CHECK_HEAP();
    pm_os_fault_clear();
}

/* brk fails while top is a header short of two minimal chunks: the heap
 * closes with its fenceposts and a sliver too small to be a chunk, and
 * the block before old top can still be freed and merged (it once read
 * past the heap's end: python3 under valgrind, whose brk is short). */
static void brk_fails_small_top(void)
{
    REQUIRE(mallopt(M_MMAP_THRESHOLD, 1024 * 1024) == 1);
    void *last = NULL;
    for (int tries = 0; tries < 8 && top_size(MAIN) != 3 * PM_CHUNK_HDR; tries++) {
        size_t top = top_size(MAIN);
        REQUIRE(top > 3 * PM_CHUNK_HDR + PM_MINSIZE);
        /* a chunk of top minus 48 bytes, from top if no bin has one */
        last = malloc(top - 3 * PM_CHUNK_HDR - PM_SIZE_SZ);
        REQUIRE(last != NULL);
        pat_fill(last, csize(last) - PM_SIZE_SZ, 77);
    }
    REQUIRE(top_size(MAIN) == 3 * PM_CHUNK_HDR);
    REQUIRE(chunk_next(hdr(last)) == MAIN->top);
    CHECK_HEAP();

    pm_os_fault(PM_OS_BRK, 0, -1);
    struct block after;
    REQUIRE(fill_block(&after, 5000, 78));
    CHECK(MAIN->flags & PM_ARENA_NONCONTIGUOUS);
    CHECK_HEAP();
    CHECK_EQ_SIZE(pat_check(last, csize(last) - PM_SIZE_SZ, 77), csize(last) - PM_SIZE_SZ);
    free(last);                      /* merges with what follows it */
    CHECK_HEAP();
    CHECK_EQ_SIZE(broken_blocks(&after, 1), 0);
    free_blocks(&after, 1);
    pm_os_fault_clear();
    CHECK_HEAP();
}

/* brk and mmap both fail: NULL and ENOMEM from every entry point, the
 * heap walker clean, the earlier blocks intact; then service resumes. */
static void brk_and_mmap_fail(void)
{
    REQUIRE(mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1);
    struct block keep[12];
    for (int i = 0; i < 12; i++)
        REQUIRE(fill_block(&keep[i], i % 3 == 0 ? 300000 : 2000 + 1000 * (size_t)i,
                           500 + (uint64_t)i));
    CHECK(chunk_is_mmapped(hdr(keep[0].p)));
    malloc_trim(0);                /* top is small: big requests must grow */
    CHECK_HEAP();

    pm_os_fault(PM_OS_BRK, 0, -1);
    pm_os_fault(PM_OS_MMAP, 0, -1);
    pm_os_fault(PM_OS_MREMAP, 0, -1);
    static const size_t sizes[] = {50000, 100000, 200000, 2 * MiB};
    for (size_t i = 0; i < 4; i++) {
        errno = 0;
        CHECK(malloc(sizes[i]) == NULL);
        CHECK(errno == ENOMEM);
        errno = 0;
        CHECK(calloc(1, sizes[i]) == NULL);
        CHECK(errno == ENOMEM);
        errno = 0;
        CHECK(memalign(256, sizes[i]) == NULL);
        CHECK(errno == ENOMEM);
        errno = 0;
        CHECK(aligned_alloc(64, sizes[i]) == NULL);
        CHECK(errno == ENOMEM);
        errno = 0;
        CHECK(valloc(sizes[i]) == NULL);
        CHECK(errno == ENOMEM);
        void *p = (void *)&keep;
        CHECK(posix_memalign(&p, 64, sizes[i]) == ENOMEM);
        CHECK(p == (void *)&keep);
        CHECK_HEAP();
    }
    /* realloc that would need new memory fails and keeps the block, both a
     * heap block and a mmapped one */
    for (int i = 0; i < 2; i++) {
        struct block *b = &keep[i];   /* 0: mmapped, 1: heap */
        errno = 0;
        CHECK(realloc(launder(b->p), 4 * MiB) == NULL);
        CHECK(errno == ENOMEM);
        CHECK_EQ_SIZE(pat_check(b->p, b->n, b->seed), b->n);
    }
    /* fill top and the bins until the arena is out: then NULL too */
    void *small[4096];
    size_t ns = 0;
    while (ns < 4096 && (small[ns] = malloc(200)) != NULL)
        ns++;
    CHECK(ns < 4096);
    CHECK(errno == ENOMEM);
    CHECK_HEAP();
    CHECK_EQ_SIZE(broken_blocks(keep, 12), 0);
    /* freeing makes room again, without the system */
    for (size_t i = 0; i < ns; i++)
        free(small[i]);
    CHECK_HEAP();
    void *again = malloc(200);
    CHECK(again != NULL);
    free(again);

    pm_os_fault_clear();
    for (size_t i = 0; i < 4; i++) {
        void *p = malloc(sizes[i]);
        CHECK(p != NULL);
        if (p)
            memset(p, 1, sizes[i]);
        free(p);
    }
    void *r = realloc(keep[1].p, 4 * MiB);
    REQUIRE(r);
    keep[1].p = r;
    CHECK_EQ_SIZE(pat_check(r, keep[1].n, keep[1].seed), keep[1].n);
    CHECK_HEAP();
    CHECK_EQ_SIZE(broken_blocks(keep, 12), 0);
    free_blocks(keep, 12);
    CHECK_HEAP();
}

/* The n-th mmap fails: with brk working the request falls back to the
 * heap; with brk failing too, that one call fails and the next succeed. */
static void nth_mmap_fails(void)
{
    REQUIRE(mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1);
    malloc_trim(0);
    /* brk working: a mapping failure is not an error */
    pm_os_fault(PM_OS_MMAP, 0, 1);
    void *p = malloc(300000);
    CHECK(p != NULL);
    if (p) {
        CHECK(!chunk_is_mmapped(hdr(p)));
        memset(p, 2, 300000);
    }
    pm_os_fault_clear();
    free(p);
    CHECK_HEAP();
    malloc_trim(0);

    /* how many mappings one failing large request tries */
    pm_os_fault(PM_OS_BRK, 0, -1);
    pm_os_fault(PM_OS_MMAP, 0, -1);
    unsigned long m0 = pm_os_calls(PM_OS_MMAP);
    errno = 0;
    CHECK(malloc(300000) == NULL);
    CHECK(errno == ENOMEM);
    long per_call = (long)(pm_os_calls(PM_OS_MMAP) - m0);
    CHECK(per_call >= 1);
    pm_os_fault_clear();

    /* the third large request's mappings fail, the others are served */
    pm_os_fault(PM_OS_BRK, 0, -1);
    pm_os_fault(PM_OS_MMAP, 2, per_call);
    struct block v[6];
    for (int i = 0; i < 6; i++) {
        errno = 0;
        fill_block(&v[i], 300000 + 4096 * (size_t)i, 900 + (uint64_t)i);
        if (i == 2) {
            CHECK(v[i].p == NULL);
            CHECK(errno == ENOMEM);
        } else {
            CHECK(v[i].p != NULL);
            if (v[i].p)
                CHECK(chunk_is_mmapped(hdr(v[i].p)));
        }
        CHECK_HEAP();
    }
    CHECK_EQ_SIZE(broken_blocks(v, 6), 0);
    pm_os_fault_clear();
    free_blocks(v, 6);
    CHECK_HEAP();
}

/* mremap fails while a mmapped block is resized: realloc still succeeds
 * by moving it, or fails with the block intact. */
static void mremap_fails(void)
{
    REQUIRE(mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1);
    struct block b;
    REQUIRE(fill_block(&b, MiB, 77));
    REQUIRE(chunk_is_mmapped(hdr(b.p)));
    pm_os_fault(PM_OS_MREMAP, 0, -1);
    unsigned long r0 = pm_os_calls(PM_OS_MREMAP);
    void *q = realloc(launder(b.p), 4 * MiB);
    CHECK(pm_os_calls(PM_OS_MREMAP) > r0);
    if (q != NULL) {
        CHECK_EQ_SIZE(pat_check(q, MiB, 77), MiB);
        CHECK(malloc_usable_size(q) >= 4 * MiB);
        memset((char *)q + MiB, 3, 3 * MiB);
        b.p = q;
        b.n = MiB;
    } else {
        CHECK(errno == ENOMEM);
        CHECK_EQ_SIZE(pat_check(b.p, MiB, 77), MiB);
    }
    CHECK_HEAP();
    /* shrinking with mremap failing keeps the block (it is big enough) */
    void *s = realloc(b.p, 512 * KiB);
    REQUIRE(s != NULL);
    CHECK_EQ_SIZE(pat_check(s, 512 * KiB, 77), 512 * KiB);
    CHECK_HEAP();
    pm_os_fault_clear();
    free(s);
    CHECK_HEAP();
}

/* munmap fails: free must not crash, keeps errno, and the heap stays
 * consistent; later frees and trims work. */
static void munmap_fails(void)
{
    REQUIRE(mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1);
    void *p = malloc(MiB), *q = malloc(2 * MiB);
    REQUIRE(p && q && chunk_is_mmapped(hdr(p)));
    memset(p, 4, MiB);
    pm_os_fault(PM_OS_MUNMAP, 0, 1);
    errno = 4242;
    free(p);
    CHECK(errno == 4242);
    CHECK_HEAP();
    free(q);                       /* the fault is used up: this one works */
    CHECK_HEAP();
    /* a failing munmap during the trim of an mmap'd heap (brk off) */
    pm_os_fault(PM_OS_BRK, 0, -1);
    struct block v[40];
    for (int i = 0; i < 40; i++)
        REQUIRE(fill_block(&v[i], 30000, 1000 + (uint64_t)i));
    for (int i = 20; i < 40; i++) {
        free(v[i].p);
        v[i].p = NULL;
    }
    pm_os_fault(PM_OS_MUNMAP, 0, -1);
    malloc_trim(0);
    CHECK_HEAP();
    CHECK_EQ_SIZE(broken_blocks(v, 20), 0);
    pm_os_fault_clear();
    for (int i = 20; i < 40; i++)
        REQUIRE(fill_block(&v[i], 30000, 2000 + (uint64_t)i));
    CHECK_EQ_SIZE(broken_blocks(v, 40), 0);
    free_blocks(v, 40);
    malloc_trim(0);
    CHECK_HEAP();
}

/* madvise (and brk shrinking) fail inside malloc_trim. */
static void trim_faults(void)
{
    REQUIRE(mallopt(M_MMAP_THRESHOLD, 1024 * 1024) == 1);
    struct block v[40];
    for (int i = 0; i < 40; i++)
        REQUIRE(fill_block(&v[i], 20000, 3000 + (uint64_t)i));
    for (int i = 0; i < 40; i += 2) {
        free(v[i].p);
        v[i].p = NULL;
    }
    pm_os_fault(PM_OS_MADVISE, 0, -1);
    unsigned long m0 = pm_os_calls(PM_OS_MADVISE);
    malloc_trim(0);
    CHECK(pm_os_calls(PM_OS_MADVISE) > m0);
    CHECK_HEAP();
    CHECK_EQ_SIZE(broken_blocks(v, 40), 0);
    pm_os_fault_clear();
    /* the free chunks are still whole and reusable */
    for (int i = 0; i < 40; i += 2)
        REQUIRE(fill_block(&v[i], 20000, 4000 + (uint64_t)i));
    CHECK_HEAP();
    CHECK_EQ_SIZE(broken_blocks(v, 40), 0);

    /* shrinking the break fails: top stays as it was */
    free_blocks(v, 40);
    pm_os_fault(PM_OS_BRK, 0, -1);
    size_t top = chunk_size(MAIN->top);
    char *brk = sbrk(0);
    malloc_trim(0);
    CHECK((char *)sbrk(0) == brk);
    CHECK_EQ_SIZE(chunk_size(MAIN->top), top);
    CHECK_HEAP();
    pm_os_fault_clear();
    CHECK(malloc_trim(0) == 1);
    CHECK((char *)sbrk(0) < brk);
    CHECK_HEAP();
}

/* mprotect fails: a new thread's arena cannot be made or grown; the
 * thread is served elsewhere or gets NULL/ENOMEM, never a broken heap. */
static void *thread_body(void *arg)
{
    size_t *failures = arg;
    struct block v[200];
    for (int i = 0; i < 200; i++) {
        errno = 0;
        fill_block(&v[i], 100 + 5000 * (size_t)(i % 7), 5000 + (uint64_t)i);
        if (v[i].p == NULL && errno != ENOMEM)
            (*failures)++;
    }
    if (broken_blocks(v, 200))
        (*failures)++;
    free_blocks(v, 200);
    return NULL;
}

/* One thread runs thread_body to its end and finds nothing wrong. */
static void check_thread_body(void)
{
    pthread_t th;
    size_t failures = 0;
    REQUIRE(pthread_create(&th, NULL, thread_body, &failures) == 0);
    REQUIRE(pthread_join(th, NULL) == 0);
    CHECK(failures == 0);
    CHECK_HEAP();
}

static void mprotect_fails(void)
{
    pm_os_fault(PM_OS_MPROTECT, 0, -1);
    for (int t = 0; t < 3; t++)
        check_thread_body();
    /* and once the arena exists, its growth fails instead */
    pm_os_fault_clear();
    pm_os_fault(PM_OS_MPROTECT, 1, -1);
    check_thread_body();
    pm_os_fault_clear();
}

int main(void)
{
    no_tcache();
    run_forked_case("brk_fails", brk_fails);
    run_forked_case("brk_fails_small_top", brk_fails_small_top);
    run_forked_case("brk_fails_link_hint", brk_fails_link_hint);
    run_forked_case("brk_and_mmap_fail", brk_and_mmap_fail);
    run_forked_case("nth_mmap_fails", nth_mmap_fails);
    run_forked_case("mremap_fails", mremap_fails);
    run_forked_case("munmap_fails", munmap_fails);
    run_forked_case("trim_faults", trim_faults);
    run_forked_case("mprotect_fails", mprotect_fails);
    CHECK_HEAP();
    return test_finish("test_fault_os");
}
