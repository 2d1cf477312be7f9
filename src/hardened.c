/* The hardened mode (PMALLOC_HARDENED=1, or ./configure --enable-hardened):
 * checks that cost more than the always-on ones and stop the attacks they
 * leave open.
 *
 * - Every block ends with a tag derived from its address, its size and the
 *   process secret.  Enlarging a size field to make chunks overlap, or
 *   overrunning the block into the next header, breaks the tag.
 * - A freed pointer must lie inside one of our heaps or be one of our
 *   mappings, so a fake chunk built elsewhere is refused before anything
 *   trusts its header.
 * - Freed blocks are poisoned and held in a quarantine before they are
 *   really freed, which delays reuse (use after free lands on poison, not
 *   on a new object), catches a write after free when the block leaves the
 *   quarantine, and catches a double free while it is inside.
 * - Mapped chunks get a guard page after them (mmap_chunk.c).
 * The thread cache is off in this mode, so every free passes here. */
#include "config.h"

#include "hardened.h"

#include <string.h>
#include "alloc.h"
#include "corrupt.h"
#include "heap.h"
#include "mmap_chunk.h"
#include "state.h"

#define QUARANTINE_SLOTS 1024
#define QUARANTINE_BYTES ((size_t)8 * 1024 * 1024)
#define POISON_BYTE 0xdf
/* Poison is verified up to this many bytes of each block, so a huge
 * block does not make its eviction slow. */
#define POISON_CHECK_LIMIT ((size_t)64 * 1024)
#define QUARANTINED_MARK ((uintptr_t)0x5155415241ULL)

static pm_lock_t quarantine_lock = PM_LOCK_INITIALIZER(PM_LOCK_RANK_QUARANTINE);
static void *quarantine[QUARANTINE_SLOTS];
static size_t q_first, q_count, q_bytes;

static uintptr_t tag_for(mchunk *p, bool quarantined)
{
    /* PREV_INUSE and the owner's bits change while the block lives: leave
     * them out.  Address and size are mixed separately before they meet,
     * so that a neighbour's tag (address + d, size - d) never equals this
     * block's. */
    uintptr_t v = (uintptr_t)p * (uintptr_t)0x9e3779b97f4a7c15ULL;
    v ^= (chunk_size_and_flags(p) & ~PM_PREV_INUSE) * (uintptr_t)0xc2b2ae3d27d4eb4fULL;
    v ^= pm_chunk_secret;
    v ^= v >> 29;
    v *= (uintptr_t)0xbf58476d1ce4e5b9ULL;
    return quarantined ? v ^ QUARANTINED_MARK : v;
}

void pm_hardened_tag(void *mem)
{
    mchunk *p = mem_chunk(mem);
    *chunk_tag_slot(p) = tag_for(p, false);
}

size_t pm_hardened_usable(mchunk *p) { return chunk_usable(p) - PM_SIZE_SZ; }

/* True if the whole chunk lies inside one heap of some arena. */
static bool in_some_heap(mchunk *p)
{
    struct pm_arena *a = &pm_main_arena;
    do {
        bool found = false;
        pm_lock(&a->lock);
        found = arena_bit(a) == (chunk_raw_size(p) & PM_NON_MAIN_ARENA) && pm_arena_holds(a, p, chunk_size(p));
        pm_unlock(&a->lock);
        if (found)
            return true;
        a = arena_next(a);
    } while (a != &pm_main_arena);
    return false;
}

static void check_owned(mchunk *p)
{
    bool ours = chunk_is_mmapped(p) ? pm_mmap_owns(p) : in_some_heap(p);
    if (PM_UNLIKELY(!ours))
        pm_corruption("free(): pointer is not a block of this heap (hardened)", chunk_mem(p));
}

static void evict(void *mem)
{
    mchunk *p = mem_chunk(mem);
    if (PM_UNLIKELY(*chunk_tag_slot(p) != tag_for(p, true)))
        pm_corruption("free(): quarantined block's tag overwritten (hardened)", mem);
    size_t n = pm_hardened_usable(p);
    if (n > POISON_CHECK_LIMIT)
        n = POISON_CHECK_LIMIT;
    const unsigned char *b = mem;
    for (size_t i = 0; i < n; i++)
        if (PM_UNLIKELY(b[i] != POISON_BYTE))
            pm_corruption("write after free detected (hardened)", b + i);
    pm_free_chunk(mem);
}

void pm_hardened_free(void *mem)
{
    if (PM_UNLIKELY(!ptr_aligned(mem)))
        pm_corruption("free(): invalid pointer", mem);
    mchunk *p = mem_chunk(mem);
    check_owned(p);
    uintptr_t tag = *chunk_tag_slot(p);
    if (PM_UNLIKELY(tag == tag_for(p, true)))
        pm_corruption("free(): double free detected in quarantine (hardened)", mem);
    if (PM_UNLIKELY(tag != tag_for(p, false)))
        pm_corruption("free(): block size or trailing tag corrupted (hardened)", mem);

    /* A mapping given back faults on any later touch: better than
     * poison, and it costs no copy of a large block. */
    if (chunk_is_mmapped(p)) {
        pm_free_chunk(mem);
        return;
    }
    size_t n = pm_hardened_usable(p);
    memset(mem, POISON_BYTE, n);
    *chunk_tag_slot(p) = tag_for(p, true);

    void *evicted[2];
    unsigned nevicted = 0;
    pm_lock(&quarantine_lock);
    quarantine[(q_first + q_count) % QUARANTINE_SLOTS] = mem;
    q_count++;
    q_bytes += chunk_size(p);
    while (nevicted < 2 && (q_count > QUARANTINE_SLOTS - 1 || q_bytes > QUARANTINE_BYTES)) {
        void *old = quarantine[q_first];
        q_first = (q_first + 1) % QUARANTINE_SLOTS;
        q_count--;
        q_bytes -= chunk_size(mem_chunk(old));
        evicted[nevicted++] = old;
    }
    pm_unlock(&quarantine_lock);
    /* Really freed outside the quarantine's lock: freeing takes arena
     * locks, which come first in the lock order. */
    for (unsigned i = 0; i < nevicted; i++)
        evict(evicted[i]);
}

void pm_hardened_lock_all(void) { pm_lock(&quarantine_lock); }

void pm_hardened_unlock_all(bool in_fork_child) { pm_lock_after_fork(&quarantine_lock, in_fork_child); }
