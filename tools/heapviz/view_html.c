/* The HTML view: one self-contained page (no network, no external
 * assets).  The page template (page.html: styles and the drawing script)
 * is built into the program; the snapshot and the timeline are embedded
 * in it as JSON data blocks, and the script draws everything. */
#include "views.h"

#include "sites.h"

#include <string.h>

/* page.html, linked in as bytes (NUL-terminated) */
#ifndef HEAPVIZ_PAGE
#error "HEAPVIZ_PAGE must name tools/heapviz/page.html"
#endif
__asm__(".section .rodata\n"
        ".global heapviz_page\n"
        ".type heapviz_page, @object\n"
        "heapviz_page:\n"
        ".incbin \"" HEAPVIZ_PAGE "\"\n"
        ".byte 0\n"
        ".previous\n");
extern const char heapviz_page[];

/* JSON inside <script> must not contain "</": a string holding it gets
 * the equivalent "<\/". */
static void put_json(FILE *out, const char *text)
{
    for (const char *s = text; *s; s++) {
        if (s[0] == '<' && (s[1] == '/' || s[1] == '!')) {
            fputs("<\\", out);
            continue;
        }
        fputc(*s, out);
    }
}

/* The chart needs of each timeline snapshot its time and totals; the
 * page opens a point by its full snapshot, embedded on its own up to a
 * budget so a long run does not make a page no browser can load. */
#define TIMELINE_EMBED_BUDGET ((size_t)64 << 20)

static void put_numbers(FILE *out, const char *name, const struct jval *obj)
{
    fprintf(out, ",\"%s\":{", name);
    int first = 1;
    for (size_t i = 0; obj && obj->t == J_OBJ && i < obj->n; i++)
        if (obj->items[i].t == J_NUM) {
            fprintf(out, "%s\"%s\":%.17g", first ? "" : ",", obj->keys[i], obj->items[i].num);
            first = 0;
        }
    fputc('}', out);
}

static void put_timeline_point(FILE *out, const char *text, size_t i, bool embedded, const char *prefix)
{
    char err[128];
    struct jval *v = json_parse(text, strlen(text), err, sizeof err);
    if (v == NULL) {
        fputs("null", out);
        return;
    }
    fprintf(out, "{\"time_ms\":%llu", (unsigned long long)jget_u64(v, "time_ms"));
    put_numbers(out, "frag", jget(v, "frag"));
    put_numbers(out, "process", jget(v, "process"));
    put_numbers(out, "resident", jget(v, "resident"));
    fprintf(out, ",\"embedded\":%s", embedded ? "true" : "false");
    if (prefix) {
        fputs(",\"saved_as\":\"", out);
        for (const char *c = prefix; *c; c++)
            if (*c == '"' || *c == '\\' || *c == '<')
                fprintf(out, "\\u%04x", (unsigned char)*c);
            else if ((unsigned char)*c >= 0x20)
                fputc(*c, out);
        fprintf(out, "-%zu.json\"", i + 1);
    }
    fputc('}', out);
    json_free(v);
}

int view_html(FILE *out, const struct jval *snap, const char *snap_text, const char *const *timeline,
              size_t ntimeline, const char *saved_prefix)
{
    const char *marker = strstr(heapviz_page, "<!--DATA-->");
    if (marker == NULL)
        return -1;
    fwrite(heapviz_page, 1, (size_t)(marker - heapviz_page), out);
    fputs("<script type=\"application/json\" id=\"snapshot\">", out);
    put_json(out, snap_text);
    fputs("</script>\n<script type=\"application/json\" id=\"timeline\">[", out);
    size_t budget = TIMELINE_EMBED_BUDGET, embedded = 0;
    for (size_t i = 0; i < ntimeline; i++) {
        size_t len = strlen(timeline[i]);
        bool embed = len <= budget;
        if (embed) {
            budget -= len;
            embedded++;
        } else {
            budget = 0; /* later points are not embedded either: no gaps */
        }
        if (i)
            fputc(',', out);
        put_timeline_point(out, timeline[i], i, embed, saved_prefix);
    }
    fputs("]</script>\n", out);
    for (size_t i = 0; i < embedded; i++) {
        fprintf(out, "<script type=\"application/json\" id=\"timeline-%zu\">", i);
        put_json(out, timeline[i]);
        fputs("</script>\n", out);
    }
    /* the profile's flame graphs, drawn here by the one builder heapviz
     * sites --html uses; the page shows them when they are there */
    flame_templates(out, snap);
    fputs(marker + strlen("<!--DATA-->"), out);
    return 0;
}
