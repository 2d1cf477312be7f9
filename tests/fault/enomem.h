/* Checks that a request fails cleanly: NULL with the expected errno, or
 * for posix_memalign the error returned and its out-argument untouched.
 * Shared by the tests that make every API fail, through requests no
 * address space can hold (test_oom) or through failing system calls
 * (test_fault_subheap). */
#ifndef PMALLOC_TEST_ENOMEM_H
#define PMALLOC_TEST_ENOMEM_H

#include "../helpers.h"

static inline void expect_null(const char *what, void *p, int err)
{
    harness_checks++;
    if (p != NULL || errno != err) {
        harness_failures++;
        fprintf(stderr, "%s: got %p errno %d, expected NULL errno %d\n", what, p, errno, err);
    }
}

#define EXPECT_NULL(call, err)                                              \
    do {                                                                    \
        errno = 0;                                                          \
        void *r_ = (call);                                                  \
        expect_null(#call, r_, err);                                        \
        if (r_ != NULL && malloc_usable_size(r_) < 4096)                    \
            fprintf(stderr, "  ... and it is a small block\n");             \
    } while (0)

/* The call gets &out_ as its out-argument. */
#define EXPECT_RC(call, want)                                               \
    do {                                                                    \
        void *out_ = (void *)&out_;                                         \
        void *const before_ = out_;                                         \
        int rc_ = (call);                                                   \
        harness_checks++;                                                   \
        if (rc_ != (want) || out_ != before_) {                             \
            harness_failures++;                                             \
            fprintf(stderr, "%s: rc %d (want %d), out %s\n", #call, rc_,    \
                    (want), out_ == before_ ? "untouched" : "CHANGED");     \
        }                                                                   \
    } while (0)

/* Every allocating API asked for n bytes, with small and page-sized
 * alignments, and realloc and reallocarray of the live block old, fails
 * with ENOMEM.  (The caller checks that old kept its contents.) */
static inline void expect_every_api_enomem(size_t n, void *old)
{
    EXPECT_NULL(malloc(n), ENOMEM);
    EXPECT_NULL(calloc(n, 1), ENOMEM);
    EXPECT_NULL(calloc(1, n), ENOMEM);
    EXPECT_NULL(realloc(NULL, n), ENOMEM);
    EXPECT_NULL(realloc(launder(old), n), ENOMEM);
    EXPECT_NULL(reallocarray(launder(old), n, 1), ENOMEM);
    EXPECT_NULL(reallocarray(NULL, n, 1), ENOMEM);
    EXPECT_NULL(memalign(64, n), ENOMEM);
    EXPECT_NULL(memalign(8192, n), ENOMEM);
    EXPECT_NULL(aligned_alloc(32, n), ENOMEM);
    EXPECT_NULL(aligned_alloc(4096, n), ENOMEM);
    EXPECT_NULL(valloc(n), ENOMEM);
    EXPECT_NULL(pvalloc(n), ENOMEM);
    EXPECT_RC(posix_memalign(&out_, 16, n), ENOMEM);
    EXPECT_RC(posix_memalign(&out_, 64, n), ENOMEM);
    EXPECT_RC(posix_memalign(&out_, 4096, n), ENOMEM);
}

#endif
