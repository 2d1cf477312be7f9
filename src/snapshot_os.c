/* The address space around the heap, from /proc: the anonymous mappings
 * (brk region, sub-heaps with their reserved parts, mmapped chunks) and
 * the process's resident set.  Shared by the library (its own /proc/self
 * files) and heapviz (/proc/PID); read with read(2) into a fixed buffer,
 * no stdio and no allocation. */
#include "snapshot.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static uint64_t parse_hex(const char **s)
{
    uint64_t v = 0;
    for (;; (*s)++) {
        char c = **s;
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return v;
        v = v << 4 | d;
    }
}

static uint64_t parse_dec(const char **s)
{
    uint64_t v = 0;
    while (**s >= '0' && **s <= '9')
        v = v * 10 + (uint64_t)(*(*s)++ - '0');
    return v;
}

static void skip_field(const char **s)
{
    while (**s && **s != ' ')
        (*s)++;
    while (**s == ' ')
        (*s)++;
}

/* Feeds every line of fd, from where it stands, to each (a line longer
 * than the buffer is cut). */
static void each_line(int fd, void (*each)(void *ctx, const char *line), void *ctx)
{
    char buf[4096], line[512];
    size_t llen = 0;
    for (;;) {
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                line[llen] = 0;
                each(ctx, line);
                llen = 0;
            } else if (llen + 1 < sizeof line) {
                line[llen++] = buf[i];
            }
        }
    }
}

/* One line of a maps file: "start-end perms offset dev inode   name". */
static void maps_line(struct pm_json *j, const char *line, unsigned *emitted)
{
    const char *s = line;
    uint64_t lo = parse_hex(&s);
    if (*s++ != '-')
        return;
    uint64_t hi = parse_hex(&s);
    while (*s == ' ')
        s++;
    char perms[5] = {0};
    for (int i = 0; i < 4 && *s && *s != ' '; i++)
        perms[i] = *s++;
    while (*s == ' ')
        s++;
    skip_field(&s); /* offset */
    skip_field(&s); /* device */
    skip_field(&s); /* inode */
    const char *name = s;
    /* anonymous mappings and the break hold every heap and mmapped chunk */
    if (*name && strcmp(name, "[heap]") != 0)
        return;
    if (++*emitted > 4096)
        return;
    pm_json_begin_obj(j);
    pm_json_kv_addr(j, "start", lo);
    pm_json_kv_addr(j, "end", hi);
    pm_json_kv_str(j, "perms", perms);
    pm_json_kv_str(j, "name", *name ? name : "");
    pm_json_end_obj(j);
}

/* What smaps says the resident set is made of: every mapping's "Rss:"
 * line, added up by what maps it.  Exact where statm's counters are
 * approximate (the kernel batches them per thread), so the RSS bar of the
 * page adds up to this total. */
struct smaps_sums {
    uint64_t total, file, stack;
    int kind; /* of the current mapping: 0 other, 1 file, 2 stack */
    bool seen;
};

static void smaps_line(void *ctx, const char *line)
{
    struct smaps_sums *m = ctx;
    const char *s = line;
    while (*s && *s != ' ' && *s != ':')
        s++;
    if (*s == ':') {
        /* "Rss:    1234 kB" (Rss exactly: not SwapPss or Pss_Anon) */
        if (s - line != 3 || line[0] != 'R' || line[1] != 's' || line[2] != 's')
            return;
        s++;
        while (*s == ' ')
            s++;
        uint64_t bytes = parse_dec(&s) * 1024;
        m->total += bytes;
        m->file += m->kind == 1 ? bytes : 0;
        m->stack += m->kind == 2 ? bytes : 0;
        m->seen = true;
        return;
    }
    /* a mapping's first line: range perms offset device inode name */
    s = line;
    for (int field = 0; field < 5; field++)
        skip_field(&s);
    m->kind = *s == '/' ? 1 : strncmp(s, "[stack]", 7) == 0 ? 2 : 0;
}

static void read_smaps(int fd, struct smaps_sums *m) { each_line(fd, smaps_line, m); }

/* An executable mapping of a file: where the profile's return addresses
 * point, so a reader can name them from the file's symbols. */
static void module_line(struct pm_json *j, const char *line, unsigned *emitted)
{
    const char *s = line;
    uint64_t lo = parse_hex(&s);
    if (*s++ != '-')
        return;
    uint64_t hi = parse_hex(&s);
    while (*s == ' ')
        s++;
    if (strlen(s) < 4 || s[2] != 'x')
        return;
    skip_field(&s); /* perms */
    uint64_t offset = parse_hex(&s);
    while (*s == ' ')
        s++;
    skip_field(&s); /* device */
    skip_field(&s); /* inode */
    if (*s != '/' || ++*emitted > 1024)
        return;
    pm_json_begin_obj(j);
    pm_json_kv_addr(j, "start", lo);
    pm_json_kv_addr(j, "end", hi);
    pm_json_kv_addr(j, "offset", offset);
    pm_json_kv_str(j, "path", s);
    pm_json_end_obj(j);
}

/* One pass over the maps file with a writer of JSON entries, which
 * counts what it has written. */
struct maps_pass {
    struct pm_json *j;
    unsigned emitted;
    void (*entry)(struct pm_json *j, const char *line, unsigned *emitted);
};

static void maps_pass_line(void *ctx, const char *line)
{
    struct maps_pass *p = ctx;
    p->entry(p->j, line, &p->emitted);
}

/* Feeds every line of the maps file to entry, from its start. */
static void each_maps_line(int maps_fd, struct pm_json *j, void (*entry)(struct pm_json *, const char *, unsigned *))
{
    if (maps_fd >= 0 && lseek(maps_fd, 0, SEEK_SET) != 0)
        return;
    struct maps_pass p = {j, 0, entry};
    each_line(maps_fd, maps_pass_line, &p);
}

void pm_snap_describe_fds(struct pm_json *j, int maps_fd, int statm_fd, int smaps_fd, uint64_t page_size)
{
    char buf[4096];
    pm_json_key(j, "modules");
    pm_json_begin_arr(j);
    each_maps_line(maps_fd, j, module_line);
    pm_json_end_arr(j);
    pm_json_key(j, "mappings");
    pm_json_begin_arr(j);
    each_maps_line(maps_fd, j, maps_line);
    pm_json_end_arr(j);

    /* statm: size resident shared text lib data dt, in pages */
    ssize_t n = statm_fd >= 0 ? read(statm_fd, buf, sizeof buf - 1) : -1;
    pm_json_key(j, "process");
    pm_json_begin_obj(j);
    if (n > 0) {
        buf[n] = 0;
        const char *s = buf;
        uint64_t size = parse_dec(&s);
        while (*s == ' ')
            s++;
        uint64_t resident = parse_dec(&s);
        pm_json_kv_u64(j, "vm_bytes", size * page_size);
        pm_json_kv_u64(j, "rss_bytes", resident * page_size);
    }
    /* format version 2 */
    struct smaps_sums m = {0, 0, 0, 0, false};
    read_smaps(smaps_fd, &m);
    if (m.seen) {
        pm_json_kv_u64(j, "smaps_rss_bytes", m.total);
        pm_json_kv_u64(j, "file_rss_bytes", m.file);
        pm_json_kv_u64(j, "stack_rss_bytes", m.stack);
    }
    pm_json_end_obj(j);
}
