/* The aligned members of the malloc family: memalign, aligned_alloc,
 * posix_memalign, valloc and pvalloc, each with its own rules for a bad
 * alignment, as glibc documents them. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <malloc.h>
#include "alloc.h"
#include "tcache_check.h"
#include "hardened.h"
#include "init.h"
#include "memcheck.h"
#include "os.h"

/* alignment: a power of two. */
static void *aligned_core(size_t alignment, size_t bytes)
{
    if (alignment < PM_MINSIZE)
        alignment = PM_MINSIZE;
    size_t nb;
    if (bytes > PM_MAX_REQUEST - alignment - PM_MINSIZE || !request_size(bytes, &nb)) {
        errno = ENOMEM;
        return NULL;
    }
    void *mem = NULL;
    bool tried_mmap = false;
    if (mmap_allowed(nb)) {
        mem = pm_mmap_alloc(nb, alignment);
        tried_mmap = true;
    }
    if (mem == NULL)
        mem = pm_with_arena(pm_op_memalign, nb, alignment);
    if (mem == NULL && !tried_mmap && pm_mmap_count() < pm_opt.mmap_max)
        mem = pm_mmap_alloc(nb, alignment);
    if (mem == NULL)
        errno = ENOMEM;
    else
        pm_perturb_alloc(mem, bytes);
    debug_check();
    return pm_new_block(mem);
}

static void *aligned_chunk(size_t alignment, size_t bytes)
{
    if (alignment <= PM_ALIGNMENT)
        return malloc(bytes);
    pm_ensure_init();
    if (PM_LIKELY(!pm_vg()))
        return aligned_core(alignment, bytes);
    pm_vg_enter();
    void *mem = aligned_core(alignment, bytes);
    pm_vg_leave();
    pm_vg_block(mem, bytes, false);
    return mem;
}

static bool power_of_two(size_t v) { return v != 0 && (v & (v - 1)) == 0; }

PM_EXPORT void *memalign(size_t alignment, size_t bytes)
{
    if (alignment > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (!power_of_two(alignment)) {
        /* memalign rounds a non-power-of-two alignment up, as glibc does */
        size_t a = PM_MINSIZE;
        while (a < alignment)
            a <<= 1;
        alignment = a;
    }
    return aligned_chunk(alignment, bytes);
}

PM_EXPORT void *aligned_alloc(size_t alignment, size_t bytes)
{
    if (!power_of_two(alignment) || alignment > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    return aligned_chunk(alignment, bytes);
}

PM_EXPORT int posix_memalign(void **out, size_t alignment, size_t bytes)
{
    if (alignment % sizeof(void *) != 0 || !power_of_two(alignment) || alignment > SIZE_MAX / 2 + 1)
        return EINVAL;
    int saved_errno = errno;
    void *mem = aligned_chunk(alignment, bytes);
    errno = saved_errno;
    if (mem == NULL)
        return ENOMEM;
    *out = mem;
    return 0;
}

PM_EXPORT void *valloc(size_t bytes)
{
    return aligned_chunk(pm_page_size(), bytes);
}

PM_EXPORT void *pvalloc(size_t bytes)
{
    size_t page = pm_page_size();
    if (bytes > SIZE_MAX - page) {
        errno = ENOMEM;
        return NULL;
    }
    size_t rounded = align_up(bytes ? bytes : 1, page);
    return aligned_chunk(page, rounded);
}


PM_EXPORT void *__libc_memalign(size_t alignment, size_t bytes) PM_ALIAS(memalign);
PM_EXPORT void *__libc_valloc(size_t bytes) PM_ALIAS(valloc);
PM_EXPORT void *__libc_pvalloc(size_t bytes) PM_ALIAS(pvalloc);
