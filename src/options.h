/* Tunable parameters: defaults, mallopt, and the environment. */
#ifndef PMALLOC_OPTIONS_H
#define PMALLOC_OPTIONS_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <pmalloc.h>

/* Longest path an option can hold, its terminating NUL included. */
#define PM_OPTION_PATH_MAX 4096

struct pm_options {
    size_t max_fast;          /* largest chunk size kept in fast bins; 0 disables them */
    size_t trim_threshold;
    size_t top_pad;
    size_t mmap_threshold;
    size_t mmap_max;
    size_t arena_max;         /* 0: derive from arena_test and the CPU count */
    size_t arena_test;
    int perturb_byte;
    int check_action;         /* M_CHECK_ACTION: bit 0 print, bit 1 abort */
    size_t tcache_count;
    size_t tcache_max_bytes;
    size_t tcache_bytes;      /* byte budget of a thread's size classes */
    bool no_dyn_threshold;    /* a threshold was set by hand: stop adapting it */
    bool stats_at_exit;
    bool stats_json;          /* PMALLOC_STATS=json: the report at exit as JSON */
    bool check_heap;          /* walk every arena on every call (debug mode) */
    bool hardened;            /* tagged chunks, quarantine, guard pages (hardened.c) */
    /* PMALLOC_SNAPSHOT_AT_EXIT: where the at-exit snapshot goes ("%p" is
     * the process id), or "" for none.  A copy: the program may reuse its
     * environment strings (a process title, say) before it exits. */
    char snapshot_path[PM_OPTION_PATH_MAX];
    bool verbose;             /* PMALLOC_VERBOSE: list the options at start-up */
    /* PMALLOC_MEMORY_LIMIT: a soft limit like a cgroup's memory.high
     * (0: none); PMALLOC_MEMORY_LIMIT_HARD: requests that would take
     * more than this from the system fail (0: none).  limit.c. */
    size_t memory_limit;
    size_t memory_limit_hard;
    /* PMALLOC_TEST_CGROUP_DIR: for tests, the directory whose memory.high
     * and memory.max are read instead of the process's cgroup's. */
    char cgroup_dir[PM_OPTION_PATH_MAX];
    bool prof;                /* PMALLOC_PROF: sample allocations with their stacks (prof.c) */
    size_t prof_sample;       /* mean bytes between samples */
    bool prof_leaks;          /* PMALLOC_PROF_LEAKS: the sites still holding blocks at exit */
    /* PMALLOC_DECAY_MS: how long whole free pages inside free chunks stay
     * before they go back to the system (sysmalloc.c, pm_decay_after_free);
     * 0 at once, -1 never. */
    int decay_ms;
    bool decay_madv_free;     /* PMALLOC_DECAY_MADV_FREE: MADV_FREE, not MADV_DONTNEED */
    bool background_thread;   /* PMALLOC_BACKGROUND_THREAD: the idle return's own thread (background.c) */
};

extern struct pm_options pm_opt;

/* The dynamic mmap threshold (facts §5): pm_mmap_free raises the two
 * thresholds under the mmap lock while arenas read them under their own
 * locks, or none.  Relaxed atomics make those reads defined; a stale value
 * only decides one request or one trim the old way, as in glibc.  Every
 * unlocked read goes through these; init.c tells helgrind to leave the
 * two words alone. */
static inline size_t pm_opt_mmap_threshold(void)
{
    return __atomic_load_n(&pm_opt.mmap_threshold, __ATOMIC_RELAXED);
}

static inline size_t pm_opt_trim_threshold(void)
{
    return __atomic_load_n(&pm_opt.trim_threshold, __ATOMIC_RELAXED);
}

static inline void pm_opt_raise_thresholds(size_t mmap_threshold)
{
    __atomic_store_n(&pm_opt.mmap_threshold, mmap_threshold, __ATOMIC_RELAXED);
    __atomic_store_n(&pm_opt.trim_threshold, 2 * mmap_threshold, __ATOMIC_RELAXED);
}

#define PM_DEFAULT_MXFAST            ((size_t)64 * sizeof(size_t) / 4)
#define PM_MAX_MXFAST                ((size_t)80 * sizeof(size_t) / 4)
#define PM_DEFAULT_TRIM_THRESHOLD    ((size_t)128 * 1024)
#define PM_DEFAULT_TOP_PAD           ((size_t)128 * 1024)
#define PM_DEFAULT_MMAP_THRESHOLD    ((size_t)128 * 1024)
#define PM_MMAP_THRESHOLD_MAX        ((size_t)32 * 1024 * 1024)
#define PM_DEFAULT_MMAP_MAX          ((size_t)65536)
#define PM_DEFAULT_ARENA_TEST        ((size_t)8)
#define PM_DEFAULT_TCACHE_COUNT      ((size_t)7)
#define PM_MAX_TCACHE_COUNT          ((size_t)65535)
/* The small bins of the thread cache take requests up to this, one bin
 * per 16 bytes; above it, size classes (tcache.h) up to the cache's
 * largest request. */
#define PM_TCACHE_SMALL_MAX_BYTES    ((size_t)1032)
#define PM_DEFAULT_TCACHE_MAX_BYTES  ((size_t)256 * 1024)
#define PM_TCACHE_MAX_BYTES_LIMIT    ((size_t)512 * 1024 - 16)
/* Bytes a thread may keep in the size classes above the small bins. */
#define PM_DEFAULT_TCACHE_BYTES      ((size_t)2 * 1024 * 1024)
#define PM_MAX_TCACHE_BYTES          ((size_t)1 << 30)
/* The smallest memory limit that makes sense: below it the heap's own
 * bookkeeping would be most of it. */
#define PM_MIN_MEMORY_LIMIT          ((size_t)1024 * 1024)
/* One sample in about 512 KiB allocated, jemalloc's lg_prof_sample 19. */
#define PM_DEFAULT_PROF_SAMPLE       ((size_t)512 * 1024)
#define PM_MAX_PROF_SAMPLE           ((size_t)1 << 40)
/* About a second, as jemalloc's dirty_decay_ms after its smoothing: long
 * enough that a free-then-reuse cycle keeps its pages, short enough that an
 * idle heap shrinks while the program still makes calls.  A pass is
 * bounded (sysmalloc.c), so no free stalls on a big heap. */
#define PM_DEFAULT_DECAY_MS          1000

/* pmalloc's own mallopt parameters (glibc's are 1 and -1..-8). */
#define PM_M_TCACHE_COUNT            PMALLOC_M_TCACHE_COUNT
#define PM_M_TCACHE_MAX              PMALLOC_M_TCACHE_MAX
#define PM_M_TCACHE_BYTES            PMALLOC_M_TCACHE_BYTES
#define PM_M_DECAY_MS                PMALLOC_M_DECAY_MS
#define PM_M_DECAY_MADV_FREE         PMALLOC_M_DECAY_MADV_FREE

/* M_PERTURB: new blocks are filled with the complement of the byte and
 * freed ones with the byte, so use of uninitialised or freed memory shows. */
static inline void pm_perturb_alloc(void *mem, size_t n)
{
    if (__builtin_expect(pm_opt.perturb_byte, 0))
        __builtin_memset(mem, (pm_opt.perturb_byte ^ 0xff) & 0xff, n);
}
static inline void pm_perturb_free(void *mem, size_t n)
{
    if (__builtin_expect(pm_opt.perturb_byte, 0))
        __builtin_memset(mem, pm_opt.perturb_byte & 0xff, n);
}

/* Chunk-size limit for fast bins from a user value in request bytes. */
size_t pm_max_fast_for(size_t request);

/* ---- the option table: every tunable described once (options.c);
 * options_env.c reads the environment through it ---- */

enum pm_value_kind {
    /* A byte count or count.  A mallopt int is converted to size_t the
     * way C (and glibc) does, so -1 means SIZE_MAX: mallopt(
     * M_TRIM_THRESHOLD, -1) is the well-known "never trim".  In the
     * environment a minus sign is refused: nobody means SIZE_MAX there. */
    PM_VALUE_SIZE,
    /* A plain int (glibc stores these in an int); negative is meaningful. */
    PM_VALUE_INT,
    /* An on/off switch: 1/0, true/false, yes/no, on/off. */
    PM_VALUE_BOOL,
    /* An on/off switch that also takes "json" (2): PMALLOC_STATS. */
    PM_VALUE_BOOL_OR_JSON,
    /* A file name (environment only), passed to the applier as the
     * address of its text; at most PM_OPTION_PATH_MAX - 1 bytes. */
    PM_VALUE_PATH,
};

struct pm_option_desc {
    const char *name;        /* PMALLOC_ spelling */
    const char *glibc_name;  /* glibc's older environment name, or NULL */
    /* glibc.malloc.NAME in GLIBC_TUNABLES: this NAME, or NULL */
    const char *tunable;
    int param;               /* mallopt parameter, or INT_MIN for none */
    enum pm_value_kind kind;
    bool bytes;              /* a size in bytes: messages show "32 MiB" */
    /* The valid range, as unsigned for PM_VALUE_SIZE and signed (stored as
     * its two's-complement pattern) for PM_VALUE_INT. */
    uint64_t min, max;
    /* glibc's mallopt ignores M_ARENA_TEST/M_ARENA_MAX values <= 0 and
     * still returns 1; this flag reproduces that. */
    bool mallopt_ignores_nonpositive;
    /* Where the value lives in pm_opt, and its size, so PMALLOC_VERBOSE
     * shows what is in effect rather than what was said. */
    size_t field;
    size_t field_size;
    void (*apply)(uint64_t value);
};

#define PM_OPTION_COUNT 26
extern const struct pm_option_desc pm_option_table[PM_OPTION_COUNT];

/* The PMALLOC_ names that are no option of the allocator (read by
 * pmalloc-run, heapviz and the tests), so the environment reader passes
 * them by without a message; one ending in '_' stands for every name it
 * begins.  With the table, every environment name the library knows. */
#define PM_ENV_OTHER_COUNT 2
extern const char *const pm_env_other_names[PM_ENV_OTHER_COUNT];

/* Whether v is in d's range (signed for PM_VALUE_INT). */
bool pm_option_in_range(const struct pm_option_desc *d, uint64_t v);

/* Reads the environment (without getenv or malloc) once, at start-up;
 * a PMALLOC_ name wins over glibc.malloc.NAME in GLIBC_TUNABLES, which
 * wins over glibc's older MALLOC_ name. */
void pm_options_from_env(void);

/* mallopt(3) semantics: 1 on success, 0 on a rejected value. */
int pm_options_set(int param, int value);

#endif
