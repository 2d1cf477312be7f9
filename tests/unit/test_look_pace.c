/* The idle return's pace (src/tcache.c, pm_tcache_pace and gave_back):
 * without a profile, the hit countdown runs to the next look.  A new
 * cache looks within PM_LOOK_FIRST_BYTES of hits; a fast run of hits sets
 * the next look about PM_LOOK_EVERY_NS of them off; a burst of frees
 * that gives the arenas batches brings the next look back to within
 * PM_LOOK_FIRST_BYTES of hits, however fast the hits before it came, so
 * a thread that goes on with a pair now and then after freeing most of
 * its heap looks within a few of them, not seconds later. */
#include "../helpers.h"
#include "prof.h"
#include "tcache.h"

#define TC (pm_tcache_get())
#define PAIR 64
#define FREED 200000

static void *blocks[FREED];

/* Pairs of PAIR bytes, all hits. */
static void pairs(size_t n)
{
    for (size_t i = 0; i < n; i++) {
        void *p = malloc(PAIR);
        REQUIRE(p != NULL);
        *(volatile char *)p = (char)i;
        free(p);
    }
}

static void test_first_look_soon(void)
{
    free(malloc(PAIR)); /* the cache is made */
    REQUIRE(TC != NULL);
    CHECK(TC->prof_left <= PM_LOOK_FIRST_BYTES);
}

/* Millions of hits a second: the countdown grows to about 50 ms of
 * them, far more than the first look's bytes. */
static void test_fast_hits_look_later(void)
{
    pairs(2000000);
    CHECK(TC->look_set > 16 * PM_LOOK_FIRST_BYTES);
}

/* After the fast hits, a burst of frees spills the cache again and
 * again: the next look comes within the first look's bytes. */
static void test_frees_bring_the_look_back(void)
{
    pairs(2000000);
    REQUIRE(TC->look_set > 16 * PM_LOOK_FIRST_BYTES);
    for (size_t i = 0; i < FREED; i++) {
        blocks[i] = malloc(PAIR);
        REQUIRE(blocks[i] != NULL);
    }
    for (size_t i = 0; i < FREED; i++)
        free(blocks[i]);
    CHECK_HEAP();
    CHECK(TC->prof_left <= PM_LOOK_FIRST_BYTES);
}

int main(void)
{
    /* with a profile, the countdown is the profile's */
    REQUIRE(pm_prof_header.period == 0);
    test_first_look_soon();
    test_fast_hits_look_later();
    test_frees_bring_the_look_back();
    return test_finish("test_look_pace");
}
