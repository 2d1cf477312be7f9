/* Resizing a heap chunk: in place when the chunk, its free neighbour or
 * the top can hold the new size, else by moving it within the arena.  The
 * arena's lock is held. */
#include "config.h"

#include "core.h"

#include "bins.h"
#include "heap.h"
#include "sysmalloc.h"

#include <string.h>

/* Gives back the tail of a chunk that is now bigger than nb. */
static void *shrink_to(struct pm_arena *a, mchunk *p, size_t size, size_t nb)
{
    size_t rest = size - nb;
    if (rest < PM_MINSIZE) {
        chunk_set_size_keep_flags(p, size);
        chunk_set_inuse_at(p, size);
        return chunk_mem(p);
    }
    mchunk *rem = chunk_at(p, nb);
    chunk_set_size_keep_flags(p, nb);
    chunk_set_head(rem, rest | PM_PREV_INUSE | arena_bit(a));
    /* The tail is freed as an in-use chunk so that it merges forward. */
    chunk_set_inuse_at(rem, rest);
    pm_int_free(a, rem);
    return chunk_mem(p);
}

/* A block that grows at the end of its heap grows there, the heap under
 * it: moving it would copy it and free its old place into top, which
 * the next growth takes back from the system after a trim gave it away.
 * A block that keeps growing is likely to grow again, so the main heap
 * asks for as much again as the block holds (pages not yet written cost
 * nothing): a block grown a quarter at a time makes a system call every
 * third growth rather than every one.  A sub-heap asks for the usual
 * pad, as it cannot grow past its reservation in place.  False when top
 * could not grow where it is (it may have moved to a new heap: the
 * caller moves the block). */
static bool grow_top_for(struct pm_arena *a, size_t oldsize, size_t nb)
{
    mchunk *top = a->top;
    size_t pad = pm_opt.top_pad;
    if (a == &pm_main_arena && oldsize > pad)
        pad = oldsize;
    return pm_sysgrow(a, nb - oldsize, pad) && a->top == top;
}

void *pm_realloc_at_top(struct pm_arena *a, mchunk *oldp, size_t oldsize, size_t nb)
{
    mchunk *next = chunk_at(oldp, oldsize);
    /* a top too big for the arena is pm_int_realloc's to report */
    if (next != a->top || chunk_size(next) >= a->system_mem)
        return NULL;
    size_t total = oldsize + chunk_size(next);
    if (total < nb + PM_MINSIZE && grow_top_for(a, oldsize, nb))
        total = oldsize + top_size(a);
    if (total < nb + PM_MINSIZE)
        return NULL;
    chunk_set_size_keep_flags(oldp, nb);
    pm_set_top(a, chunk_at(oldp, nb), total - nb);
    return chunk_mem(oldp);
}

void *pm_int_realloc(struct pm_arena *a, mchunk *oldp, size_t nb)
{
    size_t oldsize = chunk_size(oldp);
    if (PM_UNLIKELY(chunk_size_and_flags(oldp) <= PM_CHUNK_HDR || oldsize >= a->system_mem))
        pm_corruption("realloc(): invalid old size", chunk_mem(oldp));
    if (PM_UNLIKELY(!pm_chunk_owned(a, oldp, oldsize)))
        pm_corruption("realloc(): invalid pointer", chunk_mem(oldp));
    if (PM_UNLIKELY(!chunk_tag_ok(oldp)))
        pm_corruption("realloc(): chunk size tag mismatch", chunk_mem(oldp));
    /* A block freed next to top merged into it: what is left is top's
     * header, and its next header lies past the end of the heap. */
    if (PM_UNLIKELY(oldp == a->top))
        pm_corruption("realloc(): chunk already freed", chunk_mem(oldp));
    mchunk *next = chunk_at(oldp, oldsize);
    size_t nextsize = chunk_size(next);
    if (PM_UNLIKELY(chunk_size_and_flags(next) <= PM_CHUNK_HDR || nextsize >= a->system_mem))
        pm_corruption("realloc(): invalid next size", chunk_mem(oldp));
    /* As free's checks: a chunk already freed into the arena (the next
     * chunk says so, or it heads its fast bin) is no block to resize. */
    if (PM_UNLIKELY(!chunk_prev_inuse(next) ||
                    (oldsize <= fastbin_limit() && a->fastbins[fastbin_index(oldsize)] == oldp)))
        pm_corruption("realloc(): chunk already freed", chunk_mem(oldp));

    if (oldsize >= nb)
        return shrink_to(a, oldp, oldsize, nb);

    if (next == a->top) {
        void *mem = pm_realloc_at_top(a, oldp, oldsize, nb);
        if (mem != NULL)
            return mem;
    } else if (!chunk_inuse_at(next, nextsize) && oldsize + nextsize >= nb) {
        unlink_chunk(a, next);
        return shrink_to(a, oldp, oldsize + nextsize, nb);
    }

    void *newmem = pm_int_malloc(a, nb);
    if (newmem == NULL)
        return NULL;
    mchunk *newp = mem_chunk(newmem);
    if (newp == next) {
        /* The neighbour was parked in a fast bin: take it over in place. */
        return shrink_to(a, oldp, oldsize + chunk_size(newp), nb);
    }
    memcpy(newmem, chunk_mem(oldp), oldsize - PM_SIZE_SZ);
    pm_int_free(a, oldp);
    return newmem;
}
