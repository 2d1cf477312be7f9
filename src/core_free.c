/* The freeing side of the core: fast bins, coalescing with free
 * neighbours, the unsorted bin, the top chunk and trimming.  The arena's
 * lock is held throughout. */
#include "config.h"

#include "core.h"

#include "bins.h"
#include "heap.h"
#include "sysmalloc.h"

static inline __attribute__((always_inline)) void check_freed_pointer(struct pm_arena *a, mchunk *p, size_t size)
{
    /* A pointer whose size would wrap the address space, that is not
     * aligned, or that lies outside every heap of its arena, cannot be a
     * chunk of ours (a fake chunk built in static or stack memory). */
    if (PM_UNLIKELY((uintptr_t)p > (uintptr_t)0 - size || !ptr_aligned(p)))
        pm_corruption("free(): invalid pointer", chunk_mem(p));
    if (PM_UNLIKELY(size < PM_MINSIZE || !size_aligned(size)))
        pm_corruption("free(): invalid size", chunk_mem(p));
    size_t need = a == &pm_main_arena ? PM_MINSIZE : size;
    if (PM_UNLIKELY(!in_newest_heap(a, p, need) && !pm_chunk_owned(a, p, need)))
        pm_corruption("free(): invalid pointer", chunk_mem(p));
    /* A size an overflow rewrote: it must not be trusted to find the
     * neighbours, nor be filed by. */
    if (PM_UNLIKELY(!chunk_tag_ok(p)))
        pm_corruption("free(): chunk size tag mismatch", chunk_mem(p));
}

/* A chunk that a cache, a remote list, a fast bin or a bin already holds. */
static inline void check_not_held_free(mchunk *p)
{
    if (PM_UNLIKELY(chunk_held_free(p)))
        pm_corruption(chunk_raw_wraps(p) ? "free(): invalid pointer" : "free(): double free detected (chunk held free)",
                      chunk_mem(p));
}

/* The main arena checks only that the header lies in one of its heaps:
 * a size that runs past top is the "(out)" check's to report. */
void pm_check_freed(mchunk *p)
{
    struct pm_arena *a = pm_arena_of_freed(p);
    check_freed_pointer(a, p, chunk_size(p));
    check_not_held_free(p);
}

static inline __attribute__((always_inline)) void push_fastbin(struct pm_arena *a, mchunk *p, size_t size)
{
    mchunk *next = chunk_at(p, size);
    if (PM_UNLIKELY(chunk_size_and_flags(next) <= PM_CHUNK_HDR || chunk_size(next) >= a->system_mem))
        pm_corruption("free(): invalid next size (fast)", chunk_mem(p));
    pm_perturb_free(chunk_mem(p), size - PM_CHUNK_HDR);

    unsigned idx = fastbin_index(size);
    mchunk *old = a->fastbins[idx];
    /* Freeing the chunk at the head twice in a row is the cheap double
     * free to catch; deeper ones are the hardened mode's work. */
    if (PM_UNLIKELY(old == p))
        pm_corruption("double free or corruption (fasttop)", chunk_mem(p));
    if (PM_UNLIKELY(old != NULL && fastbin_index(chunk_size(old)) != idx))
        pm_corruption("invalid fastbin entry (free)", chunk_mem(old));
    check_not_held_free(p);
    chunk_set_held_free(p);
    chunk_set_fd(p, link_protect(chunk_fd_slot(p), old));
    fast_canary_arm(p);
    a->fastbins[idx] = p;
    a->have_fastchunks = 1;
    a->fast_bytes += size;
}

/* A chunk of a size class into its arena's store (bins.h), while the
 * store is within its bound: checked as a fast-bin chunk is, and as a
 * chunk about to merge would be for its neighbour's in-use bit.  Not a
 * chunk next to top, which would keep top from shrinking, and not the
 * large classes: their pages, not the merging, are what they cost, and
 * kept whole they held macro_large's peak RSS 12% higher. */
#define PM_STORE_MAX_CHUNK PM_FASTBIN_CONSOLIDATION_THRESHOLD
static inline __attribute__((always_inline)) bool store_takes(struct pm_arena *a, mchunk *p, size_t size, unsigned *k)
{
    if (size >= PM_STORE_MAX_CHUNK || a->store_bytes + size > pm_global.store_bound || chunk_at(p, size) == a->top)
        return false;
    *k = store_class_of(size);
    return *k != PM_STORE_NONE;
}

static void push_store(struct pm_arena *a, mchunk *p, size_t size, unsigned k)
{
    mchunk *next = chunk_at(p, size);
    if (PM_UNLIKELY(chunk_size_and_flags(next) <= PM_CHUNK_HDR || chunk_size(next) >= a->system_mem))
        pm_corruption("free(): invalid next size (store)", chunk_mem(p));
    if (PM_UNLIKELY(!chunk_prev_inuse(next)))
        pm_corruption("double free or corruption (!prev)", chunk_mem(p));
    pm_perturb_free(chunk_mem(p), size - PM_CHUNK_HDR);
    store_push(a, p, size, k);
}

/* A merged chunk smaller than this holds no whole page past its links
 * (on 4 KiB pages), so it is not worth reading the decay clock for. */
#define PM_DECAY_MIN_CHUNK ((size_t)8192)

/* What a free into an arena does beyond filing a fast chunk: merging,
 * and the tidying a large free region is worth. */

static __attribute__((noinline)) void free_merging(struct pm_arena *a, mchunk *p, size_t size)
{
    size = pm_free_merge(a, p, size);
    /* A large free region is worth tidying: fold the fast bins into it and
     * give the excess top back, but not on every small free. */
    if (size >= PM_FASTBIN_CONSOLIDATION_THRESHOLD) {
        if (a->have_fastchunks)
            pm_consolidate(a);
        if (a != &pm_main_arena)
            pm_unmap_empty_heaps(a);
        size_t pad;
        if (pm_free_trim_due(a, &pad))
            pm_systrim(a, pad);
    }
    if (size >= PM_DECAY_MIN_CHUNK)
        pm_decay_after_free(a);
}

/* Inlined where a thread cache's spills come through (pm_free_batched):
 * the fast-bin case is most of what they do. */
static inline __attribute__((always_inline)) void int_free(struct pm_arena *a, mchunk *p)
{
    size_t size = chunk_size(p);
    check_freed_pointer(a, p, size);
    if (size <= fastbin_limit()) {
        push_fastbin(a, p, size);
    } else {
        check_not_held_free(p);
        unsigned k;
        if (store_takes(a, p, size, &k))
            push_store(a, p, size, k);
        else
            free_merging(a, p, size);
    }
}

void pm_int_free(struct pm_arena *a, mchunk *p) { int_free(a, p); }

/* A free into an arena no thread is attached to adds to the space it can
 * lend to a thread about to grow its own heap (state.h, pool_free). */
static inline void count_idle_free(struct pm_arena *a, size_t size)
{
    if (a != pm_thread_arena && __atomic_load_n(&a->attached_threads, __ATOMIC_RELAXED) == 0)
        __atomic_store_n(&a->pool_free, a->pool_free + size, __ATOMIC_RELAXED);
}

/* A chunk freed by a thread other than its arena's owner never waits for
 * that arena's lock: it joins a lock-free list that the arena's next
 * holder frees.  Chunks bound for one arena are chained first and pushed
 * with one compare-and-swap.  Pushes only, and the drain takes the whole
 * list at once, so no ABA problem can arise. */
static void remote_flush(struct pm_free_batch *b)
{
    if (b->head == NULL)
        return;
    struct pm_arena *a = b->remote;
    mchunk *old = __atomic_load_n(&a->remote_frees, __ATOMIC_RELAXED);
    do {
        chunk_set_fd(b->tail, old);
    } while (!__atomic_compare_exchange_n(&a->remote_frees, &old, b->head, true, __ATOMIC_RELEASE,
                                          __ATOMIC_RELAXED));
    b->head = b->tail = NULL;
    b->remote = NULL;
}

static void remote_add(struct pm_free_batch *b, struct pm_arena *a, mchunk *p)
{
    /* The full checks run when the owner frees the chunk; here only what
     * keeps the list itself sound. */
    if (PM_UNLIKELY(!ptr_aligned(p) || chunk_size(p) < PM_MINSIZE))
        pm_corruption("free(): invalid pointer", chunk_mem(p));
    check_not_held_free(p);
    chunk_set_held_free(p);
    if (b->remote != a) {
        remote_flush(b);
        b->remote = a;
    }
    chunk_set_fd(p, b->head);
    b->head = p;
    if (b->tail == NULL)
        b->tail = p;
}

void pm_free_remote(struct pm_arena *a, mchunk *p)
{
    chunk_clear_held_free(p);
    count_idle_free(a, chunk_size(p));
    int_free(a, p);
}

void pm_accept_remote(struct pm_arena *a, mchunk *p)
{
    chunk_clear_held_free(p);
    size_t size = chunk_size(p);
    check_freed_pointer(a, p, size);
    count_idle_free(a, size);
}

void pm_drain_remote(struct pm_arena *a)
{
    mchunk *p = pm_take_remote(a);
    while (p != NULL) {
        mchunk *next = chunk_fd(p);
        pm_free_remote(a, p);
        p = next;
    }
}

/* The arena of a chunk being freed; a chunk that claims a thread arena
 * must lie in a live sub-heap before that heap's record is read. */
struct pm_arena *pm_arena_of_freed(mchunk *p)
{
    if (PM_UNLIKELY(chunk_non_main(p) && !pm_subheap_known(p)))
        pm_corruption("free(): invalid pointer", chunk_mem(p));
    return arena_of_chunk(p);
}

/* Another thread's arena: its chunks are left for the owner.  An arena no
 * thread uses any more has no owner to come by, so its lock is simply
 * taken (the count is a hint, read without the list lock). */
static inline bool owned_by_other_thread(struct pm_arena *a)
{
    return a != pm_thread_arena && __atomic_load_n(&a->attached_threads, __ATOMIC_RELAXED) != 0;
}

void pm_free_batched(mchunk *p, struct pm_free_batch *b)
{
    struct pm_arena *a = pm_arena_of_freed(p);
    if (b->held != a) {
        if (owned_by_other_thread(a)) {
            remote_add(b, a, p);
            return;
        }
        if (b->held != NULL)
            pm_unlock(&b->held->lock);
        pm_lock_arena(a);
        b->held = a;
    }
    count_idle_free(a, chunk_size(p));
    int_free(a, p);
}

void pm_free_one(mchunk *p)
{
    struct pm_arena *a = pm_arena_of_freed(p);
    if (owned_by_other_thread(a)) {
        struct pm_free_batch b = PM_FREE_BATCH_INIT;
        remote_add(&b, a, p);
        remote_flush(&b);
        return;
    }
    pm_lock_arena(a);
    count_idle_free(a, chunk_size(p));
    int_free(a, p);
    pm_unlock(&a->lock);
}

void pm_free_batch_end(struct pm_free_batch *b)
{
    remote_flush(b);
    if (b->held != NULL) {
        pm_unlock(&b->held->lock);
        b->held = NULL;
    }
}
