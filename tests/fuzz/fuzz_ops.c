/* libFuzzer harness: the input is a program of allocator operations on a
 * table of 64 slots, run on two threads, with every block's contents
 * checked and the heap walker run after every operation.
 *
 * pmalloc's sources are compiled into this binary (tests/fuzz/build.sh),
 * so libFuzzer's own allocations go through pmalloc too.  Never combine
 * with -fsanitize=address: ASan would replace malloc.
 *
 * Input format, one operation after another until the input runs out:
 *   op byte:  low 4 bits the operation (below), bit 4: run it on the
 *             second thread, bits 5-7: unused (free for the fuzzer)
 *   slot:     1 byte, mod 64
 *   size:     2 bytes little-endian; the top 2 bits choose the scale:
 *             0: 0..255, 1: 0..4095, 2: 16 x 0..16383 (to 256 KiB),
 *             3: 256 x 0..16383 (to 4 MiB, past the mmap threshold)
 *   arg:      1 byte (alignment exponent, mallopt value, trim pad, ...)
 * Operations: 0 malloc, 1 calloc, 2 realloc, 3 free, 4 memalign,
 * 5 posix_memalign, 6 aligned_alloc, 7 valloc, 8 pvalloc,
 * 9 malloc_usable_size, 10 malloc_trim, 11 mallopt, 12 reallocarray,
 * 13 realloc(p, 0), 14 free every slot, 15 mallinfo2.
 * Any inconsistency aborts, which libFuzzer reports as a crash. */
#include "internal.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pmalloc.h>
#include "tcache_check.h"

#define NSLOTS 64
#define EDGE 128 /* bytes checked at each end of a block */

struct slot {
    unsigned char *p;
    size_t size;
    uint64_t seed;
};
static struct slot slots[NSLOTS];
static uint64_t next_seed = 1;

static void fail(const char *what, size_t a, size_t b)
{
    fprintf(stderr, "fuzz_ops: %s (%zu, %zu)\n", what, a, b);
    abort();
}

static unsigned char byte_at(uint64_t seed, size_t i)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + i;
    x ^= x >> 29;
    return (unsigned char)(x ^ (x >> 8));
}

/* Fills (or checks) the first and last EDGE bytes of [0, n). */
static void fill(unsigned char *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n && i < EDGE; i++)
        p[i] = byte_at(seed, i);
    for (size_t i = n > EDGE ? (n - EDGE > EDGE ? n - EDGE : EDGE) : n; i < n; i++)
        p[i] = byte_at(seed, i);
}

static void verify(const unsigned char *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n && i < EDGE; i++)
        if (p[i] != byte_at(seed, i))
            fail("block contents changed (head)", i, n);
    for (size_t i = n > EDGE ? (n - EDGE > EDGE ? n - EDGE : EDGE) : n; i < n; i++)
        if (p[i] != byte_at(seed, i))
            fail("block contents changed (tail)", i, n);
}

static void check_block(void *p, size_t n, size_t align)
{
    if (((uintptr_t)p & 15) != 0 || (align > 1 && ((uintptr_t)p & (align - 1)) != 0))
        fail("misaligned block", (uintptr_t)p, align);
    if (malloc_usable_size(p) < n)
        fail("usable size below the request", malloc_usable_size(p), n);
}

/* A NULL result is acceptable only as ENOMEM (the fuzzer's RSS limit, or
 * a request too large to place). */
static void check_null(int err, size_t n)
{
    if (err != ENOMEM)
        fail("NULL without ENOMEM", (size_t)err, n);
}

static void put(unsigned s, void *p, size_t n, size_t align)
{
    check_block(p, n, align);
    slots[s].p = p;
    slots[s].size = n;
    slots[s].seed = next_seed++;
    fill(p, n, slots[s].seed);
}

static void release(unsigned s)
{
    if (slots[s].p != NULL) {
        verify(slots[s].p, slots[s].size, slots[s].seed);
        free(slots[s].p);
        slots[s].p = NULL;
    }
}

struct op {
    unsigned code, slot, arg;
    size_t size;
};

static void run_op(const struct op *o)
{
    unsigned s = o->slot;
    size_t n = o->size;
    size_t align = (size_t)1 << (o->arg % 17);
    void *p = NULL;
    switch (o->code) {
    case 0:
        release(s);
        errno = 0;
        if ((p = malloc(n)) != NULL)
            put(s, p, n, 1);
        else
            check_null(errno, n);
        break;
    case 1: {
        release(s);
        size_t count = (o->arg % 8) + 1;
        size_t each = n / count;
        errno = 0;
        if ((p = calloc(count, each)) != NULL) {
            const unsigned char *c = p;
            for (size_t i = 0; i < count * each; i++)
                if (c[i] != 0)
                    fail("calloc block not zeroed", i, count * each);
            put(s, p, count * each, 1);
        } else {
            check_null(errno, n);
        }
        break;
    }
    case 2:
    case 12: {
        struct slot old = slots[s];
        if (old.p != NULL)
            verify(old.p, old.size, old.seed);
        errno = 0;
        if (o->code == 2)
            p = realloc(old.p, n);
        else
            p = reallocarray(old.p, n / 8, 8), n = n / 8 * 8;
        if (p == NULL && n != 0) {
            check_null(errno, n);
            if (old.p != NULL)
                verify(old.p, old.size, old.seed); /* untouched */
            break;
        }
        if (p == NULL) { /* realloc(p, 0) freed it */
            slots[s].p = NULL;
            break;
        }
        /* the common prefix survived the move */
        size_t keep = old.p == NULL ? 0 : old.size < n ? old.size : n;
        for (size_t i = 0; i < keep && i < EDGE; i++)
            if (((unsigned char *)p)[i] != byte_at(old.seed, i))
                fail("realloc lost the contents", i, keep);
        put(s, p, n, 1);
        break;
    }
    case 3:
        release(s);
        break;
    case 4:
        release(s);
        if (o->arg & 0x80)
            align = (size_t)(o->arg & 0x7f) * 24 + 1; /* not a power of two: rounded up */
        errno = 0;
        if ((p = memalign(align, n)) != NULL) {
            size_t a = 1;
            while (a < align)
                a <<= 1;
            put(s, p, n, a);
        } else {
            check_null(errno, n);
        }
        break;
    case 5: {
        release(s);
        int rc = posix_memalign(&p, align, n);
        if (align < sizeof(void *)) {
            if (rc != EINVAL)
                fail("posix_memalign accepted a small alignment", align, (size_t)rc);
            if (rc == 0)
                free(p);
        } else if (rc == 0) {
            put(s, p, n, align);
        } else {
            check_null(rc, n);
        }
        break;
    }
    case 6:
        release(s);
        errno = 0;
        if ((p = aligned_alloc(align, n)) != NULL)
            put(s, p, n, align);
        else
            check_null(errno, n);
        break;
    case 7:
    case 8:
        release(s);
        errno = 0;
        p = o->code == 7 ? valloc(n) : pvalloc(n);
        if (p != NULL) {
            if (o->code == 8 && malloc_usable_size(p) < ((n + 4095) & ~(size_t)4095))
                fail("pvalloc did not round up to pages", malloc_usable_size(p), n);
            put(s, p, n, 4096);
        } else {
            check_null(errno, n);
        }
        break;
    case 9:
        if (slots[s].p != NULL && malloc_usable_size(slots[s].p) < slots[s].size)
            fail("usable size shrank", malloc_usable_size(slots[s].p), slots[s].size);
        if (malloc_usable_size(NULL) != 0)
            fail("malloc_usable_size(NULL)", 0, 0);
        break;
    case 10:
        malloc_trim((size_t)o->arg * 1024);
        break;
    case 11: {
        int v = (int)o->arg;
        switch (o->slot % 8) {
        case 0: mallopt(M_MXFAST, v % 161); break;
        case 1: mallopt(M_TRIM_THRESHOLD, v * 4096); break;
        case 2: mallopt(M_TOP_PAD, v * 1024); break;
        case 3: mallopt(M_MMAP_THRESHOLD, 4096 + v * 8192); break;
        case 4: mallopt(M_PERTURB, v); break;
        case 5: mallopt(PMALLOC_M_TCACHE_COUNT, v % 20); break;
        case 6: mallopt(PMALLOC_M_TCACHE_MAX, v * 4 + 8); break;
        case 7: mallopt(M_MMAP_MAX, v % 4 == 0 ? 0 : 65536); break;
        }
        break;
    }
    case 13:
        if (slots[s].p != NULL) {
            verify(slots[s].p, slots[s].size, slots[s].seed);
            p = realloc(slots[s].p, 0);
            if (p != NULL)
                free(p);
            slots[s].p = NULL;
        }
        break;
    case 14:
        for (unsigned i = 0; i < NSLOTS; i++)
            release(i);
        break;
    case 15: {
        struct mallinfo2 mi = mallinfo2();
        if (mi.uordblks > mi.arena || mi.fordblks > mi.arena)
            fail("mallinfo2 totals", mi.uordblks, mi.arena);
        break;
    }
    }
}

/* ---- the second thread: runs one operation at a time for the first ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static const struct op *pending;
static bool done;

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        while (pending == NULL)
            pthread_cond_wait(&cv, &mu);
        run_op(pending);
        pending = NULL;
        done = true;
        pthread_cond_broadcast(&cv);
    }
    return NULL;
}

static void on_worker(const struct op *o)
{
    pthread_mutex_lock(&mu);
    pending = o;
    done = false;
    pthread_cond_broadcast(&cv);
    while (!done)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

/* Defaults back between inputs, so each input starts from the same
 * options (its heap still holds what earlier inputs left behind). */
static void reset_options(void)
{
    mallopt(M_MXFAST, 128);
    mallopt(M_PERTURB, 0);
    mallopt(PMALLOC_M_TCACHE_COUNT, 7);
    mallopt(PMALLOC_M_TCACHE_MAX, 1032);
    mallopt(M_MMAP_MAX, 65536);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0)
        abort();
    pthread_detach(t);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    size_t i = 0;
    while (i + 5 <= len) {
        struct op o;
        unsigned b = data[i];
        o.code = b & 15;
        o.slot = data[i + 1] % NSLOTS;
        unsigned v = (unsigned)data[i + 2] | (unsigned)data[i + 3] << 8;
        switch (v >> 14) {
        case 0: o.size = v & 0xff; break;
        case 1: o.size = v & 0xfff; break;
        case 2: o.size = (size_t)(v & 0x3fff) * 16; break;
        default: o.size = (size_t)(v & 0x3fff) * 256; break;
        }
        o.arg = data[i + 4];
        i += 5;
        if (b & 16)
            on_worker(&o);
        else
            run_op(&o);
        if (pm_check_heap_and_cache(false) != 0)
            fail("heap walker found problems", o.code, o.size);
    }
    for (unsigned s = 0; s < NSLOTS; s++)
        release(s);
    reset_options();
    if (pm_check_heap_and_cache(false) != 0)
        fail("heap walker found problems at the end", 0, 0);
    return 0;
}
