/* Giving memory back to the system, in one place: malloc_trim calls it,
 * and so does the allocation path when growth comes near a memory limit
 * (limit.c). */
#include "config.h"

#include "trim.h"

#include "core.h"
#include "sysmalloc.h"
#include "tcache.h"

bool pm_trim_all(size_t pad)
{
    bool released = false;
    struct pm_arena *a = &pm_main_arena;
    do {
        pm_lock_arena(a);
        pm_consolidate(a);
        if (a != &pm_main_arena)
            released |= pm_unmap_empty_heaps(a);
        released |= pm_systrim(a, pad);
        released |= pm_discard_free_pages(a);
        pm_unlock(&a->lock);
        a = arena_next(a);
    } while (a != &pm_main_arena);
    return released;
}

void pm_trim_for_limit(void)
{
    struct pm_tcache *t = pm_tcache_get();
    if (t != NULL)
        pm_tcache_release_classes(t);
    pm_trim_all(0);
}
