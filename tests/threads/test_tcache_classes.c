#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/* The thread cache's size classes above 1032 bytes (src/tcache.h): exact
 * reuse within a class, the byte budget, depths that grow for batches and
 * shrink when idle, double frees caught, chunks given back at thread exit
 * and with the cache off, and a sound heap after every step.  The classes
 * are turned on here with mallopt (they are off by default). */
#include "thr.h"

#include <pmalloc.h>
#include <string.h>
#include <sys/mman.h>

#define CHECK_HEAP_OK() CHECK_EQ_SIZE(pmalloc_check(), 0)

/* The chunk size of a block, read through a pointer the compiler cannot
 * tie to malloc's size (the header lies before the block). */
/* The block, through a pointer the compiler cannot tie to malloc's size. */
static void *launder_block(void *p)
{
    __asm__("" : "+r"(p));
    return p;
}

static size_t chunk_bytes(void *p)
{
    __asm__("" : "+r"(p));
    return chunk_size(mem_chunk(p));
}

static size_t class_of_request(size_t bytes) { return tcache_class_of(request_to_size(bytes)); }

/* calloc cuts a class request to the class's size as malloc does, so
 * the block joins its class when freed, and a calloc of the class then
 * takes it back cleared over its whole usable size. */
static void test_calloc_classes(void)
{
    unsigned char *p = calloc(3, 1000);
    REQUIRE(p != NULL);
    CHECK_EQ_SIZE(chunk_bytes(p), 3072 + 16);
    size_t usable = malloc_usable_size(p);
    memset(p, 0xab, usable);
    free(p);
    unsigned char *q = calloc(1, 2900);
    CHECK(q == p);
    CHECK(all_bytes(q, usable, 0));
    free(q);
    CHECK_HEAP_OK();
}

/* A request gets its class's whole chunk, and a later request of the same
 * class gets the very chunk back. */
static void test_exact_reuse(void)
{
    char *p = malloc(3000);
    REQUIRE(p != NULL);
    CHECK_EQ_SIZE(chunk_bytes(p), 3072 + 16);
    CHECK_EQ_SIZE(malloc_usable_size(p), 3072 + 16 - PM_SIZE_SZ);
    memset(p, 1, malloc_usable_size(p));
    free(p);
    char *q = malloc(2900);
    CHECK(q == p);
    free(q);
    /* a power of two fits the class of its size, not the next one */
    char *four = malloc(4096);
    CHECK_EQ_SIZE(chunk_bytes(four), 4096 + 16);
    free(four);
    /* every class boundary: the largest request of a class fits it */
    for (unsigned k = 0; k < PM_TCACHE_CLASSES - 1; k++) {
        size_t bytes = tcache_class_size(k) - PM_SIZE_SZ;
        if (bytes >= pm_global.tcache_big_request_limit)
            break;
        CHECK_EQ_SIZE(class_of_request(bytes), k);
        CHECK_EQ_SIZE(class_of_request(bytes + 1), k + 1);
    }
    CHECK_HEAP_OK();
}

/* A request the mmap threshold sends to its own mapping (200 KB against
 * the default 128 KiB) is not rounded up to its class: a mapped chunk is
 * never cached, so the rounding would only waste its pages. */
static void test_mapped_not_rounded(void)
{
    REQUIRE(pm_opt.mmap_threshold == 128 * 1024);
    char *p = malloc(200000);
    REQUIRE(p != NULL);
    CHECK(chunk_is_mmapped(mem_chunk(launder_block(p))));
    CHECK(malloc_usable_size(p) < 200000 + 4096);
    CHECK(malloc_usable_size(p) < tcache_class_size(class_of_request(200000)) - PM_CHUNK_HDR);
    free(p);
    /* freeing it raised the dynamic threshold to its size: a request whose
     * class lies below that now comes from the heap, a class's chunk */
    REQUIRE(pm_opt.mmap_threshold > tcache_class_size(class_of_request(150000)));
    p = malloc(150000);
    CHECK(!chunk_is_mmapped(mem_chunk(launder_block(p))));
    CHECK_EQ_SIZE(chunk_bytes(p), tcache_class_size(class_of_request(150000)));
    free(p);
    CHECK_HEAP_OK();
}

/* What the size classes of cache t hold, by their counts. */
static size_t class_bytes_held(const struct pm_tcache *t)
{
    size_t bytes = 0;
    for (unsigned k = 0; k < PM_TCACHE_CLASSES; k++)
        bytes += (size_t)t->class_count[k] * tcache_class_size(k);
    return bytes;
}

/* One thread frees 100 MiB of blocks of 4 KiB and of six other classes:
 * each class alone may hold half the budget, so only the budget keeps
 * them all together within it; the rest went back to the arena. */
static void test_budget(size_t budget)
{
    REQUIRE(mallopt(PMALLOC_M_TCACHE_BYTES, (int)budget) == 1);
    static const size_t sizes[] = {4096, 2000, 3000, 5000, 9000, 17000, 33000};
    enum { NSIZES = sizeof sizes / sizeof sizes[0] };
    size_t n = 0, total = 0;
    static char *blocks[60000];
    while (total < ((size_t)100 << 20) && n < sizeof blocks / sizeof blocks[0]) {
        size_t size = sizes[n % NSIZES];
        blocks[n] = malloc(size);
        REQUIRE(blocks[n] != NULL);
        blocks[n][0] = 1;
        total += size;
        n++;
    }
    for (size_t i = 0; i < n; i++)
        free(blocks[i]);
    struct pm_tcache *t = pm_tcache_get();
    REQUIRE(t != NULL);
    size_t held = class_bytes_held(t);
    CHECK(held <= budget);
    if (held > budget)
        fprintf(stderr, "cache holds %zu bytes, budget %zu\n", held, budget);
    CHECK(held > budget / 4);
    CHECK(t->bin_depth_bytes + t->class_depth_bytes <= budget);
    CHECK(pm_tcache_bytes() >= held);
    CHECK_HEAP_OK();
}

static size_t arena_requests(void) { return pm_thread_arena->nmalloc; }

/* Rounds of a batch of 1000 blocks of one class: after a few rounds a
 * round reaches the arena almost never. */
static void test_depth_grows(void)
{
    enum { BATCH = 1000, ROUNDS = 12 };
    static void *b[BATCH];
    size_t last = 0;
    for (int r = 0; r < ROUNDS; r++) {
        size_t before = arena_requests();
        for (int i = 0; i < BATCH; i++)
            REQUIRE((b[i] = malloc(2000)) != NULL);
        for (int i = 0; i < BATCH; i++)
            free(b[i]);
        last = arena_requests() - before;
        if (r == 0)
            CHECK(last >= BATCH / 2); /* the first round misses */
    }
    CHECK(last <= BATCH / 50);
    if (last > BATCH / 50)
        fprintf(stderr, "last round of the batch reached the arena %zu times\n", last);
    struct pm_tcache *t = pm_tcache_get();
    CHECK(t->class_limit[class_of_request(2000)] >= BATCH);
    CHECK_HEAP_OK();
}

/* A snapshot lists the classes' chunks in the thread cache, with no
 * problem found (layout version 6). */
static void test_snapshot(void)
{
    char *text = snapshot_text();
    REQUIRE(text != NULL);
    CHECK(strstr(text, "\"layout_version\":7") != NULL);
    CHECK(strstr(text, "\"class\":true") != NULL);
    CHECK(snapshot_problem_free(text));
    free(text);
}

/* The class stops being used; after enough slow calls elsewhere its
 * depth halves and what it holds beyond that goes back. */
static void test_idle_shrinks(void)
{
    struct pm_tcache *t = pm_tcache_get();
    unsigned k = class_of_request(2000);
    uint32_t deep = t->class_limit[k];
    REQUIRE(deep > 1);
    size_t held = t->class_count[k];
    /* slow calls that never touch the class: blocks above the cache */
    for (int i = 0; i < 3 * PM_TCACHE_IDLE_CHECK_CALLS; i++)
        free(malloc(600 * 1024));
    CHECK(t->class_limit[k] < deep);
    CHECK(t->class_count[k] <= t->class_limit[k]);
    CHECK(t->class_count[k] < held || held == 0);
    CHECK_HEAP_OK();
}

/* Empties the class of `bytes` and gives it a depth of at least two, so
 * the next two frees of the class are cached whatever earlier cases
 * left it at (its chunks stay allocated: the cases run in a child). */
static void make_room_in_class(size_t bytes)
{
    struct pm_tcache *t = pm_tcache_get();
    unsigned k = class_of_request(bytes);
    while (tcache_more(t->class_entries[k]))
        (void)pm_tcache_class_pop(t, k);
    for (int i = 0; i < 8 && t->class_limit[k] < 2; i++)
        pm_tcache_class_missed(t, k);
    REQUIRE(t->class_limit[k] >= 2);
}

static void double_free_class(void *arg)
{
    (void)arg;
    void *p = malloc(5000);
    make_room_in_class(5000);
    free(p);
    free(p);
}

static void double_free_class_after_write(void *arg)
{
    (void)arg;
    void *p = malloc(5000), *q = malloc(5000);
    make_room_in_class(5000);
    free(p);
    free(q);
    free(p); /* deeper in the class than its head */
}

static void *fill_and_exit(void *arg)
{
    (void)arg;
    void *b[64];
    for (int i = 0; i < 64; i++)
        b[i] = malloc(1500 + 100 * (i % 8));
    for (int i = 0; i < 64; i++)
        free(b[i]);
    return (void *)(uintptr_t)class_bytes_held(pm_tcache_get());
}

/* A thread's classes go back to the arenas when it exits. */
static void test_thread_exit(void)
{
    size_t before = pm_tcache_bytes();
    pthread_t th;
    void *held;
    REQUIRE(pthread_create(&th, NULL, fill_and_exit, NULL) == 0);
    pthread_join(th, &held);
    CHECK((uintptr_t)held > 0);
    CHECK(pm_tcache_bytes() <= before);
    CHECK_HEAP_OK();
}

/* With the cache off no request is rounded to a class. */
static void test_off(void)
{
    REQUIRE(mallopt(PMALLOC_M_TCACHE_COUNT, 0) == 1);
    char *p = malloc(3000);
    CHECK_EQ_SIZE(chunk_bytes(p), request_to_size(3000));
    free(p);
    REQUIRE(mallopt(PMALLOC_M_TCACHE_COUNT, 7) == 1);
    REQUIRE(mallopt(PMALLOC_M_TCACHE_MAX, 1032) == 1);
    p = malloc(3000);
    CHECK_EQ_SIZE(chunk_bytes(p), request_to_size(3000));
    free(p);
    CHECK_HEAP_OK();
}

int main(void)
{
    alarm(120);
    free(malloc(1)); /* main's cache */
    REQUIRE(mallopt(PMALLOC_M_TCACHE_MAX, 256 * 1024) == 1);
    test_exact_reuse();
    test_calloc_classes();
    test_mapped_not_rounded();
    test_budget((size_t)4 << 20);
    test_budget((size_t)1 << 20);
    /* room beside what the budget test left cached */
    REQUIRE(mallopt(PMALLOC_M_TCACHE_BYTES, 16 << 20) == 1);
    test_depth_grows();
    test_snapshot();
    test_idle_shrinks();
    expect_double_free(double_free_class, "double free of a class chunk");
    expect_double_free(double_free_class_after_write, "double free inside a class");
    test_thread_exit();
    test_off();
    return test_finish("test_tcache_classes");
}
