/* Tunable parameters: their defaults, the option table and mallopt(3).
 *
 * Every tunable is described once, in pm_option_table: its names (ours,
 * glibc's older environment name and glibc's tunable), its mallopt
 * parameter, its valid range and how it is applied.  mallopt and the
 * environment (options_env.c) both go through the same range check and
 * the same apply function, so the two can never disagree about what a
 * value means. */
#include "config.h"

#include "options.h"

#include <limits.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "chunk.h"

struct pm_options pm_opt = {
    /* pm_max_fast_for(PM_DEFAULT_MXFAST), as a constant expression */
    .max_fast = (PM_DEFAULT_MXFAST + PM_SIZE_SZ) & ~PM_ALIGN_MASK,
    .trim_threshold = PM_DEFAULT_TRIM_THRESHOLD,
    .top_pad = PM_DEFAULT_TOP_PAD,
    .mmap_threshold = PM_DEFAULT_MMAP_THRESHOLD,
    .mmap_max = PM_DEFAULT_MMAP_MAX,
    .arena_max = 0,
    .arena_test = PM_DEFAULT_ARENA_TEST,
    .perturb_byte = 0,
    .check_action = 3,
    .tcache_count = PM_DEFAULT_TCACHE_COUNT,
    .tcache_max_bytes = PM_DEFAULT_TCACHE_MAX_BYTES,
    .tcache_bytes = PM_DEFAULT_TCACHE_BYTES,
    .no_dyn_threshold = false,
    .stats_at_exit = false,
    .check_heap = false,
#ifdef PMALLOC_HARDENED_DEFAULT
    .hardened = true,
#else
    .hardened = false,
#endif
    .snapshot_path = "",
    .verbose = false,
    .prof = false,
    .prof_sample = PM_DEFAULT_PROF_SAMPLE,
    .prof_leaks = false,
    .decay_ms = PM_DEFAULT_DECAY_MS,
    .decay_madv_free = false,
    .background_thread = false,
};

/* A request of v bytes fits a chunk of (v + SIZE_SZ) rounded down to the
 * alignment (the next chunk's prev_size word is lent to the payload).  A
 * limit below the smallest chunk would admit nothing, so it is stored as
 * 0, the documented "fast bins off" value. */
size_t pm_max_fast_for(size_t request)
{
    if (request > PM_MAX_MXFAST)
        request = PM_MAX_MXFAST;
    size_t limit = (request + PM_SIZE_SZ) & ~PM_ALIGN_MASK;
    return limit < PM_MINSIZE ? 0 : limit;
}

/* ---- appliers: the only code that writes pm_opt after start-up ---- */

/* Values arrive as a 64-bit pattern: an unsigned size for size options, a
 * sign-extended integer for int options (see enum pm_value_kind). */
static void apply_mxfast(uint64_t v) { pm_opt.max_fast = pm_max_fast_for((size_t)v); }

/* A threshold chosen by hand must stay put: the dynamic mmap threshold
 * (raised when large mmapped chunks are freed) would otherwise undo it. */
static void apply_trim_threshold(uint64_t v)
{
    pm_opt.trim_threshold = (size_t)v;
    pm_opt.no_dyn_threshold = true;
}

static void apply_top_pad(uint64_t v)
{
    pm_opt.top_pad = (size_t)v;
    pm_opt.no_dyn_threshold = true;
}

static void apply_mmap_threshold(uint64_t v)
{
    pm_opt.mmap_threshold = (size_t)v;
    pm_opt.no_dyn_threshold = true;
}

/* glibc keeps this limit in an int, so a negative one means "never mmap";
 * in our size_t that is 0. */
static void apply_mmap_max(uint64_t v)
{
    int64_t n = (int64_t)v;
    pm_opt.mmap_max = n < 0 ? 0 : (size_t)n;
    pm_opt.no_dyn_threshold = true;
}

static void apply_arena_max(uint64_t v) { pm_opt.arena_max = (size_t)v; }
static void apply_arena_test(uint64_t v) { pm_opt.arena_test = (size_t)v; }
static void apply_perturb(uint64_t v) { pm_opt.perturb_byte = (int)(int64_t)v; }
static void apply_check_action(uint64_t v) { pm_opt.check_action = (int)(int64_t)v; }
static void apply_tcache_count(uint64_t v) { pm_opt.tcache_count = (size_t)v; }
static void apply_tcache_max(uint64_t v) { pm_opt.tcache_max_bytes = (size_t)v; }
static void apply_tcache_bytes(uint64_t v) { pm_opt.tcache_bytes = (size_t)v; }
/* 0 off, 1 text, 2 JSON */
static void apply_stats(uint64_t v)
{
    pm_opt.stats_at_exit = v != 0;
    pm_opt.stats_json = v == 2;
}
static void apply_check_heap(uint64_t v) { pm_opt.check_heap = v != 0; }
static void apply_hardened(uint64_t v) { pm_opt.hardened = v != 0; }
static void apply_verbose(uint64_t v) { pm_opt.verbose = v != 0; }
static void apply_memory_limit(uint64_t v) { pm_opt.memory_limit = (size_t)v; }
static void apply_memory_limit_hard(uint64_t v) { pm_opt.memory_limit_hard = (size_t)v; }
/* Profiling is chosen at start-up only (prof.c maps its tables then). */
static void apply_prof(uint64_t v) { pm_opt.prof = v != 0; }
static void apply_prof_sample(uint64_t v) { pm_opt.prof_sample = (size_t)v; }
/* A leak report needs the samples: asking for it turns profiling on. */
static void apply_prof_leaks(uint64_t v)
{
    pm_opt.prof_leaks = v != 0;
    if (v != 0)
        pm_opt.prof = true;
}
/* A path arrives as the address of its text, which env_value has
 * checked fits. */
static void apply_snapshot_path(uint64_t v)
{
    const char *text = (const char *)(uintptr_t)v;
    size_t n = strlen(text);
    memcpy(pm_opt.snapshot_path, text, n + 1);
}
static void apply_decay_ms(uint64_t v) { pm_opt.decay_ms = (int)(int64_t)v; }
static void apply_decay_madv_free(uint64_t v) { pm_opt.decay_madv_free = v != 0; }
static void apply_background_thread(uint64_t v) { pm_opt.background_thread = v != 0; }
static void apply_cgroup_dir(uint64_t v)
{
    const char *text = (const char *)(uintptr_t)v;
    size_t n = strlen(text);
    memcpy(pm_opt.cgroup_dir, text, n + 1);
}

/* ---- the option table (its type is in options.h) ---- */

/* Not a mallopt parameter: environment only. */
#define NO_PARAM INT_MIN

#define SIGNED_BOUND(v) ((uint64_t)(int64_t)(v))
#define FIELD(member) offsetof(struct pm_options, member), sizeof pm_opt.member

/* Every glibc.malloc tunable of glibc 2.36 that pmalloc has is named here,
 * in glibc's units (tcache_max is in bytes and tcache_count a count, as
 * ours).  One range per option, whatever the name: where it is narrower
 * than glibc's (mxfast, mmap_threshold, tcache_max, tcache_count, whose
 * excess glibc drops silently) the value is reported; glibc's tunables
 * for perturb (0..255), check (0..3) and mmap_max (not negative) are
 * narrower than mallopt's, which these accept.  glibc's hugetlb and
 * tcache_unsorted_limit have no counterpart. */
const struct pm_option_desc pm_option_table[] = {
    {"PMALLOC_MXFAST", NULL, "mxfast", M_MXFAST, PM_VALUE_SIZE, true,
     0, PM_MAX_MXFAST, false, FIELD(max_fast), apply_mxfast},
    {"PMALLOC_TRIM_THRESHOLD", "MALLOC_TRIM_THRESHOLD_", "trim_threshold", M_TRIM_THRESHOLD,
     PM_VALUE_SIZE, true, 0, SIZE_MAX, false, FIELD(trim_threshold), apply_trim_threshold},
    {"PMALLOC_TOP_PAD", "MALLOC_TOP_PAD_", "top_pad", M_TOP_PAD, PM_VALUE_SIZE, true,
     0, SIZE_MAX, false, FIELD(top_pad), apply_top_pad},
    {"PMALLOC_MMAP_THRESHOLD", "MALLOC_MMAP_THRESHOLD_", "mmap_threshold", M_MMAP_THRESHOLD,
     PM_VALUE_SIZE, true, 0, PM_MMAP_THRESHOLD_MAX, false, FIELD(mmap_threshold),
     apply_mmap_threshold},
    {"PMALLOC_MMAP_MAX", "MALLOC_MMAP_MAX_", "mmap_max", M_MMAP_MAX, PM_VALUE_INT, false,
     SIGNED_BOUND(INT_MIN), SIGNED_BOUND(INT_MAX), false, FIELD(mmap_max), apply_mmap_max},
    {"PMALLOC_ARENA_MAX", "MALLOC_ARENA_MAX", "arena_max", M_ARENA_MAX, PM_VALUE_SIZE, false,
     1, SIZE_MAX, true, FIELD(arena_max), apply_arena_max},
    {"PMALLOC_ARENA_TEST", "MALLOC_ARENA_TEST", "arena_test", M_ARENA_TEST, PM_VALUE_SIZE, false,
     1, SIZE_MAX, true, FIELD(arena_test), apply_arena_test},
    {"PMALLOC_PERTURB", "MALLOC_PERTURB_", "perturb", M_PERTURB, PM_VALUE_INT, false,
     SIGNED_BOUND(INT_MIN), SIGNED_BOUND(INT_MAX), false, FIELD(perturb_byte), apply_perturb},
    {"PMALLOC_CHECK_ACTION", "MALLOC_CHECK_", "check", M_CHECK_ACTION, PM_VALUE_INT, false,
     SIGNED_BOUND(INT_MIN), SIGNED_BOUND(INT_MAX), false, FIELD(check_action),
     apply_check_action},
    {"PMALLOC_TCACHE_COUNT", NULL, "tcache_count", PM_M_TCACHE_COUNT, PM_VALUE_SIZE, false,
     0, PM_MAX_TCACHE_COUNT, false, FIELD(tcache_count), apply_tcache_count},
    {"PMALLOC_TCACHE_MAX", NULL, "tcache_max", PM_M_TCACHE_MAX, PM_VALUE_SIZE, true,
     0, PM_TCACHE_MAX_BYTES_LIMIT, false, FIELD(tcache_max_bytes), apply_tcache_max},
    {"PMALLOC_TCACHE_BYTES", NULL, NULL, PM_M_TCACHE_BYTES, PM_VALUE_SIZE, true,
     0, PM_MAX_TCACHE_BYTES, false, FIELD(tcache_bytes), apply_tcache_bytes},
    {"PMALLOC_STATS", NULL, NULL, NO_PARAM, PM_VALUE_BOOL_OR_JSON, false, 0, 2, false,
     FIELD(stats_at_exit), apply_stats},
    {"PMALLOC_CHECK", NULL, NULL, NO_PARAM, PM_VALUE_BOOL, false, 0, 1, false,
     FIELD(check_heap), apply_check_heap},
    {"PMALLOC_HARDENED", NULL, NULL, NO_PARAM, PM_VALUE_BOOL, false, 0, 1, false,
     FIELD(hardened), apply_hardened},
    {"PMALLOC_SNAPSHOT_AT_EXIT", NULL, NULL, NO_PARAM, PM_VALUE_PATH, true,
     1, PM_OPTION_PATH_MAX - 1, false, FIELD(snapshot_path), apply_snapshot_path},
    {"PMALLOC_VERBOSE", NULL, NULL, NO_PARAM, PM_VALUE_BOOL, false, 0, 1, false,
     FIELD(verbose), apply_verbose},
    {"PMALLOC_MEMORY_LIMIT", NULL, NULL, NO_PARAM, PM_VALUE_SIZE, true, PM_MIN_MEMORY_LIMIT,
     SIZE_MAX, false, FIELD(memory_limit), apply_memory_limit},
    {"PMALLOC_MEMORY_LIMIT_HARD", NULL, NULL, NO_PARAM, PM_VALUE_SIZE, true, PM_MIN_MEMORY_LIMIT,
     SIZE_MAX, false, FIELD(memory_limit_hard), apply_memory_limit_hard},
    {"PMALLOC_TEST_CGROUP_DIR", NULL, NULL, NO_PARAM, PM_VALUE_PATH, true,
     1, PM_OPTION_PATH_MAX - 1, false, FIELD(cgroup_dir), apply_cgroup_dir},
    {"PMALLOC_PROF", NULL, NULL, NO_PARAM, PM_VALUE_BOOL, false, 0, 1, false, FIELD(prof), apply_prof},
    {"PMALLOC_PROF_SAMPLE", NULL, NULL, NO_PARAM, PM_VALUE_SIZE, true, 1, PM_MAX_PROF_SAMPLE, false,
     FIELD(prof_sample), apply_prof_sample},
    {"PMALLOC_PROF_LEAKS", NULL, NULL, NO_PARAM, PM_VALUE_BOOL, false, 0, 1, false, FIELD(prof_leaks),
     apply_prof_leaks},
    {"PMALLOC_DECAY_MS", NULL, NULL, PM_M_DECAY_MS, PM_VALUE_INT, false, SIGNED_BOUND(-1), INT_MAX,
     false, FIELD(decay_ms), apply_decay_ms},
    {"PMALLOC_DECAY_MADV_FREE", NULL, NULL, PM_M_DECAY_MADV_FREE, PM_VALUE_BOOL, false, 0, 1, false,
     FIELD(decay_madv_free), apply_decay_madv_free},
    {"PMALLOC_BACKGROUND_THREAD", NULL, NULL, NO_PARAM, PM_VALUE_BOOL, false, 0, 1, false,
     FIELD(background_thread), apply_background_thread},
};

_Static_assert(sizeof pm_option_table / sizeof pm_option_table[0] == PM_OPTION_COUNT,
               "PM_OPTION_COUNT is the number of rows");

const char *const pm_env_other_names[] = {"PMALLOC_LIB", "PMALLOC_TEST_"};
_Static_assert(sizeof pm_env_other_names / sizeof pm_env_other_names[0] == PM_ENV_OTHER_COUNT,
               "PM_ENV_OTHER_COUNT is the number of names");

bool pm_option_in_range(const struct pm_option_desc *d, uint64_t v)
{
    if (d->kind == PM_VALUE_INT)
        return (int64_t)v >= (int64_t)d->min && (int64_t)v <= (int64_t)d->max;
    return v >= d->min && v <= d->max;
}

/* ---- mallopt ---- */

int pm_options_set(int param, int value)
{
    const struct pm_option_desc *d = NULL;
    for (size_t i = 0; i < PM_OPTION_COUNT; i++) {
        if (pm_option_table[i].param != NO_PARAM && pm_option_table[i].param == param) {
            d = &pm_option_table[i];
            break;
        }
    }
    /* Unknown parameters (and glibc's ignored M_NLBLKS, M_GRAIN, M_KEEP)
     * succeed without effect, as in glibc. */
    if (d == NULL)
        return 1;
    if (d->mallopt_ignores_nonpositive && value <= 0)
        return 1;
    /* For size options this is glibc's implicit int-to-size_t conversion
     * (-1 becomes SIZE_MAX); int options keep their sign. */
    uint64_t v = d->kind == PM_VALUE_SIZE ? (uint64_t)(size_t)value : (uint64_t)(int64_t)value;
    if (!pm_option_in_range(d, v))
        return 0;
    d->apply(v);
    return 1;
}
