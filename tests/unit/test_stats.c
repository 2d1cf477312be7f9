/* Heap statistics: mallinfo2/mallinfo against known allocations,
 * malloc_stats' text, and malloc_info's XML (well-formed, glibc's element
 * structure, numbers that agree with mallinfo2). */
#include "../harness.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heap.h"
#include "internal.h"
#include "tcache.h"
#include "options.h"

/* mallinfo is deprecated in glibc's header; it is still part of the API. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

extern struct mallinfo __libc_mallinfo(void);

#define SMALL_REQUEST 200   /* chunk 208: above the fast bins, below mmap */
#define FAST_REQUEST 40     /* chunk 48: in the fast bins by default */
#define FAST_CHUNK 48
#define BIG_REQUEST ((size_t)1 << 20)

static size_t chunk_of(size_t request) { return request_to_size(request); }

/* What an arena holds besides its chunks in use, free chunks and top:
 * the chunks parked in thread caches and the heaps' records. */
static size_t neither_used_nor_free(void)
{
    size_t bytes = pm_tcache_bytes();
    for (struct pm_arena *a = &pm_main_arena;; a = arena_next(a)) {
        pm_lock(&a->lock);
        bytes += pm_arena_metadata_bytes(a);
        pm_unlock(&a->lock);
        if (arena_next(a) == &pm_main_arena)
            break;
    }
    return bytes;
}

static void check_consistent(const struct mallinfo2 *mi, int line)
{
    size_t rest = neither_used_nor_free();
    if (mi->fordblks + mi->uordblks + rest != mi->arena)
        fprintf(stderr, "line %d: fordblks %zu + uordblks %zu + cached and records %zu != arena %zu\n", line,
                mi->fordblks, mi->uordblks, rest, mi->arena);
    CHECK(mi->fordblks + mi->uordblks + rest == mi->arena);
    CHECK(mi->ordblks >= 1); /* at least the top chunk */
    CHECK(mi->usmblks == 0);
    CHECK(mi->fsmblks <= mi->fordblks);
    CHECK(mi->keepcost <= mi->fordblks);
}
#define CHECK_CONSISTENT(mi) check_consistent(&(mi), __LINE__)

static void test_mallinfo2_in_use(void)
{
    enum { N = 10 };
    void *blocks[N];
    struct mallinfo2 before = mallinfo2();
    CHECK_CONSISTENT(before);
    for (int i = 0; i < N; i++) {
        blocks[i] = malloc(SMALL_REQUEST);
        REQUIRE(blocks[i] != NULL);
    }
    struct mallinfo2 during = mallinfo2();
    CHECK_CONSISTENT(during);
    CHECK(during.uordblks >= before.uordblks + N * chunk_of(SMALL_REQUEST));
    CHECK(during.arena >= N * chunk_of(SMALL_REQUEST));
    CHECK_HEAP();

    for (int i = 0; i < N; i++)
        free(blocks[i]);
    struct mallinfo2 after = mallinfo2();
    CHECK_CONSISTENT(after);
    CHECK_EQ_SIZE(after.uordblks, before.uordblks);
    CHECK_HEAP();
}

static void test_mallinfo2_mmap(void)
{
    struct mallinfo2 before = mallinfo2();
    void *big = malloc(BIG_REQUEST);
    REQUIRE(big != NULL);
    struct mallinfo2 during = mallinfo2();
    CHECK_CONSISTENT(during);
    CHECK_EQ_SIZE(during.hblks, before.hblks + 1);
    CHECK(during.hblkhd >= before.hblkhd + BIG_REQUEST);
    CHECK(during.hblkhd <= before.hblkhd + BIG_REQUEST + 2 * 4096);
    /* mmapped memory is not part of the arena */
    CHECK_EQ_SIZE(during.arena, before.arena);
    free(big);
    struct mallinfo2 after = mallinfo2();
    CHECK_EQ_SIZE(after.hblks, before.hblks);
    CHECK_EQ_SIZE(after.hblkhd, before.hblkhd);
}

static void test_fast_chunks(void)
{
    enum { N = 10 };
    void *blocks[N];
    /* guards keep the frees away from top; fast chunks never merge anyway */
    void *guards[N];
    REQUIRE(mallopt(M_MXFAST, 128) == 1);
    for (int i = 0; i < N; i++) {
        blocks[i] = malloc(FAST_REQUEST);
        guards[i] = malloc(SMALL_REQUEST);
        REQUIRE(blocks[i] != NULL && guards[i] != NULL);
        CHECK_EQ_SIZE(chunk_of(FAST_REQUEST), FAST_CHUNK);
    }
    struct mallinfo2 held = mallinfo2();
    for (int i = 0; i < N; i++)
        free(blocks[i]);
    struct mallinfo2 freed = mallinfo2();
    CHECK_CONSISTENT(freed);
    CHECK_EQ_SIZE(freed.smblks, held.smblks + N);
    CHECK_EQ_SIZE(freed.fsmblks, held.fsmblks + N * FAST_CHUNK);
    CHECK_EQ_SIZE(freed.fordblks, held.fordblks + N * FAST_CHUNK);
    CHECK_EQ_SIZE(freed.uordblks, held.uordblks - N * FAST_CHUNK);
    /* fast chunks are not bin chunks */
    CHECK_EQ_SIZE(freed.ordblks, held.ordblks);
    CHECK_HEAP();

    /* mallopt consolidates, and with fast bins off nothing enters them */
    REQUIRE(mallopt(M_MXFAST, 0) == 1);
    struct mallinfo2 off = mallinfo2();
    CHECK_EQ_SIZE(off.smblks, 0);
    CHECK_EQ_SIZE(off.fsmblks, 0);
    for (int i = 0; i < N; i++)
        blocks[i] = malloc(FAST_REQUEST);
    for (int i = 0; i < N; i++)
        free(blocks[i]);
    off = mallinfo2();
    CHECK_EQ_SIZE(off.smblks, 0);
    CHECK_CONSISTENT(off);
    REQUIRE(mallopt(M_MXFAST, 128) == 1);
    for (int i = 0; i < N; i++)
        free(guards[i]);
    CHECK_HEAP();
}

static void test_mallinfo_int(void)
{
    struct mallinfo2 wide = mallinfo2();
    struct mallinfo narrow = mallinfo();
    struct mallinfo alias = __libc_mallinfo();
    CHECK(narrow.arena == (int)(wide.arena > INT_MAX ? INT_MAX : wide.arena));
    CHECK(narrow.ordblks == (int)wide.ordblks);
    CHECK(narrow.smblks == (int)wide.smblks);
    CHECK(narrow.hblks == (int)wide.hblks);
    CHECK(narrow.uordblks == (int)(wide.uordblks > INT_MAX ? INT_MAX : wide.uordblks));
    CHECK(narrow.fordblks == (int)(wide.fordblks > INT_MAX ? INT_MAX : wide.fordblks));
    CHECK(narrow.keepcost == (int)(wide.keepcost > INT_MAX ? INT_MAX : wide.keepcost));
    CHECK(alias.arena == narrow.arena && alias.uordblks == narrow.uordblks);
}

/* The number after "label" in text, searching from *cursor; advances the
 * cursor past it.  Checks glibc's right-aligned width of 10. */
static bool stats_value(const char **cursor, const char *label, unsigned long long *value)
{
    const char *at = strstr(*cursor, label);
    if (at == NULL)
        return false;
    at += strlen(label);
    const char *eol = strchr(at, '\n');
    if (eol == NULL || eol - at < 10)
        return false;
    char *end;
    *value = strtoull(at, &end, 10);
    *cursor = eol + 1;
    return end == eol;
}

static void test_malloc_stats(void)
{
    void *big = malloc(BIG_REQUEST); /* one mmapped region in the totals */
    void *small = malloc(SMALL_REQUEST);
    REQUIRE(big != NULL && small != NULL);
    struct mallinfo2 mi = mallinfo2();
    const char *text = capture_stderr(malloc_stats);

    const char *cursor = text;
    unsigned long long arena_system = 0, arena_in_use = 0;
    unsigned long long total_system = 0, total_in_use = 0, max_regions = 0, max_bytes = 0;
    CHECK(strncmp(text, "Arena 0:\n", 9) == 0);
    CHECK(stats_value(&cursor, "system bytes     = ", &arena_system));
    CHECK(stats_value(&cursor, "in use bytes     = ", &arena_in_use));
    const char *total = strstr(text, "Total (incl. mmap):\n");
    REQUIRE(total != NULL);
    cursor = total;
    CHECK(stats_value(&cursor, "system bytes     = ", &total_system));
    CHECK(stats_value(&cursor, "in use bytes     = ", &total_in_use));
    CHECK(stats_value(&cursor, "max mmap regions = ", &max_regions));
    CHECK(stats_value(&cursor, "max mmap bytes   = ", &max_bytes));
    CHECK(*cursor == '\0');

    /* single-threaded so far: the main arena is the only one */
    CHECK(strstr(text, "Arena 1:") == NULL);
    CHECK_EQ_SIZE(arena_system, mi.arena);
    CHECK_EQ_SIZE(arena_in_use, mi.uordblks);
    CHECK_EQ_SIZE(total_system, mi.arena + mi.hblkhd);
    CHECK_EQ_SIZE(total_in_use, mi.uordblks + mi.hblkhd);
    CHECK(max_regions >= 1);
    CHECK(max_bytes >= BIG_REQUEST);
    if (strncmp(text, "Arena 0:\n", 9) != 0 || arena_system != mi.arena)
        fprintf(stderr, "malloc_stats wrote:\n%s", text);
    free(small);
    free(big);
}

/* ---- malloc_info ---- */

static char xml[1 << 16];

/* Writes malloc_info into a temporary file (with a static stdio buffer,
 * so writing does not allocate), then reads it back into xml. */
static bool capture_malloc_info(struct mallinfo2 *mi_at_same_time, char *path, size_t path_len)
{
    static char stdio_buffer[1 << 16];
    snprintf(path, path_len, "/tmp/test_stats_info.XXXXXX");
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    FILE *fp = fdopen(fd, "w+");
    REQUIRE(fp != NULL);
    setvbuf(fp, stdio_buffer, _IOFBF, sizeof stdio_buffer);
    *mi_at_same_time = mallinfo2();
    int ret = malloc_info(0, fp);
    CHECK(ret == 0);
    fflush(fp);
    rewind(fp);
    size_t len = fread(xml, 1, sizeof xml - 1, fp);
    xml[len] = '\0';
    fclose(fp);
    return ret == 0 && len > 0 && len < sizeof xml - 1;
}

/* The value of attribute `attr` in the first element starting with `tag`
 * found from *cursor (which is advanced past that element). */
static bool xml_attr(const char **cursor, const char *tag, const char *attr, size_t *value)
{
    const char *at = strstr(*cursor, tag);
    if (at == NULL)
        return false;
    const char *end = strchr(at, '>');
    char key[64];
    snprintf(key, sizeof key, " %s=\"", attr);
    const char *a = strstr(at, key);
    if (end == NULL || a == NULL || a > end)
        return false;
    *value = strtoull(a + strlen(key), NULL, 10);
    *cursor = end + 1;
    return true;
}

static size_t count_occurrences(const char *text, const char *what)
{
    size_t n = 0;
    for (const char *p = strstr(text, what); p != NULL; p = strstr(p + 1, what))
        n++;
    return n;
}

/* Sums attr over every element starting with tag in [from, to). */
static size_t sum_attr(const char *from, const char *to, const char *tag, const char *attr)
{
    size_t sum = 0, v;
    const char *cursor = from;
    while (xml_attr(&cursor, tag, attr, &v) && cursor <= to)
        sum += v;
    return sum;
}

static void validate_with_python(const char *path)
{
    if (system("command -v python3 >/dev/null 2>&1") != 0) {
        fprintf(stderr, "test_stats: python3 not found, XML parse check skipped\n");
        return;
    }
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])' %s",
             path);
    CHECK(system(cmd) == 0);
}

static void check_info_against(const struct mallinfo2 *mi, size_t narenas)
{
    CHECK(strncmp(xml, "<malloc version=\"1\">\n", 21) == 0);
    CHECK(strstr(xml, "</malloc>\n") != NULL);
    CHECK_EQ_SIZE(count_occurrences(xml, "<heap nr="), narenas);
    CHECK_EQ_SIZE(count_occurrences(xml, "</heap>"), narenas);
    CHECK_EQ_SIZE(count_occurrences(xml, "<sizes>"), narenas);
    CHECK_EQ_SIZE(count_occurrences(xml, "</sizes>"), narenas);
    CHECK(strstr(xml, "<heap nr=\"0\">") != NULL);
    CHECK_EQ_SIZE(count_occurrences(xml, "<aspace type=\"subheaps\""), narenas - 1);
    /* per heap: fast, rest; then the global fast, rest, mmap */
    CHECK_EQ_SIZE(count_occurrences(xml, "<total type=\"fast\""), narenas + 1);
    CHECK_EQ_SIZE(count_occurrences(xml, "<total type=\"rest\""), narenas + 1);
    CHECK_EQ_SIZE(count_occurrences(xml, "<total type=\"mmap\""), 1);
    CHECK_EQ_SIZE(count_occurrences(xml, "<system type=\"current\""), narenas + 1);
    CHECK_EQ_SIZE(count_occurrences(xml, "<system type=\"max\""), narenas + 1);
    CHECK_EQ_SIZE(count_occurrences(xml, "<aspace type=\"total\""), narenas + 1);
    CHECK_EQ_SIZE(count_occurrences(xml, "<aspace type=\"mprotect\""), narenas + 1);

    /* Every free chunk outside top is in one <size> or <unsorted> line;
     * ordblks counts one top per arena on top of those. */
    const char *last_heap_end = NULL;
    for (const char *p = strstr(xml, "</heap>"); p != NULL; p = strstr(p + 1, "</heap>"))
        last_heap_end = p;
    REQUIRE(last_heap_end != NULL);
    size_t listed = sum_attr(xml, last_heap_end, "<size ", "count") +
                    sum_attr(xml, last_heap_end, "<unsorted ", "count");
    CHECK_EQ_SIZE(listed, mi->smblks + mi->ordblks - narenas);
    size_t listed_bytes = sum_attr(xml, last_heap_end, "<size ", "total") +
                          sum_attr(xml, last_heap_end, "<unsorted ", "total");
    /* the rest is top: keepcost is the main arena's, other tops add more */
    if (narenas == 1)
        CHECK_EQ_SIZE(listed_bytes + mi->keepcost, mi->fordblks);
    else
        CHECK(listed_bytes + mi->keepcost <= mi->fordblks);

    /* the global totals after the last heap */
    const char *cursor = last_heap_end;
    size_t v;
    CHECK(xml_attr(&cursor, "<total type=\"fast\"", "count", &v) && v == mi->smblks);
    cursor = last_heap_end;
    CHECK(xml_attr(&cursor, "<total type=\"fast\"", "size", &v) && v == mi->fsmblks);
    cursor = last_heap_end;
    CHECK(xml_attr(&cursor, "<total type=\"rest\"", "count", &v) && v == mi->ordblks);
    cursor = last_heap_end;
    CHECK(xml_attr(&cursor, "<total type=\"rest\"", "size", &v) &&
          v == mi->fordblks - mi->fsmblks);
    cursor = last_heap_end;
    CHECK(xml_attr(&cursor, "<total type=\"mmap\"", "count", &v) && v == mi->hblks);
    cursor = last_heap_end;
    CHECK(xml_attr(&cursor, "<total type=\"mmap\"", "size", &v) && v == mi->hblkhd);
    cursor = last_heap_end;
    CHECK(xml_attr(&cursor, "<system type=\"current\"", "size", &v) && v == mi->arena);
}

static void test_malloc_info(size_t narenas)
{
    /* some chunks in the fast bins, the unsorted bin and a small bin */
    enum { N = 8 };
    void *keep[N], *gone[N];
    for (int i = 0; i < N; i++) {
        gone[i] = malloc(i % 2 ? FAST_REQUEST : SMALL_REQUEST + 64 * (size_t)i);
        keep[i] = malloc(SMALL_REQUEST);
    }
    for (int i = 0; i < N; i++)
        free(gone[i]);
    void *sorter = malloc(2000); /* scans unsorted: files some into bins */
    void *big = malloc(BIG_REQUEST);
    for (int i = 0; i < N; i += 2)
        free(keep[i]);

    struct mallinfo2 mi;
    char path[64];
    bool ok = capture_malloc_info(&mi, path, sizeof path);
    CHECK(ok);
    if (ok) {
        validate_with_python(path);
        check_info_against(&mi, narenas);
    }
    unlink(path);

    free(big);
    free(sorter);
    for (int i = 1; i < N; i += 2)
        free(keep[i]);
    CHECK_HEAP();
}

static void test_malloc_info_options(void)
{
    char path[] = "/tmp/test_stats_opt.XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    FILE *fp = fdopen(fd, "w+");
    REQUIRE(fp != NULL);
    errno = 0;
    CHECK(malloc_info(1, fp) == -1);
    CHECK(errno == EINVAL);
    errno = 0;
    CHECK(malloc_info(-1, fp) == -1);
    CHECK(errno == EINVAL);
    fflush(fp);
    CHECK(ftell(fp) == 0); /* nothing written */
    fclose(fp);
    unlink(path);
}

/* ---- a second arena ---- */

static void *thread_allocates(void *arg)
{
    (void)arg;
    void *blocks[16];
    for (int i = 0; i < 16; i++)
        blocks[i] = malloc(SMALL_REQUEST * (size_t)(i + 1));
    for (int i = 0; i < 16; i += 2)
        free(blocks[i]);
    return NULL; /* the odd ones stay in use in the thread's arena */
}

static size_t arena_count(void)
{
    size_t n = 0;
    struct pm_arena *a = &pm_main_arena;
    do {
        n++;
        a = arena_next(a);
    } while (a != &pm_main_arena && a != NULL);
    return n;
}

static void test_two_arenas(void)
{
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, thread_allocates, NULL) == 0);
    REQUIRE(pthread_join(t, NULL) == 0);
    size_t narenas = arena_count();
    if (narenas < 2) {
        fprintf(stderr, "test_stats: the thread shared the main arena, multi-arena checks skipped\n");
        return;
    }
    struct mallinfo2 mi = mallinfo2();
    CHECK_CONSISTENT(mi);
    const char *text = capture_stderr(malloc_stats);
    CHECK(strstr(text, "Arena 0:\n") != NULL);
    CHECK(strstr(text, "Arena 1:\n") != NULL);
    test_malloc_info(narenas);
}

int main(void)
{
    /* Frees must reach the arena for the counts to move: no tcache.  A
     * fixed threshold keeps 1 MiB requests mmapped after one is freed. */
    REQUIRE(mallopt(PM_M_TCACHE_COUNT, 0) == 1);
    REQUIRE(mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1);
    /* The first heap's own record is counted in use (as a non-main arena's
     * is in glibc); get it in place before anything is measured. */
    free(malloc(1));

    test_mallinfo2_in_use();
    test_mallinfo2_mmap();
    test_fast_chunks();
    test_mallinfo_int();
    test_malloc_stats();
    test_malloc_info(1);
    test_malloc_info_options();
    test_two_arenas();
    CHECK_HEAP();
    return test_finish("test_stats");
}
