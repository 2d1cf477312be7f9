/* The allocation profile's unwinder without libunwind (src/prof_stack.c):
 * a static program that does not link libunwind, as this one, gets the
 * frame-pointer walk, the same fall-back a shared library takes when it
 * cannot open libunwind.  The walk must find its callers' return
 * addresses in order, and stop, not crash, at a frame chain that leads
 * off the stack.  Built with frame pointers (tests/unit/local.mk). */
#include "../helpers.h"

#include "prof_stack.h"

#define FRAMES 16

struct walk {
    uint64_t frames[FRAMES];
    size_t n;
    uintptr_t ret_into_middle; /* where inner returns to, in middle */
    uintptr_t ret_into_outer;  /* where middle returns to, in outer */
};

__attribute__((noinline)) static void inner(struct walk *w)
{
    w->ret_into_middle = (uintptr_t)__builtin_return_address(0);
    w->n = pm_prof_backtrace(w->frames, FRAMES);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void middle(struct walk *w)
{
    w->ret_into_outer = (uintptr_t)__builtin_return_address(0);
    inner(w);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void outer(struct walk *w)
{
    middle(w);
    __asm__ volatile("" ::: "memory");
}

static size_t index_of(const struct walk *w, uintptr_t ret)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->frames[i] == ret)
            return i;
    return SIZE_MAX;
}

/* A frame whose saved frame pointer leads nowhere (a function built
 * without frame pointers may leave any value there). */
__attribute__((noinline)) static size_t walk_from_broken_chain(uint64_t *frames)
{
    uintptr_t *fp = __builtin_frame_address(0);
    uintptr_t saved = fp[0];
    fp[0] = (uintptr_t)0x10; /* not above this frame: no frame of this stack */
    size_t n = pm_prof_backtrace(frames, FRAMES);
    fp[0] = saved;
    __asm__ volatile("" ::: "memory");
    return n;
}

int main(void)
{
    pm_prof_stack_init();
    CHECK(strcmp(pm_prof_unwinder(), "frame pointers") == 0);

    struct walk w = {0};
    outer(&w);
    size_t at_middle = index_of(&w, w.ret_into_middle);
    size_t at_outer = index_of(&w, w.ret_into_outer);
    CHECK(at_middle != SIZE_MAX);
    CHECK(at_outer != SIZE_MAX);
    CHECK(at_middle + 1 == at_outer); /* innermost first, none skipped */
    if (at_middle == SIZE_MAX || at_outer == SIZE_MAX)
        for (size_t i = 0; i < w.n; i++)
            fprintf(stderr, "frame %zu: %#llx\n", i, (unsigned long long)w.frames[i]);

    uint64_t frames[FRAMES];
    size_t n = walk_from_broken_chain(frames);
    CHECK(n <= 2); /* the walk and this frame at most, then it stops */
    return test_finish("test_prof_stack");
}
