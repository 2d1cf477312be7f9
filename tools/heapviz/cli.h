/* What the parts of the heapviz command share: the parsed command line,
 * output files, the views, and the run command (run.c). */
#ifndef HEAPVIZ_CLI_H
#define HEAPVIZ_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "source.h"
#include "sites.h"
#include "views.h"

/* Options, as bits: each command accepts its own set. */
enum {
    O_PID = 1 << 0, O_JSON = 1 << 1, O_HTML = 1 << 2, O_OUTPUT = 1 << 3, O_VIEW = 1 << 4, /* bins chunks arena range colour glyphs */
    O_EVERY = 1 << 5, O_PREFIX = 1 << 6, O_STOP = 1 << 7, /* --no-stop --sigstop */
    O_PROGRAM = 1 << 8, O_SITES = 1 << 9, /* --collapsed --pinned --live */
};

struct args {
    const char *cmd;            /* NULL: show */
    unsigned given;             /* O_* */
    pid_t pid;
    const char *files[2];
    int nfiles;
    bool json;
    const char *html;
    const char *output;
    struct view_opts view;
    bool color_set;
    long every_ms;
    const char *prefix;         /* run --out */
    struct live_read live;
    char **program;
    struct sites_opts sites;
};

/* One "heapviz: ..." line on stderr, exit status 2. */
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* stdout for NULL or "-"; dies with one line on failure. */
FILE *open_output(const char *path);
void close_output(FILE *f, const char *path);
/* Renders one snapshot (and an optional timeline) in the chosen view. */
int show(const struct args *a, const char *text, const char *name, const char *const *timeline, size_t nt);
/* heapviz run: returns the exit status. */
int run(struct args *a);

#endif
