/* The hardened mode (hardened.c): tagged blocks, ownership checks before
 * any header is trusted, and a poisoned quarantine. */
#ifndef PMALLOC_HARDENED_H
#define PMALLOC_HARDENED_H

#include <stdbool.h>
#include <stddef.h>
#include "chunk.h"
#include "options.h"

void pm_hardened_tag(void *mem);
/* What the program may use of a tagged block. */
size_t pm_hardened_usable(mchunk *p);
/* free() in the hardened mode: checks, poisons and quarantines. */
void pm_hardened_free(void *mem);
/* The quarantine's lock, for fork. */
void pm_hardened_lock_all(void);
void pm_hardened_unlock_all(bool in_fork_child);

/* A new block, before it is handed out: the hardened mode tags it. */
static inline void *pm_new_block(void *mem)
{
    if (__builtin_expect(pm_opt.hardened, 0) && mem != NULL)
        pm_hardened_tag(mem);
    return mem;
}

#endif
