/* The exported malloc, free, calloc and realloc (the pmalloc_ API is in
 * api_control.c, the aligned family in api_aligned.c): argument checks
 * and errno, the thread cache's fast paths, the choice between the heap
 * and a direct mapping, and the arena lock around the core.  glibc's
 * documented semantics throughout.
 * malloc, free, calloc and realloc stay in one object: a static link
 * that pulled only some of them from libpmalloc.a would pull the rest
 * from libc.a's malloc.o, which defines them all (tried: secure_prog's
 * static link failed with realloc in a file of its own); realloc's slow
 * path for a block it does not resize itself, hidden, is in resize.c. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <pmalloc.h>
#include "alloc.h"
#include "background.h"
#include "arena.h"
#include "tcache_check.h"
#include "core.h"
#include "hardened.h"
#include "heap.h"
#include "init.h"
#include "memcheck.h"
#include "os.h"
#include "prof.h"
#include "prof_leaks.h"
#include "snapshot_self.h"
#include "report.h"
#include "resize.h"
#include "tcache.h"
#include "trim.h"

/* A static link takes from libpmalloc.a only the objects something
 * names.  Naming the at-exit reports beside malloc puts them, and with
 * the snapshot code the layout descriptor heapviz reads, into every
 * program that takes its malloc from here, whatever else it calls. */
__attribute__((used)) static void (*const at_exit_reports[])(void) = {pm_report_at_exit, pm_snapshot_at_exit,
                                                                       pm_prof_leaks_at_exit};

/* A call that left the fast paths of thread cache t: it counts for the
 * cache's idle check, and lets the idle return look now and then
 * (trim.c); no lock is held. */
static inline void slow_call_done(struct pm_tcache *t)
{
    pm_tcache_tick(t);
    if (PM_UNLIKELY(t->slow_look_due || t->slow_calls % PM_SLOW_LOOK_CALLS == 0))
        pm_trim_slow_look(t);
}

static void *malloc_core(size_t bytes)
{
    /* a fork child's background thread (none survives the fork) */
    pm_background_start_if_wanted();
    size_t nb;
    if (!request_size(bytes, &nb)) {
        errno = ENOMEM;
        return NULL;
    }
    struct pm_tcache *t = pm_tcache_get();
    unsigned k;
    size_t class_nb;
    bool in_class = pm_tcache_class_for(bytes, nb, &k, &class_nb);
    if (t != NULL) {
        pm_tcache_follow_limit(t);
    } else if (nb <= pm_global.tcache_chunk_limit || in_class) {
        t = pm_tcache_create();
    }
    /* The fast path sends a bin's unaligned, so corrupt, head here, as it
     * does an empty bin: the pop reports it. */
    if (t != NULL && nb <= pm_global.tcache_chunk_limit && tcache_more(t->entries[tcache_index(nb)]))
        return pm_tcache_pop(t, tcache_index(nb), t->entries[tcache_index(nb)]);
    if (t != NULL) {
        t->idle_trimmed = false;
        slow_call_done(t);
    }
    if (in_class && t != NULL) {
        if (tcache_more(t->class_entries[k])) {
            void *mem = pm_tcache_class_pop(t, k);
            pm_perturb_alloc(mem, bytes);
            return mem;
        }
        /* The arena cuts the class's full size, so the chunk serves the
         * class exactly when it comes back (alloc.c refills the class).
         * A block the class's size would map directly is never cached:
         * it keeps its own size, not the class's. */
        if (!mmap_allowed(class_nb)) {
            pm_tcache_class_missed(t, k);
            nb = class_nb;
        }
    }
    void *mem = pm_alloc_chunk(nb);
    if (mem != NULL)
        pm_perturb_alloc(mem, bytes);
    debug_check();
    return pm_new_block(mem);
}

static void *malloc_unprofiled(size_t bytes)
{
    pm_ensure_init();
    if (PM_LIKELY(!pm_vg()))
        return malloc_core(bytes);
    pm_vg_enter();
    void *mem = malloc_core(bytes);
    pm_vg_leave();
    pm_vg_block(mem, bytes, false);
    return mem;
}

/* While allocations are profiled, malloc's slow path (the fast path's
 * misses, and what the cache does not serve) goes here: the thread's own
 * countdown, its cache's being the fast path's. */
static __attribute__((noinline)) void *malloc_profiled(size_t bytes)
{
    void *mem = malloc_unprofiled(bytes);
    if (PM_UNLIKELY(pm_prof_due(bytes)))
        pm_prof_record(mem, bytes);
    return mem;
}

/* While profiling: a hit in the thread cache on its own limits, or NULL;
 * *usable is then the chunk's usable size.  malloc's and calloc's
 * sampled calls both take their blocks here. */
static void *cache_take(size_t bytes, size_t *usable)
{
    struct pm_tcache *t = pm_tc;
    if (bytes < pm_global.tcache_request_limit) {
        size_t idx = pm_global.tcache_class[bytes];
        struct pm_tcache_entry *e = t->entries[idx];
        if (tcache_more(e)) {
            *usable = tcache_bin_size(idx) - PM_SIZE_SZ;
            return pm_tcache_pop(t, idx, e);
        }
    } else if (bytes < pm_global.tcache_big_request_limit) {
        unsigned k = tcache_request_class(bytes);
        if (tcache_more(t->class_entries[k])) {
            *usable = pm_global.tcache_class_bytes[k] - PM_SIZE_SZ;
            return pm_tcache_class_pop(t, k);
        }
    }
    return NULL;
}

/* The countdown of cache t ran out, `bytes` taken off it: whether the
 * allocation is sampled.  The idle return looks at the arenas (trim.c)
 * first, reading what is left of the countdown, and without a profile
 * the countdown starts again where the look says. */
static bool countdown_out(struct pm_tcache *t, size_t bytes)
{
    int64_t next = pm_trim_idle_look(t);
    if (pm_prof_header.period == 0) {
        t->prof_left = next;
        return false;
    }
    return pm_prof_next(&t->prof_left, bytes);
}

/* The countdown of cache t ran out in malloc's fast path, `bytes` taken
 * off it: the allocation is sampled, or (the countdown's first draw, or
 * no profile) not. */
static __attribute__((noinline)) void *malloc_counted(size_t bytes, struct pm_tcache *t)
{
    /* a sampled block comes from the cache as any other: the arena would
     * cost a sample a thousand instructions more */
    size_t usable;
    void *mem = cache_take(bytes, &usable);
    if (mem == NULL)
        mem = malloc_unprofiled(bytes);
    if (countdown_out(t, bytes))
        pm_prof_record(mem, bytes);
    return mem;
}

static __attribute__((noinline)) void *malloc_slow(size_t bytes)
{
    if (PM_UNLIKELY(pm_prof_on))
        return malloc_profiled(bytes);
    return malloc_unprofiled(bytes);
}

/* A request for a size class, inlined into malloc.  An unaligned head,
 * a corrupt one, goes to the slow path, whose pop reports it: a report
 * here would call out of malloc and cost the small bins' path a stack
 * frame. */
static inline __attribute__((always_inline)) void *malloc_class(size_t bytes, struct pm_tcache *t)
{
    unsigned k = tcache_request_class(bytes);
    struct pm_tcache_entry *e = t->class_entries[k];
    if (PM_LIKELY(ptr_aligned(e))) {
        PM_PROF_TAKE_OR_GOTO(t->prof_left, bytes, counted);
        return pm_tcache_class_take(t, k, e);
    }
    return malloc_slow(bytes);
counted:
    return malloc_counted(bytes, t);
}

/* The fast path: a hit in the thread cache takes no lock and no call.  A
 * hit is taken off the cache's countdown, which runs out at the
 * profile's next sample, or without a profile at the idle return's next
 * look (about every 50 ms of a thread's hits). */
PM_EXPORT void *malloc(size_t bytes)
{
    struct pm_tcache *t = pm_tc;
    if (PM_LIKELY(bytes < pm_global.tcache_request_limit)) {
        size_t idx = pm_global.tcache_class[bytes];
        struct pm_tcache_entry *e = t->entries[idx];
        /* an empty bin's head (PM_TCACHE_END) is not aligned either */
        if (PM_LIKELY(ptr_aligned(e))) {
            PM_PROF_TAKE_OR_GOTO(t->prof_left, bytes, counted);
            return pm_tcache_pop(t, idx, e);
        }
    } else if (bytes < pm_global.tcache_big_request_limit) {
        return malloc_class(bytes, t);
    }
    return malloc_slow(bytes);
counted:
    return malloc_counted(bytes, t);
}

/* Under valgrind: tells memcheck the block is gone and, if memcheck
 * found the free invalid (it reports it), leaves the memory alone as its
 * own allocator would.  Otherwise enters the allocator's quiet zone. */
static bool vg_release(void *mem)
{
#if PM_VG_BUILT
    unsigned before = VALGRIND_COUNT_ERRORS;
    pm_vg_unblock(mem);
    if (VALGRIND_COUNT_ERRORS != before)
        return false;
#endif
    pm_vg_enter();
    (void)mem;
    return true;
}

/* Everything free does beyond a push onto the thread cache: checks,
 * double-free confirmation, spilling a full bin, and the arenas. */
static __attribute__((noinline)) void free_slow(void *mem)
{
    if (mem == NULL)
        return;
    pm_ensure_init();
    int saved_errno = errno;
    if (PM_UNLIKELY(pm_vg())) {
        if (!vg_release(mem))
            return;
    } else {
        pm_check_header_mapped(mem, "free(): invalid pointer (not mapped)");
    }
    mchunk *p = mem_chunk(mem);
    /* a sampled block leaves the profile; a marked size the profile does
     * not know is a corrupt one */
    if (PM_UNLIKELY(pm_prof_sampled(p)) && !pm_prof_release(p))
        pm_corruption(chunk_raw_wraps(p) ? "free(): invalid pointer" : "free(): invalid size", mem);
    size_t size = chunk_size(p);
    struct pm_tcache *t = pm_tcache_get();
    unsigned k;
    bool in_class = !chunk_is_mmapped(p) && pm_tcache_class_holds_size(size, &k);
    if (t != NULL) {
        pm_tcache_follow_limit(t);
    } else if ((size <= pm_global.tcache_chunk_limit && !chunk_is_mmapped(p)) || in_class) {
        /* A thread that only frees (a consumer) gets a cache too: its
         * frees then reach other threads' arenas in chains, half a bin
         * at a time, instead of one atomic push each. */
        t = pm_tcache_create();
    }
    if (t != NULL && size <= pm_global.tcache_chunk_limit && !chunk_is_mmapped(p)) {
        if (PM_UNLIKELY(!ptr_aligned(mem)))
            pm_corruption("free(): invalid pointer", mem);
        if (PM_UNLIKELY(size < PM_MINSIZE || !size_aligned(size)))
            pm_corruption("free(): invalid size", mem);
        struct pm_tcache_entry *e = mem;
        unsigned idx = tcache_index(size);
        if (chunk_held_free(p) && pm_tcache_holds(t, idx, e))
            pm_tcache_double_free(mem);
        if (pm_tcache_has_room(t, idx) || pm_tcache_bin_full(t, idx)) {
            pm_check_freed(p);
            pm_tcache_push(t, idx, e);
        } else {
            /* The spill frees mem into its arena, which checks it. */
            pm_tcache_spill(t, idx, mem);
        }
    } else if (t != NULL && in_class) {
        if (PM_UNLIKELY(!ptr_aligned(mem)))
            pm_corruption("free(): invalid pointer", mem);
        struct pm_tcache_entry *e = mem;
        if (chunk_held_free(p) && pm_tcache_class_has(t, k, e))
            pm_tcache_double_free(mem);
        pm_check_freed(p);
        pm_tcache_class_free(t, k, mem);
    } else if (pm_opt.hardened) {
        pm_hardened_free(mem);
    } else {
        pm_free_chunk(mem);
        debug_check();
    }
    /* After the free: an idle check gives chunks back and clears their
     * cache marks, which must not happen between the double-free test
     * and the push. */
    if (t != NULL)
        slow_call_done(t);
    pm_vg_leave();
    errno = saved_errno;
}

/* A free of a chunk in the size classes' range.  Inlined: like the small
 * bins' path it needs no stack frame (free stays a leaf that tail-calls
 * free_slow), and free's load of the size word serves it too (pair4k
 * 40.5 -> 39.0 instructions a call as a separate function).  A heap chunk
 * of exactly a class's size goes to the class (free sends one held free
 * already, its owner's bits set, to the slow path instead). */
static inline __attribute__((always_inline)) void free_class(void *mem, struct pm_tcache *t)
{
    struct pm_tcache_entry *e = mem;
    size_t raw = chunk_raw_size(mem_chunk(mem));
    /* A mapped chunk keeps its IS_MMAPPED bit in size, so the step test
     * below (bit 1 must be clear) sends it to the slow path: one test for
     * two, on the path every free of a class's chunk takes. */
    size_t size = raw & (PM_SIZE_MASK | PM_OWNER_BITS | PM_IS_MMAPPED);
    size_t step = size - PM_CHUNK_HDR;
    /* a class's size less the header is a multiple of 128, so bit 3 (never
     * set in a sound size) and the low bits must be clear; free sends
     * chunks with the owner's bits set elsewhere */
    if (!(step & 0x7f) && size_tag_matches(raw, size, chunk_key_at(mem))) {
        size_t k = pm_global.tcache_class_exact_by_step[step >> 7];
        if (pm_tcache_class_has_room(t, k)) {
            pm_tcache_class_push(t, k, e);
            return;
        }
    }
    free_slow(mem);
}

/* Jumps to `label` when bin idx of cache t is full.  On x86-64 the test is
 * written out as one compare of the counter in memory: compilers load it,
 * test it and later store the decrement from a register, one or two
 * instructions more on the path every free takes.  The counter is named
 * by its parts, not as a memory operand, or the compiler computes its
 * address into a register first (one more instruction); nothing in free
 * writes it before the test, so the compiler has no store to keep in
 * order with this read. */
#if defined(__x86_64__)
#define GOTO_UNLESS_ROOM(t, idx, label)                                                                               \
    __asm__ goto("cmpl $0, %c0(%1,%2,4)\n\tjle %l3"                                                             \
                 :                                                                                                 \
                 : "i"(offsetof(struct pm_tcache, room)), "r"(t), "r"(idx)                                         \
                 : "cc"                                                                                            \
                 : label)
#else
#define GOTO_UNLESS_ROOM(t, idx, label)                                                                               \
    do {                                                                                                           \
        if (!pm_tcache_has_room(t, idx))                                                                           \
            goto label;                                                                                            \
    } while (0)
#endif

/* The fast path: a small chunk goes onto the thread cache with no lock
 * and no call.  Anything unusual (a full bin, a chunk that looks cached
 * already, an odd size or pointer) takes the slow path, which checks. */
PM_EXPORT void free(void *mem)
{
    struct pm_tcache *t = pm_tc;
    /* A pointer outside every heap (NULL among them) goes straight to the
     * slow path, where the full checks catch a fake chunk; under memcheck
     * the range stays empty, so memcheck judges every pointer before
     * anything reads its header.  A thread without a cache has one whose
     * bins are all full. */
    if (PM_LIKELY(pm_in_heap_range(mem))) {
        struct pm_tcache_entry *e = mem;
        /* Rotating moves a size's bit 3 (a size that is not a multiple of
         * 16) to the top, so such sizes, like those below MINSIZE, give a
         * huge index and fail the one bound test; so does a chunk a cache
         * or fast bin holds already (its owner's bits are kept), whose
         * double free the slow path reports.  A size whose tag does not
         * match (an overflow rewrote it) is the slow path's to report. */
        size_t raw = chunk_raw_size(mem_chunk(mem));
        size_t size = raw & (PM_SIZE_MASK | PM_OWNER_BITS);
        size_t off = size - PM_MINSIZE;
        size_t idx = off >> 4 | off << (sizeof off * 8 - 4);
        if (PM_LIKELY(idx < pm_global.tcache_bins)) {
            GOTO_UNLESS_ROOM(t, idx, slow);
            /* the push mixes its link with the same key */
            if (PM_UNLIKELY(!size_tag_matches(raw, size, chunk_key_at(mem))))
                goto slow;
            pm_tcache_push(t, idx, e);
            return;
        }
        if (off - (PM_TCACHE_MAX_CHUNK + 1 - PM_MINSIZE) < pm_global.tcache_class_span) {
            free_class(mem, t);
            return;
        }
    }
slow:
    free_slow(mem);
}

/* Bytes of a chunk just cut from top that may hold old data: memory at or
 * above the arena's mark before the cut has never been written. */
static size_t dirty_prefix(struct pm_arena *a, mchunk *p, size_t usable)
{
    if (p != a->last_split)
        return usable;
    char *mem = chunk_mem(p);
    if (a->last_split_fresh <= mem)
        return 0;
    size_t dirty = (size_t)(a->last_split_fresh - mem);
    return dirty < usable ? dirty : usable;
}

static void *calloc_core(size_t count, size_t size)
{
    size_t bytes, nb;
    if (__builtin_mul_overflow(count, size, &bytes) || !request_size(bytes, &nb)) {
        errno = ENOMEM;
        return NULL;
    }
    /* A request a size class serves is cut to the class's size, as in
     * malloc, so the block joins the class when it is freed and the next
     * calloc of the class is a hit. */
    unsigned k;
    size_t class_nb;
    struct pm_tcache *t = pm_tcache_get();
    if (t != NULL && pm_tcache_class_for(bytes, nb, &k, &class_nb) && !mmap_allowed(class_nb)) {
        pm_tcache_class_missed(t, k);
        nb = class_nb;
    }
    if (mmap_allowed(nb)) {
        void *mem = pm_mmap_alloc(nb, 0);
        if (mem != NULL) {
            debug_check(); /* fresh mappings read as zero */
            return pm_new_block(mem);
        }
    }
    struct pm_arena *a = pm_arena_for_thread();
    pm_lock_arena(a);
    a->last_split = NULL;
    void *mem = pm_int_malloc(a, nb);
    size_t clear = 0;
    if (mem != NULL)
        clear = dirty_prefix(a, mem_chunk(mem), chunk_usable(mem_chunk(mem)));
    pm_unlock(&a->lock);
    if (mem == NULL) {
        mem = pm_alloc_chunk(nb);
        if (mem == NULL)
            return NULL;
        clear = chunk_usable(mem_chunk(mem));
        if (chunk_is_mmapped(mem_chunk(mem)))
            clear = 0;
    }
    memset(mem, 0, clear);
    debug_check();
    return pm_new_block(mem);
}

static void *calloc_cached(size_t bytes);

/* While profiling: calloc of count * size = `bytes`, sampled if `due`.
 * The block comes from the cache when it can, sampled or not. */
static void *calloc_sampled(size_t count, size_t size, size_t bytes, bool due)
{
    void *mem = calloc_cached(bytes);
    if (mem == NULL)
        mem = calloc_core(count, size);
    if (mem != NULL && due)
        pm_prof_record(mem, bytes);
    return mem;
}

static __attribute__((noinline)) void *calloc_slow(size_t count, size_t size)
{
    pm_ensure_init();
    if (PM_UNLIKELY(pm_prof_on)) {
        size_t bytes;
        if (__builtin_mul_overflow(count, size, &bytes))
            return calloc_core(count, size);
        return calloc_sampled(count, size, bytes, pm_prof_due(bytes));
    }
    if (PM_LIKELY(!pm_vg()))
        return calloc_core(count, size);
    pm_vg_enter();
    void *mem = calloc_core(count, size);
    pm_vg_leave();
    pm_vg_block(mem, count * size, true);
    return mem;
}

/* Clears the usable bytes of a cached chunk: 16 bytes at a time and then
 * the last 8 (a chunk's usable size is 8 more than a multiple of 16), in
 * plain stores: a small chunk would otherwise be cleared by a call to
 * memset or with `rep stos`, whose start-up costs more than the stores. */
static inline void *clear_usable(void *mem, size_t usable)
{
    if (usable > 512)
        return memset(mem, 0, usable);
    typedef uint64_t pair __attribute__((vector_size(16)));
    pair *p = mem;
    pair *end = (pair *)((char *)mem + usable - PM_SIZE_SZ);
    for (; p < end; p++) {
        *p = (pair){0, 0};
        /* keeps the compiler from turning the loop back into memset */
        __asm__("" : "+r"(p));
    }
    *(uint64_t *)end = 0;
    return mem;
}

/* While profiling: calloc's fast path on the cache's own limits; NULL on
 * a miss. */
static void *calloc_cached(size_t bytes)
{
    size_t usable;
    void *mem = cache_take(bytes, &usable);
    return mem != NULL ? clear_usable(mem, usable) : NULL;
}

/* A cached chunk of small bin idx has 16 (idx + 1) + 8 usable bytes:
 * calloc clears the first 8, then idx + 1 runs of 16 from offset 8.  One
 * jump into a run of stores at fixed offsets reaches the first store the
 * chunk needs, where a loop would count and test at every store (a
 * computed goto: a function holding one is never inlined, so the run is
 * in calloc itself).  Chunks above 512 usable bytes go to memset. */
#define CLEAR_SMALL_STORES 31
_Static_assert(PM_MINSIZE - PM_SIZE_SZ == 24 && PM_ALIGNMENT == 16, "bin idx has 16 (idx + 1) + 8 usable bytes");
_Static_assert(16 * CLEAR_SMALL_STORES + 8 <= 512 + 8, "the run of stores covers what memset does not");
static __attribute__((noinline)) void *clear_large(void *mem, size_t usable) { return memset(mem, 0, usable); }
/* Pops the unaligned, so corrupt, head of a cache list, which reports it:
 * out of line, reached by a jump, so calloc's own path needs no stack
 * frame. */
static __attribute__((noinline, cold)) void *pop_corrupt(struct pm_tcache *t, size_t idx, struct pm_tcache_entry *e)
{
    return pm_tcache_pop(t, idx, e);
}

/* The countdown of cache t ran out in calloc's fast path, `bytes` taken
 * off it. */
static __attribute__((noinline)) void *calloc_counted(size_t count, size_t size, size_t bytes, struct pm_tcache *t)
{
    return calloc_sampled(count, size, bytes, countdown_out(t, bytes));
}

/* The fast path: a hit in the thread cache, cleared whole (a cached chunk
 * may hold anything its last owner wrote, up to its usable size, which
 * malloc_usable_size reports and so must read as zero too).  A hit is
 * taken off the cache's countdown, as in malloc. */
PM_EXPORT void *calloc(size_t count, size_t size)
{
    size_t bytes;
    if (PM_UNLIKELY(__builtin_mul_overflow(count, size, &bytes)))
        return calloc_slow(count, size);
    struct pm_tcache *t = pm_tc;
    if (PM_LIKELY(bytes < pm_global.tcache_request_limit)) {
        size_t idx = pm_global.tcache_class[bytes];
        struct pm_tcache_entry *e = t->entries[idx];
        if (PM_LIKELY(ptr_aligned(e))) {
            static const void *const run[CLEAR_SMALL_STORES] = {
                &&at0, &&at1, &&at2, &&at3, &&at4, &&at5, &&at6, &&at7,
                &&at8, &&at9, &&at10, &&at11, &&at12, &&at13, &&at14, &&at15,
                &&at16, &&at17, &&at18, &&at19, &&at20, &&at21, &&at22, &&at23,
                &&at24, &&at25, &&at26, &&at27, &&at28, &&at29, &&at30};
            PM_PROF_TAKE_OR_GOTO(t->prof_left, bytes, counted);
            char *c = (char *)pm_tcache_pop(t, idx, e);
            if (idx >= CLEAR_SMALL_STORES)
                return clear_large(c, tcache_bin_size((unsigned)idx) - PM_SIZE_SZ);
            typedef uint64_t pair __attribute__((vector_size(16), aligned(8)));
            pair zero = {0, 0};
            __asm__("" : "+x"(zero)); /* one zeroed register for every store */
            *(uint64_t *)c = 0;
            goto *run[idx];
#define CLEAR_AT(i) (*(pair *)(c + 8 + 16 * (i)) = zero)
        at30: CLEAR_AT(30);
        at29: CLEAR_AT(29);
        at28: CLEAR_AT(28);
        at27: CLEAR_AT(27);
        at26: CLEAR_AT(26);
        at25: CLEAR_AT(25);
        at24: CLEAR_AT(24);
        at23: CLEAR_AT(23);
        at22: CLEAR_AT(22);
        at21: CLEAR_AT(21);
        at20: CLEAR_AT(20);
        at19: CLEAR_AT(19);
        at18: CLEAR_AT(18);
        at17: CLEAR_AT(17);
        at16: CLEAR_AT(16);
        at15: CLEAR_AT(15);
        at14: CLEAR_AT(14);
        at13: CLEAR_AT(13);
        at12: CLEAR_AT(12);
        at11: CLEAR_AT(11);
        at10: CLEAR_AT(10);
        at9: CLEAR_AT(9);
        at8: CLEAR_AT(8);
        at7: CLEAR_AT(7);
        at6: CLEAR_AT(6);
        at5: CLEAR_AT(5);
        at4: CLEAR_AT(4);
        at3: CLEAR_AT(3);
        at2: CLEAR_AT(2);
        at1: CLEAR_AT(1);
        at0: CLEAR_AT(0);
#undef CLEAR_AT
            return c;
        }
        if (PM_UNLIKELY(tcache_more(e)))
            return pop_corrupt(t, idx, e);
    } else if (bytes < pm_global.tcache_big_request_limit) {
        unsigned k = tcache_request_class(bytes);
        struct pm_tcache_entry *e = t->class_entries[k];
        if (PM_LIKELY(ptr_aligned(e))) {
            PM_PROF_TAKE_OR_GOTO(t->prof_left, bytes, counted);
            return clear_usable(pm_tcache_class_take(t, k, e), pm_global.tcache_class_bytes[k] - PM_SIZE_SZ);
        }
    }
    return calloc_slow(count, size);
counted:
    return calloc_counted(count, size, bytes, t);
}

/* Whether oldmem is a live heap block by the checks free's fast path
 * makes: the heap range holds it, its size tag is intact, and it is
 * neither held free (a cache, fast bin or remote list has it), sampled
 * nor mapped, nor free in a bin (the next chunk says so); *size is its
 * chunk's size.  Anything else takes realloc's full checks.  The next
 * header is read only off a page boundary: at one, the chunk may be top
 * (a block freed into it), whose end may be the end of what is mapped. */
static inline bool live_heap_block(void *oldmem, size_t *size)
{
    if (!pm_in_heap_range(oldmem))
        return false;
    mchunk *oldp = mem_chunk(oldmem);
    size_t raw = chunk_raw_size(oldp);
    *size = raw & PM_SIZE_MASK;
    mchunk *next = chunk_at(oldp, *size);
    return (raw & (PM_OWNER_BITS | PM_IS_MMAPPED)) == 0 && size_tag_matches(raw, *size, chunk_key_at(oldmem)) &&
           ((uintptr_t)next & (PM_MIN_PAGE_SIZE - 1)) != 0 && chunk_prev_inuse(next);
}

/* A live block that holds the new size, and would give back less than a
 * minimal chunk, stays as it is without the arena's lock.  The next
 * header's size tag is checked as well, so a forged neighbour stops a
 * block that stays as it stops one that moves.  (Keeping a block that
 * would give back less than half, as mimalloc and tcmalloc do, and
 * letting a block at the end of its heap take slack, cut realloc
 * growth's instructions by 45% but cost macro_large 20% more page
 * faults, 12% more peak RSS and 16% more time: the kept tails serve no
 * other block.) */
static inline bool stays_in_place(void *oldmem, size_t size, size_t nb)
{
    return nb <= size && size - nb < PM_MINSIZE && chunk_tag_ok(chunk_at(mem_chunk(oldmem), size));
}

/* A live block growing into top: the arena's part of realloc and no
 * more, its checks made by live_heap_block. */
static __attribute__((noinline)) void *grow_at_top(void *oldmem, size_t size, size_t nb)
{
    mchunk *oldp = mem_chunk(oldmem);
    struct pm_arena *a = pm_arena_of_freed(oldp);
    pm_lock_arena(a);
    void *mem = pm_realloc_at_top(a, oldp, size, nb);
    pm_unlock(&a->lock);
    if (mem != NULL)
        debug_check();
    return mem;
}

/* Under valgrind, and in the hardened mode, a block always moves, so
 * memcheck sees one block freed and another made, and the old block goes
 * through the quarantine with its checks. */
static void *moving_realloc(void *oldmem, size_t bytes)
{
    void *mem = malloc_slow(bytes);
    if (mem == NULL)
        return NULL;
    pm_vg_enter();
    mchunk *oldp = mem_chunk(oldmem);
    size_t old_usable = pm_opt.hardened ? pm_hardened_usable(oldp) : chunk_usable(oldp);
    memcpy(mem, oldmem, old_usable < bytes ? old_usable : bytes);
    pm_vg_leave();
    free_slow(oldmem);
    return mem;
}

static __attribute__((noinline)) void *realloc_slow(void *oldmem, size_t bytes)
{
    if (oldmem == NULL)
        return malloc(bytes);
    if (bytes == 0) {
        free(oldmem);
        return NULL;
    }
    pm_ensure_init();
    size_t nb;
    if (!request_size(bytes, &nb)) {
        errno = ENOMEM;
        return NULL;
    }
    if (!pm_vg())
        pm_check_header_mapped(oldmem, "realloc(): invalid pointer (not mapped)");
    if (PM_UNLIKELY(pm_vg() || pm_opt.hardened))
        return moving_realloc(oldmem, bytes);
    /* A resized block is a new allocation to the profile: the old one's
     * sample ends here (a failed realloc loses it, a small error) */
    mchunk *oldp = mem_chunk(oldmem);
    if (PM_UNLIKELY(pm_prof_sampled(oldp)) && !pm_prof_release(oldp))
        pm_corruption(chunk_raw_wraps(oldp) ? "realloc(): invalid pointer" : "realloc(): invalid old size", oldmem);
    void *mem = pm_resize_block(oldmem, bytes, nb);
    if (PM_UNLIKELY(pm_prof_on) && mem != NULL && pm_prof_due(bytes))
        pm_prof_record(mem, bytes);
    if (mem == NULL)
        errno = ENOMEM;
    debug_check();
    return mem;
}

/* A block that stays where it is, or grows into top, takes the checks
 * free's fast path takes: before start-up, and under memcheck, the heap
 * range is empty; the hardened mode and the profile take the whole way,
 * as does every other resize. */
PM_EXPORT void *realloc(void *oldmem, size_t bytes)
{
    size_t size;
    if (PM_LIKELY(bytes - 1 < PM_MAX_REQUEST && !pm_opt.hardened && !pm_prof_on &&
                  live_heap_block(oldmem, &size))) {
        size_t nb = request_to_size(bytes);
        if (stays_in_place(oldmem, size, nb))
            return oldmem;
        void *mem;
        if (nb > size && (mem = grow_at_top(oldmem, size, nb)) != NULL)
            return mem;
    }
    return realloc_slow(oldmem, bytes);
}

PM_EXPORT void *reallocarray(void *oldmem, size_t count, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(count, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(oldmem, bytes);
}

/* glibc's internal names: some programs, and parts of glibc itself, call
 * these directly; they must reach the same allocator. */
PM_EXPORT void *__libc_malloc(size_t bytes) PM_ALIAS(malloc);
PM_EXPORT void __libc_free(void *mem) PM_ALIAS(free);
PM_EXPORT void *__libc_calloc(size_t count, size_t size) PM_ALIAS(calloc);
PM_EXPORT void *__libc_realloc(void *mem, size_t bytes) PM_ALIAS(realloc);
PM_EXPORT void cfree(void *mem) PM_ALIAS(free);
