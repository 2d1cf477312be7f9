/* Fork: every allocator lock is taken before fork, in the lock order
 * (lock.h), so the child never inherits one held by a thread that does
 * not exist in it; both processes then let them go, and the child gives
 * back what the vanished threads held.  Each kind of lock has one helper
 * here; the modules that own a lock export only its lock/unlock pair. */
#include "config.h"

#include "fork.h"

#include "arena.h"
#include "hardened.h"
#include "mmap_chunk.h"
#include "prof.h"
#include "state.h"
#include "tcache.h"
#include "background.h"

static void lock_arenas(void)
{
    struct pm_arena *a = &pm_main_arena;
    do {
        pm_lock(&a->lock);
        a = arena_next(a);
    } while (a != &pm_main_arena);
}

static void release_arenas(bool in_child)
{
    struct pm_arena *a = &pm_main_arena;
    do {
        pm_lock_after_fork(&a->lock, in_child);
        a = arena_next(a);
    } while (a != &pm_main_arena);
}

void pm_fork_prepare(void)
{
    if (!pm_initialised())
        return;
    pm_lock(&pm_global.list_lock);
    lock_arenas();
    pm_mmap_lock_all();
    pm_tcache_lock_all();
    pm_hardened_lock_all();
    pm_prof_lock_all();
}

/* In the reverse order of pm_fork_prepare. */
static void release_all(bool in_child)
{
    pm_prof_unlock_all(in_child);
    pm_hardened_unlock_all(in_child);
    pm_tcache_unlock_all(in_child);
    pm_mmap_unlock_all(in_child);
    release_arenas(in_child);
    pm_lock_after_fork(&pm_global.list_lock, in_child);
}

void pm_fork_parent(void)
{
    if (pm_initialised())
        release_all(false);
}

/* Only the forking thread lives on in the child: every other arena is
 * free for the child's future threads, and the other threads' caches are
 * given back to their arenas. */
void pm_fork_child(void)
{
    if (!pm_initialised())
        return;
    release_all(true);
    pm_arena_fork_child();
    pm_tcache_adopt_orphans();
    pm_background_fork_child();
}
