/* Death tests for the heap's bounds: memory the allocator does not own
 * handed to free (fake chunks in .bss through the thread cache, the fast
 * bins and the arena's merge path; a chunk on the stack; a fake mmapped
 * chunk inside a real mapping), a top that no longer reaches the end of
 * its heap, and a break moved back below the heap by someone else.
 *
 * Each case expects SIGABRT with "pmalloc: <check> at 0x..." (glibc
 * 2.36's wording where glibc has the check).  Without the check the child
 * survives (or crashes later, elsewhere), which fails the case. */
#include "misuse.h"

/* A fake chunk outside every heap and mapping of ours ("house of spirit"):
 * a plausible header, and plausible next headers behind it. */
static struct pm_chunk spirit[128] __attribute__((aligned(64)));

static void *spirit_chunk(size_t size)
{
    free(malloc(16)); /* the heap and the thread cache exist */
    mchunk *p = opaque(&spirit[0]);
    p->size = size | PM_PREV_INUSE;
    mchunk *next = chunk_at(p, size);
    next->size = 0x40 | PM_PREV_INUSE;
    chunk_at(next, 0x40)->size = 0x40 | PM_PREV_INUSE;
    return chunk_mem(p);
}

/* Freed into the thread cache, which checks only alignment and a minimal
 * size: the next malloc(56) returns memory in .bss. */
static void foreign_tcache(void)
{
    void *p = spirit_chunk(0x40);
    death_expect_addr(p);
    free(p);
    void *q = malloc(56);
    death_note("malloc(56) returned %p, the fake chunk was %p\n", q, p);
}

/* The same through the fast bins (thread cache off). */
static void foreign_fastbin(void)
{
    tcache_off();
    void *p = spirit_chunk(0x40);
    death_expect_addr(p);
    free(p);
    void *q = malloc(56);
    death_note("malloc(56) returned %p, the fake chunk was %p\n", q, p);
}

/* The same through the arena's merge path: .bss lies below the break, so
 * "next chunk past top" does not catch it, and the fake chunk joins the
 * unsorted bin. */
static void foreign_arena(void)
{
    tcache_off();
    void *p = spirit_chunk(0x500);
    death_expect_addr(p);
    free(p);
    void *q = malloc(0x4f0);
    death_note("malloc returned %p, the fake chunk was %p\n", q, p);
}

/* A pointer into the stack. */
static void foreign_stack(void)
{
    struct pm_chunk frame[8] __attribute__((aligned(16)));
    free(malloc(16));
    memset(frame, 0, sizeof frame);
    mchunk *p = opaque(&frame[0]);
    p->size = 0x40 | PM_PREV_INUSE;
    chunk_at(p, 0x40)->size = 0x40 | PM_PREV_INUSE;
    death_expect_addr(chunk_mem(p));
    free(chunk_mem(p));
    void *q = malloc(56);
    death_note("malloc(56) returned %p, the stack chunk was %p\n", q, chunk_mem(p));
}

/* top's size overwritten with a smaller but plausible value: top no longer
 * ends where its heap ends.  glibc's sysmalloc asserts that the old top
 * ends on a page boundary before it grows the heap; pmalloc grows it and
 * the tail of the old heap is lost (the walker then finds "top does not
 * end at the end of its heap"). */
static void top_size_shrunk(void)
{
    tcache_off();
    void *b = block_before_top(200);
    death_expect_addr(MAIN->top);
    *next_size_word(b) = 0x40 | PM_PREV_INUSE;
    /* below the mmap threshold, above what the forged top holds: the
     * heap must grow, and growth checks top first */
    void *q = malloc(100000);
    death_note("malloc returned %p; walker: %zu problem(s)\n", q, pmalloc_check());
}

/* Someone else moved the break back below the main heap's end (sbrk with
 * a negative increment).  glibc aborts with "break adjusted to free malloc
 * space" when sysmalloc finds the break below the old top's end; pmalloc
 * opens a new brk heap over the tail of the old one. */
static void break_adjusted(void)
{
    tcache_off();
    REQUIRE(mallopt(M_TRIM_THRESHOLD, -1) == 1);
    void *b = malloc(100000);
    free(b);
    REQUIRE(MAIN->heap->kind == PM_HEAP_BRK && sbrk(0) == heap_end(MAIN->heap));
    REQUIRE(top_size(MAIN) > 64 * KiB);
    REQUIRE(sbrk(-(intptr_t)(32 * KiB)) != (void *)-1);
    /* more than top holds, served from the heap: the heap must grow, and
     * growth looks at the break first */
    REQUIRE(mallopt(M_MMAP_THRESHOLD, 4 * MiB) == 1);
    size_t want = top_size(MAIN) + 64 * KiB;
    void *q = malloc(want);
    if (q != NULL)
        memset(q, 0x55, want);
    death_note("malloc returned %p; walker: %zu problem(s)\n", q, pmalloc_check());
}

/* A fake mmapped chunk inside a real mapping, with a link record that
 * points at itself: the list checks (next->prev == l, prev->next == l)
 * hold for a self-loop, so the fake chunk is "unmapped", pages of a live
 * block are unmapped and the mapping count goes wrong. */
static void mmap_self_linked(void)
{
    void *m = malloc(MiB);
    REQUIRE(m != NULL && chunk_is_mmapped(hdr(m)));
    char *map = (char *)hdr(m) - *prev_size_word(m);
    struct pm_mmap_link *l = (struct pm_mmap_link *)(map + 4 * pm_page_size());
    size_t offset = 64;
    mchunk *f = (mchunk *)((char *)l + offset);
    l->next = l->prev = l;
    l->chunk = f;
    f->prev_size = offset;
    f->size = (2 * pm_page_size() - offset) | PM_IS_MMAPPED;
    death_expect_addr(chunk_mem(f));
    free(opaque(chunk_mem(f)));
    death_note("walker: %zu problem(s)\n", pmalloc_check());
}

static const struct death_case cases[] = {
    DEATH_CASE(foreign_tcache, "free(): invalid pointer"),
    DEATH_CASE(foreign_fastbin, "free(): invalid pointer"),
    DEATH_CASE(foreign_arena, "free(): invalid pointer"),
    DEATH_CASE(foreign_stack, "free(): invalid pointer"),
    DEATH_CASE(top_size_shrunk, "malloc(): corrupted top size"),
    DEATH_CASE(break_adjusted, "break adjusted to free malloc space"),
    DEATH_CASE(mmap_self_linked, "munmap_chunk(): invalid pointer"),
};

DEATH_TEST_MAIN(cases, "test_heap_bounds")
