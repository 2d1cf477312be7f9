/* Helpers shared by the white-box tests (unit, stress, fault): they link
 * the static library, so they can look at the chunk headers and the bins of
 * the main arena directly.  Single-threaded use only: the walkers below read
 * the arena without taking its lock. */
#ifndef PMALLOC_TEST_HELPERS_H
#define PMALLOC_TEST_HELPERS_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <malloc.h>
#include <pmalloc.h>

#include "harness.h"
#include "internal.h"
#include "os.h"

/* gcc 12 warns when a pointer to freshly malloc'ed (uninitialised) memory
 * is passed as `const void *` (mem_chunk, csize): these tests do that on
 * purpose, to look at the header in front of the block. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#define MAIN (&pm_main_arena)

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)

/* Hides where a pointer came from, so the compiler neither warns about
 * nor optimises on reads of the header in front of a malloc'ed block or
 * writes past the requested size (within malloc_usable_size). */
static inline void *launder(void *p)
{
    __asm__ volatile("" : "+r"(p));
    return p;
}

/* The same for a size: keeps the compiler from rejecting a call with an
 * impossible constant size (-Walloc-size-larger-than) that a test makes on
 * purpose. */
static inline size_t hide(size_t v)
{
    __asm__ volatile("" : "+r"(v));
    return v;
}

/* The chunk of a user pointer (mem_chunk, through launder). */
static inline mchunk *hdr(const void *mem) { return mem_chunk(launder((void *)mem)); }

/* Bytes from a fixed pattern for (seed, i); cheap, and different for
 * neighbouring seeds so a block overwritten by its neighbour shows. */
static inline unsigned char pat_byte(uint64_t seed, size_t i)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + i;
    x ^= x >> 29;
    return (unsigned char)(x ^ (x >> 8));
}

static inline void pat_fill(void *p, size_t n, uint64_t seed)
{
    unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        c[i] = pat_byte(seed, i);
}

/* Returns the first offset that does not hold the pattern, or n. */
static inline size_t pat_check(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != pat_byte(seed, i))
            return i;
    return n;
}

static inline bool all_bytes(const void *p, size_t n, unsigned char v)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != v)
            return false;
    return true;
}

/* The chunk size (without flags) of a user pointer. */
static inline size_t csize(const void *mem) { return chunk_size(hdr(mem)); }

/* True if the chunk is linked into bin i of arena a. */
static inline bool chunk_in_bin(struct pm_arena *a, unsigned i, mchunk *p)
{
    mchunk *b = bin_at(a, i);
    size_t guard = 0;
    for (mchunk *q = bin_first(b); q != b; q = chunk_fd(q)) {
        if (q == p)
            return true;
        if (++guard > 10000000)
            break;
    }
    return false;
}

/* The bin (1 = unsorted, 2..126) that holds p, or -1 if none does. */
static inline int chunk_bin(struct pm_arena *a, mchunk *p)
{
    for (unsigned i = 1; i < PM_NBINS; i++)
        if (chunk_in_bin(a, i, p))
            return (int)i;
    return -1;
}

static inline size_t bin_count(struct pm_arena *a, unsigned i)
{
    mchunk *b = bin_at(a, i);
    size_t n = 0;
    for (mchunk *q = bin_first(b); q != b; q = chunk_fd(q))
        n++;
    return n;
}

/* Fast bins are single-linked with safe-linked fd words. */
static inline bool chunk_in_fastbin(struct pm_arena *a, unsigned i, mchunk *p)
{
    mchunk *q = a->fastbins[i];
    size_t guard = 0;
    while (q != NULL && guard++ < 1000000) {
        if (q == p)
            return true;
        q = link_reveal(chunk_fd_slot(q), chunk_fd(q));
    }
    return false;
}

static inline int chunk_fastbin(struct pm_arena *a, mchunk *p)
{
    for (unsigned i = 0; i < PM_NFASTBINS; i++)
        if (chunk_in_fastbin(a, i, p))
            return (int)i;
    return -1;
}

static inline bool fastbins_empty(struct pm_arena *a)
{
    for (unsigned i = 0; i < PM_NFASTBINS; i++)
        if (a->fastbins[i] != NULL)
            return false;
    return true;
}

/* Makes every free in this thread reach the arena: the tcache is turned
 * off (a count of 0: nothing is ever put in it) and emptied.  Called first
 * thing in main. */
static inline void no_tcache(void)
{
    REQUIRE(mallopt(PM_M_TCACHE_COUNT, 0) == 1);
    REQUIRE(pm_opt.tcache_count == 0);
    /* Anything cached before the switch is taken out again: allocate every
     * tcache size a few times, then give the chunks back to the arena. */
    enum { PER = 8, SIZES = 64 };
    static void *hold[SIZES * PER];
    size_t n = 0;
    for (size_t s = 0; s < SIZES; s++)
        for (size_t k = 0; k < PER; k++)
            hold[n++] = malloc(s * 16 + 8);
    for (size_t i = 0; i < n; i++)
        free(hold[i]);
    /* Those frees went to fast bins and the unsorted bin; merge them so
     * each test starts from one top and empty bins. */
    malloc_trim(0);
}

/* Number of chunks in every bin and fast bin of the main arena. */
static inline size_t free_chunks_main(void)
{
    size_t n = 0;
    for (unsigned i = 1; i < PM_NBINS; i++)
        n += bin_count(MAIN, i);
    for (unsigned i = 0; i < PM_NFASTBINS; i++) {
        mchunk *q = MAIN->fastbins[i];
        while (q != NULL) {
            n++;
            q = link_reveal(chunk_fd_slot(q), chunk_fd(q));
        }
    }
    return n;
}

/* A snapshot of this process (pmalloc_snapshot) read back as a string,
 * or NULL on failure; the caller frees it. */
static inline char *snapshot_text(void)
{
    char path[] = "/tmp/pmalloc-snapshot-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    unlink(path);
    char *text = NULL;
    off_t len;
    if (pmalloc_snapshot(fd) == 0 && (len = lseek(fd, 0, SEEK_END)) > 0 &&
        (text = malloc((size_t)len + 1)) != NULL) {
        if (pread(fd, text, (size_t)len, 0) == len) {
            text[len] = 0;
        } else {
            free(text);
            text = NULL;
        }
    }
    close(fd);
    return text;
}

/* Whether the snapshot's walker found nothing wrong ("problems":[]);
 * prints what it found otherwise. */
static inline bool snapshot_problem_free(const char *text)
{
    const char *problems = strstr(text, "\"problems\":[");
    if (problems != NULL && problems[12] == ']')
        return true;
    fprintf(stderr, "snapshot problems: %.300s\n", problems != NULL ? problems : "(no problems list)");
    return false;
}

#endif
