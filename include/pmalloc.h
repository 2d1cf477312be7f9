/* pmalloc: a ptmalloc-style malloc replacement with a heap you can see.
 *
 * Link with -lpmalloc (pkg-config pmalloc), link libpmalloc.a statically,
 * or run any program with LD_PRELOAD=libpmalloc.so (pmalloc-run PROGRAM).
 * The standard malloc family is replaced; <malloc.h> declares the glibc
 * extensions (mallopt, mallinfo2, malloc_info, ...), which pmalloc
 * implements with glibc's semantics. */
#ifndef PMALLOC_H
#define PMALLOC_H

#include <stddef.h>
#include <stdio.h>
#include <malloc.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PMALLOC_VERSION_MAJOR 0
#define PMALLOC_VERSION_MINOR 1
#define PMALLOC_VERSION_PATCH 0

/* mallopt parameters of pmalloc's own (glibc's M_ constants work too). */
#define PMALLOC_M_TCACHE_COUNT (-100) /* chunks per thread-cache bin, 0..65535; 0 disables; other threads follow at their next cache miss or full bin */
#define PMALLOC_M_TCACHE_MAX   (-101) /* largest request the thread cache keeps, 0..524272 (default 256 KiB) */
#define PMALLOC_M_TCACHE_BYTES (-102) /* bytes a thread keeps in the cache's classes above 1032 bytes, 0..1 GiB (default 2 MiB) */
#define PMALLOC_M_DECAY_MS     (-103) /* ms a free page stays before it goes back to the system; 0 at once, -1 never (default) */
#define PMALLOC_M_DECAY_MADV_FREE (-104) /* 1: give pages back with MADV_FREE instead of MADV_DONTNEED */

/* "MAJOR.MINOR.PATCH" of the library actually loaded. */
const char *pmalloc_version(void);

/* Walks every arena, heap, bin and mmapped chunk and checks every
 * invariant (boundary tags, flags, bin membership and order, binmap, top,
 * totals).  Each problem found is written to stderr; the heap is never
 * changed and the call never aborts.  Returns the number of problems. */
size_t pmalloc_check(void);

/* ---- heapviz snapshots (owner: heapviz) ---- */
/* Writes a JSON snapshot of the whole allocator to fd: options, every
 * arena with its heaps and every chunk in address order with its state,
 * every bin in list order, the thread caches, the mmapped chunks,
 * statistics and fragmentation figures (format: doc/heapviz.md).  Takes
 * each arena's lock in turn; allocates nothing from the heap it shows.
 * Returns 0, or -1 with errno set.  PMALLOC_SNAPSHOT_AT_EXIT=path (%p:
 * the process id) writes one at exit; heapviz reads and draws them. */
int pmalloc_snapshot(int fd);
/* ---- end heapviz ---- */

#ifdef __cplusplus
}
#endif

#endif
