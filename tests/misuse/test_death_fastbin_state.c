/* Death tests for the fast-bin chunk state (issue #15, chunk.h's
 * PM_HELD_FREE): a chunk in a fast bin carries a bit in its size word,
 * which no write into the user area reaches, so a second free or a
 * realloc of it is stopped however deep in the bin it lies (the "fasttop"
 * check sees only the head), with the thread cache on or off. */
#include "misuse.h"

/* Two fast chunks between guards, freed a then b: a lies below b, the
 * bin's head.  With the cache on they are pushed into the fast bin from
 * the cache's spill. */
static void two_in_fast_bin(void **a, void **b)
{
    two_guarded_blocks(24, a, b);
    free(*a);
    free(*b);
    REQUIRE(chunk_in_fastbin(MAIN, fastbin_index(csize(*a)), hdr(*a)));
    REQUIRE(MAIN->fastbins[fastbin_index(csize(*a))] == hdr(*b));
}

static void fast_double_free_deep(void)
{
    void *a, *b;
    two_in_fast_bin(&a, &b);
    free_again(a);
}

static void fast_double_free_deep_key_cleared(void)
{
    void *a, *b;
    two_in_fast_bin(&a, &b);
    *word(a, 1) = 0;
    free_again(a);
}

static void realloc_freed_fast_deep(void)
{
    void *a, *b;
    two_in_fast_bin(&a, &b);
    death_expect_addr(a);
    (void)!realloc(opaque(a), 400);
}

/* With the cache on: a full cache bin spills into the fast bin, and the
 * second free of a spilled chunk takes the cache's path, which checks the
 * state too. */
static void fast_double_free_cache_on(void)
{
    enum { N = 2000 };
    static void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = malloc(24);
        guard();
    }
    for (int i = 0; i < N; i++)
        free(p[i]);
    void *spilled = NULL;
    for (int i = 0; i < N && spilled == NULL; i++)
        if (chunk_in_fastbin(MAIN, fastbin_index(csize(p[i])), hdr(p[i])))
            spilled = p[i];
    REQUIRE(spilled != NULL);
    free_again(spilled);
}

static const struct death_case cases[] = {
    DEATH_CASE(fast_double_free_deep, "free(): double free detected (chunk held free)"),
    DEATH_CASE(fast_double_free_deep_key_cleared, "free(): double free detected (chunk held free)"),
    DEATH_CASE(realloc_freed_fast_deep, "realloc(): chunk already freed"),
    DEATH_CASE(fast_double_free_cache_on, "free(): double free detected (chunk held free)"),
};

DEATH_TEST_MAIN(cases, "test_death_fastbin_state")
