/* Clean failure on requests that cannot be met:
 *  - oversized and overflowing requests through every API (SIZE_MAX,
 *    PTRDIFF_MAX + 1, sizes that wrap once the header is added, calloc and
 *    reallocarray overflow, huge alignments): NULL with ENOMEM (EINVAL for
 *    a bad alignment), never a small block, the old block untouched, the
 *    break not moved and the heap consistent;
 *  - running out of address space (RLIMIT_AS, in a child) through every
 *    API: each eventually fails with ENOMEM, the heap stays consistent,
 *    and once everything is freed, allocation works again. */
#include "enomem.h"

#include <stdint.h>
#include <sys/resource.h>

static const size_t huge[] = {
    SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 7, SIZE_MAX - 8, SIZE_MAX - 15, SIZE_MAX - 16,
    SIZE_MAX - 24, SIZE_MAX - 31, SIZE_MAX - 4096, SIZE_MAX - 4095, SIZE_MAX / 2,
    SIZE_MAX / 2 + 1, (size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX - 16,
    (size_t)PTRDIFF_MAX - 4096, (size_t)1 << 62, ((size_t)1 << 47) + 1,
};
#define NHUGE (sizeof huge / sizeof huge[0])

static void oversized(void)
{
    char *brk0 = sbrk(0);
    void *keep = malloc(100);
    REQUIRE(keep != NULL);
    pat_fill(keep, 100, 1);
    void *big = malloc(300 * KiB); /* mmapped */
    REQUIRE(big != NULL);
    pat_fill(big, 300 * KiB, 2);

    for (size_t i = 0; i < NHUGE; i++) {
        /* more than the address space: nothing can serve it */
        size_t n = hide(huge[i]);
        expect_every_api_enomem(n, keep);
        EXPECT_NULL(realloc(launder(big), n), ENOMEM);
    }

    /* products that overflow */
    size_t h = hide(SIZE_MAX / 2 + 1);
    EXPECT_NULL(calloc(h, 2), ENOMEM);
    EXPECT_NULL(calloc(2, h), ENOMEM);
    EXPECT_NULL(calloc(hide((size_t)1 << 32), hide((size_t)1 << 32)), ENOMEM);
    EXPECT_NULL(calloc(hide(SIZE_MAX), hide(SIZE_MAX)), ENOMEM);
    EXPECT_NULL(calloc(hide(3), hide(SIZE_MAX / 3 + 1)), ENOMEM);
    EXPECT_NULL(reallocarray(launder(keep), h, 2), ENOMEM);
    EXPECT_NULL(reallocarray(NULL, h, 2), ENOMEM);
    EXPECT_NULL(reallocarray(launder(big), hide((size_t)1 << 33), hide((size_t)1 << 31)), ENOMEM);

    /* huge alignments: a power of two too large to serve is ENOMEM, a
     * value that is not one (or above SIZE_MAX/2+1) is EINVAL */
    EXPECT_NULL(aligned_alloc(hide((size_t)1 << 62), 1), ENOMEM);
    EXPECT_NULL(aligned_alloc(hide((size_t)1 << 63), 1), ENOMEM);
    EXPECT_NULL(aligned_alloc(hide((size_t)1 << 62), 100000), ENOMEM);
    EXPECT_NULL(aligned_alloc(hide((size_t)1 << 47), 1), ENOMEM);
    EXPECT_NULL(memalign(hide((size_t)1 << 62), 1), ENOMEM);
    EXPECT_NULL(memalign(hide(SIZE_MAX / 2 + 1), 1), ENOMEM);
    EXPECT_NULL(memalign(hide(SIZE_MAX / 2 + 2), 1), EINVAL);
    EXPECT_NULL(memalign(hide(SIZE_MAX), 1), EINVAL);
    EXPECT_NULL(aligned_alloc(hide(SIZE_MAX / 2 + 2), 1), EINVAL);
    EXPECT_NULL(aligned_alloc(hide(3 * 4096), 1), EINVAL);
    {
        EXPECT_RC(posix_memalign(&out_, hide(SIZE_MAX / 2 + 1), 1), ENOMEM);
        EXPECT_RC(posix_memalign(&out_, hide((size_t)1 << 62), 64), ENOMEM);
        EXPECT_RC(posix_memalign(&out_, hide(SIZE_MAX), 1), EINVAL);
        EXPECT_RC(posix_memalign(&out_, hide(24), 1), EINVAL);
        EXPECT_RC(posix_memalign(&out_, hide(4), 1), EINVAL);
        EXPECT_RC(posix_memalign(&out_, hide(0), 1), EINVAL);
    }

    /* nothing was lost or moved, and nothing of the break was given away */
    CHECK(pat_check(keep, 100, 1) == 100);
    CHECK(pat_check(big, 300 * KiB, 2) == 300 * KiB);
    CHECK((char *)sbrk(0) >= brk0);
    CHECK_HEAP();
    void *v[64];
    for (int i = 0; i < 64; i++) {
        v[i] = malloc((size_t)i * 100 + 1);
        REQUIRE(v[i] != NULL);
        pat_fill(v[i], (size_t)i * 100 + 1, 100 + (uint64_t)i);
    }
    for (int i = 0; i < 64; i++) {
        CHECK(pat_check(v[i], (size_t)i * 100 + 1, 100 + (uint64_t)i) == (size_t)i * 100 + 1);
        free(v[i]);
    }
    free(keep);
    free(big);
    CHECK_HEAP();
}

/* ---- address space exhaustion ---- */

/* Every block holds the next one's address in its first word, so the
 * chain costs no memory of its own. */
static void *chain;
static size_t chain_len;

static void push(void *p)
{
    *(void **)p = chain;
    chain = p;
    chain_len++;
}

static void free_chain(void)
{
    while (chain != NULL) {
        void *next = *(void **)chain;
        free(chain);
        chain = next;
    }
    chain_len = 0;
}

enum api { A_MALLOC, A_MALLOC_SMALL, A_CALLOC, A_REALLOC, A_MEMALIGN, A_POSIX_MEMALIGN,
           A_ALIGNED_ALLOC, A_VALLOC, A_PVALLOC, A_REALLOCARRAY, A_N };
static const char *const api_name[A_N] = {
    "malloc", "malloc(small)", "calloc", "realloc", "memalign", "posix_memalign",
    "aligned_alloc", "valloc", "pvalloc", "reallocarray",
};

/* One allocation through the API; false (and its error in *err) when it
 * fails. */
static bool alloc_one(enum api a, size_t n, int *err)
{
    void *p = NULL;
    errno = 0;
    switch (a) {
    case A_MALLOC:
    case A_MALLOC_SMALL:
        p = malloc(n);
        break;
    case A_CALLOC:
        p = calloc(n / 16, 16);
        if (p != NULL && !all_bytes(p, n / 16 * 16, 0))
            harness_failures++, fprintf(stderr, "calloc: block not zeroed\n");
        break;
    case A_REALLOC: {
        /* grow one block in steps until it cannot grow */
        void *q = malloc(64);
        if (q == NULL)
            break;
        size_t size = 64;
        pat_fill(q, 64, 7);
        for (;;) {
            size_t next = size * 2;
            errno = 0;
            void *r = realloc(q, next);
            if (r == NULL) {
                *err = errno;
                if (pat_check(q, 64, 7) != 64)
                    harness_failures++, fprintf(stderr, "realloc: old block damaged\n");
                push(q);
                return false;
            }
            q = r;
            size = next;
        }
    }
    case A_MEMALIGN:
        p = memalign(4096, n);
        break;
    case A_POSIX_MEMALIGN: {
        int rc = posix_memalign(&p, 256, n);
        if (rc != 0) {
            *err = rc;
            return false;
        }
        break;
    }
    case A_ALIGNED_ALLOC:
        p = aligned_alloc(1024, n);
        break;
    case A_VALLOC:
        p = valloc(n);
        break;
    case A_PVALLOC:
        p = pvalloc(n);
        break;
    case A_REALLOCARRAY:
        p = reallocarray(NULL, n / 8, 8);
        break;
    default:
        break;
    }
    if (p == NULL) {
        *err = errno;
        return false;
    }
    if (a != A_REALLOC && ((uintptr_t)p & 15) != 0)
        harness_failures++, fprintf(stderr, "%s: misaligned block\n", api_name[a]);
    push(p);
    return true;
}

static void exhaust(void)
{
    /* room for about 96 MiB more than the process uses now */
    struct rlimit rl;
    REQUIRE(getrlimit(RLIMIT_AS, &rl) == 0);
    FILE *f = fopen("/proc/self/statm", "r");
    REQUIRE(f != NULL);
    unsigned long pages = 0;
    REQUIRE(fscanf(f, "%lu", &pages) == 1);
    fclose(f);
    rl.rlim_cur = pages * 4096 + 96 * MiB;
    REQUIRE(setrlimit(RLIMIT_AS, &rl) == 0);

    for (int round = 0; round < 2; round++) {
        for (int a = 0; a < A_N; a++) {
            size_t n = a == A_MALLOC_SMALL ? 200 : (a % 2 ? 100 * KiB : 1 * MiB + 4096);
            int err = 0;
            size_t count = 0;
            while (alloc_one((enum api)a, n, &err)) {
                count++;
                REQUIRE(count < 10000000);
            }
            if (round == 0)
                fprintf(stderr, "    %s: %zu blocks, then errno %d\n", api_name[a], count, err);
            harness_checks++;
            if (count == 0 && round == 0 && a != A_REALLOC) {
                harness_failures++;
                fprintf(stderr, "%s: failed at once\n", api_name[a]);
            }
            if (err != ENOMEM) {
                harness_failures++;
                fprintf(stderr, "%s: failed with %d, not ENOMEM\n", api_name[a], err);
            }
            CHECK_HEAP();
            /* an allocation that fits no longer: the small ones may still
             * come from free space, the large ones must fail */
            if (a != A_REALLOC) {
                errno = 0;
                void *p = malloc(64 * MiB);
                CHECK(p == NULL && errno == ENOMEM);
            }
            /* give back what this API took, then the next API starts with
             * a full address space again (round 0) or all APIs pile up
             * (round 1) */
            if (round == 0)
                free_chain();
            CHECK_HEAP();
        }
        free_chain();
        CHECK_HEAP();
        /* everything can be had again */
        void *big[24];
        for (int i = 0; i < 24; i++) {
            big[i] = malloc(2 * MiB);
            CHECK(big[i] != NULL);
            if (big[i] != NULL)
                memset(big[i], i, 2 * MiB);
        }
        for (int i = 0; i < 24; i++)
            free(big[i]);
        CHECK_HEAP();
    }
    /* the small-block path and the heap after all this */
    for (int i = 0; i < 10000; i++)
        REQUIRE(alloc_one(A_MALLOC_SMALL, 48 + (size_t)(i % 500), &(int){0}));
    free_chain();
    CHECK_HEAP();
}

static void oversized_no_tcache(void)
{
    no_tcache();
    oversized();
}

int main(void)
{
    run_forked_case("oversized", oversized);
    run_forked_case("oversized_no_tcache", oversized_no_tcache);
    run_forked_case("exhaust", exhaust);
    return test_finish("test_oom");
}
