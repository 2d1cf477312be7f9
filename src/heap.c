/* Sub-heaps of the thread arenas: 64 MiB regions aligned to their size,
 * so the heap record of any chunk is found by masking its address.  The
 * whole region is reserved with no access and committed page by page as
 * the heap grows; a shrinking heap gives its pages back and makes them
 * inaccessible again. */
#include "config.h"

#include "heap.h"

#include "os.h"

/* One bit per 64 MiB slot of the address space says whether a live
 * sub-heap starts there, so a pointer that claims to be in a thread arena
 * is checked before its heap record is read.  The pages of this map that
 * are never written cost nothing. */
#define SLOT_BITS 47
#define SLOT_COUNT ((size_t)1 << (SLOT_BITS - 26))
static unsigned long subheap_map[SLOT_COUNT / (8 * sizeof(unsigned long))];

static size_t slot_of(const void *p) { return (uintptr_t)p >> 26; }

static void mark_subheap(struct pm_heap *h, bool live)
{
    size_t slot = slot_of(h);
    if (slot >= SLOT_COUNT)
        return;
    unsigned long bit = 1UL << (slot % (8 * sizeof(unsigned long)));
    unsigned long *word = &subheap_map[slot / (8 * sizeof(unsigned long))];
    if (live)
        __atomic_fetch_or(word, bit, __ATOMIC_RELEASE);
    else
        __atomic_fetch_and(word, ~bit, __ATOMIC_RELEASE);
}

bool pm_subheap_known(const void *p)
{
    size_t slot = slot_of(p);
    if (slot >= SLOT_COUNT)
        return false;
    unsigned long word = __atomic_load_n(&subheap_map[slot / (8 * sizeof(unsigned long))], __ATOMIC_ACQUIRE);
    return (word >> (slot % (8 * sizeof(unsigned long)))) & 1;
}

bool pm_arena_holds(struct pm_arena *a, const void *p, size_t len)
{
    size_t guard = a->nheaps + 1;
    for (struct pm_heap *h = __atomic_load_n(&a->heap, __ATOMIC_ACQUIRE); h != NULL && guard-- > 0;
         h = h->prev)
        if (heap_holds(h, p, len))
            return true;
    return false;
}

bool pm_chunk_owned(struct pm_arena *a, mchunk p, size_t size)
{
    if (a == &pm_main_arena)
        return pm_arena_holds(a, p, size);
    /* A thread arena's chunk lies in the sub-heap its address names. */
    if (!pm_subheap_known(p))
        return false;
    struct pm_heap *h = heap_of_chunk(p);
    return h->arena == a && h->magic == PM_HEAP_MAGIC && heap_holds(h, p, size);
}

/* When a reservation happens to come out aligned, its upper half is an
 * aligned region for free: it is kept here for the next heap. */
static char *spare_region;

static char *reserve_aligned_region(void)
{
    char *spare = __atomic_exchange_n(&spare_region, NULL, __ATOMIC_ACQ_REL);
    if (spare != NULL)
        return spare;
    char *raw = pm_os_map(2 * PM_HEAP_MAX_SIZE, true);
    if (raw == NULL)
        return NULL;
    char *aligned = (char *)align_up((uintptr_t)raw, PM_HEAP_MAX_SIZE);
    size_t lead = (size_t)(aligned - raw);
    if (lead == 0) {
        char *upper = raw + PM_HEAP_MAX_SIZE;
        char *expected = NULL;
        if (!__atomic_compare_exchange_n(&spare_region, &expected, upper, false, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE))
            pm_os_unmap(upper, PM_HEAP_MAX_SIZE);
    } else {
        pm_os_unmap(raw, lead);
        pm_os_unmap(aligned + PM_HEAP_MAX_SIZE, PM_HEAP_MAX_SIZE - lead);
    }
    return aligned;
}

struct pm_heap *pm_heap_new(size_t commit, struct pm_arena *a)
{
    commit = align_up(commit < PM_HEAP_MIN_SIZE ? PM_HEAP_MIN_SIZE : commit, pm_page_size());
    if (commit > PM_HEAP_MAX_SIZE)
        return NULL;
    char *base = reserve_aligned_region();
    if (base == NULL)
        return NULL;
    if (!pm_os_protect(base, commit, true)) {
        pm_os_unmap(base, PM_HEAP_MAX_SIZE);
        return NULL;
    }
    struct pm_heap *h = (struct pm_heap *)base;
    h->arena = a;
    h->prev = NULL;
    h->size = commit;
    h->mprotect_size = commit;
    h->reserved = PM_HEAP_MAX_SIZE;
    h->chunks_start = (char *)align_up((uintptr_t)(h + 1), PM_ALIGNMENT);
    h->kind = PM_HEAP_SUB;
    h->magic = PM_HEAP_MAGIC;
    mark_subheap(h, true);
    return h;
}

bool pm_heap_grow(struct pm_heap *h, size_t diff)
{
    diff = align_up(diff, pm_page_size());
    if (diff > PM_HEAP_MAX_SIZE - h->size)
        return false;
    size_t new_size = h->size + diff;
    if (new_size > h->mprotect_size) {
        if (!pm_os_protect((char *)h + h->mprotect_size, new_size - h->mprotect_size, true))
            return false;
        h->mprotect_size = new_size;
    }
    h->size = new_size;
    return true;
}

bool pm_heap_shrink(struct pm_heap *h, size_t diff)
{
    char *tail = (char *)h + h->size - diff;
    if (!pm_os_discard(tail, diff))
        return false;
    h->size -= diff;
    /* Back to reserved-only, as it was before it grew: a stray access to
     * it faults.  If the kernel refuses, the pages are given back all the
     * same and simply stay accessible. */
    if (h->mprotect_size > h->size && pm_os_protect(tail, h->mprotect_size - h->size, false))
        h->mprotect_size = h->size;
    return true;
}

void pm_heap_unmap(struct pm_heap *h)
{
    /* Nothing can be done if the kernel refuses; the region stays ours
     * but unused, which wastes address space and no memory. */
    h->magic = 0;
    mark_subheap(h, false);
    pm_os_unmap(h, h->reserved);
}
