/* Thread exit: a thread's cache and its arena are given back when it
 * ends.  A pthread key's destructor is the hook; it is armed on the first
 * allocation of each thread. */
#include "internal.h"

#include <pthread.h>
#include "tcache.h"

static pthread_key_t exit_key;
static bool exit_key_ready;

static void thread_exit(void *unused)
{
    (void)unused;
    pm_tcache_thread_exit();
    pm_arena_detach();
}

void pm_thread_init(void)
{
    exit_key_ready = pthread_key_create(&exit_key, thread_exit) == 0;
}

void pm_thread_watch(void)
{
    /* Setting the value again from within an exiting thread's destructors
     * makes pthread run ours once more, after code that allocated late. */
    if (exit_key_ready)
        pthread_setspecific(exit_key, (void *)1);
}
