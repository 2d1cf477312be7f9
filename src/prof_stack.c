/* Unwinding for the allocation profile.  With libunwind (its local-only
 * unw_backtrace: it caches what it reads of the unwind tables in memory
 * it maps itself and never calls malloc once set up) every frame is
 * found, whatever the compiler did with the frame pointer.  Without it,
 * the frame-pointer chain, followed only while each link lies above the
 * last within the stack's reach, so code built without frame pointers
 * ends the walk early instead of sending it anywhere. */
#include "config.h"

#include "prof_stack.h"

#include <link.h>
#include <stdbool.h>
#include <string.h>

/* Only the shared library is linked with libunwind (libtool builds its
 * objects with PIC defined): in libpmalloc.a the reference may stay
 * unresolved, so a static link goes without libunwind and the libraries
 * libunwind.a needs, with frame pointers then. */
#if HAVE_LIBUNWIND
#ifdef PIC
extern int unw_backtrace(void **frames, int max);
#define HAVE_UNWINDER() true
#else
extern int unw_backtrace(void **frames, int max) __attribute__((weak));
#define HAVE_UNWINDER() (unw_backtrace != NULL)
#endif
#endif

/* The executable segment of the object this file is linked into; in a
 * static link that is the program itself, whose frames must stay. */
static uintptr_t own_lo, own_hi;

static int find_own(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    uintptr_t self = (uintptr_t)data;
    for (unsigned i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || self < lo || self >= lo + ph->p_memsz)
            continue;
        if (info->dlpi_name != NULL && info->dlpi_name[0] != 0) {
            own_lo = lo;
            own_hi = lo + ph->p_memsz;
        }
        return 1;
    }
    return 0;
}

void pm_prof_stack_init(void)
{
    dl_iterate_phdr(find_own, (void *)(uintptr_t)pm_prof_stack_init);
#if HAVE_LIBUNWIND
    /* the first call reads the unwind tables' locations: do it now, not
     * in the first sampled malloc */
    void *warm[4];
    if (HAVE_UNWINDER())
        unw_backtrace(warm, 4);
#endif
}

const char *pm_prof_unwinder(void)
{
#if HAVE_LIBUNWIND
    if (HAVE_UNWINDER())
        return "libunwind";
#endif
    return "frame pointers";
}

/* Copies the frames after the allocator's own into frames. */
static size_t keep_callers(const uintptr_t *raw, size_t n, uint64_t *frames, size_t max)
{
    size_t i = 0;
    while (i < n && raw[i] >= own_lo && raw[i] < own_hi)
        i++;
    size_t kept = 0;
    for (; i < n && kept < max; i++)
        frames[kept++] = raw[i];
    return kept;
}

/* The allocator's own frames under its caller's (malloc, the sampling
 * path, the unwinder's entry) are never more than this: a walk stops
 * this far past the frames kept, where each step costs the unwinder a
 * lookup. */
#define OWN_FRAMES_MAX 8
#define RAW_FRAMES 64

static size_t raw_limit(size_t max) { return max + OWN_FRAMES_MAX < RAW_FRAMES ? max + OWN_FRAMES_MAX : RAW_FRAMES; }

/* A frame link is believed while it lies above the previous one by less
 * than this: a larger step is no frame of this stack. */
#define FRAME_REACH ((uintptr_t)1 << 20)

__attribute__((noinline)) static size_t frame_pointer_walk(uint64_t *frames, size_t max)
{
    uintptr_t raw[RAW_FRAMES];
    uintptr_t *fp = __builtin_frame_address(0);
    uintptr_t sp = (uintptr_t)&raw[0];
    size_t n = 0, limit = raw_limit(max);
    while (n < limit && fp != NULL) {
        uintptr_t at = (uintptr_t)fp;
        if (at < sp || at - sp > FRAME_REACH || (at & (sizeof(uintptr_t) - 1)) != 0)
            break;
        uintptr_t ret = fp[1];
        if (ret == 0)
            break;
        raw[n++] = ret;
        sp = at + 2 * sizeof(uintptr_t);
        fp = (uintptr_t *)fp[0];
    }
    return keep_callers(raw, n, frames, max);
}

size_t pm_prof_backtrace(uint64_t *frames, size_t max)
{
#if HAVE_LIBUNWIND
    if (HAVE_UNWINDER()) {
        void *raw[RAW_FRAMES];
        int n = unw_backtrace(raw, (int)raw_limit(max));
        return keep_callers((const uintptr_t *)raw, n > 0 ? (size_t)n : 0, frames, max);
    }
#endif
    return frame_pointer_walk(frames, max);
}
