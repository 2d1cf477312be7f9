/* The renderers: each reads a parsed snapshot (json.h) and writes a view. */
#ifndef HEAPVIZ_VIEWS_H
#define HEAPVIZ_VIEWS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "json.h"

struct view_opts {
    long arena;          /* -1: every arena */
    bool bins_only, chunks_only;
    bool color;
    uint64_t range_lo, range_hi; /* hi == 0: no range */
    unsigned max_glyphs;         /* chunk map length per heap */
};

/* A heap-relative name for an address: "h1+0x40" (heap 1 of its arena),
 * "mmap+0x10" or the absolute address. */
void addr_label(const struct jval *snap, uint64_t addr, char *out, size_t len);
/* "12.3 KiB" style sizes for summaries. */
void human_size(uint64_t bytes, char *out, size_t len);

void view_text(FILE *out, const struct jval *snap, const struct view_opts *o);
/* timeline: snapshots taken over time (NULL when there is one snapshot);
 * saved_prefix: where run --out saved them (PREFIX-1.json ...), or NULL */
int view_html(FILE *out, const struct jval *snap, const char *snap_text, const char *const *timeline_texts,
              size_t ntimeline, const char *saved_prefix);
void view_frag(FILE *out, const struct jval *snap);
/* Returns the number of problems found. */
size_t view_check(FILE *out, const struct jval *snap);
/* diff.c: the text, a JSON object ("format": "pmalloc-diff") and a
 * self-contained HTML page of the differences */
void view_diff(FILE *out, const struct jval *a, const struct jval *b);
void view_diff_json(FILE *out, const struct jval *a, const struct jval *b);
void view_diff_html(FILE *out, const struct jval *a, const struct jval *b, const char *name_a, const char *name_b);

#endif
