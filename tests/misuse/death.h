/* Death tests: each case commits one misuse in a child process, and the
 * parent asserts that the child died of SIGABRT after writing
 * "pmalloc: <check> at 0x<address>" to stderr (read through a pipe).
 *
 * A case that needs a fresh process (options read from the environment at
 * start-up, a fresh per-process secret) is re-executed from
 * /proc/self/exe with "--case NAME" and the extra environment; the others
 * are only forked.  A child that survives its misuse, hangs (alarm) or dies
 * of another signal fails the case.
 *
 * Before the misuse a case may announce the address the message must name
 * (death_expect_addr); the parent then requires "<check> at <that address>".
 */
#ifndef PMALLOC_TEST_DEATH_H
#define PMALLOC_TEST_DEATH_H

#include "../helpers.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/wait.h>

struct death_case {
    const char *name;
    void (*fn)(void);
    /* the check the message must name; NULL: the abort must be silent */
    const char *check;
    /* "VAR=value" for a re-executed child, or NULL to fork only */
    const char *env;
};

/* A forked case named after its function. */
#define DEATH_CASE(fn, check) { #fn, fn, check, NULL }

/* Where the child's stderr goes (the pipe), kept for death_note. */
static inline void death_note(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static inline void death_note(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        (void)!write(STDERR_FILENO, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* The message must name this address (a user pointer or chunk). */
static inline void death_expect_addr(const void *addr)
{
    death_note("expect-addr %p\n", addr);
}

/* Keeps the compiler from knowing that p was freed or where it points. */
static inline void *opaque(void *p)
{
    __asm__ volatile("" : "+r"(p));
    return p;
}

/* Word i of a block's user area, through an opaque pointer: how the cases
 * write into freed blocks, headers and neighbours. */
static inline size_t *word(void *mem, long i)
{
    return (size_t *)opaque(mem) + i;
}

/* The size word of the chunk of a user pointer. */
static inline size_t *size_word(void *mem) { return word(mem, -1); }

/* Runs in the child: no core files, a time limit, then the case.  A case
 * that returns has survived its misuse. */
static inline void death_child(const struct death_case *c)
{
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    alarm(20);
    c->fn();
    death_note("death: %s survived the misuse\n", c->name);
    _exit(0);
}

static inline size_t death_read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == cap - 1)
            break;
    }
    buf[len] = '\0';
    return len;
}

/* Checks one child's fate; returns true if it died as the case says. */
static inline bool death_judge(const struct death_case *c, int status, const char *out)
{
    bool ok = true;
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) {
        fprintf(stderr, "  %s: expected SIGABRT, got %s %d\n", c->name,
                WIFSIGNALED(status) ? "signal" : "exit",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        ok = false;
    }
    const char *msg = strstr(out, "pmalloc: ");
    if (c->check == NULL) {
        if (msg != NULL) {
            fprintf(stderr, "  %s: expected a silent abort\n", c->name);
            ok = false;
        }
    } else {
        char want[300];
        snprintf(want, sizeof want, "pmalloc: %s at 0x", c->check);
        const char *hit = strstr(out, want);
        if (hit == NULL) {
            fprintf(stderr, "  %s: expected \"%s\"\n", c->name, want);
            ok = false;
        }
        const char *ea = strstr(out, "expect-addr ");
        if (hit != NULL && ea != NULL) {
            char addr[64];
            size_t n = strcspn(ea + 12, "\n");
            if (n >= sizeof addr)
                n = sizeof addr - 1;
            memcpy(addr, ea + 12, n);
            addr[n] = '\0';
            char full[400];
            snprintf(full, sizeof full, "pmalloc: %s at %s\n", c->check, addr);
            if (strstr(out, full) == NULL) {
                fprintf(stderr, "  %s: expected the message to name %s\n", c->name, addr);
                ok = false;
            }
        }
    }
    if (!ok)
        fprintf(stderr, "  %s: child's stderr:\n%s\n", c->name, out);
    return ok;
}

static char death_self[4096];

static inline bool death_run(const struct death_case *c)
{
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        if (c->env != NULL) {
            char var[256];
            snprintf(var, sizeof var, "%s", c->env);
            char *eq = strchr(var, '=');
            REQUIRE(eq != NULL);
            *eq = '\0';
            setenv(var, eq + 1, 1);
            char *argv[] = { death_self, (char *)"--case", (char *)c->name, NULL };
            execv(death_self, argv);
            death_note("death: exec %s failed\n", death_self);
            _exit(127);
        }
        death_child(c);
    }
    close(fds[1]);
    static char out[65536];
    death_read_all(fds[0], out, sizeof out);
    close(fds[0]);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    return death_judge(c, status, out);
}

/* main() of a death-test program: with "--case NAME" runs that case in
 * this (re-executed) process, else runs every case in a child. */
static inline int death_main(int argc, char **argv, const struct death_case *cases, size_t n,
                             const char *test_name)
{
    /* The cases build exact arena layouts out of blocks above 1032 bytes
     * and misuse them: those must reach the arena, not the thread
     * cache's size classes (whose own misuse tests/threads/
     * test_tcache_classes commits). */
    mallopt(PMALLOC_M_TCACHE_MAX, 1032);
    if (argc == 3 && strcmp(argv[1], "--case") == 0) {
        for (size_t i = 0; i < n; i++)
            if (strcmp(cases[i].name, argv[2]) == 0)
                death_child(&cases[i]);
        fprintf(stderr, "no case %s\n", argv[2]);
        return 2;
    }
    ssize_t len = readlink("/proc/self/exe", death_self, sizeof death_self - 1);
    REQUIRE(len > 0);
    death_self[len] = '\0';
    for (size_t i = 0; i < n; i++) {
        bool ok = death_run(&cases[i]);
        harness_checks++;
        if (!ok)
            harness_failures++;
        fprintf(stderr, "%s %s\n", ok ? "ok  " : "FAIL", cases[i].name);
    }
    return test_finish(test_name);
}

/* The main() of a death-test program with nothing but its cases. */
#define DEATH_TEST_MAIN(cases, test_name)                                   \
    int main(int argc, char **argv)                                         \
    {                                                                       \
        return death_main(argc, argv, cases, sizeof cases / sizeof cases[0], test_name); \
    }

#endif
