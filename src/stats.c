/* Heap statistics: mallinfo2, mallinfo, malloc_stats and malloc_info.
 *
 * Each arena is read under its own lock into a local summary, and the lock
 * is dropped before anything is printed: output routines may allocate (or,
 * for write(2), block), and the allocator must never be re-entered while
 * one of its locks is held.  The bins are read with the one bin walker
 * (bins.h), whose walks are bounded, so a corrupted list stops the program
 * with a report instead of looping forever. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bins.h"
#include "compiler.h"
#include "core.h"
#include "heap.h"
#include "emit.h"
#include "init.h"
#include "log.h"
#include "memcheck.h"
#include "mmap_chunk.h"
#include "tcache.h"

/* Free chunks of one fast bin or bin. */
struct bin_stat {
    size_t from;   /* smallest chunk size */
    size_t to;     /* largest chunk size */
    size_t total;  /* bytes */
    size_t count;
};

/* Slots of the per-bin table: the fast bins first, then bins 1..127 (so
 * the unsorted bin sits at PM_NFASTBINS). */
#define STAT_SLOTS (PM_NFASTBINS + PM_NBINS - 1)
#define UNSORTED_SLOT PM_NFASTBINS
static inline size_t bin_slot(unsigned bin) { return PM_NFASTBINS + bin - 1; }

struct arena_stat {
    size_t system_mem;
    size_t max_system_mem;
    /* chunks held whole: in fast bins and, counted with them in glibc's
     * "fast" kind, in the class stores (bins.h) */
    size_t fast_count, fast_bytes;
    size_t bin_count, bin_bytes;     /* chunks in bins 1..127 */
    size_t top_size;
    size_t metadata;                 /* heap records, fenceposts */
    size_t aspace_total;             /* address space of the sub-heaps */
    size_t aspace_mprotect;
    size_t subheaps;
};

/* The messages name the public function's internal, as glibc's do, so a
 * crash report reads the same whichever allocator produced it. */
struct walk_messages {
    const char *unaligned_fast;
    const char *broken_fast;
    const char *outside_fast;
    const char *broken_bin;
};

static const struct walk_messages mallinfo_messages = {
    "int_mallinfo(): unaligned fastbin chunk detected",
    "int_mallinfo(): fastbin list is longer than the arena allows",
    "int_mallinfo(): fastbin chunk outside the arena's heaps",
    "int_mallinfo(): corrupted bin list",
};

static const struct walk_messages malloc_info_messages = {
    "__malloc_info(): unaligned fastbin chunk detected",
    "__malloc_info(): fastbin list is longer than the arena allows",
    "__malloc_info(): fastbin chunk outside the arena's heaps",
    "__malloc_info(): corrupted bin list",
};

static void bin_stat_add(struct bin_stat *s, size_t size)
{
    if (s->count == 0 || size < s->from)
        s->from = size;
    if (size > s->to)
        s->to = size;
    s->total += size;
    s->count++;
}

struct gather {
    struct arena_stat *st;
    struct bin_stat *slots;
    const struct walk_messages *msg;
};

static bool gather_chunk(void *ctx, enum pm_bins_list list, unsigned idx, mchunk *p)
{
    struct gather *g = ctx;
    size_t size = chunk_size(p);
    bool fast = list != PM_LIST_BIN;
    if (fast) {
        g->st->fast_count++;
        g->st->fast_bytes += size;
    } else {
        g->st->bin_count++;
        g->st->bin_bytes += size;
    }
    if (g->slots != NULL)
        bin_stat_add(&g->slots[list == PM_LIST_FAST    ? idx
                               : list == PM_LIST_STORE ? bin_slot(bin_index(size))
                                                       : bin_slot(idx)],
                     size);
    return true;
}

static void gather_problem(void *ctx, enum pm_bins_problem what, const void *where)
{
    const struct walk_messages *msg = ((struct gather *)ctx)->msg;
    switch (what) {
    case PM_BINS_FAST_UNALIGNED:
        pm_corruption(msg->unaligned_fast, where);
    case PM_BINS_FAST_OUTSIDE:
        pm_corruption(msg->outside_fast, where);
    case PM_BINS_FAST_CYCLE:
        pm_corruption(msg->broken_fast, where);
    default:
        pm_corruption(msg->broken_bin, where);
    }
}

/* Reads one arena; its lock must be held.  `slots` (STAT_SLOTS entries)
 * may be NULL when the per-bin detail is not wanted. */
static void gather_arena(struct pm_arena *a, struct arena_stat *st, struct bin_stat *slots,
                         const struct walk_messages *msg)
{
    pm_vg_enter();
    memset(st, 0, sizeof *st);
    if (slots != NULL)
        memset(slots, 0, STAT_SLOTS * sizeof *slots);
    st->system_mem = a->system_mem;
    st->max_system_mem = a->max_system_mem;
    st->top_size = a->top != NULL ? chunk_size(a->top) : 0;
    st->metadata = pm_arena_metadata_bytes(a);

    struct gather g = {st, slots, msg};
    const struct pm_bins_visitor v = {gather_chunk, gather_problem, &g, false, 0, NULL};
    pm_bins_walk(a, &v);

    if (a == &pm_main_arena) {
        /* the main arena is one region (the break) as far as the model's
         * report goes: its address space is what it holds */
        st->aspace_total = a->system_mem;
        st->aspace_mprotect = a->system_mem;
    } else {
        size_t steps = 0;
        for (struct pm_heap *h = a->heap; h != NULL && steps <= a->nheaps; h = h->prev, steps++) {
            st->aspace_total += h->size;
            st->aspace_mprotect += h->mprotect_size;
        }
        st->subheaps = a->nheaps;
    }
    pm_vg_leave();
}

/* The next arena after a in the circular list, or NULL at the end. */
static struct pm_arena *following_arena(struct pm_arena *a)
{
    struct pm_arena *next = arena_next(a);
    return next == &pm_main_arena ? NULL : next;
}

static size_t arena_free_bytes(const struct arena_stat *st)
{
    return st->fast_bytes + st->bin_bytes + st->top_size;
}

/* In use (doc/heapviz.md): the chunks the program holds.  An arena's
 * bytes less its free chunks, top and records; chunks parked in thread
 * caches are taken off the total (they are cached by threads, not
 * arenas), and the remote list is drained before an arena is read. */
static size_t arena_used_bytes(const struct arena_stat *st)
{
    size_t avail = arena_free_bytes(st) + st->metadata;
    return st->system_mem > avail ? st->system_mem - avail : 0;
}

static size_t load_global(size_t *field) { return __atomic_load_n(field, __ATOMIC_RELAXED); }

PM_EXPORT struct mallinfo2 mallinfo2(void)
{
    pm_ensure_init();
    struct mallinfo2 mi;
    memset(&mi, 0, sizeof mi);
    for (struct pm_arena *a = &pm_main_arena; a != NULL; a = following_arena(a)) {
        struct arena_stat st;
        pm_lock_arena(a);
        gather_arena(a, &st, NULL, &mallinfo_messages);
        pm_unlock(&a->lock);

        mi.arena += st.system_mem;
        mi.ordblks += st.bin_count + 1; /* the top chunk counts as one */
        mi.smblks += st.fast_count;
        mi.fsmblks += st.fast_bytes;
        mi.fordblks += arena_free_bytes(&st);
        mi.uordblks += arena_used_bytes(&st);
        if (a == &pm_main_arena)
            mi.keepcost = st.top_size;
    }
    /* fordblks keeps glibc's meaning (free chunks and top, as
     * malloc_info lists them), so arena = uordblks + fordblks + the
     * cached chunks + the records */
    size_t cached = pm_tcache_bytes();
    mi.uordblks = mi.uordblks > cached ? mi.uordblks - cached : 0;
    mi.hblks = load_global(&pm_global.n_mmaps);
    mi.hblkhd = load_global(&pm_global.mmapped_mem);
    mi.usmblks = 0;
    return mi;
}

/* The old interface's int fields saturate instead of wrapping, so a big
 * heap reads as "at least 2 GiB" rather than as a negative number. */
static int clamp_int(size_t v) { return v > (size_t)INT_MAX ? INT_MAX : (int)v; }

/* The body has its own name because <malloc.h> marks mallinfo deprecated,
 * and naming it as an alias target would trip -Werror. */
static struct mallinfo pm_mallinfo(void)
{
    struct mallinfo2 wide = mallinfo2();
    struct mallinfo mi;
    mi.arena = clamp_int(wide.arena);
    mi.ordblks = clamp_int(wide.ordblks);
    mi.smblks = clamp_int(wide.smblks);
    mi.hblks = clamp_int(wide.hblks);
    mi.hblkhd = clamp_int(wide.hblkhd);
    mi.usmblks = clamp_int(wide.usmblks);
    mi.fsmblks = clamp_int(wide.fsmblks);
    mi.uordblks = clamp_int(wide.uordblks);
    mi.fordblks = clamp_int(wide.fordblks);
    mi.keepcost = clamp_int(wide.keepcost);
    return mi;
}

PM_EXPORT struct mallinfo mallinfo(void) PM_ALIAS(pm_mallinfo);
PM_EXPORT struct mallinfo __libc_mallinfo(void) PM_ALIAS(pm_mallinfo);

/* glibc's layout, but with full 64-bit numbers: its %10u wraps at 4 GiB. */
static void stats_print(int fd)
{
    /* write(2) is a cancellation point; malloc_stats must not be one
     * (a cancelled thread would leave the report half written). */
    int old_cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old_cancel_state);
    int saved_errno = errno;

    struct pm_emit e;
    pm_emit_init(&e, PM_EMIT_TEXT, pm_flush_to_fd, &fd);
    uint64_t mmapped = load_global(&pm_global.mmapped_mem);
    uint64_t system_total = mmapped, in_use_total = mmapped;
    unsigned n = 0;
    for (struct pm_arena *a = &pm_main_arena; a != NULL; a = following_arena(a), n++) {
        struct arena_stat st;
        pm_lock_arena(a);
        gather_arena(a, &st, NULL, &mallinfo_messages);
        pm_unlock(&a->lock);

        struct pm_buf title = {.len = 0};
        pm_buf_str(&title, "Arena ");
        pm_buf_dec(&title, n);
        pm_buf_str(&title, ":");
        title.text[title.len < sizeof title.text ? title.len : sizeof title.text - 1] = 0;
        pm_emit_begin(&e, "arena", title.text);
        pm_emit_u64(&e, "system_bytes", "system bytes", st.system_mem);
        pm_emit_u64(&e, "in_use_bytes", "in use bytes", arena_used_bytes(&st));
        pm_emit_end(&e);
        system_total += st.system_mem;
        in_use_total += arena_used_bytes(&st);
    }

    /* the thread caches' chunks belong to no arena's line, but are not
     * in use */
    size_t cached = pm_tcache_bytes();
    in_use_total = in_use_total > cached ? in_use_total - cached : 0;
    pm_emit_begin(&e, "total", "Total (incl. mmap):");
    pm_emit_u64(&e, "system_bytes", "system bytes", system_total);
    pm_emit_u64(&e, "in_use_bytes", "in use bytes", in_use_total);
    pm_emit_u64(&e, "max_mmap_regions", "max mmap regions", load_global(&pm_global.n_mmaps_max));
    pm_emit_u64(&e, "max_mmap_bytes", "max mmap bytes", load_global(&pm_global.max_mmapped_mem));
    /* Only where one is in force, so the lines glibc prints stay alone. */
    size_t soft = load_global(&pm_global.limit_soft), hard = load_global(&pm_global.limit_hard);
    if (soft != 0)
        pm_emit_u64(&e, "memory_limit", "memory limit", soft);
    if (hard != 0)
        pm_emit_u64(&e, "memory_limit_hard", "hard memory limit", hard);
    pm_emit_end(&e);
    pm_emit_finish(&e);

    errno = saved_errno;
    pthread_setcancelstate(old_cancel_state, NULL);
}

PM_EXPORT void malloc_stats(void)
{
    pm_ensure_init();
    stats_print(STDERR_FILENO);
}



/* Running totals over every arena, for the closing elements. */
struct info_totals {
    size_t fast_count, fast_bytes;
    size_t rest_count, rest_bytes;
    size_t system, max_system;
    size_t aspace, aspace_mprotect;
};

/* One element of glibc's kinds: <NAME type="TYPE" [count="C"] size="S"/>. */
static void info_typed(struct pm_emit *e, const char *name, const char *type, const size_t *count, size_t size)
{
    pm_emit_begin(e, name, NULL);
    pm_emit_str(e, "type", NULL, type);
    if (count != NULL)
        pm_emit_u64(e, "count", NULL, *count);
    pm_emit_u64(e, "size", NULL, size);
    pm_emit_end(e);
}

static void info_bin(struct pm_emit *e, const char *name, const struct bin_stat *b)
{
    pm_emit_begin(e, name, NULL);
    pm_emit_u64(e, "from", NULL, b->from);
    pm_emit_u64(e, "to", NULL, b->to);
    pm_emit_u64(e, "total", NULL, b->total);
    pm_emit_u64(e, "count", NULL, b->count);
    pm_emit_end(e);
}

static void print_arena_info(struct pm_emit *e, unsigned nr, bool is_main, const struct arena_stat *st,
                             const struct bin_stat *slots)
{
    pm_emit_begin(e, "heap", NULL);
    pm_emit_u64(e, "nr", NULL, nr);
    pm_emit_begin_list(e, "sizes");
    for (size_t i = 0; i < STAT_SLOTS; i++)
        if (i != UNSORTED_SLOT && slots[i].count != 0)
            info_bin(e, "size", &slots[i]);
    if (slots[UNSORTED_SLOT].count != 0)
        info_bin(e, "unsorted", &slots[UNSORTED_SLOT]);
    pm_emit_end_list(e);
    /* "rest" counts the top chunk as one free block, as glibc does */
    size_t rest_count = st->bin_count + 1;
    info_typed(e, "total", "fast", &st->fast_count, st->fast_bytes);
    info_typed(e, "total", "rest", &rest_count, st->bin_bytes + st->top_size);
    info_typed(e, "system", "current", NULL, st->system_mem);
    info_typed(e, "system", "max", NULL, st->max_system_mem);
    info_typed(e, "aspace", "total", NULL, st->aspace_total);
    info_typed(e, "aspace", "mprotect", NULL, st->aspace_mprotect);
    if (!is_main)
        info_typed(e, "aspace", "subheaps", NULL, st->subheaps);
    pm_emit_end(e);
}

static int flush_to_file(void *ctx, const char *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len ? 0 : -1;
}

PM_EXPORT int malloc_info(int options, FILE *fp)
{
    pm_ensure_init();
    /* No options are defined; refusing them keeps room for future ones. */
    if (options != 0) {
        errno = EINVAL;
        return -1;
    }

    /* Filled under one arena's lock at a time, written after unlocking:
     * fwrite may call malloc. */
    struct bin_stat slots[STAT_SLOTS];
    struct info_totals t;
    memset(&t, 0, sizeof t);

    struct pm_emit e;
    pm_emit_init(&e, PM_EMIT_XML, flush_to_file, fp);
    pm_emit_begin(&e, "malloc", NULL);
    pm_emit_u64(&e, "version", NULL, 1);
    unsigned nr = 0;
    for (struct pm_arena *a = &pm_main_arena; a != NULL; a = following_arena(a), nr++) {
        struct arena_stat st;
        pm_lock(&a->lock);
        gather_arena(a, &st, slots, &malloc_info_messages);
        pm_unlock(&a->lock);

        print_arena_info(&e, nr, a == &pm_main_arena, &st, slots);
        t.fast_count += st.fast_count;
        t.fast_bytes += st.fast_bytes;
        t.rest_count += st.bin_count + 1;
        t.rest_bytes += st.bin_bytes + st.top_size;
        t.system += st.system_mem;
        t.max_system += st.max_system_mem;
        t.aspace += st.aspace_total;
        t.aspace_mprotect += st.aspace_mprotect;
    }
    size_t n_mmaps = load_global(&pm_global.n_mmaps);
    info_typed(&e, "total", "fast", &t.fast_count, t.fast_bytes);
    info_typed(&e, "total", "rest", &t.rest_count, t.rest_bytes);
    info_typed(&e, "total", "mmap", &n_mmaps, load_global(&pm_global.mmapped_mem));
    info_typed(&e, "system", "current", NULL, t.system);
    info_typed(&e, "system", "max", NULL, t.max_system);
    info_typed(&e, "aspace", "total", NULL, t.aspace);
    info_typed(&e, "aspace", "mprotect", NULL, t.aspace_mprotect);
    size_t soft = load_global(&pm_global.limit_soft), hard = load_global(&pm_global.limit_hard);
    if (soft != 0)
        info_typed(&e, "limit", "soft", NULL, soft);
    if (hard != 0)
        info_typed(&e, "limit", "hard", NULL, hard);
    pm_emit_end(&e);
    return pm_emit_finish(&e) == 0 ? 0 : -1;
}
