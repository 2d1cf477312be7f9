/* Stopping a live target for a consistent read.
 *
 * ptrace is preferred: PTRACE_SEIZE attaches without sending a signal,
 * PTRACE_INTERRUPT stops one thread, and if heapviz dies for any reason,
 * even SIGKILL, the kernel detaches its tracees and they run on.  A
 * process keeps creating threads while we seize the ones we listed, so
 * /proc/PID/task is listed again until a pass finds no thread we have
 * not stopped: a stopped thread cannot create another, so that pass is
 * final.  Where ptrace is refused (EPERM: Yama's ptrace_scope, another
 * tracer such as a debugger), SIGSTOP stops the whole thread group and
 * SIGCONT resumes it; that cannot be undone by the kernel if heapviz is
 * killed with SIGKILL (documented in heapviz(1)).
 *
 * Signals that end heapviz (SIGINT, SIGTERM, SIGHUP) are blocked while the
 * thread list changes, and their handler resumes the target from the list
 * before heapviz dies of the signal, so a target is never left stopped by
 * an interrupted heapviz. */
#define _GNU_SOURCE
#include "stop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long a thread may take to reach its stop before we give up. */
#define STOP_DEADLINE_MS 3000

/* The target being held, for the signal handler. */
static struct stopped *volatile held;
static pid_t reaped_pid;
static int reaped_status;

static const int fatal_signals[] = {SIGINT, SIGTERM, SIGHUP};

static void block_fatal(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        sigaddset(&set, fatal_signals[i]);
    sigprocmask(SIG_BLOCK, &set, old);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void pause_us(long us)
{
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

static int stop_with_signal(struct stopped *s, char *err, size_t errlen);

/* Only async-signal-safe calls: this also runs in the signal handler. */
static void let_go(struct stopped *s)
{
    if (s->how == STOP_PTRACE) {
        for (size_t i = 0; i < s->n; i++)
            if (s->halted[i])
                ptrace(PTRACE_DETACH, s->tids[i], NULL, (void *)(long)s->resume_sig[i]);
            /* a thread seized but not yet stopped cannot be detached;
             * its pending interrupt ends when heapviz exits */
    } else if (s->how == STOP_SIGNAL && !s->was_stopped) {
        kill(s->pid, SIGCONT);
    }
    s->n = 0;
    s->how = STOP_NONE;
}

static void on_fatal_signal(int sig)
{
    struct stopped *s = held;
    if (s != NULL)
        let_go(s);
    held = NULL;
    signal(sig, SIG_DFL);
    raise(sig); /* delivered when the handler returns: heapviz dies of it */
}

void stop_install_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++) {
        struct sigaction old;
        /* keep an inherited "ignore" (nohup, background jobs) */
        if (sigaction(fatal_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        sigaction(fatal_signals[i], &sa, NULL);
    }
}

bool stop_reaped(pid_t pid, int *status)
{
    if (reaped_pid != pid || pid == 0)
        return false;
    *status = reaped_status;
    return true;
}

/* The state letter of a thread (R, S, D, T, t, Z, X...), 0 if gone. */
static char thread_state(pid_t pid, pid_t tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *paren = strrchr(buf, ')'); /* the name may hold spaces and ')' */
    return paren && paren[1] == ' ' ? paren[2] : 0;
}

static bool is_dead(char state) { return state == 0 || state == 'Z' || state == 'X' || state == 'x'; }

static bool known(const struct stopped *s, pid_t tid)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->tids[i] == tid)
            return true;
    return false;
}

static int add_tid(struct stopped *s, pid_t tid)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        pid_t *t = realloc(s->tids, cap * sizeof *t);
        if (t)
            s->tids = t;
        int *r = realloc(s->resume_sig, cap * sizeof *r);
        if (r)
            s->resume_sig = r;
        bool *h = realloc(s->halted, cap * sizeof *h);
        if (h)
            s->halted = h;
        if (!t || !r || !h)
            return -1;
        s->cap = cap;
    }
    s->tids[s->n] = tid;
    s->resume_sig[s->n] = 0;
    s->halted[s->n] = false;
    s->n++;
    return 0;
}

static void drop_tid(struct stopped *s, size_t i)
{
    s->n--;
    s->tids[i] = s->tids[s->n];
    s->resume_sig[i] = s->resume_sig[s->n];
    s->halted[i] = s->halted[s->n];
}

/* Seizes and interrupts every thread not yet held: the count of new ones,
 * or -1 (errno set; EPERM: ptrace is not allowed on this process). */
static int seize_new_threads(struct stopped *s)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)s->pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int added = 0, rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid <= 0 || known(s, tid) || is_dead(thread_state(s->pid, tid)))
            continue;
        if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) != 0) {
            if (errno == ESRCH)
                continue; /* exited since it was listed */
            rc = -1;
            break;
        }
        if (add_tid(s, tid) != 0) {
            ptrace(PTRACE_INTERRUPT, tid, NULL, NULL);
            errno = ENOMEM;
            rc = -1;
            break;
        }
        ptrace(PTRACE_INTERRUPT, tid, NULL, NULL);
        added++;
    }
    int saved = errno;
    closedir(d);
    errno = saved;
    return rc < 0 ? -1 : added;
}

/* Waits until every seized thread has reported its stop; 0, or -1 if
 * one did not stop before the deadline. */
static int wait_halted(struct stopped *s, uint64_t deadline)
{
    for (;;) {
        bool all = true;
        for (size_t i = 0; i < s->n; i++) {
            if (s->halted[i])
                continue;
            int st;
            pid_t r = waitpid(s->tids[i], &st, __WALL | WNOHANG);
            if (r == 0) {
                all = false;
                continue;
            }
            if (r < 0) {
                if (errno == EINTR) {
                    all = false;
                    continue;
                }
                drop_tid(s, i--); /* gone (ECHILD) */
                continue;
            }
            if (WIFEXITED(st) || WIFSIGNALED(st)) {
                if (s->tids[i] == s->pid) {
                    reaped_pid = s->pid;
                    reaped_status = st;
                }
                drop_tid(s, i--);
                continue;
            }
            if (WIFSTOPPED(st)) {
                s->halted[i] = true;
                /* a signal-delivery stop: the thread was about to take
                 * WSTOPSIG; detaching gives it back.  Event stops (our
                 * interrupt, a group stop) carry no signal to give. */
                if ((st >> 16) == 0 && WSTOPSIG(st) != SIGTRAP)
                    s->resume_sig[i] = WSTOPSIG(st);
            }
        }
        if (all)
            return 0;
        if (now_ms() > deadline)
            return -1;
        pause_us(100);
    }
}

/* Stops every thread, the ones already seized and any new ones, until a
 * pass over /proc/PID/task finds none it had not stopped. */
static int halt_all(struct stopped *s, char *err, size_t errlen)
{
    uint64_t deadline = now_ms() + STOP_DEADLINE_MS;
    for (size_t i = 0; i < s->n; i++)
        if (!s->halted[i])
            ptrace(PTRACE_INTERRUPT, s->tids[i], NULL, NULL);
    for (int pass = 0;; pass++) {
        int added = seize_new_threads(s);
        if (added < 0) {
            int e = errno;
            wait_halted(s, deadline);
            let_go(s);
            errno = e;
            snprintf(err, errlen, "cannot stop process %d with ptrace: %s", (int)s->pid, strerror(e));
            return -1;
        }
        if (wait_halted(s, deadline) != 0) {
            let_go(s);
            errno = ETIMEDOUT;
            snprintf(err, errlen, "a thread of process %d did not stop within %d ms", (int)s->pid,
                     STOP_DEADLINE_MS);
            return -1;
        }
        if (s->n == 0) {
            snprintf(err, errlen, "process %d has exited", (int)s->pid);
            s->how = STOP_NONE;
            errno = ESRCH;
            return -1;
        }
        if (added == 0 && pass > 0)
            return 0;
    }
}

static int stop_with_ptrace(struct stopped *s, char *err, size_t errlen)
{
    s->how = STOP_PTRACE;
    return halt_all(s, err, errlen);
}

/* True when every live thread of pid is stopped. */
static bool all_threads_stopped(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return false;
    bool all = true;
    struct dirent *e;
    while (all && (e = readdir(d)) != NULL) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid <= 0)
            continue;
        char st = thread_state(pid, tid);
        all = is_dead(st) || st == 'T' || st == 't';
    }
    closedir(d);
    return all;
}

static int stop_with_signal(struct stopped *s, char *err, size_t errlen)
{
    s->was_stopped = all_threads_stopped(s->pid);
    s->how = STOP_SIGNAL;
    if (s->was_stopped)
        return 0;
    if (kill(s->pid, SIGSTOP) != 0) {
        snprintf(err, errlen, "cannot stop process %d: %s", (int)s->pid, strerror(errno));
        s->how = STOP_NONE;
        return -1;
    }
    uint64_t deadline = now_ms() + STOP_DEADLINE_MS;
    while (!all_threads_stopped(s->pid)) {
        if (now_ms() > deadline) {
            let_go(s);
            snprintf(err, errlen, "process %d did not stop within %d ms of SIGSTOP", (int)s->pid,
                     STOP_DEADLINE_MS);
            return -1;
        }
        pause_us(100);
    }
    return 0;
}

int stop_process(struct stopped *s, pid_t pid, bool prefer_signal, char *err, size_t errlen)
{
    if (pid == getpid()) {
        /* SIGSTOP would stop heapviz itself for good */
        snprintf(err, errlen, "heapviz will not stop itself");
        errno = EINVAL;
        return -1;
    }
    sigset_t old;
    block_fatal(&old);
    s->pid = pid;
    s->n = 0;
    s->was_stopped = false;
    int rc = -1;
    if (!prefer_signal) {
        rc = stop_with_ptrace(s, err, errlen);
        /* refused (not failed): fall back to the signal */
        if (rc != 0 && (errno == EPERM || errno == EACCES))
            prefer_signal = true;
    }
    if (rc != 0 && prefer_signal)
        rc = stop_with_signal(s, err, errlen);
    if (rc == 0)
        held = s;
    sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int stop_again(struct stopped *s, long run_us, char *err, size_t errlen)
{
    sigset_t old;
    block_fatal(&old);
    int rc = 0;
    if (s->how == STOP_PTRACE) {
        for (size_t i = 0; i < s->n; i++) {
            if (ptrace(PTRACE_CONT, s->tids[i], NULL, (void *)(long)s->resume_sig[i]) != 0) {
                drop_tid(s, i--); /* gone */
                continue;
            }
            s->halted[i] = false;
            s->resume_sig[i] = 0;
        }
        /* while they run, the handler can detach none of them; if heapviz
         * dies now, the kernel detaches them as it does on SIGKILL */
        sigprocmask(SIG_SETMASK, &old, NULL);
        pause_us(run_us);
        block_fatal(&old);
        rc = halt_all(s, err, errlen);
    } else if (s->how == STOP_SIGNAL && !s->was_stopped) {
        kill(s->pid, SIGCONT);
        sigprocmask(SIG_SETMASK, &old, NULL);
        pause_us(run_us);
        block_fatal(&old);
        s->how = STOP_NONE;
        rc = stop_with_signal(s, err, errlen);
    }
    if (rc != 0)
        held = NULL;
    sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}

void resume_process(struct stopped *s)
{
    sigset_t old;
    block_fatal(&old);
    let_go(s);
    held = NULL;
    sigprocmask(SIG_SETMASK, &old, NULL);
}
