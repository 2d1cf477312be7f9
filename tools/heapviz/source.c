/* Snapshots of another process and of a core dump: both find the
 * library's pmalloc_layout descriptor through the ELF symbol table of a
 * file mapped into the target (no debugger, no debug information), then
 * run the library's own walker (src/snapshot_walk.c) over a reader of the
 * target's memory. */
#define _GNU_SOURCE
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "snapshot.h"
#include "stop.h"

/* ---- output into a growing string ---- */

struct text {
    char *p;
    size_t len, cap;
};

static int text_add(void *ctx, const char *data, size_t len)
{
    struct text *t = ctx;
    if (t->len + len + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 65536;
        while (t->len + len + 1 > cap)
            cap *= 2;
        char *np = realloc(t->p, cap);
        if (np == NULL)
            return -1;
        t->p = np;
        t->cap = cap;
    }
    memcpy(t->p + t->len, data, len);
    t->len += len;
    t->p[t->len] = 0;
    return 0;
}

static void *plain_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}

static void plain_free(void *ctx, void *p, size_t n)
{
    (void)ctx;
    (void)n;
    free(p);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static char *run_walk(struct pm_snap_src *src, char *err, size_t errlen)
{
    struct text t = {NULL, 0, 0};
    struct pm_json j;
    const char *why;
    pm_json_init(&j, text_add, &t);
    if (pm_snap_walk(src, &j, &why) != 0) {
        snprintf(err, errlen, "%s", why);
        free(t.p);
        return NULL;
    }
    return t.p;
}

/* ---- candidates: files mapped at offset 0 and where ---- */

struct candidate {
    char path[4096];
    uint64_t base;
};

static int try_candidate(const struct candidate *c, const char *open_path, uint64_t *layout)
{
    uint64_t value, first;
    int is_dyn;
    if (elf_symbol(open_path, "pmalloc_layout", &value, &is_dyn, &first) != 0)
        return -1;
    *layout = is_dyn ? c->base - first + value : value;
    return 0;
}

/* Library files first: the descriptor is usually in libpmalloc.so. */
static int rank(const char *path) { return strstr(path, "pmalloc") ? 0 : 1; }

/* ---- a live process ---- */

struct pid_ctx {
    pid_t pid;
    int pagemap;
    /* while the target is stopped: where an arena's lock word is (-1:
     * unknown), and how many locks were found held */
    long arena_lock_off;
    bool probe_locks;
    unsigned locks_held;
};

static int pid_read(void *vctx, uint64_t addr, void *dst, size_t len)
{
    struct pid_ctx *c = vctx;
    struct iovec local = {dst, len}, remote = {(void *)(uintptr_t)addr, len};
    return process_vm_readv(c->pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -1;
}

static void pid_lock(void *vctx, enum pm_snap_lock which, uint64_t addr, bool on)
{
    struct pid_ctx *c = vctx;
    if (!on || !c->probe_locks)
        return;
    /* A lock held while every thread is stopped means a thread stopped
     * inside a critical section, perhaps half way through a list update:
     * the snapshot may show that half-made update, so it is taken again. */
    uint64_t at;
    if (which == PM_SNAP_LOCK_ARENA && c->arena_lock_off >= 0)
        at = addr + (uint64_t)c->arena_lock_off;
    else if (which == PM_SNAP_LOCK_TCACHE && addr != 0)
        at = addr;
    else
        return; /* the mmapped-chunk list's lock is not published */
    int word = 0;
    if (pid_read(c, at, &word, sizeof word) == 0 && word != 0)
        c->locks_held++;
}

/* The descriptor has no offset for the arena lock: it is the first member
 * of the arena in every layout so far, which shows as no published member
 * at offset 0.  -1 when that does not hold (then locks are not probed). */
static long arena_lock_offset(const struct pm_layout_desc *d)
{
    const uint32_t offs[] = {d->arena_flags, d->arena_index, d->arena_have_fastchunks, d->arena_fastbins,
                             d->arena_top, d->arena_bins, d->arena_heap, d->arena_next, d->arena_system_mem};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++)
        if (offs[i] < sizeof(int))
            return -1;
    return 0;
}

/* pagemap has one entry per page of the kernel (the target runs on the
 * same kernel as heapviz); a page of the target's pmalloc is resident if
 * any kernel page in it is. */
static int pid_resident(void *vctx, uint64_t addr, size_t npages, uint64_t page_size, unsigned char *vec)
{
    struct pid_ctx *c = vctx;
    uint64_t entries[1024];
    uint64_t kpage = (uint64_t)sysconf(_SC_PAGESIZE);
    if (c->pagemap < 0 || page_size < kpage || page_size % kpage != 0)
        return -1;
    uint64_t per = page_size / kpage, total = npages * per;
    memset(vec, 0, npages);
    for (uint64_t done = 0; done < total;) {
        uint64_t n = total - done < 1024 ? total - done : 1024;
        off_t off = (off_t)((addr / kpage + done) * 8);
        if (pread(c->pagemap, entries, n * 8, off) != (ssize_t)(n * 8))
            return -1;
        for (uint64_t i = 0; i < n; i++)
            vec[(done + i) / per] |= (unsigned char)((entries[i] >> 63) & 1); /* present in RAM */
        done += n;
    }
    return 0;
}

static void pid_describe(void *vctx, struct pm_json *j, const uint64_t *ranges, size_t n)
{
    struct pid_ctx *c = vctx;
    (void)ranges;
    (void)n;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)c->pid);
    int maps = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "/proc/%d/statm", (int)c->pid);
    int statm = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "/proc/%d/smaps", (int)c->pid);
    int smaps = open(path, O_RDONLY | O_CLOEXEC);
    pm_snap_describe_fds(j, maps, statm, smaps, (uint64_t)sysconf(_SC_PAGESIZE)); /* statm's unit */
    if (smaps >= 0)
        close(smaps);
    if (maps >= 0)
        close(maps);
    if (statm >= 0)
        close(statm);
}

static int find_layout_pid(pid_t pid, uint64_t *layout, char *err, size_t errlen)
{
    char path[64], line[4608];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT)
            snprintf(err, errlen, "no process with pid %d", (int)pid);
        else
            snprintf(err, errlen, "cannot read the memory map of process %d: %s", (int)pid, strerror(errno));
        return -1;
    }
    struct candidate *cands = NULL;
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi, off;
        char perms[8];
        int name_at = 0;
        if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %n", &lo, &hi, perms, &off, &name_at) < 4 || name_at == 0)
            continue;
        char *name = line + name_at;
        name[strcspn(name, "\n")] = 0;
        if (off != 0 || name[0] != '/')
            continue;
        bool seen = false;
        for (size_t i = 0; i < n; i++)
            seen |= strcmp(cands[i].path, name) == 0;
        if (seen)
            continue;
        struct candidate *nc = realloc(cands, (n + 1) * sizeof *nc);
        if (nc == NULL)
            break;
        cands = nc;
        snprintf(cands[n].path, sizeof cands[n].path, "%s", name);
        cands[n].base = lo;
        n++;
    }
    fclose(f);
    if (n == 0) {
        /* an empty map: a kernel thread, or a process we may not inspect */
        snprintf(err, errlen, "process %d has no mapped files we can see (kernel thread or no permission)", (int)pid);
        free(cands);
        return -1;
    }
    int rc = -1;
    for (int r = 0; r < 2 && rc != 0; r++)
        for (size_t i = 0; i < n && rc != 0; i++) {
            if (rank(cands[i].path) != r)
                continue;
            char alt[4200];
            snprintf(alt, sizeof alt, "/proc/%d/root%s", (int)pid, cands[i].path);
            rc = try_candidate(&cands[i], alt, layout);
            if (rc != 0)
                rc = try_candidate(&cands[i], cands[i].path, layout);
        }
    free(cands);
    if (rc != 0)
        snprintf(err, errlen, "process %d does not use pmalloc (no pmalloc_layout symbol in any file it maps)",
                 (int)pid);
    return rc;
}

static bool text_has(const char *text, const char *what) { return strstr(text, what) != NULL; }

/* The snapshot says how it was read: a "capture" member before its end. */
static char *add_capture(char *text, const char *stop, const struct live_read *lr, unsigned locks_held)
{
    char member[200];
    int n = snprintf(member, sizeof member,
                     ",\"capture\":{\"stop\":\"%s\",\"stops\":%d,\"attempts\":%d,\"locks_held\":%u,"
                     "\"consistent\":%s}",
                     stop, lr->stops, lr->attempts, locks_held, lr->consistent ? "true" : "false");
    char *end = strrchr(text, '}');
    if (end == NULL || n < 0 || (size_t)n >= sizeof member)
        return text;
    size_t head = (size_t)(end - text), len = strlen(text);
    char *out = malloc(len + (size_t)n + 1);
    if (out == NULL)
        return text;
    memcpy(out, text, head);
    memcpy(out + head, member, (size_t)n);
    memcpy(out + head + (size_t)n, end, len - head + 1);
    free(text);
    return out;
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* HEAPVIZ_TEST_HOLD_MS keeps the target stopped that long after each
 * read, so a test can interrupt heapviz while it holds the target. */
static void hold_for_tests(void)
{
    const char *hold = getenv("HEAPVIZ_TEST_HOLD_MS");
    if (hold && atol(hold) > 0) {
        fprintf(stderr, "heapviz: holding the target for %ld ms (HEAPVIZ_TEST_HOLD_MS)\n", atol(hold));
        pause_ms(atol(hold));
    }
}

/* The number of locks held right now: every arena's, and the thread-cache
 * list's.  Cheap (a few words read), so it is asked before each walk. */
static unsigned locks_held_now(struct pid_ctx *c, const struct pm_layout_desc *d)
{
    unsigned held = 0;
    bool saved = c->probe_locks;
    c->probe_locks = true;
    c->locks_held = 0;
    if (d->addr_tcache_list_lock)
        pid_lock(c, PM_SNAP_LOCK_TCACHE, d->addr_tcache_list_lock, true);
    uint64_t a = d->addr_main_arena;
    for (int n = 0; n < PM_SNAP_MAX_ARENAS && a != 0; n++) {
        pid_lock(c, PM_SNAP_LOCK_ARENA, a, true);
        uint64_t next = 0;
        if (pid_read(c, a + d->arena_next, &next, d->ptr_size < sizeof next ? d->ptr_size : sizeof next) != 0 ||
            next == d->addr_main_arena)
            break;
        a = next;
    }
    held = c->locks_held;
    c->probe_locks = saved;
    c->locks_held = 0;
    return held;
}

/* How many times a stopped process is let run on a little and stopped
 * again while one of its locks is held, before it is read anyway. */
#define QUIET_TRIES 200

/* Stops the process (attempt 1) or lets it run a little and stops it
 * again (later attempts), until no lock is held or QUIET_TRIES is used
 * up.  False when it cannot go on (the process exited). */
static bool hold_still(struct stopped *st, struct pid_ctx *ctx, const struct pm_layout_desc *d,
                       struct live_read *lr, int attempt)
{
    char why[256];
    for (int t = 0; t < QUIET_TRIES; t++) {
        int rc;
        if (st->how == STOP_NONE && attempt > 1 && t == 0 && lr->stop_failed)
            return true; /* stopping failed before: read it running */
        if (st->how == STOP_NONE)
            rc = stop_process(st, ctx->pid, lr->use_signal, why, sizeof why);
        else if (t > 0 || attempt > 1)
            /* vary the interval so as not to fall in step with the target */
            rc = stop_again(st, 100 + 150 * ((t + attempt) % 7), why, sizeof why);
        else
            rc = 0;
        if (rc != 0) {
            if (stop_reaped(ctx->pid, &lr->reaped_status)) {
                lr->reaped = true;
                return true;
            }
            if (kill(ctx->pid, 0) != 0)
                return false;
            if (!lr->stop_failed)
                fprintf(stderr, "heapviz: warning: %s; reading it while it runs\n", why);
            lr->stop_failed = true;
            return true;
        }
        if (st->how == STOP_SIGNAL && st->was_stopped)
            return true; /* stopped by someone else: take it as it is */
        lr->stops++;
        if (locks_held_now(ctx, d) == 0)
            return true;
    }
    return true;
}

char *snapshot_pid(pid_t pid, struct live_read *lr, char *err, size_t errlen)
{
    if (pid <= 0) {
        snprintf(err, errlen, "invalid pid %d", (int)pid);
        return NULL;
    }
    if (kill(pid, 0) != 0 && errno == ESRCH) {
        snprintf(err, errlen, "no process with pid %d", (int)pid);
        return NULL;
    }
    uint64_t layout;
    if (find_layout_pid(pid, &layout, err, errlen) != 0)
        return NULL;
    struct pid_ctx ctx = {pid, -1, -1, false, 0};
    struct pm_layout_desc probe;
    if (pid_read(&ctx, layout, &probe, sizeof probe) != 0) {
        if (errno == EPERM || errno == EACCES)
            snprintf(err, errlen, "cannot read the memory of process %d: permission denied (same user and "
                                  "ptrace permission needed)", (int)pid);
        else
            snprintf(err, errlen, "cannot read the memory of process %d: %s", (int)pid, strerror(errno));
        return NULL;
    }
    ctx.arena_lock_off = arena_lock_offset(&probe);
    /* a descriptor the walker refuses: no stopping, the walk says why */
    bool stop = !lr->no_stop && pm_snap_check_desc(&probe) == NULL;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
    ctx.pagemap = open(path, O_RDONLY | O_CLOEXEC);
    struct pm_snap_src src = {
        .ctx = &ctx,
        .read = pid_read,
        .resident = pid_resident,
        .lock = pid_lock,
        .alloc = plain_alloc,
        .free = plain_free,
        .describe_process = pid_describe,
        .source = "pid",
        .pid = pid,
        .layout_addr = layout,
    };
    static const char *const how_name[] = {[STOP_NONE] = "none", [STOP_PTRACE] = "ptrace",
                                           [STOP_SIGNAL] = "signal"};
    struct stopped st = {0};
    char *out = NULL;
    bool consistent = false;
    unsigned locks_held = 0;
    int attempt;
    lr->reaped = lr->stop_failed = false;
    lr->stops = 0;
    for (attempt = 1; attempt <= LIVE_READ_ATTEMPTS; attempt++) {
        if (stop && !hold_still(&st, &ctx, &probe, lr, attempt)) {
            snprintf(err, errlen, "process %d exited while it was being read", (int)pid);
            break;
        }
        if (lr->reaped) {
            snprintf(err, errlen, "process %d exited while it was being stopped", (int)pid);
            break;
        }
        ctx.probe_locks = st.how != STOP_NONE;
        ctx.locks_held = 0;
        src.time_ms = now_ms();
        char *text = run_walk(&src, err, errlen);
        if (text == NULL)
            break;
        free(out);
        out = text;
        locks_held = ctx.locks_held;
        consistent = st.how != STOP_NONE && locks_held == 0;
        bool clean = !text_has(out, "\"partial\":true") && text_has(out, "\"problems\":[]") && locks_held == 0;
        if (clean)
            break;
        if (st.how == STOP_NONE)
            pause_ms(2L * attempt); /* running: just try again a little later */
    }
    const char *how = how_name[st.how];
    if (st.how != STOP_NONE) {
        hold_for_tests();
        resume_process(&st);
    }
    if (ctx.pagemap >= 0)
        close(ctx.pagemap);
    free(st.tids);
    free(st.resume_sig);
    free(st.halted);
    if (out == NULL)
        return NULL;
    lr->attempts = attempt > LIVE_READ_ATTEMPTS ? LIVE_READ_ATTEMPTS : attempt;
    lr->consistent = consistent;
    return add_capture(out, how, lr, locks_held);
}

/* ---- a core dump ---- */

static int core_src_read(void *ctx, uint64_t addr, void *dst, size_t len)
{
    return core_read(ctx, addr, dst, len);
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

char *snapshot_core(const char *core, const char *exe, char *err, size_t errlen)
{
    struct core_info ci;
    if (core_open(core, &ci, err, errlen) != 0)
        return NULL;
    uint64_t layout = 0;
    int rc = -1;
    for (int r = 0; r < 2 && rc != 0; r++)
        for (size_t i = 0; i < ci.nfiles && rc != 0; i++) {
            struct core_file *f = &ci.files[i];
            if (f->pgoff != 0 || rank(f->path) != r)
                continue;
            struct candidate c;
            snprintf(c.path, sizeof c.path, "%s", f->path);
            c.base = f->start;
            /* the executable named on the command line stands for its
             * mapping, wherever it was run from */
            if (exe && strcmp(base_name(exe), base_name(f->path)) == 0)
                rc = try_candidate(&c, exe, &layout);
            if (rc != 0)
                rc = try_candidate(&c, f->path, &layout);
        }
    if (rc != 0 && exe) {
        /* no file notes (old kernel): a non-PIE executable still works */
        struct candidate c = {.base = 0};
        uint64_t value, first;
        int is_dyn;
        if (elf_symbol(exe, "pmalloc_layout", &value, &is_dyn, &first) == 0 && !is_dyn) {
            layout = value;
            rc = 0;
        }
        (void)c;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s: no pmalloc_layout in the files the process mapped (not a pmalloc "
                              "process, or its library is not at the recorded path)", core);
        core_close(&ci);
        return NULL;
    }
    struct pm_snap_src src = {
        .ctx = &ci,
        .read = core_src_read,
        .alloc = plain_alloc,
        .free = plain_free,
        .source = "core",
        .pid = ci.pid,
        .layout_addr = layout,
    };
    char *out = run_walk(&src, err, errlen);
    core_close(&ci);
    return out;
}
