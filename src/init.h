/* Start-up (init.c).  Every exported entry point makes sure of it first. */
#ifndef PMALLOC_INIT_H
#define PMALLOC_INIT_H

#include "compiler.h"
#include "state.h"

void pm_init_slow(void);
/* Cheap to call on every entry. */
static inline void pm_ensure_init(void)
{
    if (PM_UNLIKELY(!pm_initialised()))
        pm_init_slow();
}

#endif
