/* Heap snapshots: the layout descriptor the library publishes about
 * itself, and the one heap walker that turns any pmalloc heap into a
 * versioned JSON snapshot.
 *
 * The walker never touches the heap directly.  It reads memory through a
 * callback (pm_snap_src.read), so the same code serves three sources: the
 * running process itself (pmalloc_snapshot), another process
 * (heapviz --pid, process_vm_readv) and a core dump (heapviz core).  Every
 * offset and size it uses comes from the descriptor (struct
 * pm_layout_desc) found in the memory it reads, never from this build's
 * headers, so heapviz can read a library built differently from itself.
 *
 * This file is shared by the library and the heapviz tool: it holds no
 * library state and needs no allocator. */
#ifndef PMALLOC_SNAPSHOT_H
#define PMALLOC_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "emit.h"

/* ---- the layout descriptor (exported as pmalloc_layout) ---- */

#define PM_LAYOUT_MAGIC   0x54554f59414c4d50ull /* "PMLAYOUT" little-endian */
#define PM_LAYOUT_VERSION 7u
/* Version 2 had no size classes in the thread cache (no class members at
 * the end), version 3 no memory limits and no allocation profile
 * (addr_prof), version 4 one depth for every small bin of a thread
 * cache (no tcache_bin_limit), version 5 the secret in struct pm_global
 * (at global_secret, no addr_secret), no size tags and thread-cache
 * lists ending in NULL, version 6 no class stores in the arenas; heapviz
 * reads them all. */
#define PM_LAYOUT_VERSION_MIN 2u
/* the thread-cache list is a circular list through a sentinel record */
#define PM_LAYOUT_F_TCACHE_SENTINEL 0x1u

/* Every field is a fixed-width integer, so the record reads the same in
 * any reader.  Offsets are bytes from the start of the named struct. */
struct pm_layout_desc {
    uint64_t magic;
    uint32_t version;           /* PM_LAYOUT_VERSION of the writer */
    uint32_t desc_size;         /* sizeof(struct pm_layout_desc) */
    uint32_t ptr_size;
    uint32_t lib_version;       /* major << 16 | minor << 8 | patch */

    /* where the state lives (0: not present in this build) */
    uint64_t addr_main_arena;
    uint64_t addr_global;
    uint64_t addr_opt;
    uint64_t addr_mmap_list;
    uint64_t addr_tcache_list;
    uint64_t addr_tcache_list_lock;
    uint64_t addr_init_state;

    /* constants */
    uint32_t chunk_hdr, min_size, alignment, page_size;
    uint32_t nbins, nsmallbins, nfastbins, tcache_bins;
    uint32_t heap_magic, fencepost_size;
    uint64_t heap_max_size;
    uint32_t flag_prev_inuse, flag_mmapped, flag_non_main;
    uint32_t flags;             /* PM_LAYOUT_F_* */

    /* struct pm_chunk */
    uint32_t chunk_prev_size, chunk_size, chunk_fd, chunk_bk;
    uint32_t chunk_fd_nextsize, chunk_bk_nextsize;

    /* struct pm_arena */
    uint32_t arena_sizeof, arena_flags, arena_index, arena_have_fastchunks;
    uint32_t arena_fastbins, arena_top, arena_last_remainder, arena_bins;
    uint32_t arena_binmap, arena_heap, arena_next, arena_attached_threads;
    uint32_t arena_system_mem, arena_max_system_mem, arena_nheaps, arena_remote_frees;

    /* struct pm_heap */
    uint32_t heap_sizeof, heap_arena, heap_prev, heap_size;
    uint32_t heap_mprotect_size, heap_reserved, heap_chunks_start, heap_kind;
    uint32_t heap_magic_off;

    /* struct pm_global */
    uint32_t global_narenas, global_n_mmaps, global_n_mmaps_max, global_mmapped_mem;
    uint32_t global_max_mmapped_mem, global_secret, global_sbrk_base_mem;

    /* struct pm_options (each a size_t unless named otherwise) */
    uint32_t opt_max_fast, opt_trim_threshold, opt_top_pad, opt_mmap_threshold;
    uint32_t opt_mmap_max, opt_arena_max, opt_arena_test, opt_perturb_byte /* int */;
    uint32_t opt_check_action /* int */, opt_tcache_count, opt_tcache_max_bytes;
    uint32_t opt_no_dyn_threshold /* bool */;

    /* struct pm_mmap_link */
    uint32_t mlink_sizeof, mlink_next, mlink_prev, mlink_chunk;

    /* struct pm_tcache; a bin holds limit - room[i] chunks (room is an
     * int32_t array, limit a uint32_t; from version 5 limit[i] of the
     * uint32_t array at tcache_bin_limit); tcache_entry_next is the offset of
     * the safe-linked next pointer in a cached chunk's user area */
    uint32_t tcache_sizeof, tcache_room, tcache_limit, tcache_entries;
    uint32_t tcache_next, tcache_prev, tcache_tid, tcache_entry_next;

    /* version 3: the thread cache's size classes; class k's chunks are
     * addr_tcache_class_sizes[k] bytes (uint32_t each), its list head is
     * at tcache_class_entries + 8 k and its length (uint32_t) at
     * tcache_class_count + 4 k */
    uint32_t tcache_classes, tcache_class_entries, tcache_class_count, tcache_class_pad;
    uint64_t addr_tcache_class_sizes;

    /* version 4: the memory limits in force (size_t members of struct
     * pm_global; 0: none) */
    uint32_t global_limit_soft, global_limit_hard;
    /* version 4 too: the allocation profile's header (struct
     * pm_prof_header), 0 in a build without one */
    uint64_t addr_prof;

    /* version 5: each small bin of a thread cache has its own depth, a
     * uint32_t at tcache_bin_limit + 4 i, that its room counts against */
    uint32_t tcache_bin_limit, tcache_bin_pad;

    /* version 6: where the secret that keys chunk words lives (a word of
     * its own; global_secret is 0 and unused) */
    uint64_t addr_secret;

    /* version 7: an arena's class stores, tcache_classes safe-linked
     * lists (as the fast bins) whose heads start at arena_stores; store k
     * holds chunks of class k's size */
    uint32_t arena_stores, arena_store_bytes;
};
/* What a version-2 descriptor holds: everything before the classes. */
#define PM_LAYOUT_V2_SIZE offsetof(struct pm_layout_desc, tcache_classes)
/* What a version-3 descriptor holds: everything before the limits. */
#define PM_LAYOUT_V3_SIZE offsetof(struct pm_layout_desc, global_limit_soft)
/* What a version-4 descriptor holds: everything before the bins' depths. */
#define PM_LAYOUT_V4_SIZE offsetof(struct pm_layout_desc, tcache_bin_limit)
/* What a version-5 descriptor holds: everything before addr_secret. */
#define PM_LAYOUT_V5_SIZE offsetof(struct pm_layout_desc, addr_secret)
/* What a version-6 descriptor holds: everything before the stores. */
#define PM_LAYOUT_V6_SIZE offsetof(struct pm_layout_desc, arena_stores)

/* ---- the allocation profile (PMALLOC_PROF) ----
 * Fixed-width records in one mapping of their own, so a reader needs no
 * offsets beyond these structs: a table of distinct call stacks (filled
 * once, never emptied) and a table of the sampled blocks still live.
 * In a sampled block's chunk, the size word's bit PM_LAYOUT_SAMPLED_BIT
 * is set while it is live (above any size, so a reader masks it off the
 * size); writers before version 6 set bit 62, and those before that
 * PM_LAYOUT_SAMPLED_BIT_LOW instead (below the alignment, masked off with
 * the other flags). */
#define PM_PROF_MAGIC 0x464f5250414d4d50ull /* "PMMAPROF" little-endian */
#define PM_PROF_VERSION 1u
#define PM_PROF_FRAMES 32u
#define PM_LAYOUT_SAMPLED_BIT ((uint64_t)1 << 49)
#define PM_LAYOUT_SAMPLED_BIT_LOW 0x8u
/* A chunk held free by a thread cache, a fast bin, a store, a remote
 * list or a bin has bit 48 set (chunk.h, PM_HELD_FREE; bit 63 before version 6). */
#define PM_LAYOUT_HELD_FREE_BIT ((uint64_t)1 << 48)
/* A size word's bits from 48 up are never size: the owner's bits and
 * the size tag from version 6, the owner's bits before (no writer makes
 * a chunk of 256 TiB), so masking them off is right for every writer. */
#define PM_LAYOUT_HIGH_BITS (~(uint64_t)0 << 48)
/* From version 6 a thread-cache list ends in this value, not NULL (an
 * empty list's head holds it too). */
#define PM_LAYOUT_TCACHE_END 1u

struct pm_prof_stack {
    uint64_t hash;           /* of the frames; 0: an empty slot */
    uint32_t nframes, pad;
    uint64_t samples;        /* blocks sampled here */
    uint64_t alloc_bytes;    /* estimated bytes allocated here, in all */
    uint64_t alloc_count;    /* estimated allocations here, in all */
    uint64_t frames[PM_PROF_FRAMES]; /* return addresses, innermost first */
};

struct pm_prof_live {
    uint64_t chunk;          /* the sampled block's chunk; 0: an empty slot */
    uint64_t size;           /* bytes requested */
    uint64_t weight;         /* estimated bytes the sample stands for */
    uint32_t stack;          /* index into the stack table */
    uint32_t pad;
};

struct pm_prof_header {
    uint64_t magic;
    uint32_t version;        /* PM_PROF_VERSION */
    uint32_t frames_max;     /* PM_PROF_FRAMES */
    uint32_t stack_size, live_size; /* sizeof the two records */
    uint64_t period;         /* mean bytes between samples; 0: profiling off */
    uint64_t stacks, live;   /* addresses of the tables */
    /* slots of the stack table; records of the block table in use so
     * far (a record whose chunk is 0 is vacant) */
    uint32_t stacks_cap, live_cap;
    uint64_t nstacks, nlive;
    uint64_t dropped;        /* samples lost to full tables */
    uint64_t lock;           /* address of the profile's lock word */
};

/* ---- the memory source ---- */

enum pm_snap_lock {
    PM_SNAP_LOCK_ARENA,   /* addr: the arena */
    PM_SNAP_LOCK_MMAP,    /* the mmapped-chunk list */
    PM_SNAP_LOCK_TCACHE,  /* the thread-cache list; addr: its lock */
};

struct pm_snap_src {
    void *ctx;
    /* Copies len bytes at addr of the inspected process into dst; 0 on
     * success, -1 if any of them cannot be read.  Must never crash. */
    int (*read)(void *ctx, uint64_t addr, void *dst, size_t len);
    /* Optional: vec[i] = 1 if page i of [addr, addr + npages pages) is
     * resident, counting in pages of page_size bytes (the descriptor's,
     * which may differ from the reader's own); 0 on success, -1 when
     * unknown. */
    int (*resident)(void *ctx, uint64_t addr, size_t npages, uint64_t page_size, unsigned char *vec);
    /* Optional: takes (on) or releases (!on) a lock of the inspected
     * process; only an in-process source can. */
    void (*lock)(void *ctx, enum pm_snap_lock which, uint64_t addr, bool on);
    /* Scratch memory for the walker (never the inspected allocator's own
     * heap in-process); NULL on failure.  free gets the same size back. */
    void *(*alloc)(void *ctx, size_t bytes);
    void (*free)(void *ctx, void *p, size_t bytes);
    /* Optional: writes the "mappings" and "process" members (address
     * space and RSS) through the JSON writer; see snapshot_os.c. */
    void (*describe_process)(void *ctx, struct pm_json *j, const uint64_t *ranges, size_t nranges);

    const char *source;     /* "self", "pid" or "core" */
    long pid;               /* of the inspected process, or 0 */
    uint64_t layout_addr;   /* where its pmalloc_layout lives */
    uint64_t time_ms;       /* wall clock of the snapshot, 0 if unknown */
};

/* ---- the walker ---- */

/* Version 2 added "resident" (the resident bytes of pmalloc by what
 * holds them) and, in "process", what smaps says the RSS is made of;
 * version 3 the class stores: bins of kind "store", chunks in state
 * "store" (with their class as "bin") and "store_bytes" in "frag";
 * heapviz reads 1 to 3. */
#define PM_SNAPSHOT_FORMAT_VERSION 3
#define PM_SNAPSHOT_FORMAT_VERSION_MIN 1

/* Walks the whole allocator of the source and writes one JSON snapshot.
 * Returns 0 when a snapshot (possibly marked "partial") was written;
 * -1 when none could be made, with *why set to a one-line reason (the
 * descriptor is missing or of another version, the output failed...). */
int pm_snap_walk(const struct pm_snap_src *src, struct pm_json *out, const char **why);

/* Writes "mappings" (anonymous and [heap] lines of a maps file) and
 * "process" (VM size and RSS from a statm file, and from format version 2
 * what an smaps file says the RSS is made of); any fd may be -1. */
void pm_snap_describe_fds(struct pm_json *j, int maps_fd, int statm_fd, int smaps_fd, uint64_t page_size);

/* Checks a descriptor read from the source; NULL if usable, else why not. */
const char *pm_snap_check_desc(const struct pm_layout_desc *d);

/* ---- walker internals, shared by snapshot_walk.c and snapshot_lists.c ---- */

enum pm_snap_state {
    PM_ST_INUSE, PM_ST_FAST, PM_ST_UNSORTED, PM_ST_SMALL, PM_ST_LARGE,
    PM_ST_TCACHE, PM_ST_REMOTE, PM_ST_TOP, PM_ST_FENCEPOST, PM_ST_FREE_LOST,
    PM_ST_MMAPPED, PM_ST_STORE, PM_ST_COUNT
};
extern const char *const pm_snap_state_name[PM_ST_COUNT];

/* A chunk held on some list: which list, and the bin index or thread id. */
struct pm_snap_entry {
    uint64_t addr;
    uint32_t state;
    uint32_t aux;
};

struct pm_snap_vec {
    struct pm_snap_entry *v;
    size_t n, cap;
};

/* The address range of one heap (or mapping) and the arena it belongs to. */
struct pm_snap_region {
    uint64_t lo, hi;
    uint64_t arena;
};

/* The walker's cache holds blocks of the inspected memory, not pages of
 * it: a block is read whole or not at all, so it must never straddle the
 * end of a mapping.  4 KiB is the smallest page any Linux kernel has and
 * so divides the target's page size, whatever it is (16 KiB, 64 KiB...):
 * every block lies inside one page of the target. */
#define PM_SNAP_CACHE_BLOCK 4096u
#define PM_SNAP_CACHE_BLOCKS 16
#define PM_SNAP_MAX_PROBLEMS 100
#define PM_SNAP_MAX_ARENAS 4096
#define PM_SNAP_MAX_REGIONS 65536

struct pm_snap_walker {
    const struct pm_snap_src *src;
    struct pm_json *j;
    struct pm_layout_desc d;
    uint64_t secret;
    /* a direct-mapped cache of blocks of the inspected memory */
    unsigned char (*cache)[PM_SNAP_CACHE_BLOCK];
    uint64_t cache_tag[PM_SNAP_CACHE_BLOCKS]; /* page address + 1; 0: empty */
    /* every heap of every arena, found before the lists are followed */
    struct pm_snap_region *regions;
    size_t nregions, regions_cap;
    struct pm_snap_vec tcache;   /* chunks in thread caches, by address */
    struct pm_snap_vec lists;    /* the current arena's list chunks */
    /* the page residency of the heap being walked, one byte a page from
     * res_lo (format version 2: "resident" splits it by chunk state) */
    unsigned char *res_vec;
    uint64_t res_lo, res_npages, res_cap;
    bool res_unknown;           /* some residency could not be read */
    bool partial;
    const char *partial_reason;
    bool out_of_memory;
    struct {
        const char *what;
        uint64_t addr;
    } problems[PM_SNAP_MAX_PROBLEMS];
    size_t nproblems, problems_dropped;
};

int pm_snap_read(struct pm_snap_walker *w, uint64_t addr, void *dst, size_t len);
int pm_snap_word(struct pm_snap_walker *w, uint64_t addr, uint64_t *out);
void pm_snap_cache_clear(struct pm_snap_walker *w);
void pm_snap_problem(struct pm_snap_walker *w, const char *what, uint64_t addr);
/* A problem after which what is read next cannot be trusted. */
void pm_snap_stop(struct pm_snap_walker *w, const char *why, uint64_t addr);
void pm_snap_vec_free(struct pm_snap_walker *w, struct pm_snap_vec *v);
const struct pm_snap_entry *pm_snap_find(const struct pm_snap_vec *v, uint64_t addr);
/* Follows every thread cache, filling w->tcache and writing "tcaches". */
void pm_snap_tcaches(struct pm_snap_walker *w);
/* Follows the fast bins, bins and remote frees of an arena (lock held),
 * filling w->lists and writing "bins" and "remote_frees". */
void pm_snap_arena_lists(struct pm_snap_walker *w, uint64_t arena);

/* snapshot_resident.c: writes "resident" (runs of resident pages) and
 * "resident_bytes" for [lo, hi), returning the bytes; with keep, the
 * residency stays for pm_snap_resident_in (the current heap's). */
uint64_t pm_snap_emit_residency(struct pm_snap_walker *w, uint64_t lo, uint64_t hi, bool keep);
/* Resident bytes of [lo, hi) by the residency kept: each resident page
 * counts with the part of it inside the range. */
uint64_t pm_snap_resident_in(const struct pm_snap_walker *w, uint64_t lo, uint64_t hi);

/* snapshot_prof.c: the "profile" member (sampled stacks and blocks),
 * when the descriptor names a profile. */
void pm_snap_profile(struct pm_snap_walker *w);

/* snapshot_header.c: the members before the arenas. */
void pm_snap_emit_header(struct pm_snap_walker *w);
void pm_snap_emit_options(struct pm_snap_walker *w);
void pm_snap_emit_global(struct pm_snap_walker *w);

#endif
