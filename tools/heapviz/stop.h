/* Holding a live process still while heapviz reads its heap: every thread
 * is stopped with ptrace (seize + interrupt), or with SIGSTOP where ptrace
 * is refused, and always let go again, also when heapviz itself is
 * interrupted by SIGINT, SIGTERM or SIGHUP. */
#ifndef HEAPVIZ_STOP_H
#define HEAPVIZ_STOP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum stop_how {
    STOP_NONE,   /* not stopped: read while it runs */
    STOP_PTRACE, /* every thread seized and interrupted */
    STOP_SIGNAL, /* SIGSTOP now, SIGCONT afterwards */
};

struct stopped {
    pid_t pid;
    enum stop_how how;
    bool was_stopped;  /* SIGSTOP mode: it was stopped before we came */
    size_t n, cap;
    pid_t *tids;       /* ptrace mode: the seized threads */
    int *resume_sig;   /* the signal each one was about to take, given back on detach */
    bool *halted;      /* the thread's stop has been seen */
};

/* Stops every thread of pid.  prefer_signal: skip ptrace.  0 when the
 * process is held still (s->how says how); -1 with a one-line reason
 * when it could not be stopped (it is then left running). */
int stop_process(struct stopped *s, pid_t pid, bool prefer_signal, char *err, size_t errlen);

/* Lets the stopped process run for about run_us microseconds and stops
 * it again (threads created meanwhile too): a thread caught inside a
 * critical section gets out of it.  0, or -1 with a reason when it could
 * not be stopped again (it is then running and released). */
int stop_again(struct stopped *s, long run_us, char *err, size_t errlen);

/* Lets every thread go on; s can be stopped again afterwards. */
void resume_process(struct stopped *s);

/* Installs the SIGINT/SIGTERM/SIGHUP handlers that resume a stopped
 * target before heapviz dies of the signal.  Called once. */
void stop_install_handlers(void);

/* When heapviz is the target's parent (run), waiting for a stopping
 * thread can collect the process's own exit: true, with its status, if
 * that happened to pid. */
bool stop_reaped(pid_t pid, int *status);

#endif
