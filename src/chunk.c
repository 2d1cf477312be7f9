/* The one datum of the chunk layer: the secret that keys chunk words
 * (chunk.h).  Zero until init.c draws it, before the first chunk. */
#include "config.h"

#include "chunk.h"

uintptr_t pm_chunk_secret;
