/* Chunks served by mmap: the threshold and its boundary, the dynamic rule
 * (facts §5), M_MMAP_THRESHOLD and M_MMAP_MAX, and realloc by mremap. */
#include "../helpers.h"

static size_t s300;  /* chunk size of the first 300 KiB mmapped block */

static bool is_mmapped(const void *p) { return chunk_is_mmapped(hdr(p)); }

/* Makes top small so that the next big request has to go to sysmalloc:
 * consolidates and trims, and uses up what could not be trimmed. */
static void *eat_top(void)
{
    malloc_trim(0);
    size_t t = chunk_size(MAIN->top);
    if (t < 4096)
        return NULL;
    void *p = malloc(t - 2048);
    REQUIRE(p && !is_mmapped(p));
    REQUIRE(chunk_size(MAIN->top) < 4096);
    return p;
}

static void test_defaults_and_boundary(void)
{
    CHECK_EQ_SIZE(pm_opt.mmap_threshold, 128 * KiB);
    CHECK_EQ_SIZE(pm_opt.trim_threshold, 128 * KiB);
    CHECK_EQ_SIZE(pm_opt.mmap_max, 65536);
    CHECK(!pm_opt.no_dyn_threshold);

    /* bigger than anything top has: mmapped */
    size_t n0 = pm_global.n_mmaps;
    unsigned long maps = pm_os_calls(PM_OS_MMAP);
    void *p = malloc(300 * KiB);
    REQUIRE(p);
    CHECK(is_mmapped(p));
    CHECK(pm_os_calls(PM_OS_MMAP) > maps);
    CHECK_EQ_SIZE(pm_global.n_mmaps, n0 + 1);
    CHECK(ptr_aligned(p));
    /* prev_size is the offset from the page-aligned mapping start (0 in
     * glibc; pmalloc keeps a small link record there); the mapping is
     * nb + 8 page-rounded, give or take that record */
    mchunk *c = hdr(p);
    uintptr_t map = (uintptr_t)c - chunk_prev_size(c);
    size_t len = chunk_prev_size(c) + chunk_size(c);
    CHECK((map & (pm_page_size() - 1)) == 0);
    CHECK((len & (pm_page_size() - 1)) == 0);
    CHECK(chunk_prev_size(c) < 256);
    CHECK(len >= request_to_size(300 * KiB) + 8);
    CHECK(len < request_to_size(300 * KiB) + 8 + 256 + pm_page_size());
    s300 = csize(p);
    CHECK(malloc_usable_size(p) >= 300 * KiB);
    CHECK_EQ_SIZE(malloc_usable_size(p), csize(p) - 16);
    memset(p, 0x33, malloc_usable_size(p));
    CHECK_HEAP();

    /* the boundary is on the chunk size: nb == threshold is mmapped,
     * nb == threshold - 16 is not (with top used up first) */
    void *eaten = eat_top();
    void *at = malloc(128 * KiB - 8);          /* nb = 131072 */
    REQUIRE(at);
    CHECK_EQ_SIZE(request_to_size(128 * KiB - 8), 128 * KiB);
    CHECK(is_mmapped(at));
    void *eaten2 = eat_top();
    void *below = malloc(128 * KiB - 24);      /* nb = 131056 */
    CHECK_EQ_SIZE(request_to_size(128 * KiB - 24), 128 * KiB - 16);
    REQUIRE(below);
    CHECK(!is_mmapped(below));
    /* small requests are never mmapped */
    void *small = malloc(100);
    CHECK(small && !is_mmapped(small));
    CHECK_HEAP();

    /* freeing a mmapped chunk unmaps it */
    unsigned long unmaps = pm_os_calls(PM_OS_MUNMAP);
    free(at);
    CHECK(pm_os_calls(PM_OS_MUNMAP) > unmaps);
    free(below);
    free(small);
    free(eaten);
    free(eaten2);
    free(p);
    CHECK_EQ_SIZE(pm_global.n_mmaps, n0);
    CHECK_HEAP();
}

static void test_dynamic_threshold(void)
{
    /* the 300 KiB free above already raised the threshold to its size */
    CHECK_EQ_SIZE(pm_opt.mmap_threshold, s300);
    CHECK_EQ_SIZE(pm_opt.trim_threshold, 2 * s300);

    void *p = malloc(MiB);
    REQUIRE(p);
    CHECK(is_mmapped(p));
    size_t sz = csize(p);
    CHECK(sz > MiB);
    free(p);
    CHECK_HEAP();
    CHECK_EQ_SIZE(pm_opt.mmap_threshold, sz);
    CHECK_EQ_SIZE(pm_opt.trim_threshold, 2 * sz);

    /* each bigger mmapped chunk raises it again */
    void *eaten = eat_top();
    void *q = malloc(sz + 4096);   /* above the new threshold */
    REQUIRE(q && is_mmapped(q));
    free(q);
    size_t th = pm_opt.mmap_threshold;
    CHECK(th > sz);
    void *r = malloc(th + 4096);
    REQUIRE(r && is_mmapped(r));
    size_t rs = csize(r);
    free(r);
    CHECK_EQ_SIZE(pm_opt.mmap_threshold, rs);
    CHECK(pm_opt.mmap_threshold >= th);

    /* now a 1 MiB request comes from the heap */
    void *h = malloc(MiB);
    REQUIRE(h);
    CHECK(!is_mmapped(h));
    free(h);
    free(eaten);
    CHECK_HEAP();

    /* bounded at 32 MiB: a 40 MiB chunk does not raise it */
    size_t before = pm_opt.mmap_threshold, tbefore = pm_opt.trim_threshold;
    void *huge = malloc(40 * MiB);
    REQUIRE(huge && is_mmapped(huge));
    memset((char *)huge + 40 * MiB - 4096, 1, 4096);
    free(huge);
    CHECK_EQ_SIZE(pm_opt.mmap_threshold, before);
    CHECK_EQ_SIZE(pm_opt.trim_threshold, tbefore);
    /* a 32 MiB - 8 KiB chunk still may (size <= 32 MiB) */
    void *edge = malloc(32 * MiB - 8192 - 24);
    REQUIRE(edge && is_mmapped(edge));
    size_t es = csize(edge);
    CHECK(es <= 32 * MiB);
    free(edge);
    CHECK_EQ_SIZE(pm_opt.mmap_threshold, es);
    CHECK(!pm_opt.no_dyn_threshold);
    CHECK_HEAP();
    malloc_trim(0);
}

static void test_fixed_threshold(void)
{
    REQUIRE(mallopt(M_MMAP_THRESHOLD, 256 * 1024) == 1);
    CHECK_EQ_SIZE(pm_opt.mmap_threshold, 256 * KiB);
    CHECK(pm_opt.no_dyn_threshold);
    size_t trim = pm_opt.trim_threshold;
    void *eaten = eat_top();
    void *p = malloc(4 * MiB);
    REQUIRE(p && is_mmapped(p));
    free(p);
    CHECK_EQ_SIZE(pm_opt.mmap_threshold, 256 * KiB);  /* not raised any more */
    CHECK_EQ_SIZE(pm_opt.trim_threshold, trim);
    void *q = malloc(300 * KiB);
    REQUIRE(q);
    CHECK(is_mmapped(q));
    free(q);
    free(eaten);
    /* above the 32 MiB maximum is rejected */
    CHECK(mallopt(M_MMAP_THRESHOLD, 64 << 20) == 0);
    CHECK_EQ_SIZE(pm_opt.mmap_threshold, 256 * KiB);
    CHECK_HEAP();
}

static void test_mmap_max(void)
{
    REQUIRE(mallopt(M_MMAP_MAX, 0) == 1);
    CHECK_EQ_SIZE(pm_opt.mmap_max, 0);
    size_t n0 = pm_global.n_mmaps;
    unsigned long brk_calls = pm_os_calls(PM_OS_BRK);
    void *p = malloc(8 * MiB);
    REQUIRE(p);
    CHECK(!is_mmapped(p));
    CHECK(pm_os_calls(PM_OS_BRK) > brk_calls);
    CHECK_EQ_SIZE(pm_global.n_mmaps, n0);
    memset(p, 5, 8 * MiB);
    void *al = memalign(4096, 2 * MiB);   /* the aligned path too */
    REQUIRE(al);
    CHECK(!is_mmapped(al));
    CHECK(((uintptr_t)al & 4095) == 0);
    CHECK_HEAP();
    free(al);
    free(p);
    malloc_trim(0);                /* so that top cannot serve 8 MiB */
    REQUIRE(mallopt(M_MMAP_MAX, 65536) == 1);
    void *q = malloc(8 * MiB);
    REQUIRE(q);
    CHECK(is_mmapped(q));
    CHECK_EQ_SIZE(pm_global.n_mmaps, n0 + 1);
    free(q);
    CHECK_HEAP();
}

static void test_mremap(void)
{
    void *p = malloc(4 * MiB);
    REQUIRE(p && is_mmapped(p));
    pat_fill(p, 4 * MiB, 11);
    unsigned long remaps = pm_os_calls(PM_OS_MREMAP);
    void *q = realloc(p, 8 * MiB);
    REQUIRE(q);
    CHECK(pm_os_calls(PM_OS_MREMAP) > remaps);
    CHECK(is_mmapped(q));
    CHECK(malloc_usable_size(q) >= 8 * MiB);
    CHECK_EQ_SIZE(pat_check(q, 4 * MiB, 11), 4 * MiB);
    memset((char *)q + 4 * MiB, 9, 4 * MiB);
    CHECK_HEAP();

    /* shrinking stays mmapped and keeps the front */
    remaps = pm_os_calls(PM_OS_MREMAP);
    void *r = realloc(q, 2 * MiB);
    REQUIRE(r);
    CHECK(is_mmapped(r));
    CHECK(pm_os_calls(PM_OS_MREMAP) > remaps);
    CHECK(csize(r) < 3 * MiB);
    CHECK_EQ_SIZE(pat_check(r, 2 * MiB, 11), 2 * MiB);
    CHECK_HEAP();

    /* the same page count: no system call at all */
    remaps = pm_os_calls(PM_OS_MREMAP);
    size_t us = malloc_usable_size(r);
    void *s = realloc(r, us - 100);
    CHECK(s == r);
    CHECK(pm_os_calls(PM_OS_MREMAP) == remaps);
    CHECK_EQ_SIZE(pat_check(s, 2 * MiB - 4096, 11), 2 * MiB - 4096);
    free(s);
    CHECK_HEAP();
}

int main(void)
{
    no_tcache();
    CHECK_HEAP();
    test_defaults_and_boundary();
    test_dynamic_threshold();
    test_fixed_threshold();
    test_mmap_max();
    test_mremap();
    return test_finish("test_mmap_threshold");
}
