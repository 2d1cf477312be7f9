/* Memory limits.  The program runs itself (fork + execve of
 * /proc/self/exe) once per scenario, each with its own environment:
 *
 *  - soft: a cgroup's memory.high makes pmalloc return memory before the
 *    resident set passes it: a real cgroup v2 where the machine lets the
 *    test make one (root, the memory controller enabled at the root of
 *    /sys/fs/cgroup), and in any case a limits directory named by
 *    PMALLOC_TEST_CGROUP_DIR.  The
 *    workload leaves 36 MiB of free pages inside a fragmented heap, then
 *    needs 40 MiB more: without the limit the resident set passes
 *    memory.high (the control run proves the workload does), with it the
 *    free pages go back first;
 *  - env: PMALLOC_MEMORY_LIMIT does the same;
 *  - hard: with PMALLOC_MEMORY_LIMIT_HARD a request that would take more
 *    than the limit from the system fails with ENOMEM, mapped or from a
 *    heap, and the heap stays usable;
 *  - the statistics show the limits in force. */
#include "../helpers.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

extern char **environ;

#define LIMIT (64 * MiB)
#define SMALL 64
#define SMALL_BYTES (40 * MiB)
#define BIG (100 * KiB)
#define BIG_BYTES (40 * MiB)

static size_t status_kib(const char *key)
{
    char text[4096];
    if (pm_os_read_text("/proc/self/status", text, sizeof text) <= 0)
        return 0;
    const char *p = strstr(text, key);
    return p == NULL ? 0 : (size_t)strtoull(p + strlen(key), NULL, 10) * KiB;
}

/* Blocks linked through their first word, so no table adds to the
 * resident set. */
static void *alloc_list(size_t size, size_t total)
{
    void *head = NULL;
    for (size_t got = 0; got < total; got += size) {
        void **b = malloc(size);
        REQUIRE(b != NULL);
        memset(b, 0x3c, size);
        *b = head;
        head = b;
    }
    return head;
}

/* Frees 9 of every 10 blocks, in runs: whole pages come free, but the
 * blocks left between them keep the heap from shrinking. */
static void *free_runs(void *head)
{
    void *kept = NULL;
    size_t i = 0;
    for (void **b = head; b != NULL; i++) {
        void **next = *b;
        if (i % 1000 < 100) {
            *b = kept;
            kept = b;
        } else {
            free(b);
        }
        b = next;
    }
    return kept;
}

static void free_list(void *head)
{
    for (void **b = head; b != NULL;) {
        void **next = *b;
        free(b);
        b = next;
    }
}

/* The workload; the peak resident set is checked against the limit,
 * under it when limited, over it in the control run. */
static int scenario_soft(bool limited, size_t expect_soft)
{
    CHECK_EQ_SIZE(pm_global.limit_soft, expect_soft);
    void *small = free_runs(alloc_list(SMALL, SMALL_BYTES));
    void *big = alloc_list(BIG, BIG_BYTES);
    size_t peak = status_kib("VmHWM:");
    fprintf(stderr, "%s: peak resident %zu KiB, limit %zu KiB\n", limited ? "limited" : "control",
            peak / KiB, LIMIT / KiB);
    REQUIRE(peak != 0);
    if (limited)
        CHECK(peak < LIMIT);
    else
        CHECK(peak > LIMIT);
    free_list(big);
    free_list(small);
    CHECK(pmalloc_check() == 0);
    return test_finish("test_memory_limit soft");
}

static int scenario_hard(void)
{
    const size_t hard = 32 * MiB;
    CHECK_EQ_SIZE(pm_global.limit_hard, hard);
    /* Mapped blocks first, then heap blocks, until the limit. */
    void *mapped = NULL;
    size_t n_mapped = 0;
    for (;;) {
        errno = 0;
        void **b = malloc(MiB);
        if (b == NULL)
            break;
        *b = mapped;
        mapped = b;
        n_mapped++;
        REQUIRE(n_mapped < 64);
    }
    CHECK_EQ_SIZE((size_t)(errno), (size_t)(ENOMEM));
    CHECK(n_mapped >= 24);
    CHECK(pm_global.system_total <= hard);
    void *small = NULL;
    size_t n_small = 0;
    for (;;) {
        errno = 0;
        void **b = malloc(1000);
        if (b == NULL)
            break;
        *b = small;
        small = b;
        REQUIRE(++n_small < 64 * 1024);
    }
    CHECK_EQ_SIZE((size_t)(errno), (size_t)(ENOMEM));
    CHECK(pm_global.system_total <= hard);
    fprintf(stderr, "hard: %zu mapped blocks, %zu small ones, %zu KiB from the system\n", n_mapped,
            n_small, pm_global.system_total / KiB);
    /* Still usable: freeing makes room again. */
    for (int i = 0; i < 4 && mapped != NULL; i++) {
        void **next = *(void **)mapped;
        free(mapped);
        mapped = next;
    }
    void *p = malloc(MiB);
    CHECK(p != NULL);
    free(p);
    p = malloc(1000);
    CHECK(p != NULL);
    free(p);
    CHECK(pmalloc_check() == 0);

    /* The statistics show the limit. */
    char buf[16384];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    REQUIRE(f != NULL);
    CHECK(malloc_info(0, f) == 0);
    fclose(f);
    CHECK(strstr(buf, "<limit type=\"hard\" size=\"33554432\"/>") != NULL);
    /* and so does a snapshot, for heapviz */
    FILE *snap = tmpfile();
    REQUIRE(snap != NULL);
    CHECK(pmalloc_snapshot(fileno(snap)) == 0);
    static char text[1 << 20];
    size_t len = (size_t)pread(fileno(snap), text, sizeof text - 1, 0);
    fclose(snap);
    text[len < sizeof text ? len : 0] = '\0';
    CHECK(strstr(text, "\"memory_limit\":0,\"memory_limit_hard\":33554432") != NULL);
    free_list(mapped);
    free_list(small);
    return test_finish("test_memory_limit hard");
}

/* With cgroup_procs, the child joins that cgroup (writes its pid there)
 * before it runs itself, so pmalloc finds the cgroup at start-up. */
static int run_self_in(const char *mode, const char *const *extra_env, const char *cgroup_procs)
{
    char *args[] = {(char *)"test_memory_limit", (char *)mode, NULL};
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 8, sizeof *env);
    REQUIRE(env != NULL);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "PMALLOC_", 8) != 0)
            env[k++] = environ[i];
    for (size_t i = 0; extra_env && extra_env[i]; i++)
        env[k++] = (char *)extra_env[i];
    env[k] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        alarm(60);
        if (cgroup_procs != NULL) {
            int fd = open(cgroup_procs, O_WRONLY);
            char text[32];
            int len = snprintf(text, sizeof text, "%d\n", (int)getpid());
            if (fd < 0 || write(fd, text, (size_t)len) != len) {
                perror(cgroup_procs);
                _exit(98);
            }
            close(fd);
        }
        execve("/proc/self/exe", args, env);
        perror("execve /proc/self/exe");
        _exit(99);
    }
    free(env);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status))
        fprintf(stderr, "scenario %s: killed by signal %d\n", mode, WTERMSIG(status));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run_self(const char *mode, const char *const *extra_env)
{
    return run_self_in(mode, extra_env, NULL);
}

/* A real cgroup under the root of the cgroup v2 hierarchy (the root is
 * exempt from the rule that a cgroup with processes has no controllers
 * for its children), with memory.high set; false, with a note, where the
 * machine does not allow one (not root, cgroup v1, no memory controller,
 * a read-only mount). */
static bool make_real_cgroup(char *dir, size_t size)
{
    char controllers[256];
    if (pm_os_read_text("/sys/fs/cgroup/cgroup.subtree_control", controllers, sizeof controllers) <= 0 ||
        strstr(controllers, "memory") == NULL) {
        fprintf(stderr, "no cgroup v2 memory controller at /sys/fs/cgroup: a real cgroup is not tried\n");
        return false;
    }
    snprintf(dir, size, "/sys/fs/cgroup/pmalloc-test-%d", (int)getpid());
    if (mkdir(dir, 0755) != 0) {
        fprintf(stderr, "cannot make %s (%s): a real cgroup is not tried\n", dir, strerror(errno));
        return false;
    }
    char path[512], line[64];
    snprintf(path, sizeof path, "%s/memory.high", dir);
    snprintf(line, sizeof line, "%zu\n", LIMIT);
    int fd = open(path, O_WRONLY);
    bool ok = fd >= 0 && write(fd, line, strlen(line)) == (ssize_t)strlen(line);
    if (fd >= 0)
        close(fd);
    if (!ok) {
        fprintf(stderr, "cannot set %s: a real cgroup is not tried\n", path);
        rmdir(dir);
    }
    return ok;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs(text, f);
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        if (strcmp(argv[1], "cgroup") == 0)
            return scenario_soft(true, LIMIT);
        if (strcmp(argv[1], "control") == 0)
            return scenario_soft(false, 0);
        if (strcmp(argv[1], "hard") == 0)
            return scenario_hard();
        fprintf(stderr, "unknown scenario %s\n", argv[1]);
        return 99;
    }
    char dir[] = "/tmp/pmalloc-cgroup-XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    char line[64];
    snprintf(line, sizeof line, "%zu\n", LIMIT);
    write_file(dir, "memory.high", line);
    write_file(dir, "memory.max", "max\n");
    char dir_env[128];
    snprintf(dir_env, sizeof dir_env, "PMALLOC_TEST_CGROUP_DIR=%s", dir);
    const char *cgroup_env[] = {dir_env, NULL};
    CHECK_EQ_SIZE((size_t)(run_self("cgroup", cgroup_env)), (size_t)(0));
    char real[128];
    if (make_real_cgroup(real, sizeof real)) {
        char procs[192];
        snprintf(procs, sizeof procs, "%s/cgroup.procs", real);
        CHECK_EQ_SIZE((size_t)run_self_in("cgroup", NULL, procs), 0);
        rmdir(real);
    }
    /* An empty limits directory is no limit: the control run. */
    char empty[] = "/tmp/pmalloc-cgroup-XXXXXX";
    REQUIRE(mkdtemp(empty) != NULL);
    char empty_env[128];
    snprintf(empty_env, sizeof empty_env, "PMALLOC_TEST_CGROUP_DIR=%s", empty);
    const char *control_env[] = {empty_env, NULL};
    CHECK_EQ_SIZE((size_t)(run_self("control", control_env)), (size_t)(0));
    /* PMALLOC_MEMORY_LIMIT is a soft limit of the same kind. */
    snprintf(line, sizeof line, "PMALLOC_MEMORY_LIMIT=%zu", LIMIT);
    const char *env_limit[] = {empty_env, line, NULL};
    CHECK_EQ_SIZE((size_t)(run_self("cgroup", env_limit)), (size_t)(0));
    const char *hard_env[] = {empty_env, "PMALLOC_MEMORY_LIMIT_HARD=32m", NULL};
    CHECK_EQ_SIZE((size_t)(run_self("hard", hard_env)), (size_t)(0));
    char path[512];
    snprintf(path, sizeof path, "%s/memory.high", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/memory.max", dir);
    unlink(path);
    rmdir(dir);
    rmdir(empty);
    return test_finish("test_memory_limit");
}
