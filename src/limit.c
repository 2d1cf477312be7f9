/* Memory limits.  At start-up pmalloc finds its cgroup (v2: the "0::"
 * line of /proc/self/cgroup names a directory under /sys/fs/cgroup) and
 * reads memory.high and memory.max there; PMALLOC_MEMORY_LIMIT adds a
 * soft limit of its own and PMALLOC_MEMORY_LIMIT_HARD a hard one.
 *
 * The soft limit in force is the least of the three.  Growth that would
 * bring the process's resident set within an eighth of it is declined
 * once, so the allocation path returns memory first (trim.c) and shrinks
 * the caller's cache; then it grows.  The hard limit counts the bytes
 * pmalloc holds from the system (heaps and mapped blocks): a request that
 * would pass it fails with ENOMEM, where a cgroup would kill the process.
 *
 * Cheap: growth compares the memory held with one threshold
 * (pm_global.limit_next_check); only past it are the limits and the
 * resident set read, and the cgroup's files at most once a second, so a
 * limit changed at run time is seen. */
#include "config.h"

#include "limit.h"

#include <string.h>
#include <time.h>
#include "options.h"
#include "os.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
/* Near the soft limit: within this fraction of it (an eighth). */
#define NEAR_SHIFT 3
/* After returning memory near the limit, growth goes on for this
 * fraction of the limit (a sixteenth), at least MIN_STEP, before the
 * next look: returning memory at every page of growth would cost more
 * than it saves. */
#define STEP_SHIFT 4
#define MIN_STEP ((size_t)1024 * 1024)
/* With no soft limit, the cgroup's files are looked at again after this
 * much growth (and a second), in case a limit is set later. */
#define UNLIMITED_STEP ((size_t)64 * 1024 * 1024)
#define REREAD_NS 1000000000ull

/* The cgroup's directory, found once at start-up ("" when none). */
static char cgroup_dir[PM_OPTION_PATH_MAX];
static unsigned long long last_read_ns;

static unsigned long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

/* A limit file holds "max" or a number of bytes; 0 for none. */
static size_t read_limit_file(const char *name)
{
    char path[PM_OPTION_PATH_MAX + 32], text[64];
    size_t n = strlen(cgroup_dir), m = strlen(name);
    if (n + 1 + m + 1 > sizeof path)
        return 0;
    memcpy(path, cgroup_dir, n);
    path[n] = '/';
    memcpy(path + n + 1, name, m + 1);
    if (pm_os_read_text(path, text, sizeof text) <= 0)
        return 0;
    size_t v = 0;
    const char *p = text;
    if (*p < '0' || *p > '9')
        return 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (size_t)(*p - '0'), &v))
            return 0;
    }
    return v;
}

static size_t least_limit(size_t a, size_t b)
{
    if (a == 0)
        return b;
    if (b == 0)
        return a;
    return a < b ? a : b;
}

/* Reads the limits now in force into pm_global. */
static void read_limits(void)
{
    size_t soft = pm_opt.memory_limit;
    if (cgroup_dir[0] != '\0')
        soft = least_limit(soft, least_limit(read_limit_file("memory.high"), read_limit_file("memory.max")));
    __atomic_store_n(&pm_global.limit_soft, soft, __ATOMIC_RELAXED);
    __atomic_store_n(&pm_global.limit_hard, pm_opt.memory_limit_hard, __ATOMIC_RELAXED);
}

/* The "0::PATH" line of /proc/self/cgroup: the cgroup v2 directory. */
static void find_cgroup(void)
{
    if (pm_opt.cgroup_dir[0] != '\0') {
        memcpy(cgroup_dir, pm_opt.cgroup_dir, strlen(pm_opt.cgroup_dir) + 1);
        return;
    }
    char text[4096];
    if (pm_os_read_text("/proc/self/cgroup", text, sizeof text) <= 0)
        return;
    const char *line = text;
    while (line != NULL && strncmp(line, "0::", 3) != 0) {
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    if (line == NULL)
        return;
    line += 3;
    size_t len = 0;
    while (line[len] != '\0' && line[len] != '\n')
        len++;
    size_t root = sizeof CGROUP_ROOT - 1;
    if (root + len + 1 > sizeof cgroup_dir)
        return;
    memcpy(cgroup_dir, CGROUP_ROOT, root);
    memcpy(cgroup_dir + root, line, len);
    cgroup_dir[root + len] = '\0';
}

/* The resident set, from the second field of /proc/self/statm; 0 if
 * unknown. */
static size_t resident_bytes(void)
{
    char text[128];
    if (pm_os_read_text("/proc/self/statm", text, sizeof text) <= 0)
        return 0;
    const char *p = strchr(text, ' ');
    if (p == NULL)
        return 0;
    size_t pages = 0;
    for (p++; *p >= '0' && *p <= '9'; p++)
        pages = pages * 10 + (size_t)(*p - '0');
    return pages * pm_os_kernel_page_size();
}

static void set_next_check(size_t at)
{
    size_t hard = __atomic_load_n(&pm_global.limit_hard, __ATOMIC_RELAXED);
    if (hard != 0 && at > hard)
        at = hard;
    __atomic_store_n(&pm_global.limit_next_check, at, __ATOMIC_RELAXED);
}

static size_t plus(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

void pm_limit_init(void)
{
    find_cgroup();
    read_limits();
    last_read_ns = now_ns();
    /* The first growth past the first step looks. */
    size_t soft = pm_global.limit_soft;
    set_next_check(soft != 0 ? soft - (soft >> NEAR_SHIFT) : (cgroup_dir[0] ? UNLIMITED_STEP : SIZE_MAX));
}

enum pm_limit_verdict pm_limit_check_slow(size_t grow)
{
    size_t total = __atomic_load_n(&pm_global.system_total, __ATOMIC_RELAXED);
    size_t hard = __atomic_load_n(&pm_global.limit_hard, __ATOMIC_RELAXED);
    if (hard != 0 && (total > hard || grow > hard - total))
        return PM_LIMIT_HARD;
    unsigned long long now = now_ns();
    unsigned long long last = __atomic_load_n(&last_read_ns, __ATOMIC_RELAXED);
    if (cgroup_dir[0] != '\0' && now - last >= REREAD_NS) {
        __atomic_store_n(&last_read_ns, now, __ATOMIC_RELAXED);
        read_limits();
    }
    size_t soft = __atomic_load_n(&pm_global.limit_soft, __ATOMIC_RELAXED);
    if (soft == 0) {
        set_next_check(cgroup_dir[0] ? plus(total, UNLIMITED_STEP) : SIZE_MAX);
        return PM_LIMIT_OK;
    }
    size_t near = soft - (soft >> NEAR_SHIFT);
    size_t resident = resident_bytes();
    if (resident == 0)
        resident = total;
    if (resident < near && grow < near - resident) {
        /* The resident set grows no faster than what is held. */
        set_next_check(plus(total, near - resident));
        return PM_LIMIT_OK;
    }
    size_t step = soft >> STEP_SHIFT;
    set_next_check(plus(total, step > MIN_STEP ? step : MIN_STEP));
    return PM_LIMIT_NEAR;
}
