/* The layout descriptor (layout.c): pmalloc's record of its own data
 * structures, exported for heapviz. */
#ifndef PMALLOC_LAYOUT_H
#define PMALLOC_LAYOUT_H

#include "snapshot.h"

extern const struct pm_layout_desc pmalloc_layout;

#endif
