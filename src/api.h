/* What the exported entry points (api*.c) share: the slow paths of malloc
 * and free, which the other entry files call too. */
#ifndef PMALLOC_API_H
#define PMALLOC_API_H

#include <stddef.h>

void *pm_malloc_slow(size_t bytes);
void pm_free_slow(void *mem);

#endif
