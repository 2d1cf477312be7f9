/* Where a chunk comes from and where it goes: a direct mapping or an
 * arena, the thread's own arena or another when it is out of memory, and
 * the remote list of an arena that another thread holds. */
#include "config.h"

#include "alloc.h"

#include <errno.h>
#include "arena.h"
#include "core.h"
#include "limit.h"
#include "tcache.h"
#include "trim.h"

/* Runs an arena operation, retrying once in another arena when the
 * thread's own cannot satisfy it.  Inlined into pm_with_arena and
 * pm_alloc_chunk, so the operation is a direct call on the malloc path. */
static inline __attribute__((always_inline)) void *with_arena(pm_arena_op op, size_t arg1, size_t arg2)
{
    struct pm_arena *a = pm_arena_for_thread();
    pm_lock_arena_only(a);
    if (PM_UNLIKELY(pm_has_remote(a)))
        pm_tcache_drain_remote(a);
    void *mem = op(a, arg1, arg2);
    pm_unlock(&a->lock);
    if (mem == NULL) {
        if (pm_thread_growth == PM_GROWTH_LIMITED)
            pm_trim_for_limit();
        if ((a = pm_arena_retry(a)) != NULL) {
            mem = op(a, arg1, arg2);
            pm_unlock(&a->lock);
        }
        pm_arena_retry_done();
    }
    return mem;
}

void *pm_with_arena(pm_arena_op op, size_t arg1, size_t arg2) { return with_arena(op, arg1, arg2); }

/* A size class refill, out of line: most requests reaching an arena are
 * small or beyond the classes. */
static __attribute__((noinline)) void class_refill(struct pm_arena *a, struct pm_tcache *t, size_t nb)
{
    unsigned k;
    if (nb - PM_SIZE_SZ < pm_global.tcache_big_request_limit && pm_tcache_class_holds_size(nb, &k))
        pm_tcache_class_stash(a, t, k);
}

static inline __attribute__((always_inline)) void *op_malloc(struct pm_arena *a, size_t nb, size_t unused)
{
    (void)unused;
    /* what the remote list left in the cache (with_arena) may hold the
     * size asked for */
    struct pm_tcache *t = pm_tcache_get();
    if (t != NULL && nb <= pm_global.tcache_chunk_limit) {
        unsigned idx = tcache_index(nb);
        if (tcache_more(t->entries[idx]))
            return pm_tcache_pop(t, idx, t->entries[idx]);
    }
    void *mem = pm_int_malloc(a, nb);
    /* While the lock is held, refill the thread cache with more chunks of
     * this size that sit ready in exact-fit bins (or, for a size class,
     * in the arena's free space). */
    if (mem != NULL && t != NULL) {
        if (nb <= pm_global.tcache_chunk_limit)
            pm_tcache_stash(a, t, nb);
        else if (PM_UNLIKELY(pm_global.tcache_big_request_limit != 0))
            class_refill(a, t, nb);
    }
    return mem;
}

void *pm_op_memalign(struct pm_arena *a, size_t nb, size_t alignment)
{
    return pm_int_memalign(a, alignment, nb);
}

/* A chunk of at least nb bytes: mapped directly when large, else from the
 * heap; a mapping is the last resort when the heap cannot grow. */
void *pm_alloc_chunk(size_t nb)
{
    bool tried_mmap = false;
    if (mmap_allowed(nb)) {
        /* A mapping near a memory limit waits for memory to go back. */
        if (PM_UNLIKELY(pm_limit_check(nb) == PM_LIMIT_NEAR))
            pm_trim_for_limit();
        void *mem = pm_mmap_alloc(nb, 0);
        if (mem != NULL)
            return mem;
        tried_mmap = true;
    }
    void *mem = with_arena(op_malloc, nb, 0);
    if (mem == NULL && !tried_mmap && pm_mmap_count() < pm_opt.mmap_max)
        mem = pm_mmap_alloc(nb, 0);
    if (mem == NULL)
        errno = ENOMEM;
    return mem;
}

void pm_free_chunk(void *mem)
{
    mchunk *p = mem_chunk(mem);
    if (chunk_is_mmapped(p)) {
        pm_mmap_free(p);
        return;
    }
    if (PM_UNLIKELY(!ptr_aligned(mem)))
        pm_corruption("free(): invalid pointer", mem);
    pm_free_one(p);
}

