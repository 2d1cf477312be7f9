/* Death tests for forged double-linked links that pass the classic
 * consistency checks ("fd->bk == p && bk->fd == p" and their skip-list
 * twins) but lead outside the arena's heaps, or to a bin header where only
 * a chunk may be: the range checks of src/bins.h and src/core_malloc.c
 * must refuse them before anything is written through them.  Each case
 * survives (and so fails) with the range checks taken out.  The cases for
 * plain outside links of small chunks are test_death_free.c's and
 * test_death_malloc.c's (unlink_links_outside, smallbin_link_outside,
 * largebin_bk_nextsize_outside). */
#include "misuse.h"

/* Static memory an attacker has arranged: room for a fake chunk of up to
 * 1 KiB and the header after it, and a few link targets. */
static struct pm_chunk targets[80] __attribute__((aligned(64)));

/* l (1024 or 1072 bytes) sits alone in large bin 64, its links set by
 * the sort; v, freed later, is the chunk sorted in next to it. */
static void *lone_in_bin64(size_t lbytes, void **v, size_t vbytes)
{
    tcache_off();
    guard();
    void *l = malloc(lbytes);
    guard();
    *v = malloc(vbytes);
    guard();
    free(l);
    (void)!malloc(2000); /* sorts l into its large bin */
    mchunk *bin = bin_at(MAIN, 64);
    REQUIRE(largebin_index(csize(l)) == 64);
    REQUIRE(bin_first(bin) == hdr(l) && bin_last(bin) == hdr(l));
    REQUIRE(chunk_fd_nextsize(hdr(l)) == hdr(l));
    return l;
}

/* The large-bin write of the brief: l's bk_nextsize aimed at static
 * words that name l back (so the skip-list check passes); a larger chunk
 * sorted in front of l would write its address into them. */
static void largebin_larger_insert_static(void)
{
    void *v;
    void *l = lone_in_bin64(1016, &v, 1064);
    mchunk *t = opaque(targets);
    t->fd_nextsize = hdr(l);
    *word(l, 3) = (size_t)t; /* bk_nextsize */
    free(v);
    death_expect_addr(hdr(l));
    (void)!malloc(2000); /* sorts v (1072) in front of l (1024) */
}

/* The unlink of a large chunk whose skip-list links were aimed at static
 * words that name it back, so "fd_nextsize->bk_nextsize == p &&
 * bk_nextsize->fd_nextsize == p" holds: merging with it would write each
 * target's address into the other. */
static void unlink_nextsize_static(void)
{
    void *a, *l;
    neighbours(&a, 200, &l, 1016);
    free(l);
    (void)!malloc(2000); /* sorts l alone into bin 64 */
    REQUIRE(chunk_fd_nextsize(hdr(l)) == hdr(l));
    mchunk *t = opaque(targets);
    t[0].bk_nextsize = hdr(l);
    t[1].fd_nextsize = hdr(l);
    *word(l, 2) = (size_t)&t[0]; /* fd_nextsize */
    *word(l, 3) = (size_t)&t[1]; /* bk_nextsize */
    death_expect_addr(hdr(l));
    free(a); /* merges with l: unlink */
}

/* l's bk_nextsize aimed at a bin header; a smaller chunk sorted into the
 * bin writes its address through it (that branch of the insert has no
 * consistency check to stop it), here into bin 16's fd. */
static void largebin_smaller_insert_bin_header(void)
{
    void *v;
    void *l = lone_in_bin64(1064, &v, 1016);
    *word(l, 3) = (size_t)bin_at(MAIN, 15); /* bk_nextsize */
    free(v);
    death_expect_addr(hdr(l));
    (void)!malloc(2000); /* sorts v (1024) behind l (1072) */
}

/* The best-fit walk of a large request follows bk_nextsize: aimed at a
 * fake 1 KiB chunk in static memory whose fd and bk name an in-heap block
 * that names it back, the unlink passes and malloc would hand out static
 * memory. */
static void largebin_walk_static(void)
{
    tcache_off();
    void *h = malloc(200); /* in use: its words are the fake's neighbours */
    void *v;
    void *l = lone_in_bin64(1064, &v, 40);
    mchunk *t = opaque(targets);
    t->size = 1024 | PM_PREV_INUSE;
    t->fd = t->bk = hdr(h);
    t->fd_nextsize = t->bk_nextsize = NULL;
    chunk_at(t, 1024)->prev_size = 1024;
    chunk_at(t, 1024)->size = 0x40 | PM_PREV_INUSE;
    *word(h, 0) = (size_t)t; /* h's fd */
    *word(h, 1) = (size_t)t; /* h's bk */
    *word(l, 3) = (size_t)t; /* bk_nextsize */
    death_expect_addr(hdr(l));
    void *m = malloc(1016); /* 1024 bytes from bin 64 */
    REQUIRE((char *)m < (char *)targets || (char *)m >= (char *)(targets + 80));
}

/* l's fd aimed at static words that name l back: a chunk of l's size
 * sorted in goes after l, through that fd, and would write its address
 * there. */
static void largebin_equal_insert_static(void)
{
    void *v;
    void *l = lone_in_bin64(1016, &v, 1016);
    mchunk *t = opaque(targets);
    t->bk = hdr(l);
    *word(l, 0) = (size_t)t; /* fd */
    free(v);
    death_expect_addr(hdr(l));
    (void)!malloc(2000); /* sorts v (1024) after l (1024) */
}

/* Bin 64 holds l1 (1072) and l2 (1024); a 1072-byte request walks the
 * skip list back to l1 and then prefers the chunk after it if it has the
 * same size: l1's fd aimed at a static fake of 1072 bytes, whose links
 * name an in-heap block that names it back, would be handed out. */
static void largebin_fd_step_static(void)
{
    tcache_off();
    void *h = malloc(200);
    guard();
    void *l1 = malloc(1064);
    guard();
    void *l2 = malloc(1016);
    guard();
    free(l1);
    free(l2);
    (void)!malloc(2000); /* sorts both into bin 64 */
    mchunk *bin = bin_at(MAIN, 64);
    REQUIRE(bin_first(bin) == hdr(l1) && bin_last(bin) == hdr(l2));
    mchunk *t = opaque(targets);
    t->size = 1072 | PM_PREV_INUSE;
    t->fd = t->bk = hdr(h);
    t->fd_nextsize = t->bk_nextsize = NULL;
    chunk_at(t, 1072)->prev_size = 1072;
    chunk_at(t, 1072)->size = 0x40 | PM_PREV_INUSE;
    *word(h, 0) = (size_t)t;
    *word(h, 1) = (size_t)t;
    *word(l1, 0) = (size_t)t; /* fd */
    death_expect_addr(hdr(l1));
    void *m = malloc(1064);
    REQUIRE((char *)m < (char *)targets || (char *)m >= (char *)(targets + 80));
}

static const struct death_case cases[] = {
    DEATH_CASE(largebin_larger_insert_static, "malloc(): largebin size link outside the heap"),
    DEATH_CASE(unlink_nextsize_static, "unlink(): size link outside the heap"),
    DEATH_CASE(largebin_smaller_insert_bin_header, "malloc(): largebin size link outside the heap"),
    DEATH_CASE(largebin_walk_static, "malloc(): largebin size link outside the heap"),
    DEATH_CASE(largebin_equal_insert_static, "malloc(): largebin link outside the heap"),
    DEATH_CASE(largebin_fd_step_static, "malloc(): largebin link outside the heap"),
};

DEATH_TEST_MAIN(cases, "test_death_links")
