/* Arena records: the main arena, the arena list, choosing an arena for a
 * thread, and keeping every lock sane across fork. */
#include "internal.h"

struct pm_arena pm_main_arena = {
    .lock = PM_LOCK_INITIALIZER,
    .next = &pm_main_arena,
};

struct pm_global pm_global = {
    .list_lock = PM_LOCK_INITIALIZER,
    .narenas = 1,
};

void pm_arena_init(struct pm_arena *a)
{
    for (unsigned i = 1; i < PM_NBINS; i++) {
        mchunk bin = bin_at(a, i);
        chunk_set_fd(bin, bin);
        chunk_set_bk(bin, bin);
    }
}

struct pm_arena *pm_arena_for_thread(void)
{
    return &pm_main_arena;
}

struct pm_arena *pm_arena_retry(struct pm_arena *failed, size_t nb)
{
    (void)failed;
    (void)nb;
    return NULL;
}

/* Every allocator lock is taken before fork, so the child never inherits
 * one held by a thread that does not exist in it.  Order: the list lock,
 * then each arena in list order, then the mmapped-chunk list. */
void pm_fork_prepare(void)
{
    if (__atomic_load_n(&pm_init_state, __ATOMIC_ACQUIRE) != 2)
        return;
    pm_lock(&pm_global.list_lock);
    struct pm_arena *a = &pm_main_arena;
    do {
        pm_lock(&a->lock);
        a = arena_next(a);
    } while (a != &pm_main_arena);
    pm_mmap_lock_all();
}

static void release_all(bool reinit)
{
    pm_mmap_unlock_all(reinit);
    struct pm_arena *a = &pm_main_arena;
    do {
        if (reinit)
            pm_lock_reinit(&a->lock);
        else
            pm_unlock(&a->lock);
        a = arena_next(a);
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

void pm_fork_child(void)
{
    if (__atomic_load_n(&pm_init_state, __ATOMIC_ACQUIRE) == 2)
        release_all(true);
}
