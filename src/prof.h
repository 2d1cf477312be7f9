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

/* A live sampled block's chunk carries this bit in its size word's top
 * byte, which its owner alone writes (chunk.h); the free fast path sees
 * a size it does not take and leaves the block to the slow path, which
 * tells the profile. */
#define PM_SAMPLED PM_SAMPLED_CHUNK
_Static_assert(PM_SAMPLED == PM_LAYOUT_SAMPLED_BIT, "heapviz masks the same bit off");

extern struct pm_prof_header pm_prof_header PM_HIDDEN;
/* True once the tables are mapped; only init sets it. */
extern bool pm_prof_on PM_HIDDEN;
/* A countdown of the bytes a thread may still allocate before its next
 * sample.  Each thread has two: this one, for what its slow paths serve,
 * and its cache's (pm_tcache.prof_left), which malloc's fast path takes
 * hits off in one subtraction.  The distances are exponential, so the
 * law forgets: two countdowns over two parts of a thread's allocations
 * sample every byte as one would. */
extern __thread int64_t pm_prof_left __attribute__((tls_model("initial-exec")));
/* A countdown not drawn yet (far below anything a draw minus a request
 * reaches): its first allocation draws the first distance. */
#define PM_PROF_UNDRAWN (INT64_MIN / 2)

/* Maps the tables when PMALLOC_PROF asks for them (start-up, before any
 * thread cache exists: header.period says profiling is on, and where a
 * cache's countdown starts). */
void pm_prof_start(void);
/* Readies the unwinder and starts sampling (start-up, once the allocator
 * serves calls). */
void pm_prof_enable(void);
/* Without a profile, a cache's countdown paces the idle return's looks
 * instead (trim.c, pm_trim_idle_look, which starts it again): the first
 * comes this many bytes into the cache's hits. */
#define PM_LOOK_FIRST_BYTES ((int64_t)4096)
/* Where a new countdown starts: undrawn while profiling, at the first
 * look otherwise. */
static inline int64_t pm_prof_initial_left(void)
{
    return pm_prof_header.period != 0 ? PM_PROF_UNDRAWN : PM_LOOK_FIRST_BYTES;
}
/* The countdown *left ran out in an allocation of `bytes` already taken
 * off it: whether this allocation is to be sampled; sets the distance to
 * the next. */
bool pm_prof_next(int64_t *left, size_t bytes);
/* Whether an allocation of `bytes` is to be sampled, on the thread's own
 * countdown: one subtraction in the common case. */
static inline bool pm_prof_due(size_t bytes)
{
    pm_prof_left -= (int64_t)bytes;
    if (PM_LIKELY(pm_prof_left > 0))
        return false;
    return pm_prof_next(&pm_prof_left, bytes);
}
/* Takes `bytes` off the countdown `left` (an lvalue) and jumps to
 * `label` when it ran out: on x86-64 one subtraction in memory and a
 * branch, what malloc's fast path can afford.  The countdown is the
 * statement's one output (asm goto with outputs: GCC 11, clang 11), so
 * the compiler keeps what it read of the cache before it in registers. */
#if defined(__x86_64__) && defined(__GNUC__)
#define PM_PROF_TAKE_OR_GOTO(left, bytes, label)                                                                      \
    __asm__ goto("subq %[b], %[l]\n\tjle %l[" #label "]" : [l] "+m"(left) : [b] "r"((int64_t)(bytes)) : "cc" : label)
#else
#define PM_PROF_TAKE_OR_GOTO(left, bytes, label)                                                                      \
    do {                                                                                                           \
        (left) -= (int64_t)(bytes);                                                                                \
        if (PM_UNLIKELY((left) <= 0))                                                                              \
            goto label;                                                                                            \
    } while (0)
#endif
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
