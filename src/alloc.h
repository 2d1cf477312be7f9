/* Where a chunk comes from and where it goes (alloc.c): a direct mapping
 * or an arena, the thread's own arena or another when it is out of
 * memory.  No lock is held on entry. */
#ifndef PMALLOC_ALLOC_H
#define PMALLOC_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include "chunk.h"
#include "compiler.h"
#include "memcheck.h"
#include "mmap_chunk.h"
#include "options.h"
#include "state.h"

/* Chunk size for a request, or false if it is too large.  The hardened
 * mode adds a word for the block's tag, memcheck a redzone. */
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

/* Runs an arena operation in the thread's arena, retrying once in another
 * when that one is out of memory. */
typedef void *(*pm_arena_op)(struct pm_arena *a, size_t arg1, size_t arg2);
void *pm_with_arena(pm_arena_op op, size_t arg1, size_t arg2);
void *pm_op_memalign(struct pm_arena *a, size_t nb, size_t alignment);

/* A chunk of at least nb bytes (heap or mapping), or NULL with ENOMEM. */
void *pm_alloc_chunk(size_t nb);
/* Frees any chunk of ours (no thread cache). */
void pm_free_chunk(void *mem);

#endif
