/* Shared pieces of the misuse tests: words of chunk headers and free
 * chunks reached through opaque pointers, adjacency checks, a fake chunk
 * that list pointers can be aimed at, and the heap states the cases start
 * their misuse from. */
#ifndef PMALLOC_TEST_MISUSE_H
#define PMALLOC_TEST_MISUSE_H

#include "death.h"
#include "tcache.h"

/* The word after a block: the next chunk's prev_size and size. */
static inline size_t *next_prev_size_word(void *mem)
{
    return (size_t *)((char *)hdr(mem) + csize(mem));
}
static inline size_t *next_size_word(void *mem) { return next_prev_size_word(mem) + 1; }
static inline size_t *prev_size_word(void *mem) { return word(mem, -2); }

/* A forged size that carries the tag of the size it claims (chunk.h), as
 * only an attacker who knows the secret could write: the case then
 * reaches the checks behind the tag's. */
static inline void forge_tagged_size(void *mem, size_t size_and_flags) { chunk_set_head(hdr(mem), size_and_flags); }

/* b's chunk starts where a's ends. */
static inline void require_adjacent(void *a, void *b)
{
    REQUIRE(chunk_at(hdr(a), csize(a)) == hdr(b));
}

/* A chunk outside the heap that links can point to: its own links point
 * to itself, so it never satisfies "fd->bk == p" for another chunk. */
static struct pm_chunk fake_chunk[4] __attribute__((aligned(64)));

static inline mchunk *fake(void)
{
    mchunk *f = opaque(&fake_chunk[0]);
    f->prev_size = 0;
    f->size = 0x40 | PM_PREV_INUSE;
    f->fd = f->bk = f->fd_nextsize = f->bk_nextsize = f;
    return f;
}

/* A chunk inside the heap whose links (all zero) point back to no other
 * chunk: where a forged link must lead for the list checks, rather than
 * the heap-range check, to catch it. */
static inline mchunk *in_heap_decoy(void)
{
    void *d = calloc(1, 200);
    REQUIRE(d != NULL);
    return hdr(d);
}

/* A misaligned address inside the fake chunk: where a forged list
 * pointer leads once safe-linking has revealed it. */
static inline void *misaligned(void) { return (char *)fake() + 8; }

/* The stored form of a single-linked pointer in the fd slot of p, as the
 * allocator would write it (link_protect): what an attacker who knows the
 * secret (or leaked a mask) writes to aim the list at `target`. */
static inline mchunk *forged_fd(void *mem, void *target)
{
    mchunk *p = hdr(mem);
    return link_protect(chunk_fd_slot(p), (mchunk *)target);
}

/* Keeps blocks from being folded into top by later frees. */
static inline void *guard(void)
{
    void *g = malloc(40);
    REQUIRE(g != NULL);
    return g;
}

/* Makes top large, so that it is neither a fast nor a cached size. */
static inline void big_top(void)
{
    void *p = malloc(100000);
    REQUIRE(p != NULL);
    free(p);
    REQUIRE(top_size(MAIN) > 64 * KiB);
}

/* ---- heap states the cases start from ---- */

/* Turns the thread cache off so frees reach the fast bins and the arena
 * (no_tcache empties it too). */
static inline void tcache_off(void) { no_tcache(); }

/* With the thread cache off, a block of n bytes between two guards, freed:
 * it sits alone in its fast bin or in the unsorted bin, and merges with
 * nothing. */
static inline void *freed_between_guards(size_t n)
{
    tcache_off();
    guard();
    void *b = malloc(n);
    guard();
    free(b);
    return b;
}

/* With the thread cache off, two blocks of n bytes, each followed by a
 * guard: freed, they merge with nothing. */
static inline void two_guarded_blocks(size_t n, void **a, void **b)
{
    tcache_off();
    *a = malloc(n);
    guard();
    *b = malloc(n);
    guard();
}

/* With the thread cache off, two in-use neighbours a (na bytes), then b
 * (nb bytes), between guards: a free of either reaches the arena and can
 * merge only with the other. */
static inline void neighbours(void **a, size_t na, void **b, size_t nb)
{
    tcache_off();
    guard();
    *a = malloc(na);
    *b = malloc(nb);
    guard();
    require_adjacent(*a, *b);
}

/* A block of n bytes carved from a large top, which follows it. */
static inline void *block_before_top(size_t n)
{
    big_top();
    void *b = malloc(n);
    REQUIRE(chunk_at(hdr(b), csize(b)) == MAIN->top);
    return b;
}

/* For the cases whose corrupt header only the walker PMALLOC_CHECK=1
 * runs after every call finds: two adjacent live blocks a and b before a
 * guard, the walker's report expected at b's chunk. */
static inline void *walker_neighbours(void **a)
{
    REQUIRE(pm_opt.check_heap);
    *a = malloc(200);
    void *b = malloc(200);
    guard();
    require_adjacent(*a, b);
    death_expect_addr(hdr(b));
    return b;
}

/* The second free of a block already freed, which the message must name. */
static inline void free_again(void *b)
{
    death_expect_addr(b);
    free(opaque(b));
}

#endif
