/* Thread exit: the hook that gives a thread's cache and arena back when
 * it ends (thread.c).  Which work that is, is handed in by start-up, so
 * this room knows nothing of caches or arenas. */
#ifndef PMALLOC_THREAD_H
#define PMALLOC_THREAD_H

/* Creates the pthread key whose destructor runs `at_exit` in each exiting
 * thread that was watched.  Called once, at start-up. */
void pm_thread_init(void (*at_exit)(void));
/* Makes sure the calling thread runs the exit work when it ends. */
void pm_thread_watch(void);

#endif
