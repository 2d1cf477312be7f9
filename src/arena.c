/* Arena choice: thread arenas and their list, choosing an arena for a
 * thread, another when it is out of memory, and releasing it at thread
 * exit.  The list lock (pm_global.list_lock) covers the list, the free
 * list and each arena's count of attached threads; no code takes it while
 * it holds an arena lock. */
#include "config.h"

#include "arena.h"

#include "bins.h"
#include "heap.h"
#include "sysmalloc.h"
#include "thread.h"

/* Arenas whose threads have all exited, ready for a new thread. */
static struct pm_arena *free_arenas;

/* The model's rule: no limit while few arenas exist, then 8 per CPU,
 * unless M_ARENA_MAX says otherwise. */
static bool may_create_arena(void)
{
    size_t n = pm_global.narenas;
    if (pm_opt.arena_max != 0)
        return n < pm_opt.arena_max;
    if (n <= pm_opt.arena_test)
        return true;
    return n < 8 * pm_global.ncpus;
}

/* A new arena lives at the start of its first sub-heap. */
static struct pm_arena *arena_new(void)
{
    size_t header = sizeof(struct pm_heap) + sizeof(struct pm_arena) + 2 * PM_ALIGNMENT;
    struct pm_heap *h = pm_heap_new(header + pm_opt.top_pad + PM_MINSIZE, NULL);
    if (h == NULL)
        return NULL;
    struct pm_arena *a = (struct pm_arena *)align_up((uintptr_t)(h + 1), PM_ALIGNMENT);
    __builtin_memset(a, 0, sizeof *a);
    pm_lock_init(&a->lock, PM_LOCK_RANK_ARENA);
    pm_bins_init(a);
    /* Its heaps lie wherever mmap puts them, in no order. */
    a->flags = PM_ARENA_NONCONTIGUOUS;
    a->index = (unsigned)pm_global.narenas;
    h->arena = a;
    h->chunks_start = (char *)align_up((uintptr_t)(a + 1), PM_ALIGNMENT);
    pm_install_heap(a, h);

    a->next = pm_main_arena.next;
    __atomic_store_n(&pm_main_arena.next, a, __ATOMIC_RELEASE);
    pm_global.narenas++;
    return a;
}

/* Among existing arenas, the one fewest threads share; an unlocked one
 * wins a tie. */
static struct pm_arena *least_shared_arena(struct pm_arena *avoid)
{
    struct pm_arena *best = NULL;
    bool best_free = false;
    struct pm_arena *a = &pm_main_arena;
    do {
        if (a != avoid) {
            bool unlocked = false;
            if (best == NULL || a->attached_threads <= best->attached_threads) {
                if (pm_trylock(&a->lock) == 0) {
                    pm_unlock(&a->lock);
                    unlocked = true;
                }
            }
            if (best == NULL || a->attached_threads < best->attached_threads ||
                (a->attached_threads == best->attached_threads && unlocked && !best_free)) {
                best = a;
                best_free = unlocked;
            }
        }
        a = a->next;
    } while (a != &pm_main_arena);
    return best;
}

static struct pm_arena *choose_arena(void)
{
    pm_lock(&pm_global.list_lock);
    struct pm_arena *a = free_arenas;
    if (a != NULL)
        free_arenas = a->next_free;
    else if (may_create_arena())
        a = arena_new();
    if (a == NULL)
        a = least_shared_arena(NULL);
    a->next_free = NULL;
    a->attached_threads++;
    pm_unlock(&pm_global.list_lock);
    return a;
}

struct pm_arena *pm_arena_attach(void)
{
    struct pm_arena *a = choose_arena();
    pm_thread_arena = a;
    pm_thread_watch();
    return a;
}

void pm_arena_detach(void)
{
    struct pm_arena *a = pm_thread_arena;
    if (a == NULL)
        return;
    pm_thread_arena = NULL;
    pm_lock(&pm_global.list_lock);
    if (--a->attached_threads == 0 && a != &pm_main_arena) {
        a->next_free = free_arenas;
        free_arenas = a;
    }
    pm_unlock(&pm_global.list_lock);
}

struct pm_arena *pm_arena_retry(struct pm_arena *failed)
{
    struct pm_arena *a;
    if (failed != &pm_main_arena) {
        /* A full sub-heap space: the main arena can still use brk. */
        a = &pm_main_arena;
    } else {
        pm_lock(&pm_global.list_lock);
        a = may_create_arena() ? arena_new() : NULL;
        if (a == NULL)
            a = least_shared_arena(failed);
        pm_unlock(&pm_global.list_lock);
        if (a == NULL)
            return NULL;
    }
    pm_lock(&a->lock);
    return a;
}

void pm_arena_fork_child(void)
{
    free_arenas = NULL;
    struct pm_arena *a = &pm_main_arena;
    do {
        a->attached_threads = a == pm_thread_arena ? 1 : 0;
        if (a->attached_threads == 0 && a != &pm_main_arena) {
            a->next_free = free_arenas;
            free_arenas = a;
        }
        a = a->next;
    } while (a != &pm_main_arena);
}
