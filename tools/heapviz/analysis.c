/* The analyses over a snapshot: frag (why RSS exceeds the live bytes) and
 * check (every broken link or size, without stopping at the first);
 * diff.c compares two. */
#include "views.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- frag ---- */

static void row(FILE *out, const char *what, uint64_t bytes)
{
    char s[32];
    human_size(bytes, s, sizeof s);
    fprintf(out, "  %-44s %14" PRIu64 "  %s\n", what, bytes, s);
}

void view_frag(FILE *out, const struct jval *snap)
{
    const struct jval *t = jget(snap, "frag"), *proc = jget(snap, "process"), *tot = jget(snap, "totals");

    fprintf(out, "where the memory goes (all arenas)\n");
    if (jget(proc, "rss_bytes"))
        row(out, "process resident set (RSS)", jget_u64(proc, "rss_bytes"));
    row(out, "heap pages resident", jget_u64(t, "resident_bytes"));
    row(out, "arena memory (system bytes)", jget_u64(t, "system_bytes"));
    row(out, "mmapped chunk mappings", jget_u64(t, "mmapped_bytes"));
    /* in use as everywhere (doc/heapviz.md); mapped chunks apart */
    row(out, "in use (chunks the program holds)", jget_u64(t, "inuse_bytes"));
    row(out, "mapped chunks the program holds", jget_u64(tot, "mmapped_chunk_bytes"));
    row(out, "free chunks in bins and fast bins", jget_u64(t, "free_bytes"));
    row(out, "  of which fast bins", jget_u64(t, "fast_bytes"));
    if (jget(t, "store_bytes") != NULL)
        row(out, "  of which class stores", jget_u64(t, "store_bytes"));
    row(out, "top slack (free space at the heap ends)", jget_u64(t, "top_bytes"));
    row(out, "parked in thread caches", jget_u64(t, "tcache_bytes"));
    row(out, "freed by other threads, not yet drained", jget_u64(t, "remote_bytes"));
    row(out, "mmapped overhead (headers, page rounding)", jget_u64(tot, "mmapped_overhead"));
    row(out, "largest free chunk", jget_u64(t, "largest_free"));
    fprintf(out, "  %-44s %13.1f%%\n", "external fragmentation (1 - largest/free)",
            100 * jget_num(t, "external_fragmentation"));

    const struct jval *arenas = jget(snap, "arenas");
    for (size_t i = 0; i < jlen(arenas); i++) {
        const struct jval *a = jat(arenas, i), *f = jget(a, "frag"), *cls = jget(f, "free_by_class");
        fprintf(out, "arena %" PRIu64 "%s: in use %" PRIu64 ", free %" PRIu64 " in %" PRIu64
                     " chunks, largest %" PRIu64 ", top %" PRIu64 ", tcache %" PRIu64 "\n",
                jget_u64(a, "nr"), jget_bool(a, "main") ? " (main)" : "", jget_u64(f, "inuse_bytes"),
                jget_u64(f, "free_bytes"), jget_u64(f, "free_count"), jget_u64(f, "largest_free"),
                jget_u64(f, "top_bytes"), jget_u64(f, "tcache_bytes"));
        if (jlen(cls))
            fprintf(out, "  free bytes by size class:\n");
        for (size_t c = 0; c < jlen(cls); c++) {
            const struct jval *k = jat(cls, c);
            fprintf(out, "    %8" PRIu64 " .. %-9" PRIu64 " %6" PRIu64 " chunks %12" PRIu64 " B\n",
                    jget_u64(k, "from"), jget_u64(k, "to"), jget_u64(k, "count"), jget_u64(k, "bytes"));
        }
    }
}

/* ---- check ---- */

struct checker {
    FILE *out;
    const struct jval *snap;
    size_t problems;
};

static void report(struct checker *c, const char *what, uint64_t addr)
{
    char label[64];
    addr_label(c->snap, addr, label, sizeof label);
    fprintf(c->out, "problem: %s at %s (0x%" PRIx64 ")\n", what, label, addr);
    c->problems++;
}

static bool is_free_state(const char *s)
{
    return strcmp(s, "small") == 0 || strcmp(s, "large") == 0 || strcmp(s, "unsorted") == 0 ||
           strcmp(s, "free-unlisted") == 0;
}

static const struct jval *chunk_by_addr(const struct jval *arena, uint64_t addr)
{
    const struct jval *heaps = jget(arena, "heaps");
    for (size_t h = 0; h < jlen(heaps); h++) {
        const struct jval *ch = jget(jat(heaps, h), "chunks");
        size_t lo = 0, hi = jlen(ch);
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            uint64_t a = jget_addr(jat(ch, mid), "addr");
            if (a == addr)
                return jat(ch, mid);
            if (a < addr)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    return NULL;
}

static void check_heap(struct checker *c, const struct jval *h)
{
    const struct jval *ch = jget(h, "chunks");
    uint64_t end = jget_addr(h, "end");
    for (size_t i = 0; i < jlen(ch); i++) {
        const struct jval *k = jat(ch, i), *next = jat(ch, i + 1);
        uint64_t addr = jget_addr(k, "addr"), size = jget_u64(k, "size");
        const char *st = jget_str(k, "state");
        if (i == 0 && !(jget_u64(k, "flags") & 1))
            report(c, "first chunk of a heap lacks PREV_INUSE", addr);
        if (size < 16 || size % 16 != 0 || addr + size > end)
            report(c, "impossible chunk size", addr);
        if (next == NULL) {
            if (strcmp(st, "top") != 0 && strcmp(st, "fencepost") != 0)
                report(c, "heap does not end with top or a fencepost (walk stopped early)", addr);
            continue;
        }
        if (jget_addr(next, "addr") != addr + size)
            report(c, "next chunk does not start where this one ends", addr);
        bool free_now = is_free_state(st);
        if (((jget_u64(next, "flags") & 1) != 0) == free_now)
            report(c, "PREV_INUSE of the next chunk disagrees with this chunk's state", addr);
        if (free_now && is_free_state(jget_str(next, "state")))
            report(c, "two free chunks side by side", addr);
        if (strcmp(st, "free-unlisted") == 0)
            report(c, "free chunk is in no bin", addr);
    }
}

static void check_bins(struct checker *c, const struct jval *a)
{
    const struct jval *bins = jget(a, "bins");
    for (size_t b = 0; b < jlen(bins); b++) {
        const struct jval *bin = jat(bins, b), *list = jget(bin, "chunks");
        const char *kind = jget_str(bin, "kind");
        uint64_t idx = jget_u64(bin, "index"), prev_size = UINT64_MAX;
        for (size_t i = 0; i < jlen(list); i++) {
            uint64_t addr = jaddr(jat(list, i));
            const struct jval *k = chunk_by_addr(a, addr);
            if (k == NULL) {
                report(c, "bin holds an address that is no chunk of the arena", addr);
                continue;
            }
            uint64_t size = jget_u64(k, "size");
            if (strcmp(jget_str(k, "state"), kind) != 0)
                report(c, "chunk on a bin list has another state", addr);
            if (strcmp(kind, "fast") == 0 && size != 32 + 16 * idx)
                report(c, "chunk filed in the wrong fast bin", addr);
            if (strcmp(kind, "small") == 0 && size / 16 != idx)
                report(c, "chunk filed in the wrong small bin", addr);
            if (strcmp(kind, "large") == 0) {
                if (size > prev_size)
                    report(c, "large bin not sorted by decreasing size", addr);
                prev_size = size;
            }
        }
        if (jget_u64(bin, "count") != jlen(list))
            report(c, "bin count disagrees with its list", jget_addr(a, "address"));
    }
}

size_t view_check(FILE *out, const struct jval *snap)
{
    struct checker c = {out, snap, 0};
    const struct jval *probs = jget(snap, "problems");
    for (size_t i = 0; i < jlen(probs); i++)
        report(&c, jget_str(jat(probs, i), "what"), jget_addr(jat(probs, i), "addr"));
    if (jget_bool(snap, "partial"))
        fprintf(out, "snapshot is partial: %s\n", jget_str(snap, "partial_reason"));
    const struct jval *arenas = jget(snap, "arenas");
    for (size_t i = 0; i < jlen(arenas); i++) {
        const struct jval *a = jat(arenas, i), *heaps = jget(a, "heaps");
        uint64_t mem = 0;
        for (size_t h = 0; h < jlen(heaps); h++) {
            mem += jget_u64(jat(heaps, h), "size");
            check_heap(&c, jat(heaps, h));
        }
        if (mem != jget_u64(a, "system_mem"))
            report(&c, "arena's system_mem disagrees with its heaps", jget_addr(a, "address"));
        check_bins(&c, a);
    }
    const struct jval *g = jget(snap, "global");
    if (jlen(jget(snap, "mmapped")) != jget_u64(g, "n_mmaps"))
        report(&c, "mmapped chunk count disagrees with the list", 0);
    fprintf(out, "%zu problem%s found\n", c.problems, c.problems == 1 ? "" : "s");
    return c.problems;
}
