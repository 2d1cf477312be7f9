/* Running out of memory for real: a child process with a low RLIMIT_DATA
 * allocates until malloc fails (NULL, ENOMEM), checks that the heap and
 * every block survived, frees everything and is served again. */
#include "../helpers.h"

#include <sys/resource.h>
#include <sys/wait.h>

#define MAXB 100000

struct block {
    unsigned char *p;
    size_t n;
};

static struct block v[MAXB];

/* Allocates a mix of sizes (heap and mmapped) until the first failure;
 * returns how many blocks it got. */
static size_t fill_until_full(int round)
{
    static const size_t sizes[] = {40, 1000, 30000, 100000, 400000, 2 * MiB};
    size_t n = 0;
    for (;;) {
        REQUIRE(n < MAXB);
        size_t sz = sizes[n % 6];
        errno = 0;
        unsigned char *p = (n % 5 == 4) ? calloc(1, sz) : malloc(sz);
        if (p == NULL) {
            CHECK(errno == ENOMEM);
            /* smaller requests may still fit; the first failure is enough */
            break;
        }
        /* touch both ends and one byte per page: the memory is real */
        for (size_t i = 0; i < sz; i += 4096)
            p[i] = (unsigned char)(n + i / 4096 + (size_t)round);
        p[sz - 1] = (unsigned char)(n ^ 0x5a);
        v[n].p = p;
        v[n].n = sz;
        n++;
    }
    return n;
}

static size_t broken(size_t n, int round)
{
    size_t bad = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned char *p = v[k].p;
        size_t sz = v[k].n;
        for (size_t i = 0; i < sz; i += 4096)
            if (p[i] != (unsigned char)(k + i / 4096 + (size_t)round)) {
                bad++;
                break;
            }
        if (p[sz - 1] != (unsigned char)(k ^ 0x5a))
            bad++;
    }
    return bad;
}

static void child(void)
{
    no_tcache();
    struct rlimit rl = {64 * MiB, 64 * MiB};
    REQUIRE(setrlimit(RLIMIT_DATA, &rl) == 0);

    size_t n = fill_until_full(0);
    fprintf(stderr, "  round 0: %zu blocks before ENOMEM\n", n);
    CHECK(n > 20);
    CHECK_HEAP();
    CHECK_EQ_SIZE(broken(n, 0), 0);
    /* the failure is not sticky for requests that fit: free one block of
     * 2 MiB and ask for it again */
    size_t last_big = n;
    for (size_t k = 0; k < n; k++)
        if (v[k].n == 2 * MiB)
            last_big = k;
    if (last_big < n) {
        free(v[last_big].p);
        void *p = malloc(MiB);
        CHECK(p != NULL);
        free(p);
        v[last_big].p = malloc(2 * MiB);
        CHECK(v[last_big].p != NULL);
        if (v[last_big].p) {
            for (size_t i = 0; i < 2 * MiB; i += 4096)
                v[last_big].p[i] = (unsigned char)(last_big + i / 4096);
            v[last_big].p[2 * MiB - 1] = (unsigned char)(last_big ^ 0x5a);
        } else {
            v[last_big] = v[--n];
        }
    }
    CHECK_HEAP();
    for (size_t k = 0; k < n; k++)
        free(v[k].p);
    CHECK_HEAP();
    malloc_trim(0);
    CHECK_HEAP();

    /* everything freed: a second round gets about as far */
    size_t n2 = fill_until_full(1);
    fprintf(stderr, "  round 1: %zu blocks before ENOMEM\n", n2);
    CHECK(n2 * 10 >= n * 9);
    CHECK_EQ_SIZE(broken(n2, 1), 0);
    CHECK_HEAP();
    for (size_t k = 0; k < n2; k++)
        free(v[k].p);
    CHECK_HEAP();
}

int main(void)
{
    fflush(stderr);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        child();
        fprintf(stderr, "  child: %d checks, %d failed\n", harness_checks, harness_failures);
        _exit(harness_failures ? 1 : 0);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    if (!WIFEXITED(status))
        fprintf(stderr, "child died with signal %d\n", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* the runner's own limit was not touched */
    struct rlimit rl;
    REQUIRE(getrlimit(RLIMIT_DATA, &rl) == 0);
    CHECK(rl.rlim_cur != 64 * MiB);
    void *p = malloc(100 * MiB);
    CHECK(p != NULL);
    free(p);
    CHECK_HEAP();
    return test_finish("test_fault_rlimit");
}
