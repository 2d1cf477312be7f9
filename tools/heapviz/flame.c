/* The flame graph of the profile, an inline SVG (no script): the
 * outermost frames at the bottom, each box as wide as the bytes of the
 * stacks through it, its name and figure in a tooltip.  heapviz sites
 * --html writes it as a page of its own; the HTML view embeds it. */
#include "sites.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define WIDTH 1200.0
#define ROW 18
#define MAX_DEPTH 64

struct node {
    char name[256];
    uint64_t bytes;
    struct node *kids, *next;
};

static struct node *child(struct node *n, const char *name)
{
    for (struct node *k = n->kids; k; k = k->next)
        if (strcmp(k->name, name) == 0)
            return k;
    struct node *k = calloc(1, sizeof *k);
    if (k == NULL)
        return NULL;
    snprintf(k->name, sizeof k->name, "%s", name);
    k->next = n->kids;
    n->kids = k;
    return k;
}

static void html_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", out);
        else if (*s == '>')
            fputs("&gt;", out);
        else if (*s == '&')
            fputs("&amp;", out);
        else if (*s == '"')
            fputs("&quot;", out);
        else
            fputc(*s, out);
    }
}

static void draw(FILE *out, const struct node *n, double x, int depth, double scale, int height)
{
    for (const struct node *k = n->kids; k; k = k->next) {
        double w = (double)k->bytes * scale;
        if (w >= 0.5) {
            int y = height - (depth + 1) * ROW;
            fprintf(out, "<g class=\"frame\" data-bytes=\"%" PRIu64 "\"><title>", k->bytes);
            html_text(out, k->name);
            fprintf(out, " (%" PRIu64 " bytes)</title><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
                         "fill=\"hsl(%d,70%%,60%%)\"/>",
                    k->bytes, x, y, w, ROW - 1, 20 + (int)(strlen(k->name) * 7 % 40));
            if (w > 40) {
                fprintf(out, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" clip-path=\"none\">", x + 3, y + 13);
                char cut[64];
                snprintf(cut, sizeof cut, "%.*s", (int)(w / 7 < 63 ? w / 7 : 63), k->name);
                html_text(out, cut);
                fputs("</text>", out);
            }
            fputs("</g>\n", out);
            if (depth + 1 < MAX_DEPTH)
                draw(out, k, x, depth + 1, scale, height);
        }
        x += w;
    }
}

static void drop(struct node *n)
{
    for (struct node *k = n->kids, *next; k; k = next) {
        next = k->next;
        drop(k);
        free(k);
    }
}

void flame_svg(FILE *out, const struct stack_row *rows, size_t nrows, struct symbolizer *sym, bool live,
               const char *id)
{
    struct node root = {.name = "all"};
    int depth = 1;
    for (size_t i = 0; i < nrows; i++) {
        uint64_t v = live ? rows[i].live_bytes : rows[i].alloc_bytes;
        struct node *n = &root;
        n->bytes += v;
        size_t nf = jlen(rows[i].frames);
        if ((int)nf + 1 > depth)
            depth = (int)nf + 1;
        for (size_t f = nf; f-- > 0 && n;) {
            char name[256];
            sym_name(sym, jaddr(jat(rows[i].frames, f)), 0, name, sizeof name);
            n = child(n, name);
            if (n)
                n->bytes += v;
        }
    }
    if (depth > MAX_DEPTH)
        depth = MAX_DEPTH;
    int height = (depth + 1) * ROW;
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%d\" id=\"%s\" "
            "data-bytes=\"%" PRIu64 "\">\n",
            WIDTH, height, id, root.bytes);
    struct node top = {.kids = &root};
    draw(out, &top, 0, -1, root.bytes ? WIDTH / (double)root.bytes : 0, height - ROW);
    fputs("</svg>\n", out);
    drop(&root);
}

void flame_page(FILE *out, const struct stack_row *rows, size_t nrows, struct symbolizer *sym, bool live)
{
    fprintf(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>heapviz: %s bytes by stack</title>"
                 "</head><body style=\"font-family:sans-serif\">\n<h1>%s bytes by call stack</h1>\n"
                 "<p>Estimated from the samples of PMALLOC_PROF; the callers at the bottom.</p>\n",
            live ? "live" : "allocated", live ? "Live" : "Allocated");
    flame_svg(out, rows, nrows, sym, live, "flame");
    fputs("</body></html>\n", out);
}
