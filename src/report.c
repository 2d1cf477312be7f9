/* The report PMALLOC_STATS asks for at exit: who (program, pid, version),
 * how much (current and peak), how often (calls that reached the arenas
 * and the system), and where the resident memory is, so "why is RSS
 * bigger than my live bytes" has an answer without a tool.
 * PMALLOC_STATS=1 writes it as text, PMALLOC_STATS=json as one JSON
 * object; both with write(2) only, through the one emitter.
 *
 * Resident bytes are measured, not estimated, where they can be: the
 * heaps, top, the large free chunks (which malloc_trim may have given
 * back in part) and the mapped chunks are asked of the kernel page by
 * page, and so are the chunks of the calling thread's cache size classes
 * (a refill writes only their start).  Fast-bin, small free and other
 * cached chunks are counted whole: each
 * was written when it was freed, so its page is resident.  What remains
 * of a heap's resident bytes is in use. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "bins.h"
#include "compiler.h"
#include "core.h"
#include "emit.h"
#include "init.h"
#include "log.h"
#include "mmap_chunk.h"
#include "os.h"
#include "report.h"
#include "tcache.h"

struct resident {
    uint64_t heap;          /* resident bytes of every heap's chunk space */
    uint64_t top;
    uint64_t free_bins;     /* free chunks in bins and fast bins */
    uint64_t caches;        /* chunks parked in thread caches */
    uint64_t metadata;      /* heap records, arena records, fenceposts */
    uint64_t fenceposts;    /* the pairs closing older heaps (chunk space) */
    uint64_t mapped;        /* mapped chunks */
    uint64_t heap_bytes;    /* all chunk space, resident or not */
    uint64_t free_bytes;    /* free chunks and top, resident or not */
};

static bool count_free_chunk(void *ctx, enum pm_bins_list list, unsigned idx, mchunk *p)
{
    (void)idx;
    struct resident *r = ctx;
    size_t size = chunk_size(p);
    r->free_bytes += size;
    r->free_bins += list != PM_LIST_BIN || size <= pm_page_size() ? size : pm_os_resident_bytes(p, size);
    return true;
}

/* The report is no place to stop the program: a broken list is left for
 * the heap walker to name. */
static void ignore_problem(void *ctx, enum pm_bins_problem what, const void *where)
{
    (void)ctx;
    (void)what;
    (void)where;
}

static void measure_arena(struct pm_arena *a, struct resident *r)
{
    size_t guard = a->nheaps + 1;
    for (struct pm_heap *h = a->heap; h != NULL && guard-- > 0; h = h->prev) {
        size_t chunks = (size_t)(heap_end(h) - h->chunks_start);
        r->heap += pm_os_resident_bytes(h->chunks_start, chunks);
        r->heap_bytes += chunks;
        r->metadata += pm_os_resident_bytes(h, (size_t)(h->chunks_start - (char *)h));
        if (h != a->heap) {
            /* written when the heap was closed: resident */
            r->metadata += PM_FENCEPOST_SIZE;
            r->fenceposts += PM_FENCEPOST_SIZE;
        }
    }
    if (a->top != NULL) {
        r->top += pm_os_resident_bytes(a->top, top_size(a));
        r->free_bytes += top_size(a);
    }
    const struct pm_bins_visitor v = {count_free_chunk, ignore_problem, r, false, 0, NULL};
    pm_bins_walk(a, &v);
}

static void measure_mappings(struct resident *r)
{
    pm_mmap_lock_all();
    size_t guard = pm_global.n_mmaps + 1;
    for (struct pm_mmap_link *l = pm_mmap_list.next; l != &pm_mmap_list && guard-- > 0; l = l->next)
        r->mapped += pm_os_resident_bytes(l, chunk_prev_size(l->chunk) + chunk_size(l->chunk));
    pm_mmap_unlock_all(false);
}

static const char *const syscall_names[PM_OS_NCALLS] = {
    [PM_OS_BRK] = "brk", [PM_OS_MMAP] = "mmap", [PM_OS_MUNMAP] = "munmap",
    [PM_OS_MREMAP] = "mremap", [PM_OS_MPROTECT] = "mprotect", [PM_OS_MADVISE] = "madvise",
};

/* The report, as text or as one JSON object, to fd (write(2) only). */
static void report_print(int fd, bool json)
{
    int old_cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old_cancel_state);
    int saved_errno = errno;

    struct resident r = {0};
    size_t arenas = 0, nmalloc = 0;
    for (struct pm_arena *a = &pm_main_arena;; a = arena_next(a)) {
        /* what other threads freed into it is not in use: drained first */
        pm_lock_arena(a);
        measure_arena(a, &r);
        nmalloc += a->nmalloc;
        pm_unlock(&a->lock);
        arenas++;
        if (arena_next(a) == &pm_main_arena)
            break;
    }
    measure_mappings(&r);
    /* The caller's own size classes are measured; other threads' caches,
     * which only their owners may walk, are counted whole. */
    size_t own_held;
    size_t own_resident = pm_tcache_own_class_resident(&own_held);
    size_t cached = pm_tcache_bytes();
    r.caches = cached - own_held + own_resident;
    size_t rss = 0, rss_peak = 0;
    bool have_rss = pm_os_rss(&rss, &rss_peak);

    /* in use as everywhere (doc/heapviz.md): the chunks the program
     * holds; of the resident bytes, what no list, top or record holds */
    uint64_t listed = r.top + r.free_bins + r.caches + r.fenceposts;
    uint64_t in_use = r.heap > listed ? r.heap - listed : 0;
    uint64_t not_held = r.free_bytes + cached + r.fenceposts;
    uint64_t in_use_bytes = r.heap_bytes > not_held ? r.heap_bytes - not_held : 0;
    uint64_t ours = r.heap + r.metadata + r.mapped;

    struct pm_emit e;
    pm_emit_init(&e, json ? PM_EMIT_JSON : PM_EMIT_TEXT, pm_flush_to_fd, &fd);
    e.label_width = 24;
    e.indent = 2;
    struct pm_buf title = {.len = 0};
    pm_buf_str(&title, "pmalloc ");
    pm_buf_str(&title, PACKAGE_VERSION);
    pm_buf_str(&title, " statistics: ");
    pm_buf_str(&title, program_invocation_name);
    pm_buf_str(&title, " (pid ");
    pm_buf_dec(&title, (uint64_t)getpid());
    pm_buf_str(&title, ")");
    title.text[title.len < sizeof title.text ? title.len : sizeof title.text - 1] = 0;
    pm_emit_begin(&e, NULL, title.text);
    pm_emit_str(&e, "format", NULL, "pmalloc-stats");
    pm_emit_str(&e, "version", NULL, PACKAGE_VERSION);
    pm_emit_str(&e, "program", NULL, program_invocation_name);
    pm_emit_u64(&e, "pid", NULL, (uint64_t)getpid());

    pm_emit_begin(&e, "memory", "memory (bytes):");
    pm_emit_u64(&e, "system", "from the system", __atomic_load_n(&pm_global.system_total, __ATOMIC_RELAXED));
    pm_emit_u64(&e, "system_peak", "from the system, peak",
                __atomic_load_n(&pm_global.max_system_total, __ATOMIC_RELAXED));
    pm_emit_u64(&e, "heap", "in heaps", r.heap_bytes);
    pm_emit_u64(&e, "heap_free", "free in heaps", r.free_bytes);
    pm_emit_u64(&e, "in_use", "in use", in_use_bytes);
    pm_emit_u64(&e, "mapped", "mapped chunks", __atomic_load_n(&pm_global.mmapped_mem, __ATOMIC_RELAXED));
    pm_emit_u64(&e, "mapped_peak", "mapped chunks, peak",
                __atomic_load_n(&pm_global.max_mmapped_mem, __ATOMIC_RELAXED));
    if (have_rss) {
        pm_emit_u64(&e, "rss", "process RSS", rss);
        pm_emit_u64(&e, "rss_peak", "process RSS, peak", rss_peak);
    }
    size_t soft = __atomic_load_n(&pm_global.limit_soft, __ATOMIC_RELAXED);
    size_t hard = __atomic_load_n(&pm_global.limit_hard, __ATOMIC_RELAXED);
    if (soft != 0)
        pm_emit_u64(&e, "limit", "memory limit", soft);
    if (hard != 0)
        pm_emit_u64(&e, "limit_hard", "hard memory limit", hard);
    pm_emit_end(&e);

    /* The parts add up to the process's RSS. */
    pm_emit_begin(&e, "resident", "resident memory (bytes):");
    pm_emit_u64(&e, "in_use", "in use", in_use);
    pm_emit_u64(&e, "free_in_bins", "free in bins", r.free_bins);
    pm_emit_u64(&e, "top", "top", r.top);
    pm_emit_u64(&e, "thread_caches", "thread caches", r.caches);
    pm_emit_u64(&e, "mapped_chunks", "mapped chunks", r.mapped);
    pm_emit_u64(&e, "metadata", "metadata", r.metadata);
    if (have_rss)
        pm_emit_u64(&e, "outside_pmalloc", "outside pmalloc", rss > ours ? rss - ours : 0);
    pm_emit_u64(&e, "heap_not_resident", "heap not resident", r.heap_bytes - r.heap);
    pm_emit_end(&e);

    pm_emit_begin(&e, "calls", "calls:");
    pm_emit_u64(&e, "arena_requests", "requests to arenas", nmalloc);
    for (int c = 0; c < PM_OS_NCALLS; c++)
        pm_emit_u64(&e, syscall_names[c], syscall_names[c], pm_os_calls((enum pm_os_call)c));
    pm_emit_end(&e);

    pm_emit_begin(&e, "arenas", "arenas:");
    pm_emit_u64(&e, "count", "arenas", arenas);
    pm_emit_u64(&e, "mapped_chunks", "mapped chunks now", __atomic_load_n(&pm_global.n_mmaps, __ATOMIC_RELAXED));
    pm_emit_u64(&e, "mapped_chunks_max", "mapped chunks, most",
                __atomic_load_n(&pm_global.n_mmaps_max, __ATOMIC_RELAXED));
    pm_emit_end(&e);
    pm_emit_end(&e);
    if (!json)
        pm_json_raw(&e.j, "end of pmalloc statistics\n", 26);
    pm_emit_finish(&e);

    errno = saved_errno;
    pthread_setcancelstate(old_cancel_state, NULL);
}

/* Many programs (coreutils among them) close standard error before they
 * exit: a copy is kept for the report PMALLOC_STATS asks for. */
static int stats_fd = -1;

__attribute__((constructor)) static void keep_stderr_for_report(void)
{
    pm_ensure_init();
    if (pm_opt.stats_at_exit && stats_fd < 0)
        stats_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
}

void pm_report_at_exit(void)
{
    static int done;
    if (!pm_opt.stats_at_exit || __atomic_exchange_n(&done, 1, __ATOMIC_ACQ_REL))
        return;
    report_print(stats_fd >= 0 ? stats_fd : STDERR_FILENO, pm_opt.stats_json);
}

__attribute__((destructor)) static void report_at_exit_destructor(void) { pm_report_at_exit(); }
