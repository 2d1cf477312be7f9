/* The terminal view: a summary per arena, the bins in list order, a map
 * of each heap (one glyph per chunk, coloured on a terminal) and, with
 * --chunks, every chunk.  Chunk positions are printed relative to their
 * heap ("h0+0x40"), so the text of one program's heap reads the same from
 * run to run whatever the address-space layout. */
#include "views.h"

#include <inttypes.h>
#include <string.h>

void human_size(uint64_t b, char *out, size_t len)
{
    if (b < 10240)
        snprintf(out, len, "%" PRIu64 " B", b);
    else if (b < 10 * 1048576ull)
        snprintf(out, len, "%.1f KiB", (double)b / 1024);
    else if (b < 10 * 1073741824ull)
        snprintf(out, len, "%.1f MiB", (double)b / 1048576);
    else
        snprintf(out, len, "%.1f GiB", (double)b / 1073741824);
}

void addr_label(const struct jval *snap, uint64_t addr, char *out, size_t len)
{
    const struct jval *arenas = jget(snap, "arenas");
    for (size_t a = 0; a < jlen(arenas); a++) {
        const struct jval *heaps = jget(jat(arenas, a), "heaps");
        for (size_t h = 0; h < jlen(heaps); h++) {
            uint64_t lo = jget_addr(jat(heaps, h), "address"), hi = jget_addr(jat(heaps, h), "end");
            if (addr >= lo && addr < hi) {
                snprintf(out, len, "h%zu+0x%" PRIx64, h, addr - lo);
                return;
            }
        }
    }
    snprintf(out, len, "0x%" PRIx64, addr);
}

struct glyph {
    const char *state;
    char c;
    const char *color;
};

static const struct glyph glyphs[] = {
    {"inuse", '#', "\033[32m"},     {"fast", 'f', "\033[36m"},   {"small", 's', "\033[34m"},
    {"large", 'L', "\033[35m"},     {"unsorted", 'u', "\033[33m"}, {"tcache", 't', "\033[96m"},
    {"remote", 'r', "\033[91m"},    {"top", 'T', "\033[90m"},    {"fencepost", '|', "\033[37m"},
    {"free-unlisted", '?', "\033[41m"}, {"mmapped", 'M', "\033[95m"}, {"store", 'S', "\033[94m"},
};

static const struct glyph *glyph_of(const char *state)
{
    for (size_t i = 0; i < sizeof glyphs / sizeof glyphs[0]; i++)
        if (strcmp(glyphs[i].state, state) == 0)
            return &glyphs[i];
    return &glyphs[9];
}

static bool in_range(const struct view_opts *o, uint64_t lo, uint64_t size)
{
    return o->range_hi == 0 || (lo < o->range_hi && lo + size > o->range_lo);
}

static void print_map(FILE *out, const struct jval *chunks, const struct view_opts *o)
{
    size_t shown = 0, width = 0;
    fputs("    map: ", out);
    for (size_t i = 0; i < jlen(chunks); i++) {
        const struct jval *c = jat(chunks, i);
        if (!in_range(o, jget_addr(c, "addr"), jget_u64(c, "size")))
            continue;
        if (shown == o->max_glyphs) {
            fprintf(out, " ... (%zu more)", jlen(chunks) - i);
            break;
        }
        if (width == 64) {
            fputs("\n         ", out);
            width = 0;
        }
        const struct glyph *g = glyph_of(jget_str(c, "state"));
        if (o->color)
            fprintf(out, "%s%c\033[0m", g->color, g->c);
        else
            fputc(g->c, out);
        shown++;
        width++;
    }
    fputc('\n', out);
}

static void print_chunks(FILE *out, const struct jval *chunks, size_t heap_nr, const struct view_opts *o)
{
    for (size_t i = 0; i < jlen(chunks); i++) {
        const struct jval *c = jat(chunks, i);
        uint64_t addr = jget_addr(c, "addr"), size = jget_u64(c, "size");
        if (!in_range(o, addr, size))
            continue;
        const char *st = jget_str(c, "state");
        fprintf(out, "    h%zu+0x%-8" PRIx64 " %10" PRIu64 "  %c %s", heap_nr, jget_u64(c, "off"), size,
                jget_u64(c, "flags") & 1 ? 'P' : '-', st);
        if (jget(c, "bin"))
            fprintf(out, " bin %" PRIu64, jget_u64(c, "bin"));
        if (jget(c, "tid"))
            fprintf(out, " tid %" PRIu64, jget_u64(c, "tid"));
        fputc('\n', out);
    }
}

static void print_bins(FILE *out, const struct jval *snap, const struct jval *arena)
{
    const struct jval *bins = jget(arena, "bins");
    char label[64];
    fprintf(out, "  bins:%s\n", jlen(bins) ? "" : " all empty");
    for (size_t i = 0; i < jlen(bins); i++) {
        const struct jval *b = jat(bins, i);
        const struct jval *chunks = jget(b, "chunks");
        fprintf(out, "    %-8s %3" PRIu64 ": %" PRIu64 " chunk%s, %" PRIu64 " B:", jget_str(b, "kind"),
                jget_u64(b, "index"), jget_u64(b, "count"), jget_u64(b, "count") == 1 ? "" : "s",
                jget_u64(b, "bytes"));
        for (size_t k = 0; k < jlen(chunks) && k < 16; k++) {
            addr_label(snap, jaddr(jat(chunks, k)), label, sizeof label);
            fprintf(out, " %s", label);
        }
        if (jlen(chunks) > 16)
            fprintf(out, " ...");
        fputc('\n', out);
    }
    const struct jval *remote = jget(arena, "remote_frees");
    if (jlen(remote)) {
        fprintf(out, "    remote frees: %zu chunk%s:", jlen(remote), jlen(remote) == 1 ? "" : "s");
        for (size_t k = 0; k < jlen(remote) && k < 16; k++) {
            addr_label(snap, jaddr(jat(remote, k)), label, sizeof label);
            fprintf(out, " %s", label);
        }
        fputc('\n', out);
    }
}

static void print_arena(FILE *out, const struct jval *snap, const struct jval *a, const struct view_opts *o)
{
    const struct jval *f = jget(a, "frag"), *heaps = jget(a, "heaps");
    char sys[32], used[32], fr[32], top[32], big[32], tc[32];
    human_size(jget_u64(a, "system_mem"), sys, sizeof sys);
    human_size(jget_u64(f, "inuse_bytes"), used, sizeof used);
    human_size(jget_u64(f, "free_bytes"), fr, sizeof fr);
    human_size(jget_u64(f, "top_bytes"), top, sizeof top);
    human_size(jget_u64(f, "largest_free"), big, sizeof big);
    human_size(jget_u64(f, "tcache_bytes"), tc, sizeof tc);
    fprintf(out, "arena %" PRIu64 "%s: %zu heap%s, %" PRIu64 " thread%s, system %s\n", jget_u64(a, "nr"),
            jget_bool(a, "main") ? " (main)" : "", jlen(heaps), jlen(heaps) == 1 ? "" : "s",
            jget_u64(a, "attached_threads"), jget_u64(a, "attached_threads") == 1 ? "" : "s", sys);
    fprintf(out, "  in use %s in %" PRIu64 " chunks; free %s in %" PRIu64 " chunks (largest %s, external "
                 "fragmentation %.1f%%); top %s; thread caches %s\n",
            used, jget_u64(f, "inuse_count"), fr, jget_u64(f, "free_count"), big,
            100 * jget_num(f, "external_fragmentation"), top, tc);
    if (!o->chunks_only)
        print_bins(out, snap, a);
    if (o->bins_only)
        return;
    /* oldest heap first: address order within the arena's history */
    for (size_t k = jlen(heaps); k-- > 0;) {
        const struct jval *h = jat(heaps, k), *chunks = jget(h, "chunks");
        uint64_t lo = jget_addr(h, "address"), size = jget_u64(h, "size");
        if (!in_range(o, lo, size))
            continue;
        char s1[32], s2[32], s3[32];
        human_size(size, s1, sizeof s1);
        human_size(jget_u64(h, "mprotect_size"), s2, sizeof s2);
        human_size(jget_u64(h, "reserved"), s3, sizeof s3);
        fprintf(out, "  heap h%zu %s at 0x%" PRIx64 ": %s used of %s committed, %s reserved; %zu chunks", k,
                jget_str(h, "kind"), lo, s1, s2, s3, jlen(chunks));
        if (jget(h, "resident_bytes")) {
            human_size(jget_u64(h, "resident_bytes"), s1, sizeof s1);
            fprintf(out, "; resident %s", s1);
        }
        fputc('\n', out);
        if (o->chunks_only)
            print_chunks(out, chunks, k, o);
        else
            print_map(out, chunks, o);
    }
}

void view_text(FILE *out, const struct jval *snap, const struct view_opts *o)
{
    const struct jval *lv = jget(snap, "library_version"), *opts = jget(snap, "options");
    fprintf(out, "pmalloc %" PRIu64 ".%" PRIu64 ".%" PRIu64 " heap, snapshot format %" PRIu64 ", source %s",
            ju64(jat(lv, 0)), ju64(jat(lv, 1)), ju64(jat(lv, 2)), jget_u64(snap, "version"),
            jget_str(snap, "source"));
    if (jget_u64(snap, "pid"))
        fprintf(out, " (pid %" PRIu64 ")", jget_u64(snap, "pid"));
    fputc('\n', out);
    if (jget_bool(snap, "partial"))
        fprintf(out, "PARTIAL SNAPSHOT: %s\n", jget_str(snap, "partial_reason"));
    if (!o->bins_only && !o->chunks_only && o->arena < 0) {
        fputs("options:", out);
        for (size_t i = 0; opts && i < opts->n; i++)
            fprintf(out, " %s=%" PRId64, opts->keys[i], (int64_t)opts->items[i].num);
        fputc('\n', out);
    }
    const struct jval *arenas = jget(snap, "arenas");
    for (size_t i = 0; i < jlen(arenas); i++)
        if (o->arena < 0 || (uint64_t)o->arena == jget_u64(jat(arenas, i), "nr"))
            print_arena(out, snap, jat(arenas, i), o);

    const struct jval *tcs = jget(snap, "tcaches");
    if (o->arena < 0 && !o->chunks_only && jlen(tcs)) {
        fprintf(out, "thread caches: %zu\n", jlen(tcs));
        for (size_t i = 0; i < jlen(tcs); i++) {
            const struct jval *t = jat(tcs, i), *bins = jget(t, "bins");
            fprintf(out, "  tid %" PRIu64 ": %" PRIu64 " chunks, %" PRIu64 " B:", jget_u64(t, "tid"),
                    jget_u64(t, "count"), jget_u64(t, "bytes"));
            for (size_t b = 0; b < jlen(bins); b++)
                fprintf(out, " %" PRIu64 "x%" PRIu64, jget_u64(jat(bins, b), "count"), jget_u64(jat(bins, b), "size"));
            fputc('\n', out);
        }
    }
    const struct jval *mm = jget(snap, "mmapped");
    if (o->arena < 0 && !o->bins_only && jlen(mm)) {
        uint64_t bytes = 0;
        for (size_t i = 0; i < jlen(mm); i++)
            bytes += jget_u64(jat(mm, i), "map_len");
        char s[32];
        human_size(bytes, s, sizeof s);
        fprintf(out, "mmapped chunks: %zu, %s mapped\n", jlen(mm), s);
        for (size_t i = 0; o->chunks_only && i < jlen(mm); i++) {
            const struct jval *c = jat(mm, i);
            if (in_range(o, jget_addr(c, "addr"), jget_u64(c, "size")))
                fprintf(out, "    0x%" PRIx64 " %10" PRIu64 "  mmapped (mapping %" PRIu64 " B)\n", jget_addr(c, "addr"),
                        jget_u64(c, "size"), jget_u64(c, "map_len"));
        }
    }
    const struct jval *probs = jget(snap, "problems");
    if (jlen(probs)) {
        fprintf(out, "problems: %zu\n", jlen(probs));
        for (size_t i = 0; i < jlen(probs); i++) {
            char label[64];
            addr_label(snap, jget_addr(jat(probs, i), "addr"), label, sizeof label);
            fprintf(out, "  %s at %s\n", jget_str(jat(probs, i), "what"), label);
        }
    }
    if (!o->bins_only && !o->chunks_only && o->arena < 0) {
        fputs("legend: # in use, f fast, S class store, s small, L large, u unsorted, t thread cache, "
              "r remote free, T top, | fencepost, ? free but in no bin\n", out);
    }
}
