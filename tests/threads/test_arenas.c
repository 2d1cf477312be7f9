/* Thread arenas (facts §4): a thread's first allocation gets an arena of
 * its own while under the limit; an exited thread's arena goes to the
 * next new thread; the default limit (no limit until more than
 * arena_test = 8 arenas exist, then 8 per CPU); M_ARENA_MAX; and the
 * PMALLOC_ARENA_MAX / MALLOC_ARENA_MAX environment variables.
 *
 * Each scenario needs a process whose arena count starts at 1, so the
 * program runs itself (fork + execve of /proc/self/exe) once per
 * scenario, with a marker argument and the environment it needs. */
#include "thr.h"

#include <sys/sysinfo.h>

extern char **environ;

/* ---- threads that allocate and then wait for each other ---- */

struct probe {
    pthread_barrier_t *all_in;   /* every probe has allocated */
    pthread_barrier_t *release;  /* main has looked */
    struct pm_arena *arena;      /* pm_thread_arena after the first malloc */
    struct pm_arena *chunk_arena;
    struct pm_arena *big_arena;
};

static void *probe_thread(void *arg)
{
    struct probe *pr = arg;
    TCHECK(pm_thread_arena == NULL); /* nothing allocated yet */
    void *p = malloc(100);
    void *big = malloc(5000); /* not a thread-cache size: from the arena */
    TCHECK(p != NULL && big != NULL);
    pr->arena = pm_thread_arena;
    pr->chunk_arena = arena_of_chunk(hdr(p));
    pr->big_arena = arena_of_chunk(hdr(big));
    memset(p, 1, 100);
    memset(big, 2, 5000);
    if (pr->all_in)
        pthread_barrier_wait(pr->all_in);
    if (pr->release)
        pthread_barrier_wait(pr->release);
    free(p);
    free(big);
    return NULL;
}

/* Starts n probes that all stay alive until main has looked at them. */
static void run_probes(struct probe *pr, size_t n, void (*look)(struct probe *, size_t))
{
    pthread_barrier_t all_in, release;
    REQUIRE(pthread_barrier_init(&all_in, NULL, (unsigned)n + 1) == 0);
    REQUIRE(pthread_barrier_init(&release, NULL, (unsigned)n + 1) == 0);
    pthread_t *th = calloc(n, sizeof *th);
    REQUIRE(th != NULL);
    for (size_t i = 0; i < n; i++) {
        memset(&pr[i], 0, sizeof pr[i]);
        pr[i].all_in = &all_in;
        pr[i].release = &release;
        REQUIRE(pthread_create(&th[i], NULL, probe_thread, &pr[i]) == 0);
    }
    pthread_barrier_wait(&all_in);
    look(pr, n);
    pthread_barrier_wait(&release);
    for (size_t i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    free(th);
    pthread_barrier_destroy(&all_in);
    pthread_barrier_destroy(&release);
    THR_COLLECT();
}

/* One probe that runs to its end alone; returns its arena. */
static struct pm_arena *run_one(void)
{
    struct probe pr;
    memset(&pr, 0, sizeof pr);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, probe_thread, &pr) == 0);
    pthread_join(t, NULL);
    THR_COLLECT();
    CHECK(pr.arena == pr.chunk_arena && pr.arena == pr.big_arena);
    return pr.arena;
}

static bool arena_listed(struct pm_arena *x)
{
    struct pm_arena *a = &pm_main_arena;
    do {
        if (a == x)
            return true;
        a = arena_next(a);
    } while (a != &pm_main_arena);
    return false;
}

static size_t attached_total(void)
{
    size_t n = 0;
    pm_lock(&pm_global.list_lock);
    struct pm_arena *a = &pm_main_arena;
    do {
        n += a->attached_threads;
        a = a->next;
    } while (a != &pm_main_arena);
    pm_unlock(&pm_global.list_lock);
    return n;
}

/* Every probe allocated from its own arena, and the chunks came from it. */
static void look_consistent(struct probe *pr, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        CHECK(pr[i].arena != NULL);
        CHECK(arena_listed(pr[i].arena));
        CHECK(pr[i].chunk_arena == pr[i].arena);
        CHECK(pr[i].big_arena == pr[i].arena);
    }
    /* main (1) + every live probe */
    CHECK_EQ_SIZE(attached_total(), n + 1);
}

static void look_distinct(struct probe *pr, size_t n)
{
    look_consistent(pr, n);
    for (size_t i = 0; i < n; i++) {
        CHECK(pr[i].arena != &pm_main_arena);
        for (size_t j = 0; j < i; j++)
            if (pr[i].arena == pr[j].arena) {
                fprintf(stderr, "probes %zu and %zu share arena %u\n", j, i, pr[i].arena->index);
                CHECK(pr[i].arena != pr[j].arena);
            }
    }
    CHECK_EQ_SIZE(pm_global.narenas, n + 1);
}

/* ---- scenarios (each in a fresh process) ---- */

static int scenario_default(void)
{
    CHECK_EQ_SIZE(pm_global.narenas, 1);
    CHECK_EQ_SIZE(pm_opt.arena_max, 0);
    CHECK_EQ_SIZE(pm_opt.arena_test, 8);
    CHECK(pm_thread_arena == &pm_main_arena);

    /* Under the limit: six live threads, six new arenas. */
    enum { K = 6 };
    struct probe pr[K];
    run_probes(pr, K, look_distinct);
    CHECK_EQ_SIZE(pm_global.narenas, K + 1);
    CHECK_EQ_SIZE(attached_total(), 1);
    CHECK_HEAP();

    /* An exited thread's arena is the next thread's; no arena is made. */
    struct pm_arena *first = run_one();
    CHECK(first != &pm_main_arena);
    for (int round = 0; round < 20; round++) {
        struct pm_arena *again = run_one();
        if (again != first)
            fprintf(stderr, "round %d: arena %u, expected %u\n", round, again ? again->index : 0, first->index);
        CHECK(again == first);
    }
    CHECK_EQ_SIZE(pm_global.narenas, K + 1);

    /* Six live threads again: each takes one of the six free arenas. */
    run_probes(pr, K, look_distinct);
    CHECK_EQ_SIZE(pm_global.narenas, K + 1);

    /* The default limit: new arenas while at most arena_test (8) exist,
     * then up to 8 per online CPU; more threads share. */
    size_t cpus = (size_t)get_nprocs();
    size_t limit = 8 * cpus > 9 ? 8 * cpus : 9;
    size_t n = limit + 3;
    if (n <= 200) {
        struct probe *many = calloc(n, sizeof *many);
        REQUIRE(many != NULL);
        run_probes(many, n, look_consistent);
        fprintf(stderr, "%zu CPUs, %zu live threads: %zu arenas (expected %zu)\n", cpus, n, pm_global.narenas,
                limit);
        CHECK_EQ_SIZE(pm_global.narenas, limit);
        /* Every thread arena that exists serves one of these threads. */
        size_t distinct = 0;
        for (size_t i = 0; i < n; i++) {
            bool seen = many[i].arena == &pm_main_arena;
            for (size_t j = 0; j < i && !seen; j++)
                seen = many[j].arena == many[i].arena;
            distinct += !seen;
        }
        CHECK_EQ_SIZE(distinct, limit - 1);
        free(many);
    } else {
        fprintf(stderr, "%zu CPUs: exact default limit not tested\n", cpus);
    }
    size_t after = pm_global.narenas;
    for (int i = 0; i < 5; i++)
        run_one();
    CHECK_EQ_SIZE(pm_global.narenas, after);
    CHECK_EQ_SIZE(attached_total(), 1);
    CHECK_HEAP();
    return test_finish("test_arenas default");
}

static void look_max(struct probe *pr, size_t n)
{
    look_consistent(pr, n);
}

static int scenario_max(size_t max, bool by_mallopt)
{
    if (by_mallopt) {
        CHECK_EQ_SIZE(pm_opt.arena_max, 0);
        CHECK(mallopt(M_ARENA_MAX, (int)max) == 1);
        /* glibc ignores values <= 0 */
        CHECK(mallopt(M_ARENA_MAX, 0) == 1);
        CHECK(mallopt(M_ARENA_MAX, -5) == 1);
    }
    CHECK_EQ_SIZE(pm_opt.arena_max, max);
    enum { N = 10 };
    struct probe pr[N];
    run_probes(pr, N, look_max);
    fprintf(stderr, "arena_max %zu: %zu arenas for %d live threads\n", max, pm_global.narenas, N);
    CHECK(pm_global.narenas <= max);
    CHECK_EQ_SIZE(pm_global.narenas, max); /* it does make as many as allowed */
    /* and again, with the arenas now free */
    run_probes(pr, N, look_max);
    CHECK_EQ_SIZE(pm_global.narenas, max);
    CHECK_EQ_SIZE(attached_total(), 1);
    CHECK_HEAP();
    return test_finish("test_arenas max");
}

/* ---- the driver ---- */

static int run_self(const char *mode, const char *arg, const char *const *extra_env)
{
    char *args[] = { (char *)"test_arenas", (char *)mode, (char *)arg, NULL };
    /* The parent's environment minus any arena setting, plus extra_env. */
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 8, sizeof *env);
    REQUIRE(env != NULL);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "PMALLOC_ARENA", 13) != 0 && strncmp(environ[i], "MALLOC_ARENA", 12) != 0)
            env[k++] = environ[i];
    for (size_t i = 0; extra_env && extra_env[i]; i++)
        env[k++] = (char *)extra_env[i];
    env[k] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        alarm(60);
        execve("/proc/self/exe", args, env);
        perror("execve /proc/self/exe");
        _exit(99);
    }
    free(env);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status))
        fprintf(stderr, "scenario %s %s: killed by signal %d\n", mode, arg ? arg : "", WTERMSIG(status));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        if (strcmp(argv[1], "default") == 0)
            return scenario_default();
        if (strcmp(argv[1], "mallopt") == 0)
            return scenario_max((size_t)atoi(argv[2]), true);
        if (strcmp(argv[1], "env") == 0)
            return scenario_max((size_t)atoi(argv[2]), false);
        fprintf(stderr, "unknown scenario %s\n", argv[1]);
        return 99;
    }
    CHECK_EQ_SIZE(run_self("default", NULL, NULL), 0);
    CHECK_EQ_SIZE(run_self("mallopt", "3", NULL), 0);
    static const char *const pm_env[] = { "PMALLOC_ARENA_MAX=2", NULL };
    CHECK_EQ_SIZE(run_self("env", "2", pm_env), 0);
    static const char *const glibc_env[] = { "MALLOC_ARENA_MAX=2", NULL };
    CHECK_EQ_SIZE(run_self("env", "2", glibc_env), 0);
    /* Both spellings: pmalloc's wins. */
    static const char *const both_env[] = { "MALLOC_ARENA_MAX=2", "PMALLOC_ARENA_MAX=4", NULL };
    CHECK_EQ_SIZE(run_self("env", "4", both_env), 0);
    return test_finish("test_arenas");
}
