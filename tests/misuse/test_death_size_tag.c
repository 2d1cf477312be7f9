/* Death tests for the size tag (issue #15, chunk.h): a size word an
 * overflow rewrote, wholly or in its low byte, no longer carries the tag
 * of the size it claims, so free and realloc refuse the chunk, by
 * default, before its size can make it overlap a live neighbour.  Each
 * case got through before (the next malloc of the enlarged size handed
 * out memory overlapping the neighbour); each is committed in a child and
 * must end in SIGABRT with the check named and the block's address. */
#include "misuse.h"

#include <pthread.h>

#define TAG_CHECK "free(): chunk size tag mismatch"

/* a, then its live neighbour b, from the thread cache's small sizes */
static void *enlarged_block(size_t n, size_t by)
{
    void *a = malloc(n);
    void *b = malloc(n);
    REQUIRE(a != NULL && b != NULL);
    require_adjacent(a, b);
    *size_word(a) += by; /* now spans b */
    death_expect_addr(a);
    return a;
}

/* The classic overlapping-chunks step, into the thread cache's path. */
static void enlarged_cached(void) { free(enlarged_block(40, 64)); }

/* The same with the cache off: the free goes to a fast bin. */
static void enlarged_fast(void)
{
    tcache_off();
    free(enlarged_block(40, 64));
}

/* With the cache off, a size beyond the fast bins: the free merges. */
static void enlarged_merging(void)
{
    void *a, *b;
    neighbours(&a, 2000, &b, 2000);
    *size_word(a) += csize(b);
    death_expect_addr(a);
    free(a);
}

/* One byte past the block, written over the low byte of the next size
 * (an off-by-one with a chosen byte): the tag bytes stay as they were. */
static void off_by_one_low_byte(void)
{
    char *a = malloc(24); /* 24 usable bytes: the last is b's prev_size's */
    char *b = malloc(24);
    REQUIRE(a != NULL && b != NULL);
    require_adjacent(a, b);
    size_t usable = malloc_usable_size(a);
    void *c = malloc(24);
    REQUIRE(c != NULL);
    ((unsigned char *)opaque(a))[usable] = 0x61; /* b's size: 0x60 | PREV_INUSE, spanning c */
    REQUIRE((*size_word(b) & 0xff) == 0x61);
    death_expect_addr(b);
    free(b);
    (void)c;
}

/* A size class of the cache (the death tests' start leaves them off). */
static void enlarged_class(void)
{
    REQUIRE(mallopt(PMALLOC_M_TCACHE_MAX, 256 * 1024) == 1);
    void *a = malloc(5000);
    void *b = malloc(5000);
    REQUIRE(a != NULL && b != NULL);
    require_adjacent(a, b);
    *size_word(a) += 1024; /* the next class's size */
    death_expect_addr(a);
    free(a);
}

/* A chunk of a thread's arena, freed in that thread. */
static void *enlarged_in_thread(void *arg)
{
    (void)arg;
    free(enlarged_block(100, 32));
    return NULL;
}

static void enlarged_thread_arena(void)
{
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, enlarged_in_thread, NULL) == 0);
    pthread_join(t, NULL);
}

/* A mapped block whose size grew by whole pages, so that the mapping's
 * own page checks pass: it would unmap the next mapping too. */
static void enlarged_mapped(void)
{
    void *m = malloc(4 * MiB);
    REQUIRE(m != NULL && chunk_is_mmapped(hdr(m)));
    *size_word(m) += pm_page_size();
    death_expect_addr(m);
    free(m);
}

static void realloc_enlarged(void) { (void)!realloc(enlarged_block(200, 64), 300); }

static void realloc_enlarged_mapped(void)
{
    void *m = malloc(4 * MiB);
    REQUIRE(m != NULL && chunk_is_mmapped(hdr(m)));
    *size_word(m) += pm_page_size();
    death_expect_addr(m);
    (void)!realloc(m, 6 * MiB);
}

/* The heap walker (run after every call under PMALLOC_CHECK=1) checks
 * every chunk's tag, live ones too: one flipped tag bit is found before
 * anything frees the chunk. */
static void walker_sees_tag(void)
{
    void *a;
    void *b = walker_neighbours(&a);
    *size_word(b) ^= (size_t)1 << 60;
    (void)!malloc(16);
}

static const struct death_case cases[] = {
    DEATH_CASE(enlarged_cached, TAG_CHECK),
    DEATH_CASE(enlarged_fast, TAG_CHECK),
    DEATH_CASE(enlarged_merging, TAG_CHECK),
    DEATH_CASE(off_by_one_low_byte, TAG_CHECK),
    DEATH_CASE(enlarged_class, TAG_CHECK),
    DEATH_CASE(enlarged_thread_arena, TAG_CHECK),
    DEATH_CASE(enlarged_mapped, "munmap_chunk(): chunk size tag mismatch"),
    DEATH_CASE(realloc_enlarged, "realloc(): chunk size tag mismatch"),
    DEATH_CASE(realloc_enlarged_mapped, "mremap_chunk(): chunk size tag mismatch"),
    {"walker_sees_tag", walker_sees_tag, "chunk size tag does not match its size", "PMALLOC_CHECK=1"},
};

DEATH_TEST_MAIN(cases, "test_death_size_tag")
