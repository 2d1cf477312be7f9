/* The heap walker: the allocation profile.  Copies the sampled call
 * stacks and the sampled blocks still live into the snapshot's "profile"
 * member; heapviz names the sites, sums them and finds the pages they
 * pin.  Addresses stay raw here: symbols are the reader's business (the
 * "modules" member says where each file was mapped). */
#include "snapshot.h"

#include <string.h>

/* A sane upper bound on either table, against a corrupt header. */
#define PROF_MAX_SLOTS (1u << 22)

static void emit_stack(struct pm_snap_walker *w, uint64_t index, const struct pm_prof_stack *s)
{
    pm_json_begin_obj(w->j);
    pm_json_kv_u64(w->j, "id", index);
    pm_json_kv_u64(w->j, "samples", s->samples);
    pm_json_kv_u64(w->j, "alloc_bytes", s->alloc_bytes);
    pm_json_kv_u64(w->j, "alloc_count", s->alloc_count);
    pm_json_key(w->j, "frames");
    pm_json_begin_arr(w->j);
    uint32_t n = s->nframes < PM_PROF_FRAMES ? s->nframes : PM_PROF_FRAMES;
    for (uint32_t i = 0; i < n; i++)
        pm_json_addr(w->j, s->frames[i]);
    pm_json_end_arr(w->j);
    pm_json_end_obj(w->j);
}

void pm_snap_profile(struct pm_snap_walker *w)
{
    struct pm_prof_header h;
    if (w->d.addr_prof == 0)
        return;
    if (pm_snap_read(w, w->d.addr_prof, &h, sizeof h) != 0) {
        pm_snap_problem(w, "cannot read the allocation profile", w->d.addr_prof);
        return;
    }
    if (h.magic != PM_PROF_MAGIC || h.version != PM_PROF_VERSION || h.stack_size != sizeof(struct pm_prof_stack) ||
        h.live_size != sizeof(struct pm_prof_live) || h.stacks_cap > PROF_MAX_SLOTS || h.live_cap > PROF_MAX_SLOTS) {
        pm_snap_problem(w, "the allocation profile's header is not one this reader knows", w->d.addr_prof);
        return;
    }
    pm_json_key(w->j, "profile");
    pm_json_begin_obj(w->j);
    pm_json_kv_u64(w->j, "period", h.period);
    pm_json_kv_u64(w->j, "dropped", h.dropped);
    pm_json_key(w->j, "stacks");
    pm_json_begin_arr(w->j);
    for (uint64_t i = 0; h.period != 0 && i < h.stacks_cap; i++) {
        struct pm_prof_stack s;
        if (pm_snap_read(w, h.stacks + i * sizeof s, &s, sizeof s) != 0) {
            pm_snap_problem(w, "cannot read the profile's stack table", h.stacks + i * sizeof s);
            break;
        }
        if (s.hash != 0)
            emit_stack(w, i, &s);
    }
    pm_json_end_arr(w->j);
    pm_json_key(w->j, "live");
    pm_json_begin_arr(w->j);
    for (uint64_t i = 0; h.period != 0 && i < h.live_cap; i++) {
        struct pm_prof_live l;
        if (pm_snap_read(w, h.live + i * sizeof l, &l, sizeof l) != 0) {
            pm_snap_problem(w, "cannot read the profile's block table", h.live + i * sizeof l);
            break;
        }
        if (l.chunk == 0)
            continue;
        pm_json_begin_obj(w->j);
        pm_json_kv_addr(w->j, "chunk", l.chunk);
        pm_json_kv_u64(w->j, "size", l.size);
        pm_json_kv_u64(w->j, "weight", l.weight);
        pm_json_kv_u64(w->j, "stack", l.stack);
        pm_json_end_obj(w->j);
    }
    pm_json_end_arr(w->j);
    pm_json_end_obj(w->j);
}
