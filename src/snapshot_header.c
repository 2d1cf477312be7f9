/* The snapshot's opening: the check of the layout descriptor read from
 * the target, and the header, options and global-state members that come
 * before the arenas. */
#include "snapshot.h"

#include <stddef.h>
#include <string.h>

const char *pm_snap_check_desc(const struct pm_layout_desc *d)
{
    if (d->magic != PM_LAYOUT_MAGIC)
        return "no pmalloc layout descriptor at the expected address (bad magic)";
    if (d->version < PM_LAYOUT_VERSION_MIN || d->version > PM_LAYOUT_VERSION)
        return "pmalloc layout version mismatch: this heapviz reads layout versions 2 to 7";
    if (d->desc_size < (d->version >= 7   ? sizeof *d
                        : d->version >= 6 ? PM_LAYOUT_V6_SIZE
                        : d->version >= 5 ? PM_LAYOUT_V5_SIZE
                        : d->version >= 4 ? PM_LAYOUT_V4_SIZE
                        : d->version >= 3 ? PM_LAYOUT_V3_SIZE
                                          : PM_LAYOUT_V2_SIZE))
        return "pmalloc layout descriptor is shorter than expected";
    if (d->version >= 3 && d->tcache_classes > 256)
        return "pmalloc layout descriptor holds impossible values";
    if (d->ptr_size != 8)
        return "only 64-bit processes are supported";
    if (d->alignment == 0 || (d->alignment & (d->alignment - 1)) != 0 || d->min_size == 0 ||
        d->chunk_hdr == 0 || d->nbins < 2 || d->nbins > 1024 || d->nfastbins > 64 || d->tcache_bins > 1024)
        return "pmalloc layout descriptor holds impossible values";
    if (d->page_size == 0)
        return "pmalloc has not started in this process yet (no page size in its layout descriptor)";
    if (d->page_size < PM_SNAP_CACHE_BLOCK || (d->page_size & (d->page_size - 1)) != 0)
        return "pmalloc layout descriptor holds an impossible page size";
    return NULL;
}

void pm_snap_emit_options(struct pm_snap_walker *w)
{
    static const struct {
        const char *name;
        size_t off;
        unsigned width;
    } opts[] = {
        {"max_fast", offsetof(struct pm_layout_desc, opt_max_fast), 8},
        {"trim_threshold", offsetof(struct pm_layout_desc, opt_trim_threshold), 8},
        {"top_pad", offsetof(struct pm_layout_desc, opt_top_pad), 8},
        {"mmap_threshold", offsetof(struct pm_layout_desc, opt_mmap_threshold), 8},
        {"mmap_max", offsetof(struct pm_layout_desc, opt_mmap_max), 8},
        {"arena_max", offsetof(struct pm_layout_desc, opt_arena_max), 8},
        {"arena_test", offsetof(struct pm_layout_desc, opt_arena_test), 8},
        {"perturb_byte", offsetof(struct pm_layout_desc, opt_perturb_byte), 4},
        {"check_action", offsetof(struct pm_layout_desc, opt_check_action), 4},
        {"tcache_count", offsetof(struct pm_layout_desc, opt_tcache_count), 8},
        {"tcache_max_bytes", offsetof(struct pm_layout_desc, opt_tcache_max_bytes), 8},
        {"no_dyn_threshold", offsetof(struct pm_layout_desc, opt_no_dyn_threshold), 1},
    };
    pm_json_key(w->j, "options");
    pm_json_begin_obj(w->j);
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        uint32_t off;
        memcpy(&off, (const char *)&w->d + opts[i].off, sizeof off);
        uint64_t v = 0;
        if (pm_snap_read(w, w->d.addr_opt + off, &v, opts[i].width) != 0) {
            pm_snap_stop(w, "cannot read the options", w->d.addr_opt);
            break;
        }
        pm_json_key(w->j, opts[i].name);
        if (opts[i].width == 4)
            pm_json_i64(w->j, (int32_t)(uint32_t)v);
        else
            pm_json_u64(w->j, opts[i].width == 1 ? (v & 0xff) : v);
    }
    pm_json_end_obj(w->j);
}

void pm_snap_emit_global(struct pm_snap_walker *w)
{
    uint64_t narenas = 0, n_mmaps = 0, n_mmaps_max = 0, mmapped = 0, max_mmapped = 0;
    const struct pm_layout_desc *d = &w->d;
    if (pm_snap_word(w, d->addr_global + d->global_narenas, &narenas) ||
        pm_snap_word(w, d->addr_global + d->global_n_mmaps, &n_mmaps) ||
        pm_snap_word(w, d->addr_global + d->global_n_mmaps_max, &n_mmaps_max) ||
        pm_snap_word(w, d->addr_global + d->global_mmapped_mem, &mmapped) ||
        pm_snap_word(w, d->addr_global + d->global_max_mmapped_mem, &max_mmapped) ||
        pm_snap_word(w, d->version >= 6 ? d->addr_secret : d->addr_global + d->global_secret, &w->secret))
        pm_snap_stop(w, "cannot read the allocator's global state", d->addr_global);
    pm_json_key(w->j, "global");
    pm_json_begin_obj(w->j);
    pm_json_kv_u64(w->j, "narenas", narenas);
    pm_json_kv_u64(w->j, "n_mmaps", n_mmaps);
    pm_json_kv_u64(w->j, "n_mmaps_max", n_mmaps_max);
    pm_json_kv_u64(w->j, "mmapped_mem", mmapped);
    pm_json_kv_u64(w->j, "max_mmapped_mem", max_mmapped);
    uint64_t soft = 0, hard = 0;
    if (d->version >= 4 && (pm_snap_word(w, d->addr_global + d->global_limit_soft, &soft) ||
                            pm_snap_word(w, d->addr_global + d->global_limit_hard, &hard)))
        pm_snap_stop(w, "cannot read the allocator's global state", d->addr_global);
    if (d->version >= 4) {
        pm_json_kv_u64(w->j, "memory_limit", soft);
        pm_json_kv_u64(w->j, "memory_limit_hard", hard);
    }
    pm_json_end_obj(w->j);
}

void pm_snap_emit_header(struct pm_snap_walker *w)
{
    const struct pm_snap_src *s = w->src;
    pm_json_kv_str(w->j, "format", "pmalloc-snapshot");
    pm_json_kv_u64(w->j, "version", PM_SNAPSHOT_FORMAT_VERSION);
    pm_json_kv_u64(w->j, "layout_version", w->d.version);
    pm_json_key(w->j, "library_version");
    pm_json_begin_arr(w->j);
    pm_json_u64(w->j, w->d.lib_version >> 16);
    pm_json_u64(w->j, (w->d.lib_version >> 8) & 0xff);
    pm_json_u64(w->j, w->d.lib_version & 0xff);
    pm_json_end_arr(w->j);
    pm_json_kv_str(w->j, "source", s->source ? s->source : "unknown");
    pm_json_kv_u64(w->j, "pid", (uint64_t)s->pid);
    pm_json_kv_u64(w->j, "time_ms", s->time_ms);
    pm_json_kv_u64(w->j, "page_size", w->d.page_size);
    pm_json_kv_u64(w->j, "min_chunk", w->d.min_size);
}
