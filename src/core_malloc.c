/* The allocation side of the core: fast bins, small bins, the unsorted
 * bin, sorted large bins, the binmap, and the top chunk, searched in the
 * model's order.  The arena's lock is held throughout. */
#include "config.h"

#include "core.h"

#include <errno.h>
#include "bins.h"
#include "sysmalloc.h"

/* The unsorted scan sorts at most this many chunks per call, so one call
 * cannot take unbounded time after a burst of frees. */
#define UNSORTED_SCAN_LIMIT 10000

/* A whole binned chunk given to the caller (a cut one gets a new header). */
static void *hand_out(mchunk *victim, size_t size)
{
    chunk_clear_held_free(victim);
    chunk_set_inuse_at(victim, size);
    return chunk_mem(victim);
}

/* Files a chunk into a large bin, keeping the bin sorted by decreasing
 * size; the first chunk of each size carries the skip-list links so an
 * insert or best-fit search steps over runs of equal sizes. */
static void largebin_insert(struct pm_arena *a, mchunk *victim, size_t size)
{
    unsigned idx = largebin_index(size);
    mchunk *bin = bin_at(a, idx);
    mchunk *bck = bin, *fwd = bin_first(bin);

    if (fwd == bin) {
        chunk_set_fd_nextsize(victim, victim);
        chunk_set_bk_nextsize(victim, victim);
    } else {
        mchunk *largest = fwd;
        mchunk *smallest = bin_last(bin);
        check_link(a, smallest, "malloc(): largebin link outside the heap", bin);
        check_size_link(a, chunk_bk_nextsize(largest), "malloc(): largebin size link outside the heap", largest);
        if (size < chunk_size(smallest)) {
            fwd = bin;
            bck = smallest;
            chunk_set_fd_nextsize(victim, largest);
            chunk_set_bk_nextsize(victim, chunk_bk_nextsize(largest));
            chunk_set_bk_nextsize(largest, victim);
            chunk_set_fd_nextsize(chunk_bk_nextsize(victim), victim);
        } else {
            while (size < chunk_size(fwd)) {
                fwd = chunk_fd_nextsize(fwd);
                check_size_link(a, fwd, "malloc(): largebin size link outside the heap", victim);
            }
            if (size == chunk_size(fwd)) {
                /* after the first of its size: the skip list is untouched;
                 * the chunk after it may be the bin's header */
                mchunk *first_of_size = fwd;
                fwd = chunk_fd(fwd);
                check_link(a, fwd, "malloc(): largebin link outside the heap", first_of_size);
                chunk_set_fd_nextsize(victim, NULL);
                chunk_set_bk_nextsize(victim, NULL);
            } else {
                chunk_set_fd_nextsize(victim, fwd);
                chunk_set_bk_nextsize(victim, chunk_bk_nextsize(fwd));
                check_size_link(a, chunk_bk_nextsize(fwd), "malloc(): largebin size link outside the heap", fwd);
                if (PM_UNLIKELY(chunk_fd_nextsize(chunk_bk_nextsize(fwd)) != fwd))
                    pm_corruption("malloc(): largebin double linked list corrupted (nextsize)", fwd);
                chunk_set_bk_nextsize(fwd, victim);
                chunk_set_fd_nextsize(chunk_bk_nextsize(victim), victim);
            }
            bck = chunk_bk(fwd);
            check_link(a, bck, "malloc(): largebin link outside the heap", fwd);
            if (PM_UNLIKELY(chunk_fd(bck) != fwd))
                pm_corruption("malloc(): largebin double linked list corrupted (bk)", fwd);
        }
    }
    binmap_mark(a, idx);
    chunk_set_bk(victim, bck);
    chunk_set_fd(victim, fwd);
    chunk_set_bk(fwd, victim);
    chunk_set_fd(bck, victim);
}

static void smallbin_insert(struct pm_arena *a, mchunk *victim, size_t size)
{
    unsigned idx = smallbin_index(size);
    binmap_mark(a, idx);
    list_insert_after(bin_at(a, idx), victim);
}

/* Cuts nb bytes off the front of a free chunk already taken out of its
 * bin; a remainder big enough to be a chunk goes to the unsorted bin. */
static void *split_free_chunk(struct pm_arena *a, mchunk *victim, size_t nb, bool remember)
{
    size_t size = chunk_size(victim);
    size_t rest = size - nb;
    if (rest < PM_MINSIZE)
        return hand_out(victim, size);
    mchunk *rem = chunk_at(victim, nb);
    chunk_set_head(victim, nb | PM_PREV_INUSE | arena_bit(a));
    chunk_set_head(rem, rest | PM_PREV_INUSE | arena_bit(a));
    chunk_set_foot(rem, rest);
    unsorted_push(a, rem, "malloc(): corrupted unsorted chunks");
    if (remember)
        a->last_remainder = rem;
    return chunk_mem(victim);
}

static void *from_smallbin(struct pm_arena *a, size_t nb)
{
    mchunk *bin = bin_at(a, smallbin_index(nb));
    mchunk *victim = bin_last(bin);
    if (victim == bin)
        return NULL;
    check_link(a, victim, "malloc(): smallbin link outside the heap", bin);
    mchunk *bck = chunk_bk(victim);
    check_link(a, bck, "malloc(): smallbin link outside the heap", victim);
    if (PM_UNLIKELY(chunk_fd(bck) != victim))
        pm_corruption("malloc(): smallbin double linked list corrupted", victim);
    chunk_set_bk(bin, bck);
    chunk_set_fd(bck, bin);
    return hand_out(victim, nb);
}

static void check_unsorted_victim(struct pm_arena *a, mchunk *victim, mchunk *bck)
{
    check_link(a, victim, "malloc(): unsorted link outside the heap", unsorted_bin(a));
    check_link(a, bck, "malloc(): unsorted link outside the heap", victim);
    size_t size = chunk_size(victim);
    mchunk *next = chunk_at(victim, size);
    if (PM_UNLIKELY(chunk_size_and_flags(victim) <= PM_CHUNK_HDR || size > a->system_mem))
        pm_corruption("malloc(): invalid size (unsorted)", victim);
    /* next may be a fencepost, whose raw size is exactly a header once
     * this free chunk has cleared its PREV_INUSE. */
    if (PM_UNLIKELY(chunk_size_and_flags(next) < PM_CHUNK_HDR || chunk_size(next) > a->system_mem))
        pm_corruption("malloc(): invalid next size (unsorted)", next);
    if (PM_UNLIKELY(chunk_prev_size(next) != size))
        pm_corruption("malloc(): mismatching next->prev_size (unsorted)", victim);
    if (PM_UNLIKELY(chunk_fd(bck) != victim || chunk_fd(victim) != unsorted_bin(a)))
        pm_corruption("malloc(): unsorted double linked list corrupted", victim);
    if (PM_UNLIKELY(chunk_prev_inuse(next)))
        pm_corruption("malloc(): invalid next->prev_inuse (unsorted)", next);
}

/* Sorts the unsorted bin into the small and large bins, returning an
 * exact fit (or a piece of the last remainder for a small request) as
 * soon as one turns up. */
static void *scan_unsorted(struct pm_arena *a, size_t nb)
{
    mchunk *unsorted = unsorted_bin(a);
    unsigned scanned = 0;
    mchunk *victim;
    while ((victim = bin_last(unsorted)) != unsorted) {
        mchunk *bck = chunk_bk(victim);
        check_unsorted_victim(a, victim, bck);
        size_t size = chunk_size(victim);

        /* Locality for runs of small requests: keep carving the chunk
         * the previous small request was cut from. */
        if (in_smallbin_range(nb) && bck == unsorted && victim == a->last_remainder &&
            size > nb + PM_MINSIZE) {
            chunk_set_bk(unsorted, unsorted);
            chunk_set_fd(unsorted, unsorted);
            return split_free_chunk(a, victim, nb, true);
        }

        chunk_set_bk(unsorted, bck);
        chunk_set_fd(bck, unsorted);
        if (size == nb)
            return hand_out(victim, size);
        if (in_smallbin_range(size))
            smallbin_insert(a, victim, size);
        else
            largebin_insert(a, victim, size);
        if (++scanned >= UNSORTED_SCAN_LIMIT)
            break;
    }
    return NULL;
}

/* Best fit for a large request within its own bin: the smallest chunk
 * that is big enough, preferring one that is not the skip-list entry of
 * its size so the skip list need not be relinked. */
static void *from_own_largebin(struct pm_arena *a, size_t nb)
{
    mchunk *bin = bin_at(a, largebin_index(nb));
    mchunk *first = bin_first(bin);
    if (first == bin || chunk_size(first) < nb)
        return NULL;
    /* Every step is checked before its size is read: a forged link would
     * otherwise have a chunk outside the heap handed out (its own links
     * can be made to pass the unlink's checks). */
    mchunk *victim = chunk_bk_nextsize(first);
    check_size_link(a, victim, "malloc(): largebin size link outside the heap", first);
    while (chunk_size(victim) < nb) {
        mchunk *larger = victim;
        victim = chunk_bk_nextsize(victim);
        check_size_link(a, victim, "malloc(): largebin size link outside the heap", larger);
    }
    if (victim != bin_last(bin)) {
        /* not the last, so what follows it is a chunk, not the header */
        mchunk *next = chunk_fd(victim);
        check_size_link(a, next, "malloc(): largebin link outside the heap", victim);
        if (chunk_size(next) == chunk_size(victim))
            victim = next;
    }
    unlink_chunk(a, victim);
    return split_free_chunk(a, victim, nb, false);
}

/* The smallest non-empty bin above nb's own, found through the binmap;
 * stale bits of empty bins are cleared on the way. */
static void *from_larger_bin(struct pm_arena *a, size_t nb)
{
    unsigned start = bin_index(nb) + 1;
    for (unsigned w = binmap_word(start); w < PM_BINMAP_SIZE; w++) {
        unsigned map = a->binmap[w];
        if (w == binmap_word(start))
            map &= ~(binmap_bit(start) - 1);
        while (map != 0) {
            unsigned i = w * PM_BITS_PER_MAP + (unsigned)__builtin_ctz(map);
            mchunk *bin = bin_at(a, i);
            mchunk *victim = bin_last(bin);
            if (victim == bin) {
                binmap_unmark(a, i);
                map &= map - 1;
                continue;
            }
            unlink_chunk(a, victim);
            return split_free_chunk(a, victim, nb, in_smallbin_range(nb));
        }
    }
    return NULL;
}

void *pm_int_take_remainder(struct pm_arena *a, size_t nb)
{
    mchunk *unsorted = unsorted_bin(a);
    mchunk *victim = bin_last(unsorted);
    if (victim == unsorted || victim != a->last_remainder || chunk_bk(victim) != unsorted ||
        !in_smallbin_range(nb) || chunk_size(victim) <= nb + PM_MINSIZE)
        return NULL;
    check_unsorted_victim(a, victim, unsorted);
    chunk_set_bk(unsorted, unsorted);
    chunk_set_fd(unsorted, unsorted);
    return split_free_chunk(a, victim, nb, true);
}

void *pm_int_take_stored(struct pm_arena *a, size_t nb)
{
    unsigned k = store_class_of(nb);
    return k != PM_STORE_NONE ? store_pop(a, k) : NULL;
}

void *pm_int_take_small(struct pm_arena *a, size_t nb)
{
    return in_smallbin_range(nb) ? from_smallbin(a, nb) : NULL;
}

void *pm_int_malloc(struct pm_arena *a, size_t nb)
{
    a->nmalloc++;
    void *mem;
    size_t fast_limit = fastbin_limit();
    if (nb <= fast_limit && (mem = fastbin_pop(a, nb)) != NULL)
        return mem;
    if (in_smallbin_range(nb)) {
        if ((mem = from_smallbin(a, nb)) != NULL)
            return mem;
    } else if (a->store_bytes != 0 && (mem = pm_int_take_stored(a, nb)) != NULL) {
        return mem;
    } else if (a->have_fastchunks && nb > fast_limit &&
               (fast_limit == pm_opt.max_fast || a->fast_bytes >= PM_FASTBIN_CONSOLIDATION_THRESHOLD)) {
        /* Merging small free chunks first keeps a large request from
         * fragmenting the heap around them.  When the fast bins also hold
         * what the thread caches gave back, only once they hold enough to
         * matter: a program mixing blocks just above the cache's sizes
         * with small ones would otherwise merge every chunk the caches
         * spilled, each time, only for the next misses to cut them out
         * again (a producer/consumer pair spent a third of its time so). */
        pm_consolidate(a);
    }

    for (;;) {
        if ((mem = scan_unsorted(a, nb)) != NULL)
            return mem;
        if (!in_smallbin_range(nb) && (mem = from_own_largebin(a, nb)) != NULL)
            return mem;
        if ((mem = from_larger_bin(a, nb)) != NULL)
            return mem;

        size_t tsize = top_size(a);
        if (PM_UNLIKELY(tsize > a->system_mem))
            pm_corruption("malloc(): corrupted top size", a->top);
        if (tsize >= nb + PM_MINSIZE)
            return pm_split_top(a, nb);
        if (a->have_fastchunks) {
            pm_consolidate(a);
            continue;
        }
        /* what the stores hold is free space too, before the heap grows */
        if (a->store_bytes != 0) {
            pm_merge_stores(a, SIZE_MAX);
            continue;
        }
        return pm_sysmalloc(a, nb);
    }
}
