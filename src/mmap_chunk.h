/* Chunks served straight from mmap (mmap_chunk.c); no arena lock.  Each
 * mapping starts with a link on the circular list headed by pm_mmap_list. */
#ifndef PMALLOC_MMAP_CHUNK_H
#define PMALLOC_MMAP_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include "corrupt.h"
#include "state.h"

struct pm_mmap_link {
    struct pm_mmap_link *next;
    struct pm_mmap_link *prev;
    mchunk *chunk;       /* further in than the link when aligned */
    size_t reserved;    /* guard bytes after the block (hardened mode) */
};
/* The list head; heapviz finds it through the layout descriptor. */
extern struct pm_mmap_link pm_mmap_list;

/* How many chunks are mapped now: written under the mmap lock, read
 * without it (a stale count only decides one request the old way). */
static inline size_t pm_mmap_count(void)
{
    return __atomic_load_n(&pm_global.n_mmaps, __ATOMIC_RELAXED);
}

static inline bool mmap_allowed(size_t nb)
{
    return nb >= pm_opt_mmap_threshold() && pm_mmap_count() < pm_opt.mmap_max;
}

void *pm_mmap_alloc(size_t nb, size_t alignment);
void pm_mmap_free(mchunk *p);
/* Grows or shrinks an mmapped chunk (mremap); NULL if it cannot. */
void *pm_mmap_realloc(mchunk *p, size_t nb);
/* Checks the list against its totals, reporting each problem. */
bool pm_mmap_check(pm_problem_fn report, void *ctx);
/* True if p is the chunk of one of our live mappings (list lock taken). */
bool pm_mmap_owns(mchunk *p);
/* The list lock, for fork and for a consistent snapshot. */
void pm_mmap_lock_all(void);
void pm_mmap_unlock_all(bool in_fork_child);

#endif
