/* The objects of the data model (state.h): the main arena, the shared
 * state, start-up's progress and each thread's arena.  Only their initial
 * values are here; state.h says which room writes each field. */
#include "config.h"

#include "state.h"

struct pm_arena pm_main_arena = {
    .lock = PM_LOCK_INITIALIZER(PM_LOCK_RANK_ARENA),
    .next = &pm_main_arena,
    .newest_lo = UINTPTR_MAX,
    .owned_hint_lo = UINTPTR_MAX,
    .attached_threads = 1,
};

struct pm_shared_state pm_global = {
    .list_lock = PM_LOCK_INITIALIZER(PM_LOCK_RANK_LIST),
    .narenas = 1,
    .heap_lo = UINTPTR_MAX,
    .heap_hi = 0,
    .limit_next_check = SIZE_MAX,
};

int pm_init_state;

__thread struct pm_arena *pm_thread_arena __attribute__((tls_model("initial-exec")));

__thread unsigned char pm_thread_growth __attribute__((tls_model("initial-exec")));
