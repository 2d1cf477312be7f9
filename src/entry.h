/* What the exported entry points (api*.c) share: the choice of heap or
 * mapping, the arena lock with its remote list, and the debug mode. */
#ifndef PMALLOC_ENTRY_H
#define PMALLOC_ENTRY_H

#include "internal.h"
#include "memcheck.h"

/* The debug mode (PMALLOC_CHECK=1) walks every arena after every call. */
static inline void debug_check(void)
{
    if (PM_UNLIKELY(pm_opt.check_heap))
        pm_check_all(true);
}

static inline bool mmap_allowed(size_t nb)
{
    return nb >= pm_opt.mmap_threshold && pm_global.n_mmaps < pm_opt.mmap_max;
}

/* Chunk size for a request, or false if it is too large.  The hardened
 * mode adds a word for the block's tag. */
static inline bool request_size(size_t bytes, size_t *nb)
{
    size_t extra = 0;
    if (PM_UNLIKELY(pm_opt.hardened))
        extra += PM_SIZE_SZ;
    if (PM_UNLIKELY(pm_global.on_valgrind))
        extra += PM_VG_REDZONE;
    if (PM_UNLIKELY(extra != 0)) {
        if (bytes > PM_MAX_REQUEST)
            return false;
        bytes += extra;
    }
    return checked_request_to_size(bytes, nb);
}

/* A new block, before it is handed out: the hardened mode tags it. */
static inline void *new_block(void *mem)
{
    if (PM_UNLIKELY(pm_opt.hardened) && mem != NULL)
        pm_hardened_tag(mem);
    return mem;
}

/* Runs an arena operation in the thread's arena, retrying once in another
 * when that one is out of memory. */
typedef void *(*pm_arena_op)(struct pm_arena *a, size_t arg1, size_t arg2);
void *pm_with_arena(pm_arena_op op, size_t arg1, size_t arg2);
void *pm_op_malloc(struct pm_arena *a, size_t nb, size_t unused);
void *pm_op_memalign(struct pm_arena *a, size_t nb, size_t alignment);

/* A chunk of at least nb bytes (heap or mapping), or NULL with ENOMEM. */
void *pm_alloc_chunk(size_t nb);
/* Frees any chunk of ours (no thread cache). */
void pm_free_chunk(void *mem);

/* api.c's slow paths, which the other entry files call too. */
void *pm_malloc_slow(size_t bytes);
void pm_free_slow(void *mem);

#endif
