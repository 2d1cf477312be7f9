/* Bin indexing, request sizes, fast-bin indexes, safe-linking and the
 * binmap, checked against the tables of the ptmalloc facts (§1, §2). */
#include "../helpers.h"

#include <stdint.h>

/* The large-bin table of the facts, written as ranges: every size in
 * [lo, hi] maps to first + (size - base) / width. */
struct range {
    size_t lo, hi, base, width;
    unsigned first;
};

static const struct range large_table[] = {
    {1024, 3135, 1024, 64, 64},            /* 64..96, 64 wide */
    {3136, 3583, 3136, 1 << 20, 97},       /* 97 is narrower */
    {3584, 10751, 3584, 512, 98},          /* 98..111, 512 wide */
    {10752, 12287, 10752, 1 << 20, 112},   /* 112 is narrower */
    {12288, 40959, 12288, 4096, 113},      /* 113..119, 4 KiB wide */
    {40960, 65535, 40960, 1 << 20, 120},   /* 120: 40960..65535 */
    {65536, 163839, 65536, 32768, 121},    /* 121..123, 32 KiB wide */
    {163840, 262143, 163840, 1 << 20, 124},
    {262144, 524287, 262144, 1 << 20, 125},
};

static unsigned ref_index(size_t sz)
{
    if (sz < 1024)
        return (unsigned)(sz / 16);
    for (size_t i = 0; i < sizeof large_table / sizeof large_table[0]; i++) {
        const struct range *r = &large_table[i];
        if (sz >= r->lo && sz <= r->hi)
            return r->first + (unsigned)((sz - r->base) / r->width);
    }
    return 126;
}

static void test_boundaries(void)
{
    static const struct {
        size_t size;
        unsigned idx;
    } cases[] = {
        {32, 2},       {48, 3},       {1008, 63},    {1024, 64},
        {1088, 65},    {3135, 96},    {3136, 97},    {3583, 97},
        {3584, 98},    {10751, 111},  {10752, 112},  {40959, 119},
        {40960, 120},  {65535, 120},  {65536, 121},  {163839, 123},
        {163840, 124}, {262143, 124}, {262144, 125}, {524287, 125},
        {524288, 126}, {(size_t)1 << 30, 126},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned got = bin_index(cases[i].size);
        if (got != cases[i].idx)
            fprintf(stderr, "bin_index(%zu) = %u, want %u\n", cases[i].size, got,
                    cases[i].idx);
        CHECK(got == cases[i].idx);
    }
    CHECK(in_smallbin_range(1008));
    CHECK(!in_smallbin_range(1024));
    CHECK_EQ_SIZE(PM_MIN_LARGE_SIZE, 1024);
    CHECK_EQ_SIZE(bin_index(SIZE_MAX & ~(size_t)15), 126);
}

/* Every chunk size up to 2 MiB: the index matches the table, never goes
 * down as the size grows, stays in 2..126, and no bin is skipped. */
static void test_sweep(void)
{
    unsigned prev = 0, mismatches = 0, bad_order = 0;
    for (size_t sz = 32; sz <= ((size_t)2 << 20); sz += 16) {
        unsigned idx = bin_index(sz);
        if (idx != ref_index(sz) && mismatches++ < 5)
            fprintf(stderr, "bin_index(%zu) = %u, table says %u\n", sz, idx, ref_index(sz));
        if (idx < 2 || idx > 126)
            mismatches++;
        if (sz > 32 && (idx < prev || idx > prev + 1))
            bad_order++;
        prev = idx;
    }
    CHECK(mismatches == 0);
    CHECK(bad_order == 0);
    CHECK(prev == 126);
    /* largebin_index alone at the first large size, too */
    CHECK(largebin_index(1024) == 64);
    CHECK(smallbin_index(1008) == 63);
}

static void test_request_to_size(void)
{
    for (size_t r = 0; r <= 24; r++)
        CHECK_EQ_SIZE(request_to_size(r), 32);
    for (size_t r = 25; r <= 40; r++)
        CHECK_EQ_SIZE(request_to_size(r), 48);
    CHECK_EQ_SIZE(request_to_size(41), 64);
    CHECK_EQ_SIZE(request_to_size(1032), 1040);
    CHECK_EQ_SIZE(request_to_size(1033), 1056);
    CHECK_EQ_SIZE(request_to_size(120), 128);
    CHECK_EQ_SIZE(request_to_size(121), 144);
    unsigned bad = 0;
    for (size_t r = 0; r < 100000; r++) {
        size_t s = request_to_size(r);
        /* the smallest multiple of 16 that holds r bytes plus one word */
        size_t want = (r + 8 + 15) / 16 * 16;
        if (want < 32)
            want = 32;
        if (s != want)
            bad++;
    }
    CHECK(bad == 0);
}

static void test_checked_request(void)
{
    size_t out = 12345;
    CHECK(!checked_request_to_size((size_t)PTRDIFF_MAX + 1, &out));
    CHECK(!checked_request_to_size(SIZE_MAX, &out));
    CHECK(!checked_request_to_size(SIZE_MAX - 7, &out));
    CHECK(!checked_request_to_size((size_t)PTRDIFF_MAX, &out));
    CHECK(out == 12345); /* untouched on failure */
    CHECK(checked_request_to_size(0, &out) && out == 32);
    CHECK(checked_request_to_size(1032, &out) && out == 1040);
    /* the largest accepted request still gives a size that did not wrap */
    CHECK(checked_request_to_size(PM_MAX_REQUEST, &out));
    CHECK(out >= PM_MAX_REQUEST && out <= (size_t)PTRDIFF_MAX);
    CHECK(!checked_request_to_size(PM_MAX_REQUEST + 1, &out));
}

static void test_fastbin_index(void)
{
    for (size_t sz = 32; sz <= 176; sz += 16)
        CHECK_EQ_SIZE(fastbin_index(sz), sz / 16 - 2);
    CHECK_EQ_SIZE(fastbin_index(32), 0);
    CHECK_EQ_SIZE(fastbin_index(128), 6);  /* the default limit */
    CHECK_EQ_SIZE(fastbin_index(160), 8);  /* the largest allowed */
    CHECK(fastbin_index(160) < PM_NFASTBINS);
    /* the option limits of the facts: default 128, maximum 160 */
    CHECK_EQ_SIZE(PM_DEFAULT_MXFAST, 128);
    CHECK_EQ_SIZE(PM_MAX_MXFAST, 160);
}

static void test_safe_link(void)
{
    /* real slots inside real chunks */
    void *a = malloc(200), *b = malloc(200);
    REQUIRE(a && b);
    mchunk *ca = hdr(a), *cb = hdr(b);
    mchunk **slot = chunk_fd_slot(ca);
    CHECK((void *)slot == a); /* fd is the first user word */
    mchunk *targets[] = {cb, ca, NULL, (mchunk *)(uintptr_t)0x7f0000001230ull,
                        (mchunk *)(uintptr_t)0x10};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        mchunk *stored = link_protect(slot, targets[i]);
        CHECK(link_reveal(slot, stored) == targets[i]);
    }
    /* mangling changes the stored value of a real heap pointer */
    CHECK(link_protect(slot, cb) != cb);
    /* and depends on the slot's address (bits above the page offset) */
    mchunk **far = (mchunk **)((char *)slot + 4096 * 3);
    CHECK(link_protect(slot, cb) != link_protect(far, cb));
    CHECK(link_reveal(far, link_protect(slot, cb)) != cb);
    free(a);
    free(b);
    CHECK_HEAP();
}

static void test_binmap_and_headers(void)
{
    static struct pm_arena fake;
    memset(&fake, 0, sizeof fake);
    for (unsigned i = 1; i < PM_NBINS; i++) {
        mchunk *b = bin_at(&fake, i);
        /* the fake chunk's fd/bk are exactly the bin's pair of words */
        CHECK((void *)&b->fd == (void *)&fake.bins[(i - 1) * 2]);
        CHECK((void *)&b->bk == (void *)&fake.bins[(i - 1) * 2 + 1]);
    }
    unsigned wrong = 0;
    for (unsigned i = 1; i < PM_NBINS; i++) {
        binmap_mark(&fake, i);
        for (unsigned j = 1; j < PM_NBINS; j++)
            if (binmap_get(&fake, j) != (j == i))
                wrong++;
        binmap_unmark(&fake, i);
        if (binmap_get(&fake, i))
            wrong++;
    }
    CHECK(wrong == 0);

    /* the real main arena: empty bins point at themselves */
    void *p = malloc(10);
    REQUIRE(p);
    free(p);
    unsigned bad = 0;
    for (unsigned i = 1; i < PM_NBINS; i++) {
        mchunk *b = bin_at(MAIN, i);
        if (chunk_fd(b) == NULL || chunk_bk(b) == NULL)
            bad++;
        if (bin_empty(b) && chunk_bk(b) != b)
            bad++;
    }
    CHECK(bad == 0);
    CHECK(unsorted_bin(MAIN) == bin_at(MAIN, 1));
    CHECK_HEAP();
}

int main(void)
{
    test_boundaries();
    test_sweep();
    test_request_to_size();
    test_checked_request();
    test_fastbin_index();
    test_safe_link();
    test_binmap_and_headers();
    return test_finish("test_bins");
}
