/* The one walker of an arena's bins (see bins.h). */
#include "config.h"

#include "bins.h"

#include "heap.h"

static void walk_fastbins(struct pm_arena *a, const struct pm_bins_visitor *v, size_t bound)
{
    for (unsigned i = 0; i < PM_NFASTBINS; i++) {
        size_t n = 0;
        for (mchunk *p = a->fastbins[i]; p != NULL; p = link_reveal(chunk_fd_slot(p), chunk_fd(p))) {
            if (++n > bound) {
                v->problem(v->ctx, PM_BINS_FAST_CYCLE, &a->fastbins[i]);
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
            if (!v->chunk(v->ctx, true, i, p))
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
        if (!v->chunk(v->ctx, false, idx, p))
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
    if (!v->skip_fast)
        walk_fastbins(a, v, bound);
    unsigned first = v->first_bin > 1 ? v->first_bin : 1;
    for (unsigned i = first; i < PM_NBINS; i++)
        walk_bin(a, v, i, i == first ? v->first_chunk : NULL, bound);
}

