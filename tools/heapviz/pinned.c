/* Fragmentation by site: pages of a heap that hold only a few live bytes
 * (at most a quarter of the page) and would otherwise be free, so could
 * go back to the system but for those blocks; each sampled block among
 * them is charged with the page, shared with the other blocks on it. */
#include "sites.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* A live block's share of one page. */
struct piece {
    uint64_t page, chunk, bytes;
};

static int by_page(const void *a, const void *b)
{
    const struct piece *x = a, *y = b;
    return x->page < y->page ? -1 : x->page > y->page;
}

struct pin_row {
    char site[256];
    double pages, bytes; /* estimated pages pinned, free bytes they keep */
    uint64_t seen_pages; /* pages with a sampled block of this site */
};

static int pin_by_pages(const void *a, const void *b)
{
    const struct pin_row *x = a, *y = b;
    return x->pages > y->pages ? -1 : x->pages < y->pages;
}

/* The live sample at chunk address c, or NULL. */
static const struct jval *sample_at(const struct jval *live, uint64_t c)
{
    for (size_t i = 0; i < jlen(live); i++)
        if (jget_addr(jat(live, i), "chunk") == c)
            return jat(live, i);
    return NULL;
}

void pinned_view(FILE *out, const struct jval *snap, const struct jval *prof, struct symbolizer *sym)
{
    uint64_t page = jget_u64(snap, "page_size");
    if (page == 0)
        page = 4096;
    struct piece *pc = NULL;
    size_t n = 0, cap = 0;
    const struct jval *arenas = jget(snap, "arenas");
    for (size_t a = 0; a < jlen(arenas); a++) {
        const struct jval *heaps = jget(jat(arenas, a), "heaps");
        for (size_t h = 0; h < jlen(heaps); h++) {
            const struct jval *chunks = jget(jat(heaps, h), "chunks");
            for (size_t c = 0; c < jlen(chunks); c++) {
                const struct jval *ch = jat(chunks, c);
                if (strcmp(jget_str(ch, "state"), "inuse") != 0)
                    continue;
                uint64_t lo = jget_addr(ch, "addr"), hi = lo + jget_u64(ch, "size");
                /* a block's inner pages are full of it: only its first
                 * and last page can be pinned by it */
                uint64_t first = lo / page * page, last = (hi - 1) / page * page;
                for (uint64_t pg = first; pg <= last; pg = pg == first && last > first + page ? last : pg + page) {
                    if (n == cap) {
                        cap = cap ? 2 * cap : 1024;
                        struct piece *g = realloc(pc, cap * sizeof *pc);
                        if (g == NULL) {
                            free(pc);
                            fprintf(out, "out of memory\n");
                            return;
                        }
                        pc = g;
                    }
                    uint64_t s = lo > pg ? lo : pg, e = hi < pg + page ? hi : pg + page;
                    pc[n++] = (struct piece){pg, lo, e - s};
                    if (pg == last)
                        break;
                }
            }
        }
    }
    qsort(pc, n, sizeof *pc, by_page);
    const struct jval *live = jget(prof, "live");
    struct pin_row *rows = NULL;
    size_t nrows = 0;
    uint64_t pinned_pages = 0;
    double unsampled = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        uint64_t bytes = 0;
        while (j < n && pc[j].page == pc[i].page)
            bytes += pc[j++].bytes;
        if (bytes * 4 <= page) {
            pinned_pages++;
            double share = 1.0 / (double)(j - i);
            for (size_t k = i; k < j; k++) {
                const struct jval *l = sample_at(live, pc[k].chunk);
                if (l == NULL) {
                    unsampled += share;
                    continue;
                }
                char name[256];
                const struct jval *stacks = jget(prof, "stacks");
                const struct jval *st = NULL;
                for (size_t s = 0; s < jlen(stacks); s++)
                    if (jget_u64(jat(stacks, s), "id") == jget_u64(l, "stack"))
                        st = jat(stacks, s);
                const struct jval *fr = jget(st, "frames");
                if (jlen(fr))
                    sym_name(sym, jaddr(jat(fr, 0)), 0, name, sizeof name);
                else
                    snprintf(name, sizeof name, "(no stack)");
                size_t r = 0;
                while (r < nrows && strcmp(rows[r].site, name) != 0)
                    r++;
                if (r == nrows) {
                    struct pin_row *g = realloc(rows, (nrows + 1) * sizeof *rows);
                    if (g == NULL)
                        break;
                    rows = g;
                    memset(&rows[nrows], 0, sizeof *rows);
                    snprintf(rows[nrows++].site, sizeof rows->site, "%s", name);
                }
                /* a sample stands for weight / size blocks like it */
                uint64_t size = jget_u64(l, "size");
                double scale = size ? (double)jget_u64(l, "weight") / (double)size : 1.0;
                rows[r].pages += share * scale;
                rows[r].bytes += share * scale * (double)(page - bytes);
                rows[r].seen_pages++;
            }
        }
        i = j;
    }
    if (rows)
        qsort(rows, nrows, sizeof *rows, pin_by_pages);
    fprintf(out, "pages pinned by a few live blocks (at most a quarter of a %" PRIu64 "-byte page live): %" PRIu64
                 "\n",
            page, pinned_pages);
    fprintf(out, "  %12s %14s %10s  %s\n", "est. pages", "est. bytes", "seen", "site");
    for (size_t r = 0; r < nrows; r++)
        fprintf(out, "  %12.1f %14.0f %10" PRIu64 "  %s\n", rows[r].pages, rows[r].bytes, rows[r].seen_pages,
                rows[r].site);
    if (unsampled > 0)
        fprintf(out, "  %12.1f %14s %10s  (blocks not sampled)\n", unsampled, "-", "-");
    free(rows);
    free(pc);
}
