/* The heap walker's reading side: a page cache over the memory source,
 * the record of problems found, and the free lists (fast bins, class
 * stores, bins, remote frees, thread caches), each followed with a bound on its length
 * and a range check on every pointer before it is read. */
#include "snapshot.h"

#include <string.h>

const char *const pm_snap_state_name[PM_ST_COUNT] = {
    [PM_ST_INUSE] = "inuse",       [PM_ST_FAST] = "fast",      [PM_ST_UNSORTED] = "unsorted",
    [PM_ST_SMALL] = "small",       [PM_ST_LARGE] = "large",    [PM_ST_TCACHE] = "tcache",
    [PM_ST_REMOTE] = "remote",     [PM_ST_TOP] = "top",        [PM_ST_FENCEPOST] = "fencepost",
    [PM_ST_FREE_LOST] = "free-unlisted", [PM_ST_MMAPPED] = "mmapped", [PM_ST_STORE] = "store",
};

/* ---- reading ---- */

void pm_snap_cache_clear(struct pm_snap_walker *w)
{
    memset(w->cache_tag, 0, sizeof w->cache_tag);
}

static const unsigned char *cached_page(struct pm_snap_walker *w, uint64_t page)
{
    if (w->cache == NULL)
        return NULL;
    unsigned slot = (unsigned)((page / PM_SNAP_CACHE_BLOCK) % PM_SNAP_CACHE_BLOCKS);
    if (w->cache_tag[slot] == page + 1)
        return w->cache[slot];
    if (w->src->read(w->src->ctx, page, w->cache[slot], PM_SNAP_CACHE_BLOCK) != 0) {
        w->cache_tag[slot] = 0;
        return NULL;
    }
    w->cache_tag[slot] = page + 1;
    return w->cache[slot];
}

int pm_snap_read(struct pm_snap_walker *w, uint64_t addr, void *dst, size_t len)
{
    unsigned char *out = dst;
    if (addr + len < addr)
        return -1;
    while (len > 0) {
        uint64_t page = addr & ~(uint64_t)(PM_SNAP_CACHE_BLOCK - 1);
        size_t in_page = PM_SNAP_CACHE_BLOCK - (size_t)(addr - page);
        size_t take = len < in_page ? len : in_page;
        const unsigned char *p = cached_page(w, page);
        if (p != NULL)
            memcpy(out, p + (addr - page), take);
        else if (w->src->read(w->src->ctx, addr, out, take) != 0)
            return -1;
        out += take;
        addr += take;
        len -= take;
    }
    return 0;
}

int pm_snap_word(struct pm_snap_walker *w, uint64_t addr, uint64_t *out)
{
    *out = 0;
    return pm_snap_read(w, addr, out, sizeof *out);
}

void pm_snap_problem(struct pm_snap_walker *w, const char *what, uint64_t addr)
{
    if (w->nproblems == PM_SNAP_MAX_PROBLEMS) {
        w->problems_dropped++;
        return;
    }
    w->problems[w->nproblems].what = what;
    w->problems[w->nproblems].addr = addr;
    w->nproblems++;
}

void pm_snap_stop(struct pm_snap_walker *w, const char *why, uint64_t addr)
{
    pm_snap_problem(w, why, addr);
    if (!w->partial) {
        w->partial = true;
        w->partial_reason = why;
    }
}

/* ---- vectors of list entries (scratch memory from the source) ---- */

static bool snap_push(struct pm_snap_walker *w, struct pm_snap_vec *v, uint64_t addr, uint32_t state, uint32_t aux)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 4096;
        struct pm_snap_entry *nv = w->src->alloc(w->src->ctx, cap * sizeof *nv);
        if (nv == NULL) {
            if (!w->out_of_memory)
                pm_snap_stop(w, "out of scratch memory: some list chunks are not classified", addr);
            w->out_of_memory = true;
            return false;
        }
        if (v->n)
            memcpy(nv, v->v, v->n * sizeof *nv);
        if (v->v)
            w->src->free(w->src->ctx, v->v, v->cap * sizeof *nv);
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n].addr = addr;
    v->v[v->n].state = state;
    v->v[v->n].aux = aux;
    v->n++;
    return true;
}

void pm_snap_vec_free(struct pm_snap_walker *w, struct pm_snap_vec *v)
{
    if (v->v)
        w->src->free(w->src->ctx, v->v, v->cap * sizeof *v->v);
    v->v = NULL;
    v->n = v->cap = 0;
}

static void sift(struct pm_snap_entry *a, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && a[child + 1].addr > a[child].addr)
            child++;
        if (a[root].addr >= a[child].addr)
            return;
        struct pm_snap_entry t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

/* Heapsort: in place, no recursion, no allocation. */
static void snap_sort(struct pm_snap_vec *v)
{
    struct pm_snap_entry *a = v->v;
    size_t n = v->n;
    if (n < 2)
        return;
    for (size_t i = n / 2; i-- > 0;)
        sift(a, i, n);
    for (size_t end = n - 1; end > 0; end--) {
        struct pm_snap_entry t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift(a, 0, end);
    }
}

const struct pm_snap_entry *pm_snap_find(const struct pm_snap_vec *v, uint64_t addr)
{
    size_t lo = 0, hi = v->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->v[mid].addr < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < v->n && v->v[lo].addr == addr ? &v->v[lo] : NULL;
}

/* True if [addr, addr + len) lies inside one region (of `arena` unless 0). */
static bool in_regions(const struct pm_snap_walker *w, uint64_t addr, uint64_t len, uint64_t arena)
{
    for (size_t i = 0; i < w->nregions; i++) {
        const struct pm_snap_region *r = &w->regions[i];
        if ((arena == 0 || r->arena == arena) && addr >= r->lo && addr <= r->hi && len <= r->hi - addr)
            return true;
    }
    return false;
}

/* ---- the lists ---- */

static uint64_t reveal(const struct pm_snap_walker *w, uint64_t slot, uint64_t stored)
{
    return (slot >> 12) ^ w->secret ^ stored;
}

static bool chunk_ok(struct pm_snap_walker *w, uint64_t p, uint64_t arena)
{
    return (p & (w->d.alignment - 1)) == 0 && in_regions(w, p, 4 * sizeof(uint64_t), arena);
}

/* No list can hold more chunks than fit in every heap of the process. */
static uint64_t list_bound(const struct pm_snap_walker *w)
{
    uint64_t bytes = 0;
    for (size_t i = 0; i < w->nregions; i++)
        bytes += w->regions[i].hi - w->regions[i].lo;
    return bytes / w->d.min_size + 1;
}

static void emit_bin_head(struct pm_snap_walker *w, const char *kind, unsigned idx)
{
    pm_json_begin_obj(w->j);
    pm_json_kv_str(w->j, "kind", kind);
    pm_json_kv_u64(w->j, "index", idx);
    pm_json_key(w->j, "chunks");
    pm_json_begin_arr(w->j);
}

static void emit_bin_tail(struct pm_snap_walker *w, uint64_t count, uint64_t bytes)
{
    pm_json_end_arr(w->j);
    pm_json_kv_u64(w->j, "count", count);
    pm_json_kv_u64(w->j, "bytes", bytes);
    pm_json_end_obj(w->j);
}

static uint64_t chunk_size_at(struct pm_snap_walker *w, uint64_t p)
{
    uint64_t raw;
    if (pm_snap_word(w, p + w->d.chunk_size, &raw) != 0)
        return 0;
    return raw & ~((uint64_t)(w->d.flag_prev_inuse | w->d.flag_mmapped | w->d.flag_non_main | PM_LAYOUT_SAMPLED_BIT_LOW) |
                  PM_LAYOUT_HIGH_BITS);
}

/* The fast bins and the class stores: safe-linked lists through fd of
 * chunks of one size each, told apart by their state and messages. */
struct single_kind {
    unsigned state;
    const char *head_unread, *cycle, *outside, *wrong_size, *link_unread;
};

static const struct single_kind fast_kind = {
    PM_ST_FAST, "cannot read a fast bin head", "fast bin list does not end (cycle)",
    "fast bin holds a pointer outside the arena's heaps", "chunk filed in the wrong fast bin",
    "cannot read a fast bin link",
};
static const struct single_kind store_kind = {
    PM_ST_STORE, "cannot read a class store's head", "class store does not end (cycle)",
    "class store holds a pointer outside the arena's heaps", "chunk filed in the wrong store",
    "cannot read a class store link",
};

/* List idx of its kind, whose head is the word at `head` and whose
 * chunks are all of `size` bytes; false when the walk must stop. */
static bool single_list(struct pm_snap_walker *w, const struct single_kind *kind, uint64_t arena, uint64_t head,
                        unsigned idx, uint64_t size, uint64_t bound)
{
    uint64_t p, n = 0, bytes = 0;
    if (pm_snap_word(w, head, &p) != 0) {
        pm_snap_stop(w, kind->head_unread, head);
        return false;
    }
    if (p == 0)
        return true;
    emit_bin_head(w, pm_snap_state_name[kind->state], idx);
    while (p != 0) {
        if (++n > bound) {
            pm_snap_stop(w, kind->cycle, head);
            break;
        }
        if (!chunk_ok(w, p, arena)) {
            pm_snap_stop(w, kind->outside, p);
            break;
        }
        uint64_t found = chunk_size_at(w, p), stored;
        if (found != size)
            pm_snap_problem(w, kind->wrong_size, p);
        pm_json_addr(w->j, p);
        bytes += found;
        snap_push(w, &w->lists, p, kind->state, idx);
        if (pm_snap_word(w, p + w->d.chunk_fd, &stored) != 0) {
            pm_snap_stop(w, kind->link_unread, p);
            break;
        }
        p = reveal(w, p + w->d.chunk_fd, stored);
    }
    emit_bin_tail(w, n, bytes);
    return true;
}

static void fast_bins(struct pm_snap_walker *w, uint64_t arena, uint64_t bound)
{
    for (unsigned i = 0; i < w->d.nfastbins; i++)
        if (!single_list(w, &fast_kind, arena, arena + w->d.arena_fastbins + 8u * i, i,
                         w->d.min_size + (uint64_t)w->d.alignment * i, bound))
            return;
}

/* The class stores (layout version 7): store k of chunks of class k's
 * size. */
static void class_stores(struct pm_snap_walker *w, uint64_t arena, uint64_t bound)
{
    if (w->d.version < 7)
        return;
    for (unsigned k = 0; k < w->d.tcache_classes; k++) {
        uint64_t head = arena + w->d.arena_stores + 8u * k;
        uint32_t class_size;
        if (pm_snap_read(w, w->d.addr_tcache_class_sizes + 4u * k, &class_size, sizeof class_size) != 0) {
            pm_snap_stop(w, store_kind.head_unread, head);
            return;
        }
        if (!single_list(w, &store_kind, arena, head, k, class_size, bound))
            return;
    }
}

static void normal_bins(struct pm_snap_walker *w, uint64_t arena, uint64_t bound)
{
    for (unsigned i = 1; i < w->d.nbins; i++) {
        uint64_t words = arena + w->d.arena_bins + 16u * (i - 1);
        uint64_t head = words - w->d.chunk_fd; /* the bin's fake chunk */
        uint64_t p, prev = head, n = 0, bytes = 0;
        if (pm_snap_word(w, words, &p) != 0) {
            pm_snap_stop(w, "cannot read a bin head", words);
            return;
        }
        if (p == head || p == 0)
            continue;
        unsigned state = i == 1 ? PM_ST_UNSORTED : i < w->d.nsmallbins ? PM_ST_SMALL : PM_ST_LARGE;
        emit_bin_head(w, pm_snap_state_name[state], i);
        while (p != head) {
            uint64_t bk, fd;
            if (++n > bound) {
                pm_snap_stop(w, "bin list does not end (cycle)", head);
                break;
            }
            if (!chunk_ok(w, p, arena)) {
                pm_snap_stop(w, "bin holds a pointer outside the arena's heaps", p);
                break;
            }
            if (pm_snap_word(w, p + w->d.chunk_bk, &bk) != 0 || pm_snap_word(w, p + w->d.chunk_fd, &fd) != 0) {
                pm_snap_stop(w, "cannot read a bin link", p);
                break;
            }
            if (bk != prev)
                pm_snap_problem(w, "bin list back link broken", p);
            pm_json_addr(w->j, p);
            bytes += chunk_size_at(w, p);
            snap_push(w, &w->lists, p, state, i);
            prev = p;
            p = fd;
        }
        emit_bin_tail(w, n, bytes);
    }
}

static void remote_frees(struct pm_snap_walker *w, uint64_t arena, uint64_t bound)
{
    uint64_t p, n = 0;
    pm_json_key(w->j, "remote_frees");
    pm_json_begin_arr(w->j);
    if (w->d.arena_remote_frees == 0 || pm_snap_word(w, arena + w->d.arena_remote_frees, &p) != 0)
        p = 0;
    while (p != 0) {
        if (++n > bound) {
            pm_snap_stop(w, "remote-free list does not end (cycle)", arena);
            break;
        }
        if (!chunk_ok(w, p, arena)) {
            pm_snap_stop(w, "remote-free list holds a pointer outside the arena's heaps", p);
            break;
        }
        pm_json_addr(w->j, p);
        snap_push(w, &w->lists, p, PM_ST_REMOTE, 0);
        if (pm_snap_word(w, p + w->d.chunk_fd, &p) != 0) {
            pm_snap_stop(w, "cannot read a remote-free link", p);
            break;
        }
    }
    pm_json_end_arr(w->j);
}

void pm_snap_arena_lists(struct pm_snap_walker *w, uint64_t arena)
{
    uint64_t bound = list_bound(w);
    w->lists.n = 0;
    pm_json_key(w->j, "bins");
    pm_json_begin_arr(w->j);
    fast_bins(w, arena, bound);
    class_stores(w, arena, bound);
    normal_bins(w, arena, bound);
    pm_json_end_arr(w->j);
    remote_frees(w, arena, bound);
    snap_sort(&w->lists);
    for (size_t i = 1; i < w->lists.n; i++)
        if (w->lists.v[i].addr == w->lists.v[i - 1].addr)
            pm_snap_problem(w, "chunk is on two free lists", w->lists.v[i].addr);
}

/* Whether e, read as a thread-cache link or list head, ends its list:
 * NULL, or from layout version 6 PM_LAYOUT_TCACHE_END. */
static bool cache_end(const struct pm_snap_walker *w, uint64_t e)
{
    return e == 0 || (w->d.version >= 6 && e == PM_LAYOUT_TCACHE_END);
}

/* Follows one thread-cache list from user pointer e, which should hold
 * `count` chunks of `size` bytes, writing their addresses and filing them
 * as cached; returns how many it found. */
static uint64_t cache_list(struct pm_snap_walker *w, uint64_t t, uint64_t e, int64_t count, uint64_t size,
                           uint64_t bound, uint64_t tid)
{
    uint64_t n = 0;
    pm_json_key(w->j, "chunks");
    pm_json_begin_arr(w->j);
    while (!cache_end(w, e)) {
        uint64_t chunk = e - w->d.chunk_hdr, stored;
        if (++n > (uint64_t)(count < 0 ? 0 : count) + 1 || n > bound) {
            pm_snap_problem(w, "thread cache bin longer than its count", t);
            break;
        }
        if (!chunk_ok(w, chunk, 0)) {
            pm_snap_stop(w, "thread cache holds a pointer outside every heap", e);
            break;
        }
        if (chunk_size_at(w, chunk) != size)
            pm_snap_problem(w, "chunk filed in the wrong thread cache bin", chunk);
        pm_json_addr(w->j, chunk);
        snap_push(w, &w->tcache, chunk, PM_ST_TCACHE, (uint32_t)tid);
        if (pm_snap_word(w, e + w->d.tcache_entry_next, &stored) != 0) {
            pm_snap_stop(w, "cannot read a thread cache link", e);
            break;
        }
        e = reveal(w, e + w->d.tcache_entry_next, stored);
    }
    pm_json_end_arr(w->j);
    if ((int64_t)n != count)
        pm_snap_problem(w, "thread cache bin count disagrees with its list", t);
    pm_json_kv_u64(w->j, "count", n);
    return n;
}

/* The size classes of one thread cache (layout version 3), written as
 * more bins after the small ones: index tcache_bins + k, the class's
 * chunk size, and "class": true. */
static void tcache_classes(struct pm_snap_walker *w, uint64_t t, uint64_t bound, uint64_t tid, uint64_t *total_n,
                           uint64_t *total_bytes)
{
    for (unsigned k = 0; k < w->d.tcache_classes; k++) {
        uint32_t count = 0, size = 0;
        uint64_t e;
        if (pm_snap_read(w, t + w->d.tcache_class_count + 4u * k, &count, sizeof count) != 0 ||
            pm_snap_word(w, t + w->d.tcache_class_entries + 8u * k, &e) != 0 ||
            pm_snap_read(w, w->d.addr_tcache_class_sizes + 4u * k, &size, sizeof size) != 0) {
            pm_snap_stop(w, "cannot read a thread cache", t);
            return;
        }
        if (cache_end(w, e) && count == 0)
            continue;
        pm_json_begin_obj(w->j);
        pm_json_kv_u64(w->j, "index", w->d.tcache_bins + k);
        pm_json_kv_u64(w->j, "size", size);
        pm_json_kv_bool(w->j, "class", true);
        uint64_t n = cache_list(w, t, e, count, size, bound, tid);
        pm_json_end_obj(w->j);
        *total_n += n;
        *total_bytes += n * size;
    }
}

/* One thread cache: its bins, each a safe-linked list of user pointers. */
static void one_tcache(struct pm_snap_walker *w, uint64_t t, uint64_t bound)
{
    uint64_t tid = 0;
    uint32_t tid32 = 0;
    if (pm_snap_read(w, t + w->d.tcache_tid, &tid32, sizeof tid32) == 0)
        tid = tid32;
    pm_json_begin_obj(w->j);
    pm_json_kv_addr(w->j, "address", t);
    pm_json_kv_u64(w->j, "tid", tid);
    pm_json_key(w->j, "bins");
    pm_json_begin_arr(w->j);
    uint64_t total_n = 0, total_bytes = 0;
    uint32_t limit = 0;
    for (unsigned i = 0; i < w->d.tcache_bins; i++) {
        int32_t room = 0;
        uint64_t e;
        /* from layout version 5 each bin has its own depth */
        uint64_t limit_at = w->d.version >= 5 ? t + w->d.tcache_bin_limit + 4u * i : t + w->d.tcache_limit;
        if (pm_snap_read(w, limit_at, &limit, sizeof limit) != 0 ||
            pm_snap_read(w, t + w->d.tcache_room + 4u * i, &room, sizeof room) != 0 ||
            pm_snap_word(w, t + w->d.tcache_entries + 8u * i, &e) != 0) {
            pm_snap_stop(w, "cannot read a thread cache", t);
            break;
        }
        int64_t count = (int64_t)limit - room;
        if (cache_end(w, e) && count == 0)
            continue;
        uint64_t size = w->d.min_size + (uint64_t)w->d.alignment * i, n = 0;
        pm_json_begin_obj(w->j);
        pm_json_kv_u64(w->j, "index", i);
        pm_json_kv_u64(w->j, "size", size);
        n = cache_list(w, t, e, count, size, bound, tid);
        pm_json_end_obj(w->j);
        total_n += n;
        total_bytes += n * size;
    }
    if (w->d.version >= 3)
        tcache_classes(w, t, bound, tid, &total_n, &total_bytes);
    pm_json_end_arr(w->j);
    pm_json_kv_u64(w->j, "count", total_n);
    pm_json_kv_u64(w->j, "bytes", total_bytes);
    pm_json_end_obj(w->j);
}

void pm_snap_tcaches(struct pm_snap_walker *w)
{
    const struct pm_snap_src *s = w->src;
    uint64_t head = w->d.addr_tcache_list;
    pm_json_key(w->j, "tcaches");
    pm_json_begin_arr(w->j);
    if (head == 0 || !(w->d.flags & PM_LAYOUT_F_TCACHE_SENTINEL)) {
        pm_json_end_arr(w->j);
        return;
    }
    if (s->lock)
        s->lock(s->ctx, PM_SNAP_LOCK_TCACHE, w->d.addr_tcache_list_lock, true);
    pm_snap_cache_clear(w);
    uint64_t bound = list_bound(w), t, n = 0;
    if (pm_snap_word(w, head + w->d.tcache_next, &t) != 0) {
        pm_snap_stop(w, "cannot read the thread-cache list", head);
        t = head;
    }
    while (t != head) {
        if (++n > bound) {
            pm_snap_stop(w, "thread-cache list does not end (cycle)", head);
            break;
        }
        if (!in_regions(w, t, w->d.tcache_sizeof, 0)) {
            pm_snap_stop(w, "thread-cache list holds a pointer outside every heap", t);
            break;
        }
        one_tcache(w, t, bound);
        if (pm_snap_word(w, t + w->d.tcache_next, &t) != 0) {
            pm_snap_stop(w, "cannot read the thread-cache list", t);
            break;
        }
    }
    if (s->lock)
        s->lock(s->ctx, PM_SNAP_LOCK_TCACHE, w->d.addr_tcache_list_lock, false);
    pm_json_end_arr(w->j);
    snap_sort(&w->tcache);
}
