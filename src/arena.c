/* Arena records: the main arena, thread arenas and their list, choosing
 * an arena for a thread, releasing it at thread exit, and keeping every
 * lock sane across fork.
 *
 * Lock order: pm_global.list_lock, then arena locks in list order, then
 * the mmapped-chunk list, then the thread-cache list, then the hardened
 * mode's quarantine.  No code takes the
 * list lock while it holds an arena lock. */
#include "internal.h"

#include "tcache.h"

struct pm_arena pm_main_arena = {
    .lock = PM_LOCK_INITIALIZER,
    .next = &pm_main_arena,
    .attached_threads = 1,
};

struct pm_global pm_global = {
    .list_lock = PM_LOCK_INITIALIZER,
    .narenas = 1,
    .heap_lo = UINTPTR_MAX,
    .heap_hi = 0,
};

/* The arena this thread allocates from; NULL until its first call. */
__thread struct pm_arena *pm_thread_arena __attribute__((tls_model("initial-exec")));

/* Arenas whose threads have all exited, ready for a new thread. */
static struct pm_arena *free_arenas;

void pm_arena_init(struct pm_arena *a)
{
    for (unsigned i = 1; i < PM_NBINS; i++) {
        mchunk bin = bin_at(a, i);
        chunk_set_fd(bin, bin);
        chunk_set_bk(bin, bin);
    }
}

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
    pm_lock_reinit(&a->lock);
    pm_arena_init(a);
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

/* Every allocator lock is taken before fork, so the child never inherits
 * one held by a thread that does not exist in it. */
void pm_fork_prepare(void)
{
    if (__atomic_load_n(&pm_init_state, __ATOMIC_ACQUIRE) != 2)
        return;
    pm_lock(&pm_global.list_lock);
    struct pm_arena *a = &pm_main_arena;
    do {
        pm_lock(&a->lock);
        a = a->next;
    } while (a != &pm_main_arena);
    pm_mmap_lock_all();
    pm_tcache_lock_all();
    pm_hardened_lock_all();
}

static void release_all(bool reinit)
{
    pm_hardened_unlock_all(reinit);
    pm_tcache_unlock_all(reinit);
    pm_mmap_unlock_all(reinit);
    struct pm_arena *a = &pm_main_arena;
    do {
        if (reinit)
            pm_lock_reinit(&a->lock);
        else
            pm_unlock(&a->lock);
        a = a->next;
    } while (a != &pm_main_arena);
    if (reinit)
        pm_lock_reinit(&pm_global.list_lock);
    else
        pm_unlock(&pm_global.list_lock);
}

void pm_fork_parent(void)
{
    if (__atomic_load_n(&pm_init_state, __ATOMIC_ACQUIRE) == 2)
        release_all(false);
}

/* Only the forking thread lives on in the child: every other arena is
 * free for the child's future threads, and the other threads' caches are
 * given back to their arenas. */
void pm_fork_child(void)
{
    if (__atomic_load_n(&pm_init_state, __ATOMIC_ACQUIRE) != 2)
        return;
    release_all(true);
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
    pm_tcache_adopt_orphans();
}
