/* Arena choice: thread arenas and their list, choosing an arena for a
 * thread, another when it is out of memory, and releasing it at thread
 * exit.  The list lock (pm_global.list_lock) covers the list and each
 * arena's count of attached threads; no code takes it while it holds an
 * arena lock.
 *
 * The free memory of every arena is one pool: an arena no thread is
 * attached to (its threads exited, or moved on) is idle, and lends its
 * free space.  A new thread takes the idle arena with the most free space
 * before a new arena is made; a thread about to grow its heap moves to an
 * idle arena that may hold what it asks for (sysmalloc.c declines the
 * growth, pm_arena_retry moves it). */
#include "config.h"

#include "arena.h"

#include "bins.h"
#include "core.h"
#include "heap.h"
#include "sysmalloc.h"
#include "thread.h"

/* An estimate of an arena's free space need not see every free chunk:
 * the bins' walk stops after this many (fast bins and stores are
 * counted by fast_bytes and store_bytes, top by its size). */
#define ESTIMATE_MAX_CHUNKS 512

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
    pm_link_hint_clear(a);
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

/* The idle arena (no thread attached) other than `avoid` with the most
 * free space, or NULL; list lock held. */
static struct pm_arena *roomiest_idle_arena(struct pm_arena *avoid)
{
    struct pm_arena *best = NULL;
    struct pm_arena *a = &pm_main_arena;
    do {
        if (a != avoid && a->attached_threads == 0 &&
            (best == NULL || a->pool_free > best->pool_free))
            best = a;
        a = a->next;
    } while (a != &pm_main_arena);
    return best;
}

struct estimate_walk {
    size_t bytes, chunks;
};

static bool estimate_visit(void *ctx, enum pm_bins_list list, unsigned idx, mchunk *p)
{
    (void)list;
    (void)idx;
    struct estimate_walk *w = ctx;
    if (w->chunks >= ESTIMATE_MAX_CHUNKS)
        return false;
    w->chunks++;
    w->bytes += chunk_size(p);
    return true;
}

/* A list the walk cannot follow is the heap walker's to report. */
static void estimate_problem(void *ctx, enum pm_bins_problem what, const void *where)
{
    (void)ctx;
    (void)what;
    (void)where;
}

/* Sets the estimate of the free space an arena can lend, when its last
 * thread leaves it; what other threads left on its remote list is freed
 * first, so it counts.  No lock held. */
static void estimate_free_space(struct pm_arena *a)
{
    pm_lock_arena(a);
    struct estimate_walk w = {0, 0};
    const struct pm_bins_visitor v = {estimate_visit, estimate_problem, &w, true, 0, NULL};
    pm_bins_walk(a, &v);
    __atomic_store_n(&a->pool_free, w.bytes + a->fast_bytes + a->store_bytes + top_size(a), __ATOMIC_RELAXED);
    pm_unlock(&a->lock);
}

static struct pm_arena *choose_arena(void)
{
    pm_lock(&pm_global.list_lock);
    struct pm_arena *a = roomiest_idle_arena(NULL);
    if (a == NULL && may_create_arena())
        a = arena_new();
    if (a == NULL)
        a = least_shared_arena(NULL);
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
    estimate_free_space(a);
    pm_lock(&pm_global.list_lock);
    a->attached_threads--;
    pm_unlock(&pm_global.list_lock);
}

/* Moves the calling thread from `from`, which would have to grow, to the
 * idle arena with the most free space; returns it locked, or NULL when
 * no arena is idle. */
static struct pm_arena *move_to_idle_arena(struct pm_arena *from)
{
    bool attached = from == pm_thread_arena;
    if (attached) {
        /* Its exit hook must run wherever it goes (an early thread, the
         * first one, was never attached by choice). */
        pm_thread_watch();
        estimate_free_space(from);
    }
    pm_lock(&pm_global.list_lock);
    struct pm_arena *to = roomiest_idle_arena(from);
    if (to != NULL) {
        to->attached_threads++;
        if (attached) {
            from->attached_threads--;
            pm_thread_arena = to;
        }
    }
    pm_unlock(&pm_global.list_lock);
    if (to != NULL)
        pm_lock_arena(to);
    return to;
}

struct pm_arena *pm_arena_retry(struct pm_arena *failed)
{
    enum pm_growth why = (enum pm_growth)pm_thread_growth;
    bool declined = why == PM_GROWTH_DECLINED;
    /* The retried request grows its arena if it must: it is the last. */
    pm_thread_growth = PM_GROWTH_ALLOWED;
    struct pm_arena *a;
    if (why == PM_GROWTH_LIMITED) {
        /* Memory went back near a limit: now grow where it was asked. */
        pm_lock_arena(failed);
        return failed;
    }
    if (declined) {
        a = move_to_idle_arena(failed);
        if (a == NULL) {
            /* The hint was stale: grow where the request was. */
            a = failed;
            pm_lock_arena(a);
        }
        return a;
    }
    if (failed != &pm_main_arena) {
        /* A full sub-heap space: the main arena can still use brk. */
        a = &pm_main_arena;
    } else {
        pm_lock(&pm_global.list_lock);
        a = roomiest_idle_arena(failed);
        if (a == NULL && may_create_arena())
            a = arena_new();
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
    struct pm_arena *a = &pm_main_arena;
    do {
        a->attached_threads = a == pm_thread_arena ? 1 : 0;
        a = a->next;
    } while (a != &pm_main_arena);
}
