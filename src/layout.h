/* The layout descriptor (layout.c): pmalloc's record of its own data
 * structures, exported for heapviz. */
#ifndef PMALLOC_LAYOUT_H
#define PMALLOC_LAYOUT_H

#include "snapshot.h"

/* Written only by pm_layout_publish(); read-only for everyone else. */
extern struct pm_layout_desc pmalloc_layout;
/* Fills in the fields known only at run time (the page size); start-up
 * calls it once, before the allocator is marked initialised. */
void pm_layout_publish(void);

#endif
