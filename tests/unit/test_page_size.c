/* The page size is read at run time: built once per size (FAKE_PAGE),
 * this program makes the OS layer pretend the kernel's pages are 16 KiB or
 * 64 KiB before pmalloc starts, then runs a workload over every path that
 * works in pages (valloc and pvalloc, main heap growth and trimming,
 * sub-heaps of thread arenas, chunks served by mmap and their mremap,
 * malloc_trim's discarding of free pages, snapshots).  The faking OS layer
 * refuses and counts every address or length that is not a whole number
 * of faked pages, as a kernel with such pages would: a single 4096 left
 * anywhere shows as a refused call or a misaligned block. */
#include "../helpers.h"

#include <pthread.h>

#ifndef FAKE_PAGE
#error "FAKE_PAGE must be the page size to fake"
#endif

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)

static bool faked;

/* Before pmalloc's own constructor, which starts the allocator. */
__attribute__((constructor(101))) static void fake_page_size(void)
{
    faked = pm_os_fake_page_size(FAKE_PAGE);
}

static bool page_aligned(const void *p) { return ((uintptr_t)p & (FAKE_PAGE - 1)) == 0; }

static void test_started_with_the_fake(void)
{
    REQUIRE(faked);
    CHECK_EQ_SIZE(pm_page_size(), FAKE_PAGE);
    CHECK_EQ_SIZE(pmalloc_layout.page_size, FAKE_PAGE);
    /* once read, the page size never changes */
    CHECK(!pm_os_fake_page_size(2 * FAKE_PAGE));
    CHECK_EQ_SIZE(pm_page_size(), FAKE_PAGE);
    /* only sizes a kernel could have */
    CHECK(pm_os_kernel_page_size() <= FAKE_PAGE);
}

static void test_valloc_pvalloc(void)
{
    static const size_t sizes[] = {1, 100, 4096, FAKE_PAGE - 1, FAKE_PAGE + 1, 3 * FAKE_PAGE};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *v = valloc(sizes[i]);
        void *pv = pvalloc(sizes[i]);
        REQUIRE(v != NULL && pv != NULL);
        CHECK(page_aligned(v));
        CHECK(page_aligned(pv));
        CHECK(malloc_usable_size(pv) >= align_up(sizes[i], FAKE_PAGE));
        memset(v, 1, sizes[i]);
        memset(pv, 2, malloc_usable_size(pv));
        free(v);
        free(pv);
    }
    void *m = memalign(2 * FAKE_PAGE, 10);
    REQUIRE(m != NULL);
    CHECK(((uintptr_t)m & (2 * FAKE_PAGE - 1)) == 0);
    free(m);
    CHECK_HEAP();
}

/* The mapping of a chunk served by mmap starts and ends on a faked page. */
static bool mapping_whole_pages(const void *mem)
{
    mchunk *p = hdr(mem);
    if (!chunk_is_mmapped(p))
        return false;
    const char *map = (const char *)p - chunk_prev_size(p);
    return page_aligned(map) && ((chunk_prev_size(p) + chunk_size(p)) & (FAKE_PAGE - 1)) == 0;
}

static void test_mapped_chunks(void)
{
    void *big = malloc(MiB + 1);
    REQUIRE(big != NULL);
    CHECK(mapping_whole_pages(big));
    memset(big, 3, MiB + 1);
    /* grows and shrinks through mremap, moving if it must */
    void *other = malloc(2 * MiB);
    REQUIRE(other != NULL);
    big = realloc(big, 5 * MiB + 7);
    REQUIRE(big != NULL);
    CHECK(mapping_whole_pages(big));
    CHECK(((unsigned char *)big)[MiB] == 3);
    big = realloc(big, 2 * MiB + 3);
    REQUIRE(big != NULL);
    CHECK(mapping_whole_pages(big));
    void *aligned = memalign(4 * FAKE_PAGE, 3 * MiB);
    REQUIRE(aligned != NULL);
    CHECK(mapping_whole_pages(aligned));
    CHECK(((uintptr_t)aligned & (4 * FAKE_PAGE - 1)) == 0);
    CHECK_HEAP();
    free(aligned);
    free(other);
    free(big);
    CHECK_HEAP();
}

/* Every heap of the arena ends on a faked page, and a sub-heap's
 * committed and accessible sizes are whole pages. */
static bool heaps_in_whole_pages(const struct pm_arena *a)
{
    for (const struct pm_heap *h = a->heap; h != NULL; h = h->prev) {
        if (!page_aligned(heap_end(h)))
            return false;
        if (h->kind == PM_HEAP_SUB &&
            ((h->size | h->mprotect_size) & (FAKE_PAGE - 1)) != 0)
            return false;
    }
    return true;
}

static void test_main_heap_trim(void)
{
    void *blocks[64];
    for (size_t i = 0; i < 64; i++) {
        blocks[i] = malloc(i * 1000 + 100);
        REQUIRE(blocks[i] != NULL);
    }
    /* a large free block inside the heap, held in place by a neighbour:
     * malloc_trim gives its inner pages back */
    void *hole = malloc(100 * KiB);
    void *keep = malloc(100 * KiB);
    REQUIRE(hole != NULL && keep != NULL);
    /* both from top, nothing free being that big */
    REQUIRE(chunk_at(hdr(hole), chunk_size(hdr(hole))) == hdr(keep));
    memset(hole, 4, 100 * KiB);
    for (size_t i = 0; i < 64; i++)
        free(blocks[i]);
    free(hole);
    unsigned long discards = pm_os_calls(PM_OS_MADVISE);
    malloc_trim(0);
    CHECK(pm_os_calls(PM_OS_MADVISE) > discards);
    CHECK(heaps_in_whole_pages(MAIN));
    /* what is left of top is less than a page beyond a minimal top */
    CHECK(chunk_size(MAIN->top) < FAKE_PAGE + PM_MINSIZE + sizeof(struct pm_chunk));
    free(keep);
    CHECK_HEAP();
}

/* The threads end together: an exited thread's arena would be idle, and
 * one still growing could move to it (to use its free space) instead of
 * chaining sub-heaps in its own. */
static pthread_barrier_t threads_done;

/* In a thread arena: grows a sub-heap, chains more (each 64 MiB), frees
 * and trims; returns the number of failed checks. */
static void *thread_work(void *arg)
{
    uintptr_t seed = (uintptr_t)arg;
    uintptr_t failures = 0;
    struct pm_arena *a = NULL;
    enum { NSMALL = 2000, NBIG = 40 };
    static __thread void *small[NSMALL], *bigs[NBIG];
    for (size_t i = 0; i < NSMALL; i++) {
        small[i] = malloc(16 + (i * 37 + seed) % 3000);
        if (small[i] == NULL)
            return pthread_barrier_wait(&threads_done), (void *)(uintptr_t)1000;
    }
    a = arena_of_chunk(hdr(small[0]));
    if (a == &pm_main_arena)
        failures += 100; /* the test is for sub-heaps */
    /* 40 x 2.5 MiB: more than one sub-heap holds */
    for (size_t i = 0; i < NBIG; i++) {
        bigs[i] = malloc(5 * MiB / 2);
        if (bigs[i] == NULL)
            return pthread_barrier_wait(&threads_done), (void *)(uintptr_t)1000;
        memset(bigs[i], (int)i, 64);
        failures += chunk_is_mmapped(hdr(bigs[i]));
    }
    pm_lock(&a->lock);
    failures += a->nheaps < 2;
    failures += !heaps_in_whole_pages(a);
    pm_unlock(&a->lock);
    for (size_t i = 0; i < NSMALL; i += 2)
        free(small[i]);
    for (size_t i = NBIG; i-- > 0;)
        free(bigs[i]);
    for (size_t i = 1; i < NSMALL; i += 4) {
        void *moved = realloc(small[i], 5000);
        if (moved == NULL)
            return pthread_barrier_wait(&threads_done), (void *)(uintptr_t)1000;
        small[i] = moved;
    }
    malloc_trim(0);
    pm_lock(&a->lock);
    failures += !heaps_in_whole_pages(a);
    pm_unlock(&a->lock);
    for (size_t i = 1; i < NSMALL; i += 2)
        free(small[i]);
    pthread_barrier_wait(&threads_done);
    return (void *)failures;
}

static void test_thread_arenas(void)
{
    /* every big block of the threads comes from their sub-heaps */
    REQUIRE(mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024) == 1);
    pthread_t t[3];
    REQUIRE(pthread_barrier_init(&threads_done, NULL, 3) == 0);
    for (uintptr_t i = 0; i < 3; i++)
        REQUIRE(pthread_create(&t[i], NULL, thread_work, (void *)i) == 0);
    for (int i = 0; i < 3; i++) {
        void *failures;
        pthread_join(t[i], &failures);
        CHECK_EQ_SIZE((uintptr_t)failures, 0);
    }
    pthread_barrier_destroy(&threads_done);
    malloc_trim(0);
    CHECK_HEAP();
}

static void test_snapshot(void)
{
    char path[] = "/tmp/pmalloc-pagesizeXXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    unlink(path);
    void *keep = malloc(3 * FAKE_PAGE);
    REQUIRE(keep != NULL);
    memset(keep, 5, 3 * FAKE_PAGE);
    REQUIRE(pmalloc_snapshot(fd) == 0);
    free(keep);
    off_t len = lseek(fd, 0, SEEK_END);
    REQUIRE(len > 0);
    char *text = malloc((size_t)len + 1);
    REQUIRE(text != NULL && pread(fd, text, (size_t)len, 0) == len);
    text[len] = 0;
    close(fd);
    char want[64];
    snprintf(want, sizeof want, "\"page_size\":%zu,", (size_t)FAKE_PAGE);
    CHECK(strstr(text, want) != NULL);
    CHECK(strstr(text, "\"problems\":[]") != NULL);
    CHECK(strstr(text, "\"partial\":false") != NULL);
    /* residency is known, counted in faked pages */
    CHECK(strstr(text, "\"resident_bytes\":") != NULL);
    CHECK(strstr(text, "\"resident_unknown\"") == NULL);
    for (const char *r = strstr(text, "\"resident_bytes\":"); r != NULL; r = strstr(r + 1, "\"resident_bytes\":"))
        CHECK(strtoull(r + strlen("\"resident_bytes\":"), NULL, 10) % FAKE_PAGE == 0);
    free(text);
}

int main(void)
{
    test_started_with_the_fake();
    test_valloc_pvalloc();
    test_mapped_chunks();
    test_main_heap_trim();
    test_thread_arenas();
    test_snapshot();
    /* nothing pmalloc asked of the kernel split a (faked) page */
    CHECK_EQ_SIZE(pm_os_misaligned_calls(), 0);
    CHECK_HEAP();
    char name[64];
    snprintf(name, sizeof name, "test_page_size (%zu KiB pages)", (size_t)FAKE_PAGE / 1024);
    return test_finish(name);
}
