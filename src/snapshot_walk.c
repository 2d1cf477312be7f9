/* The heap walker: every arena with its heaps, every chunk of each heap
 * in address order with its state, every bin, the thread caches and the
 * mmapped chunks, written as one JSON snapshot (format documented in
 * doc/heapviz.md).
 *
 * Nothing read is trusted: each pointer is range-checked against the heaps
 * before it is followed, each loop is bounded, and a heap that cannot be
 * walked further gives a snapshot marked "partial" with the reason. */
#include "snapshot.h"

#include <string.h>

struct totals {
    uint64_t count[PM_ST_COUNT], bytes[PM_ST_COUNT];
    uint64_t largest_free;
    uint64_t system_mem, resident;
    /* resident bytes of the chunks in each state, of the heap records and
     * of the mapped chunks (format version 2) */
    uint64_t res[PM_ST_COUNT], res_meta, res_mapped;
    /* free chunks (bins and fast bins) by power-of-two size class */
    uint64_t class_count[48], class_bytes[48];
};

/* The old sampled-block bit lies below the alignment, so masking it off
 * is right for writers that never set it; the bits above any size (the
 * owner's and the size tag) are masked off the size too, and left out of
 * the flags shown. */
#define FLAG_BITS(w) \
    ((uint64_t)((w)->d.flag_prev_inuse | (w)->d.flag_mmapped | (w)->d.flag_non_main | PM_LAYOUT_SAMPLED_BIT_LOW))
#define SIZE_BITS(w) (FLAG_BITS(w) | PM_LAYOUT_HIGH_BITS)

static void class_add(struct totals *t, uint64_t size)
{
    unsigned c = 0;
    while (c < 47 && ((uint64_t)2 << c) <= size)
        c++;
    t->class_count[c]++;
    t->class_bytes[c] += size;
}

static void totals_add(struct totals *sum, const struct totals *t)
{
    for (unsigned i = 0; i < PM_ST_COUNT; i++) {
        sum->count[i] += t->count[i];
        sum->bytes[i] += t->bytes[i];
        sum->res[i] += t->res[i];
    }
    sum->res_meta += t->res_meta;
    sum->res_mapped += t->res_mapped;
    for (unsigned i = 0; i < 48; i++) {
        sum->class_count[i] += t->class_count[i];
        sum->class_bytes[i] += t->class_bytes[i];
    }
    if (t->largest_free > sum->largest_free)
        sum->largest_free = t->largest_free;
    sum->system_mem += t->system_mem;
    sum->resident += t->resident;
}

/* ---- chunks of one heap ---- */

static void emit_chunk(struct pm_snap_walker *w, uint64_t p, uint64_t off, uint64_t size, uint64_t raw,
                       unsigned state, uint32_t aux)
{
    pm_json_begin_obj(w->j);
    pm_json_kv_addr(w->j, "addr", p);
    pm_json_kv_u64(w->j, "off", off);
    pm_json_kv_u64(w->j, "size", size);
    pm_json_kv_u64(w->j, "flags", raw & FLAG_BITS(w));
    pm_json_kv_str(w->j, "state", pm_snap_state_name[state]);
    if (state == PM_ST_TCACHE)
        pm_json_kv_u64(w->j, "tid", aux);
    else if (state == PM_ST_FAST || state == PM_ST_STORE || state == PM_ST_SMALL || state == PM_ST_LARGE ||
             state == PM_ST_UNSORTED)
        pm_json_kv_u64(w->j, "bin", aux);
    pm_json_end_obj(w->j);
}

static void count_chunk(struct totals *t, unsigned state, uint64_t size)
{
    t->count[state]++;
    t->bytes[state] += size;
    if (state == PM_ST_FAST || state == PM_ST_STORE || state == PM_ST_SMALL || state == PM_ST_LARGE ||
        state == PM_ST_UNSORTED) {
        class_add(t, size);
        if (size > t->largest_free)
            t->largest_free = size;
    }
}

/* Which state a chunk is in, from its in-use bit and the lists. */
static unsigned classify(struct pm_snap_walker *w, uint64_t p, uint64_t size, bool free_now, uint32_t *aux)
{
    const struct pm_snap_entry *e = pm_snap_find(&w->lists, p);
    *aux = 0;
    if (free_now) {
        if (e != NULL && (e->state == PM_ST_UNSORTED || e->state == PM_ST_SMALL || e->state == PM_ST_LARGE)) {
            *aux = e->aux;
            return e->state;
        }
        if (!w->out_of_memory)
            pm_snap_problem(w, "free chunk is in no bin", p);
        (void)size;
        return PM_ST_FREE_LOST;
    }
    if (e != NULL && (e->state == PM_ST_FAST || e->state == PM_ST_STORE || e->state == PM_ST_REMOTE)) {
        *aux = e->aux;
        return e->state;
    }
    if (e != NULL)
        pm_snap_problem(w, "chunk in a bin is marked in use", p);
    e = pm_snap_find(&w->tcache, p);
    if (e != NULL) {
        *aux = e->aux;
        return PM_ST_TCACHE;
    }
    return PM_ST_INUSE;
}

static void walk_chunks(struct pm_snap_walker *w, uint64_t heap, uint64_t start, uint64_t end, bool newest,
                        uint64_t top, uint64_t non_main, struct totals *t)
{
    uint64_t hdr = w->d.chunk_hdr, p = start, bound = (end - start) / hdr + 2;
    bool prev_free = false;
    pm_json_key(w->j, "chunks");
    pm_json_begin_arr(w->j);
    while (bound-- > 0) {
        uint64_t raw, next_raw;
        if (p + hdr > end) {
            pm_snap_stop(w, "chunk walk ran past the end of its heap", p);
            break;
        }
        if (pm_snap_word(w, p + w->d.chunk_size, &raw) != 0) {
            pm_snap_stop(w, "cannot read a chunk header", p);
            break;
        }
        uint64_t size = raw & ~SIZE_BITS(w);
        bool prev_inuse = (raw & w->d.flag_prev_inuse) != 0;
        if (newest && p == top) {
            if (p + size != (end & ~(uint64_t)(w->d.alignment - 1)))
                pm_snap_problem(w, "top does not end at the end of its heap", p);
            if (!prev_inuse || prev_free)
                pm_snap_problem(w, "chunk before top is free", p);
            emit_chunk(w, p, p - heap, size, raw, PM_ST_TOP, 0);
            count_chunk(t, PM_ST_TOP, size);
            t->res[PM_ST_TOP] += pm_snap_resident_in(w, p, p + size);
            break;
        }
        if (size == hdr) {
            /* the fencepost pair that closes an older heap */
            if (newest)
                pm_snap_problem(w, "fencepost in the heap that holds top", p);
            emit_chunk(w, p, p - heap, w->d.fencepost_size, raw, PM_ST_FENCEPOST, 0);
            count_chunk(t, PM_ST_FENCEPOST, w->d.fencepost_size);
            t->res[PM_ST_FENCEPOST] += pm_snap_resident_in(w, p, p + w->d.fencepost_size);
            break;
        }
        if (size < w->d.min_size || (size & (w->d.alignment - 1)) != 0 || size > end - p) {
            pm_snap_stop(w, "impossible chunk size", p);
            break;
        }
        if (prev_inuse == prev_free)
            pm_snap_problem(w, "PREV_INUSE disagrees with the previous chunk", p);
        if ((raw & w->d.flag_non_main) != non_main)
            pm_snap_problem(w, "NON_MAIN_ARENA flag does not match the arena", p);
        if (raw & w->d.flag_mmapped)
            pm_snap_problem(w, "heap chunk marked IS_MMAPPED", p);
        uint64_t next = p + size;
        if (next + hdr > end || pm_snap_word(w, next + w->d.chunk_size, &next_raw) != 0) {
            pm_snap_stop(w, "chunk runs past the end of its heap", p);
            break;
        }
        bool free_now = (next_raw & w->d.flag_prev_inuse) == 0;
        if (free_now) {
            uint64_t foot;
            if (prev_free)
                pm_snap_problem(w, "two free chunks side by side", p);
            if (pm_snap_word(w, next + w->d.chunk_prev_size, &foot) == 0 && foot != size)
                pm_snap_problem(w, "free chunk's boundary tag does not match its size", p);
        }
        uint32_t aux;
        unsigned state = classify(w, p, size, free_now, &aux);
        emit_chunk(w, p, p - heap, size, raw, state, aux);
        count_chunk(t, state, size);
        t->res[state] += pm_snap_resident_in(w, p, p + size);
        prev_free = free_now;
        p = next;
    }
    pm_json_end_arr(w->j);
}

/* ---- arenas and heaps ---- */

struct arena_rec {
    uint64_t addr, heap, top, next, nheaps, system_mem, max_system_mem, attached, last_remainder;
    uint32_t flags, index;
};

static int read_arena(struct pm_snap_walker *w, uint64_t a, struct arena_rec *r)
{
    const struct pm_layout_desc *d = &w->d;
    memset(r, 0, sizeof *r);
    r->addr = a;
    if (pm_snap_word(w, a + d->arena_heap, &r->heap) || pm_snap_word(w, a + d->arena_top, &r->top) ||
        pm_snap_word(w, a + d->arena_next, &r->next) || pm_snap_word(w, a + d->arena_nheaps, &r->nheaps) ||
        pm_snap_word(w, a + d->arena_system_mem, &r->system_mem) ||
        pm_snap_word(w, a + d->arena_max_system_mem, &r->max_system_mem) ||
        pm_snap_word(w, a + d->arena_attached_threads, &r->attached) ||
        pm_snap_word(w, a + d->arena_last_remainder, &r->last_remainder) ||
        pm_snap_read(w, a + d->arena_flags, &r->flags, 4) || pm_snap_read(w, a + d->arena_index, &r->index, 4))
        return -1;
    return 0;
}

struct heap_rec {
    uint64_t addr, arena, prev, size, mprotect_size, reserved, chunks_start;
    uint32_t kind, magic;
};

static int read_heap(struct pm_snap_walker *w, uint64_t h, struct heap_rec *r)
{
    const struct pm_layout_desc *d = &w->d;
    r->addr = h;
    if (pm_snap_word(w, h + d->heap_arena, &r->arena) || pm_snap_word(w, h + d->heap_prev, &r->prev) ||
        pm_snap_word(w, h + d->heap_size, &r->size) ||
        pm_snap_word(w, h + d->heap_mprotect_size, &r->mprotect_size) ||
        pm_snap_word(w, h + d->heap_reserved, &r->reserved) ||
        pm_snap_word(w, h + d->heap_chunks_start, &r->chunks_start) ||
        pm_snap_read(w, h + d->heap_kind, &r->kind, 4) || pm_snap_read(w, h + d->heap_magic_off, &r->magic, 4))
        return -1;
    return 0;
}

static bool heap_sane(struct pm_snap_walker *w, const struct heap_rec *h, uint64_t arena)
{
    return h->magic == w->d.heap_magic && h->arena == arena && h->chunks_start >= h->addr + w->d.heap_sizeof &&
           h->chunks_start < h->addr + h->size && h->size <= ((uint64_t)1 << 46) && h->addr + h->size > h->addr;
}

static const char *heap_kind_name(uint32_t kind)
{
    return kind == 1 ? "brk" : kind == 2 ? "mmap" : kind == 3 ? "sub" : "unknown";
}

/* Follows an arena's heap chain (newest first), calling fn on each sane
 * heap; returns how many were visited. */
static size_t each_heap(struct pm_snap_walker *w, const struct arena_rec *a,
                        void (*fn)(struct pm_snap_walker *, const struct arena_rec *, const struct heap_rec *, void *),
                        void *arg)
{
    size_t n = 0, bound = a->nheaps < PM_SNAP_MAX_REGIONS ? a->nheaps + 1 : PM_SNAP_MAX_REGIONS;
    for (uint64_t h = a->heap; h != 0; n++) {
        struct heap_rec r;
        if (n >= bound) {
            pm_snap_stop(w, "heap list longer than the arena's count", h);
            break;
        }
        if (read_heap(w, h, &r) != 0 || !heap_sane(w, &r, a->addr)) {
            pm_snap_stop(w, "heap header corrupt or unreadable", h);
            break;
        }
        fn(w, a, &r, arg);
        h = r.prev;
    }
    return n;
}

static void add_region(struct pm_snap_walker *w, const struct arena_rec *a, const struct heap_rec *h, void *arg)
{
    (void)arg;
    if (w->nregions == w->regions_cap) {
        size_t cap = w->regions_cap ? 2 * w->regions_cap : 256;
        struct pm_snap_region *nr = w->src->alloc(w->src->ctx, cap * sizeof *nr);
        if (nr == NULL || cap > PM_SNAP_MAX_REGIONS) {
            pm_snap_stop(w, "too many heaps to track", h->addr);
            return;
        }
        if (w->nregions)
            memcpy(nr, w->regions, w->nregions * sizeof *nr);
        if (w->regions)
            w->src->free(w->src->ctx, w->regions, w->regions_cap * sizeof *nr);
        w->regions = nr;
        w->regions_cap = cap;
    }
    w->regions[w->nregions].lo = h->addr;
    w->regions[w->nregions].hi = h->addr + h->size;
    w->regions[w->nregions].arena = a->addr;
    w->nregions++;
}

static void lock_arena(struct pm_snap_walker *w, uint64_t a, bool on)
{
    if (w->src->lock)
        w->src->lock(w->src->ctx, PM_SNAP_LOCK_ARENA, a, on);
    if (on)
        pm_snap_cache_clear(w);
}

/* Arena addresses in list order, up to max; returns how many. */
static size_t list_arenas(struct pm_snap_walker *w, uint64_t *out, size_t max)
{
    uint64_t main = w->d.addr_main_arena, a = main;
    size_t n = 0;
    do {
        if (n == max) {
            pm_snap_stop(w, "arena list does not end (cycle or too many arenas)", a);
            break;
        }
        out[n++] = a;
        if (pm_snap_word(w, a + w->d.arena_next, &a) != 0 || a == 0) {
            pm_snap_stop(w, "arena list broken", out[n - 1]);
            break;
        }
        if (a != main) {
            /* a thread arena sits right after its first sub-heap's record */
            uint64_t h = a & ~(w->d.heap_max_size - 1), harena;
            if (pm_snap_word(w, h + w->d.heap_arena, &harena) != 0 || harena != a) {
                pm_snap_stop(w, "arena list holds a pointer that is not an arena", a);
                break;
            }
        }
    } while (a != main);
    return n;
}

struct heap_ctx {
    struct totals *t;
    uint64_t non_main;
};

static void emit_heap(struct pm_snap_walker *w, const struct arena_rec *a, const struct heap_rec *h, void *arg)
{
    struct heap_ctx *c = arg;
    pm_json_begin_obj(w->j);
    pm_json_kv_addr(w->j, "address", h->addr);
    pm_json_kv_str(w->j, "kind", heap_kind_name(h->kind));
    pm_json_kv_u64(w->j, "size", h->size);
    pm_json_kv_u64(w->j, "mprotect_size", h->mprotect_size);
    pm_json_kv_u64(w->j, "reserved", h->reserved);
    pm_json_kv_addr(w->j, "chunks_start", h->chunks_start);
    pm_json_kv_addr(w->j, "end", h->addr + h->size);
    pm_json_kv_bool(w->j, "newest", h->addr == a->heap);
    uint64_t committed = h->kind == 3 ? h->mprotect_size : h->size;
    c->t->resident += pm_snap_emit_residency(w, h->addr, h->addr + committed, true);
    /* the heap's record (and a thread arena's) is metadata; committed
     * pages past the heap's end are free space beyond top */
    c->t->res_meta += pm_snap_resident_in(w, h->addr, h->chunks_start);
    c->t->res[PM_ST_TOP] += pm_snap_resident_in(w, h->addr + h->size, h->addr + committed);
    walk_chunks(w, h->addr, h->chunks_start, h->addr + h->size, h->addr == a->heap, a->top, c->non_main, c->t);
    pm_json_end_obj(w->j);
}

static void emit_frag(struct pm_snap_walker *w, const struct totals *t, uint64_t mmapped_bytes)
{
    uint64_t free_bytes = t->bytes[PM_ST_FAST] + t->bytes[PM_ST_STORE] + t->bytes[PM_ST_SMALL] +
                          t->bytes[PM_ST_LARGE] + t->bytes[PM_ST_UNSORTED];
    pm_json_key(w->j, "frag");
    pm_json_begin_obj(w->j);
    pm_json_kv_u64(w->j, "inuse_bytes", t->bytes[PM_ST_INUSE]);
    pm_json_kv_u64(w->j, "inuse_count", t->count[PM_ST_INUSE]);
    pm_json_kv_u64(w->j, "free_bytes", free_bytes);
    pm_json_kv_u64(w->j, "free_count", t->count[PM_ST_FAST] + t->count[PM_ST_STORE] + t->count[PM_ST_SMALL] +
                                           t->count[PM_ST_LARGE] + t->count[PM_ST_UNSORTED]);
    pm_json_kv_u64(w->j, "fast_bytes", t->bytes[PM_ST_FAST]);
    pm_json_kv_u64(w->j, "store_bytes", t->bytes[PM_ST_STORE]);
    pm_json_kv_u64(w->j, "top_bytes", t->bytes[PM_ST_TOP]);
    pm_json_kv_u64(w->j, "tcache_bytes", t->bytes[PM_ST_TCACHE]);
    pm_json_kv_u64(w->j, "tcache_count", t->count[PM_ST_TCACHE]);
    pm_json_kv_u64(w->j, "remote_bytes", t->bytes[PM_ST_REMOTE]);
    pm_json_kv_u64(w->j, "unlisted_free_bytes", t->bytes[PM_ST_FREE_LOST]);
    pm_json_kv_u64(w->j, "largest_free", t->largest_free);
    pm_json_key(w->j, "external_fragmentation");
    pm_json_ratio(w->j, free_bytes ? free_bytes - t->largest_free : 0, free_bytes);
    pm_json_kv_u64(w->j, "system_bytes", t->system_mem);
    pm_json_kv_u64(w->j, "mmapped_bytes", mmapped_bytes);
    pm_json_kv_u64(w->j, "resident_bytes", t->resident);
    pm_json_key(w->j, "free_by_class");
    pm_json_begin_arr(w->j);
    for (unsigned c = 0; c < 48; c++) {
        if (t->class_count[c] == 0)
            continue;
        pm_json_begin_obj(w->j);
        pm_json_kv_u64(w->j, "from", (uint64_t)1 << c);
        pm_json_kv_u64(w->j, "to", ((uint64_t)2 << c) - 1);
        pm_json_kv_u64(w->j, "count", t->class_count[c]);
        pm_json_kv_u64(w->j, "bytes", t->class_bytes[c]);
        pm_json_end_obj(w->j);
    }
    pm_json_end_arr(w->j);
    pm_json_end_obj(w->j);
}

/* mallinfo2's fields for one arena, as stats.c computes them (it takes
 * the thread caches off the total, where this takes them off each
 * arena). */
static void emit_stats(struct pm_snap_walker *w, const struct arena_rec *a, const struct totals *t, bool is_main)
{
    /* stored chunks count with the fast ones, as stats.c counts them */
    uint64_t fast = t->bytes[PM_ST_FAST] + t->bytes[PM_ST_STORE];
    uint64_t bins =
        t->bytes[PM_ST_SMALL] + t->bytes[PM_ST_LARGE] + t->bytes[PM_ST_UNSORTED] + t->bytes[PM_ST_FREE_LOST];
    uint64_t top = t->bytes[PM_ST_TOP], avail = fast + bins + top;
    pm_json_key(w->j, "stats");
    pm_json_begin_obj(w->j);
    pm_json_kv_u64(w->j, "arena", a->system_mem);
    pm_json_kv_u64(w->j, "ordblks", t->count[PM_ST_SMALL] + t->count[PM_ST_LARGE] + t->count[PM_ST_UNSORTED] +
                                        t->count[PM_ST_FREE_LOST] + 1);
    pm_json_kv_u64(w->j, "smblks", t->count[PM_ST_FAST] + t->count[PM_ST_STORE]);
    pm_json_kv_u64(w->j, "fsmblks", fast);
    /* in use as everywhere (doc/heapviz.md): the chunks the program
     * holds, not those cached, waiting on the remote list, or records */
    pm_json_kv_u64(w->j, "uordblks", t->bytes[PM_ST_INUSE]);
    pm_json_kv_u64(w->j, "fordblks", avail);
    pm_json_kv_u64(w->j, "keepcost", is_main ? top : 0);
    pm_json_kv_u64(w->j, "max_system_mem", a->max_system_mem);
    pm_json_end_obj(w->j);
}

static void walk_arena(struct pm_snap_walker *w, uint64_t addr, unsigned nr, struct totals *sum)
{
    struct arena_rec a;
    struct totals t;
    memset(&t, 0, sizeof t);
    lock_arena(w, addr, true);
    if (read_arena(w, addr, &a) != 0) {
        lock_arena(w, addr, false);
        pm_snap_stop(w, "cannot read an arena", addr);
        return;
    }
    bool is_main = addr == w->d.addr_main_arena;
    pm_json_begin_obj(w->j);
    pm_json_kv_u64(w->j, "nr", nr);
    pm_json_kv_u64(w->j, "index", a.index);
    pm_json_kv_addr(w->j, "address", addr);
    pm_json_kv_bool(w->j, "main", is_main);
    pm_json_kv_u64(w->j, "flags", a.flags);
    pm_json_kv_u64(w->j, "attached_threads", a.attached);
    pm_json_kv_u64(w->j, "nheaps", a.nheaps);
    pm_json_kv_u64(w->j, "system_mem", a.system_mem);
    pm_json_kv_addr(w->j, "top", a.top);
    pm_json_kv_addr(w->j, "last_remainder", a.last_remainder);
    pm_snap_arena_lists(w, addr);
    struct heap_ctx c = {&t, is_main ? 0 : w->d.flag_non_main};
    pm_json_key(w->j, "heaps");
    pm_json_begin_arr(w->j);
    size_t nheaps = each_heap(w, &a, emit_heap, &c);
    pm_json_end_arr(w->j);
    if (nheaps != a.nheaps)
        pm_snap_problem(w, "arena's heap count disagrees with its heap list", addr);
    t.system_mem = a.system_mem;
    emit_stats(w, &a, &t, is_main);
    emit_frag(w, &t, 0);
    pm_json_end_obj(w->j);
    lock_arena(w, addr, false);
    totals_add(sum, &t);
}

/* ---- mmapped chunks ---- */

static void walk_mmapped(struct pm_snap_walker *w, struct totals *sum, uint64_t *mapped_total)
{
    const struct pm_snap_src *s = w->src;
    uint64_t head = w->d.addr_mmap_list, l, n = 0, count_hint;
    if (s->lock)
        s->lock(s->ctx, PM_SNAP_LOCK_MMAP, head, true);
    pm_snap_cache_clear(w);
    if (pm_snap_word(w, w->d.addr_global + w->d.global_n_mmaps, &count_hint) != 0)
        count_hint = 0;
    pm_json_key(w->j, "mmapped");
    pm_json_begin_arr(w->j);
    if (pm_snap_word(w, head + w->d.mlink_next, &l) != 0) {
        pm_snap_stop(w, "cannot read the mmapped-chunk list", head);
        l = head;
    }
    while (l != head) {
        uint64_t chunk, prev_size, raw, back;
        if (++n > count_hint + 1024) {
            pm_snap_stop(w, "mmapped-chunk list does not end (cycle)", head);
            break;
        }
        if ((l & (w->d.page_size - 1)) != 0 || pm_snap_word(w, l + w->d.mlink_chunk, &chunk) != 0 ||
            pm_snap_word(w, l + w->d.mlink_prev, &back) != 0 ||
            pm_snap_word(w, chunk + w->d.chunk_prev_size, &prev_size) != 0 ||
            pm_snap_word(w, chunk + w->d.chunk_size, &raw) != 0) {
            pm_snap_stop(w, "mmapped-chunk list holds an unreadable mapping", l);
            break;
        }
        uint64_t size = raw & ~SIZE_BITS(w), map_len = prev_size + size;
        if (chunk - prev_size != l || !(raw & w->d.flag_mmapped))
            pm_snap_problem(w, "mmapped chunk header does not match its mapping", l);
        pm_json_begin_obj(w->j);
        pm_json_kv_addr(w->j, "map", l);
        pm_json_kv_u64(w->j, "map_len", map_len);
        pm_json_kv_addr(w->j, "addr", chunk);
        pm_json_kv_u64(w->j, "size", size);
        pm_json_kv_u64(w->j, "flags", raw & FLAG_BITS(w));
        pm_json_kv_str(w->j, "state", "mmapped");
        uint64_t res = pm_snap_emit_residency(w, l, l + map_len, false);
        sum->resident += res;
        sum->res_mapped += res;
        pm_json_end_obj(w->j);
        sum->count[PM_ST_MMAPPED]++;
        sum->bytes[PM_ST_MMAPPED] += size;
        *mapped_total += map_len;
        if (pm_snap_word(w, l + w->d.mlink_next, &l) != 0) {
            pm_snap_stop(w, "cannot read the mmapped-chunk list", l);
            break;
        }
    }
    pm_json_end_arr(w->j);
    if (s->lock)
        s->lock(s->ctx, PM_SNAP_LOCK_MMAP, head, false);
}

/* ---- the whole snapshot ---- */

static void emit_totals(struct pm_snap_walker *w, const struct totals *sum, uint64_t mapped, size_t narenas)
{
    pm_json_key(w->j, "totals");
    pm_json_begin_obj(w->j);
    pm_json_kv_u64(w->j, "arenas", narenas);
    pm_json_kv_u64(w->j, "mmapped_count", sum->count[PM_ST_MMAPPED]);
    pm_json_kv_u64(w->j, "mmapped_chunk_bytes", sum->bytes[PM_ST_MMAPPED]);
    pm_json_kv_u64(w->j, "mmapped_overhead", mapped - sum->bytes[PM_ST_MMAPPED] + sum->count[PM_ST_MMAPPED] * w->d.chunk_hdr);
    pm_json_key(w->j, "chunks");
    pm_json_begin_obj(w->j);
    for (unsigned i = 0; i < PM_ST_COUNT; i++)
        pm_json_kv_u64(w->j, pm_snap_state_name[i], sum->count[i]);
    pm_json_end_obj(w->j);
    pm_json_end_obj(w->j);
    emit_frag(w, sum, mapped);
}

/* Format version 2: pmalloc's resident bytes by what holds them, the
 * parts of the PMALLOC_STATS report's "resident memory" (null when the
 * source cannot tell residency, as a core dump cannot). */
static void emit_resident(struct pm_snap_walker *w, const struct totals *t)
{
    pm_json_key(w->j, "resident");
    if (w->res_unknown) {
        pm_json_null(w->j);
        return;
    }
    pm_json_begin_obj(w->j);
    pm_json_kv_u64(w->j, "in_use", t->res[PM_ST_INUSE]);
    pm_json_kv_u64(w->j, "free_in_bins", t->res[PM_ST_FAST] + t->res[PM_ST_STORE] + t->res[PM_ST_SMALL] +
                                             t->res[PM_ST_LARGE] + t->res[PM_ST_UNSORTED] + t->res[PM_ST_FREE_LOST] +
                                             t->res[PM_ST_REMOTE]);
    pm_json_kv_u64(w->j, "top", t->res[PM_ST_TOP]);
    pm_json_kv_u64(w->j, "thread_caches", t->res[PM_ST_TCACHE]);
    pm_json_kv_u64(w->j, "mapped_chunks", t->res_mapped);
    pm_json_kv_u64(w->j, "metadata", t->res_meta + t->res[PM_ST_FENCEPOST]);
    pm_json_end_obj(w->j);
}

int pm_snap_walk(const struct pm_snap_src *src, struct pm_json *out, const char **why)
{
    static const char *const no_scratch = "cannot get scratch memory for the walk";
    struct pm_snap_walker w;
    memset(&w, 0, sizeof w);
    w.src = src;
    w.j = out;
    /* a version-2 descriptor ends where the class members begin: read
     * that much first, the rest only when the descriptor says it has it */
    if (src->read(src->ctx, src->layout_addr, &w.d, PM_LAYOUT_V2_SIZE) != 0) {
        *why = "cannot read the pmalloc layout descriptor";
        return -1;
    }
    size_t desc_len = w.d.version >= 6   ? sizeof w.d
                      : w.d.version >= 5 ? PM_LAYOUT_V5_SIZE
                      : w.d.version >= 4 ? PM_LAYOUT_V4_SIZE
                                         : PM_LAYOUT_V3_SIZE;
    if (w.d.version >= 3 && w.d.desc_size >= desc_len &&
        src->read(src->ctx, src->layout_addr + PM_LAYOUT_V2_SIZE, (char *)&w.d + PM_LAYOUT_V2_SIZE,
                  desc_len - PM_LAYOUT_V2_SIZE) != 0) {
        *why = "cannot read the pmalloc layout descriptor";
        return -1;
    }
    if ((*why = pm_snap_check_desc(&w.d)) != NULL)
        return -1;
    w.cache = src->alloc(src->ctx, sizeof(*w.cache) * PM_SNAP_CACHE_BLOCKS);
    if (w.cache == NULL) {
        *why = no_scratch;
        return -1;
    }
    uint64_t *arenas = src->alloc(src->ctx, PM_SNAP_MAX_ARENAS * sizeof *arenas);
    if (arenas == NULL) {
        src->free(src->ctx, w.cache, sizeof(*w.cache) * PM_SNAP_CACHE_BLOCKS);
        *why = no_scratch;
        return -1;
    }

    pm_json_begin_obj(out);
    pm_snap_emit_header(&w);
    pm_snap_emit_options(&w);
    pm_snap_emit_global(&w);

    /* First every heap's extent, so every pointer met later can be
     * checked against them. */
    size_t narenas = list_arenas(&w, arenas, PM_SNAP_MAX_ARENAS);
    for (size_t i = 0; i < narenas; i++) {
        struct arena_rec a;
        lock_arena(&w, arenas[i], true);
        if (read_arena(&w, arenas[i], &a) == 0)
            each_heap(&w, &a, add_region, NULL);
        lock_arena(&w, arenas[i], false);
    }
    pm_snap_tcaches(&w);

    struct totals sum;
    uint64_t mapped = 0;
    memset(&sum, 0, sizeof sum);
    pm_json_key(out, "arenas");
    pm_json_begin_arr(out);
    for (size_t i = 0; i < narenas; i++)
        walk_arena(&w, arenas[i], (unsigned)i, &sum);
    pm_json_end_arr(out);
    walk_mmapped(&w, &sum, &mapped);
    pm_snap_profile(&w);

    if (src->describe_process) {
        uint64_t ranges[2 * 64];
        size_t nr = 0;
        for (size_t i = 0; i < w.nregions && nr < 64; i++, nr++) {
            ranges[2 * nr] = w.regions[i].lo;
            ranges[2 * nr + 1] = w.regions[i].hi;
        }
        src->describe_process(src->ctx, out, ranges, nr);
    }
    emit_totals(&w, &sum, mapped, narenas);

    pm_json_key(out, "problems");
    pm_json_begin_arr(out);
    for (size_t i = 0; i < w.nproblems; i++) {
        pm_json_begin_obj(out);
        pm_json_kv_str(out, "what", w.problems[i].what);
        pm_json_kv_addr(out, "addr", w.problems[i].addr);
        pm_json_end_obj(out);
    }
    pm_json_end_arr(out);
    pm_json_kv_u64(out, "problems_dropped", w.problems_dropped);
    pm_json_kv_bool(out, "partial", w.partial);
    pm_json_key(out, "partial_reason");
    if (w.partial)
        pm_json_str(out, w.partial_reason);
    else
        pm_json_null(out);
    emit_resident(&w, &sum);
    pm_json_end_obj(out);

    pm_snap_vec_free(&w, &w.lists);
    if (w.res_vec)
        src->free(src->ctx, w.res_vec, (size_t)w.res_cap);
    pm_snap_vec_free(&w, &w.tcache);
    if (w.regions)
        src->free(src->ctx, w.regions, w.regions_cap * sizeof *w.regions);
    src->free(src->ctx, arenas, PM_SNAP_MAX_ARENAS * sizeof *arenas);
    src->free(src->ctx, w.cache, sizeof(*w.cache) * PM_SNAP_CACHE_BLOCKS);
    if (pm_json_finish(out) != 0) {
        *why = "writing the snapshot failed";
        return -1;
    }
    *why = NULL;
    return 0;
}
