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
 * is checked before its heap record is read.
 *
 * The kernel may map a sub-heap anywhere in user space: below 2^47 on
 * x86-64 by default, up to 2^48 on arm64 (where mmap starts near the
 * top), up to 2^57 with 5-level page tables when asked.  So the map is
 * two-level over the whole 57-bit space, the most any Linux gives a
 * process: a root of 1024 pointers to leaves of 2^21 bits, each leaf
 * covering 2^47 bytes.  The first leaf is static, so a process that lives
 * below 2^47 never maps one (its pages that are never written cost
 * nothing); the others are mapped from the OS layer (no malloc) the first
 * time a sub-heap lands in their range, installed with a compare-and-swap
 * and never freed, so readers need no lock: one acquire load of the root
 * entry, one of the word.  Asking the kernel for addresses below 2^47
 * with a hint was the other way; but a hint is only a hint (the kernel
 * ignores it when the range is taken), and arm64 puts every mapping above
 * 2^47 unless told otherwise. */
#define SLOT_SHIFT 26 /* log2(PM_HEAP_MAX_SIZE) */
#define LEAF_SLOT_BITS 21
#define ROOT_BITS (57 - SLOT_SHIFT - LEAF_SLOT_BITS)
#define WORD_BITS (8 * sizeof(unsigned long))
#define LEAF_WORDS (((size_t)1 << LEAF_SLOT_BITS) / WORD_BITS)
#define LEAF_BYTES (LEAF_WORDS * sizeof(unsigned long))

static unsigned long first_leaf[LEAF_WORDS];
static unsigned long *subheap_leaves[(size_t)1 << ROOT_BITS] = {first_leaf};

/* The word of p's slot and its bit; NULL past 57 bits, or when the leaf
 * is not there and may not be made. */
static unsigned long *slot_word(const void *p, unsigned long *bit, bool make)
{
    uintptr_t slot = (uintptr_t)p >> SLOT_SHIFT;
    uintptr_t root = slot >> LEAF_SLOT_BITS, in_leaf = slot & (((uintptr_t)1 << LEAF_SLOT_BITS) - 1);
    if (root >= ((uintptr_t)1 << ROOT_BITS))
        return NULL;
    unsigned long *leaf = __atomic_load_n(&subheap_leaves[root], __ATOMIC_ACQUIRE);
    if (leaf == NULL && make) {
        size_t bytes = align_up(LEAF_BYTES, pm_page_size());
        unsigned long *fresh = pm_os_map(bytes, false);
        if (fresh == NULL)
            return NULL;
        if (__atomic_compare_exchange_n(&subheap_leaves[root], &leaf, fresh, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            leaf = fresh;
        else
            pm_os_unmap(fresh, bytes); /* another thread's leaf won */
    }
    if (leaf == NULL)
        return NULL;
    *bit = 1UL << (in_leaf % WORD_BITS);
    return &leaf[in_leaf / WORD_BITS];
}

bool pm_subheap_mark(const void *base, bool live)
{
    unsigned long bit;
    unsigned long *word = slot_word(base, &bit, live);
    if (word == NULL)
        return !live;
    if (live)
        __atomic_fetch_or(word, bit, __ATOMIC_RELEASE);
    else
        __atomic_fetch_and(word, ~bit, __ATOMIC_RELEASE);
    return true;
}

bool pm_subheap_known(const void *p)
{
    unsigned long bit;
    const unsigned long *word = slot_word(p, &bit, false);
    return word != NULL && (__atomic_load_n(word, __ATOMIC_ACQUIRE) & bit) != 0;
}

/* The heap of the arena that holds [p, p+len), or NULL. */
static struct pm_heap *heap_holding(struct pm_arena *a, const void *p, size_t len)
{
    size_t guard = a->nheaps + 1;
    for (struct pm_heap *h = __atomic_load_n(&a->heap, __ATOMIC_ACQUIRE); h != NULL && guard-- > 0;
         h = h->prev)
        if (heap_holds(h, p, len))
            return h;
    return NULL;
}

bool pm_arena_holds(struct pm_arena *a, const void *p, size_t len) { return heap_holding(a, p, len) != NULL; }

size_t pm_arena_metadata_bytes(struct pm_arena *a)
{
    size_t bytes = 0, guard = a->nheaps + 1;
    for (struct pm_heap *h = a->heap; h != NULL && guard-- > 0; h = h->prev)
        bytes += (size_t)(h->chunks_start - (char *)h) + (h != a->heap ? PM_FENCEPOST_SIZE : 0);
    return bytes;
}

/* A thread arena's chunk lies in the sub-heap its address names.  Out of
 * line: the map lookup needs registers the main arena's test does not. */
static __attribute__((noinline)) bool subheap_chunk_owned(struct pm_arena *a, mchunk *p, size_t size)
{
    if (!pm_subheap_known(p))
        return false;
    struct pm_heap *h = heap_of_chunk(p);
    return h->arena == a && h->magic == PM_HEAP_MAGIC && heap_holds(h, p, size);
}

bool pm_chunk_owned(struct pm_arena *a, mchunk *p, size_t size)
{
    if (a == &pm_main_arena)
        return pm_arena_holds(a, p, size);
    return subheap_chunk_owned(a, p, size);
}

/* A list link checked against the sub-heap map cost one lookup per link
 * followed into an older heap (+48% instructions on macro_churn): the
 * older heap that held the last such chunk becomes the hint.  The main
 * arena has older heaps too once brk fails (heaps in mmap'd regions
 * then, found by a walk of its list, not by the address): under valgrind,
 * whose brk stops at 8 MiB, python3's links walked that list 1.8 million
 * times, 97 million instructions of the 728 million pmalloc spent. */
bool pm_chunk_owned_locked_slow(struct pm_arena *a, mchunk *p, size_t size)
{
    struct pm_heap *h;
    if (a == &pm_main_arena) {
        h = heap_holding(a, p, size);
        if (h == NULL)
            return false;
    } else {
        if (!subheap_chunk_owned(a, p, size))
            return false;
        h = heap_of_chunk(p);
    }
    /* only an older heap: its end stays put (the newest one's moves) */
    if (h != a->heap) {
        a->owned_hint = h;
        a->owned_hint_lo = (uintptr_t)h->chunks_start;
        a->owned_hint_last = (uintptr_t)heap_end(h) - sizeof(struct pm_chunk);
    }
    return true;
}

void pm_link_hint_clear(struct pm_arena *a)
{
    a->owned_hint = NULL;
    a->owned_hint_lo = UINTPTR_MAX;
    a->owned_hint_last = 0;
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
    if (!pm_subheap_mark(h, true)) {
        h->magic = 0;
        pm_os_unmap(base, PM_HEAP_MAX_SIZE);
        return NULL;
    }
    return h;
}

bool pm_heap_grow(struct pm_heap *h, size_t diff)
{
    diff = align_up(diff, pm_page_size());
    if (diff > h->reserved - h->size)
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
    if (h->arena != NULL && h->arena->owned_hint == h)
        pm_link_hint_clear(h->arena);
    pm_subheap_mark(h, false);
    pm_os_unmap(h, h->reserved);
}
