/* Coalescing: merging a free chunk with its free neighbours, and folding
 * the fast bins and the class stores into the rest.  Allocation needs it
 * (a large request merges the fast bins first) as much as freeing does,
 * so it has a room of its own below both.  The arena's lock is held. */
#include "config.h"

#include "core.h"

#include "bins.h"
#include "os.h"

size_t pm_free_merge(struct pm_arena *a, mchunk *p, size_t size)
{
    mchunk *next = chunk_at(p, size);
    if (PM_UNLIKELY(p == a->top))
        pm_corruption("double free or corruption (top)", chunk_mem(p));
    if (PM_UNLIKELY(arena_contiguous(a) && a->top != NULL &&
                    (char *)next >= (char *)a->top + top_size(a)))
        pm_corruption("double free or corruption (out)", chunk_mem(p));
    if (PM_UNLIKELY(!chunk_prev_inuse(next)))
        pm_corruption("double free or corruption (!prev)", chunk_mem(p));
    size_t nextsize = chunk_size(next);
    if (PM_UNLIKELY(chunk_size_and_flags(next) <= PM_CHUNK_HDR || nextsize >= a->system_mem))
        pm_corruption("free(): invalid next size (normal)", chunk_mem(p));

    /* A block freed where a chunk once gave its pages back may still hold
     * that chunk's mark (sysmalloc.c), though its pages are in use now: a
     * small block's user bytes need not reach so far.  Merged with its
     * neighbours it may become a chunk of that chunk's very address and
     * size again (a run of blocks cut and freed the same way twice), so
     * even a block too small to hold a page loses it.  Before the perturb
     * fill, which covers it. */
    if (size >= PM_RETURNED_KEEP)
        chunk_clear_pages_returned(p);
    pm_perturb_free(chunk_mem(p), size - PM_CHUNK_HDR);

    if (!chunk_prev_inuse(p)) {
        size_t prevsize = chunk_prev_size(p);
        mchunk *prev = chunk_before(p, prevsize);
        if (PM_UNLIKELY(chunk_size(prev) != prevsize))
            pm_corruption("corrupted size vs. prev_size while consolidating", chunk_mem(p));
        unlink_chunk(a, prev);
        p = prev;
        size += prevsize;
    }

    if (next == a->top) {
        size += nextsize;
        chunk_set_head(p, size | PM_PREV_INUSE | arena_bit(a));
        a->top = p;
        return size;
    }
    if (!chunk_inuse_at(next, nextsize)) {
        unlink_chunk(a, next);
        size += nextsize;
    } else {
        chunk_clear_prev_inuse(next);
    }
    chunk_set_head(p, size | PM_PREV_INUSE | arena_bit(a));
    chunk_set_foot(p, size);
    unsorted_push(a, p, "free(): corrupted unsorted chunks");
    return size;
}

bool pm_consolidate_some(struct pm_arena *a, size_t max)
{
    for (unsigned i = 0; i < PM_NFASTBINS; i++) {
        mchunk *p = a->fastbins[i];
        a->fastbins[i] = NULL;
        while (p != NULL) {
            if (max == 0) {
                a->fastbins[i] = p; /* the rest of the list stays filed */
                return false;
            }
            max--;
            if (PM_UNLIKELY(!ptr_aligned(p)))
                pm_corruption("malloc_consolidate(): unaligned fastbin chunk detected", p);
            if (PM_UNLIKELY(fastbin_index(chunk_size(p)) != i))
                pm_corruption("malloc_consolidate(): invalid chunk size", p);
            fast_canary_check(p, "malloc_consolidate(): fast chunk modified after free");
            mchunk *next = link_reveal(chunk_fd_slot(p), chunk_fd(p));
            a->fast_bytes -= chunk_size(p);
            pm_free_merge(a, p, chunk_size(p));
            p = next;
        }
    }
    a->have_fastchunks = 0;
    a->fast_bytes = 0;
    return true;
}

void pm_consolidate(struct pm_arena *a) { pm_consolidate_some(a, SIZE_MAX); }

bool pm_merge_stores(struct pm_arena *a, size_t max)
{
    for (unsigned k = 0; k < PM_TCACHE_CLASSES; k++) {
        while (a->stores[k] != NULL) {
            if (max == 0)
                return false;
            max--;
            mchunk *p = mem_chunk(store_pop(a, k));
            pm_free_merge(a, p, chunk_size(p));
        }
    }
    return true;
}

void pm_merge_held(struct pm_arena *a)
{
    pm_consolidate(a);
    pm_merge_stores(a, SIZE_MAX);
}
