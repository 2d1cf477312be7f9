/* Micro benchmark bodies, written in C so they exercise whichever malloc
 * the process uses (injected with LD_PRELOAD).  micro_shim.cc registers
 * every entry of pm_micro_cases with google-benchmark, and instr_count.c
 * runs the same bodies under callgrind.
 *
 * A body runs `iters` iterations of its case; what one iteration is (one
 * malloc/free pair, one block of a batch, one realloc growth sequence) is
 * fixed per case, and `calls_per_iter` says how many allocator calls it
 * makes.  Bodies whose case has `batch` > 1 need iters to be a multiple of
 * it. */
#ifndef PM_MICRO_CASES_H
#define PM_MICRO_CASES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pm_micro_ctx {
    int thread_index;   /* 0 .. threads-1 */
    int threads;        /* threads running the same case at once */
};

typedef void (*pm_micro_fn)(const struct pm_micro_ctx *ctx, size_t arg, uint64_t iters);
typedef void (*pm_micro_hook)(size_t arg);

struct pm_micro_case {
    const char *name;       /* google-benchmark name, e.g. "pair/64" */
    const char *short_name; /* instr_count name, or NULL if not offered */
    pm_micro_fn fn;
    size_t arg;
    uint64_t batch;         /* iterations per body call (a multiple of it) */
    unsigned calls_per_iter;/* malloc-family + free calls per iteration */
    int threaded;           /* run with 1, 2, 4 and 8 threads */
    pm_micro_hook setup;    /* before the first run (may be NULL) */
    pm_micro_hook teardown; /* after the last run (may be NULL) */
};

extern const struct pm_micro_case pm_micro_cases[];
extern const size_t pm_micro_ncases;

/* Looks a case up by short_name; NULL if there is none. */
const struct pm_micro_case *pm_micro_find(const char *short_name);

/* Allocator calls per iteration of a case. */
unsigned pm_micro_calls(const struct pm_micro_case *c);

#ifdef __cplusplus
}
#endif

#endif
