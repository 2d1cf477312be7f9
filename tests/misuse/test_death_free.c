/* Death tests for free(): every integrity check on the freeing side
 * (src/api.c free, src/core_free.c, the unlink checks of src/bins.h and
 * the thread cache's double-free walk in src/tcache.c) is reached by a
 * user-level misuse in a child, which must die of SIGABRT naming the check
 * and the address (facts §8, "free" and "unlink"). */
#include "misuse.h"

#include <pthread.h>
#include <sys/mman.h>

/* ---- bad pointers and sizes ---- */

/* A pointer 8 bytes into a block is not 16-aligned.  Its "size word" is
 * user data: small, so free's thread-cache path sees it first. */
static void misaligned_tcache(void)
{
    char *p = malloc(64);
    *word(p, 0) = 0x30 | PM_PREV_INUSE;
    death_expect_addr(p + 8);
    free(opaque(p + 8));
}

/* The same with the thread cache off: the arena path's check. */
static void misaligned_arena(void)
{
    tcache_off();
    char *p = malloc(600);
    *word(p, 0) = 0x100 | PM_PREV_INUSE;
    death_expect_addr(p + 8);
    free(opaque(p + 8));
}

/* A size word below MINSIZE. */
static void size_too_small(void)
{
    void *p = malloc(24);
    *size_word(p) = 0x10 | PM_PREV_INUSE;
    death_expect_addr(p);
    free(p);
}

/* A size that is not a multiple of 16 (fast-bin path). */
static void size_unaligned_arena(void)
{
    tcache_off();
    void *p = malloc(56);
    guard();
    *size_word(p) = 0x48 | PM_PREV_INUSE;
    death_expect_addr(p);
    free(p);
}

/* The same on the thread-cache path (a cached size). */
static void size_unaligned_tcache(void)
{
    void *p = malloc(56);
    guard();
    *size_word(p) = 0x48 | PM_PREV_INUSE;
    death_expect_addr(p);
    free(p);
}

/* A size so large that p + size wraps the address space. */
static void size_wraps(void)
{
    void *p = malloc(24);
    *size_word(p) = ((size_t)0 - 0x100) | PM_PREV_INUSE;
    death_expect_addr(p);
    free(p);
}

/* ---- fast bins (thread cache off so frees reach them) ---- */

static void fasttop_double_free(void) { free_again(freed_between_guards(24)); }

/* An overflow from a into b's size field: b's size is now 0. */
static void fast_invalid_next_size(void)
{
    void *a, *b;
    neighbours(&a, 24, &b, 24);
    *word(a, 3) = 0; /* a's 25th..32nd byte: b's size */
    death_expect_addr(a);
    free(a);
}

/* The fast bin's head had its size changed after it was freed; the next
 * free into that bin sees a head of the wrong size. */
static void invalid_fastbin_entry(void)
{
    void *a, *b;
    two_guarded_blocks(24, &a, &b);
    free(a);
    *size_word(a) = 0x40 | PM_PREV_INUSE;
    death_expect_addr(a);
    free(b);
}

/* ---- the arena path ---- */

/* top itself passed to free: its address is where the last block ends. */
static void free_of_top(void)
{
    tcache_off();
    void *b = block_before_top(200);
    char *top_mem = (char *)b + csize(b);
    death_expect_addr(top_mem);
    free(opaque(top_mem));
}

/* A size overwritten so that the chunk reaches past the end of top. */
static void next_past_top(void)
{
    tcache_off();
    big_top();
    void *b = malloc(2000);
    guard();
    REQUIRE(arena_contiguous(MAIN));
    char *top_end = (char *)MAIN->top + top_size(MAIN);
    forge_tagged_size(b, (size_t)(top_end - (char *)hdr(b) + 16) | PM_PREV_INUSE);
    death_expect_addr(b);
    free(b);
}

/* A normal (non-fast) chunk freed twice: the next chunk already says it
 * is free.  (Its own held-free mark would say so first: test_death_state;
 * here it is forged off, as an overflow into the header could, to reach
 * the model's check behind it.) */
static void free_again_unmarked(void *b)
{
    REQUIRE(*size_word(b) & PM_HELD_FREE);
    *size_word(b) &= ~PM_HELD_FREE;
    free_again(b);
}

static void double_free_prev(void) { free_again_unmarked(freed_between_guards(200)); }

/* The same with the default thread cache: a block too large to cache. */
static void double_free_prev_default(void)
{
    big_top();
    void *b = malloc(2000);
    guard();
    free(b);
    free_again_unmarked(b);
}

/* The same in a thread's arena (NON_MAIN_ARENA chunks). */
static void *thread_double_free(void *arg)
{
    (void)arg;
    void *b = malloc(3000);
    guard();
    REQUIRE(chunk_non_main(hdr(b)));
    free(b);
    free_again_unmarked(b);
    return NULL;
}
static void double_free_prev_thread(void)
{
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, thread_double_free, NULL) == 0);
    pthread_join(t, NULL);
}

/* An overflow from b into its in-use neighbour's size: too small, and
 * (second case) larger than the arena. */
static void free_with_next_size(size_t forged)
{
    void *b, *c;
    neighbours(&b, 200, &c, 200);
    *next_size_word(b) = forged | PM_PREV_INUSE;
    death_expect_addr(b);
    free(b);
}
static void normal_invalid_next_size(void) { free_with_next_size(0x8); }
static void normal_invalid_next_size_huge(void) { free_with_next_size((size_t)1 << 40); }

/* a is free; its size is then changed (an underflow from the block before
 * it), so b's prev_size no longer matches when b is freed and merges
 * backwards. */
static void prev_size_while_consolidating(void)
{
    void *a, *b;
    neighbours(&a, 200, &b, 200);
    free(a);
    *size_word(a) = 0x100 | PM_PREV_INUSE;
    death_expect_addr(b);
    free(b);
}

/* The same met by malloc_consolidate: a fast chunk whose prev_size (the
 * last word of the free block before it) was overwritten.  glibc names
 * this "corrupted size vs. prev_size in fastbins"; pmalloc's consolidation
 * goes through the free path's check. */
static void prev_size_in_fastbins(void)
{
    void *a, *f;
    neighbours(&a, 200, &f, 24);
    memset(a, 0, 200);
    free(a);
    free(f);
    *prev_size_word(f) = 0x50;
    death_expect_addr(f);
    (void)!malloc(2000); /* a large request consolidates the fast bins */
}

/* ---- unlink ---- */

/* b is free between a and c; its boundary tag (c's prev_size, the last
 * word of b's old user area) is overwritten; freeing a merges forwards and
 * unlinks b. */
static void unlink_size_vs_prev_size(void)
{
    tcache_off();
    guard();
    void *a = malloc(200);
    void *b = malloc(200);
    void *c = malloc(200);
    guard();
    require_adjacent(a, b);
    require_adjacent(b, c);
    free(b);
    *next_prev_size_word(b) = 0x50;
    death_expect_addr(hdr(b));
    free(a);
}

/* b's fd and bk are overwritten after it was freed (the classic unlink
 * attack); freeing a merges with b. */
static void unlink_corrupted_list(void)
{
    mchunk *decoy = in_heap_decoy();
    void *a, *b;
    neighbours(&a, 200, &b, 200);
    free(b);
    *word(b, 0) = (size_t)decoy;
    *word(b, 1) = (size_t)decoy;
    death_expect_addr(hdr(b));
    free(a);
}

/* The same reached by a bin removal: b sits in a small bin, its links
 * forged; a smaller request splits it (binmap search, unlink). */
static void unlink_corrupted_list_bin(void)
{
    mchunk *decoy = in_heap_decoy();
    void *b = freed_between_guards(200);
    (void)!malloc(1000); /* sorts b into its small bin */
    *word(b, 0) = (size_t)decoy;
    *word(b, 1) = (size_t)decoy;
    death_expect_addr(hdr(b));
    (void)!malloc(40);
}

/* A large chunk in its sorted bin with a forged size skip-list link. */
static void unlink_corrupted_nextsize(void)
{
    mchunk *decoy = in_heap_decoy();
    void *a, *l;
    neighbours(&a, 200, &l, 2000);
    free(l);
    (void)!malloc(3000); /* sorts l into its large bin */
    REQUIRE(chunk_fd_nextsize(hdr(l)) == hdr(l));
    *word(l, 2) = (size_t)decoy; /* fd_nextsize */
    death_expect_addr(hdr(l));
    free(a);
}

/* The unsorted bin's first chunk had its bk overwritten; the next chunk
 * put in the unsorted bin by free finds the list broken. */
static void free_corrupted_unsorted(void)
{
    void *x, *y;
    two_guarded_blocks(200, &x, &y);
    free(x);
    *word(x, 1) = (size_t)fake();
    death_expect_addr(hdr(y));
    free(y);
}

/* The classic unsafe unlink on b: its links aimed at static words that
 * point back to b, so "fd->bk == p && bk->fd == p" holds; without the
 * range check the unlink writes into static memory and survives. */
static struct pm_chunk unlink_targets[2] __attribute__((aligned(64)));
static void unlink_links_outside(void)
{
    void *a, *b;
    neighbours(&a, 200, &b, 200);
    free(b);
    mchunk *t = opaque(unlink_targets);
    t[0].bk = hdr(b);
    t[1].fd = hdr(b);
    *word(b, 0) = (size_t)&t[0];
    *word(b, 1) = (size_t)&t[1];
    death_expect_addr(hdr(b));
    free(a);
}

/* A large chunk's bk_nextsize aimed outside the heap: the next, smaller
 * chunk sorted into that bin would write through it. */
static void largebin_bk_nextsize_outside(void)
{
    void *a, *l, *s;
    tcache_off();
    guard();
    l = malloc(2000);
    guard();
    s = malloc(1970); /* 1984 bytes: l's bin, below l */
    guard();
    a = s;
    free(l);
    (void)!malloc(3000); /* sorts l into its large bin */
    REQUIRE(chunk_fd_nextsize(hdr(l)) == hdr(l));
    *word(l, 3) = (size_t)opaque(unlink_targets); /* bk_nextsize */
    free(a);
    death_expect_addr(hdr(l));
    (void)!malloc(3000); /* sorts a into the same bin, below l */
}

/* ---- realloc of a freed block ---- */

static void realloc_freed_tcache(void)
{
    void *a = malloc(24);
    free(a);
    death_expect_addr(a);
    (void)!realloc(opaque(a), 48);
}

static void realloc_freed_arena(void)
{
    void *b = freed_between_guards(200);
    death_expect_addr(b);
    (void)!realloc(opaque(b), 400);
}

static void realloc_freed_fast(void)
{
    void *b = freed_between_guards(24);
    death_expect_addr(b);
    (void)!realloc(opaque(b), 400);
}

/* The same sizes take realloc's short ways (a block that stays as it is,
 * one that grows into top): the checks they make must stop a freed block
 * too. */
static void realloc_freed_tcache_stays(void)
{
    void *a = malloc(24);
    free(a);
    death_expect_addr(a);
    (void)!realloc(opaque(a), 20);
}

static void realloc_freed_arena_stays(void)
{
    void *b = freed_between_guards(200);
    death_expect_addr(b);
    (void)!realloc(opaque(b), 150);
}

static void realloc_freed_at_top(void)
{
    /* A block freed next to top merges into it: what realloc is handed
     * is top's own header, held by no block. */
    tcache_off();
    void *a = malloc(100000);
    free(a);
    death_expect_addr(a);
    (void)!realloc(opaque(a), 150000);
}

/* ---- the thread cache ---- */

static void tcache_double_free(void)
{
    void *a = malloc(24);
    free(a);
    free_again(a);
}

/* The bin walk that confirms a double free runs longer than the bin's
 * count: a's next was aimed at itself (the mask leaked from a's own stored
 * end of list), and b carries a copy of the cache key and claims, by its size
 * word's top bit, to be held free. */
static void tcache_too_many(void)
{
    void *a = malloc(24);
    void *b = malloc(24);
    free(a);
    size_t mask = *word(a, 0) ^ (uintptr_t)PM_TCACHE_END; /* a is the list's last */
    *word(a, 0) = mask ^ (size_t)a;
    *word(b, 1) = *word(a, 1);
    *size_word(b) |= PM_HELD_FREE;
    death_expect_addr(a);
    free(b);
}

/* The walk meets a misaligned entry: c's next was aimed 8 bytes into a. */
static void tcache_unaligned_in_walk(void)
{
    void *a = malloc(24);
    void *c = malloc(24);
    void *b = malloc(24);
    free(a);
    free(c);
    size_t mask = *word(c, 0) ^ (size_t)a;
    *word(c, 0) = mask ^ ((size_t)a + 8);
    *word(b, 1) = *word(c, 1);
    *size_word(b) |= PM_HELD_FREE;
    death_expect_addr((char *)a + 8);
    free(b);
}

/* ---- pointers into no mapping: stopped before their header is read ---- */

/* A page that was mapped and is not any more. */
static char *unmapped_page(void)
{
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        abort();
    munmap(m, (size_t)page);
    return m;
}

static void free_unmapped(void)
{
    char *m = unmapped_page();
    death_expect_addr(m + 32);
    free(opaque(m + 32));
}

/* The commonest way there: a block above the mmap threshold freed twice,
 * the second time after its munmap. */
static void mapped_double_free(void)
{
    char *p = malloc(4 << 20);
    free(p);
    death_expect_addr(p);
    free(opaque(p));
}

static void realloc_unmapped(void)
{
    char *m = unmapped_page();
    death_expect_addr(m + 32);
    void *q = realloc(opaque(m + 32), 100);
    free(q);
}

static void usable_size_unmapped(void)
{
    char *p = malloc(4 << 20);
    free(p);
    death_expect_addr(p);
    (void)malloc_usable_size(opaque(p));
}

static const struct death_case cases[] = {
    DEATH_CASE(free_unmapped, "free(): invalid pointer (not mapped)"),
    DEATH_CASE(mapped_double_free, "free(): invalid pointer (not mapped)"),
    DEATH_CASE(realloc_unmapped, "realloc(): invalid pointer (not mapped)"),
    DEATH_CASE(usable_size_unmapped, "malloc_usable_size(): invalid pointer (not mapped)"),
    DEATH_CASE(misaligned_tcache, "free(): invalid pointer"),
    DEATH_CASE(misaligned_arena, "free(): invalid pointer"),
    DEATH_CASE(size_too_small, "free(): invalid size"),
    DEATH_CASE(size_unaligned_arena, "free(): invalid size"),
    DEATH_CASE(size_unaligned_tcache, "free(): invalid size"),
    DEATH_CASE(size_wraps, "free(): invalid pointer"),
    DEATH_CASE(fasttop_double_free, "double free or corruption (fasttop)"),
    DEATH_CASE(fast_invalid_next_size, "free(): invalid next size (fast)"),
    DEATH_CASE(invalid_fastbin_entry, "invalid fastbin entry (free)"),
    DEATH_CASE(free_of_top, "double free or corruption (top)"),
    DEATH_CASE(next_past_top, "double free or corruption (out)"),
    DEATH_CASE(double_free_prev, "double free or corruption (!prev)"),
    DEATH_CASE(double_free_prev_default, "double free or corruption (!prev)"),
    DEATH_CASE(double_free_prev_thread, "double free or corruption (!prev)"),
    DEATH_CASE(normal_invalid_next_size, "free(): invalid next size (normal)"),
    DEATH_CASE(normal_invalid_next_size_huge, "free(): invalid next size (normal)"),
    DEATH_CASE(prev_size_while_consolidating, "corrupted size vs. prev_size while consolidating"),
    DEATH_CASE(prev_size_in_fastbins, "corrupted size vs. prev_size while consolidating"),
    DEATH_CASE(unlink_size_vs_prev_size, "corrupted size vs. prev_size"),
    DEATH_CASE(unlink_corrupted_list, "corrupted double-linked list"),
    DEATH_CASE(unlink_corrupted_list_bin, "corrupted double-linked list"),
    DEATH_CASE(unlink_corrupted_nextsize, "corrupted double-linked list (not small)"),
    DEATH_CASE(unlink_links_outside, "unlink(): list link outside the heap"),
    DEATH_CASE(largebin_bk_nextsize_outside, "malloc(): largebin size link outside the heap"),
    DEATH_CASE(realloc_freed_tcache, "realloc(): chunk already freed (tcache)"),
    DEATH_CASE(realloc_freed_arena, "realloc(): chunk already freed"),
    DEATH_CASE(realloc_freed_fast, "realloc(): chunk already freed"),
    DEATH_CASE(realloc_freed_tcache_stays, "realloc(): chunk already freed (tcache)"),
    DEATH_CASE(realloc_freed_arena_stays, "realloc(): chunk already freed"),
    DEATH_CASE(realloc_freed_at_top, "realloc(): chunk already freed"),
    DEATH_CASE(free_corrupted_unsorted, "free(): corrupted unsorted chunks"),
    DEATH_CASE(tcache_double_free, "free(): double free detected in tcache 2"),
    DEATH_CASE(tcache_too_many, "free(): too many chunks detected in tcache"),
    DEATH_CASE(tcache_unaligned_in_walk, "free(): unaligned chunk detected in tcache 2"),
};

DEATH_TEST_MAIN(cases, "test_death_free")
