/* heapviz run: runs a program with libpmalloc preloaded, snapshots it
 * every --every MS while it runs (the timeline), keeps the snapshots with
 * --out PREFIX, and shows the snapshot it writes at exit. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "source.h"

static const char *find_library(void)
{
    const char *env = getenv("PMALLOC_LIB");
    if (env && *env)
        return env;
    static const char *const guesses[] = {
#ifdef HEAPVIZ_BUILD_LIB
        HEAPVIZ_BUILD_LIB,
#endif
#ifdef HEAPVIZ_INSTALL_LIB
        HEAPVIZ_INSTALL_LIB,
#endif
        "/usr/local/lib/libpmalloc.so", "/usr/lib/libpmalloc.so",
    };
    for (size_t i = 0; i < sizeof guesses / sizeof guesses[0]; i++)
        if (access(guesses[i], R_OK) == 0)
            return guesses[i];
    die("cannot find libpmalloc.so: set PMALLOC_LIB to its path");
}

/* The exit snapshot of process pid in dir, or else the newest one there
 * (a shell that ends with _exit leaves none of its own); the directory
 * is removed. */
static char *take_exit_snapshot(const char *dir, pid_t pid, size_t *len)
{
    char path[128], best[400] = "";
    snprintf(path, sizeof path, "%s/%d.json", dir, (int)pid);
    char *text = read_file(path, len);
    DIR *d = opendir(dir);
    struct dirent *e;
    struct timespec newest = {0, 0};
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[400];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (text == NULL && stat(p, &st) == 0 && st.st_size > 0 &&
            (st.st_mtim.tv_sec > newest.tv_sec ||
             (st.st_mtim.tv_sec == newest.tv_sec && st.st_mtim.tv_nsec > newest.tv_nsec))) {
            newest = st.st_mtim;
            snprintf(best, sizeof best, "%s", p);
        }
    }
    if (text == NULL && best[0])
        text = read_file(best, len);
    if (d) {
        rewinddir(d);
        while ((e = readdir(d)) != NULL) {
            char p[400];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (e->d_name[0] != '.')
                unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
    return text;
}

/* --out PREFIX: timeline point i as PREFIX-i.json, the exit snapshot as
 * PREFIX-exit.json, so that diff can compare any two. */
static void save_snapshot(const char *prefix, const char *suffix, const char *text)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s-%s.json", prefix, suffix) >= (int)sizeof path)
        die("--out: the prefix is too long");
    FILE *f = open_output(path);
    fputs(text, f);
    close_output(f, path);
}

int run(struct args *a)
{
    const char *lib = find_library();
    /* every process of the program writes its own exit snapshot (%p is
     * its pid); the one of the program itself is shown */
    char dir[] = "/tmp/heapviz-run-XXXXXX";
    if (mkdtemp(dir) == NULL)
        die("cannot create a temporary directory: %s", strerror(errno));
    char pattern[64];
    snprintf(pattern, sizeof pattern, "%s/%%p.json", dir);
    pid_t child = fork();
    if (child < 0)
        die("fork: %s", strerror(errno));
    if (child == 0) {
        signal(SIGPIPE, SIG_DFL);
        const char *old = getenv("LD_PRELOAD");
        char *preload;
        if (asprintf(&preload, "%s%s%s", lib, old && *old ? ":" : "", old ? old : "") < 0)
            _exit(127);
        setenv("LD_PRELOAD", preload, 1);
        setenv("PMALLOC_SNAPSHOT_AT_EXIT", pattern, 1);
        execvp(a->program[0], a->program);
        fprintf(stderr, "heapviz: cannot run %s: %s\n", a->program[0], strerror(errno));
        _exit(127);
    }
    /* the timeline: a snapshot of the child every MS milliseconds */
    char **timeline = NULL;
    size_t nt = 0;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(child, &status, a->every_ms ? WNOHANG : 0);
        if (r == child)
            break;
        if (r < 0 && errno != EINTR)
            die("waitpid: %s", strerror(errno));
        if (a->every_ms && r == 0) {
            struct timespec ts = {a->every_ms / 1000, (a->every_ms % 1000) * 1000000};
            nanosleep(&ts, NULL);
            char err[512];
            char *t = snapshot_pid(child, &a->live, err, sizeof err);
            if (a->live.reaped) {
                /* stopping it collected its exit */
                status = a->live.reaped_status;
                break;
            }
            if (t != NULL) {
                char **nt2 = realloc(timeline, (nt + 1) * sizeof *nt2);
                if (nt2 == NULL)
                    die("out of memory");
                timeline = nt2;
                timeline[nt++] = t;
                if (a->prefix) {
                    char n[32];
                    snprintf(n, sizeof n, "%zu", nt);
                    save_snapshot(a->prefix, n, t);
                }
            }
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        die("run: the program could not be started");
    size_t len = 0;
    char *text = take_exit_snapshot(dir, child, &len);
    bool text_missing = false, exit_saved = false;
    if ((text == NULL || len == 0) && nt > 0) {
        /* killed, or ended with _exit: the last timeline snapshot stands in */
        free(text);
        text = strdup(timeline[nt - 1]);
        len = text ? strlen(text) : 0;
        fprintf(stderr, "heapviz: the program left no exit snapshot; showing the last one taken while it ran\n");
    } else if (text != NULL && len > 0 && a->prefix) {
        save_snapshot(a->prefix, "exit", text);
        exit_saved = true;
    }
    if (a->prefix)
        fprintf(stderr, "heapviz: saved %zu timeline snapshot%s (%s-1.json ...)%s%s%s\n", nt, nt == 1 ? "" : "s",
                a->prefix, exit_saved ? " and the exit snapshot as " : "", exit_saved ? a->prefix : "",
                exit_saved ? "-exit.json" : "");
    if (text == NULL || len == 0) {
        fprintf(stderr, "heapviz: run: the program left no snapshot at exit (killed, ended with _exit, or did "
                        "not load %s)\n", lib);
        text_missing = true;
    } else if (a->output && !a->json && !a->html) {
        /* -o FILE without a view: keep the exit snapshot as a file */
        FILE *f = open_output(a->output);
        fputs(text, f);
        close_output(f, a->output);
    } else {
        show(a, text, "exit snapshot", (const char *const *)timeline, nt);
    }
    for (size_t i = 0; i < nt; i++)
        free(timeline[i]);
    free(timeline);
    free(text);
    if (WIFSIGNALED(status))
        fprintf(stderr, "heapviz: the program was killed by signal %d\n", WTERMSIG(status));
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        return WEXITSTATUS(status);
    return WIFEXITED(status) ? (text_missing ? 2 : 0) : 128 + WTERMSIG(status);
}
