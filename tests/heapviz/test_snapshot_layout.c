/* pmalloc_snapshot on a heap built to a known layout: the snapshot must
 * list exactly the chunks made, each in the state it was left in, every
 * bin in its list order, the same statistics as mallinfo2, the mmapped
 * chunk, the thread cache of this thread and a thread arena's sub-heap. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../harness.h"
#include "../../tools/heapviz/json.h"

#define CHUNK(p) ((uint64_t)(uintptr_t)(p) - 16)

static struct jval *take_snapshot(void)
{
    char path[] = "/tmp/pmalloc-snapXXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    unlink(path);
    REQUIRE(pmalloc_snapshot(fd) == 0);
    /* read back only after the snapshot: the parser allocates */
    off_t len = lseek(fd, 0, SEEK_END);
    REQUIRE(len > 0);
    char *text = malloc((size_t)len + 1);
    REQUIRE(text != NULL && pread(fd, text, (size_t)len, 0) == len);
    close(fd);
    char err[256];
    struct jval *snap = json_parse(text, (size_t)len, err, sizeof err);
    if (snap == NULL)
        fprintf(stderr, "snapshot is not JSON: %s\n", err);
    REQUIRE(snap != NULL);
    free(text);
    CHECK(!jget_bool(snap, "partial"));
    CHECK_EQ_SIZE(jlen(jget(snap, "problems")), 0);
    for (size_t i = 0; i < jlen(jget(snap, "problems")); i++)
        fprintf(stderr, "problem: %s at %s\n", jget_str(jat(jget(snap, "problems"), i), "what"),
                jget_str(jat(jget(snap, "problems"), i), "addr"));
    CHECK(strcmp(jget_str(snap, "format"), "pmalloc-snapshot") == 0);
    CHECK_EQ_SIZE(jget_u64(snap, "version"), 3);
    return snap;
}

/* The chunk list of the heap holding addr, and addr's index in it. */
static const struct jval *find_chunk(const struct jval *snap, uint64_t addr, size_t *index,
                                     const struct jval **arena_out)
{
    const struct jval *arenas = jget(snap, "arenas");
    for (size_t a = 0; a < jlen(arenas); a++) {
        const struct jval *heaps = jget(jat(arenas, a), "heaps");
        for (size_t h = 0; h < jlen(heaps); h++) {
            const struct jval *chunks = jget(jat(heaps, h), "chunks");
            for (size_t c = 0; c < jlen(chunks); c++)
                if (jget_addr(jat(chunks, c), "addr") == addr) {
                    *index = c;
                    if (arena_out)
                        *arena_out = jat(arenas, a);
                    return chunks;
                }
        }
    }
    return NULL;
}

static const struct jval *find_bin(const struct jval *arena, const char *kind, uint64_t index)
{
    const struct jval *bins = jget(arena, "bins");
    for (size_t i = 0; i < jlen(bins); i++)
        if (strcmp(jget_str(jat(bins, i), "kind"), kind) == 0 && jget_u64(jat(bins, i), "index") == index)
            return jat(bins, i);
    return NULL;
}

static void check_bin(const struct jval *arena, const char *kind, uint64_t index, const uint64_t *order, size_t n)
{
    const struct jval *bin = find_bin(arena, kind, index);
    CHECK(bin != NULL);
    if (bin == NULL) {
        fprintf(stderr, "  bin %s %llu missing\n", kind, (unsigned long long)index);
        return;
    }
    const struct jval *chunks = jget(bin, "chunks");
    CHECK_EQ_SIZE(jlen(chunks), n);
    for (size_t i = 0; i < n && i < jlen(chunks); i++)
        CHECK_EQ_SIZE(jaddr(jat(chunks, i)), order[i]);
}

struct expect {
    void *mem;
    size_t size;
    const char *state;
};

static void *thread_main(void *arg)
{
    void **out = arg;
    *out = malloc(1000);
    return NULL;
}

int main(void)
{
    /* No thread cache for the layout part: every free reaches the bins. */
    REQUIRE(mallopt(PMALLOC_M_TCACHE_COUNT, 0) == 1);
    char *g0 = malloc(24), *f1 = malloc(40), *g1 = malloc(24), *f2 = malloc(40), *g2 = malloc(24);
    char *s1 = malloc(200), *g3 = malloc(24), *s2 = malloc(300), *g4 = malloc(24);
    char *l1 = malloc(2000), *g5 = malloc(24), *l1b = malloc(2020), *g6 = malloc(24);
    char *l2 = malloc(3000), *g7 = malloc(24), *u1 = malloc(500), *g8 = malloc(24);
    free(s1);
    free(s2);
    free(l1);
    free(l1b);
    free(l2);
    char *big = malloc(8000); /* sorts the unsorted chunks into their bins */
    free(f1);
    free(f2);
    free(u1);
    char *huge = malloc(1 << 20);
    REQUIRE(huge != NULL && big != NULL);
    struct mallinfo2 mi = mallinfo2();

    struct jval *snap = take_snapshot();
    struct expect want[] = {
        {g0, 32, "inuse"},    {f1, 48, "fast"},     {g1, 32, "inuse"},  {f2, 48, "fast"},
        {g2, 32, "inuse"},    {s1, 208, "small"},   {g3, 32, "inuse"},  {s2, 320, "small"},
        {g4, 32, "inuse"},    {l1, 2016, "large"},  {g5, 32, "inuse"},  {l1b, 2032, "large"},
        {g6, 32, "inuse"},    {l2, 3008, "large"},  {g7, 32, "inuse"},  {u1, 512, "unsorted"},
        {g8, 32, "inuse"},    {big, 8016, "inuse"},
    };
    size_t first;
    const struct jval *arena = NULL;
    const struct jval *chunks = find_chunk(snap, CHUNK(g0), &first, &arena);
    REQUIRE(chunks != NULL);
    CHECK(jget_bool(arena, "main"));
    size_t nwant = sizeof want / sizeof want[0];
    REQUIRE(first + nwant < jlen(chunks));
    for (size_t i = 0; i < nwant; i++) {
        const struct jval *c = jat(chunks, first + i);
        CHECK_EQ_SIZE(jget_addr(c, "addr"), CHUNK(want[i].mem));
        CHECK_EQ_SIZE(jget_u64(c, "size"), want[i].size);
        if (strcmp(jget_str(c, "state"), want[i].state) != 0) {
            CHECK(!"state");
            fprintf(stderr, "  chunk %zu: state %s, expected %s\n", i, jget_str(c, "state"), want[i].state);
        }
    }
    /* nothing but top after the last chunk made */
    CHECK(strcmp(jget_str(jat(chunks, first + nwant), "state"), "top") == 0);
    CHECK_EQ_SIZE(first + nwant + 1, jlen(chunks));

    uint64_t fast[] = {CHUNK(f2), CHUNK(f1)}, unsorted[] = {CHUNK(u1)};
    uint64_t small13[] = {CHUNK(s1)}, small20[] = {CHUNK(s2)};
    uint64_t large79[] = {CHUNK(l1b), CHUNK(l1)}, large95[] = {CHUNK(l2)};
    check_bin(arena, "fast", 1, fast, 2);
    check_bin(arena, "unsorted", 1, unsorted, 1);
    check_bin(arena, "small", 13, small13, 1);
    check_bin(arena, "small", 20, small20, 1);
    check_bin(arena, "large", 79, large79, 2);
    check_bin(arena, "large", 95, large95, 1);
    CHECK_EQ_SIZE(jget_u64(jget(snap, "totals"), "arenas"), jlen(jget(snap, "arenas")));

    /* the same figures as mallinfo2, summed over the arenas */
    uint64_t sum[7] = {0};
    static const char *const names[7] = {"arena", "ordblks", "smblks", "fsmblks", "uordblks", "fordblks", "keepcost"};
    for (size_t a = 0; a < jlen(jget(snap, "arenas")); a++)
        for (int k = 0; k < 7; k++)
            sum[k] += jget_u64(jget(jat(jget(snap, "arenas"), a), "stats"), names[k]);
    CHECK_EQ_SIZE(sum[0], mi.arena);
    CHECK_EQ_SIZE(sum[1], mi.ordblks);
    CHECK_EQ_SIZE(sum[2], mi.smblks);
    CHECK_EQ_SIZE(sum[3], mi.fsmblks);
    CHECK_EQ_SIZE(sum[4], mi.uordblks);
    CHECK_EQ_SIZE(sum[5], mi.fordblks);
    CHECK_EQ_SIZE(sum[6], mi.keepcost);
    const struct jval *frag = jget(arena, "frag");
    CHECK_EQ_SIZE(jget_u64(frag, "largest_free"), 3008);
    CHECK(jget_u64(frag, "free_count") >= 7);

    /* the mmapped chunk */
    const struct jval *mm = jget(snap, "mmapped");
    bool found = false;
    for (size_t i = 0; i < jlen(mm); i++)
        if (jget_addr(jat(mm, i), "addr") == CHUNK(huge)) {
            found = true;
            CHECK(jget_u64(jat(mm, i), "size") >= (1u << 20));
            CHECK_EQ_SIZE(jget_u64(jat(mm, i), "map_len") % 4096, 0);
        }
    CHECK(found);
    CHECK_EQ_SIZE(jlen(mm), mi.hblks);
    json_free(snap);

    /* The thread cache, when this build has one: two frees of one size
     * are listed newest first, under this thread's id. */
    REQUIRE(mallopt(PMALLOC_M_TCACHE_COUNT, 7) == 1);
    char *t1 = malloc(56), *tg = malloc(24), *t2 = malloc(56);
    free(t1);
    free(t2);
    pthread_t th;
    void *from_thread = NULL;
    REQUIRE(pthread_create(&th, NULL, thread_main, &from_thread) == 0);
    REQUIRE(pthread_join(th, NULL) == 0);
    snap = take_snapshot();
    if (jlen(jget(snap, "tcaches")) == 0) {
        printf("no thread cache in this build: tcache part skipped\n");
    } else {
        size_t idx;
        const struct jval *c = find_chunk(snap, CHUNK(t2), &idx, NULL);
        REQUIRE(c != NULL);
        CHECK(strcmp(jget_str(jat(c, idx), "state"), "tcache") == 0);
        CHECK_EQ_SIZE(jget_u64(jat(c, idx), "tid"), (size_t)syscall(SYS_gettid));
        const struct jval *tcs = jget(snap, "tcaches");
        bool listed = false;
        for (size_t i = 0; i < jlen(tcs); i++) {
            if (jget_u64(jat(tcs, i), "tid") != (uint64_t)syscall(SYS_gettid))
                continue;
            const struct jval *bins = jget(jat(tcs, i), "bins");
            for (size_t b = 0; b < jlen(bins); b++)
                if (jget_u64(jat(bins, b), "size") == 64) {
                    const struct jval *l = jget(jat(bins, b), "chunks");
                    CHECK(jlen(l) >= 2);
                    CHECK_EQ_SIZE(jaddr(jat(l, 0)), CHUNK(t2));
                    CHECK_EQ_SIZE(jaddr(jat(l, 1)), CHUNK(t1));
                    listed = true;
                }
        }
        CHECK(listed);
    }
    /* A chunk another thread allocated lives in a thread arena's sub-heap
     * when this build has thread arenas. */
    size_t idx;
    const struct jval *tarena = NULL;
    REQUIRE(find_chunk(snap, CHUNK(from_thread), &idx, &tarena) != NULL);
    if (jget_bool(tarena, "main")) {
        printf("the thread used the main arena: thread-arena part skipped\n");
    } else {
        const struct jval *heap = jat(jget(tarena, "heaps"), 0);
        CHECK(strcmp(jget_str(heap, "kind"), "sub") == 0);
        CHECK(jget_u64(heap, "reserved") == 64u << 20);
    }
    json_free(snap);
    free(tg);
    free(from_thread);

    /* a bad descriptor gives -1 and errno */
    errno = 0;
    CHECK(pmalloc_snapshot(-1) == -1 && errno == EBADF);
    (void)g1, (void)g2, (void)g3, (void)g4, (void)g5, (void)g6, (void)g7, (void)g8;
    return test_finish("test_snapshot_layout");
}
