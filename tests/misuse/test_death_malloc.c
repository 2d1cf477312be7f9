/* Death tests for malloc(): the checks of src/core_malloc.c (fast bins and
 * safe-linking, small bins, the unsorted scan, sorted large-bin inserts,
 * the remainder's unsorted insert, top, malloc_consolidate), the thread
 * cache's unaligned-entry check (src/api.c and src/tcache.c) and the
 * statistics walkers (src/stats.c), each reached by a user-level misuse
 * in a child that must die of SIGABRT naming the check and the address
 * (facts §8, "malloc", "consolidate", "other"). */
#include "misuse.h"

/* ---- fast bins and safe-linking (thread cache off) ---- */

/* A fast bin of two chunks whose head's stored fd was forged, as one who
 * knows the secret would, to lead to a misaligned address. */
static void fastbin_with_forged_fd(void)
{
    void *a, *b;
    two_guarded_blocks(24, &a, &b);
    free(a);
    free(b);
    *word(b, 0) = (size_t)forged_fd(b, misaligned());
}

/* The fast-bin head's size was changed after the free. */
static void *fast_chunk_resized(void)
{
    void *a = freed_between_guards(24);
    *size_word(a) = 0x40 | PM_PREV_INUSE;
    death_expect_addr(hdr(a));
    return a;
}

static void fast_memory_corruption(void)
{
    fast_chunk_resized();
    (void)!malloc(24);
}

/* A forged fd in a freed fast chunk: once revealed (the stored word is
 * mixed with its slot's address and the process secret), it does not
 * point at an aligned chunk, and the pop refuses to make it the head. */
static void fast_forged_fd(void)
{
    fastbin_with_forged_fd();
    death_expect_addr(misaligned());
    (void)!malloc(24);
}

/* What an attacker without the secret writes, a plain pointer to a fake
 * chunk, is revealed as something else: misaligned whenever the low bits
 * of the mask ((slot >> 12) ^ secret) are not all 0, which holds for 15
 * slots in 16.  b is chosen among such slots, so the test is certain. */
static void fast_raw_pointer(void)
{
    tcache_off();
    void *a = malloc(24);
    guard();
    void *b = NULL;
    for (int i = 0; i < 20000 && b == NULL; i++) {
        void *c = malloc(24);
        guard();
        if (!ptr_aligned(link_reveal(chunk_fd_slot(hdr(c)), fake())))
            b = c;
    }
    REQUIRE(b != NULL);
    free(a);
    free(b);
    *word(b, 0) = (size_t)fake();
    death_expect_addr(link_reveal(chunk_fd_slot(hdr(b)), fake()));
    (void)!malloc(24);
}

/* ---- small bins and the unsorted bin ---- */

/* b sits in its small bin; its bk was overwritten. */
static void smallbin_corrupted(void)
{
    mchunk *decoy = in_heap_decoy();
    void *b = freed_between_guards(200);
    (void)!malloc(1000); /* sorts b into its small bin */
    *word(b, 1) = (size_t)decoy;
    death_expect_addr(hdr(b));
    (void)!malloc(200);
}

/* The same bk aimed outside the heap: refused before it is followed. */
static void smallbin_link_outside(void)
{
    void *b = freed_between_guards(200);
    (void)!malloc(1000); /* sorts b into its small bin */
    *word(b, 1) = (size_t)fake();
    death_expect_addr(hdr(b));
    (void)!malloc(200);
}

/* b sits in the unsorted bin; each case changes one thing the scan
 * checks, then a request makes the scan look at b. */
static void *unsorted_b(void) { return freed_between_guards(200); }

static void unsorted_invalid_size(void)
{
    void *b = unsorted_b();
    *size_word(b) = ((size_t)1 << 40) | PM_PREV_INUSE;
    death_expect_addr(hdr(b));
    (void)!malloc(1000);
}

static void unsorted_size_too_small(void)
{
    void *b = unsorted_b();
    *size_word(b) = 0x10;
    death_expect_addr(hdr(b));
    (void)!malloc(1000);
}

static void unsorted_invalid_next_size(void)
{
    void *b = unsorted_b();
    size_t *next = next_size_word(b);
    death_expect_addr(next - 1);
    *next = (size_t)1 << 40;
    (void)!malloc(1000);
}

static void unsorted_mismatching_prev_size(void)
{
    void *b = unsorted_b();
    *next_prev_size_word(b) = 0x50;
    death_expect_addr(hdr(b));
    (void)!malloc(1000);
}

static void unsorted_list_corrupted(void)
{
    void *b = unsorted_b();
    *word(b, 0) = (size_t)fake();
    death_expect_addr(hdr(b));
    (void)!malloc(1000);
}

static void unsorted_next_prev_inuse(void)
{
    void *b = unsorted_b();
    size_t *next = next_size_word(b);
    death_expect_addr(next - 1);
    *next |= PM_PREV_INUSE;
    (void)!malloc(1000);
}

/* The unsorted bin's newest chunk has a forged bk, and is still there
 * when a split puts its remainder in the unsorted bin: the scan stops
 * after 10000 chunks, so 10002 are freed first. */
static void malloc_corrupted_unsorted(void)
{
    tcache_off();
    enum { N = 10002 };
    static void *blocks[N];
    for (int i = 0; i < N; i++) {
        blocks[i] = malloc(200);
        guard();
    }
    for (int i = 0; i < N; i++)
        free(blocks[i]);
    *word(blocks[N - 1], 1) = (size_t)fake();
    (void)!malloc(40); /* sorts 10000, then splits one of them */
}

/* ---- large bins ---- */

/* l1 (1024 bytes) sits alone in large bin 64; a 1072-byte chunk is
 * sorted in front of it and finds l1's skip-list (first case) or list
 * (second case) link forged. */
static void *largebin_setup(void **v)
{
    tcache_off();
    guard();
    void *l1 = malloc(1016);
    guard();
    *v = malloc(1064);
    guard();
    REQUIRE(csize(l1) == 1024 && csize(*v) == 1072);
    free(l1);
    (void)!malloc(2000); /* sorts l1 into its large bin */
    REQUIRE(chunk_fd_nextsize(hdr(l1)) == hdr(l1));
    return l1;
}

static void largebin_nextsize(void)
{
    mchunk *decoy = in_heap_decoy();
    void *v;
    void *l1 = largebin_setup(&v);
    *word(l1, 3) = (size_t)decoy; /* bk_nextsize */
    free(v);
    death_expect_addr(hdr(l1));
    (void)!malloc(2000);
}

static void largebin_bk(void)
{
    mchunk *decoy = in_heap_decoy();
    void *v;
    void *l1 = largebin_setup(&v);
    *word(l1, 1) = (size_t)decoy; /* bk */
    free(v);
    death_expect_addr(hdr(l1));
    (void)!malloc(2000);
}

/* ---- top ---- */

/* "House of force": an overflow from the last block sets top's size to
 * all ones; the next request that reaches top is refused. */
static void top_size_huge(void)
{
    tcache_off();
    void *b = block_before_top(200);
    death_expect_addr(MAIN->top);
    *next_size_word(b) = (size_t)-1;
    (void)!malloc(100000);
}

/* The same with the default thread cache and a request between the cache
 * and the mmap threshold. */
static void top_size_huge_default(void)
{
    void *b = block_before_top(5000);
    death_expect_addr(MAIN->top);
    *next_size_word(b) = (size_t)-16 | PM_PREV_INUSE;
    (void)!malloc(50000);
}

/* ---- malloc_consolidate ---- */

static void consolidate_unaligned(void)
{
    fastbin_with_forged_fd();
    death_expect_addr(misaligned());
    (void)!malloc(2000); /* a large request consolidates */
}

static void consolidate_invalid_size(void)
{
    fast_chunk_resized();
    (void)!malloc(2000);
}

/* mallopt consolidates too. */
static void consolidate_by_mallopt(void)
{
    fast_chunk_resized();
    mallopt(M_PERTURB, 0);
}

/* ---- the thread cache ---- */

/* b's next is forged; the pop that takes b makes the misaligned value the
 * head, and the next pop refuses it (malloc's fast path). */
static void tcache_forged_next(void)
{
    void *a = malloc(24);
    void *b = malloc(24);
    free(a);
    free(b);
    struct pm_tcache_entry **slot = opaque(b);
    *slot = tcache_link(slot, misaligned());
    death_expect_addr(misaligned());
    (void)!malloc(24);
    (void)!malloc(24);
}

/* The same met while a full bin spills half of itself to the arena. */
static void tcache_forged_next_spill(void)
{
    /* No byte budget: the bin keeps its starting depth of 7, so the 8th
     * free spills instead of deepening the bin. */
    REQUIRE(mallopt(PMALLOC_M_TCACHE_BYTES, 0) == 1);
    void *v[8];
    for (int i = 0; i < 8; i++)
        v[i] = malloc(24);
    for (int i = 0; i < 7; i++)
        free(v[i]);
    struct pm_tcache_entry **slot = opaque(v[6]);
    *slot = tcache_link(slot, misaligned());
    death_expect_addr(misaligned());
    free(v[7]);
}

/* ---- the statistics walkers ---- */

static void mallinfo_unaligned(void)
{
    fastbin_with_forged_fd();
    death_expect_addr(misaligned());
    (void)mallinfo2();
}

static void malloc_info_unaligned(void)
{
    FILE *f = fopen("/dev/null", "w");
    REQUIRE(f != NULL);
    /* its buffer now: a later 4 KiB request would consolidate first */
    fputs("<!-- -->\n", f);
    fflush(f);
    fastbin_with_forged_fd();
    death_expect_addr(misaligned());
    malloc_info(0, f);
}

static void mallinfo_fastbin_cycle(void)
{
    void *a = freed_between_guards(24);
    *word(a, 0) = (size_t)forged_fd(a, hdr(a));
    (void)mallinfo2();
}

static void mallinfo_broken_bin(void)
{
    void *b = unsorted_b();
    *word(b, 1) = (size_t)fake();
    death_expect_addr(hdr(b));
    (void)mallinfo2();
}

static const struct death_case cases[] = {
    DEATH_CASE(fast_memory_corruption, "malloc(): memory corruption (fast)"),
    DEATH_CASE(fast_forged_fd, "malloc(): unaligned fastbin chunk detected"),
    DEATH_CASE(fast_raw_pointer, "malloc(): unaligned fastbin chunk detected"),
    DEATH_CASE(smallbin_corrupted, "malloc(): smallbin double linked list corrupted"),
    DEATH_CASE(smallbin_link_outside, "malloc(): smallbin link outside the heap"),
    DEATH_CASE(unsorted_invalid_size, "malloc(): invalid size (unsorted)"),
    DEATH_CASE(unsorted_size_too_small, "malloc(): invalid size (unsorted)"),
    DEATH_CASE(unsorted_invalid_next_size, "malloc(): invalid next size (unsorted)"),
    DEATH_CASE(unsorted_mismatching_prev_size, "malloc(): mismatching next->prev_size (unsorted)"),
    DEATH_CASE(unsorted_list_corrupted, "malloc(): unsorted double linked list corrupted"),
    DEATH_CASE(unsorted_next_prev_inuse, "malloc(): invalid next->prev_inuse (unsorted)"),
    DEATH_CASE(malloc_corrupted_unsorted, "malloc(): corrupted unsorted chunks"),
    DEATH_CASE(largebin_nextsize, "malloc(): largebin double linked list corrupted (nextsize)"),
    DEATH_CASE(largebin_bk, "malloc(): largebin double linked list corrupted (bk)"),
    DEATH_CASE(top_size_huge, "malloc(): corrupted top size"),
    DEATH_CASE(top_size_huge_default, "malloc(): corrupted top size"),
    DEATH_CASE(consolidate_unaligned, "malloc_consolidate(): unaligned fastbin chunk detected"),
    DEATH_CASE(consolidate_invalid_size, "malloc_consolidate(): invalid chunk size"),
    DEATH_CASE(consolidate_by_mallopt, "malloc_consolidate(): invalid chunk size"),
    DEATH_CASE(tcache_forged_next, "malloc(): unaligned tcache chunk detected"),
    DEATH_CASE(tcache_forged_next_spill, "malloc(): unaligned tcache chunk detected"),
    DEATH_CASE(mallinfo_unaligned, "int_mallinfo(): unaligned fastbin chunk detected"),
    DEATH_CASE(malloc_info_unaligned, "__malloc_info(): unaligned fastbin chunk detected"),
    DEATH_CASE(mallinfo_fastbin_cycle, "int_mallinfo(): fastbin list is longer than the arena allows"),
    DEATH_CASE(mallinfo_broken_bin, "int_mallinfo(): corrupted bin list"),
};

DEATH_TEST_MAIN(cases, "test_death_malloc")
