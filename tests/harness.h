/* A small test harness: CHECK records a failure and goes on; REQUIRE stops
 * the test.  A test program returns test_finish(), which makes automake
 * count it as passed or failed.  After each step that changes the heap,
 * call CHECK_HEAP() to run the invariant walker over every arena; a case
 * that changes process-wide state runs through run_forked_case. */
#ifndef PMALLOC_TEST_HARNESS_H
#define PMALLOC_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <pmalloc.h>

static int harness_failures;
static int harness_checks;

#define CHECK(cond)                                                         \
    do {                                                                    \
        harness_checks++;                                                   \
        if (!(cond)) {                                                      \
            harness_failures++;                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                 \
        }                                                                   \
    } while (0)

#define CHECK_EQ_SIZE(a, b)                                                 \
    do {                                                                    \
        size_t va_ = (size_t)(a), vb_ = (size_t)(b);                        \
        harness_checks++;                                                   \
        if (va_ != vb_) {                                                   \
            harness_failures++;                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%zu vs %zu)\n", \
                    __FILE__, __LINE__, #a, #b, va_, vb_);                  \
        }                                                                   \
    } while (0)

#define REQUIRE(cond)                                                       \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__,        \
                    __LINE__, #cond);                                       \
            exit(1);                                                        \
        }                                                                   \
    } while (0)

/* Runs the heap walker; any problem is a failure of the current test. */
#define CHECK_HEAP()                                                        \
    do {                                                                    \
        harness_checks++;                                                   \
        size_t problems_ = pmalloc_check();                                 \
        if (problems_ != 0) {                                               \
            harness_failures++;                                             \
            fprintf(stderr, "%s:%d: heap walker found %zu problem(s)\n",    \
                    __FILE__, __LINE__, problems_);                         \
        }                                                                   \
    } while (0)

static inline int test_finish(const char *name)
{
    fprintf(stderr, "%s: %d checks, %d failed\n", name, harness_checks,
            harness_failures);
    return harness_failures ? 1 : 0;
}

/* Runs fn with fd 2 sent into a pipe, and returns what it wrote (cut at
 * the buffer's size).  For reports of a few KiB: the pipe is read only
 * after fn returns, so fn must not write more than a pipe holds. */
static inline const char *capture_stderr(void (*fn)(void))
{
    static char captured[8192];
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    fflush(stderr);
    int saved = dup(2);
    REQUIRE(saved >= 0);
    dup2(fds[1], 2);
    fn();
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    size_t len = 0;
    ssize_t r;
    while (len + 1 < sizeof captured &&
           (r = read(fds[0], captured + len, sizeof captured - 1 - len)) > 0)
        len += (size_t)r;
    close(fds[0]);
    captured[len] = '\0';
    return captured;
}

/* Runs one case in a forked child, so the faults, limits and tunables it
 * sets do not leak into the next case; the child's failures (or its death,
 * or a hang past the alarm) are one failed check of the parent. */
static inline void run_forked_case(const char *name, void (*fn)(void))
{
    fflush(stderr);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        alarm(60);
        fn();
        fprintf(stderr, "  %s: %d checks, %d failed\n", name, harness_checks, harness_failures);
        _exit(harness_failures ? 1 : 0);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "  %s: FAILED (%s %d)\n", name, WIFSIGNALED(status) ? "signal" : "exit",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

#endif
