/* The top chunk and the system: carving chunks off top, growing an
 * arena's heap when top is too small, and giving memory back.
 *
 * The main arena grows its newest heap with brk.  When brk fails (a
 * mapping sits above the break, or RLIMIT_DATA) it carries on in mmap'd
 * heaps, and when another caller moved the break it starts a new brk heap
 * there.  An abandoned heap is closed with two fencepost headers and its
 * last free space is freed into the bins, so nothing is lost. */
#include "config.h"

#include "sysmalloc.h"

#include <errno.h>
#include "bins.h"
#include "heap.h"
#include "limit.h"
#include "memcheck.h"
#include "os.h"

/* An mmap'd heap taken when brk fails is at least this large, so a run of
 * small requests does not map one region each.  Each new one reserves as
 * much address space as the arena already holds (up to a sub-heap's
 * size) and commits it as top grows: the heaps double, so a free's
 * ownership test, which walks them, stays a few steps long. */
#define PM_MMAP_HEAP_MIN ((size_t)1024 * 1024)

/* An idle arena lends its free space to a thread about to grow its heap
 * once it holds at least this much: moving a thread to another arena
 * costs it the locality of its own, which a few pages do not repay.  So
 * at most this much per idle arena stays unused while heaps grow. */
#define PM_POOL_LEND_MIN ((size_t)1024 * 1024)

void pm_set_top(struct pm_arena *a, mchunk *new_top, size_t size)
{
    a->top = new_top;
    chunk_set_head(new_top, size | PM_PREV_INUSE | arena_bit(a));
    /* Writing top's header touched the word after it. */
    char *touched = (char *)chunk_mem(new_top);
    if (touched > a->fresh_mark)
        a->fresh_mark = touched;
}

void *pm_split_top(struct pm_arena *a, size_t nb)
{
    mchunk *victim = a->top;
    size_t size = chunk_size(victim);
    a->last_split = victim;
    a->last_split_fresh = a->fresh_mark;
    chunk_set_head(victim, nb | PM_PREV_INUSE | arena_bit(a));
    pm_set_top(a, chunk_at(victim, nb), size - nb);
    return chunk_mem(victim);
}

/* Ends the arena's newest heap: fenceposts at its end keep neighbours of
 * the old top from coalescing past it, and the rest of old top becomes a
 * free chunk in the unsorted bin.  Nothing needs merging: the chunk
 * before top is always in use, and the fencepost after it is too. */
static void close_heap(struct pm_arena *a)
{
    mchunk *old_top = a->top;
    size_t size = chunk_size(old_top);
    size_t keep = size - PM_FENCEPOST_SIZE;
    /* Too little for a chunk of its own: the fence moves down to old top
     * and the sliver stays unused behind it.  Left as it was, old top's
     * header would still claim its whole size, and a merge of the chunk
     * before it would read past the heap's end. */
    if (keep < PM_MINSIZE)
        keep = 0;
    mchunk *fence = chunk_at(old_top, keep);
    chunk_set_head(fence, PM_CHUNK_HDR | PM_PREV_INUSE);
    chunk_set_head(chunk_at(fence, PM_CHUNK_HDR), PM_CHUNK_HDR | PM_PREV_INUSE);
    a->top = NULL;
    if (keep >= PM_MINSIZE) {
        chunk_set_head(old_top, keep | PM_PREV_INUSE | arena_bit(a));
        chunk_set_foot(old_top, keep);
        chunk_clear_prev_inuse(fence);
        unsorted_push(a, old_top, "malloc(): corrupted unsorted chunks");
    }
}

/* Widens the range every heap lies in (heaps of different arenas are
 * made under different locks, so the bounds only ever move outwards, by
 * compare-and-swap).  Under memcheck it stays empty: see free(). */
static void widen_heap_range(uintptr_t lo, uintptr_t hi)
{
    if (pm_global.on_valgrind)
        return;
    uintptr_t cur = __atomic_load_n(&pm_global.heap_lo, __ATOMIC_RELAXED);
    while (lo < cur && !__atomic_compare_exchange_n(&pm_global.heap_lo, &cur, lo, true, __ATOMIC_RELAXED,
                                                    __ATOMIC_RELAXED))
        ;
    cur = __atomic_load_n(&pm_global.heap_hi, __ATOMIC_RELAXED);
    while (hi > cur && !__atomic_compare_exchange_n(&pm_global.heap_hi, &cur, hi, true, __ATOMIC_RELAXED,
                                                    __ATOMIC_RELAXED))
        ;
}

/* Makes an initialised heap record the arena's newest heap, with all its
 * space in a new top; the old top's heap is closed. */
void pm_install_heap(struct pm_arena *a, struct pm_heap *h)
{
    widen_heap_range((uintptr_t)h, (uintptr_t)h + (h->kind == PM_HEAP_SUB ? PM_HEAP_MAX_SIZE : h->size));
    h->prev = a->heap;
    if (a->top != NULL)
        close_heap(a);
    a->heap = h;
    a->newest_lo = (uintptr_t)h->chunks_start;
    a->nheaps++;
    a->system_mem += h->size;
    pm_account_system(h->size, 0);
    if (a->system_mem > a->max_system_mem)
        a->max_system_mem = a->system_mem;
    a->fresh_mark = h->chunks_start;
    pm_vg_reserve(h->chunks_start, (size_t)(heap_end(h) - h->chunks_start));
    size_t top = align_down((size_t)(heap_end(h) - h->chunks_start), PM_ALIGNMENT);
    pm_set_top(a, (mchunk *)h->chunks_start, top);
}

/* Makes [base, base+len) a main-arena heap of the given kind, in a
 * mapping of `reserved` bytes from base. */
static void open_heap(struct pm_arena *a, char *base, size_t len, size_t reserved, enum pm_heap_kind kind)
{
    struct pm_heap *h = (struct pm_heap *)align_up((uintptr_t)base, PM_ALIGNMENT);
    h->arena = a;
    h->size = (size_t)(base + len - (char *)h);
    h->mprotect_size = h->size;
    h->reserved = reserved;
    h->kind = kind;
    h->magic = PM_HEAP_MAGIC;
    h->chunks_start = (char *)align_up((uintptr_t)(h + 1), PM_ALIGNMENT);
    pm_install_heap(a, h);
}

/* The heap record already counts incr more bytes: give them to top. */
static void grow_top_in_place(struct pm_arena *a, size_t incr)
{
    widen_heap_range((uintptr_t)a->heap, (uintptr_t)heap_end(a->heap));
    a->system_mem += incr;
    pm_account_system(incr, 0);
    if (a->system_mem > a->max_system_mem)
        a->max_system_mem = a->system_mem;
    pm_vg_reserve((char *)a->top + top_size(a), incr);
    chunk_set_head(a->top, (top_size(a) + incr) | PM_PREV_INUSE | arena_bit(a));
}

/* Extends the newest brk heap when the break still ends it. */
static bool extend_brk_heap(struct pm_arena *a, size_t want)
{
    struct pm_heap *h = a->heap;
    if (h == NULL || h->kind != PM_HEAP_BRK || pm_os_sbrk(0) != heap_end(h))
        return false;
    size_t incr = align_up(want - top_size(a), pm_page_size());
    char *old = pm_os_sbrk((ptrdiff_t)incr);
    if (old == NULL)
        return false;
    if (old != heap_end(h)) {
        /* Someone else moved the break in between: what we got is a heap
         * of its own. */
        open_heap(a, old, incr, incr, PM_HEAP_BRK);
        return top_size(a) >= want;
    }
    h->size += incr;
    h->mprotect_size = h->size;
    grow_top_in_place(a, incr);
    return true;
}

/* Extends the newest mmap'd heap inside its reservation, or where the
 * kernel lets a fully used one grow in place. */
static bool extend_mmap_heap(struct pm_arena *a, size_t want)
{
    struct pm_heap *h = a->heap;
    if (h == NULL || h->kind != PM_HEAP_MMAP)
        return false;
    size_t incr = align_up(want - top_size(a), pm_page_size());
    if (h->size < h->reserved) {
        if (incr > h->reserved - h->size || !pm_heap_grow(h, incr))
            return false;
        grow_top_in_place(a, incr);
        return true;
    }
    if (pm_os_remap(h, h->reserved, h->reserved + incr, false) == NULL)
        return false;
    h->reserved += incr;
    h->size += incr;
    h->mprotect_size = h->size;
    grow_top_in_place(a, incr);
    return true;
}

static bool new_main_heap(struct pm_arena *a, size_t want)
{
    size_t overhead = sizeof(struct pm_heap) + 2 * PM_ALIGNMENT + PM_FENCEPOST_SIZE;
    char *brk_now = pm_os_sbrk(0);
    if (brk_now != NULL) {
        /* End the break on a page boundary so trimming works in pages. */
        size_t len = (size_t)((char *)align_up((uintptr_t)brk_now + want + overhead, pm_page_size()) - brk_now);
        char *base = pm_os_sbrk((ptrdiff_t)len);
        if (base != NULL) {
            open_heap(a, base, len, len, PM_HEAP_BRK);
            return true;
        }
    }
    size_t len = align_up(want + overhead, pm_page_size());
    if (len < PM_MMAP_HEAP_MIN)
        len = PM_MMAP_HEAP_MIN;
    size_t reserve = a->system_mem < PM_HEAP_MAX_SIZE ? align_up(a->system_mem, pm_page_size()) : PM_HEAP_MAX_SIZE;
    if (reserve < len)
        reserve = len;
    char *base = pm_os_map(reserve, true);
    if (base == NULL)
        return false;
    if (!pm_os_protect(base, len, true)) {
        pm_os_unmap(base, reserve);
        return false;
    }
    a->flags |= PM_ARENA_NONCONTIGUOUS;
    open_heap(a, base, len, reserve, PM_HEAP_MMAP);
    return true;
}

/* A thread arena grows inside its newest sub-heap, and chains a new one
 * when that is full. */
static bool grow_sub_arena(struct pm_arena *a, size_t want)
{
    struct pm_heap *h = a->heap;
    size_t before = h->size;
    if (pm_heap_grow(h, want - top_size(a))) {
        grow_top_in_place(a, h->size - before);
        return true;
    }
    struct pm_heap *fresh = pm_heap_new(want + sizeof(struct pm_heap) + PM_ALIGNMENT + PM_FENCEPOST_SIZE, a);
    if (fresh == NULL)
        return false;
    pm_install_heap(a, fresh);
    return true;
}

/* Before the heap grows under top, top must still end where its heap
 * ends, and the program break must not have been pulled back into a brk
 * heap: either means the heap's bookkeeping was overwritten or bypassed. */
static void check_before_growth(struct pm_arena *a)
{
    struct pm_heap *h = a->heap;
    if (h == NULL)
        return;
    char *end = (char *)align_down((uintptr_t)heap_end(h), PM_ALIGNMENT);
    if (PM_UNLIKELY(a->top == NULL || (char *)a->top + top_size(a) != end))
        pm_corruption("malloc(): corrupted top size", a->top);
    if (h->kind == PM_HEAP_BRK) {
        char *brk_now = pm_os_sbrk(0);
        if (PM_UNLIKELY(brk_now >= (char *)h && brk_now < heap_end(h)))
            pm_corruption("break adjusted to free malloc space", brk_now);
    }
}

/* Whether an arena no thread is attached to, other than a, may hold want
 * bytes free: then the heap should not grow, and the thread should use
 * that space instead.  A walk of the arena list without locks, reading
 * hints; one arena, the common case, is one load. */
static bool idle_arena_may_serve(const struct pm_arena *a, size_t want)
{
    const struct pm_arena *b = &pm_main_arena;
    do {
        if (b != a && __atomic_load_n(&b->attached_threads, __ATOMIC_RELAXED) == 0 &&
            __atomic_load_n(&b->pool_free, __ATOMIC_RELAXED) >= want)
            return true;
        b = arena_next((struct pm_arena *)b);
    } while (b != &pm_main_arena);
    return false;
}

bool pm_sysgrow(struct pm_arena *a, size_t nb, size_t pad)
{
    check_before_growth(a);
    /* The pad is a hint: a huge one (M_TOP_PAD of -1) must not make
     * every request fail. */
    size_t want;
    if (__builtin_add_overflow(nb + PM_MINSIZE, pad, &want) || want > PM_MAX_REQUEST)
        want = nb + PM_MINSIZE;
    /* Declined without errno: the caller retries in the idle arena. */
    if (pm_thread_growth != PM_GROWTH_ALLOWED &&
        idle_arena_may_serve(a, want > PM_POOL_LEND_MIN ? want : PM_POOL_LEND_MIN)) {
        pm_thread_growth = PM_GROWTH_DECLINED;
        return false;
    }
    enum pm_limit_verdict limit = pm_limit_check(want);
    if (limit == PM_LIMIT_HARD && want > nb + PM_MINSIZE) {
        /* Without the pad the request itself may still fit. */
        want = nb + PM_MINSIZE;
        limit = pm_limit_check(want);
    }
    if (limit != PM_LIMIT_OK) {
        /* Near a limit, memory goes back first (the caller's retry,
         * pm_trim_for_limit); past the hard one, nothing more is taken. */
        if (pm_thread_growth != PM_GROWTH_ALLOWED) {
            pm_thread_growth = PM_GROWTH_LIMITED;
            return false;
        }
        if (limit == PM_LIMIT_HARD) {
            errno = ENOMEM;
            return false;
        }
    }
    bool grown = a == &pm_main_arena
                     ? extend_brk_heap(a, want) || extend_mmap_heap(a, want) || new_main_heap(a, want)
                     : grow_sub_arena(a, want);
    if (grown && top_size(a) >= nb + PM_MINSIZE)
        return true;
    errno = ENOMEM;
    return false;
}

void *pm_sysmalloc(struct pm_arena *a, size_t nb)
{
    return pm_sysgrow(a, nb, pm_opt.top_pad) ? pm_split_top(a, nb) : NULL;
}

bool pm_systrim(struct pm_arena *a, size_t pad)
{
    struct pm_heap *h = a->heap;
    size_t tsize = top_size(a);
    if (h == NULL || tsize <= pad + PM_MINSIZE)
        return false;
    /* Keep pad bytes and a minimal top; the top's end is a page boundary,
     * so what is released is a whole number of pages. */
    size_t page = pm_page_size();
    size_t extra = align_down(tsize - pad - PM_MINSIZE - 1, page);
    if ((uintptr_t)heap_end(h) % page != 0 || extra == 0)
        return false;
    char *new_end = heap_end(h) - extra;
    if (h->kind == PM_HEAP_BRK) {
        if (pm_os_sbrk(0) != heap_end(h))
            return false;
        if (pm_os_sbrk(-(ptrdiff_t)extra) == NULL)
            return false;
        h->size -= extra;
    } else if (!pm_heap_shrink(h, extra)) {
        /* an mmap'd heap keeps its reservation, as a sub-heap does */
        return false;
    }
    if (h->kind == PM_HEAP_BRK)
        h->mprotect_size = h->size;
    a->system_mem -= extra;
    pm_account_system(0, extra);
    chunk_set_head(a->top, (tsize - extra) | PM_PREV_INUSE | arena_bit(a));
    /* Pages given back come back zeroed if the heap grows again. */
    if (a->fresh_mark > new_end)
        a->fresh_mark = new_end;
    return true;
}

bool pm_unmap_empty_heaps(struct pm_arena *a)
{
    bool released = false;
    while (a->heap->kind == PM_HEAP_SUB && a->heap->prev != NULL &&
           a->top == (mchunk *)a->heap->chunks_start) {
        struct pm_heap *h = a->heap, *prev = h->prev;
        /* The older heap ends with fenceposts after its last chunk; that
         * chunk, if free, and the fenceposts become the new top. */
        char *end = (char *)align_down((uintptr_t)heap_end(prev), PM_ALIGNMENT);
        mchunk *fence = chunk_before(end, PM_FENCEPOST_SIZE);
        mchunk *new_top = fence;
        if (!chunk_prev_inuse(fence)) {
            new_top = chunk_prev(fence);
            if (PM_UNLIKELY(chunk_size(new_top) != chunk_prev_size(fence)))
                pm_corruption("heap_trim(): corrupted size vs. prev_size", new_top);
            unlink_chunk(a, new_top);
        }
        a->system_mem -= h->size;
        pm_account_system(0, h->size);
        a->nheaps--;
        a->heap = prev;
        a->newest_lo = (uintptr_t)prev->chunks_start;
        /* the hint's range is for an older heap, whose end stays put */
        if (a->owned_hint == prev)
            pm_link_hint_clear(a);
        a->fresh_mark = end;
        pm_set_top(a, new_top, (size_t)(end - (char *)new_top));
        pm_heap_unmap(h);
        released = true;
    }
    return released;
}

/* Gives back whole pages of free chunk p from its end down: those below
 * its last `done` bytes (gone back already), and no more than `room`
 * bytes of them.  *all: whether that reached its first whole page.  The
 * chunk's header, list links and returned mark stay. */
static size_t discard_chunk_pages(mchunk *p, bool lazy, size_t done, size_t room, bool *all)
{
    size_t page = pm_page_size();
    uintptr_t start = align_up((uintptr_t)p + PM_RETURNED_KEEP, page);
    uintptr_t end = align_down((uintptr_t)p + chunk_size(p), page);
    *all = true;
    if (end <= start || end - start <= done)
        return 0;
    end -= done;
    if (end - start > room) {
        start = end - align_down(room, page);
        *all = false;
        if (start == end)
            return 0;
    }
    bool ok = lazy ? pm_os_discard_lazy((void *)start, end - start)
                   : pm_os_discard((void *)start, end - start);
    return ok ? end - start : 0;
}

/* A walk that gives back the pages of free chunks: all of them (trim), or
 * a bounded share from a resume point (the decay). */
struct discard_walk {
    size_t released;
    size_t budget;   /* bytes of pages this walk may give back */
    size_t visits;   /* chunks this walk may still look at */
    const struct pm_decay_resume *from;
    struct pm_decay_resume stop; /* bin 0: the walk did not stop */
    uintptr_t key;   /* for the returned marks */
    bool lazy;
    bool resume_unsorted; /* a stop in the unsorted bin may name its chunk */
};

static bool discard_visit(void *ctx, enum pm_bins_list list, unsigned idx, mchunk *p)
{
    (void)list;
    struct discard_walk *w = ctx;
    /* a small bin's chunks hold no whole page: not worth a visit */
    if (idx != PM_UNSORTED_BIN && in_smallbin_range(chunk_size(p)))
        return false;
    /* the unsorted bin is emptied without unlink_chunk, which keeps a
     * resume chunk true: a stop there starts again from its head, unless
     * the caller knows the bin stays as it is */
    bool resumable = idx != PM_UNSORTED_BIN || w->resume_unsorted;
    if (w->released >= w->budget || w->visits == 0) {
        if (w->stop.bin == 0)
            w->stop = (struct pm_decay_resume){idx, resumable ? p : NULL, 0};
        return false;
    }
    w->visits--;
    if (chunk_size(p) < pm_page_size() + PM_RETURNED_KEEP || chunk_pages_returned(p, w->key))
        return true;
    size_t done = p == w->from->chunk ? w->from->offset : 0;
    bool all;
    /* a chunk the walk cannot stop in goes back whole */
    size_t n = discard_chunk_pages(p, w->lazy, done, resumable ? w->budget - w->released : SIZE_MAX, &all);
    w->released += n;
    if (!all) {
        w->stop = (struct pm_decay_resume){idx, p, done + n};
        return false;
    }
    if (n != 0 || done != 0)
        chunk_mark_pages_returned(p, w->key);
    return true;
}

static void discard_problem(void *ctx, enum pm_bins_problem what, const void *where)
{
    /* Trimming is best effort: a list that cannot be followed is left to
     * the heap checks, which report it. */
    (void)ctx;
    (void)what;
    (void)where;
}

static struct discard_walk discard_walk(struct pm_arena *a, const struct pm_decay_resume *from, size_t budget,
                                        size_t visits, bool lazy, bool resume_unsorted)
{
    struct discard_walk w = {0, budget, visits, from, {0, NULL, 0}, pm_chunk_secret, lazy, resume_unsorted};
    const struct pm_bins_visitor v = {discard_visit, discard_problem, &w, true, from->bin, from->chunk};
    pm_bins_walk(a, &v);
    return w;
}

bool pm_discard_free_pages(struct pm_arena *a)
{
    static const struct pm_decay_resume everything = {0, NULL, 0};
    struct discard_walk w = discard_walk(a, &everything, SIZE_MAX, SIZE_MAX, false, false);
    a->decay_returned += w.released;
    return w.released != 0;
}

/* Automatic return of free pages (issue #11), from two places: the free
 * path's merging branch (pm_decay_after_free, never the thread-cache or
 * fast-bin path) and the idle return (trim.c), both under the arena
 * lock.  A pass looks at no more than PM_DECAY_VISITS chunks and gives
 * back no more than PM_DECAY_BUDGET bytes, so no call stalls on a big
 * heap; where it stopped, the next one goes on, inside a chunk larger
 * than that if it has to (but a chunk of the unsorted bin, which a pass
 * cannot name, unless the caller knows the bin stays put, goes whole).  Chunks already given
 * back carry a mark and cost one read. */
#define PM_DECAY_VISITS ((size_t)1024)

bool pm_decay_pass(struct pm_arena *a, struct pm_decay_resume *resume, bool resume_unsorted)
{
    struct discard_walk w = discard_walk(a, resume, PM_DECAY_BUDGET, PM_DECAY_VISITS, pm_opt.decay_madv_free,
                                         resume_unsorted);
    a->decay_returned += w.released;
    *resume = w.stop;
    return w.stop.bin == 0;
}

/* The first merging free starts the clock; a later one that finds the
 * delay passed runs a pass, and the passes after it go on without
 * waiting, until one reaches the last bin and starts the clock again. */
void pm_decay_after_free(struct pm_arena *a)
{
    int ms = pm_opt.decay_ms;
    if (ms < 0)
        return;
    unsigned long long now = pm_os_now_ns();
    if (ms > 0 && a->decay_resume.bin == 0) {
        if (a->decay_since_ns == 0) {
            a->decay_since_ns = now;
            return;
        }
        if (now - a->decay_since_ns < (unsigned long long)ms * 1000000ull)
            return;
    }
    pm_decay_pass(a, &a->decay_resume, false);
    a->decay_since_ns = ms > 0 ? now : 0;
}
