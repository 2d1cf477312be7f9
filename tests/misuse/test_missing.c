/* Misuse that pmalloc does not catch yet, although glibc 2.36 does or the
 * hardening issue asks for it.  Each case is built as its own program
 * (-DMISSING_CASE="name") listed in XFAIL_TESTS, so each missing check is
 * one line of the to-do list: when a check is added, its program passes,
 * automake reports XPASS, and the line comes out of XFAIL_TESTS.
 *
 * Every case expects what a complete allocator does: SIGABRT with
 * "pmalloc: <check> at 0x...".  Without the check the child survives (or
 * crashes later, elsewhere), which fails the case. */
#include "misuse.h"

#ifndef MISSING_CASE
#error "build with -DMISSING_CASE=\"name\""
#endif

/* A fake chunk outside every heap and mapping of ours ("house of spirit"):
 * a plausible header, and plausible next headers behind it. */
static struct pm_chunk spirit[128] __attribute__((aligned(64)));

static void *spirit_chunk(size_t size)
{
    free(malloc(16)); /* the heap and the thread cache exist */
    mchunk p = opaque(&spirit[0]);
    p->size = size | PM_PREV_INUSE;
    mchunk next = chunk_at(p, size);
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
    mchunk p = opaque(&frame[0]);
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
    big_top();
    void *b = malloc(200);
    REQUIRE(chunk_at(hdr(b), csize(b)) == MAIN->top);
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
    mchunk f = (mchunk)((char *)l + offset);
    l->next = l->prev = l;
    l->chunk = f;
    f->prev_size = offset;
    f->size = (2 * pm_page_size() - offset) | PM_IS_MMAPPED;
    death_expect_addr(chunk_mem(f));
    free(opaque(chunk_mem(f)));
    death_note("walker: %zu problem(s)\n", pmalloc_check());
}

static const struct death_case all_cases[] = {
    {"foreign_tcache", foreign_tcache, "free(): invalid pointer", NULL},
    {"foreign_fastbin", foreign_fastbin, "free(): invalid pointer", NULL},
    {"foreign_arena", foreign_arena, "free(): invalid pointer", NULL},
    {"foreign_stack", foreign_stack, "free(): invalid pointer", NULL},
    {"top_size_shrunk", top_size_shrunk, "malloc(): corrupted top size", NULL},
    {"break_adjusted", break_adjusted, "break adjusted to free malloc space", NULL},
    {"mmap_self_linked", mmap_self_linked, "munmap_chunk(): invalid pointer", NULL},
};

int main(int argc, char **argv)
{
    for (size_t i = 0; i < sizeof all_cases / sizeof all_cases[0]; i++)
        if (strcmp(all_cases[i].name, MISSING_CASE) == 0)
            return death_main(argc, argv, &all_cases[i], 1, "test_missing_" MISSING_CASE);
    fprintf(stderr, "no case %s\n", MISSING_CASE);
    return 99;
}
