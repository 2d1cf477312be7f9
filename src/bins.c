/* The one walker of an arena's bins (see bins.h). */
#include "config.h"

#include "bins.h"

#include "heap.h"

/* The fast bins or the stores: `n` safe-linked lists from `heads`. */
static void walk_single(struct pm_arena *a, const struct pm_bins_visitor *v, enum pm_bins_list list,
                        mchunk **heads, unsigned nlists, size_t bound)
{
    for (unsigned i = 0; i < nlists; i++) {
        size_t n = 0;
        for (mchunk *p = heads[i]; p != NULL; p = link_reveal(chunk_fd_slot(p), chunk_fd(p))) {
            if (++n > bound) {
                v->problem(v->ctx, PM_BINS_FAST_CYCLE, &heads[i]);
                break;
            }
            if (!ptr_aligned(p)) {
                v->problem(v->ctx, PM_BINS_FAST_UNALIGNED, p);
                break;
            }
            if (!pm_arena_holds(a, p, sizeof(struct pm_chunk))) {
                v->problem(v->ctx, PM_BINS_FAST_OUTSIDE, p);
                break;
            }
            if (!v->chunk(v->ctx, list, i, p))
                break;
        }
    }
}

static void walk_bin(struct pm_arena *a, const struct pm_bins_visitor *v, unsigned idx, mchunk *start,
                     size_t bound)
{
    mchunk *bin = bin_at(a, idx);
    mchunk *prev = start != NULL ? chunk_bk(start) : bin;
    size_t n = 0;
    for (mchunk *p = start != NULL ? start : bin_first(bin); p != bin; prev = p, p = chunk_fd(p)) {
        if (++n > bound) {
            v->problem(v->ctx, PM_BINS_CYCLE, bin);
            return;
        }
        if (!ptr_aligned(p) || !pm_arena_holds(a, p, sizeof(struct pm_chunk))) {
            v->problem(v->ctx, PM_BINS_OUTSIDE, p);
            return;
        }
        if (chunk_bk(p) != prev) {
            v->problem(v->ctx, PM_BINS_BACK_LINK, p);
            return;
        }
        if (!v->chunk(v->ctx, PM_LIST_BIN, idx, p))
            return;
    }
    if (chunk_bk(bin) != prev)
        v->problem(v->ctx, PM_BINS_LAST_LINK, bin);
}

void pm_bins_walk(struct pm_arena *a, const struct pm_bins_visitor *v)
{
    /* Every chunk takes at least MINSIZE bytes of the arena, so no list
     * can be longer than this; a longer one has a cycle. */
    size_t bound = a->system_mem / PM_MINSIZE + 1;
    if (!v->skip_fast) {
        walk_single(a, v, PM_LIST_FAST, a->fastbins, PM_NFASTBINS, bound);
        walk_single(a, v, PM_LIST_STORE, a->stores, PM_TCACHE_CLASSES, bound);
    }
    unsigned first = v->first_bin > 1 ? v->first_bin : 1;
    for (unsigned i = first; i < PM_NBINS; i++)
        walk_bin(a, v, i, i == first ? v->first_chunk : NULL, bound);
}

