/* Bin indexing, the binmap, the list operations on bins, safe-linking of
 * single-linked lists, and the one walker of an arena's bins (bins.c). */
#ifndef PMALLOC_BINS_H
#define PMALLOC_BINS_H

#include "corrupt.h"
#include "heap.h"
#include "state.h"

/* Bin 1 is the unsorted bin; 2..63 are exact-size small bins 16 bytes
 * apart; 64..126 are large bins of growing width, sorted by size. */
#define PM_UNSORTED_BIN   1
#define PM_MIN_LARGE_SIZE ((size_t)PM_NSMALLBINS * PM_ALIGNMENT)

static inline bool in_smallbin_range(size_t sz) { return sz < PM_MIN_LARGE_SIZE; }
static inline unsigned smallbin_index(size_t sz) { return (unsigned)(sz >> 4); }

/* Large bins: 33 bins 64 bytes wide, then 15 of 512, 9 of 4 KiB, 3 of
 * 32 KiB, 2 of 256 KiB, and one for the rest. */
static inline unsigned largebin_index(size_t sz)
{
    if ((sz >> 6) <= 48)
        return 48 + (unsigned)(sz >> 6);
    if ((sz >> 9) <= 20)
        return 91 + (unsigned)(sz >> 9);
    if ((sz >> 12) <= 10)
        return 110 + (unsigned)(sz >> 12);
    if ((sz >> 15) <= 4)
        return 119 + (unsigned)(sz >> 15);
    if ((sz >> 18) <= 2)
        return 124 + (unsigned)(sz >> 18);
    return 126;
}

static inline unsigned bin_index(size_t sz)
{
    return in_smallbin_range(sz) ? smallbin_index(sz) : largebin_index(sz);
}

/* A bin's header is a fake chunk placed so that its fd/bk land on the
 * bin's pair of words in the arena; its other fields are never touched. */
static inline mchunk *bin_at(struct pm_arena *a, unsigned i)
{
    return (mchunk *)((char *)&a->bins[(i - 1) * 2] - offsetof(struct pm_chunk, fd));
}
static inline mchunk *bin_first(mchunk *bin) { return chunk_fd(bin); }
static inline mchunk *bin_last(mchunk *bin) { return chunk_bk(bin); }
static inline bool bin_empty(mchunk *bin) { return chunk_fd(bin) == bin; }
static inline mchunk *unsorted_bin(struct pm_arena *a) { return bin_at(a, PM_UNSORTED_BIN); }

/* Every bin of a new arena starts empty: its header links to itself. */
static inline void pm_bins_init(struct pm_arena *a)
{
    for (unsigned i = 1; i < PM_NBINS; i++) {
        mchunk *bin = bin_at(a, i);
        chunk_set_fd(bin, bin);
        chunk_set_bk(bin, bin);
    }
}

/* binmap: a set bit means the bin may be non-empty (cleared lazily). */
static inline unsigned binmap_word(unsigned i) { return i >> PM_BINMAP_SHIFT; }
static inline unsigned binmap_bit(unsigned i) { return 1U << (i & (PM_BITS_PER_MAP - 1)); }
static inline void binmap_mark(struct pm_arena *a, unsigned i) { a->binmap[binmap_word(i)] |= binmap_bit(i); }
static inline void binmap_unmark(struct pm_arena *a, unsigned i) { a->binmap[binmap_word(i)] &= ~binmap_bit(i); }
static inline bool binmap_get(struct pm_arena *a, unsigned i) { return (a->binmap[binmap_word(i)] & binmap_bit(i)) != 0; }

/* Fast bins hold chunks of 32..1040 bytes, one bin per 16. */
static inline unsigned fastbin_index(size_t sz) { return (unsigned)(sz >> 4) - 2; }

/* Safe-linking: a single-linked next pointer is stored mixed with the
 * address of the slot that holds it (so a partial overwrite cannot aim it)
 * and with the per-process secret (so a leaked heap address alone cannot
 * forge it), which together are the key of the chunk whose user area
 * starts at the slot (chunk.h, chunk_key_at).  Mixing is its own inverse.
 * Every single-linked list of freed chunks (fast bins, thread caches)
 * goes through this. */
static inline uintptr_t link_mix(const void *slot, uintptr_t value) { return chunk_key_at(slot) ^ value; }
static inline mchunk *link_protect(mchunk **slot, mchunk *ptr) { return (mchunk *)link_mix(slot, (uintptr_t)ptr); }
static inline mchunk *link_reveal(mchunk **slot, mchunk *stored) { return (mchunk *)link_mix(slot, (uintptr_t)stored); }

/* The canary a fast-bin chunk carries while it waits in its bin (the
 * chunks the thread caches spill, half a bin at a time, among them): a
 * write after free into the block's second word is caught when the
 * chunk leaves the bin, by a refill, an allocation or a consolidation.
 * Keyed by the secret and the chunk's address, so it cannot be copied
 * from another chunk; checked only on the arenas' paths, so the caches'
 * fast paths pay nothing. */
static inline uintptr_t fast_canary(const mchunk *p)
{
    return ((uintptr_t)p ^ pm_chunk_secret) * (uintptr_t)0x9e3779b97f4a7c15ULL;
}
static inline bool fast_canary_intact(const mchunk *p)
{
    return !PM_CHUNK_CHECKS || chunk_canary((mchunk *)p) == fast_canary(p);
}
static inline void fast_canary_arm(mchunk *p)
{
    if (PM_CHUNK_CHECKS)
        chunk_set_canary(p, fast_canary(p));
}
static inline void fast_canary_check(mchunk *p, const char *check)
{
    if (__builtin_expect(!fast_canary_intact(p), 0))
        pm_corruption(check, chunk_mem(p));
}

/* What the single-linked lists of whole chunks (the fast bins, the class
 * stores below) check of a chunk they hand out, named for the list. */
struct pm_single_checks {
    const char *unaligned_first, *unaligned_next, *wrong_size, *modified;
};

/* Takes the first chunk of the list at *head, all of whose chunks are
 * `size` bytes, or NULL when it is empty; the caller counts the bytes. */
static inline mchunk *single_pop(mchunk **head, size_t size, const struct pm_single_checks *c)
{
    mchunk *victim = *head;
    if (victim == NULL)
        return NULL;
    if (__builtin_expect(!ptr_aligned(victim), 0))
        pm_corruption(c->unaligned_first, victim);
    mchunk *next = link_reveal(chunk_fd_slot(victim), chunk_fd(victim));
    if (__builtin_expect(next != NULL && !ptr_aligned(next), 0))
        pm_corruption(c->unaligned_next, next);
    if (__builtin_expect(chunk_size(victim) != size, 0))
        pm_corruption(c->wrong_size, victim);
    fast_canary_check(victim, c->modified);
    *head = next;
    chunk_clear_held_free(victim);
    return victim;
}

/* Takes the first chunk of nb's fast bin, or NULL when it is empty. */
static inline void *fastbin_pop(struct pm_arena *a, size_t nb)
{
    static const struct pm_single_checks fast = {
        "malloc(): unaligned fastbin chunk detected 2", "malloc(): unaligned fastbin chunk detected",
        "malloc(): memory corruption (fast)", "malloc(): fast chunk modified after free",
    };
    mchunk *victim = single_pop(&a->fastbins[fastbin_index(nb)], nb, &fast);
    if (victim == NULL)
        return NULL;
    a->fast_bytes -= nb;
    return chunk_mem(victim);
}

/* ---- the class stores ----
 * A chunk of one of the thread caches' size classes that a cache gives
 * back (a spill, a remote free, a thread's exit) waits in its arena's
 * store for the class, whole, marked in use and held free and armed
 * with the canary as a fast-bin chunk is: the next miss in the class, of
 * any thread using the arena, takes it back with no merging and no
 * cutting (pm_int_malloc, the class stash).  Only past the bound
 * (pm_global.store_bound) does a freed chunk of a class merge with its
 * neighbours (core_free.c); the stores are merged when the arena would
 * otherwise grow (core_malloc.c), by the idle return, malloc_trim and
 * mallopt. */
#define PM_STORE_NONE ((unsigned)PM_TCACHE_CLASSES)

/* The store of a chunk of `size` bytes: the class whose size it is
 * exactly, or PM_STORE_NONE. */
static inline unsigned store_class_of(size_t size)
{
    size_t grid = size - PM_CHUNK_HDR;
    if ((grid & (PM_TCACHE_CLASS_STEP - 1)) != 0 || grid > PM_TCACHE_CLASS_STEPS * PM_TCACHE_CLASS_STEP)
        return PM_STORE_NONE;
    return pm_global.tcache_class_exact_by_step[grid / PM_TCACHE_CLASS_STEP];
}

static inline void store_push(struct pm_arena *a, mchunk *p, size_t size, unsigned k)
{
    mchunk *old = a->stores[k];
    if (__builtin_expect(old == p, 0))
        pm_corruption("double free or corruption (store top)", chunk_mem(p));
    chunk_set_held_free(p);
    chunk_set_fd(p, link_protect(chunk_fd_slot(p), old));
    fast_canary_arm(p);
    a->stores[k] = p;
    a->store_bytes += size;
}

/* Takes the first chunk of store k, or NULL when it is empty. */
static inline void *store_pop(struct pm_arena *a, unsigned k)
{
    static const struct pm_single_checks store = {
        "malloc(): unaligned store chunk detected 2", "malloc(): unaligned store chunk detected",
        "malloc(): memory corruption (store)", "malloc(): stored chunk modified after free",
    };
    size_t size = pm_global.tcache_class_bytes[k];
    mchunk *victim = single_pop(&a->stores[k], size, &store);
    if (victim == NULL)
        return NULL;
    a->store_bytes -= size;
    return chunk_mem(victim);
}

/* A double-linked list link names a bin header of the arena or a chunk
 * in one of its heaps; a forged link aimed anywhere else (the target of
 * an unlink or skip-list write) is refused before it is followed.  The
 * newest heap, where almost every chunk lies, is tested inline. */
/* A bin header: the fake chunk whose fd/bk are one of a->bins' pairs
 * (the link of a chunk alone in its bin, or first or last in it). */
static inline bool is_bin_header(struct pm_arena *a, const mchunk *q)
{
    uintptr_t off = (uintptr_t)q - (uintptr_t)bin_at(a, 1);
    return off <= (uintptr_t)bin_at(a, PM_NBINS - 1) - (uintptr_t)bin_at(a, 1) && (off & (2 * PM_SIZE_SZ - 1)) == 0;
}
static inline bool link_in_arena(struct pm_arena *a, mchunk *q)
{
    return !PM_CHUNK_CHECKS || in_newest_heap(a, q, PM_MINSIZE) || is_bin_header(a, q) ||
           pm_chunk_owned_locked(a, q, PM_MINSIZE);
}
static inline void check_link(struct pm_arena *a, mchunk *q, const char *check, const void *where)
{
    if (__builtin_expect(!link_in_arena(a, q), 0))
        pm_corruption(check, where);
}

/* A size skip-list link names a large free chunk, never a bin header: a
 * header's fd_nextsize and bk_nextsize are the next bin's fd and bk, so a
 * skip-list write through a header would rewrite another bin.  The whole
 * record, through bk_nextsize, lies in one of the arena's heaps. */
static inline bool size_link_in_arena(struct pm_arena *a, mchunk *q)
{
    return !PM_CHUNK_CHECKS || in_newest_heap(a, q, sizeof(struct pm_chunk)) ||
           pm_chunk_owned_locked(a, q, sizeof(struct pm_chunk));
}
static inline void check_size_link(struct pm_arena *a, mchunk *q, const char *check, const void *where)
{
    if (__builtin_expect(!size_link_in_arena(a, q), 0))
        pm_corruption(check, where);
}

/* Inserts p between two neighbours of a double-linked list. */
static inline void list_insert_after(mchunk *bck, mchunk *p)
{
    mchunk *fwd = chunk_fd(bck);
    chunk_set_bk(p, bck);
    chunk_set_fd(p, fwd);
    chunk_set_fd(bck, p);
    chunk_set_bk(fwd, p);
}

/* Puts a free chunk at the head of the unsorted bin.  Every chunk of the
 * double-linked bins enters them here, and is marked held free until it
 * is handed out or merged (its header rewritten), so a free of it that
 * takes the thread cache's path is refused too. */
static inline void unsorted_push(struct pm_arena *a, mchunk *p, const char *check)
{
    mchunk *bck = unsorted_bin(a);
    mchunk *fwd = chunk_fd(bck);
    check_link(a, fwd, check, p);
    if (__builtin_expect(chunk_bk(fwd) != bck, 0))
        pm_corruption(check, p);
    chunk_set_held_free(p);
    chunk_set_bk(p, bck);
    chunk_set_fd(p, fwd);
    chunk_set_fd(bck, p);
    chunk_set_bk(fwd, p);
    if (!in_smallbin_range(chunk_size(p))) {
        chunk_set_fd_nextsize(p, NULL);
        chunk_set_bk_nextsize(p, NULL);
    }
}

/* Takes a free chunk out of whichever bin holds it, checking its tag and
 * both links first (the classic unlink attack needs them unchecked). */
static inline void unlink_chunk(struct pm_arena *a, mchunk *p)
{
    if (__builtin_expect(chunk_size(p) != chunk_prev_size(chunk_next(p)), 0))
        pm_corruption("corrupted size vs. prev_size", p);
    mchunk *fd = chunk_fd(p), *bk = chunk_bk(p);
    check_link(a, fd, "unlink(): list link outside the heap", p);
    check_link(a, bk, "unlink(): list link outside the heap", p);
    if (__builtin_expect(chunk_bk(fd) != p || chunk_fd(bk) != p, 0))
        pm_corruption("corrupted double-linked list", p);
    chunk_set_bk(fd, bk);
    chunk_set_fd(bk, fd);
    /* the decay's next pass would start at p (sysmalloc.c): from the
     * bin's head instead */
    if (__builtin_expect(p == a->decay_resume.chunk, 0))
        a->decay_resume.chunk = NULL;
    if (!in_smallbin_range(chunk_size(p)) && chunk_fd_nextsize(p) != NULL) {
        mchunk *nfd = chunk_fd_nextsize(p), *nbk = chunk_bk_nextsize(p);
        check_size_link(a, nfd, "unlink(): size link outside the heap", p);
        check_size_link(a, nbk, "unlink(): size link outside the heap", p);
        if (chunk_bk_nextsize(nfd) != p || chunk_fd_nextsize(nbk) != p)
            pm_corruption("corrupted double-linked list (not small)", p);
        if (chunk_fd_nextsize(fd) == NULL) {
            /* fd inherits p's place in the size skip-list */
            if (nfd == p) {
                chunk_set_fd_nextsize(fd, fd);
                chunk_set_bk_nextsize(fd, fd);
            } else {
                chunk_set_fd_nextsize(fd, nfd);
                chunk_set_bk_nextsize(fd, nbk);
                chunk_set_bk_nextsize(nfd, fd);
                chunk_set_fd_nextsize(nbk, fd);
            }
        } else {
            chunk_set_bk_nextsize(nfd, nbk);
            chunk_set_fd_nextsize(nbk, nfd);
        }
    }
}

/* ---- the one walker of an arena's bins (bins.c) ----
 * check.c, stats.c and malloc_trim's page discard all visit every free
 * chunk an arena lists; the walk keeps them safe on a corrupt heap: every
 * list is bounded by the number of chunks the arena could hold, and a
 * link is followed only after the chunk it names is shown to lie in the
 * arena's heaps.  The caller holds the arena's lock. */
enum pm_bins_problem {
    PM_BINS_FAST_UNALIGNED,  /* a fast-bin or store link that is no chunk address */
    PM_BINS_FAST_OUTSIDE,    /* a fast-bin or store link outside the arena's heaps */
    PM_BINS_FAST_CYCLE,      /* a fast bin or store longer than the arena can hold */
    PM_BINS_OUTSIDE,         /* a bin link outside the arena's heaps */
    PM_BINS_BACK_LINK,       /* a chunk whose bk is not the one before it */
    PM_BINS_CYCLE,           /* a bin longer than the arena can hold */
    PM_BINS_LAST_LINK,       /* a bin header whose bk is not its last chunk */
};
/* The lists a chunk is found on: the single-linked ones whose chunks
 * stay whole and in use by their tags, and the double-linked bins. */
enum pm_bins_list { PM_LIST_FAST, PM_LIST_STORE, PM_LIST_BIN };
struct pm_bins_visitor {
    /* A chunk of fast bin, store or bin `idx`; returning false ends the
     * walk of that list. */
    bool (*chunk)(void *ctx, enum pm_bins_list list, unsigned idx, mchunk *p);
    /* A list that cannot be followed on; the walk goes on with the next
     * bin.  `where` is the offending chunk or bin. */
    void (*problem)(void *ctx, enum pm_bins_problem what, const void *where);
    void *ctx;
    bool skip_fast; /* only the double-linked bins (no fast bins, no stores) */
    unsigned first_bin; /* the double-linked bins below this are skipped (0: none) */
    mchunk *first_chunk; /* non-NULL: a chunk of bin first_bin, the walk of that bin starts there */
};
void pm_bins_walk(struct pm_arena *a, const struct pm_bins_visitor *v);

#endif
