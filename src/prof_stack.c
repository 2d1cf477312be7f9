/* Unwinding for the allocation profile.  With libunwind (its local-only
 * unw_backtrace: it caches what it reads of the unwind tables in memory
 * it maps itself and never calls malloc once set up) every frame is
 * found, whatever the compiler did with the frame pointer.  Without it,
 * the frame-pointer chain, followed only while each link lies above the
 * last within the stack's reach, so code built without frame pointers
 * ends the walk early instead of sending it anywhere. */
#include "config.h"

#include "prof_stack.h"

#include <dlfcn.h>
#include <link.h>
#include <stdbool.h>
#include <string.h>

/* The unwinder, once a profile has started: libunwind's unw_backtrace,
 * or NULL (frame pointers then).  The shared library opens libunwind by
 * its soname only then, so a process without a profile maps neither it
 * nor what it needs (configure.ac says why).  In libpmalloc.a (libtool
 * builds the shared objects with PIC defined) the reference is weak: a
 * static link goes without libunwind unless the program links it. */
typedef int (*pm_unwind_fn)(void **frames, int max);
static pm_unwind_fn unwinder;

#if HAVE_LIBUNWIND
#ifdef PIC
static pm_unwind_fn find_unwinder(void)
{
    void *lib = dlopen(PM_UNWIND_SONAME, RTLD_NOW | RTLD_LOCAL);
    return lib != NULL ? (pm_unwind_fn)dlsym(lib, "unw_backtrace") : NULL;
}
#else
extern int unw_backtrace(void **frames, int max) __attribute__((weak));
static pm_unwind_fn find_unwinder(void) { return unw_backtrace; }
#endif
#else
static pm_unwind_fn find_unwinder(void) { return NULL; }
#endif

static pm_unwind_fn current_unwinder(void) { return __atomic_load_n(&unwinder, __ATOMIC_ACQUIRE); }

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

/* Called once, as the profile starts (prof.c), with sampling held off:
 * dlopen and libunwind's first walk may allocate. */
void pm_prof_stack_init(void)
{
    dl_iterate_phdr(find_own, (void *)(uintptr_t)pm_prof_stack_init);
    pm_unwind_fn fn = find_unwinder();
    /* the first call reads the unwind tables' locations: do it now, not
     * in the first sampled malloc */
    void *warm[4];
    if (fn != NULL)
        fn(warm, 4);
    __atomic_store_n(&unwinder, fn, __ATOMIC_RELEASE);
}

const char *pm_prof_unwinder(void) { return current_unwinder() != NULL ? "libunwind" : "frame pointers"; }

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
    pm_unwind_fn fn = current_unwinder();
    if (fn != NULL) {
        void *raw[RAW_FRAMES];
        int n = fn(raw, (int)raw_limit(max));
        return keep_callers((const uintptr_t *)raw, n > 0 ? (size_t)n : 0, frames, max);
    }
    return frame_pointer_walk(frames, max);
}
