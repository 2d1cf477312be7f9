/* Edge cases and errno of every function of the malloc family (facts
 * §6-7, glibc's manual and its tst-* tests). */
#include "../helpers.h"

#include <stdint.h>

static void test_malloc_edges(void)
{
    /* malloc(0): unique, usable, non-NULL */
    void *z[8];
    for (int i = 0; i < 8; i++) {
        z[i] = malloc(0);
        REQUIRE(z[i] != NULL);
        CHECK(ptr_aligned(z[i]));
        CHECK_EQ_SIZE(csize(z[i]), 32);
        for (int j = 0; j < i; j++)
            CHECK(z[i] != z[j]);
    }
    for (int i = 0; i < 8; i++)
        free(z[i]);
    CHECK_HEAP();

    static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX + 1,
                                  (size_t)PTRDIFF_MAX, SIZE_MAX / 2 - 100};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        errno = 0;
        void *p = malloc(huge[i]);
        CHECK(p == NULL);
        CHECK(errno == ENOMEM);
        free(p);
    }
    CHECK_HEAP();

    free(NULL);
    CHECK_HEAP();

    /* free keeps errno, for heap, fast and mmapped chunks */
    void *a = malloc(100), *b = malloc(5000), *c = malloc(MiB);
    REQUIRE(a && b && c);
    errno = 12345;
    free(a);
    CHECK(errno == 12345);
    free(b);
    CHECK(errno == 12345);
    free(c);
    CHECK(errno == 12345);
    free(NULL);
    CHECK(errno == 12345);
    CHECK_HEAP();

    /* alignment of every plain malloc */
    int bad = 0;
    void *v[200];
    for (int i = 0; i < 200; i++) {
        v[i] = malloc((size_t)i * 37);
        if (!v[i] || !ptr_aligned(v[i]))
            bad++;
    }
    for (int i = 0; i < 200; i++)
        free(v[i]);
    CHECK(bad == 0);
    CHECK_HEAP();
}

static void test_calloc(void)
{
    /* reused dirty memory is cleared, for many sizes and paths */
    static const size_t sizes[] = {1, 24, 40, 72, 100, 200, 500, 1000, 1032,
                                   2000, 5000, 40000, 100000, 300000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        void *g = malloc(64);
        unsigned char *p = malloc(n);
        void *g2 = malloc(64);
        REQUIRE(p && g && g2);
        memset(p, 0xAA, malloc_usable_size(p));
        free(p);
        unsigned char *q = calloc(1, n);
        REQUIRE(q);
        if (!all_bytes(q, n, 0))
            fprintf(stderr, "calloc(1, %zu) not zero (reused %d)\n", n, q == p);
        CHECK(all_bytes(q, n, 0));
        CHECK(malloc_usable_size(q) >= n);
        CHECK_HEAP();
        /* and as count x size */
        free(q);
        unsigned char *r = malloc(n);
        REQUIRE(r);
        memset(r, 0x55, n);
        free(r);
        unsigned char *s = calloc(n, 1);
        REQUIRE(s);
        CHECK(all_bytes(s, n, 0));
        free(s);
        free(g);
        free(g2);
        CHECK_HEAP();
    }

    /* memory merged from dirty neighbours and cut from top again */
    void *blocks[16];
    for (int i = 0; i < 16; i++) {
        blocks[i] = malloc(3000);
        REQUIRE(blocks[i]);
        memset(blocks[i], 0xCC, 3000);
    }
    for (int i = 0; i < 16; i++)
        free(blocks[i]);
    unsigned char *big = calloc(16, 3000);
    REQUIRE(big);
    CHECK(all_bytes(big, 48000, 0));
    free(big);
    CHECK_HEAP();

    /* overflow and oversize */
    static const size_t pairs[][2] = {
        {SIZE_MAX, 2}, {2, SIZE_MAX}, {SIZE_MAX / 2 + 1, 2}, {(size_t)1 << 32, (size_t)1 << 32},
        {SIZE_MAX, SIZE_MAX}, {(size_t)PTRDIFF_MAX, 1}, {1, SIZE_MAX},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        errno = 0;
        void *p = calloc(pairs[i][0], pairs[i][1]);
        CHECK(p == NULL);
        CHECK(errno == ENOMEM);
    }
    /* zero-size products give unique minimum blocks */
    void *c1 = calloc(0, 100), *c2 = calloc(100, 0), *c3 = calloc(0, 0);
    CHECK(c1 && c2 && c3);
    CHECK(c1 != c2 && c2 != c3 && c1 != c3);
    CHECK(c1 && csize(c1) == 32);
    free(c1);
    free(c2);
    free(c3);
    CHECK_HEAP();
}

static void test_realloc_basic(void)
{
    /* realloc(NULL, n) is malloc(n) */
    void *p = realloc(NULL, 100);
    REQUIRE(p);
    CHECK(malloc_usable_size(p) >= 100);
    CHECK_EQ_SIZE(csize(p), request_to_size(100));
    free(p);

    /* realloc(p, 0) frees p and returns NULL */
    void *g0 = malloc(500);
    p = malloc(500);
    void *g1 = malloc(500);
    REQUIRE(g0 && p && g1);
    CHECK(realloc(p, 0) == NULL);
    CHECK(!chunk_inuse(hdr(p)));
    CHECK(chunk_bin(MAIN, hdr(p)) == PM_UNSORTED_BIN);
    CHECK_HEAP();
    free(g0);
    free(g1);

    /* contents kept across many grows and shrinks that move */
    size_t n = 10;
    unsigned char *q = malloc(n);
    REQUIRE(q);
    pat_fill(q, n, 1);
    static const size_t steps[] = {20, 100, 1000, 50, 5000, 200000, 3000, 2 * MiB,
                                   64, 130000, 8, 700000, 1};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        void *hold = malloc(48);  /* something in the way of in-place growth */
        unsigned char *r = realloc(q, steps[i]);
        REQUIRE(r);
        size_t keep = n < steps[i] ? n : steps[i];
        if (pat_check(r, keep, 1) != keep)
            fprintf(stderr, "realloc %zu -> %zu lost data\n", n, steps[i]);
        CHECK_EQ_SIZE(pat_check(r, keep, 1), keep);
        CHECK(malloc_usable_size(r) >= steps[i]);
        pat_fill(r, steps[i], 1);
        q = r;
        n = steps[i];
        free(hold);
        CHECK_HEAP();
    }
    free(q);
    CHECK_HEAP();
}

static void test_realloc_in_place(void)
{
    /* grow into top */
    void *p = malloc(1000);
    REQUIRE(p && chunk_next(hdr(p)) == MAIN->top);
    pat_fill(p, 1000, 2);
    void *q = realloc(p, 20000);
    CHECK(q == p);
    CHECK_EQ_SIZE(pat_check(q, 1000, 2), 1000);
    CHECK(chunk_next(hdr(q)) == MAIN->top);
    CHECK_HEAP();

    /* grow past the end of top: the heap grows under the block, which
     * stays where it is; once the block is bigger than the usual pad, by
     * as much again as the block, so the growth after that by a quarter
     * needs no more memory from the system */
    size_t beyond = csize(q) + top_size(MAIN) + 4 * PM_DEFAULT_TOP_PAD;
    pat_fill(q, 20000, 5);
    void *big = realloc(q, beyond);
    CHECK(big == q);
    void *bigger = realloc(big, beyond + beyond / 4);
    CHECK(bigger == big);
    CHECK_EQ_SIZE(pat_check(bigger, 20000, 5), 20000);
    CHECK(chunk_next(hdr(bigger)) == MAIN->top);
    CHECK(top_size(MAIN) >= beyond);
    size_t system = MAIN->system_mem;
    void *biggest = realloc(bigger, beyond + beyond / 2);
    CHECK(biggest == bigger);
    CHECK_EQ_SIZE(MAIN->system_mem, system);
    CHECK_HEAP();
    q = realloc(biggest, 20000);
    REQUIRE(q == biggest);
    malloc_trim(0);
    CHECK_HEAP();

    /* grow into a free neighbour */
    void *n1 = malloc(2000);
    void *g = malloc(500);
    REQUIRE(n1 && g && chunk_next(hdr(q)) == hdr(n1));
    free(n1);
    pat_fill(q, 20000, 3);
    void *r = realloc(q, 21000);
    CHECK(r == q);
    CHECK_EQ_SIZE(pat_check(r, 20000, 3), 20000);
    CHECK(csize(r) >= request_to_size(21000));
    CHECK_HEAP();
    /* the rest of the neighbour is still free, after r */
    mchunk *after = chunk_next(hdr(r));
    if (after != hdr(g))
        CHECK(!chunk_inuse(after));

    /* shrink in place: same pointer, the tail becomes a free chunk */
    pat_fill(r, 21000, 4);
    void *s = realloc(r, 5000);
    CHECK(s == r);
    CHECK_EQ_SIZE(pat_check(s, 5000, 4), 5000);
    CHECK_EQ_SIZE(csize(s), request_to_size(5000));
    CHECK(!chunk_inuse(chunk_next(hdr(s))));
    CHECK_HEAP();

    /* a tiny shrink or a grow within the usable size keeps the pointer */
    size_t us = malloc_usable_size(s);
    CHECK(realloc(s, us) == s);
    CHECK(realloc(s, us - 8) == s);
    CHECK_EQ_SIZE(pat_check(s, us - 8 < 5000 ? us - 8 : 5000, 4),
                  us - 8 < 5000 ? us - 8 : 5000);
    free(s);
    free(g);
    CHECK_HEAP();
}

static void test_realloc_failure(void)
{
    static const size_t sizes[] = {100, 5000, 400000};
    for (size_t i = 0; i < 3; i++) {
        unsigned char *p = malloc(sizes[i]);
        REQUIRE(p);
        pat_fill(p, sizes[i], 5 + i);
        static const size_t bad[] = {SIZE_MAX, (size_t)PTRDIFF_MAX, SIZE_MAX - 8,
                                     (size_t)PTRDIFF_MAX - 4096};
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            errno = 0;
            CHECK(realloc(launder(p), bad[k]) == NULL);
            CHECK(errno == ENOMEM);
        }
        CHECK_EQ_SIZE(pat_check(p, sizes[i], 5 + i), sizes[i]);
        CHECK(malloc_usable_size(p) >= sizes[i]);
        CHECK_HEAP();
        /* reallocarray: overflow is ENOMEM, the block untouched */
        errno = 0;
        CHECK(reallocarray(launder(p), hide(SIZE_MAX / 2), 3) == NULL);
        CHECK(errno == ENOMEM);
        errno = 0;
        CHECK(reallocarray(launder(p), hide((size_t)1 << 33), (size_t)1 << 33) == NULL);
        CHECK(errno == ENOMEM);
        CHECK_EQ_SIZE(pat_check(p, sizes[i], 5 + i), sizes[i]);
        /* and works like realloc otherwise */
        unsigned char *q = reallocarray(launder(p), 2, sizes[i]);
        REQUIRE(q);
        CHECK_EQ_SIZE(pat_check(q, sizes[i], 5 + i), sizes[i]);
        free(q);
        CHECK_HEAP();
    }
    void *r = reallocarray(NULL, 10, 10);
    CHECK(r != NULL && malloc_usable_size(r) >= 100);
    free(r);
}

/* Checks an aligned block: alignment, writable usable size, heap. */
static void check_aligned(void *p, size_t align, size_t n, const char *fn)
{
    if (p == NULL) {
        fprintf(stderr, "%s(%zu, %zu) = NULL\n", fn, align, n);
        CHECK(p != NULL);
        return;
    }
    if (((uintptr_t)p & (align - 1)) != 0)
        fprintf(stderr, "%s(%zu, %zu) = %p misaligned\n", fn, align, n, p);
    CHECK(((uintptr_t)p & (align - 1)) == 0);
    size_t us = malloc_usable_size(p);
    CHECK(us >= n);
    memset(launder(p), 0xE1, us);
}

/* A block from valloc or pvalloc: page-aligned, at least n usable bytes;
 * then freed. */
static void check_page_block(void *p, size_t n, const char *fn)
{
    check_aligned(p, 4096, n, fn);
    free(p);
}

static void test_aligned(void)
{
    static const size_t sizes[] = {1, 100, 5000, 300000};
    for (size_t align = 16; align <= 64 * KiB; align <<= 1) {
        for (size_t k = 0; k < 4; k++) {
            size_t n = sizes[k];
            void *g = malloc(200);
            void *a = memalign(align, n);
            check_aligned(a, align, n, "memalign");
            void *b = aligned_alloc(align, n);
            check_aligned(b, align, n, "aligned_alloc");
            void *c = NULL;
            int rc = posix_memalign(&c, align, n);
            CHECK(rc == 0);
            check_aligned(c, align, n, "posix_memalign");
            if (n >= 300000) {
                CHECK(chunk_is_mmapped(hdr(a)));
                CHECK(chunk_is_mmapped(hdr(c)));
            }
            CHECK_HEAP();
            free(a);
            free(b);
            free(c);
            free(g);
            CHECK_HEAP();
        }
    }
    /* memalign rounds a non-power-of-two alignment up */
    void *m = memalign(hide(24), 100);
    check_aligned(m, 32, 100, "memalign");
    free(m);
    m = memalign(hide(1000), 100);
    check_aligned(m, 1024, 100, "memalign");
    free(m);
    m = memalign(hide(0), 100);  /* alignment <= 16: plain malloc */
    check_aligned(m, 16, 100, "memalign");
    free(m);
    errno = 0;
    CHECK(memalign(hide(SIZE_MAX / 2 + 2), 100) == NULL);
    CHECK(errno == EINVAL);
    errno = 0;
    CHECK(memalign(64, hide(SIZE_MAX - 100)) == NULL);
    CHECK(errno == ENOMEM);
    CHECK_HEAP();

    /* valloc and pvalloc */
    check_page_block(valloc(100), 100, "valloc");
    check_page_block(valloc(300000), 300000, "valloc");
    check_page_block(pvalloc(100), 4096, "pvalloc");
    check_page_block(pvalloc(4097), 8192, "pvalloc");
    check_page_block(pvalloc(0), 4096, "pvalloc");
    errno = 0;
    CHECK(valloc(hide(SIZE_MAX - 10)) == NULL);
    CHECK(errno == ENOMEM);
    errno = 0;
    CHECK(pvalloc(hide(SIZE_MAX - 10)) == NULL);
    CHECK(errno == ENOMEM);
    CHECK_HEAP();
}

static void test_aligned_errors(void)
{
    static const size_t bad[] = {0, 3, 24, 12, 48, 100, 4097, 1 + ((size_t)1 << 20),
                                 SIZE_MAX, SIZE_MAX / 2 + 2};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *p = (void *)&bad;   /* must stay untouched */
        errno = 4321;
        int rc = posix_memalign(&p, bad[i], 10);
        CHECK(rc == EINVAL);
        CHECK(p == (void *)&bad);
        CHECK(errno == 4321);     /* reported by the return value only */
    }
    /* 8 is a power of two and a multiple of sizeof(void *): allowed */
    void *p = NULL;
    CHECK(posix_memalign(&p, 8, 10) == 0);
    CHECK(p != NULL && ((uintptr_t)p & 7) == 0);
    free(p);
    /* posix_memalign(…, 0 bytes) gives a freeable pointer */
    p = NULL;
    CHECK(posix_memalign(&p, 64, 0) == 0);
    free(p);
    /* too large: ENOMEM, *p untouched */
    void *q = (void *)&bad;
    CHECK(posix_memalign(&q, 16, SIZE_MAX / 2) == ENOMEM);
    CHECK(q == (void *)&bad);
    CHECK(posix_memalign(&q, 4096, SIZE_MAX - 4096) == ENOMEM);
    CHECK(q == (void *)&bad);

    /* aligned_alloc: EINVAL for 0 and non-powers of two */
    static const size_t bad2[] = {0, 3, 24, 65, SIZE_MAX / 2 + 2};
    for (size_t i = 0; i < sizeof bad2 / sizeof bad2[0]; i++) {
        errno = 0;
        CHECK(aligned_alloc(bad2[i], 10) == NULL);
        CHECK(errno == EINVAL);
    }
    errno = 0;
    CHECK(aligned_alloc(64, hide(SIZE_MAX - 64)) == NULL);
    CHECK(errno == ENOMEM);
    CHECK_HEAP();
}

static void test_usable_size(void)
{
    CHECK_EQ_SIZE(malloc_usable_size(NULL), 0);
    int bad = 0;
    for (size_t n = 0; n <= 4200; n += (n < 300 ? 1 : 37)) {
        void *p = malloc(n);
        REQUIRE(p);
        size_t us = malloc_usable_size(p);
        if (us < n)
            bad++;
        /* one word of overhead on the heap, and never more than 16+15 */
        if (us != csize(p) - 8 || us > n + 24 + 16)
            bad++;
        memset(launder(p), 0x5C, us);      /* the full usable size is writable */
        free(p);
    }
    CHECK(bad == 0);
    CHECK_HEAP();
    /* several neighbours written to the last usable byte stay intact */
    void *v[64];
    for (int i = 0; i < 64; i++) {
        size_t n = (size_t)i * 13;
        v[i] = malloc(n);
        REQUIRE(v[i]);
        pat_fill(launder(v[i]), malloc_usable_size(v[i]), (uint64_t)i);
    }
    CHECK_HEAP();
    bad = 0;
    for (int i = 0; i < 64; i++)
        if (pat_check(v[i], malloc_usable_size(v[i]), (uint64_t)i) != malloc_usable_size(v[i]))
            bad++;
    CHECK(bad == 0);
    for (int i = 0; i < 64; i++)
        free(v[i]);
    /* mmapped blocks: size - 16 */
    void *m = malloc(400000);
    REQUIRE(m && chunk_is_mmapped(hdr(m)));
    CHECK_EQ_SIZE(malloc_usable_size(m), csize(m) - 16);
    memset(launder(m), 1, malloc_usable_size(m));
    free(m);
    CHECK_HEAP();
}

static void test_mallopt_basics(void)
{
    /* bad M_MXFAST is rejected; unknown parameters are accepted */
    CHECK(mallopt(M_MXFAST, 161) == 0);
    CHECK(mallopt(M_MXFAST, 160) == 1);
    CHECK_EQ_SIZE(pm_opt.max_fast, 160);
    CHECK(mallopt(M_MXFAST, 128) == 1);
    CHECK(mallopt(12345, 1) == 1);
    CHECK_HEAP();
}

int main(void)
{
    no_tcache();
    /* a fixed threshold: 300 KB and larger blocks are always mmapped */
    REQUIRE(mallopt(M_MMAP_THRESHOLD, 256 * 1024) == 1);
    test_malloc_edges();
    test_calloc();
    test_realloc_basic();
    test_realloc_in_place();
    test_realloc_failure();
    test_aligned();
    test_aligned_errors();
    test_usable_size();
    test_mallopt_basics();
    return test_finish("test_api");
}
