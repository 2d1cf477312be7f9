/* What the option tests share: the options as start-up left them, their
 * comparison, and running pm_options_from_env on a given environment
 * with its messages captured. */
#ifndef PMALLOC_TEST_OPTIONS_ENV_H
#define PMALLOC_TEST_OPTIONS_ENV_H

#include "../harness.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "options.h"

extern char **environ;

/* The variables pm_options_from_env reads that change the options. */
static const char *const option_env_names[] = {
    "PMALLOC_MXFAST", "PMALLOC_TRIM_THRESHOLD", "PMALLOC_TOP_PAD",
    "PMALLOC_MMAP_THRESHOLD", "PMALLOC_MMAP_MAX", "PMALLOC_ARENA_MAX",
    "PMALLOC_ARENA_TEST", "PMALLOC_PERTURB", "PMALLOC_CHECK_ACTION",
    "PMALLOC_TCACHE_COUNT", "PMALLOC_TCACHE_MAX", "PMALLOC_STATS",
    "PMALLOC_CHECK", "PMALLOC_HARDENED", "PMALLOC_VERBOSE", "PMALLOC_SNAPSHOT_AT_EXIT",
    "PMALLOC_MEMORY_LIMIT", "PMALLOC_MEMORY_LIMIT_HARD", "PMALLOC_TEST_CGROUP_DIR",
    "GLIBC_TUNABLES",
    "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
    "MALLOC_MMAP_THRESHOLD_", "MALLOC_MMAP_MAX_", "MALLOC_ARENA_MAX",
    "MALLOC_ARENA_TEST", "MALLOC_PERTURB_", "MALLOC_CHECK_",
};
#define N_ENV_NAMES (sizeof option_env_names / sizeof option_env_names[0])

/* The options as start-up left them; every test puts them back. */
static struct pm_options startup_options;

static inline void restore_options(void) { pm_opt = startup_options; }

static inline bool same_options(const struct pm_options *a, const struct pm_options *b)
{
    return a->max_fast == b->max_fast && a->trim_threshold == b->trim_threshold &&
           a->top_pad == b->top_pad && a->mmap_threshold == b->mmap_threshold &&
           a->mmap_max == b->mmap_max && a->arena_max == b->arena_max &&
           a->arena_test == b->arena_test && a->perturb_byte == b->perturb_byte &&
           a->check_action == b->check_action && a->tcache_count == b->tcache_count &&
           a->tcache_max_bytes == b->tcache_max_bytes &&
           a->no_dyn_threshold == b->no_dyn_threshold &&
           a->stats_at_exit == b->stats_at_exit && a->check_heap == b->check_heap &&
           a->hardened == b->hardened && a->verbose == b->verbose &&
           strcmp(a->snapshot_path, b->snapshot_path) == 0 && a->memory_limit == b->memory_limit &&
           a->memory_limit_hard == b->memory_limit_hard && strcmp(a->cgroup_dir, b->cgroup_dir) == 0;
}

static inline bool environment_sets_options(void)
{
    for (size_t i = 0; i < N_ENV_NAMES; i++)
        if (getenv(option_env_names[i]) != NULL)
            return true;
    return false;
}

/* ---- environment, in this process ---- */

/* Runs pm_options_from_env from a clean slate with exactly the given
 * NAME=VALUE entries as the environment (in that order, duplicates
 * included), and returns what it wrote to stderr. */
/* The environment env_run reads from: capture_stderr takes no argument. */
static const char *const *env_run_assignments;

static inline void env_run_read(void)
{
    extern char **environ;
    char **saved_environ = environ;
    environ = (char **)env_run_assignments;
    pm_options_from_env();
    environ = saved_environ;
}

static inline const char *env_run(const char *const *assignments)
{
    restore_options();
    pm_opt.no_dyn_threshold = false;
    env_run_assignments = assignments;
    return capture_stderr(env_run_read);
}

#define ENV(...) ((const char *const[]){__VA_ARGS__, NULL})

/* The options a run must produce: the start-up ones, no_dyn cleared. */
static inline struct pm_options env_base(void)
{
    struct pm_options e = startup_options;
    e.no_dyn_threshold = false;
    return e;
}

static inline void expect_env(const char *const *assignments, const struct pm_options *expect,
                       const char *message, int line)
{
    const char *out = env_run(assignments);
    bool options_ok = same_options(&pm_opt, expect);
    bool message_ok = strcmp(out, message) == 0;
    if (!options_ok || !message_ok)
        fprintf(stderr, "line %d: options %s; stderr was \"%s\", want \"%s\"\n", line,
                options_ok ? "ok" : "differ", out, message);
    CHECK(options_ok);
    CHECK(message_ok);
    restore_options();
}

#define ENV_OK(env, field, want)                                             \
    do {                                                                     \
        struct pm_options e_ = env_base();                                  \
        e_.field = (want);                                                   \
        expect_env(env, &e_, "", __LINE__);                                 \
    } while (0)

#define ENV_OK_FIXED(env, field, want)                                       \
    do {                                                                     \
        struct pm_options e_ = env_base();                                  \
        e_.field = (want);                                                   \
        e_.no_dyn_threshold = true;                                          \
        expect_env(env, &e_, "", __LINE__);                                 \
    } while (0)

#define ENV_REJECTED(env, message)                                           \
    do {                                                                     \
        struct pm_options e_ = env_base();                                  \
        expect_env(env, &e_, message, __LINE__);                            \
    } while (0)

#endif
