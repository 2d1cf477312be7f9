/* The background thread: every PM_BACKGROUND_EVERY_NS it makes the idle
 * return's look, and while work is due, one bounded step after another,
 * each under its arena's lock for no longer than a call's would be.  It
 * never allocates, so it has no cache, and its signals are all blocked.
 * fork: the child has no such thread, so the next slow call there starts
 * one.  Exit: the thread is detached and holds a lock only for a step,
 * which the exiting thread's last calls wait for like any other. */
#include "config.h"

#include "background.h"

#include "options.h"
#include "os.h"
#include "trim.h"

#define PM_BACKGROUND_EVERY_NS (100ull * 1000 * 1000)

int pm_background_wanted;
static bool running;

static void *background_main(void *unused)
{
    (void)unused;
    for (;;) {
        pm_os_sleep_ns(PM_BACKGROUND_EVERY_NS);
        while (pm_trim_idle_step())
            ;
    }
    return NULL;
}

void pm_background_start(void)
{
    int wanted = 1;
    /* one thread wins; its own allocations (pthread_create may make some)
     * find the flag clear */
    if (!__atomic_compare_exchange_n(&pm_background_wanted, &wanted, 0, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_RELAXED))
        return;
    __atomic_store_n(&running, pm_os_thread_start(background_main), __ATOMIC_RELAXED);
}

void pm_background_fork_child(void)
{
    if (__atomic_load_n(&running, __ATOMIC_RELAXED)) {
        running = false;
        __atomic_store_n(&pm_background_wanted, 1, __ATOMIC_RELAXED);
    }
}
