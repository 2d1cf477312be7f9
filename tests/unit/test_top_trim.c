/* Trimming the top of the main arena: free past M_TRIM_THRESHOLD gives the
 * break back, M_TOP_PAD is added on growth and kept on trim, and the
 * return value of malloc_trim (facts §2 systrim, §5, §7). */
#include "../helpers.h"

static void test_trim_on_free(void)
{
    /* keep 1 MiB requests on the heap */
    REQUIRE(mallopt(M_MMAP_THRESHOLD, 8 << 20) == 1);
    CHECK_EQ_SIZE(pm_opt.trim_threshold, 128 * KiB);
    void *p = malloc(MiB);
    REQUIRE(p && !chunk_is_mmapped(hdr(p)));
    REQUIRE(chunk_next(hdr(p)) == MAIN->top);
    memset(p, 1, MiB);
    char *brk_high = sbrk(0);
    unsigned long brk_calls = pm_os_calls(PM_OS_BRK);
    free(p);
    CHECK_HEAP();
    char *brk_low = sbrk(0);
    CHECK(brk_low < brk_high);
    CHECK(pm_os_calls(PM_OS_BRK) > brk_calls);
    /* all but top_pad (and less than a page more) went back */
    size_t top = chunk_size(MAIN->top);
    CHECK(top >= pm_opt.top_pad);
    CHECK(top <= pm_opt.top_pad + PM_MINSIZE + pm_page_size());
    CHECK((size_t)(brk_high - brk_low) >= MiB - pm_opt.top_pad - pm_page_size());
    /* the break still ends exactly at the end of top */
    CHECK((char *)MAIN->top + top == brk_low);

    /* a raised threshold stops the trim of the same kind of free */
    REQUIRE(mallopt(M_TRIM_THRESHOLD, 4 << 20) == 1);
    CHECK_EQ_SIZE(pm_opt.trim_threshold, 4 * MiB);
    p = malloc(2 * MiB);
    REQUIRE(p && !chunk_is_mmapped(hdr(p)));
    char *brk2 = sbrk(0);
    free(p);
    CHECK_HEAP();
    CHECK((char *)sbrk(0) == brk2);
    CHECK(chunk_size(MAIN->top) >= 2 * MiB);
    REQUIRE(mallopt(M_TRIM_THRESHOLD, 128 * 1024) == 1);
    malloc_trim(0);
    CHECK_HEAP();
}

/* Growth asks for nb + top_pad + MINSIZE minus the old top, page-rounded,
 * so the top left after the allocation is top_pad + MINSIZE + <1 page.
 * Trimming keeps top_pad (plus MINSIZE and less than a page). */
static void check_pad(size_t pad)
{
    REQUIRE(mallopt(M_TOP_PAD, (int)pad) == 1);
    CHECK_EQ_SIZE(pm_opt.top_pad, pad);
    size_t req = 3 * MiB;
    REQUIRE(chunk_size(MAIN->top) < req);  /* must grow */
    void *p = malloc(req);
    REQUIRE(p && !chunk_is_mmapped(hdr(p)));
    CHECK_HEAP();
    size_t top = chunk_size(MAIN->top);
    if (top < pad + PM_MINSIZE || top >= pad + PM_MINSIZE + pm_page_size())
        fprintf(stderr, "pad %zu: top after growth %zu\n", pad, top);
    CHECK(top >= pad + PM_MINSIZE);
    CHECK(top < pad + PM_MINSIZE + pm_page_size());
    free(p);
    CHECK_HEAP();
    top = chunk_size(MAIN->top);
    if (top < pad || top > pad + PM_MINSIZE + pm_page_size())
        fprintf(stderr, "pad %zu: top after trim %zu\n", pad, top);
    CHECK(top >= pad);
    CHECK(top <= pad + PM_MINSIZE + pm_page_size());
}

static void test_top_pad(void)
{
    malloc_trim(0);
    check_pad(512 * KiB);
    check_pad(0);
    check_pad(64 * KiB);
    check_pad(128 * KiB);
}

/* A free chunk with whole pages in it, in a bin: malloc_trim gives its
 * pages back (madvise) and returns 1. */
static void test_malloc_trim_return(void)
{
    enum { N = 40 };
    void *v[N];
    for (int i = 0; i < N; i++) {
        v[i] = malloc(20000);
        REQUIRE(v[i]);
        memset(v[i], 0x77, 20000);
    }
    for (int i = 0; i < N; i += 2)
        free(v[i]);
    CHECK_HEAP();
    unsigned long madv = pm_os_calls(PM_OS_MADVISE);
    CHECK(malloc_trim(0) == 1);
    CHECK(pm_os_calls(PM_OS_MADVISE) > madv);
    CHECK_HEAP();
    /* the blocks still in use kept their contents */
    int bad = 0;
    for (int i = 1; i < N; i += 2)
        if (!all_bytes(v[i], 20000, 0x77))
            bad++;
    CHECK(bad == 0);
    /* the discarded pages read as zero, and the free chunks are still
     * whole (links and boundary tags survived) */
    mchunk *c = hdr(v[2]);
    CHECK(!chunk_inuse(c));
    char *page = (char *)align_up((uintptr_t)c + 4096, 4096);
    CHECK(all_bytes(page, 4096, 0));

    /* everything freed: all merges into top, the first trim gives the top
     * back, a second one has nothing left to do */
    for (int i = 1; i < N; i += 2)
        free(v[i]);
    CHECK_HEAP();
    CHECK(malloc_trim(0) == 1);
    CHECK_HEAP();
    CHECK(chunk_size(MAIN->top) < pm_page_size() + PM_MINSIZE + 1);
    CHECK(malloc_trim(0) == 0);
    CHECK(malloc_trim(0) == 0);
    /* with a pad, a trim that would keep more than top has is a no-op too */
    CHECK(malloc_trim(1 << 20) == 0);
    CHECK_HEAP();
    /* and service resumes */
    void *p = malloc(5000);
    REQUIRE(p);
    memset(p, 3, 5000);
    free(p);
    CHECK_HEAP();
}

int main(void)
{
    no_tcache();
    CHECK_HEAP();
    test_trim_on_free();
    test_top_pad();
    test_malloc_trim_return();
    return test_finish("test_top_trim");
}
