/* Sub-heaps of the thread arenas (heap.c), and the one test of whether a
 * range of memory lies in an arena's heaps. */
#ifndef PMALLOC_HEAP_H
#define PMALLOC_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include "corrupt.h"
#include "os.h"
#include "state.h"

/* A new 64 MiB-aligned sub-heap with `commit` bytes accessible, owned by
 * a (NULL while the arena record itself is being placed in it). */
struct pm_heap *pm_heap_new(size_t commit, struct pm_arena *a);
/* Commit or give back diff bytes at the end of a heap that lies in a
 * reservation of its own (a sub-heap, or a main-arena heap mmap'd when brk
 * failed). */
bool pm_heap_grow(struct pm_heap *h, size_t diff);
bool pm_heap_shrink(struct pm_heap *h, size_t diff);
void pm_heap_unmap(struct pm_heap *h);
/* True if a live sub-heap holds the 64 MiB slot of p; any value of p is
 * safe, and lock-free. */
bool pm_subheap_known(const void *p);
/* Records that a sub-heap starting at base is live (or no longer is).
 * Marking fails only if the map cannot cover base: above 2^57 (no Linux
 * maps user memory there), or no memory for the map's leaf. */
bool pm_subheap_mark(const void *base, bool live);

/* True if [p, p+len) lies inside the chunk space of heap h. */
static inline bool heap_holds(const struct pm_heap *h, const void *p, size_t len)
{
    const char *lo = h->chunks_start, *hi = heap_end(h);
    return (const char *)p >= lo && (const char *)p < hi && len <= (size_t)(hi - (const char *)p);
}

/* True if [p, p+len) lies inside one of the arena's heaps; the walk is
 * bounded by the arena's heap count, so a corrupt list cannot hang it.
 * The caller holds the arena's lock, or reads a main arena whose heap
 * list only ever grows at its head. */
bool pm_arena_holds(struct pm_arena *a, const void *p, size_t len);

/* Whether mem is an aligned address inside the range every heap of every
 * arena lies in (pm_global.heap_lo and heap_hi): the fast paths of free
 * and realloc read a header only then. */
static inline bool pm_in_heap_range(const void *mem)
{
    return (uintptr_t)mem >= pm_global.heap_lo && (uintptr_t)mem < pm_global.heap_hi && ptr_aligned(mem);
}

/* The header of a block the program hands back (free, realloc,
 * malloc_usable_size) is read only where it can be: inside the heap
 * range, or else (a mapped chunk) in a mapped page.  A pointer into no
 * mapping, a mapped block freed twice after its munmap among them, stops
 * at `check` with its address rather than a SIGSEGV in the allocator.
 * One mincore per mapped chunk's free, beside its munmap. */
static inline void pm_check_header_mapped(void *mem, const char *check)
{
    if (!pm_in_heap_range(mem) && !pm_os_mapped((char *)mem - PM_CHUNK_HDR))
        pm_corruption(check, mem);
}

/* Bytes of the arena's heaps that are no chunk at all: each heap's record
 * (and a thread arena's own record) before its first chunk, and the
 * fencepost pair that closes each heap but the newest.  Lock held. */
size_t pm_arena_metadata_bytes(struct pm_arena *a);

/* The common case of pm_chunk_owned, inline: [p, p+size) lies in the
 * arena's newest heap below its top, where every chunk of that heap but
 * top lies (for a thread arena, that is the sub-heap p's address names,
 * so the full test would pass too).  Two compares against two fields of
 * the arena: every list link and every free of the arena path takes this
 * test.  With no heap, newest_lo is the highest address and top NULL, so
 * nothing passes. */
static inline bool in_newest_heap(const struct pm_arena *a, mchunk *p, size_t size)
{
    return (uintptr_t)p >= a->newest_lo && (uintptr_t)p <= (uintptr_t)a->top - size;
}

/* True if the chunk [p, p+size) lies inside one of the arena's heaps (for
 * a thread arena, inside the heap its address names), checked without
 * trusting anything the chunk says about itself. */
bool pm_chunk_owned(struct pm_arena *a, mchunk *p, size_t size);
/* The same for a caller holding the arena's lock (its heap list then
 * stays put while it is walked).  The older heap that last held such a
 * chunk is tried first, inline: links into older heaps mostly land in the
 * one the last did. */
bool pm_chunk_owned_locked_slow(struct pm_arena *a, mchunk *p, size_t size);
static inline bool pm_chunk_owned_locked(struct pm_arena *a, mchunk *p, size_t size)
{
    /* the hint's range ends a whole chunk record before the heap does, so
     * it holds [p, p+size) for any size up to that */
    return (size <= sizeof(struct pm_chunk) && (uintptr_t)p >= a->owned_hint_lo &&
            (uintptr_t)p <= a->owned_hint_last) ||
           pm_chunk_owned_locked_slow(a, p, size);
}
/* Forgets the hint (a new arena, or its heap going). */
void pm_link_hint_clear(struct pm_arena *a);

#endif
