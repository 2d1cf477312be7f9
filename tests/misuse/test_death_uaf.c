/* Death tests for the fast-bin canary (issue #15, bins.h's fast_canary):
 * a chunk waiting in a fast bin, whether freed there with the cache off
 * or spilled there by a full cache bin, carries a keyed canary in its
 * second word; a write after free over it is stopped, with the check
 * named and the block's address, when the chunk leaves the bin: by an
 * allocation, a cache refill or a consolidation.  (A write into a chunk
 * still in a thread cache is not seen by default: the hardened mode's
 * poisoning sees it.) */
#include "misuse.h"

/* A write after free of the kind the canary is for: the block's second
 * word, as a program still using its freed struct would write it. */
static void write_after_free(void *b) { *word(b, 1) = 0x4141414141414141u; }

static void uaf_fast_bin_malloc(void)
{
    void *b = freed_between_guards(40);
    REQUIRE(MAIN->fastbins[fastbin_index(csize(b))] == hdr(b));
    write_after_free(b);
    death_expect_addr(b);
    (void)!malloc(40);
}

static void uaf_fast_bin_consolidate(void)
{
    big_top();
    void *b = freed_between_guards(40);
    write_after_free(b);
    death_expect_addr(b);
    (void)!malloc(5000); /* a large request merges the fast bins first */
}

/* With the cache on: a block the cache spilled into the fast bin is
 * handed back to the cache by the refill of a later miss. */
static void uaf_spilled_by_cache(void)
{
    enum { N = 2000 }; /* more than the deepest cache bin holds */
    static void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = malloc(40);
        guard();
    }
    for (int i = 0; i < N; i++)
        free(p[i]);
    mchunk *head = MAIN->fastbins[fastbin_index(csize(p[0]))];
    REQUIRE(head != NULL);
    void *spilled = chunk_mem(head);
    write_after_free(spilled);
    death_expect_addr(spilled);
    for (int i = 0; i < 2 * N; i++)
        (void)!malloc(40);
}

static const struct death_case cases[] = {
    DEATH_CASE(uaf_fast_bin_malloc, "malloc(): fast chunk modified after free"),
    DEATH_CASE(uaf_fast_bin_consolidate, "malloc_consolidate(): fast chunk modified after free"),
    DEATH_CASE(uaf_spilled_by_cache, "malloc(): fast chunk modified after free"),
};

DEATH_TEST_MAIN(cases, "test_death_uaf")
