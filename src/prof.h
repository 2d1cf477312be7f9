/* The allocation profile (PMALLOC_PROF): one block in about every
 * PMALLOC_PROF_SAMPLE bytes allocated is sampled, with its call stack,
 * and followed until it is freed.  The tables live in a mapping of their
 * own (never our heap), described for heapviz by struct pm_prof_header
 * (snapshot.h). */
#ifndef PMALLOC_PROF_H
#define PMALLOC_PROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "chunk.h"
#include "compiler.h"
#include "snapshot.h"

/* A live sampled block's chunk carries this bit in its size word; the
 * free fast path sees a size it does not take and leaves the block to
 * the slow path, which tells the profile. */
#define PM_SAMPLED PM_SAMPLED_CHUNK
_Static_assert(PM_SAMPLED == PM_LAYOUT_SAMPLED_BIT, "heapviz masks the same bit off");

extern struct pm_prof_header pm_prof_header;
/* True once the tables are mapped; only init sets it. */
extern bool pm_prof_on;
/* Bytes the calling thread may still allocate before its next sample. */
extern __thread int64_t pm_prof_left __attribute__((tls_model("initial-exec")));

/* Maps the tables when PMALLOC_PROF asks for them (start-up, before the
 * thread cache's limits are set: header.period says profiling is on). */
void pm_prof_start(void);
/* Readies the unwinder and starts sampling (start-up, once the allocator
 * serves calls). */
void pm_prof_enable(void);
/* The countdown ran out: whether this allocation is to be sampled, and
 * the distance to the next. */
bool pm_prof_next(size_t bytes);
/* Whether an allocation of `bytes` is to be sampled: one subtraction in
 * the common case. */
static inline bool pm_prof_due(size_t bytes)
{
    pm_prof_left -= (int64_t)bytes;
    if (PM_LIKELY(pm_prof_left > 0))
        return false;
    return pm_prof_next(bytes);
}
/* Takes `bytes` off the countdown; true when it ran out (pm_prof_next
 * then decides).  x86-64 gets one subtraction in memory and a branch:
 * the compiler would load, subtract, store and test. */
static inline bool pm_prof_take(size_t bytes)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __asm__ goto("movq pm_prof_left@gottpoff(%%rip), %%rax\n\t"
                 "subq %0, %%fs:(%%rax)\n\t"
                 "jle %l[out]"
                 :
                 : "r"(bytes)
                 : "rax", "cc", "memory"
                 : out);
    return false;
out:
    return true;
#else
    pm_prof_left -= (int64_t)bytes;
    return pm_prof_left <= 0;
#endif
}
/* Records block mem (just allocated, `bytes` requested) as a sample with
 * the caller's stack and marks its chunk. */
void pm_prof_record(void *mem, size_t bytes);
/* A marked chunk is being freed or resized: forgets its sample and
 * clears the mark.  False if no sample is known there (the mark is then
 * a corrupt size). */
bool pm_prof_release(mchunk *p);
static inline bool pm_prof_sampled(mchunk *p) { return (chunk_raw_size(p) & PM_SAMPLED) != 0; }
/* Fork: the profile's lock. */
void pm_prof_lock_all(void);
void pm_prof_unlock_all(bool in_child);

#endif
