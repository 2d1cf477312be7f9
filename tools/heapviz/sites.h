/* heapviz sites: the allocation profile's views (view_sites.c), the pages
 * live blocks pin (pinned.c) and the flame graph page (flame.c). */
#ifndef HEAPVIZ_SITES_H
#define HEAPVIZ_SITES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "json.h"
#include "symbols.h"

struct sites_opts {
    bool collapsed; /* --collapsed: one line per stack for flame-graph tools */
    bool live;      /* --live: rank and weigh by live bytes, not allocated */
    bool pinned;    /* --pinned: pages pinned by a few live blocks, by site */
    bool html;      /* --html FILE: a flame graph page */
};

struct stack_row {
    uint64_t id;
    const struct jval *frames;
    uint64_t alloc_bytes, alloc_count, live_bytes, live_count, samples;
    char site[256];
};

/* 0, or -1 with a one-line reason (no profile in the snapshot). */
int view_sites(FILE *out, const struct jval *snap, const struct sites_opts *o, char *err, size_t errlen);
void pinned_view(FILE *out, const struct jval *snap, const struct jval *prof, struct symbolizer *sym);
void flame_page(FILE *out, const struct stack_row *rows, size_t nrows, struct symbolizer *sym, bool live);
/* The flame graph alone: an <svg> element with this id. */
void flame_svg(FILE *out, const struct stack_row *rows, size_t nrows, struct symbolizer *sym, bool live,
               const char *id);
/* For the HTML view: the flame graphs of live and of allocated bytes, each
 * an <svg> in a <template> (flame-live, flame-alloc); nothing, and -1,
 * when the snapshot holds no profile samples. */
int flame_templates(FILE *out, const struct jval *snap);

#endif
