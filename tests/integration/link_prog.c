/* Linked against pmalloc twice by tests/integration/local.mk: fully
 * static (link_static) and dynamically with -lpmalloc (link_dynamic).
 * It allocates in many ways, several of them inside glibc (strdup,
 * asprintf, open_memstream, stdio buffers, getline, qsort's buffer,
 * getpwuid, newlocale, thread start-up), and checks that pmalloc accounts
 * for every one of them: malloc_usable_size covers the request, mallinfo2
 * grows by at least the size, and pmalloc_check() finds a sound heap.
 * Prints a summary that must be the same for both links; exits non-zero
 * if any check failed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <locale.h>
#include <malloc.h>
#include <pthread.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../harness.h"

#define MAX_TRACKED 4096

struct tracked {
    void *p;
    size_t n;
    const char *how;
};

static struct tracked tracked[MAX_TRACKED];
static size_t ntracked;

/* Bytes pmalloc says are allocated: heap chunks plus mmapped chunks. */
static size_t in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void track(void *p, size_t n, const char *how)
{
    if (!p) {
        fprintf(stderr, "%s: allocation of %zu bytes failed\n", how, n);
        exit(1);
    }
    REQUIRE(ntracked < MAX_TRACKED);
    CHECK(malloc_usable_size(p) >= n);
    tracked[ntracked++] = (struct tracked){p, n, how};
}

static void untrack_all(void)
{
    for (size_t i = 0; i < ntracked; i++)
        free(tracked[i].p);
    ntracked = 0;
}

/* A string of n characters made of a repeating pattern. */
static char *pattern_string(size_t n)
{
    char *s = malloc(n + 1);
    REQUIRE(s);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('a' + (i * 7 + i / 26) % 26);
    s[n] = '\0';
    return s;
}

/* Checks that the allocation made by `expr` (a glibc function) is seen
 * by pmalloc: in-use bytes grow by at least `min_growth`. */
#define CHECK_GROWS(min_growth, stmt)                                       \
    do {                                                                    \
        size_t before_ = in_use();                                          \
        stmt;                                                               \
        size_t after_ = in_use();                                           \
        if (after_ < before_ + (min_growth)) {                              \
            fprintf(stderr, "%s:%d: in-use bytes grew by %zd, expected at " \
                    "least %zu: %s\n", __FILE__, __LINE__,                  \
                    (ssize_t)(after_ - before_), (size_t)(min_growth),      \
                    #stmt);                                                 \
        }                                                                   \
        CHECK(after_ >= before_ + (min_growth));                            \
    } while (0)

static void direct_allocations(void)
{
    static const size_t sizes[] = {0, 1, 15, 16, 24, 100, 1000, 1024, 4000,
                                   65536, 131071, 131072, 200000, 1 << 20,
                                   4 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        char *p = malloc(n);
        track(p, n, "malloc");
        memset(p, 0x5a, n);
        unsigned char *z = calloc(n + 1, 1);
        track(z, n + 1, "calloc");
        size_t nonzero = 0;
        for (size_t j = 0; j <= n; j++)
            nonzero += z[j] != 0;
        CHECK(nonzero == 0);
        char *r = malloc(8);
        REQUIRE(r);
        memcpy(r, "realloc", 8);
        r = realloc(r, n + 8);
        track(r, n + 8, "realloc");
        CHECK(memcmp(r, "realloc", 8) == 0);
    }
    for (size_t align = 16; align <= 65536; align *= 4) {
        void *p = NULL;
        CHECK(posix_memalign(&p, align, 3 * align + 5) == 0);
        track(p, 3 * align + 5, "posix_memalign");
        CHECK((uintptr_t)p % align == 0);
        void *q = aligned_alloc(align, 2 * align);
        track(q, 2 * align, "aligned_alloc");
        CHECK((uintptr_t)q % align == 0);
        void *m = memalign(align, 100);
        track(m, 100, "memalign");
        CHECK((uintptr_t)m % align == 0);
    }
    int *arr = reallocarray(NULL, 1000, sizeof *arr);
    track(arr, 1000 * sizeof *arr, "reallocarray");
    volatile size_t huge = SIZE_MAX / 2; /* hidden from the compiler */
    errno = 0;
    CHECK(reallocarray(NULL, huge, 4) == NULL && errno == ENOMEM);
}

static void glibc_allocations(void)
{
    const size_t big = 600000; /* above the default mmap threshold */
    char *src = pattern_string(big);
    char *p;

    CHECK_GROWS(big + 1, p = strdup(src));
    track(p, big + 1, "strdup");
    CHECK(strcmp(p, src) == 0);
    CHECK_GROWS(1001, p = strndup(src, 1000));
    track(p, 1001, "strndup");

    int len = 0;
    CHECK_GROWS(big, len = asprintf(&p, "%s-%d", src, 42));
    CHECK(len == (int)big + 3);
    track(p, (size_t)len + 1, "asprintf");

    char *buf = NULL;
    size_t buflen = 0;
    FILE *ms = open_memstream(&buf, &buflen);
    REQUIRE(ms);
    for (int i = 0; i < 50000; i++)
        fprintf(ms, "line %05d %.20s\n", i, src + i);
    REQUIRE(fclose(ms) == 0);
    CHECK(buflen == 50000u * 32u);
    track(buf, buflen + 1, "open_memstream");

    /* stdio: fopen allocates the FILE and, on first use, its buffer;
     * getline allocates the line. */
    char path[] = "/tmp/pmalloc-link-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    FILE *f = fopen(path, "w+");
    REQUIRE(f);
    for (int i = 0; i < 1000; i++)
        fprintf(f, "%d %s\n", i, i == 500 ? src : "short");
    REQUIRE(fflush(f) == 0);
    rewind(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t got, longest = 0;
    while ((got = getline(&line, &cap, f)) > 0)
        if (got > longest)
            longest = got;
    CHECK((size_t)longest == big + 5);
    track(line, (size_t)longest + 1, "getline");
    REQUIRE(fclose(f) == 0);
    unlink(path);
    free(src);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* glibc's qsort takes a malloc'd buffer for a large array. */
static uint64_t sort_big_array(void)
{
    const size_t n = 1u << 20;
    uint32_t *a = malloc(n * sizeof *a);
    REQUIRE(a);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        a[i] = x;
    }
    qsort(a, n, sizeof *a, cmp_u32);
    size_t unsorted = 0;
    uint64_t sum = 0;
    for (size_t i = 1; i < n; i++)
        unsorted += a[i - 1] > a[i];
    for (size_t i = 0; i < n; i += 4096)
        sum = sum * 31 + a[i];
    CHECK(unsorted == 0);
    free(a);
    return sum;
}

static void names_and_locales(void)
{
    struct passwd *pw = getpwuid(0);
    REQUIRE(pw != NULL);
    CHECK(pw->pw_uid == 0);
    char *name = strdup(pw->pw_name);
    track(name, strlen(pw->pw_name) + 1, "strdup(pw_name)");

    CHECK(setlocale(LC_ALL, "C") != NULL);
    locale_t loc = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
    if (!loc) /* C.UTF-8 not installed: the C locale still allocates. */
        loc = newlocale(LC_CTYPE_MASK | LC_NUMERIC_MASK, "C", (locale_t)0);
    REQUIRE(loc != (locale_t)0);
    locale_t copy = duplocale(loc);
    REQUIRE(copy != (locale_t)0);
    freelocale(copy);
    freelocale(loc);
}

static void *thread_main(void *arg)
{
    size_t id = (size_t)arg;
    void *keep[200];
    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < 200; i++) {
            keep[i] = malloc(16 + (i * 37 + id * 11 + (size_t)round) % 3000);
            if (!keep[i])
                return (void *)1;
        }
        for (size_t i = 0; i < 200; i++)
            free(keep[(i * 7) % 200]);
    }
    char *s = NULL;
    if (asprintf(&s, "thread %zu", id) < 0)
        return (void *)1;
    return s;
}

static void threads(void)
{
    pthread_t t[4];
    for (size_t i = 0; i < 4; i++)
        REQUIRE(pthread_create(&t[i], NULL, thread_main, (void *)i) == 0);
    for (size_t i = 0; i < 4; i++) {
        void *ret = NULL;
        REQUIRE(pthread_join(t[i], &ret) == 0);
        REQUIRE(ret != NULL && ret != (void *)1);
        track(ret, strlen(ret) + 1, "thread asprintf");
    }
}

int main(void)
{
    char version[32];
    snprintf(version, sizeof version, "%d.%d.%d", PMALLOC_VERSION_MAJOR,
             PMALLOC_VERSION_MINOR, PMALLOC_VERSION_PATCH);
    REQUIRE(pmalloc_version() != NULL);
    CHECK(strcmp(pmalloc_version(), version) == 0);

    direct_allocations();
    CHECK_HEAP();
    glibc_allocations();
    CHECK_HEAP();
    uint64_t sum = sort_big_array();
    names_and_locales();
    threads();
    CHECK_HEAP();

    size_t bytes = 0;
    for (size_t i = 0; i < ntracked; i++)
        bytes += tracked[i].n;
    size_t before_free = in_use();
    CHECK(before_free >= bytes);
    size_t count = ntracked;
    untrack_all();
    CHECK(in_use() < before_free);
    CHECK_HEAP();

    printf("tracked allocations: %zu\n", count);
    printf("tracked bytes: %zu\n", bytes);
    printf("qsort checksum: %llu\n", (unsigned long long)sum);
    printf("pmalloc_check problems: %zu\n", pmalloc_check());
    return test_finish("link_prog");
}
