/* The HTML view: one self-contained page (no network, no external
 * assets).  The page template (page.html: styles and the drawing script)
 * is built into the program; the snapshot and the timeline are embedded
 * in it as JSON data blocks, and the script draws everything. */
#include "views.h"

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

/* Of each timeline snapshot only what the chart needs: time and totals. */
static void put_timeline_point(FILE *out, const char *text)
{
    char err[128];
    struct jval *v = json_parse(text, strlen(text), err, sizeof err);
    if (v == NULL)
        return;
    const struct jval *f = jget(v, "frag");
    fprintf(out, "{\"time_ms\":%llu,\"frag\":{", (unsigned long long)jget_u64(v, "time_ms"));
    for (size_t i = 0; f && i < f->n; i++)
        if (f->items[i].t == J_NUM)
            fprintf(out, "%s\"%s\":%.17g", i ? "," : "", f->keys[i], f->items[i].num);
    fputs("}}", out);
    json_free(v);
}

int view_html(FILE *out, const struct jval *snap, const char *snap_text, const char *const *timeline,
              size_t ntimeline)
{
    (void)snap;
    const char *marker = strstr(heapviz_page, "<!--DATA-->");
    if (marker == NULL)
        return -1;
    fwrite(heapviz_page, 1, (size_t)(marker - heapviz_page), out);
    fputs("<script type=\"application/json\" id=\"snapshot\">", out);
    put_json(out, snap_text);
    fputs("</script>\n<script type=\"application/json\" id=\"timeline\">[", out);
    for (size_t i = 0; i < ntimeline; i++) {
        if (i)
            fputc(',', out);
        put_timeline_point(out, timeline[i]);
    }
    fputs("]</script>\n", out);
    fputs(marker + strlen("<!--DATA-->"), out);
    return 0;
}
