/* The heap walker: which pages of the target's heaps and mapped chunks
 * are resident, written as runs of pages, and kept for the current heap
 * so its chunks can share the heap's resident bytes out among them. */
#include "snapshot.h"

/* Room for the residency of npages pages from lo in w->res_vec; false
 * (and nothing kept) without scratch memory. */
static bool keep_residency(struct pm_snap_walker *w, uint64_t lo, uint64_t npages)
{
    w->res_npages = 0;
    if (npages > w->res_cap) {
        unsigned char *v = w->src->alloc(w->src->ctx, (size_t)npages);
        if (v == NULL)
            return false;
        if (w->res_vec)
            w->src->free(w->src->ctx, w->res_vec, (size_t)w->res_cap);
        w->res_vec = v;
        w->res_cap = npages;
    }
    w->res_lo = lo;
    return true;
}

/* Resident bytes of [lo, hi) by the residency kept of the current heap:
 * each resident page counts with the part of it inside the range, so the
 * chunks of a heap share its resident bytes out exactly. */
uint64_t pm_snap_resident_in(const struct pm_snap_walker *w, uint64_t lo, uint64_t hi)
{
    uint64_t page = w->d.page_size, end = w->res_lo + w->res_npages * page, bytes = 0;
    if (lo < w->res_lo)
        lo = w->res_lo;
    if (hi > end)
        hi = end;
    while (lo < hi) {
        uint64_t next = (lo & ~(page - 1)) + page;
        if (next > hi)
            next = hi;
        if (w->res_vec[(lo - w->res_lo) / page] & 1)
            bytes += next - lo;
        lo = next;
    }
    return bytes;
}

/* Writes "resident" (runs of resident pages as [first page, count],
 * counted from the page holding lo) and "resident_bytes" for [lo, hi);
 * with keep, the pages' residency stays in w->res_vec for
 * pm_snap_resident_in. */
uint64_t pm_snap_emit_residency(struct pm_snap_walker *w, uint64_t lo, uint64_t hi, bool keep)
{
    const struct pm_snap_src *s = w->src;
    if (keep)
        w->res_npages = 0;
    if (s->resident == NULL || hi <= lo) {
        w->res_unknown |= s->resident == NULL;
        return 0;
    }
    uint64_t page = w->d.page_size;
    lo &= ~(page - 1);
    uint64_t npages = (hi - lo + page - 1) / page, resident = 0, run_start = 0;
    if (keep && !keep_residency(w, lo, npages)) {
        w->res_unknown = true;
        keep = false;
    }
    unsigned char vec[1024];
    unsigned runs = 0;
    bool in_run = false, known = true;
    pm_json_key(w->j, "resident");
    pm_json_begin_arr(w->j);
    for (uint64_t i = 0; i <= npages && known; i++) {
        size_t slot = (size_t)(i % sizeof vec);
        if (i < npages && slot == 0) {
            size_t n = npages - i < sizeof vec ? (size_t)(npages - i) : sizeof vec;
            known = s->resident(s->ctx, lo + i * page, n, page, vec) == 0;
            if (!known)
                break;
        }
        bool r = i < npages && (vec[slot] & 1);
        if (keep && i < npages)
            w->res_vec[i] = r;
        if (r) {
            resident++;
            if (!in_run)
                run_start = i;
            in_run = true;
        } else if (in_run) {
            in_run = false;
            if (runs++ < 512) {
                pm_json_begin_arr(w->j);
                pm_json_u64(w->j, run_start);
                pm_json_u64(w->j, i - run_start);
                pm_json_end_arr(w->j);
            }
        }
    }
    pm_json_end_arr(w->j);
    if (!known) {
        pm_json_kv_bool(w->j, "resident_unknown", true);
        w->res_unknown = true;
        return 0;
    }
    if (keep)
        w->res_npages = npages;
    pm_json_kv_u64(w->j, "resident_bytes", resident * page);
    return resident * page;
}
