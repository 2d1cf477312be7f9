/* 10,000 short-lived threads, four at a time: each fills its thread cache,
 * uses the bins of its arena, leaves one block for main to free after it
 * has gone, and exits.  What a thread takes is given back when it ends
 * (facts §3: the cache is freed; §4: attached_threads drops and the arena
 * goes to the free list), so the resident size, the number of arenas and
 * the list of thread caches stay bounded.
 *
 * Usage: test_thread_churn [threads] (default 10000). */
#include "thr.h"

#define AT_ONCE 4

struct job {
    int n;
    void *leftover;           /* freed by main after the thread is gone */
    struct pm_arena *arena;
};

static void *worker(void *arg)
{
    struct job *j = arg;
    enum { N = 48 };
    void *p[N];
    /* thread-cache sizes, several of each, so bins fill up and spill */
    for (int i = 0; i < N; i++)
        p[i] = malloc((size_t)(i % 12) * 80 + 16);
    for (int i = 0; i < N; i++)
        free(p[i]);
    /* bins and a block that makes the top grow */
    void *a = malloc(3000), *b = malloc(40 * KiB), *c = calloc(1, 70 * KiB);
    TCHECK(a && b && c);
    memset(a, 1, 3000);
    memset(b, 2, 40 * KiB);
    free(a);
    free(c);
    /* some threads exit without freeing their last cached chunks */
    if (j->n % 3 == 0)
        (void)malloc(24);
    else
        free(b), b = NULL;
    j->leftover = b ? b : malloc(500);
    j->arena = pm_thread_arena;
    TCHECK(pm_tcache_get() != NULL);
    if (j->n % 7 == 0)
        pthread_exit(NULL); /* the other way out */
    return NULL;
}

/* A thread that never allocates, and one that only frees. */
static void *idle(void *arg) { return arg; }
static void *only_free(void *arg)
{
    free(arg);
    return NULL;
}

/* The first pthread_exit in the process makes the unwinder allocate its
 * tables, which it keeps for good. */
static void *exiter(void *arg)
{
    free(malloc(10));
    pthread_exit(arg);
}

static size_t inuse_in_thread_arenas(void)
{
    size_t inuse = 0;
    for (struct pm_arena *a = arena_next(&pm_main_arena); a != &pm_main_arena; a = arena_next(a)) {
        struct arena_tally t = tally_arena(a);
        inuse += t.inuse_chunks;
        CHECK(a->remote_frees == NULL);
    }
    return inuse;
}

static size_t tcache_list_length(void)
{
    size_t n = 0;
    for (struct pm_tcache *t = pm_tcache_list.next; t != &pm_tcache_list; t = t->next)
        n++;
    return n;
}

static size_t attached_total(void)
{
    size_t n = 0;
    struct pm_arena *a = &pm_main_arena;
    do {
        n += a->attached_threads;
        a = arena_next(a);
    } while (a != &pm_main_arena);
    return n;
}

int main(int argc, char **argv)
{
    int total = argc > 1 ? atoi(argv[1]) : 10000;
    REQUIRE(total >= 200);
    free(malloc(10)); /* main's own cache exists from here on */
    size_t caches0 = tcache_list_length();
    CHECK_EQ_SIZE(caches0, 1);
    pthread_t first;
    REQUIRE(pthread_create(&first, NULL, exiter, NULL) == 0);
    pthread_join(first, NULL);
    malloc_trim(0); /* fast-bin chunks would count as in use */
    size_t baseline = inuse_in_thread_arenas();

    size_t rss_100 = 0, max_arenas = 0;
    struct job jobs[AT_ONCE];
    pthread_t th[AT_ONCE];
    double t0 = now_sec();
    for (int n = 0; n < total; n += AT_ONCE) {
        for (int k = 0; k < AT_ONCE; k++) {
            jobs[k].n = n + k;
            jobs[k].leftover = NULL;
            jobs[k].arena = NULL;
            REQUIRE(pthread_create(&th[k], NULL, worker, &jobs[k]) == 0);
        }
        for (int k = 0; k < AT_ONCE; k++) {
            pthread_join(th[k], NULL);
            free(jobs[k].leftover);
        }
        if (n % 200 == 0) {
            pthread_t t1, t2;
            REQUIRE(pthread_create(&t1, NULL, idle, NULL) == 0);
            REQUIRE(pthread_create(&t2, NULL, only_free, malloc(200)) == 0);
            pthread_join(t1, NULL);
            pthread_join(t2, NULL);
        }
        if (pm_global.narenas > max_arenas)
            max_arenas = pm_global.narenas;
        if (n + AT_ONCE == 100)
            rss_100 = rss_bytes();
        /* Every thread is gone: its cache is off the list and it no
         * longer counts as attached to its arena. */
        if (tcache_list_length() != caches0 || attached_total() != 1) {
            fprintf(stderr, "after %d threads: %zu caches listed, %zu attached\n", n + AT_ONCE,
                    tcache_list_length(), attached_total());
            CHECK(!"a finished thread still holds its cache or arena");
            break;
        }
    }
    size_t rss_end = rss_bytes();
    fprintf(stderr, "%d threads in %.1f s; RSS after 100: %zu KiB, at the end: %zu KiB; arenas %zu\n", total,
            now_sec() - t0, rss_100 / KiB, rss_end / KiB, max_arenas);
    THR_COLLECT();
    CHECK(rss_100 > 0);
    CHECK(rss_end < rss_100 + 4 * MiB);
    /* At most AT_ONCE threads lived at a time, so arenas of finished ones
     * were always there to be reused. */
    CHECK(max_arenas <= 1 + AT_ONCE + 1);
    CHECK_EQ_SIZE(tcache_list_length(), caches0);
    CHECK_EQ_SIZE(attached_total(), 1);

    /* What the threads left behind is free: no chunk is in use in any
     * thread arena once the remote lists are drained. */
    malloc_trim(0);
    size_t leaked = 0;
    for (int n = 0; n < total; n++)
        leaked += n % 3 == 0;
    size_t inuse = inuse_in_thread_arenas();
    /* Exactly the 24-byte blocks dropped by every third thread, the
     * leftovers main freed into its own cache, and what the unwinder kept
     * from the first pthread_exit. */
    size_t cached = own_cache_chunks_of_thread_arenas();
    fprintf(stderr, "in use in thread arenas: %zu; dropped %zu, in main's cache %zu, unwinder %zu\n", inuse,
            leaked, cached, baseline);
    CHECK_EQ_SIZE(inuse, leaked + cached + baseline);
    if (inuse != leaked + cached + baseline)
        for (struct pm_arena *a = arena_next(&pm_main_arena); a != &pm_main_arena; a = arena_next(a))
            dump_inuse(a);
    CHECK_HEAP();
    return test_finish("test_thread_churn");
}
