/* One definition of "in use" (doc/heapviz.md): the chunks the program
 * holds, allocated and not yet freed.  On one heap with chunks in every
 * state (in use, fast bins, bins, top, thread caches, a thread arena, a
 * mapped chunk, a chunk freed from another thread) mallinfo2's uordblks,
 * the snapshot's frag and per-arena statistics (what heapviz frag and the
 * page show) and the PMALLOC_STATS report give the same number, and so do
 * the resident parts of the snapshot and the report, every page of it
 * having been written. */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../harness.h"
#include "../../tools/heapviz/json.h"
#include "options.h"
#include "report.h"

static char *keep_for_other_thread;

static void *worker(void *arg)
{
    (void)arg;
    char *p[30];
    for (int i = 0; i < 30; i++) {
        p[i] = malloc(64 + 90 * (size_t)i);
        memset(p[i], 1, 64 + 90 * (size_t)i);
    }
    for (int i = 0; i < 30; i += 2)
        free(p[i]);
    free(keep_for_other_thread); /* a main-arena chunk freed from here */
    return NULL;
}

static char *slurp(int fd, size_t *len)
{
    off_t n = lseek(fd, 0, SEEK_END);
    REQUIRE(n > 0);
    char *text = malloc((size_t)n + 1);
    REQUIRE(text != NULL && pread(fd, text, (size_t)n, 0) == n);
    text[n] = 0;
    *len = (size_t)n;
    return text;
}

static struct jval *parse(int fd, const char *what)
{
    size_t len;
    char *text = slurp(fd, &len), err[256];
    struct jval *v = json_parse(text, len, err, sizeof err);
    if (v == NULL)
        fprintf(stderr, "%s is not JSON: %s\n", what, err);
    REQUIRE(v != NULL);
    free(text);
    return v;
}

static int temp_fd(void)
{
    char path[] = "/tmp/pmalloc-inuseXXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    unlink(path);
    return fd;
}

int main(void)
{
    char *p[200];
    for (int i = 0; i < 200; i++) {
        size_t n = 16 + 37 * (size_t)(i % 50) + (i % 7 == 0 ? 3000 : 0);
        p[i] = malloc(n);
        REQUIRE(p[i] != NULL);
        memset(p[i], 2, n);
    }
    for (int i = 0; i < 200; i += 3)
        free(p[i]);       /* thread cache, fast bins, bins */
    char *mapped = malloc(400000);
    REQUIRE(mapped != NULL);
    memset(mapped, 3, 400000);
    keep_for_other_thread = p[1];
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, worker, NULL) == 0);
    REQUIRE(pthread_join(t, NULL) == 0);

    /* the three readings, with no allocation between them */
    int snap_fd = temp_fd(), report_fd = temp_fd();
    REQUIRE(pmalloc_snapshot(snap_fd) == 0);
    struct mallinfo2 mi = mallinfo2();
    int saved_stderr = dup(STDERR_FILENO);
    REQUIRE(saved_stderr >= 0 && dup2(report_fd, STDERR_FILENO) == STDERR_FILENO);
    pm_opt.stats_at_exit = true;
    pm_opt.stats_json = true;
    pm_report_at_exit();
    REQUIRE(dup2(saved_stderr, STDERR_FILENO) == STDERR_FILENO);
    close(saved_stderr);

    struct jval *snap = parse(snap_fd, "the snapshot"), *report = parse(report_fd, "the report");
    uint64_t frag = jget_u64(jget(snap, "frag"), "inuse_bytes"), per_arena = 0;
    const struct jval *arenas = jget(snap, "arenas");
    CHECK(jlen(arenas) >= 2);
    for (size_t i = 0; i < jlen(arenas); i++)
        per_arena += jget_u64(jget(jat(arenas, i), "stats"), "uordblks");
    uint64_t reported = jget_u64(jget(report, "memory"), "in_use");
    uint64_t snap_resident = jget_u64(jget(snap, "resident"), "in_use");
    uint64_t report_resident = jget_u64(jget(report, "resident"), "in_use");
    fprintf(stderr, "in use: mallinfo2 %zu, frag %llu, arenas' statistics %llu, report %llu; resident: snapshot %llu, "
                    "report %llu\n", mi.uordblks, (unsigned long long)frag, (unsigned long long)per_arena,
            (unsigned long long)reported, (unsigned long long)snap_resident, (unsigned long long)report_resident);
    CHECK(frag > 100000); /* the 134 blocks still held, with headers */
    CHECK_EQ_SIZE(mi.uordblks, frag);
    CHECK_EQ_SIZE(per_arena, frag);
    CHECK_EQ_SIZE(reported, frag);
    CHECK_EQ_SIZE(snap_resident, frag);
    CHECK_EQ_SIZE(report_resident, frag);
    json_free(snap);
    json_free(report);
    close(snap_fd);
    close(report_fd);
    for (int i = 2; i < 200; i++)
        if (i % 3 != 0)
            free(p[i]);
    free(mapped);
    return test_finish("test_in_use");
}
