/* The heap walker that checks every invariant of an arena.  It trusts
 * nothing it reads: every pointer is range-checked against the arena's
 * heaps before it is followed, and every list walk is bounded, so a
 * corrupt heap gives a report, never a crash or a hang. */
#include "config.h"

#include "check.h"

#include <unistd.h>
#include "bins.h"
#include "heap.h"
#include "log.h"
#include "mmap_chunk.h"

struct walk {
    struct pm_arena *a;
    pm_problem_fn report;
    void *ctx;
    size_t problems;
    /* what the bins hold, to hold against the heaps' free chunks */
    size_t in_bins, bin_bytes;
    size_t in_fast, fast_bytes;
    size_t store_bytes;
    size_t prev_size; /* of the chunk before, in the bin being walked */
    /* the decay's and the idle return's resume chunks, found in the bins
     * they name */
    bool decay_resume_found, idle_resume_found;
};

static void problem(struct walk *w, const char *what, const void *addr)
{
    w->problems++;
    w->report(w->ctx, what, addr);
}

static bool is_fencepost(mchunk *p) { return chunk_size(p) == PM_CHUNK_HDR; }

/* Walks one heap's chunks in address order.  Counts free chunks (those
 * whose successor's PREV_INUSE is clear) into free_count and free_bytes. */
static void walk_heap(struct walk *w, struct pm_heap *h, size_t *free_count, size_t *free_bytes)
{
    struct pm_arena *a = w->a;
    bool newest = h == a->heap;
    char *end = heap_end(h);
    mchunk *p = (mchunk *)h->chunks_start;
    bool prev_free = false;
    size_t expected_flag = arena_bit(a);

    if (!chunk_prev_inuse(p))
        problem(w, "first chunk of a heap lacks PREV_INUSE", p);
    if (newest && a->newest_lo != (uintptr_t)h->chunks_start)
        problem(w, "the arena's newest_lo is not its newest heap's first chunk", p);
    for (;;) {
        if ((char *)p + PM_CHUNK_HDR > end) {
            problem(w, "chunk walk ran past the end of its heap", p);
            return;
        }
        if (!chunk_tag_ok(p))
            problem(w, "chunk size tag does not match its size", p);
        if (newest && p == a->top) {
            if (chunk_at(p, chunk_size(p)) != (mchunk *)align_down((uintptr_t)end, PM_ALIGNMENT))
                problem(w, "top does not end at the end of its heap", p);
            if (chunk_size(p) < PM_MINSIZE)
                problem(w, "top is smaller than a minimal chunk", p);
            if (!chunk_prev_inuse(p) || prev_free)
                problem(w, "chunk before top is free", p);
            return;
        }
        if (is_fencepost(p)) {
            if (newest)
                problem(w, "fencepost in the heap that holds top", p);
            mchunk *second = chunk_at(p, PM_CHUNK_HDR);
            if ((char *)second + PM_CHUNK_HDR > end || !is_fencepost(second) || !chunk_prev_inuse(second))
                problem(w, "broken fencepost pair", p);
            if (chunk_prev_inuse(p) == prev_free)
                problem(w, "fencepost PREV_INUSE disagrees with the chunk before it", p);
            return;
        }
        size_t size = chunk_size(p);
        if (size < PM_MINSIZE || !size_aligned(size) || size > (size_t)(end - (char *)p)) {
            problem(w, "impossible chunk size", p);
            return;
        }
        if (chunk_is_mmapped(p))
            problem(w, "heap chunk marked IS_MMAPPED", p);
        if ((chunk_raw_size(p) & PM_NON_MAIN_ARENA) != expected_flag)
            problem(w, "NON_MAIN_ARENA flag does not match the arena", p);
        if (chunk_prev_inuse(p) == prev_free)
            problem(w, "PREV_INUSE disagrees with the previous chunk", p);
        mchunk *next = chunk_at(p, size);
        if ((char *)next + PM_CHUNK_HDR > end) {
            problem(w, "chunk runs past the end of its heap", p);
            return;
        }
        bool free_now = !chunk_prev_inuse(next);
        if (free_now) {
            if (prev_free)
                problem(w, "two free chunks side by side", p);
            if (chunk_prev_size(next) != size)
                problem(w, "free chunk's boundary tag does not match its size", p);
            (*free_count)++;
            *free_bytes += size;
        }
        prev_free = free_now;
        p = next;
    }
}

/* A chunk of a double-linked bin: its size, its state, its bin and, in a
 * large bin, its place in the size order and the skip list. */
static bool check_bin_chunk(struct walk *w, unsigned idx, mchunk *p)
{
    struct pm_arena *a = w->a;
    if (p == bin_first(bin_at(a, idx)))
        w->prev_size = (size_t)-1;
    size_t size = chunk_size(p);
    if (!pm_arena_holds(a, p, size) || size < PM_MINSIZE || !size_aligned(size)) {
        problem(w, "chunk in a bin has an impossible size", p);
        return false;
    }
    if (chunk_prev_inuse(chunk_at(p, size)))
        problem(w, "chunk in a bin is marked in use", p);
    if (p == a->decay_resume.chunk && idx == a->decay_resume.bin)
        w->decay_resume_found = true;
    if (p == a->idle_resume.chunk && idx == a->idle_resume.bin)
        w->idle_resume_found = true;
    if (!chunk_held_mark_ok(p))
        problem(w, "chunk in a bin is not marked held free", p);
    if (idx != PM_UNSORTED_BIN) {
        if (bin_index(size) != idx)
            problem(w, "chunk filed in the wrong bin", p);
        if (!binmap_get(a, idx))
            problem(w, "binmap bit clear for a non-empty bin", bin_at(a, idx));
    }
    if (idx >= PM_NSMALLBINS) {
        if (size > w->prev_size)
            problem(w, "large bin not sorted by decreasing size", p);
        bool first_of_size = size != w->prev_size;
        if (first_of_size != (chunk_fd_nextsize(p) != NULL))
            problem(w, "size skip-list entry missing or misplaced", p);
        if (first_of_size && (chunk_bk_nextsize(chunk_fd_nextsize(p)) != p ||
                              chunk_fd_nextsize(chunk_bk_nextsize(p)) != p))
            problem(w, "size skip-list links broken", p);
    }
    w->prev_size = size;
    w->in_bins++;
    w->bin_bytes += size;
    return true;
}

/* A chunk a fast bin or store holds whole: in use to its heap, held
 * free, its canary intact.  The messages name the list. */
struct whole_messages {
    const char *misfiled, *not_in_use, *not_held, *modified;
};

static void check_whole_chunk(struct walk *w, mchunk *p, bool filed_right, const struct whole_messages *m)
{
    if (!filed_right)
        problem(w, m->misfiled, p);
    if (!chunk_prev_inuse(chunk_at(p, chunk_size(p))))
        problem(w, m->not_in_use, p);
    if (!chunk_held_mark_ok(p))
        problem(w, m->not_held, p);
    if (!fast_canary_intact(p))
        problem(w, m->modified, p);
}

static bool check_fast_chunk(struct walk *w, unsigned idx, mchunk *p)
{
    static const struct whole_messages fast = {
        "chunk filed in the wrong fast bin", "fast bin chunk is not marked in use",
        "fast bin chunk is not marked held free", "fast bin chunk modified after free",
    };
    check_whole_chunk(w, p, fastbin_index(chunk_size(p)) == idx && chunk_size(p) <= fastbin_limit(), &fast);
    w->in_fast++;
    w->fast_bytes += chunk_size(p);
    return true;
}

static bool check_stored_chunk(struct walk *w, unsigned k, mchunk *p)
{
    static const struct whole_messages store = {
        "chunk filed in the wrong store", "stored chunk is not marked in use",
        "stored chunk is not marked held free", "stored chunk modified after free",
    };
    check_whole_chunk(w, p, chunk_size(p) == pm_global.tcache_class_bytes[k] && store_class_of(chunk_size(p)) == k,
                      &store);
    w->store_bytes += chunk_size(p);
    return true;
}

/* The chunks other threads freed into the arena, waiting for its lock's
 * next holder: pushes only add at the head, and only a holder of the
 * lock (the caller) takes them off, so the list read here stays put.
 * Each is a whole chunk of the arena, held free, in use to its heap. */
static void check_remote_frees(struct walk *w)
{
    size_t seen = 0, bound = w->a->system_mem / PM_MINSIZE;
    for (mchunk *p = __atomic_load_n(&w->a->remote_frees, __ATOMIC_ACQUIRE); p != NULL; p = chunk_fd(p)) {
        if (++seen > bound) {
            problem(w, "remote-free list does not end (cycle)", p);
            return;
        }
        size_t size = chunk_size(p);
        if (!ptr_aligned(p) || size < PM_MINSIZE || !size_aligned(size) || !pm_arena_holds(w->a, p, size)) {
            problem(w, "remote-free list holds a pointer outside the arena's heaps", p);
            return;
        }
        if (!chunk_held_mark_ok(p))
            problem(w, "remote-free chunk is not marked held free", p);
        if (!chunk_prev_inuse(chunk_at(p, size)))
            problem(w, "remote-free chunk is not marked in use", p);
    }
}

/* Whether h is on the arena's heap list (compared as an address only:
 * a stale h may be unmapped). */
static bool heap_listed(struct pm_arena *a, const struct pm_heap *h)
{
    size_t guard = a->nheaps + 1;
    for (const struct pm_heap *q = a->heap; q != NULL && guard-- > 0; q = q->prev)
        if (q == h)
            return true;
    return false;
}

static bool visit_chunk(void *ctx, enum pm_bins_list list, unsigned idx, mchunk *p)
{
    return list == PM_LIST_FAST    ? check_fast_chunk(ctx, idx, p)
           : list == PM_LIST_STORE ? check_stored_chunk(ctx, idx, p)
                                   : check_bin_chunk(ctx, idx, p);
}

static void visit_problem(void *ctx, enum pm_bins_problem what, const void *where)
{
    static const char *const text[] = {
        [PM_BINS_FAST_UNALIGNED] = "fast bin holds a pointer outside the arena's heaps",
        [PM_BINS_FAST_OUTSIDE] = "fast bin holds a pointer outside the arena's heaps",
        [PM_BINS_FAST_CYCLE] = "fast bin list does not end (cycle)",
        [PM_BINS_OUTSIDE] = "bin holds a pointer outside the arena's heaps",
        [PM_BINS_BACK_LINK] = "bin list back link broken",
        [PM_BINS_CYCLE] = "bin list does not end (cycle)",
        [PM_BINS_LAST_LINK] = "bin header's last link is wrong",
    };
    problem(ctx, text[what], where);
}

/* Walks every chunk, bin and list of an arena (its lock held by the
 * caller) and checks every invariant.  Each broken one is reported to the
 * sink; returns the number found. */
static size_t check_arena(struct pm_arena *a, pm_problem_fn report, void *ctx)
{
    struct walk w = { .a = a, .report = report, .ctx = ctx, .problems = 0 };
    if (a->heap == NULL) {
        if (a->top != NULL)
            problem(&w, "top without a heap", a->top);
        if (a->newest_lo != UINTPTR_MAX)
            problem(&w, "newest_lo set without a heap", (void *)a->newest_lo);
        return w.problems;
    }

    size_t heaps = 0, mem = 0, free_count = 0, free_bytes = 0;
    for (struct pm_heap *h = a->heap; h != NULL; h = h->prev) {
        if (++heaps > a->nheaps) {
            problem(&w, "heap list longer than the arena's count", h);
            break;
        }
        if (h->magic != PM_HEAP_MAGIC || h->arena != a) {
            problem(&w, "heap header corrupt", h);
            break;
        }
        mem += h->size;
        walk_heap(&w, h, &free_count, &free_bytes);
    }
    if (heaps != a->nheaps)
        problem(&w, "arena's heap count disagrees with its heap list", a);
    if (mem != a->system_mem)
        problem(&w, "arena's system_mem disagrees with its heaps", a);
    if (a->top == NULL || !pm_arena_holds(a, a->top, PM_MINSIZE))
        problem(&w, "top is not inside the newest heap", a->top);

    const struct pm_bins_visitor v = {visit_chunk, visit_problem, &w, false, 0, NULL};
    pm_bins_walk(a, &v);
    if (w.in_fast > 0 && !a->have_fastchunks)
        problem(&w, "fast chunks present but the arena says none", a);
    if (w.fast_bytes != a->fast_bytes)
        problem(&w, "fast bin byte count disagrees with the fast bins", a);
    if (w.store_bytes != a->store_bytes || a->store_bytes > pm_global.store_bound)
        problem(&w, "store byte count disagrees with the stores or their bound", a);
    if (w.in_bins != free_count || w.bin_bytes != free_bytes)
        problem(&w, "free chunks and bin contents disagree", a);
    check_remote_frees(&w);
    /* a pass of the decay goes on from its resume chunk: one no longer in
     * its bin would send it into a list it is not on.  The idle return's
     * is kept only while no call has used the arena since its last look
     * (trim.c): a call may empty the unsorted bin under it, and the next
     * look starts again. */
    if (a->decay_resume.chunk != NULL && !w.decay_resume_found)
        problem(&w, "the decay's resume chunk is not in the bin it names", a->decay_resume.chunk);
    if (a->idle_resume.chunk != NULL && a->activity == a->idle_activity && !w.idle_resume_found)
        problem(&w, "the idle return's resume chunk is not in the bin it names", a->idle_resume.chunk);
    /* the link checks' hint (heap.h) names one of the arena's heaps: a
     * stale one would let a link into memory given back pass */
    if (a->owned_hint != NULL && !heap_listed(a, a->owned_hint))
        problem(&w, "link-check hint names no heap of the arena", a->owned_hint);
    else if (a->owned_hint == NULL ? a->owned_hint_lo != UINTPTR_MAX || a->owned_hint_last != 0
                                   : a->owned_hint_lo != (uintptr_t)a->owned_hint->chunks_start ||
                                         a->owned_hint_last != (uintptr_t)heap_end(a->owned_hint) - sizeof(struct pm_chunk))
        problem(&w, "link-check hint's range is not its heap's", a->owned_hint);
    return w.problems;
}

static void print_problem(void *ctx, const char *what, const void *addr)
{
    (void)ctx;
    pm_log_at(STDERR_FILENO, "pmalloc_check: ", what, addr);
}

static void abort_problem(void *ctx, const char *what, const void *addr)
{
    (void)ctx;
    pm_corruption(what, addr);
}

pm_problem_fn pm_check_sink(bool abort_on_problem) { return abort_on_problem ? abort_problem : print_problem; }

size_t pm_check_all(bool abort_on_problem)
{
    pm_problem_fn report = pm_check_sink(abort_on_problem);
    size_t problems = 0;
    struct pm_arena *a = &pm_main_arena;
    do {
        pm_lock(&a->lock);
        problems += check_arena(a, report, NULL);
        pm_unlock(&a->lock);
        a = arena_next(a);
    } while (a != &pm_main_arena);
    if (!pm_mmap_check(report, NULL))
        problems++;
    return problems;
}
