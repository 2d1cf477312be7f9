/* Interfaces between the allocator's own files.  Nothing here is exported
 * from the shared library (-fvisibility=hidden). */
#ifndef PMALLOC_INTERNAL_H
#define PMALLOC_INTERNAL_H

#include "config.h"

#include <stddef.h>
#include <stdbool.h>
#include "arena.h"
#include "bins.h"
#include "options.h"
#include "os.h"

/* Marks the malloc family and the pmalloc_ API; everything else is hidden. */
#define PM_EXPORT __attribute__((visibility("default")))
/* Defines `alias` as another exported name of `target` (same file only). */
#if defined(__clang__)
#define PM_ALIAS(target) __attribute__((alias(#target), visibility("default")))
#else
#define PM_ALIAS(target) __attribute__((alias(#target), copy(target), visibility("default")))
#endif

#define PM_LIKELY(x) __builtin_expect(!!(x), 1)
#define PM_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Start-up (init.c).  Cheap to call on every entry. */
extern int pm_init_state; /* 0 none, 1 in progress, 2 done */
void pm_init_slow(void);
static inline void pm_ensure_init(void)
{
    if (PM_UNLIKELY(__atomic_load_n(&pm_init_state, __ATOMIC_ACQUIRE) != 2))
        pm_init_slow();
}

/* Threads (arena.c, thread.c). */
extern __thread struct pm_arena *pm_thread_arena __attribute__((tls_model("initial-exec")));
struct pm_arena *pm_arena_attach(void);
void pm_arena_detach(void);
/* Makes sure the calling thread's cache and arena are released when it
 * exits. */
void pm_thread_watch(void);
void pm_thread_init(void);

static inline struct pm_arena *pm_arena_for_thread(void)
{
    struct pm_arena *a = pm_thread_arena;
    return PM_LIKELY(a != NULL) ? a : pm_arena_attach();
}

/* The core (core_malloc.c, core_free.c, realloc.c, memalign.c); the
 * arena's lock is held.  nb is a chunk size from request_to_size. */
void *pm_int_malloc(struct pm_arena *a, size_t nb);
void pm_int_free(struct pm_arena *a, mchunk p);
void pm_consolidate(struct pm_arena *a);
/* An exact-size chunk from a small bin, or NULL. */
void *pm_int_take_small(struct pm_arena *a, size_t nb);
/* A chunk of nb cut from the last remainder when it is all the unsorted
 * bin holds (the run a small request just came from), or NULL. */
void *pm_int_take_remainder(struct pm_arena *a, size_t nb);
/* Frees p into its own arena.  A batch of frees takes each arena's lock
 * once (held), and chunks of arenas that other threads own are chained
 * and handed to those arenas' remote lists in one step each;
 * pm_free_batch_end finishes the batch. */
struct pm_free_batch {
    struct pm_arena *held;   /* the arena whose lock is held, if any */
    struct pm_arena *remote; /* where the chain head..tail goes */
    mchunk head, tail;
};
#define PM_FREE_BATCH_INIT {NULL, NULL, NULL, NULL}
void pm_free_batched(mchunk p, struct pm_free_batch *b);
void pm_free_batch_end(struct pm_free_batch *b);
/* Frees one chunk the same way, without a batch. */
void pm_free_one(mchunk p);
/* The arena of a chunk the program hands back, after checking that a
 * thread arena it claims really exists. */
struct pm_arena *pm_arena_of_freed(mchunk p);
/* Every check a chunk handed back must pass before anything trusts it
 * (the thread cache's slow path runs it before caching the chunk). */
void pm_check_freed(mchunk p);
/* Frees the chunks other threads left on the arena's remote list. */
void pm_drain_remote(struct pm_arena *a);
/* Locks an arena, first freeing what other threads left on its remote
 * list. */
static inline void pm_lock_arena(struct pm_arena *a)
{
    pm_lock(&a->lock);
    if (PM_UNLIKELY(__atomic_load_n(&a->remote_frees, __ATOMIC_RELAXED) != NULL))
        pm_drain_remote(a);
}
/* Resizes a heap chunk in place when it can, else moves it within the
 * arena.  Returns the user pointer, or NULL (old chunk untouched). */
void *pm_int_realloc(struct pm_arena *a, mchunk oldp, size_t nb);
void *pm_int_memalign(struct pm_arena *a, size_t alignment, size_t nb);
/* Fast-bin chunks are merged on free once a merged chunk reaches this. */
#define PM_FASTBIN_CONSOLIDATION_THRESHOLD ((size_t)65536)

/* The largest chunk a free files in a fast bin, unmerged (0: none).
 * Beyond the model's M_MXFAST, every size the thread cache holds: chunks
 * a cache spills are usually wanted by a cache again soon, and merging
 * them with their neighbours only to cut them out again was most of what
 * a cache miss cost.  They are merged when a request no bin can serve
 * needs the space (pm_consolidate), as fast chunks always are.
 * M_MXFAST=0 still turns fast bins off altogether. */
static inline size_t fastbin_limit_for(size_t max_fast, size_t cached)
{
    if (max_fast == 0)
        return 0;
    return cached > max_fast ? cached : max_fast;
}
/* Kept in pm_global by pm_tcache_refresh_limits, which runs whenever an
 * option changes. */
static inline size_t fastbin_limit(void) { return pm_global.fastbin_limit; }

/* The top chunk and the system (sysmalloc.c). */
void *pm_sysmalloc(struct pm_arena *a, size_t nb);
/* Gives back the top's excess above pad; true if anything was released. */
bool pm_systrim(struct pm_arena *a, size_t pad);
/* Whether top holds a whole page beyond pad (and a minimal top), the
 * least pm_systrim can give back: checked first on every large free. */
static inline bool pm_systrim_worth(const struct pm_arena *a, size_t pad)
{
    size_t tsize = top_size(a);
    return tsize > PM_MINSIZE && tsize - PM_MINSIZE > pad && tsize - PM_MINSIZE - pad > PM_PAGE_SIZE;
}
/* Makes an initialised heap record the arena's newest heap (sysmalloc.c). */
void pm_install_heap(struct pm_arena *a, struct pm_heap *h);
/* Unmaps the newest sub-heaps of a thread arena while they hold nothing
 * but top; true if any was released. */
bool pm_unmap_empty_heaps(struct pm_arena *a);

/* Sub-heaps (heap.c). */
struct pm_heap *pm_heap_new(size_t commit, struct pm_arena *a);
bool pm_heap_grow(struct pm_heap *h, size_t diff);
bool pm_heap_shrink(struct pm_heap *h, size_t diff);
void pm_heap_unmap(struct pm_heap *h);
/* True if a live sub-heap holds the 64 MiB slot of p. */
bool pm_subheap_known(const void *p);
/* True if the chunk [p, p+size) lies inside one of the arena's heaps (for
 * a thread arena, inside the heap its address names). */
bool pm_chunk_owned(struct pm_arena *a, mchunk p, size_t size);
/* The common case of pm_chunk_owned, inline: [p, p+size) lies in the
 * arena's newest heap (for a thread arena, that is the sub-heap p's
 * address names, so the full test would pass too). */
static inline bool in_newest_heap(const struct pm_arena *a, mchunk p, size_t size)
{
    const struct pm_heap *h = a->heap;
    if (h == NULL)
        return false;
    char *hi = heap_end(h);
    return (char *)p >= h->chunks_start && (char *)p < hi && size <= (size_t)(hi - (char *)p);
}

/* Discards the whole pages inside free chunks (malloc_trim); returns true
 * if any were given back. */
bool pm_discard_free_pages(struct pm_arena *a);
/* Carves nb bytes off the front of top, which must hold nb + MINSIZE.
 * Records the chunk and the arena's untouched-memory mark for calloc. */
void *pm_split_top(struct pm_arena *a, size_t nb);
/* Moves top's start to new_top after its front was taken (split or
 * realloc growth), keeping the untouched-memory mark right. */
void pm_set_top(struct pm_arena *a, mchunk new_top, size_t size);

/* Chunks served straight from mmap (mmap_chunk.c); no arena lock.  Each
 * mapping starts with a link on the circular list headed by pm_mmap_list. */
struct pm_mmap_link {
    struct pm_mmap_link *next;
    struct pm_mmap_link *prev;
    mchunk chunk;       /* further in than the link when aligned */
    size_t reserved;
};
extern struct pm_mmap_link pm_mmap_list;
void *pm_mmap_alloc(size_t nb, size_t alignment);
void pm_mmap_free(mchunk p);
/* Grows or shrinks an mmapped chunk (mremap); NULL if it cannot. */
void *pm_mmap_realloc(mchunk p, size_t nb);
bool pm_mmap_check(pm_problem_fn report, void *ctx);
void pm_mmap_lock_all(void);
void pm_mmap_unlock_all(bool reinit);

/* Arenas form a circular list through `next`, starting at pm_main_arena;
 * arenas are never freed, so the list can be walked while holding
 * pm_global.list_lock or by reading `next` with acquire ordering. */
static inline struct pm_arena *arena_next(struct pm_arena *a)
{
    return __atomic_load_n(&a->next, __ATOMIC_ACQUIRE);
}

/* malloc_stats's report, written to fd (stats.c). */
void pm_stats_print(int fd);

/* The hardened mode (hardened.c). */
void pm_hardened_tag(void *mem);
size_t pm_hardened_usable(mchunk p);
void pm_hardened_free(void *mem);
void pm_hardened_lock_all(void);
void pm_hardened_unlock_all(bool reinit);
/* True if p is the chunk of one of our live mappings (list lock taken). */
bool pm_mmap_owns(mchunk p);

/* M_PERTURB: new blocks are filled with the complement of the byte and
 * freed ones with the byte, so use of uninitialised or freed memory shows. */
static inline void pm_perturb_alloc(void *mem, size_t n)
{
    if (PM_UNLIKELY(pm_opt.perturb_byte))
        __builtin_memset(mem, (pm_opt.perturb_byte ^ 0xff) & 0xff, n);
}
static inline void pm_perturb_free(void *mem, size_t n)
{
    if (PM_UNLIKELY(pm_opt.perturb_byte))
        __builtin_memset(mem, pm_opt.perturb_byte & 0xff, n);
}

/* Merges a chunk being freed with its free neighbours and files the
 * result in the unsorted bin or the top (core_free.c).  Returns the size
 * of the merged chunk. */
size_t pm_free_merge(struct pm_arena *a, mchunk p, size_t size);

#endif
