/* Start-up and its wiring: options, the safe-linking secret, the main
 * arena's bins, the fork handlers and the thread-exit work.  It runs on
 * the first call into the allocator, which may come before any
 * constructor (the dynamic loader, libc's own start-up or another
 * library's constructor), so it uses no malloc, stdio or getenv. */
#include "config.h"

#include "init.h"

#include <pthread.h>
#include <sched.h>
#include <sys/random.h>
#include <sys/sysinfo.h>
#include <time.h>
#include "arena.h"
#include "bins.h"
#include "fork.h"
#include "layout.h"
#include "limit.h"
#include "lock.h"
#include "memcheck.h"
#include "os.h"
#include "prof.h"
#include "tcache.h"
#include "background.h"
#include "thread.h"

static uintptr_t make_secret(void)
{
    uintptr_t secret = 0;
    if (getrandom(&secret, sizeof secret, GRND_NONBLOCK) != (ssize_t)sizeof secret) {
        /* Early in boot the pool may not be ready: fall back to values an
         * attacker of this process cannot read off a heap pointer. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        secret = (uintptr_t)ts.tv_nsec * 0x9e3779b97f4a7c15u ^ (uintptr_t)&ts ^ (uintptr_t)ts.tv_sec;
    }
    return secret;
}

/* What an exiting thread gives back: its cache, then its arena. */
static void thread_exit(void)
{
    pm_tcache_thread_exit();
    pm_arena_detach();
}

void pm_init_slow(void)
{
    int expected = 0;
    if (!__atomic_compare_exchange_n(&pm_init_state, &expected, 1, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        /* Another thread is initialising: nothing it does can call back
         * into us, so waiting cannot deadlock. */
        while (__atomic_load_n(&pm_init_state, __ATOMIC_ACQUIRE) != 2)
            sched_yield();
        return;
    }
    /* Before the first lock: helgrind must see every acquisition. */
    pm_lock_detect_checker();
    /* The dynamic thresholds (options.h) and the mapping count are read
     * without the mmap lock that guards their writes: a stale value only
     * decides one request or one trim the old way. */
    pm_lock_benign_race(&pm_opt.mmap_threshold, sizeof pm_opt.mmap_threshold);
    pm_lock_benign_race(&pm_opt.trim_threshold, sizeof pm_opt.trim_threshold);
    pm_lock_benign_race(&pm_global.n_mmaps, sizeof pm_global.n_mmaps);
    /* The page size, read from the system here, before any thread can
     * race for it, and published for heapviz before anyone can ask. */
    pm_layout_publish();
    pm_options_from_env();
    pm_chunk_secret = make_secret();
    pm_global.on_valgrind = pm_vg_detect_memcheck();
    /* Read once, before any thread can race for it; it reads a /sys file
     * into a buffer on the stack, never through malloc. */
    int cpus = get_nprocs();
    pm_global.ncpus = cpus > 0 ? (size_t)cpus : 1;
    pm_prof_start();
    pm_tcache_refresh_limits();
    pm_limit_init();
    pm_bins_init(&pm_main_arena);
    pm_global.sbrk_base_mem = (size_t)pm_os_sbrk(0);
    pm_thread_arena = &pm_main_arena;
    __atomic_store_n(&pm_init_state, 2, __ATOMIC_RELEASE);
    /* The unwinder's first steps may allocate: only now may they. */
    pm_prof_enable();

    /* Registering may allocate; the allocator is ready for that now. */
    pthread_atfork(pm_fork_prepare, pm_fork_parent, pm_fork_child);
    pm_thread_init(thread_exit);
}

/* Options such as PMALLOC_STATS must take effect even in a program that
 * never allocates. */
__attribute__((constructor)) static void init_at_load(void)
{
    pm_ensure_init();
    /* Only now, not at the first allocation, which may come while libc
     * itself is still starting and cannot make threads yet. */
    if (pm_opt.background_thread) {
        __atomic_store_n(&pm_background_wanted, 1, __ATOMIC_RELAXED);
        pm_background_start();
    }
}
