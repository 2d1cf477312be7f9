/* The data model: arena records, the heaps (memory regions) that hold
 * their chunks, and the state every arena shares.  The objects themselves
 * are defined in state.c; each field says which room writes it. */
#ifndef PMALLOC_STATE_H
#define PMALLOC_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "chunk.h"
#include "compiler.h"
#include "lock.h"
#include "options.h"

#define PM_NBINS        128
#define PM_NSMALLBINS   64
/* Fast bins for every chunk size the thread cache holds (32..1040): see
 * fastbin_limit() below. */
#define PM_NFASTBINS    64
#define PM_BINMAP_SHIFT 5
#define PM_BITS_PER_MAP (1U << PM_BINMAP_SHIFT)
#define PM_BINMAP_SIZE  (PM_NBINS / PM_BITS_PER_MAP)

/* The thread cache's size classes (tcache.h): eight per doubling, chunks
 * from 1152 bytes to 512 KiB (plus a header), every size a header more
 * than a multiple of 128. */
#define PM_TCACHE_CLASSES 72
#define PM_TCACHE_CLASS_STEP ((size_t)128)
#define PM_TCACHE_CLASS_STEPS ((size_t)512 * 1024 / PM_TCACHE_CLASS_STEP)

/* Sub-heaps of non-main arenas are this large and this aligned, so a
 * chunk's heap record is found by masking the chunk's address. */
#define PM_HEAP_MAX_SIZE ((size_t)64 * 1024 * 1024)
#define PM_HEAP_MIN_SIZE ((size_t)32 * 1024)

enum pm_heap_kind {
    PM_HEAP_BRK = 1,   /* main arena: a contiguous run of the program break */
    PM_HEAP_MMAP = 2,  /* main arena: mmap'd space used when brk fails */
    PM_HEAP_SUB = 3,   /* non-main arena: 64 MiB-aligned sub-heap */
};

#define PM_HEAP_MAGIC 0x706d6870u /* "pmhp" */

/* Every region of memory that holds an arena's chunks starts with one of
 * these, so the heap walker (and heapviz) can visit every chunk. */
struct pm_heap {
    struct pm_arena *arena;
    struct pm_heap *prev;       /* older heap of the same arena */
    size_t size;                /* bytes from the heap start that hold chunks */
    size_t mprotect_size;       /* bytes made accessible so far (sub-heaps) */
    size_t reserved;            /* bytes reserved or mapped for this heap */
    char *chunks_start;         /* the first chunk */
    uint32_t kind;
    uint32_t magic;
};

/* A heap other than the newest one ends with two fencepost headers, so no
 * chunk ever coalesces across its end. */
#define PM_FENCEPOST_SIZE (2 * PM_CHUNK_HDR)

#define PM_ARENA_NONCONTIGUOUS 0x1u

/* Where a pass of the decay (sysmalloc.c) goes on: at `chunk` of bin
 * `bin` (bin 0: a new round from the first bin; chunk NULL: the bin's
 * head), of which the last `offset` bytes have gone back already (a
 * chunk larger than a pass may give back goes over several). */
struct pm_decay_resume {
    unsigned bin;
    struct pm_chunk *chunk;
    size_t offset;
};

/* Written under the arena's lock by the core (core_*.c, merge.c,
 * sysmalloc.c, realloc.c, memalign.c) unless a field says otherwise. */
struct pm_arena {
    pm_lock_t lock;
    unsigned flags;              /* sysmalloc.c, arena.c */
    unsigned index;              /* 0 for the main arena; arena.c */
    int have_fastchunks;
    size_t fast_bytes;           /* bytes in the fast bins */
    mchunk *fastbins[PM_NFASTBINS];
    /* The class stores (bins.h): chunks of the thread caches' size
     * classes, kept whole one list per class for the caches' next misses;
     * store_bytes is what they hold, at most pm_global.store_bound. */
    mchunk *stores[PM_TCACHE_CLASSES];
    size_t store_bytes;
    mchunk *top;
    mchunk *last_remainder;
    /* Bin headers: each bin is a fake chunk whose fd/bk overlay a pair of
     * these words (bins.h, bin_at). */
    mchunk *bins[PM_NBINS * 2 - 2];
    unsigned binmap[PM_BINMAP_SIZE];
    struct pm_heap *heap;        /* newest heap: the one that holds top; sysmalloc.c */
    /* heap->chunks_start, or UINTPTR_MAX while the arena has no heap: the
     * low end of the inline range test (heap.h, in_newest_heap), one load
     * where the record would take two; sysmalloc.c, with heap */
    uintptr_t newest_lo;
    /* every arena, in creation order, circular; arena.c, under the list
     * lock, and read with acquire ordering (arena_next) */
    struct pm_arena *next;
    size_t attached_threads;     /* arena.c, list lock */
    size_t system_mem;           /* bytes of chunk space obtained for this arena; sysmalloc.c */
    size_t max_system_mem;
    size_t nheaps;               /* sysmalloc.c */
    size_t nmalloc;              /* requests that reached this arena (core_malloc.c) */
    /* Memory of the newest heap at or above fresh_mark has never been
     * written since the kernel gave it (reads as zero), so calloc need not
     * clear it.  last_split/last_split_fresh describe the latest chunk cut
     * from top and the mark before that cut.  sysmalloc.c; calloc clears
     * last_split. */
    char *fresh_mark;
    mchunk *last_split;
    char *last_split_fresh;
    /* Chunks freed by threads of other arenas, pushed without this lock
     * and drained by the next thread that holds it (core_free.c). */
    mchunk *remote_frees;
    /* While no thread is attached: about how many bytes are free in it,
     * for a thread about to grow its own heap to use instead.  Estimated
     * when its last thread leaves (arena.c), raised by each free into it
     * since (core_free.c); under the arena's lock, read without it as a
     * hint. */
    size_t pool_free;
    /* Decay of free pages (sysmalloc.c, pm_decay_after_free), under the
     * arena lock: when the clock last started (0: not running), the bin
     * the next pass starts from (0: a new round after the delay), and the
     * bytes of pages given back by the decay and trim (a chunk's pages
     * count once while it stays as it is; a page of a chunk that was
     * split or merged since can count again). */
    unsigned long long decay_since_ns;
    struct pm_decay_resume decay_resume; /* its chunk: unlink_chunk clears it */
    size_t decay_returned;
    /* The idle return (trim.c, pm_trim_idle_look), under the arena lock:
     * `activity` counts the times the lock was taken to serve a call
     * (pm_lock_arena); the idle return's look takes the lock by trylock
     * and does not count.  When a look last saw the count change it
     * noted it in idle_activity and the time in idle_since_ns; once the
     * count has stood still for the decay's delay, looks merge the fast
     * bins and give back free pages a bounded step at a time, from where
     * the last step stopped (idle_resume, which may name a chunk of the
     * unsorted bin: nothing else moves the bins while the count stands
     * still), until idle_done.  A change of the count starts it all
     * again. */
    unsigned long activity;
    unsigned long idle_activity;
    unsigned long long idle_since_ns;
    struct pm_decay_resume idle_resume;
    bool idle_done;
    /* The older heap that last held a chunk a list link was checked
     * against (heap.c, pm_chunk_owned_locked), under the arena lock;
     * cleared when that heap goes.  Its first chunk and its end less a
     * whole chunk record, kept with it so the inline test reads no heap
     * record (UINTPTR_MAX and 0 without a hint, so nothing passes). */
    struct pm_heap *owned_hint;
    uintptr_t owned_hint_lo, owned_hint_last;
};

extern struct pm_arena pm_main_arena;

/* Process-wide state shared by every arena. */
struct pm_shared_state {
    pm_lock_t list_lock;         /* arena list, new arenas, fork */
    size_t narenas;              /* arena.c, list lock */
    /* mmap_chunk.c, under its list lock */
    size_t n_mmaps;
    size_t n_mmaps_max;
    size_t mmapped_mem;
    size_t max_mmapped_mem;
    /* Bytes obtained from the system for heaps and mapped chunks, and
     * their peak: pm_account_system, from sysmalloc.c and mmap_chunk.c. */
    size_t system_total;
    size_t max_system_total;
    /* tcache.c (pm_tcache_refresh_limits), at start-up and in mallopt */
    size_t tcache_request_limit; /* requests below this may use the cache; 0: off */
    size_t tcache_chunk_limit;   /* chunks up to this size may be cached; 0: off */
    size_t tcache_bins;          /* bins in use: chunk sizes below 32 + 16 * this */
    size_t tcache_count;         /* a small bin's starting depth (pm_opt's, kept beside the rest) */
    uint32_t tcache_generation;  /* counts the refreshes, so each cache follows every change */
    size_t fastbin_limit;        /* largest chunk a free files in a fast bin */
    /* requests from tcache_request_limit below this use the size classes
     * (0: none), and a thread keeps at most tcache_byte_budget in them */
    size_t tcache_big_request_limit;
    size_t tcache_byte_budget;
    /* chunk sizes of the classes lie in (1040, 1040 + this] (0: none) */
    size_t tcache_class_span;
    /* the most an arena's class stores hold (0: no stores, as without
     * classes) */
    size_t store_bound;
    /* init.c */
    size_t sbrk_base_mem;        /* where the program break stood at start */
    bool on_valgrind;            /* memcheck is watching: see memcheck.h */
    size_t ncpus;                /* online CPUs, read once at start-up */
    /* Every heap of every arena lies within [heap_lo, heap_hi): the free
     * fast path refuses anything outside before trusting a header.
     * sysmalloc.c, by compare-and-swap (heaps grow under different
     * locks). */
    uintptr_t heap_lo;
    uintptr_t heap_hi;
    /* Thread-cache bin of each request size it can hold, so the malloc
     * fast path looks it up, from the base register it already has;
     * tcache.c. */
    uint8_t tcache_class[PM_TCACHE_SMALL_MAX_BYTES + 1];
    /* The thread cache's size classes (tcache.h): the class of the
     * smallest size of at least 128 j bytes plus a header, and each
     * class's chunk size,
     * so the fast paths find a class with two loads; tcache.c. */
    uint8_t tcache_class_by_step[PM_TCACHE_CLASS_STEPS + 1];
    uint32_t tcache_class_bytes[PM_TCACHE_CLASSES];
    /* The class whose size is exactly 128 j bytes plus a header, or
     * PM_TCACHE_CLASSES, a class of no depth, between two classes: a
     * free finds the class of a chunk and tests its room with no compare
     * of sizes. */
    uint8_t tcache_class_exact_by_step[PM_TCACHE_CLASS_STEPS + 1];
    /* The memory limits in force (limit.c): the soft one, the least of
     * the cgroup's memory.high and memory.max and PMALLOC_MEMORY_LIMIT,
     * and PMALLOC_MEMORY_LIMIT_HARD (0: none); and the system_total at
     * which growth looks at them again. */
    size_t limit_soft;
    size_t limit_hard;
    size_t limit_next_check;
};
extern struct pm_shared_state pm_global PM_HIDDEN;

/* Heaps and mappings grow and shrink under different locks: the shared
 * total moves by atomic adds, and its peak only ever rises. */
static inline void pm_account_system(size_t grown, size_t shrunk)
{
    size_t now = __atomic_add_fetch(&pm_global.system_total, grown - shrunk, __ATOMIC_RELAXED);
    size_t peak = __atomic_load_n(&pm_global.max_system_total, __ATOMIC_RELAXED);
    while (now > peak && !__atomic_compare_exchange_n(&pm_global.max_system_total, &peak, now, true,
                                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

/* Start-up's progress: 0 none, 1 in progress, 2 done.  Written by init.c
 * only; the fork handlers and the at-exit writers read it. */
extern int pm_init_state;
static inline bool pm_initialised(void) { return __atomic_load_n(&pm_init_state, __ATOMIC_ACQUIRE) == 2; }

/* The arena this thread allocates from; NULL until its first call.
 * arena.c (attach, detach) and init.c. */
extern __thread struct pm_arena *pm_thread_arena __attribute__((tls_model("initial-exec")));

/* Whether the calling thread's next heap growth may go ahead, or should
 * wait while an arena no thread uses lends its free space (sysmalloc.c
 * declines, arena.c moves the thread and allows the retried request, the
 * allocation path sets it back). */
enum pm_growth {
    PM_GROWTH_ASK_POOL = 0, /* look for an idle arena's free space first */
    PM_GROWTH_DECLINED,     /* a growth was declined: the retry moves */
    PM_GROWTH_ALLOWED,      /* the retried request may grow its arena */
    PM_GROWTH_LIMITED,      /* near a memory limit: return memory, then grow */
};
extern __thread unsigned char pm_thread_growth __attribute__((tls_model("initial-exec")));

static inline struct pm_heap *heap_of_chunk(mchunk *p)
{
    return (struct pm_heap *)((uintptr_t)p & ~(PM_HEAP_MAX_SIZE - 1));
}

static inline struct pm_arena *arena_of_chunk(mchunk *p)
{
    return chunk_non_main(p) ? heap_of_chunk(p)->arena : &pm_main_arena;
}

/* Chunks of non-main arenas carry NON_MAIN_ARENA in every header. */
static inline size_t arena_bit(const struct pm_arena *a)
{
    return a == &pm_main_arena ? 0 : PM_NON_MAIN_ARENA;
}

static inline size_t top_size(const struct pm_arena *a)
{
    return a->top ? chunk_size(a->top) : 0;
}

static inline bool arena_contiguous(const struct pm_arena *a)
{
    return (a->flags & PM_ARENA_NONCONTIGUOUS) == 0;
}

static inline char *heap_end(const struct pm_heap *h) { return (char *)h + h->size; }

/* Arenas form a circular list through `next`, starting at pm_main_arena;
 * arenas are never freed, so the list can be walked while holding
 * pm_global.list_lock or by reading `next` with acquire ordering. */
static inline struct pm_arena *arena_next(struct pm_arena *a)
{
    return __atomic_load_n(&a->next, __ATOMIC_ACQUIRE);
}

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

#endif
