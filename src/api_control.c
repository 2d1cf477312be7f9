/* The control and inquiry part of the API: usable size, mallopt,
 * malloc_trim, and pmalloc's own version and heap check. */
#include "config.h"

#include <malloc.h>
#include <pmalloc.h>
#include "tcache_check.h"
#include "core.h"
#include "hardened.h"
#include "init.h"
#include "memcheck.h"
#include "snapshot_self.h"
#include "sysmalloc.h"
#include "tcache.h"
#include "trim.h"

PM_EXPORT size_t malloc_usable_size(void *mem)
{
    if (mem == NULL)
        return 0;
    if (!pm_vg())
        pm_check_header_mapped(mem, "malloc_usable_size(): invalid pointer (not mapped)");
    pm_vg_enter();
    mchunk *p = mem_chunk(mem);
    size_t usable = chunk_is_mmapped(p) || chunk_inuse(p) ? chunk_usable(p) : 0;
    if (pm_opt.hardened && usable != 0)
        usable = pm_hardened_usable(p);
    pm_vg_leave();
    return usable;
}

PM_EXPORT int mallopt(int param, int value)
{
    pm_ensure_init();
    pm_vg_enter();
    /* Fast bins and class stores are emptied, and the option changed,
     * with every arena locked, so no thread can file a chunk under the
     * old M_MXFAST or size classes that the new ones would strand. */
    pm_lock(&pm_global.list_lock);
    struct pm_arena *a = &pm_main_arena;
    do {
        pm_lock(&a->lock);
        pm_merge_held(a);
        a = arena_next(a);
    } while (a != &pm_main_arena);
    int ok = pm_options_set(param, value);
    pm_tcache_refresh_limits();
    do {
        pm_unlock(&a->lock);
        a = arena_next(a);
    } while (a != &pm_main_arena);
    pm_unlock(&pm_global.list_lock);
    pm_vg_leave();
    return ok;
}

PM_EXPORT int malloc_trim(size_t pad)
{
    pm_ensure_init();
    pm_vg_enter();
    bool released = pm_trim_all(pad);
    debug_check();
    pm_vg_leave();
    return released ? 1 : 0;
}

PM_EXPORT int pmalloc_snapshot(int fd)
{
    pm_ensure_init();
    return pm_snapshot_write(fd);
}

PM_EXPORT const char *pmalloc_version(void)
{
    return PACKAGE_VERSION;
}

PM_EXPORT size_t pmalloc_check(void)
{
    pm_ensure_init();
    pm_vg_enter();
    size_t problems = pm_check_heap_and_cache(false);
    pm_vg_leave();
    return problems;
}


PM_EXPORT int __libc_mallopt(int param, int value) PM_ALIAS(mallopt);
