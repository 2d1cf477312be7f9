/* Integrity checks: the abort path, and the heap walker that checks every
 * invariant of an arena.  The walker trusts nothing it reads: every
 * pointer is range-checked against the arena's heaps before it is
 * followed, and every list walk is bounded, so a corrupt heap gives a
 * report, never a crash or a hang. */
#include "internal.h"

#include <stdlib.h>
#include <unistd.h>
#include "log.h"

void pm_corruption(const char *check, const void *addr)
{
    if (pm_opt.check_action & 1) {
        struct pm_buf b = { .len = 0 };
        pm_buf_str(&b, "pmalloc: ");
        pm_buf_str(&b, check);
        pm_buf_str(&b, " at ");
        pm_buf_hex(&b, (uintptr_t)addr);
        pm_buf_str(&b, "\n");
        pm_buf_flush(&b, STDERR_FILENO);
    }
    abort();
}

struct walk {
    struct pm_arena *a;
    pm_problem_fn report;
    void *ctx;
    size_t problems;
};

static void problem(struct walk *w, const char *what, const void *addr)
{
    w->problems++;
    w->report(w->ctx, what, addr);
}

/* True if [p, p+len) lies inside the chunk space of one of the heaps. */
static bool in_heaps(struct pm_arena *a, const void *p, size_t len)
{
    size_t guard = a->nheaps + 1;
    for (struct pm_heap *h = a->heap; h != NULL && guard-- > 0; h = h->prev) {
        const char *lo = h->chunks_start, *hi = heap_end(h);
        if ((const char *)p >= lo && (const char *)p <= hi && len <= (size_t)(hi - (const char *)p))
            return true;
    }
    return false;
}

static bool is_fencepost(mchunk p) { return chunk_size(p) == PM_CHUNK_HDR; }

/* Walks one heap's chunks in address order.  Counts free chunks (those
 * whose successor's PREV_INUSE is clear) into free_count and free_bytes. */
static void walk_heap(struct walk *w, struct pm_heap *h, size_t *free_count, size_t *free_bytes)
{
    struct pm_arena *a = w->a;
    bool newest = h == a->heap;
    char *end = heap_end(h);
    mchunk p = (mchunk)h->chunks_start;
    bool prev_free = false;
    size_t expected_flag = arena_bit(a);

    if (!chunk_prev_inuse(p))
        problem(w, "first chunk of a heap lacks PREV_INUSE", p);
    for (;;) {
        if ((char *)p + PM_CHUNK_HDR > end) {
            problem(w, "chunk walk ran past the end of its heap", p);
            return;
        }
        if (newest && p == a->top) {
            if (chunk_at(p, chunk_size(p)) != (mchunk)align_down((uintptr_t)end, PM_ALIGNMENT))
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
            mchunk second = chunk_at(p, PM_CHUNK_HDR);
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
        mchunk next = chunk_at(p, size);
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

/* Checks one double-linked bin; returns the number of chunks in it. */
static size_t walk_bin(struct walk *w, unsigned idx, size_t bound, size_t *bytes)
{
    struct pm_arena *a = w->a;
    mchunk bin = bin_at(a, idx);
    size_t n = 0;
    size_t prev_size = (size_t)-1;
    mchunk prev = bin;
    for (mchunk p = bin_first(bin); p != bin; prev = p, p = chunk_fd(p)) {
        if (++n > bound) {
            problem(w, "bin list does not end (cycle)", bin);
            return n;
        }
        if (!in_heaps(a, p, sizeof(struct pm_chunk))) {
            problem(w, "bin holds a pointer outside the arena's heaps", p);
            return n;
        }
        if (chunk_bk(p) != prev) {
            problem(w, "bin list back link broken", p);
            return n;
        }
        size_t size = chunk_size(p);
        if (!in_heaps(a, p, size) || size < PM_MINSIZE || !size_aligned(size)) {
            problem(w, "chunk in a bin has an impossible size", p);
            return n;
        }
        if (chunk_prev_inuse(chunk_at(p, size)))
            problem(w, "chunk in a bin is marked in use", p);
        if (idx != PM_UNSORTED_BIN) {
            if (bin_index(size) != idx)
                problem(w, "chunk filed in the wrong bin", p);
            if (!binmap_get(a, idx))
                problem(w, "binmap bit clear for a non-empty bin", bin);
        }
        if (idx >= PM_NSMALLBINS) {
            if (size > prev_size)
                problem(w, "large bin not sorted by decreasing size", p);
            bool first_of_size = size != prev_size;
            if (first_of_size != (chunk_fd_nextsize(p) != NULL))
                problem(w, "size skip-list entry missing or misplaced", p);
            if (first_of_size && (chunk_bk_nextsize(chunk_fd_nextsize(p)) != p ||
                                  chunk_fd_nextsize(chunk_bk_nextsize(p)) != p))
                problem(w, "size skip-list links broken", p);
        }
        prev_size = size;
        *bytes += size;
    }
    if (chunk_bk(bin) != prev)
        problem(w, "bin header's last link is wrong", bin);
    return n;
}

static size_t walk_fastbins(struct walk *w, size_t bound)
{
    struct pm_arena *a = w->a;
    size_t n = 0, bytes = 0;
    for (unsigned i = 0; i < PM_NFASTBINS; i++) {
        size_t in_bin = 0;
        for (mchunk p = a->fastbins[i]; p != NULL; p = link_reveal(chunk_fd_slot(p), chunk_fd(p))) {
            if (++in_bin > bound) {
                problem(w, "fast bin list does not end (cycle)", &a->fastbins[i]);
                break;
            }
            if (!ptr_aligned(p) || !in_heaps(a, p, sizeof(struct pm_chunk))) {
                problem(w, "fast bin holds a pointer outside the arena's heaps", p);
                break;
            }
            if (fastbin_index(chunk_size(p)) != i || chunk_size(p) > fastbin_limit())
                problem(w, "chunk filed in the wrong fast bin", p);
            if (!chunk_prev_inuse(chunk_at(p, chunk_size(p))))
                problem(w, "fast bin chunk is not marked in use", p);
            bytes += chunk_size(p);
        }
        n += in_bin;
    }
    if (n > 0 && !a->have_fastchunks)
        problem(w, "fast chunks present but the arena says none", a);
    if (bytes != a->fast_bytes)
        problem(w, "fast bin byte count disagrees with the fast bins", a);
    return n;
}

size_t pm_check_arena(struct pm_arena *a, pm_problem_fn report, void *ctx)
{
    struct walk w = { .a = a, .report = report, .ctx = ctx, .problems = 0 };
    if (a->heap == NULL)
        return a->top == NULL ? 0 : (problem(&w, "top without a heap", a->top), w.problems);

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
    if (a->top == NULL || !in_heaps(a, a->top, PM_MINSIZE))
        problem(&w, "top is not inside the newest heap", a->top);

    size_t bound = a->system_mem / PM_MINSIZE + 1;
    size_t in_bins = 0, bin_bytes = 0;
    for (unsigned i = 1; i < PM_NBINS; i++)
        in_bins += walk_bin(&w, i, bound, &bin_bytes);
    walk_fastbins(&w, bound);
    if (in_bins != free_count || bin_bytes != free_bytes)
        problem(&w, "free chunks and bin contents disagree", a);
    return w.problems;
}

static void print_problem(void *ctx, const char *what, const void *addr)
{
    (void)ctx;
    struct pm_buf b = { .len = 0 };
    pm_buf_str(&b, "pmalloc_check: ");
    pm_buf_str(&b, what);
    pm_buf_str(&b, " at ");
    pm_buf_hex(&b, (uintptr_t)addr);
    pm_buf_str(&b, "\n");
    pm_buf_flush(&b, STDERR_FILENO);
}

static void abort_problem(void *ctx, const char *what, const void *addr)
{
    (void)ctx;
    pm_corruption(what, addr);
}

size_t pm_check_all(bool abort_on_problem)
{
    pm_problem_fn report = abort_on_problem ? abort_problem : print_problem;
    size_t problems = 0;
    struct pm_arena *a = &pm_main_arena;
    do {
        pm_lock(&a->lock);
        problems += pm_check_arena(a, report, NULL);
        pm_unlock(&a->lock);
        a = arena_next(a);
    } while (a != &pm_main_arena);
    if (!pm_mmap_check(report, NULL))
        problems++;
    return problems;
}
