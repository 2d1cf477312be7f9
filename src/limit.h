/* Memory limits (limit.c): the cgroup v2 limits of the process and
 * PMALLOC_MEMORY_LIMIT / PMALLOC_MEMORY_LIMIT_HARD, consulted before a
 * heap grows or a block is mapped. */
#ifndef PMALLOC_LIMIT_H
#define PMALLOC_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include "compiler.h"
#include "state.h"

/* Finds the process's cgroup and reads its limits; at start-up, after
 * the options. */
void pm_limit_init(void);

enum pm_limit_verdict {
    PM_LIMIT_OK,   /* grow */
    PM_LIMIT_NEAR, /* near the soft limit: return memory first */
    PM_LIMIT_HARD, /* the growth would pass the hard limit */
};

enum pm_limit_verdict pm_limit_check_slow(size_t grow);

/* What growing by `grow` bytes from the system would meet.  One load and
 * a compare until the memory held comes near a limit, or has grown a
 * step since the limits were last read. */
static inline enum pm_limit_verdict pm_limit_check(size_t grow)
{
    size_t total = __atomic_load_n(&pm_global.system_total, __ATOMIC_RELAXED);
    size_t next = __atomic_load_n(&pm_global.limit_next_check, __ATOMIC_RELAXED);
    if (PM_LIKELY(total < next && grow < next - total))
        return PM_LIMIT_OK;
    return pm_limit_check_slow(grow);
}

#endif
