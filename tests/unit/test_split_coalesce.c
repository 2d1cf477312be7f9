/* Coalescing of neighbours, merging into top, splitting a larger free
 * chunk (remainder and last_remainder), and the fast-bin path with its
 * consolidation (facts §1, §2). */
#include "../helpers.h"

/* n blocks of `req` bytes, each physically right after the previous one;
 * REQUIREs the adjacency the tests below depend on. */
static void alloc_run(void **out, size_t n, size_t req)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = malloc(req);
        REQUIRE(out[i] != NULL);
        REQUIRE(!chunk_is_mmapped(hdr(out[i])));
        if (i > 0)
            REQUIRE(chunk_next(hdr(out[i - 1])) == hdr(out[i]));
    }
}

/* G A B C: free B then A -> one free chunk A of both sizes. */
static void test_merge_forward(void)
{
    void *b[4];
    alloc_run(b, 4, 500);
    mchunk *a = hdr(b[1]), *bb = hdr(b[2]), *c = hdr(b[3]);
    size_t sa = chunk_size(a), sb = chunk_size(bb);
    CHECK_EQ_SIZE(sa, 512);

    free(b[2]);
    CHECK_HEAP();
    CHECK(!chunk_inuse(bb));
    CHECK(!chunk_prev_inuse(c));            /* the in-use bit lives in C */
    CHECK_EQ_SIZE(chunk_prev_size(c), sb);  /* boundary tag */
    CHECK(chunk_bin(MAIN, bb) == PM_UNSORTED_BIN);
    CHECK(chunk_inuse(a));

    free(b[1]);
    CHECK_HEAP();
    CHECK_EQ_SIZE(chunk_size(a), sa + sb);
    CHECK(!chunk_inuse(a));
    CHECK(chunk_prev_inuse(a));             /* G is still in use */
    CHECK_EQ_SIZE(chunk_prev_size(c), sa + sb);
    CHECK(chunk_bin(MAIN, a) == PM_UNSORTED_BIN);
    CHECK(chunk_bin(MAIN, bb) == -1);       /* absorbed, in no bin any more */

    free(b[0]);
    free(b[3]);
    CHECK_HEAP();
}

/* G A B C: free A then B -> B merges backwards into A; then free C too
 * with a guard after it: all three become one chunk. */
static void test_merge_backward_and_both(void)
{
    void *b[5];
    alloc_run(b, 5, 700);
    mchunk *a = hdr(b[1]), *bb = hdr(b[2]), *c = hdr(b[3]);
    size_t s = chunk_size(a);

    free(b[1]);
    free(b[2]);
    CHECK_HEAP();
    CHECK_EQ_SIZE(chunk_size(a), 2 * s);
    CHECK(chunk_bin(MAIN, bb) == -1);
    CHECK(chunk_bin(MAIN, a) == PM_UNSORTED_BIN);

    free(b[3]);  /* free on both sides: A+B before, D (in use) after */
    CHECK_HEAP();
    CHECK_EQ_SIZE(chunk_size(a), 3 * s);
    CHECK(chunk_bin(MAIN, c) == -1);
    CHECK_EQ_SIZE(chunk_prev_size(hdr(b[4])), 3 * s);
    CHECK(!chunk_prev_inuse(hdr(b[4])));

    free(b[0]);
    free(b[4]);
    CHECK_HEAP();
}

/* The block right below top merges into top; so does a free chunk below
 * it (two levels). */
static void test_merge_into_top(void)
{
    void *b[3];
    alloc_run(b, 3, 900);
    REQUIRE(chunk_next(hdr(b[2])) == MAIN->top);
    size_t top_before = chunk_size(MAIN->top);

    free(b[1]);               /* not next to top: goes to a bin */
    CHECK_HEAP();
    CHECK(MAIN->top == chunk_next(hdr(b[2])));
    CHECK(chunk_bin(MAIN, hdr(b[1])) == PM_UNSORTED_BIN);

    free(b[2]);               /* next to top, with a free chunk below */
    CHECK_HEAP();
    CHECK(MAIN->top == hdr(b[1]));
    CHECK(chunk_bin(MAIN, hdr(b[1])) == -1);
    CHECK(chunk_prev_inuse(MAIN->top));  /* top always has PREV_INUSE */
    /* top grew by exactly what was freed into it (trimming is off) */
    CHECK_EQ_SIZE(chunk_size(MAIN->top), top_before + 2 * csize(b[0]));

    free(b[0]);
    CHECK(MAIN->top == hdr(b[0]));
    CHECK_HEAP();
}

/* Splitting: a 3000-byte free chunk serves two 500-byte requests from
 * its front; the rest is the last_remainder in the unsorted bin. */
static void test_split(void)
{
    void *b[3];
    alloc_run(b, 3, 3000);
    mchunk *big = hdr(b[1]);
    size_t bigsz = chunk_size(big);
    free(b[1]);
    CHECK_HEAP();

    void *x = malloc(500);
    CHECK_HEAP();
    CHECK(x == b[1]);                       /* taken from the front */
    CHECK_EQ_SIZE(csize(x), 512);
    mchunk *rem = chunk_at(big, 512);
    CHECK(!chunk_inuse(rem));
    CHECK_EQ_SIZE(chunk_size(rem), bigsz - 512);
    CHECK(chunk_prev_inuse(rem));           /* x is in use */
    CHECK_EQ_SIZE(chunk_prev_size(hdr(b[2])), bigsz - 512);
    CHECK(chunk_bin(MAIN, rem) == PM_UNSORTED_BIN);
    CHECK(MAIN->last_remainder == rem);

    /* the next small request is cut from the last remainder again */
    void *y = malloc(500);
    CHECK_HEAP();
    CHECK(y == chunk_mem(rem));
    mchunk *rem2 = chunk_at(rem, 512);
    CHECK(MAIN->last_remainder == rem2);
    CHECK_EQ_SIZE(chunk_size(rem2), bigsz - 1024);
    CHECK(chunk_bin(MAIN, rem2) == PM_UNSORTED_BIN);

    /* a remainder smaller than MINSIZE is not split off: the whole chunk
     * is handed out */
    size_t left = chunk_size(rem2);
    void *z = malloc(left - 8 - 16);        /* chunk size left - 16 */
    CHECK_HEAP();
    CHECK(z == chunk_mem(rem2));
    CHECK_EQ_SIZE(csize(z), left);
    CHECK(chunk_inuse(hdr(z)));

    free(x);
    free(y);
    free(z);
    free(b[0]);
    free(b[2]);
    CHECK_HEAP();
}

/* Fast bins: chunks of 64 stay "in use" in their fast bin; a large
 * request consolidates them and merges neighbours. */
static void test_fastbins(void)
{
    REQUIRE(mallopt(M_MXFAST, 128) == 1);
    CHECK_EQ_SIZE(pm_opt.max_fast, 128);
    void *g0 = malloc(500);
    void *f[6];
    alloc_run(f, 6, 56);
    void *g1 = malloc(500);
    REQUIRE(g0 && g1);
    CHECK_EQ_SIZE(csize(f[0]), 64);

    for (int i = 0; i < 4; i++)   /* four neighbours f0..f3 */
        free(f[i]);
    CHECK_HEAP();
    unsigned fi = fastbin_index(64);
    for (int i = 0; i < 4; i++) {
        CHECK(chunk_inuse(hdr(f[i])));         /* never marked free */
        CHECK(chunk_in_fastbin(MAIN, fi, hdr(f[i])));
        CHECK(chunk_bin(MAIN, hdr(f[i])) == -1);
        CHECK_EQ_SIZE(csize(f[i]), 64);        /* not merged */
    }
    CHECK(MAIN->have_fastchunks);
    CHECK(MAIN->fastbins[fi] == hdr(f[3]));    /* LIFO head */

    /* a fast chunk next to top stays a fast chunk, too */
    void *t = malloc(40);
    REQUIRE(chunk_next(hdr(t)) == MAIN->top);
    mchunk *top_t = MAIN->top;
    free(t);
    CHECK(MAIN->top == top_t);
    CHECK(chunk_in_fastbin(MAIN, fastbin_index(csize(t)), hdr(t)));
    CHECK_HEAP();

    /* a large request consolidates: fast bins end empty, f0..f3 become one
     * 256-byte free chunk (sorted into its small bin by the scan), and t
     * went back into top */
    void *big = malloc(2000);
    REQUIRE(big);
    CHECK_HEAP();
    CHECK(fastbins_empty(MAIN));
    CHECK(!MAIN->have_fastchunks);
    CHECK_EQ_SIZE(csize(f[0]), 256);
    CHECK(!chunk_inuse(hdr(f[0])));
    CHECK(chunk_bin(MAIN, hdr(f[0])) == (int)bin_index(256));
    CHECK(big == t);  /* t merged into top, and big was cut from top */

    free(big);
    free(f[4]);
    free(f[5]);
    free(g0);
    free(g1);
    malloc_trim(0);
    CHECK_HEAP();
}

/* A free that builds a chunk of 64 KiB or more consolidates the fast
 * bins (FASTBIN_CONSOLIDATION_THRESHOLD). */
static void test_consolidation_threshold(void)
{
    void *g = malloc(500);
    void *f = malloc(24);
    void *g2 = malloc(500);
    void *big = malloc(70000);
    void *g3 = malloc(500);
    REQUIRE(g && f && g2 && big && g3);
    REQUIRE(!chunk_is_mmapped(hdr(big)));
    free(f);
    CHECK(!fastbins_empty(MAIN));
    void *small = malloc(1000);  /* a small request does not consolidate */
    CHECK(!fastbins_empty(MAIN));
    free(small);
    free(big);                   /* merges to >= 64 KiB */
    CHECK_HEAP();
    CHECK(fastbins_empty(MAIN));
    free(g);
    free(g2);
    free(g3);
    CHECK_HEAP();
}

int main(void)
{
    no_tcache();
    /* fast bins off: 500..3000-byte chunks are above their limit anyway,
     * but no stray fast chunk may sit between the blocks of a run */
    REQUIRE(mallopt(M_MXFAST, 0) == 1);
    CHECK(pm_opt.max_fast < PM_MINSIZE);
    /* no trimming while the tests compare top sizes */
    REQUIRE(mallopt(M_TRIM_THRESHOLD, 64 << 20) == 1);
    CHECK_HEAP();
    test_merge_forward();
    test_merge_backward_and_both();
    test_merge_into_top();
    test_split();
    test_fastbins();
    test_consolidation_threshold();
    return test_finish("test_split_coalesce");
}
