/* realloc's slow path for a live block (resize.c). */
#ifndef PMALLOC_RESIZE_H
#define PMALLOC_RESIZE_H

#include <stddef.h>

/* Resizes the block at oldmem to a chunk of nb bytes for a request of
 * `bytes`, in place or moved; NULL (the block untouched) when no memory
 * is left.  Aborts on a pointer that is no live block.  No lock held. */
void *pm_resize_block(void *oldmem, size_t bytes, size_t nb);

#endif
