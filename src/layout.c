/* The layout descriptor: pmalloc describes its own data structures in one
 * exported record, so heapviz can read a live process or a core dump
 * without debug symbols or guessed struct layouts.
 *
 * Every field is a constant of the build but one: the page size is the
 * system's, known only at run time.  So the record is writable data, and
 * start-up writes page_size once, before the allocator is marked
 * initialised, that is before a snapshot can be taken in-process; a
 * reader that finds it still 0 is looking at a process where pmalloc has
 * not started, and says so.  Nothing writes the record afterwards.
 *
 * A reader finds `pmalloc_layout` in the library's dynamic symbol table (or
 * an executable's symbol table when pmalloc is linked statically), checks
 * magic, version and size, and from then on reads every field through the
 * offsets below.  Whoever changes a field the walker reads changes its
 * entry here; whoever changes the meaning of one bumps PM_LAYOUT_VERSION. */
#include "config.h"

#include "layout.h"

#include <pmalloc.h>
#include "mmap_chunk.h"
#include "os.h"
#include "prof.h"
#include "state.h"
#include "tcache.h"

#define OFF(type, field) ((uint32_t)offsetof(type, field))

/* The walker (snapshot_*.c) reads each field with the width below, from
 * whatever build it inspects: a field that changes width must change the
 * walker and PM_LAYOUT_VERSION with it. */
#define WIDTH(type, field, bytes)                                                                              \
    _Static_assert(sizeof(((type *)0)->field) == (bytes), #type "." #field " is read as " #bytes " bytes")
#define WORD sizeof(void *)
WIDTH(struct pm_chunk, size, WORD);
WIDTH(struct pm_chunk, fd, WORD);
WIDTH(struct pm_arena, flags, 4);
WIDTH(struct pm_arena, index, 4);
WIDTH(struct pm_arena, have_fastchunks, 4);
WIDTH(struct pm_arena, top, WORD);
WIDTH(struct pm_arena, heap, WORD);
WIDTH(struct pm_arena, next, WORD);
WIDTH(struct pm_arena, nheaps, WORD);
WIDTH(struct pm_arena, system_mem, WORD);
WIDTH(struct pm_arena, attached_threads, WORD);
WIDTH(struct pm_arena, remote_frees, WORD);
WIDTH(struct pm_arena, stores[0], WORD);
WIDTH(struct pm_arena, store_bytes, WORD);
WIDTH(struct pm_arena, binmap[0], 4);
WIDTH(struct pm_shared_state, limit_soft, WORD);
WIDTH(struct pm_shared_state, limit_hard, WORD);
WIDTH(struct pm_heap, size, WORD);
WIDTH(struct pm_heap, chunks_start, WORD);
WIDTH(struct pm_heap, kind, 4);
WIDTH(struct pm_heap, magic, 4);
WIDTH(struct pm_shared_state, narenas, WORD);
WIDTH(struct pm_shared_state, n_mmaps, WORD);
WIDTH(struct pm_shared_state, mmapped_mem, WORD);
WIDTH(struct pm_shared_state, sbrk_base_mem, WORD);
WIDTH(struct pm_options, max_fast, 8);
WIDTH(struct pm_options, trim_threshold, 8);
WIDTH(struct pm_options, top_pad, 8);
WIDTH(struct pm_options, mmap_threshold, 8);
WIDTH(struct pm_options, mmap_max, 8);
WIDTH(struct pm_options, arena_max, 8);
WIDTH(struct pm_options, arena_test, 8);
WIDTH(struct pm_options, perturb_byte, 4);
WIDTH(struct pm_options, check_action, 4);
WIDTH(struct pm_options, tcache_count, 8);
WIDTH(struct pm_options, tcache_max_bytes, 8);
WIDTH(struct pm_options, no_dyn_threshold, 1);
WIDTH(struct pm_mmap_link, next, WORD);
WIDTH(struct pm_mmap_link, chunk, WORD);
WIDTH(struct pm_tcache, room[0], 4);
WIDTH(struct pm_tcache, limit, 4);
WIDTH(struct pm_tcache, tid, 4);
WIDTH(struct pm_tcache, entries[0], WORD);
WIDTH(struct pm_tcache_entry, next, WORD);
WIDTH(struct pm_tcache, class_count[0], 4);
WIDTH(struct pm_tcache, class_entries[0], WORD);
WIDTH(struct pm_tcache, bin_limit[0], 4);
_Static_assert(sizeof pm_init_state == 4, "pm_init_state is read as 4 bytes");
_Static_assert(PM_HELD_FREE == PM_LAYOUT_HELD_FREE_BIT, "heapviz masks the held-free bit off the size");
_Static_assert(PM_SAMPLED_CHUNK == PM_LAYOUT_SAMPLED_BIT, "heapviz masks the sampled bit off the size");
_Static_assert(PM_TCACHE_END_VALUE == PM_LAYOUT_TCACHE_END, "heapviz ends cache lists where the cache does");
_Static_assert(((PM_OWNER_BITS | PM_SIZE_TAG_BITS) & ~PM_LAYOUT_HIGH_BITS) == 0 && (PM_SIZE_MASK & PM_LAYOUT_HIGH_BITS) == 0,
               "heapviz masks the owner's bits and the tag off the size");

/* heapviz reads the classes' chunk sizes from pm_global, which start-up
 * writes (tcache.c): a table of constants would lie in read-only pages a
 * core dump leaves out, and a snapshot of a core could then follow no
 * class list or store. */
WIDTH(struct pm_shared_state, tcache_class_bytes[0], 4);

PM_EXPORT struct pm_layout_desc pmalloc_layout = {
    .magic = PM_LAYOUT_MAGIC,
    .version = PM_LAYOUT_VERSION,
    .desc_size = sizeof(struct pm_layout_desc),
    .ptr_size = sizeof(void *),
    .lib_version = PMALLOC_VERSION_MAJOR << 16 | PMALLOC_VERSION_MINOR << 8 | PMALLOC_VERSION_PATCH,

    .addr_main_arena = (uintptr_t)&pm_main_arena,
    .addr_global = (uintptr_t)&pm_global,
    .addr_opt = (uintptr_t)&pm_opt,
    .addr_mmap_list = (uintptr_t)&pm_mmap_list,
    .addr_tcache_list = (uintptr_t)&pm_tcache_list,
    .addr_tcache_list_lock = (uintptr_t)&pm_tcache_list_lock,
    .addr_init_state = (uintptr_t)&pm_init_state,

    .chunk_hdr = PM_CHUNK_HDR,
    .min_size = PM_MINSIZE,
    .alignment = PM_ALIGNMENT,
    .page_size = 0, /* pm_layout_publish() */
    .nbins = PM_NBINS,
    .nsmallbins = PM_NSMALLBINS,
    .nfastbins = PM_NFASTBINS,
    .tcache_bins = PM_TCACHE_BINS,
    .heap_magic = PM_HEAP_MAGIC,
    .fencepost_size = PM_FENCEPOST_SIZE,
    .heap_max_size = PM_HEAP_MAX_SIZE,
    .flag_prev_inuse = PM_PREV_INUSE,
    .flag_mmapped = PM_IS_MMAPPED,
    .flag_non_main = PM_NON_MAIN_ARENA,
    .flags = PM_LAYOUT_F_TCACHE_SENTINEL,

    .chunk_prev_size = OFF(struct pm_chunk, prev_size),
    .chunk_size = OFF(struct pm_chunk, size),
    .chunk_fd = OFF(struct pm_chunk, fd),
    .chunk_bk = OFF(struct pm_chunk, bk),
    .chunk_fd_nextsize = OFF(struct pm_chunk, fd_nextsize),
    .chunk_bk_nextsize = OFF(struct pm_chunk, bk_nextsize),

    .arena_sizeof = sizeof(struct pm_arena),
    .arena_flags = OFF(struct pm_arena, flags),
    .arena_index = OFF(struct pm_arena, index),
    .arena_have_fastchunks = OFF(struct pm_arena, have_fastchunks),
    .arena_fastbins = OFF(struct pm_arena, fastbins),
    .arena_top = OFF(struct pm_arena, top),
    .arena_last_remainder = OFF(struct pm_arena, last_remainder),
    .arena_bins = OFF(struct pm_arena, bins),
    .arena_binmap = OFF(struct pm_arena, binmap),
    .arena_heap = OFF(struct pm_arena, heap),
    .arena_next = OFF(struct pm_arena, next),
    .arena_attached_threads = OFF(struct pm_arena, attached_threads),
    .arena_system_mem = OFF(struct pm_arena, system_mem),
    .arena_max_system_mem = OFF(struct pm_arena, max_system_mem),
    .arena_nheaps = OFF(struct pm_arena, nheaps),
    .arena_remote_frees = OFF(struct pm_arena, remote_frees),

    .heap_sizeof = sizeof(struct pm_heap),
    .heap_arena = OFF(struct pm_heap, arena),
    .heap_prev = OFF(struct pm_heap, prev),
    .heap_size = OFF(struct pm_heap, size),
    .heap_mprotect_size = OFF(struct pm_heap, mprotect_size),
    .heap_reserved = OFF(struct pm_heap, reserved),
    .heap_chunks_start = OFF(struct pm_heap, chunks_start),
    .heap_kind = OFF(struct pm_heap, kind),
    .heap_magic_off = OFF(struct pm_heap, magic),

    .global_narenas = OFF(struct pm_shared_state, narenas),
    .global_n_mmaps = OFF(struct pm_shared_state, n_mmaps),
    .global_n_mmaps_max = OFF(struct pm_shared_state, n_mmaps_max),
    .global_mmapped_mem = OFF(struct pm_shared_state, mmapped_mem),
    .global_max_mmapped_mem = OFF(struct pm_shared_state, max_mmapped_mem),
    .global_sbrk_base_mem = OFF(struct pm_shared_state, sbrk_base_mem),
    .global_limit_soft = OFF(struct pm_shared_state, limit_soft),
    .global_limit_hard = OFF(struct pm_shared_state, limit_hard),

    .opt_max_fast = OFF(struct pm_options, max_fast),
    .opt_trim_threshold = OFF(struct pm_options, trim_threshold),
    .opt_top_pad = OFF(struct pm_options, top_pad),
    .opt_mmap_threshold = OFF(struct pm_options, mmap_threshold),
    .opt_mmap_max = OFF(struct pm_options, mmap_max),
    .opt_arena_max = OFF(struct pm_options, arena_max),
    .opt_arena_test = OFF(struct pm_options, arena_test),
    .opt_perturb_byte = OFF(struct pm_options, perturb_byte),
    .opt_check_action = OFF(struct pm_options, check_action),
    .opt_tcache_count = OFF(struct pm_options, tcache_count),
    .opt_tcache_max_bytes = OFF(struct pm_options, tcache_max_bytes),
    .opt_no_dyn_threshold = OFF(struct pm_options, no_dyn_threshold),

    .mlink_sizeof = sizeof(struct pm_mmap_link),
    .mlink_next = OFF(struct pm_mmap_link, next),
    .mlink_prev = OFF(struct pm_mmap_link, prev),
    .mlink_chunk = OFF(struct pm_mmap_link, chunk),

    .tcache_sizeof = sizeof(struct pm_tcache),
    .tcache_room = OFF(struct pm_tcache, room),
    .tcache_limit = OFF(struct pm_tcache, limit),
    .tcache_entries = OFF(struct pm_tcache, entries),
    .tcache_next = OFF(struct pm_tcache, next),
    .tcache_prev = OFF(struct pm_tcache, prev),
    .tcache_tid = OFF(struct pm_tcache, tid),
    .tcache_entry_next = OFF(struct pm_tcache_entry, next),

    .tcache_classes = PM_TCACHE_CLASSES,
    .tcache_class_entries = OFF(struct pm_tcache, class_entries),
    .tcache_class_count = OFF(struct pm_tcache, class_count),
    .addr_tcache_class_sizes = (uintptr_t)pm_global.tcache_class_bytes,

    .addr_prof = (uintptr_t)&pm_prof_header,

    .tcache_bin_limit = OFF(struct pm_tcache, bin_limit),

    .addr_secret = (uintptr_t)&pm_chunk_secret,

    .arena_stores = OFF(struct pm_arena, stores),
    .arena_store_bytes = OFF(struct pm_arena, store_bytes),
};

void pm_layout_publish(void)
{
    __atomic_store_n(&pmalloc_layout.page_size, (uint32_t)pm_page_size(), __ATOMIC_RELAXED);
}
