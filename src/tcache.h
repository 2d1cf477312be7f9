/* The per-thread cache: small freed chunks kept per thread, handed out
 * again without any lock. */
#ifndef PMALLOC_TCACHE_H
#define PMALLOC_TCACHE_H

#include <stdint.h>
#include <sys/types.h>
#include "chunk.h"

#define PM_TCACHE_BINS 64
/* Bin i holds chunks of size 32 + 16 i: 32..1040 (requests up to 1032). */
#define PM_TCACHE_MAX_CHUNK ((size_t)PM_MINSIZE + (PM_TCACHE_BINS - 1) * PM_ALIGNMENT)

/* A cached chunk's user area: a safe-linked next pointer and a key that
 * marks it as cached, so a second free of it is caught. */
struct pm_tcache_entry {
    struct pm_tcache_entry *next;
    uintptr_t key;
};

struct pm_tcache {
    uint16_t counts[PM_TCACHE_BINS];
    struct pm_tcache_entry *entries[PM_TCACHE_BINS];
    /* Every live thread cache is on one list (under pm_tcache_list_lock)
     * so statistics and heapviz can see the chunks parked in them. */
    struct pm_tcache *next;
    struct pm_tcache *prev;
    pid_t tid;
};

static inline unsigned tcache_index(size_t nb) { return (unsigned)((nb - PM_MINSIZE) >> 4); }
static inline size_t tcache_bin_size(unsigned idx) { return PM_MINSIZE + (size_t)idx * PM_ALIGNMENT; }

#endif
