/* heapviz sites: the allocation profile of a snapshot (PMALLOC_PROF) by
 * site and by stack, as text, as collapsed stacks for flame-graph tools,
 * as a flame graph page (or for the HTML view), and the pages that live
 * blocks pin. */
#include "sites.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "symbols.h"

#define NAME_LEN 256

struct profile {
    const struct jval *prof;
    struct stack_row *rows;
    size_t nrows;
    struct symbolizer *sym;
};

static struct stack_row *row_of(struct profile *p, uint64_t id)
{
    for (size_t i = 0; i < p->nrows; i++)
        if (p->rows[i].id == id)
            return &p->rows[i];
    return NULL;
}

/* Reads the profile member; -1 (with a message) when there is none. */
static int load_profile(const struct jval *snap, struct profile *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->prof = jget(snap, "profile");
    if (p->prof == NULL || jget_u64(p->prof, "period") == 0) {
        snprintf(err, errlen, "the snapshot holds no allocation profile (run the program with PMALLOC_PROF=1)");
        return -1;
    }
    const struct jval *stacks = jget(p->prof, "stacks"), *live = jget(p->prof, "live");
    p->rows = calloc(jlen(stacks) ? jlen(stacks) : 1, sizeof *p->rows);
    if (p->rows == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->sym = sym_open(snap);
    for (size_t i = 0; i < jlen(stacks); i++) {
        const struct jval *s = jat(stacks, i);
        struct stack_row *r = &p->rows[p->nrows++];
        r->id = jget_u64(s, "id");
        r->frames = jget(s, "frames");
        r->alloc_bytes = jget_u64(s, "alloc_bytes");
        r->alloc_count = jget_u64(s, "alloc_count");
        r->samples = jget_u64(s, "samples");
        if (jlen(r->frames))
            sym_name(p->sym, jaddr(jat(r->frames, 0)), 0, r->site, sizeof r->site);
        else
            snprintf(r->site, sizeof r->site, "(no stack)");
    }
    for (size_t i = 0; i < jlen(live); i++) {
        const struct jval *l = jat(live, i);
        struct stack_row *r = row_of(p, jget_u64(l, "stack"));
        uint64_t size = jget_u64(l, "size"), weight = jget_u64(l, "weight");
        if (r == NULL)
            continue;
        r->live_bytes += weight;
        r->live_count += size ? (weight + size / 2) / size : 1;
    }
    return 0;
}

static void free_profile(struct profile *p)
{
    sym_close(p->sym);
    free(p->rows);
}

static int live_first;
static uint64_t key_of(const struct stack_row *r) { return live_first ? r->live_bytes : r->alloc_bytes; }
static int by_key(const void *a, const void *b)
{
    uint64_t x = key_of(a), y = key_of(b);
    return x > y ? -1 : x < y;
}

/* A site: the function that called the allocator; its stacks summed. */
struct site_row {
    const char *name;
    uint64_t alloc_bytes, alloc_count, live_bytes, live_count;
};

static int site_by_key(const void *a, const void *b)
{
    const struct site_row *x = a, *y = b;
    uint64_t kx = live_first ? x->live_bytes : x->alloc_bytes, ky = live_first ? y->live_bytes : y->alloc_bytes;
    return kx > ky ? -1 : kx < ky;
}

static void text_view(FILE *out, struct profile *p)
{
    struct site_row *sites = calloc(p->nrows ? p->nrows : 1, sizeof *sites);
    size_t nsites = 0;
    for (size_t i = 0; sites && i < p->nrows; i++) {
        struct stack_row *r = &p->rows[i];
        size_t k = 0;
        while (k < nsites && strcmp(sites[k].name, r->site) != 0)
            k++;
        if (k == nsites)
            sites[nsites++].name = r->site;
        sites[k].alloc_bytes += r->alloc_bytes;
        sites[k].alloc_count += r->alloc_count;
        sites[k].live_bytes += r->live_bytes;
        sites[k].live_count += r->live_count;
    }
    if (sites)
        qsort(sites, nsites, sizeof *sites, site_by_key);
    fprintf(out, "allocation sites, estimated from samples (one in about %" PRIu64 " bytes; %" PRIu64
                 " samples lost to full tables), by %s bytes\n",
            jget_u64(p->prof, "period"), jget_u64(p->prof, "dropped"), live_first ? "live" : "allocated");
    fprintf(out, "  %14s %10s %16s %12s  %s\n", "live bytes", "live", "allocated bytes", "allocations", "site");
    for (size_t k = 0; sites && k < nsites; k++)
        fprintf(out, "  %14" PRIu64 " %10" PRIu64 " %16" PRIu64 " %12" PRIu64 "  %s\n", sites[k].live_bytes,
                sites[k].live_count, sites[k].alloc_bytes, sites[k].alloc_count, sites[k].name);
    free(sites);
    fprintf(out, "stacks\n");
    for (size_t i = 0; i < p->nrows; i++) {
        struct stack_row *r = &p->rows[i];
        fprintf(out, "  #%zu: live %" PRIu64 " bytes in %" PRIu64 " blocks, allocated %" PRIu64 " bytes in %" PRIu64
                     " (%" PRIu64 " samples)\n",
                i + 1, r->live_bytes, r->live_count, r->alloc_bytes, r->alloc_count, r->samples);
        for (size_t f = 0; f < jlen(r->frames); f++) {
            char name[NAME_LEN];
            sym_name(p->sym, jaddr(jat(r->frames, f)), 1, name, sizeof name);
            fprintf(out, "      %s\n", name);
        }
    }
}

/* One line per stack, outermost frame first: "main;f;g BYTES". */
static void collapsed_view(FILE *out, struct profile *p)
{
    for (size_t i = 0; i < p->nrows; i++) {
        struct stack_row *r = &p->rows[i];
        if (key_of(r) == 0)
            continue;
        for (size_t f = jlen(r->frames); f-- > 0;) {
            char name[NAME_LEN];
            sym_name(p->sym, jaddr(jat(r->frames, f)), 0, name, sizeof name);
            for (char *c = name; *c; c++)
                if (*c == ';' || *c == ' ')
                    *c = '_';
            fprintf(out, "%s%s", name, f ? ";" : "");
        }
        fprintf(out, " %" PRIu64 "\n", key_of(r));
    }
}

int view_sites(FILE *out, const struct jval *snap, const struct sites_opts *o, char *err, size_t errlen)
{
    struct profile p;
    if (load_profile(snap, &p, err, errlen) != 0)
        return -1;
    live_first = o->live;
    qsort(p.rows, p.nrows, sizeof *p.rows, by_key);
    if (o->collapsed)
        collapsed_view(out, &p);
    else if (o->pinned)
        pinned_view(out, snap, p.prof, p.sym);
    else if (o->html)
        flame_page(out, p.rows, p.nrows, p.sym, o->live);
    else
        text_view(out, &p);
    free_profile(&p);
    return 0;
}

int flame_templates(FILE *out, const struct jval *snap)
{
    struct profile p;
    char err[160];
    if (load_profile(snap, &p, err, sizeof err) != 0)
        return -1;
    if (p.nrows == 0) {
        free_profile(&p);
        return -1;
    }
    fputs("<template id=\"flame-live\">", out);
    flame_svg(out, p.rows, p.nrows, p.sym, true, "flame-live-svg");
    fputs("</template>\n<template id=\"flame-alloc\">", out);
    flame_svg(out, p.rows, p.nrows, p.sym, false, "flame-alloc-svg");
    fputs("</template>\n", out);
    free_profile(&p);
    return 0;
}
