/* Each search path of malloc, in the order of the facts (§2 "malloc
 * order"): fast bin (LIFO), small bin (exact, FIFO), unsorted exact fit,
 * large-bin best fit, binmap scan with a split, top split, top growth by
 * brk, and the sorted large bins with their nextsize skip list. */
#include "../helpers.h"

/* A block, then an in-use guard after it so that nothing merges. */
static void *guarded(size_t req, void **guard)
{
    void *p = malloc(req);
    *guard = malloc(24 + 16 * 20);   /* 352: above the fast-bin limit */
    REQUIRE(p && *guard);
    REQUIRE(!chunk_is_mmapped(hdr(p)));
    return p;
}

/* Frees everything in v[0..n) and lets the bins settle back into top. */
static void release(void **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    malloc_trim(0);
    CHECK_HEAP();
}

static void test_fastbin_lifo(void)
{
    void *g[3];
    void *a = guarded(40, &g[0]);
    void *b = guarded(40, &g[1]);
    void *c = guarded(40, &g[2]);
    free(a);
    free(b);
    free(c);
    CHECK_HEAP();
    CHECK(MAIN->fastbins[fastbin_index(48)] == hdr(c));
    void *x = malloc(40), *y = malloc(40), *z = malloc(40);
    CHECK_HEAP();
    CHECK(x == c);
    CHECK(y == b);
    CHECK(z == a);
    CHECK(MAIN->fastbins[fastbin_index(48)] == NULL);
    void *all[] = {x, y, z, g[0], g[1], g[2]};
    release(all, 6);
}

/* Small bins: filed by a scan, taken as an exact fit, first in first out. */
static void test_smallbin(void)
{
    void *g[4];
    void *a = guarded(300, &g[0]);
    void *b = guarded(300, &g[1]);
    free(a);
    free(b);
    CHECK(chunk_bin(MAIN, hdr(a)) == PM_UNSORTED_BIN);
    CHECK(chunk_bin(MAIN, hdr(b)) == PM_UNSORTED_BIN);
    /* a request that nothing free fits sorts the unsorted bin */
    void *big = guarded(5000, &g[2]);
    CHECK_HEAP();
    unsigned idx = bin_index(csize(a));
    CHECK_EQ_SIZE(csize(a), 320);
    CHECK(idx == 20);  /* 320 / 16 */
    CHECK(chunk_bin(MAIN, hdr(a)) == (int)idx);
    CHECK(chunk_bin(MAIN, hdr(b)) == (int)idx);
    CHECK(binmap_get(MAIN, idx));
    /* exact fit, oldest first */
    void *x = malloc(300);
    CHECK(x == a);
    void *y = malloc(290);   /* same chunk size */
    CHECK(y == b);
    CHECK(bin_empty(bin_at(MAIN, idx)));
    CHECK_HEAP();
    void *all[] = {x, y, big, g[0], g[1], g[2]};
    release(all, 6);
}

static void test_unsorted_exact(void)
{
    void *g[3];
    void *a = guarded(600, &g[0]);
    void *b = guarded(700, &g[1]);
    free(b);
    free(a);
    CHECK(chunk_bin(MAIN, hdr(a)) == PM_UNSORTED_BIN);
    /* the scan starts at the oldest chunk, b: no fit, so it is filed into
     * its small bin; then a is an exact fit and is returned */
    void *x = malloc(600);
    CHECK_HEAP();
    CHECK(x == a);
    CHECK(chunk_bin(MAIN, hdr(b)) == (int)bin_index(csize(b)));
    void *y = malloc(700);
    CHECK(y == b);
    CHECK_HEAP();
    void *all[] = {x, y, g[0], g[1]};
    release(all, 4);
}

/* Best fit inside one large bin (98: chunks 3584..4095), then across bins
 * through the binmap (the smallest big-enough bin). */
static void test_largebin_best_fit(void)
{
    void *g[6];
    void *c1 = guarded(3592, &g[0]);   /* chunk 3600 */
    void *c2 = guarded(3832, &g[1]);   /* chunk 3840 */
    void *c3 = guarded(4072, &g[2]);   /* chunk 4080 */
    /* all blocks first: a guard taken later could be cut from a free one */
    void *d1 = guarded(5000, &g[3]);
    void *d2 = guarded(7000, &g[4]);
    void *d3 = guarded(9000, &g[5]);
    CHECK_EQ_SIZE(csize(c1), 3600);
    CHECK_EQ_SIZE(csize(c2), 3840);
    CHECK_EQ_SIZE(csize(c3), 4080);
    CHECK(bin_index(3600) == 98 && bin_index(4080) == 98);
    free(c3);
    free(c1);
    free(c2);
    void *x = malloc(3692);            /* chunk 3712: 3840 fits best */
    CHECK_HEAP();
    CHECK(x == c2);
    CHECK_EQ_SIZE(csize(x), 3712);
    mchunk *rem = chunk_at(hdr(c2), 3712);
    CHECK_EQ_SIZE(chunk_size(rem), 128);
    CHECK(chunk_bin(MAIN, rem) == PM_UNSORTED_BIN);  /* large-request remainder */
    CHECK(chunk_bin(MAIN, hdr(c1)) == 98);
    CHECK(chunk_bin(MAIN, hdr(c3)) == 98);
    /* sorted by decreasing size */
    CHECK(bin_first(bin_at(MAIN, 98)) == hdr(c3));
    CHECK(bin_last(bin_at(MAIN, 98)) == hdr(c1));

    /* across bins: 5008, 7008 and 9008 are in bins 100, 104 and 108; a
     * 6000-byte request (bin 102) takes 7008, the next bigger one */
    free(d1);
    free(d3);
    free(d2);
    void *sorter = malloc(20000);      /* fits none: files all three */
    CHECK_HEAP();
    CHECK(chunk_bin(MAIN, hdr(d1)) == (int)bin_index(5008));
    CHECK(chunk_bin(MAIN, hdr(d2)) == (int)bin_index(7008));
    CHECK(chunk_bin(MAIN, hdr(d3)) == (int)bin_index(9008));
    void *y = malloc(6000);
    CHECK_HEAP();
    CHECK(y == d2);
    CHECK(chunk_bin(MAIN, hdr(d1)) == (int)bin_index(5008));
    CHECK(chunk_bin(MAIN, hdr(d3)) == (int)bin_index(9008));

    void *all[] = {x, c1, c3, y, d1, d3, sorter, g[0], g[1], g[2], g[3], g[4], g[5]};
    /* c1, c3, d1, d3 are already free: free only the rest */
    free(all[0]);
    free(all[3]);
    release(all + 6, 7);
}

/* Binmap scan: a small request with an empty small bin is cut from the
 * first non-empty larger bin; the rest is the last remainder. */
static void test_binmap_split(void)
{
    void *g[2];
    void *a = guarded(5000, &g[0]);
    free(a);
    void *sorter = malloc(20000);
    CHECK_HEAP();
    unsigned ia = bin_index(csize(a));
    CHECK(chunk_bin(MAIN, hdr(a)) == (int)ia);
    CHECK(binmap_get(MAIN, ia));
    void *x = malloc(1000);            /* chunk 1008, small */
    CHECK_HEAP();
    CHECK(x == a);
    mchunk *rem = chunk_at(hdr(a), 1008);
    CHECK_EQ_SIZE(chunk_size(rem), 5008 - 1008);
    CHECK(chunk_bin(MAIN, rem) == PM_UNSORTED_BIN);
    CHECK(MAIN->last_remainder == rem);
    /* the bin is empty now; its binmap bit may stay set (cleared lazily),
     * but a later scan must not hand out anything from it */
    CHECK(bin_empty(bin_at(MAIN, ia)));
    void *all[] = {x, sorter, g[0]};
    release(all, 3);
}

static void test_top_split(void)
{
    CHECK(free_chunks_main() == 0);  /* so that only top can serve */
    /* make top grow: it gets top_pad extra */
    void *warm = malloc(chunk_size(MAIN->top) + 100);
    REQUIRE(warm && !chunk_is_mmapped(hdr(warm)));
    mchunk *top = MAIN->top;
    size_t tsz = chunk_size(top);
    REQUIRE(tsz > 4096);
    void *p = malloc(2000);
    CHECK_HEAP();
    CHECK(p == chunk_mem(top));
    CHECK(MAIN->top == chunk_at(top, 2016));
    CHECK_EQ_SIZE(chunk_size(MAIN->top), tsz - 2016);
    CHECK(chunk_prev_inuse(MAIN->top));
    free(p);
    CHECK(MAIN->top == top);
    CHECK_EQ_SIZE(chunk_size(MAIN->top), tsz);
    free(warm);
    CHECK_HEAP();
}

static void test_top_growth(void)
{
    unsigned long brk_calls = pm_os_calls(PM_OS_BRK);
    unsigned long mmap_calls = pm_os_calls(PM_OS_MMAP);
    char *brk0 = sbrk(0);
    size_t sys0 = MAIN->system_mem;
    void *v[16];
    size_t n = 0;
    /* 100000-byte chunks are below the mmap threshold: top has to grow */
    while (n < 16 && pm_os_calls(PM_OS_BRK) == brk_calls) {
        v[n] = malloc(100000);
        REQUIRE(v[n] != NULL);
        CHECK(!chunk_is_mmapped(hdr(v[n])));
        n++;
    }
    CHECK_HEAP();
    CHECK(pm_os_calls(PM_OS_BRK) > brk_calls);
    CHECK((char *)sbrk(0) > brk0);
    CHECK(MAIN->system_mem > sys0);
    CHECK(pm_os_calls(PM_OS_MMAP) == mmap_calls);
    CHECK(arena_contiguous(MAIN));
    /* the grown space is contiguous with the old: the blocks follow each
     * other */
    for (size_t i = 1; i < n; i++)
        CHECK(chunk_next(hdr(v[i - 1])) == hdr(v[i]));
    release(v, n);
}

/* Many sizes in one large bin, with duplicates: decreasing order along
 * fd; the first chunk of each size is on the nextsize skip list, the
 * others have NULL nextsize links. */
static void check_large_bin(unsigned i, size_t *nchunks)
{
    mchunk *b = bin_at(MAIN, i);
    size_t prev = SIZE_MAX, n = 0, distinct = 0;
    mchunk *first_of_size = NULL;
    for (mchunk *q = bin_first(b); q != b; q = chunk_fd(q), n++) {
        size_t s = chunk_size(q);
        CHECK(bin_index(s) == i);
        CHECK(s <= prev);
        if (s != prev) {
            distinct++;
            CHECK(chunk_fd_nextsize(q) != NULL && chunk_bk_nextsize(q) != NULL);
            if (first_of_size != NULL)
                CHECK(chunk_fd_nextsize(first_of_size) == q);
            first_of_size = q;
        } else {
            CHECK(chunk_fd_nextsize(q) == NULL && chunk_bk_nextsize(q) == NULL);
        }
        prev = s;
    }
    if (n > 0) {
        /* the skip list is circular over the distinct sizes */
        mchunk *head = bin_first(b);
        CHECK(chunk_fd_nextsize(first_of_size) == head);
        CHECK(chunk_bk_nextsize(head) == first_of_size);
        size_t steps = 0;
        mchunk *q = head;
        do {
            q = chunk_fd_nextsize(q);
            steps++;
        } while (q != head && steps <= distinct);
        CHECK_EQ_SIZE(steps, distinct);
    }
    *nchunks += n;
}

static void test_largebin_order(void)
{
    static const size_t reqs[] = {3592, 3592, 3832, 4072, 3576, 4072, 3700,
                                  3592, 4000, 3832, 3576, 3999};
    enum { N = sizeof reqs / sizeof reqs[0] };
    void *p[N], *g[N];
    for (size_t i = 0; i < N; i++)
        p[i] = guarded(reqs[i], &g[i]);
    for (size_t i = 0; i < N; i++)
        free(p[i]);
    void *sorter = malloc(20000);
    CHECK_HEAP();
    size_t n = 0;
    check_large_bin(98, &n);
    CHECK_EQ_SIZE(n, N);
    for (size_t i = 0; i < N; i++)
        CHECK(chunk_bin(MAIN, hdr(p[i])) == 98);
    /* an equal size goes in after the first of that size: the first freed
     * 3600 stays the skip-list node */
    mchunk *node = NULL;
    for (mchunk *q = bin_first(bin_at(MAIN, 98)); q != bin_at(MAIN, 98); q = chunk_fd(q))
        if (chunk_size(q) == 3600 && chunk_fd_nextsize(q) != NULL)
            node = q;
    CHECK(node == hdr(p[0]));

    /* taking chunks out keeps the list valid (the second of a size is
     * taken first, so the node stays) */
    void *x = malloc(3592);
    CHECK(x != p[0] && csize(x) == 3600);
    CHECK_HEAP();
    n = 0;
    check_large_bin(98, &n);
    CHECK_EQ_SIZE(n, N - 1);
    /* every large bin in the heap is in order */
    n = 0;
    for (unsigned i = 64; i < PM_NBINS - 1; i++)
        check_large_bin(i, &n);
    free(x);
    free(sorter);
    release(g, N);
}

int main(void)
{
    no_tcache();
    REQUIRE(mallopt(M_TRIM_THRESHOLD, 64 << 20) == 1);
    CHECK_HEAP();
    test_fastbin_lifo();
    test_smallbin();
    test_unsorted_exact();
    test_largebin_best_fit();
    test_binmap_split();
    test_top_split();
    test_top_growth();
    test_largebin_order();
    return test_finish("test_malloc_paths");
}
