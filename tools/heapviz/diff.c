/* diff: what grew or shrank between two snapshots and which chunks
 * appeared, went, or changed size or state.  The comparison is made once
 * (struct diff) and drawn three ways: text, a JSON object, an HTML page. */
#include "views.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* the text view lists this many chunk changes, the page this many */
#define TEXT_ROWS 200
#define HTML_ROWS 5000

struct item {
    uint64_t addr, size;
    const char *state;
};

enum change_kind { WENT = '-', APPEARED = '+', CHANGED = '~' };

struct change {
    char kind;
    uint64_t addr;
    const struct item *a, *b; /* NULL on the side it is missing from */
};

struct diff {
    const struct jval *sa, *sb;
    struct item *ia, *ib;
    struct change *ch;
    size_t nch, appeared, went, changed, same;
};

static const char *const total_keys[] = {"system_bytes", "inuse_bytes", "inuse_count", "free_bytes",
                                         "free_count", "top_bytes", "tcache_bytes", "mmapped_bytes",
                                         "largest_free", "resident_bytes"};
#define NTOTALS (sizeof total_keys / sizeof total_keys[0])

static int item_cmp(const void *x, const void *y)
{
    const struct item *a = x, *b = y;
    return a->addr < b->addr ? -1 : a->addr > b->addr;
}

/* Every chunk of a snapshot (heaps and mmapped), by address. */
static struct item *collect(const struct jval *snap, size_t *n)
{
    size_t cap = 1024;
    struct item *v = malloc(cap * sizeof *v);
    *n = 0;
    const struct jval *arenas = jget(snap, "arenas");
    for (size_t a = 0; a <= jlen(arenas) && v; a++) {
        const struct jval *heaps = jget(jat(arenas, a), "heaps");
        /* the last round takes the mmapped chunks */
        size_t nh = a < jlen(arenas) ? jlen(heaps) : 1;
        for (size_t h = 0; h < nh && v; h++) {
            const struct jval *ch = a < jlen(arenas) ? jget(jat(heaps, h), "chunks") : jget(snap, "mmapped");
            for (size_t i = 0; i < jlen(ch); i++) {
                if (*n == cap) {
                    struct item *nv = realloc(v, 2 * cap * sizeof *v);
                    if (nv == NULL) {
                        free(v);
                        return NULL;
                    }
                    v = nv;
                    cap *= 2;
                }
                v[*n].addr = jget_addr(jat(ch, i), "addr");
                v[*n].size = jget_u64(jat(ch, i), "size");
                v[*n].state = jget_str(jat(ch, i), "state");
                (*n)++;
            }
        }
    }
    if (v)
        qsort(v, *n, sizeof *v, item_cmp);
    return v;
}

static void diff_free(struct diff *d)
{
    free(d->ia);
    free(d->ib);
    free(d->ch);
}

/* Merges the two address-ordered chunk lists; 0, or -1 out of memory. */
static int diff_make(struct diff *d, const struct jval *sa, const struct jval *sb)
{
    memset(d, 0, sizeof *d);
    d->sa = sa;
    d->sb = sb;
    size_t na, nb;
    d->ia = collect(sa, &na);
    d->ib = collect(sb, &nb);
    d->ch = malloc((na + nb + 1) * sizeof *d->ch);
    if (d->ia == NULL || d->ib == NULL || d->ch == NULL) {
        diff_free(d);
        return -1;
    }
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        struct change *c = &d->ch[d->nch];
        if (j == nb || (i < na && d->ia[i].addr < d->ib[j].addr)) {
            *c = (struct change){WENT, d->ia[i].addr, &d->ia[i], NULL};
            d->went++, d->nch++, i++;
        } else if (i == na || d->ib[j].addr < d->ia[i].addr) {
            *c = (struct change){APPEARED, d->ib[j].addr, NULL, &d->ib[j]};
            d->appeared++, d->nch++, j++;
        } else {
            if (d->ia[i].size != d->ib[j].size || strcmp(d->ia[i].state, d->ib[j].state) != 0) {
                *c = (struct change){CHANGED, d->ib[j].addr, &d->ia[i], &d->ib[j]};
                d->changed++, d->nch++;
            } else {
                d->same++;
            }
            i++, j++;
        }
    }
    return 0;
}

static uint64_t total(const struct jval *snap, size_t k)
{
    return k < NTOTALS ? jget_u64(jget(snap, "frag"), total_keys[k]) : jlen(jget(snap, "arenas"));
}

static const char *total_name(size_t k) { return k < NTOTALS ? total_keys[k] : "arenas"; }

/* ---- text ---- */

void view_diff(FILE *out, const struct jval *sa, const struct jval *sb)
{
    struct diff d;
    if (diff_make(&d, sa, sb) != 0) {
        fprintf(out, "out of memory\n");
        return;
    }
    fprintf(out, "totals (B, change from the first snapshot):\n");
    for (size_t k = 0; k <= NTOTALS; k++) {
        uint64_t a = total(sa, k), b = total(sb, k);
        if (a == b)
            fprintf(out, "  %-28s %14" PRIu64 "  (unchanged)\n", total_name(k), b);
        else
            fprintf(out, "  %-28s %14" PRIu64 "  %s%" PRIu64 "\n", total_name(k), b, b > a ? "grew +" : "shrank -",
                    b > a ? b - a : a - b);
    }
    fprintf(out, "chunks:\n");
    for (size_t i = 0; i < d.nch && i < TEXT_ROWS; i++) {
        const struct change *c = &d.ch[i];
        char label[64];
        addr_label(c->b ? sb : sa, c->addr, label, sizeof label);
        if (c->kind == CHANGED)
            fprintf(out, "  ~ %-18s %10" PRIu64 " %s -> %" PRIu64 " %s\n", label, c->a->size, c->a->state,
                    c->b->size, c->b->state);
        else {
            const struct item *it = c->a ? c->a : c->b;
            fprintf(out, "  %c %-18s %10" PRIu64 " %s\n", c->kind, label, it->size, it->state);
        }
    }
    if (d.nch > TEXT_ROWS)
        fprintf(out, "  ... %zu more lines\n", d.nch - TEXT_ROWS);
    fprintf(out, "%zu chunk%s appeared, %zu went, %zu changed size or state, %zu unchanged\n", d.appeared,
            d.appeared == 1 ? "" : "s", d.went, d.changed, d.same);
    diff_free(&d);
}

/* ---- JSON ---- */

/* Strings of a snapshot are plain ASCII names, but a file may hold
 * anything: escape what JSON requires. */
static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void json_side(FILE *out, const struct jval *snap)
{
    fprintf(out, "{\"source\":");
    json_string(out, jget_str(snap, "source"));
    fprintf(out, ",\"pid\":%" PRIu64 ",\"time_ms\":%" PRIu64 "}", jget_u64(snap, "pid"), jget_u64(snap, "time_ms"));
}

static void json_item(FILE *out, const char *key, const struct item *it)
{
    fprintf(out, ",\"%s\":{\"size\":%" PRIu64 ",\"state\":", key, it->size);
    json_string(out, it->state);
    fputc('}', out);
}

void view_diff_json(FILE *out, const struct jval *sa, const struct jval *sb)
{
    struct diff d;
    if (diff_make(&d, sa, sb) != 0) {
        fprintf(out, "{\"format\":\"pmalloc-diff\",\"version\":1,\"error\":\"out of memory\"}\n");
        return;
    }
    fprintf(out, "{\"format\":\"pmalloc-diff\",\"version\":1,\"a\":");
    json_side(out, sa);
    fprintf(out, ",\"b\":");
    json_side(out, sb);
    fprintf(out, ",\"totals\":{");
    for (size_t k = 0; k <= NTOTALS; k++) {
        uint64_t a = total(sa, k), b = total(sb, k);
        fprintf(out, "%s\"%s\":{\"a\":%" PRIu64 ",\"b\":%" PRIu64 ",\"change\":%s%" PRIu64 "}", k ? "," : "",
                total_name(k), a, b, b < a ? "-" : "", b < a ? a - b : b - a);
    }
    fprintf(out, "},\"counts\":{\"appeared\":%zu,\"went\":%zu,\"changed\":%zu,\"unchanged\":%zu},\"chunks\":[",
            d.appeared, d.went, d.changed, d.same);
    for (size_t i = 0; i < d.nch; i++) {
        const struct change *c = &d.ch[i];
        char label[64];
        addr_label(c->b ? sb : sa, c->addr, label, sizeof label);
        fprintf(out, "%s\n{\"change\":\"%s\",\"addr\":\"0x%" PRIx64 "\",\"where\":", i ? "," : "",
                c->kind == WENT ? "went" : c->kind == APPEARED ? "appeared" : "changed", c->addr);
        json_string(out, label);
        if (c->a)
            json_item(out, "a", c->a);
        if (c->b)
            json_item(out, "b", c->b);
        fputc('}', out);
    }
    fprintf(out, "]}\n");
    diff_free(&d);
}

/* ---- HTML ---- */

static void html_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        default: fputc(*s, out);
        }
    }
}

void view_diff_html(FILE *out, const struct jval *sa, const struct jval *sb, const char *name_a,
                    const char *name_b)
{
    struct diff d;
    int ok = diff_make(&d, sa, sb);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>heapviz diff</title>\n"
          "<style>body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}"
          "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{padding:2px 10px;text-align:right;"
          "border-bottom:1px solid #ddd}th{background:#f3f3f3}td.l,th.l{text-align:left}"
          ".grew{color:#b00}.shrank{color:#070}.went{background:#eef7ee}.appeared{background:#fbeeee}"
          ".changed{background:#f7f4e6}code{font:13px ui-monospace,monospace}</style></head><body>\n",
          out);
    fputs("<h1>heapviz diff</h1>\n<p>from <code>", out);
    html_text(out, name_a);
    fputs("</code> to <code>", out);
    html_text(out, name_b);
    fputs("</code></p>\n", out);
    if (ok != 0) {
        fputs("<p>out of memory</p></body></html>\n", out);
        return;
    }
    fputs("<h2>Totals</h2>\n<table id=\"totals\"><tr><th class=\"l\">figure</th><th>first</th><th>second</th>"
          "<th>change</th></tr>\n",
          out);
    for (size_t k = 0; k <= NTOTALS; k++) {
        uint64_t a = total(sa, k), b = total(sb, k);
        fprintf(out, "<tr><td class=\"l\">%s</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td>", total_name(k), a, b);
        if (a == b)
            fputs("<td>=</td></tr>\n", out);
        else
            fprintf(out, "<td class=\"%s\">%s%" PRIu64 "</td></tr>\n", b > a ? "grew" : "shrank", b > a ? "+" : "-",
                    b > a ? b - a : a - b);
    }
    fprintf(out, "</table>\n<h2>Chunks</h2>\n<p id=\"counts\">%zu appeared, %zu went, %zu changed size or state, "
                 "%zu unchanged</p>\n",
            d.appeared, d.went, d.changed, d.same);
    fputs("<table id=\"chunks\"><tr><th class=\"l\">change</th><th class=\"l\">where</th><th>size before</th>"
          "<th class=\"l\">state before</th><th>size after</th><th class=\"l\">state after</th></tr>\n",
          out);
    for (size_t i = 0; i < d.nch && i < HTML_ROWS; i++) {
        const struct change *c = &d.ch[i];
        const char *kind = c->kind == WENT ? "went" : c->kind == APPEARED ? "appeared" : "changed";
        char label[64];
        addr_label(c->b ? sb : sa, c->addr, label, sizeof label);
        fprintf(out, "<tr class=\"%s\"><td class=\"l\">%s</td><td class=\"l\"><code>", kind, kind);
        html_text(out, label);
        fputs("</code></td>", out);
        if (c->a) {
            fprintf(out, "<td>%" PRIu64 "</td><td class=\"l\">", c->a->size);
            html_text(out, c->a->state);
            fputs("</td>", out);
        } else {
            fputs("<td></td><td></td>", out);
        }
        if (c->b) {
            fprintf(out, "<td>%" PRIu64 "</td><td class=\"l\">", c->b->size);
            html_text(out, c->b->state);
            fputs("</td>", out);
        } else {
            fputs("<td></td><td></td>", out);
        }
        fputs("</tr>\n", out);
    }
    fputs("</table>\n", out);
    if (d.nch > HTML_ROWS)
        fprintf(out, "<p>... and %zu more changes (heapviz diff --json lists them all)</p>\n", d.nch - HTML_ROWS);
    fputs("</body></html>\n", out);
    diff_free(&d);
}
