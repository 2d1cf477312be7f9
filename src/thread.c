/* Thread exit: a pthread key's destructor is the hook; it is armed on a
 * thread's first allocation (pm_thread_watch). */
#include "config.h"

#include "thread.h"

#include <pthread.h>
#include <stdbool.h>

static pthread_key_t exit_key;
static bool exit_key_ready;
static void (*exit_work)(void);

static void thread_exit(void *unused)
{
    (void)unused;
    exit_work();
}

void pm_thread_init(void (*at_exit)(void))
{
    exit_work = at_exit;
    exit_key_ready = pthread_key_create(&exit_key, thread_exit) == 0;
}

void pm_thread_watch(void)
{
    /* Setting the value again from within an exiting thread's destructors
     * makes pthread run ours once more, after code that allocated late. */
    if (exit_key_ready)
        pthread_setspecific(exit_key, (void *)1);
}
