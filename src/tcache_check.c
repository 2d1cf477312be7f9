/* The heap walker's part for the calling thread's cache.  As the arenas'
 * walker, it trusts nothing it reads: a pointer is range-checked against
 * the heaps before its chunk is read, and every list walk is bounded by
 * its count. */
#include "config.h"

#include "tcache_check.h"

#include "heap.h"
#include "tcache.h"

struct cache_walk {
    pm_problem_fn report;
    size_t problems;
};

static void problem(struct cache_walk *w, const char *what, const void *addr)
{
    w->problems++;
    w->report(NULL, what, addr);
}

/* The arena whose heaps hold [p, p+size), found from the address alone
 * (a thread arena's chunk lies in the live sub-heap its address names),
 * or NULL. */
static struct pm_arena *owner_of(mchunk *p, size_t size)
{
    if (pm_arena_holds(&pm_main_arena, p, size))
        return &pm_main_arena;
    if (!pm_subheap_known(p))
        return NULL;
    struct pm_arena *a = heap_of_chunk(p)->arena;
    return pm_chunk_owned(a, p, size) ? a : NULL;
}

static void check_list(struct cache_walk *w, struct pm_tcache_entry *head, size_t count, size_t size)
{
    size_t seen = 0;
    for (struct pm_tcache_entry *e = head; tcache_more(e); e = tcache_link(&e->next, e->next)) {
        if (++seen > count) {
            problem(w, "thread cache list longer than its count", e);
            return;
        }
        mchunk *p = mem_chunk(e);
        struct pm_arena *a = ptr_aligned(e) && (uintptr_t)e >= PM_CHUNK_HDR ? owner_of(p, size) : NULL;
        if (a == NULL) {
            problem(w, "thread cache holds a pointer outside the heaps", e);
            return;
        }
        if (chunk_size(p) != size || chunk_is_mmapped(p))
            problem(w, "thread cache chunk of the wrong size", e);
        if (chunk_non_main(p) != (a != &pm_main_arena))
            problem(w, "NON_MAIN_ARENA flag does not match the arena", e);
        if (!chunk_held_mark_ok(p))
            problem(w, "thread cache chunk is not marked held free", e);
        if (!chunk_prev_inuse(chunk_at(p, size)))
            problem(w, "thread cache chunk is not marked in use", e);
    }
    if (seen != count)
        problem(w, "thread cache list shorter than its count", head);
}

size_t pm_tcache_check(bool abort_on_problem)
{
    struct pm_tcache *t = pm_tcache_get();
    if (t == NULL)
        return 0;
    struct cache_walk w = {pm_check_sink(abort_on_problem), 0};
    for (unsigned idx = 0; idx < PM_TCACHE_BINS; idx++) {
        if (t->room[idx] > (int32_t)t->bin_limit[idx])
            problem(&w, "thread cache bin has more room than depth", &t->room[idx]);
        else
            check_list(&w, t->entries[idx], pm_tcache_count(t, idx), tcache_bin_size(idx));
    }
    for (unsigned k = 0; k < PM_TCACHE_CLASSES; k++)
        check_list(&w, t->class_entries[k], t->class_count[k], tcache_class_size(k));
    return w.problems;
}
