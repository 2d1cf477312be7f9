/* heapviz: shows any pmalloc heap.  See doc/heapviz.1.
 *
 *   heapviz [VIEW] --pid PID | SNAPSHOT.json
 *   heapviz core [VIEW] CORE EXECUTABLE
 *   heapviz run [--every MS] [--out PREFIX] [VIEW] -- PROGRAM ARGS...
 *   heapviz diff [--json | --html FILE] A.json B.json
 *   heapviz frag  --pid PID | SNAPSHOT.json
 *   heapviz check --pid PID | SNAPSHOT.json
 *   heapviz sites [--collapsed | --pinned | --html FILE] [--live] --pid PID | SNAPSHOT.json
 *
 * This program uses the C library's own malloc: it is never linked with
 * libpmalloc, only with the walker's sources. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "snapshot.h"
#include "sites.h"
#include "source.h"
#include "stop.h"
#include "views.h"

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("heapviz: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void usage(FILE *f)
{
    fputs("usage: heapviz [OPTIONS] (--pid PID | SNAPSHOT.json)\n"
          "       heapviz core [OPTIONS] CORE EXECUTABLE\n"
          "       heapviz run [--every MS] [--out PREFIX] [OPTIONS] -- PROGRAM [ARGS...]\n"
          "       heapviz diff [--json | --html FILE] [-o FILE] A.json B.json\n"
          "       heapviz frag (--pid PID | SNAPSHOT.json)\n"
          "       heapviz check (--pid PID | SNAPSHOT.json)\n"
          "       heapviz sites [--collapsed | --pinned | --html FILE] [--live] (--pid PID | SNAPSHOT.json)\n"
          "options: --json  --html FILE  -o FILE  --bins  --chunks  --arena N\n"
          "         --range ADDR:ADDR  --color  --no-color  --max-glyphs N\n"
          "live:    --no-stop (read without stopping it)  --sigstop (stop with SIGSTOP, not ptrace)\n",
          f);
}

static uint64_t parse_u64(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end)
        die("bad %s: '%s'", what, s);
    return v;
}

static const char *const option_names[] = {
    "--pid", "--json", "--html", "-o", "--bins/--chunks/--arena/--range/--color/--max-glyphs",
    "--every", "--out", "--no-stop/--sigstop", "-- PROGRAM", "--collapsed/--pinned/--live",
};

/* Each command's options and file arguments; anything else is refused
 * with one line, rather than silently ignored. */
static void check_args(const struct args *a)
{
    const char *cmd = a->cmd ? a->cmd : "show";
    unsigned allowed;
    int min_files, max_files;
    if (strcmp(cmd, "core") == 0) {
        allowed = O_JSON | O_HTML | O_OUTPUT | O_VIEW;
        min_files = 1, max_files = 2;
    } else if (strcmp(cmd, "run") == 0) {
        allowed = O_JSON | O_HTML | O_OUTPUT | O_VIEW | O_EVERY | O_PREFIX | O_STOP | O_PROGRAM;
        min_files = max_files = 0;
    } else if (strcmp(cmd, "diff") == 0) {
        allowed = O_JSON | O_HTML | O_OUTPUT;
        min_files = max_files = 2;
    } else if (strcmp(cmd, "sites") == 0) {
        allowed = O_PID | O_HTML | O_OUTPUT | O_STOP | O_SITES;
        min_files = 0, max_files = 1;
    } else if (strcmp(cmd, "frag") == 0 || strcmp(cmd, "check") == 0) {
        allowed = O_PID | O_OUTPUT | O_STOP;
        min_files = 0, max_files = 1;
    } else {
        allowed = O_PID | O_JSON | O_HTML | O_OUTPUT | O_VIEW | O_STOP;
        min_files = 0, max_files = 1;
    }
    unsigned wrong = a->given & ~allowed;
    for (unsigned bit = 0; bit < sizeof option_names / sizeof option_names[0]; bit++)
        if (wrong & (1u << bit))
            die("%s does not take %s (see heapviz --help)", cmd, option_names[bit]);
    if (strcmp(cmd, "diff") == 0 && a->nfiles != 2)
        die("diff: name two snapshot files (save a live one with: heapviz --pid PID --json -o FILE)");
    if (strcmp(cmd, "diff") == 0 && a->json && a->html)
        die("diff: --json or --html, not both");
    if (strcmp(cmd, "run") == 0 && a->nfiles > 0)
        die("run: unexpected argument '%s' before -- (run [OPTIONS] -- PROGRAM [ARGS...])", a->files[0]);
    if (strcmp(cmd, "run") == 0 && (a->program == NULL || a->program[0] == NULL))
        die("run: name a program after --");
    if (a->nfiles < min_files)
        die("core: name the core file (and the executable)");
    if (a->nfiles > max_files)
        die("%s: too many arguments ('%s')", cmd, a->files[max_files]);
    if ((allowed & O_PID) && a->pid && a->nfiles > 0)
        die("%s: --pid or a snapshot file, not both", cmd);
    if ((a->given & O_STOP) && !a->pid && strcmp(cmd, "run") != 0)
        die("--no-stop and --sigstop are for a live process (--pid)");
    if (a->live.no_stop && a->live.use_signal)
        die("--no-stop or --sigstop, not both");
    if (a->sites.collapsed + a->sites.pinned + (a->html != NULL) > 1)
        die("sites: --collapsed, --pinned or --html, one of them");
}

static void parse_args(int argc, char **argv, struct args *a)
{
    memset(a, 0, sizeof *a);
    a->view.arena = -1;
    a->view.max_glyphs = 4096;
    int i = 1;
    if (i < argc && (strcmp(argv[i], "core") == 0 || strcmp(argv[i], "run") == 0 || strcmp(argv[i], "diff") == 0 ||
                     strcmp(argv[i], "frag") == 0 || strcmp(argv[i], "check") == 0 || strcmp(argv[i], "show") == 0 ||
                     strcmp(argv[i], "sites") == 0))
        a->cmd = argv[i++];
    for (; i < argc; i++) {
        const char *s = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED() \
    do { \
        if (next == NULL) \
            die("%s needs a value", s); \
        i++; \
    } while (0)
        if (strcmp(s, "--") == 0) {
            a->program = argv + i + 1;
            a->given |= O_PROGRAM;
            break;
        } else if (strcmp(s, "--pid") == 0 || strcmp(s, "-p") == 0) {
            NEED();
            uint64_t v = parse_u64(next, "pid");
            if (v == 0 || v > INT_MAX)
                die("bad pid: '%s'", next);
            a->pid = (pid_t)v;
            a->given |= O_PID;
        } else if (strcmp(s, "--json") == 0) {
            a->json = true;
            a->given |= O_JSON;
        } else if (strcmp(s, "--html") == 0) {
            NEED();
            a->html = next;
            a->given |= O_HTML;
        } else if (strcmp(s, "--out") == 0 && a->cmd && strcmp(a->cmd, "run") == 0) {
            NEED();
            if (*next == 0)
                die("--out wants a file name prefix");
            a->prefix = next;
            a->given |= O_PREFIX;
        } else if (strcmp(s, "-o") == 0 || strcmp(s, "--output") == 0 || strcmp(s, "--out") == 0) {
            NEED();
            a->output = next;
            a->given |= O_OUTPUT;
        } else if (strcmp(s, "--bins") == 0) {
            a->view.bins_only = true;
            a->given |= O_VIEW;
        } else if (strcmp(s, "--chunks") == 0) {
            a->view.chunks_only = true;
            a->given |= O_VIEW;
        } else if (strcmp(s, "--arena") == 0) {
            NEED();
            a->view.arena = (long)parse_u64(next, "arena number");
            a->given |= O_VIEW;
        } else if (strcmp(s, "--range") == 0) {
            NEED();
            char *colon = strchr(next, ':');
            if (colon == NULL)
                die("--range wants ADDR:ADDR");
            *colon = 0;
            a->view.range_lo = parse_u64(next, "range start");
            a->view.range_hi = parse_u64(colon + 1, "range end");
            if (a->view.range_hi <= a->view.range_lo)
                die("--range: the end must be above the start");
            a->given |= O_VIEW;
        } else if (strcmp(s, "--color") == 0 || strcmp(s, "--colour") == 0) {
            a->view.color = a->color_set = true;
            a->given |= O_VIEW;
        } else if (strcmp(s, "--no-color") == 0 || strcmp(s, "--no-colour") == 0) {
            a->view.color = false;
            a->color_set = true;
            a->given |= O_VIEW;
        } else if (strcmp(s, "--max-glyphs") == 0) {
            NEED();
            a->view.max_glyphs = (unsigned)parse_u64(next, "glyph count");
            a->given |= O_VIEW;
        } else if (strcmp(s, "--every") == 0) {
            NEED();
            a->every_ms = (long)parse_u64(next, "interval");
            if (a->every_ms <= 0)
                die("--every wants a positive number of milliseconds");
            a->given |= O_EVERY;
        } else if (strcmp(s, "--collapsed") == 0) {
            a->sites.collapsed = true;
            a->given |= O_SITES;
        } else if (strcmp(s, "--pinned") == 0) {
            a->sites.pinned = true;
            a->given |= O_SITES;
        } else if (strcmp(s, "--live") == 0) {
            a->sites.live = true;
            a->given |= O_SITES;
        } else if (strcmp(s, "--no-stop") == 0) {
            a->live.no_stop = true;
            a->given |= O_STOP;
        } else if (strcmp(s, "--sigstop") == 0) {
            a->live.use_signal = true;
            a->given |= O_STOP;
        } else if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (s[0] == '-' && s[1] != 0) {
            die("unknown option %s (see heapviz --help)", s);
        } else {
            if (a->nfiles == 2)
                die("too many arguments ('%s')", s);
            a->files[a->nfiles++] = s;
        }
#undef NEED
    }
    check_args(a);
}

/* The snapshot text: from a live process, a core dump or a file. */
static char *load_snapshot(struct args *a, int file_index)
{
    char err[512];
    char *text;
    if (a->pid) {
        text = snapshot_pid(a->pid, &a->live, err, sizeof err);
        if (text == NULL)
            die("%s", err);
        return text;
    }
    if (a->nfiles <= file_index)
        die("no snapshot given: name a SNAPSHOT.json file or use --pid PID");
    size_t len;
    const char *name = a->files[file_index];
    text = read_file(name, &len);
    if (text == NULL)
        die("cannot read %s: %s", name, strerror(errno));
    if (len >= 4 && memcmp(text, "\177ELF", 4) == 0)
        die("%s is an ELF file (a core dump?), not a snapshot: read a core with 'heapviz core %s EXECUTABLE'%s", name,
            name, a->cmd && strcmp(a->cmd, "show") != 0 ? " (add --json -o SNAP.json to save one for this command)" : "");
    return text;
}

static struct jval *parse_snapshot(const char *text, const char *name)
{
    char err[256];
    struct jval *v = json_parse(text, strlen(text), err, sizeof err);
    if (v == NULL)
        die("%s: not a valid snapshot: %s", name, err);
    if (strcmp(jget_str(v, "format"), "pmalloc-snapshot") != 0)
        die("%s: not a pmalloc snapshot (no \"format\": \"pmalloc-snapshot\")", name);
    uint64_t version = jget_u64(v, "version");
    if (version < PM_SNAPSHOT_FORMAT_VERSION_MIN || version > PM_SNAPSHOT_FORMAT_VERSION)
        die("%s: snapshot format version %llu; this heapviz reads versions %d to %d", name,
            (unsigned long long)version, PM_SNAPSHOT_FORMAT_VERSION_MIN, PM_SNAPSHOT_FORMAT_VERSION);
    return v;
}

/* Exit statuses besides 0 and 2 (any error): see doc/heapviz.1. */
#define EXIT_CORRUPT 1      /* check: the heap has problems */
#define EXIT_INCONSISTENT 3 /* check: problems, but the heap could not be read consistently */

/* False when the snapshot says it was read from a process that was not
 * held still, or was stopped inside a critical section.  Snapshots
 * without a "capture" member (written in-process, under the locks, or
 * from a core) count as consistent. */
static bool read_consistently(const struct jval *snap)
{
    const struct jval *cap = jget(snap, "capture");
    return cap == NULL || jget_bool(cap, "consistent");
}

static void warn_if_partial(const struct jval *snap, const char *name)
{
    if (jget_bool(snap, "partial")) {
        const struct jval *cap = jget(snap, "capture");
        char tries[96] = "";
        if (cap)
            snprintf(tries, sizeof tries, " after %llu attempt%s%s", (unsigned long long)jget_u64(cap, "attempts"),
                     jget_u64(cap, "attempts") == 1 ? "" : "s",
                     jget_bool(cap, "consistent") ? "" : " (not read consistently)");
        fprintf(stderr, "heapviz: warning: %s is partial%s: %s; the figures leave out what could not be read\n",
                name, tries, jget_str(snap, "partial_reason"));
    } else if (!read_consistently(snap) && jlen(jget(snap, "problems")) > 0) {
        fprintf(stderr, "heapviz: warning: %s was not read consistently (the process ran or held a lock)\n", name);
    }
}

FILE *open_output(const char *path)
{
    if (path == NULL || strcmp(path, "-") == 0)
        return stdout;
    FILE *f = fopen(path, "w");
    if (f == NULL)
        die("cannot write %s: %s", path, strerror(errno));
    return f;
}

void close_output(FILE *f, const char *path)
{
    if (fflush(f) != 0 || ferror(f) || (f != stdout && fclose(f) != 0))
        die("writing %s failed: %s", path ? path : "standard output", strerror(errno));
}

/* Renders one snapshot (and an optional timeline) in the chosen view. */
int show(const struct args *a, const char *text, const char *name, const char *const *timeline, size_t nt)
{
    struct jval *snap = parse_snapshot(text, name);
    if (a->json) {
        FILE *f = open_output(a->output);
        fputs(text, f);
        close_output(f, a->output);
    }
    if (a->html) {
        FILE *f = open_output(a->html);
        view_html(f, snap, text, timeline, nt, a->prefix);
        close_output(f, a->html);
    }
    if (!a->json && !a->html) {
        struct view_opts vo = a->view;
        FILE *f = open_output(a->output);
        if (!a->color_set)
            vo.color = f == stdout && isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
        view_text(f, snap, &vo);
        close_output(f, a->output);
    }
    json_free(snap);
    return 0;
}

int main(int argc, char **argv)
{
    struct args a;
    parse_args(argc, argv, &a);
    signal(SIGPIPE, SIG_IGN);
    stop_install_handlers();
    if (a.cmd && strcmp(a.cmd, "run") == 0)
        return run(&a);
    if (a.cmd && strcmp(a.cmd, "core") == 0) {
        char err[512];
        char *text = snapshot_core(a.files[0], a.nfiles > 1 ? a.files[1] : NULL, err, sizeof err);
        if (text == NULL)
            die("%s", err);
        int rc = show(&a, text, a.files[0], NULL, 0);
        free(text);
        return rc;
    }
    if (a.cmd && strcmp(a.cmd, "diff") == 0) {
        char *ta = load_snapshot(&a, 0), *tb = load_snapshot(&a, 1);
        struct jval *sa = parse_snapshot(ta, a.files[0]), *sb = parse_snapshot(tb, a.files[1]);
        const char *path = a.html ? a.html : a.output;
        FILE *f = open_output(path);
        if (a.json)
            view_diff_json(f, sa, sb);
        else if (a.html)
            view_diff_html(f, sa, sb, a.files[0], a.files[1]);
        else
            view_diff(f, sa, sb);
        close_output(f, path);
        json_free(sa);
        json_free(sb);
        free(ta);
        free(tb);
        return 0;
    }
    char *text = load_snapshot(&a, 0);
    const char *name = a.pid ? "live snapshot" : a.files[0];
    int rc = 0;
    if (a.cmd && strcmp(a.cmd, "sites") == 0) {
        struct jval *snap = parse_snapshot(text, name);
        warn_if_partial(snap, name);
        const char *path = a.html ? a.html : a.output;
        char err[256];
        struct sites_opts so = a.sites;
        so.html = a.html != NULL;
        FILE *f = open_output(path);
        if (view_sites(f, snap, &so, err, sizeof err) != 0)
            die("%s: %s", name, err);
        close_output(f, path);
        json_free(snap);
    } else if (a.cmd && (strcmp(a.cmd, "frag") == 0 || strcmp(a.cmd, "check") == 0)) {
        struct jval *snap = parse_snapshot(text, name);
        warn_if_partial(snap, name);
        FILE *f = open_output(a.output);
        if (strcmp(a.cmd, "frag") == 0)
            view_frag(f, snap);
        else if (view_check(f, snap) > 0)
            /* problems in a heap read while it changed may be the reading's,
             * not the heap's: they get a status of their own */
            rc = read_consistently(snap) ? EXIT_CORRUPT : EXIT_INCONSISTENT;
        close_output(f, a.output);
        json_free(snap);
    } else {
        rc = show(&a, text, name, NULL, 0);
    }
    free(text);
    return rc;
}
