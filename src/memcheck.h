/* Telling valgrind's memcheck about pmalloc's blocks, so that under
 * valgrind a program on pmalloc gets the same leak, invalid-access and
 * invalid-free reports as on glibc.
 *
 * Under valgrind the thread cache is off, and every call runs with error
 * reporting disabled while the allocator reads its own metadata: chunk
 * headers and free chunks are marked inaccessible to the program, so an
 * overrun into them is reported, but the allocator itself must be allowed
 * to read them.  Outside valgrind all of this is one predictable branch on
 * the slow paths, and nothing at all when the headers are missing. */
#ifndef PMALLOC_MEMCHECK_H
#define PMALLOC_MEMCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include "state.h"

#ifdef HAVE_VALGRIND_MEMCHECK_H
#include <valgrind/memcheck.h>
#define PM_VG_BUILT 1
#else
#define PM_VG_BUILT 0
#define RUNNING_ON_VALGRIND 0
#define VALGRIND_DISABLE_ERROR_REPORTING do { } while (0)
#define VALGRIND_ENABLE_ERROR_REPORTING do { } while (0)
#define VALGRIND_MALLOCLIKE_BLOCK(addr, size, rz, zeroed) do { (void)(addr); (void)(size); } while (0)
#define VALGRIND_FREELIKE_BLOCK(addr, rz) do { (void)(addr); } while (0)
#define VALGRIND_MAKE_MEM_NOACCESS(addr, len) do { (void)(addr); (void)(len); } while (0)
#define VALGRIND_MAKE_MEM_DEFINED(addr, len) do { (void)(addr); (void)(len); } while (0)
#define VALGRIND_GET_VBITS(addr, bits, len) 0
#endif

/* True only under memcheck: other valgrind tools (callgrind counting
 * instructions, helgrind) must see the normal fast paths.  Reading the
 * validity bits of a local succeeds only where memcheck keeps them. */
static inline bool pm_vg_detect_memcheck(void)
{
    if (!RUNNING_ON_VALGRIND)
        return false;
    volatile char probe = 0;
    char vbits = 0;
    return VALGRIND_GET_VBITS(&probe, &vbits, 1) == 1;
}

/* Under memcheck every block is followed by this many inaccessible bytes
 * of its own chunk, so an overrun is reported against the right block and
 * the arena's pointers to the next chunk are not taken for pointers into
 * this one. */
#define PM_VG_REDZONE 16

static inline bool pm_vg(void) { return __builtin_expect(pm_global.on_valgrind, 0); }

static inline void pm_vg_enter(void)
{
    if (pm_vg())
        VALGRIND_DISABLE_ERROR_REPORTING;
}
static inline void pm_vg_leave(void)
{
    if (pm_vg())
        VALGRIND_ENABLE_ERROR_REPORTING;
}
/* The program may now use [mem, mem+n).  The size word just below stays
 * readable: free's fast path reads it before it knows to step aside. */
static inline void pm_vg_block(void *mem, size_t n, bool zeroed)
{
    if (pm_vg() && mem != NULL) {
        VALGRIND_MALLOCLIKE_BLOCK(mem, n, PM_VG_REDZONE, zeroed);
        VALGRIND_MAKE_MEM_DEFINED((char *)mem - sizeof(size_t), sizeof(size_t));
    }
}
static inline void pm_vg_unblock(void *mem)
{
    if (pm_vg() && mem != NULL)
        VALGRIND_FREELIKE_BLOCK(mem, PM_VG_REDZONE);
}
/* Memory the allocator has just obtained belongs to no block yet. */
static inline void pm_vg_reserve(void *addr, size_t len)
{
    if (pm_vg())
        VALGRIND_MAKE_MEM_NOACCESS(addr, len);
}

#endif
