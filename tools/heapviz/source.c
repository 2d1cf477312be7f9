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
};

static int pid_read(void *vctx, uint64_t addr, void *dst, size_t len)
{
    struct pid_ctx *c = vctx;
    struct iovec local = {dst, len}, remote = {(void *)(uintptr_t)addr, len};
    return process_vm_readv(c->pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -1;
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
    pm_snap_describe_fds(j, maps, statm, (uint64_t)sysconf(_SC_PAGESIZE)); /* statm's unit */
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

char *snapshot_pid(pid_t pid, char *err, size_t errlen)
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
    struct pid_ctx ctx = {pid, -1};
    struct pm_layout_desc probe;
    if (pid_read(&ctx, layout, &probe, sizeof probe) != 0) {
        if (errno == EPERM || errno == EACCES)
            snprintf(err, errlen, "cannot read the memory of process %d: permission denied (same user and "
                                  "ptrace permission needed)", (int)pid);
        else
            snprintf(err, errlen, "cannot read the memory of process %d: %s", (int)pid, strerror(errno));
        return NULL;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
    ctx.pagemap = open(path, O_RDONLY | O_CLOEXEC);
    struct pm_snap_src src = {
        .ctx = &ctx,
        .read = pid_read,
        .resident = pid_resident,
        .alloc = plain_alloc,
        .free = plain_free,
        .describe_process = pid_describe,
        .source = "pid",
        .pid = pid,
        .layout_addr = layout,
        .time_ms = now_ms(),
    };
    char *out = run_walk(&src, err, errlen);
    if (ctx.pagemap >= 0)
        close(ctx.pagemap);
    return out;
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
