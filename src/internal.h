/* Every internal interface of the library at once, for the unit tests,
 * which link the static library and reach into any room.  No file of the
 * library includes it: each includes the rooms it uses (scripts/layers.sh
 * checks that they only ever use rooms on their own floor or below). */
#ifndef PMALLOC_INTERNAL_H
#define PMALLOC_INTERNAL_H

#include "config.h"

#include "compiler.h"
#include "chunk.h"
#include "log.h"
#include "os.h"
#include "options.h"
#include "lock.h"
#include "corrupt.h"
#include "state.h"
#include "memcheck.h"
#include "bins.h"
#include "heap.h"
#include "mmap_chunk.h"
#include "thread.h"
#include "sysmalloc.h"
#include "tcache_check.h"
#include "core.h"
#include "arena.h"
#include "tcache.h"
#include "trim.h"
#include "limit.h"
#include "alloc.h"
#include "hardened.h"
#include "layout.h"
#include "resize.h"
#include "snapshot_self.h"
#include "fork.h"
#include "init.h"
#include "report.h"

#endif
