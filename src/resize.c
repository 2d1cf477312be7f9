/* realloc's way for a block its fast path does not resize (api.c): the
 * full checks of the argument, then a mapped block through mremap or a
 * new block, a heap block in its arena (in place or moved there), and,
 * when the arena is out of memory, anywhere else. */
#include "config.h"

#include "resize.h"

#include <string.h>
#include "alloc.h"
#include "core.h"
#include "mmap_chunk.h"
#include "tcache.h"

/* realloc checks its argument as free does: a block this thread's cache
 * holds (its held-free mark says so, and the bin's walk confirms it) was
 * freed. */
static void check_realloc_not_cached(void *oldmem, mchunk *oldp, size_t oldsize)
{
    struct pm_tcache *t = pm_tcache_get();
    struct pm_tcache_entry *e = oldmem;
    if (t == NULL || !chunk_held_free(oldp))
        return;
    unsigned k;
    bool cached = (oldsize <= PM_TCACHE_MAX_CHUNK && oldsize >= PM_MINSIZE && size_aligned(oldsize) &&
                   pm_tcache_holds(t, tcache_index(oldsize), e)) ||
                  (pm_tcache_class_holds_size(oldsize, &k) && pm_tcache_class_has(t, k, e));
    if (PM_UNLIKELY(cached))
        pm_corruption("realloc(): chunk already freed (tcache)", oldmem);
}

void *pm_resize_block(void *oldmem, size_t bytes, size_t nb)
{
    mchunk *oldp = mem_chunk(oldmem);
    size_t oldsize = chunk_size(oldp);
    if (PM_UNLIKELY((uintptr_t)oldp > (uintptr_t)0 - oldsize || !ptr_aligned(oldmem)))
        pm_corruption("realloc(): invalid pointer", oldmem);
    check_realloc_not_cached(oldmem, oldp, oldsize);
    if (PM_UNLIKELY(chunk_held_free(oldp)))
        pm_corruption(chunk_raw_wraps(oldp) ? "realloc(): invalid pointer" : "realloc(): chunk already freed",
                      oldmem);

    if (chunk_is_mmapped(oldp)) {
        void *mem = pm_mmap_realloc(oldp, nb);
        if (mem != NULL)
            return mem;
        size_t usable = chunk_usable(oldp);
        if (usable >= bytes)
            return oldmem;
        mem = pm_alloc_chunk(nb);
        if (mem == NULL)
            return NULL;
        memcpy(mem, oldmem, usable);
        pm_mmap_free(oldp);
        return mem;
    }

    struct pm_arena *a = pm_arena_of_freed(oldp);
    pm_lock_arena(a);
    void *mem = pm_int_realloc(a, oldp, nb);
    pm_unlock(&a->lock);
    if (mem != NULL)
        return mem;
    /* The arena is out of memory: move the block anywhere else. */
    mem = pm_alloc_chunk(nb);
    if (mem == NULL)
        return NULL;
    memcpy(mem, oldmem, chunk_usable(oldp));
    pm_free_chunk(oldmem);
    return mem;
}
