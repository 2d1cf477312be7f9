/* Snapshots of the running process: pmalloc_snapshot(fd) and the snapshot
 * written at exit when PMALLOC_SNAPSHOT_AT_EXIT names a file.
 *
 * The walker (snapshot_walk.c) reads this process's memory through
 * process_vm_readv on itself, so even a wild pointer in a corrupt heap
 * gives a failed read rather than a crash; where that call is not allowed
 * it falls back to plain copies, guarded by the walker's range checks.
 * Each arena's lock is held while that arena is walked.  Scratch memory
 * and the output buffer come straight from mmap, never from the heap
 * being described, and the text is written with write(2) once every lock
 * has been released (a reader of fd may itself need to allocate). */
#include "config.h"

#include "snapshot_self.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "layout.h"
#include "log.h"
#include "mmap_chunk.h"
#include "os.h"
#include "snapshot.h"
#include "state.h"
#include "tcache.h"

struct self_ctx {
    pid_t pid;
    bool plain_copy;   /* reading through the kernel is not permitted here */
};

static int self_read(void *vctx, uint64_t addr, void *dst, size_t len)
{
    struct self_ctx *c = vctx;
    if (addr == 0)
        return -1;
    if (!c->plain_copy) {
        enum pm_os_read r = pm_os_read_self(dst, (const void *)(uintptr_t)addr, len);
        if (r == PM_OS_READ_OK)
            return 0;
        if (r == PM_OS_READ_FAULT)
            return -1;
        c->plain_copy = true;
    }
    memcpy(dst, (const void *)(uintptr_t)addr, len);
    return 0;
}

static int self_resident(void *ctx, uint64_t addr, size_t npages, uint64_t page_size, unsigned char *vec)
{
    (void)ctx;
    /* The walker counts in the descriptor's pages, which are ours. */
    size_t size = pm_page_size();
    if (page_size != size)
        return -1;
    uintptr_t page = (uintptr_t)addr & ~(uintptr_t)(size - 1);
    return pm_os_resident((void *)page, npages * size, vec) ? 0 : -1;
}

static void self_lock(void *ctx, enum pm_snap_lock which, uint64_t addr, bool on)
{
    (void)ctx;
    switch (which) {
    case PM_SNAP_LOCK_ARENA: {
        struct pm_arena *a = (struct pm_arena *)(uintptr_t)addr;
        if (on)
            pm_lock(&a->lock);
        else
            pm_unlock(&a->lock);
        break;
    }
    case PM_SNAP_LOCK_MMAP:
        if (on)
            pm_mmap_lock_all();
        else
            pm_mmap_unlock_all(false);
        break;
    case PM_SNAP_LOCK_TCACHE:
        if (on)
            pm_tcache_lock_all();
        else
            pm_tcache_unlock_all(false);
        break;
    }
}

static void *self_alloc(void *ctx, size_t bytes)
{
    (void)ctx;
    return pm_os_map(align_up(bytes, pm_page_size()), false);
}

static void self_free(void *ctx, void *p, size_t bytes)
{
    (void)ctx;
    pm_os_unmap(p, align_up(bytes, pm_page_size()));
}

static void self_describe(void *ctx, struct pm_json *j, const uint64_t *ranges, size_t n)
{
    (void)ctx;
    (void)ranges;
    (void)n;
    int maps = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    int statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    int smaps = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
    pm_snap_describe_fds(j, maps, statm, smaps, pm_os_kernel_page_size()); /* statm's unit */
    if (smaps >= 0)
        close(smaps);
    if (maps >= 0)
        close(maps);
    if (statm >= 0)
        close(statm);
}

/* The whole text is gathered in an mmap'd buffer that grows by remapping,
 * and written after the walk. */
struct outbuf {
    char *p;
    size_t len, cap;
};

static int outbuf_add(void *vctx, const char *data, size_t len)
{
    struct outbuf *o = vctx;
    if (len > o->cap - o->len) {
        size_t cap = o->cap ? o->cap : 256 * 1024;
        while (len > cap - o->len)
            cap *= 2;
        char *np = o->p ? pm_os_remap(o->p, o->cap, cap, true) : pm_os_map(cap, false);
        if (np == NULL)
            return -1;
        o->p = np;
        o->cap = cap;
    }
    memcpy(o->p + o->len, data, len);
    o->len += len;
    return 0;
}

int pm_snapshot_write(int fd)
{
    int saved_errno = errno;
    if (fcntl(fd, F_GETFL) < 0) {
        errno = EBADF;
        return -1;
    }
    struct self_ctx ctx = {getpid(), false};
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct pm_snap_src src = {
        .ctx = &ctx,
        .read = self_read,
        .resident = self_resident,
        .lock = self_lock,
        .alloc = self_alloc,
        .free = self_free,
        .describe_process = self_describe,
        .source = "self",
        .pid = ctx.pid,
        .layout_addr = (uintptr_t)&pmalloc_layout,
        .time_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000,
    };
    struct outbuf out = {NULL, 0, 0};
    struct pm_json j;
    const char *why;
    pm_json_init(&j, outbuf_add, &out);
    int rc = pm_snap_walk(&src, &j, &why);
    int err = rc != 0 ? (out.cap == 0 || j.failed ? ENOMEM : EIO) : 0;
    if (rc == 0 && pm_write_all(fd, out.p, out.len) != 0) {
        rc = -1;
        err = errno;
    }
    if (out.p)
        pm_os_unmap(out.p, out.cap);
    errno = rc == 0 ? saved_errno : err;
    return rc;
}

/* ---- at exit ---- */

/* Copies the path, replacing %p with the process id (a program that forks
 * or runs others under LD_PRELOAD gets one file per process); false if it
 * does not fit. */
static bool expand_path(char *out, size_t size, const char *path)
{
    struct pm_buf pid = {.len = 0};
    pm_buf_dec(&pid, (uint64_t)getpid());
    size_t len = 0;
    for (const char *s = path; *s; s++) {
        const char *piece = s;
        size_t plen = 1;
        if (s[0] == '%' && s[1] == 'p') {
            piece = pid.text;
            plen = pid.len;
            s++;
        }
        if (len + plen >= size)
            return false;
        memcpy(out + len, piece, plen);
        len += plen;
    }
    out[len] = 0;
    return len > 0;
}

static void report_snapshot_failure(const char *file, int err)
{
    struct pm_buf b = {.len = 0};
    pm_buf_str(&b, "pmalloc: PMALLOC_SNAPSHOT_AT_EXIT: cannot write ");
    pm_buf_str(&b, file);
    pm_buf_str(&b, ": ");
    /* glibc's untranslated table: no locale data, no allocation */
    const char *desc = strerrordesc_np(err);
    const char *name = strerrorname_np(err);
    pm_buf_str(&b, desc != NULL ? desc : "unknown error");
    pm_buf_str(&b, " (");
    if (name != NULL)
        pm_buf_str(&b, name);
    else
        pm_buf_dec(&b, (uint64_t)err);
    pm_buf_str(&b, ")");
    if (err == EEXIST)
        pm_buf_str(&b, "; an existing file is never overwritten");
    pm_buf_end_line(&b);
    pm_buf_flush(&b, STDERR_FILENO);
}

void pm_snapshot_at_exit(void)
{
    static int done;
    if (__atomic_exchange_n(&done, 1, __ATOMIC_ACQ_REL))
        return;
    /* The path comes only from the option table, which reads nothing in a
     * set-user-ID program (AT_SECURE). */
    const char *path = pm_opt.snapshot_path;
    if (*path == 0 || !pm_initialised())
        return;
    char file[PM_OPTION_PATH_MAX];
    int saved_errno = errno;
    if (!expand_path(file, sizeof file, path)) {
        pm_write_str(STDERR_FILENO, "pmalloc: PMALLOC_SNAPSHOT_AT_EXIT: path too long\n");
        return;
    }
    /* A new file only: never truncate or follow a link to one that
     * exists, whoever named it. */
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        report_snapshot_failure(file, errno);
    else if (pm_snapshot_write(fd) != 0)
        report_snapshot_failure(file, errno);
    if (fd >= 0)
        close(fd);
    errno = saved_errno;
}

/* Priority 101: after ordinary destructors, so the snapshot shows what
 * the program left behind. */
__attribute__((destructor(101))) static void snapshot_at_exit_destructor(void)
{
    pm_snapshot_at_exit();
}
