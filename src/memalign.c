/* Aligned allocation from the heap: over-allocate, move the chunk's start
 * to the first aligned point that leaves a whole chunk before it, and give
 * the leader and tail back.  The arena's lock is held. */
#include "config.h"

#include "core.h"

void *pm_int_memalign(struct pm_arena *a, size_t alignment, size_t nb)
{
    if (nb > PM_MAX_REQUEST - alignment - PM_MINSIZE)
        return NULL;
    char *mem = pm_int_malloc(a, nb + alignment + PM_MINSIZE);
    if (mem == NULL)
        return NULL;
    mchunk *p = mem_chunk(mem);

    if ((uintptr_t)mem % alignment != 0) {
        mchunk *aligned = mem_chunk((void *)align_up((uintptr_t)mem, alignment));
        if ((size_t)((char *)aligned - (char *)p) < PM_MINSIZE)
            aligned = chunk_at(aligned, alignment);
        size_t lead = (size_t)((char *)aligned - (char *)p);
        size_t rest = chunk_size(p) - lead;
        chunk_set_head(aligned, rest | PM_PREV_INUSE | arena_bit(a));
        chunk_set_inuse_at(aligned, rest);
        chunk_set_size_keep_flags(p, lead);
        pm_int_free(a, p);
        p = aligned;
    }

    size_t size = chunk_size(p);
    if (size >= nb + PM_MINSIZE) {
        mchunk *tail = chunk_at(p, nb);
        chunk_set_head(tail, (size - nb) | PM_PREV_INUSE | arena_bit(a));
        chunk_set_size_keep_flags(p, nb);
        pm_int_free(a, tail);
    }
    return chunk_mem(p);
}
