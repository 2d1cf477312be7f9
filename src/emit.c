/* The one emitter behind every report (see emit.h).  The JSON layer
 * tracks commas per nesting level, so callers only say what comes next;
 * the format layer on top maps groups and values to JSON objects and
 * members, XML elements and attributes, or text sections and aligned
 * "label = value" lines. */
#include "emit.h"

#include <string.h>

void pm_json_init(struct pm_json *j, int (*flush)(void *, const char *, size_t), void *ctx)
{
    j->len = 0;
    j->flush = flush;
    j->ctx = ctx;
    j->failed = 0;
    j->depth = 0;
    j->need_comma[0] = false;
    j->is_array[0] = false;
    j->after_key = false;
}

static void drain(struct pm_json *j)
{
    if (j->len > 0 && !j->failed && j->flush(j->ctx, j->buf, j->len) != 0)
        j->failed = 1;
    j->len = 0;
}

static void put(struct pm_json *j, const char *s, size_t n)
{
    while (n > 0) {
        if (j->len == sizeof j->buf)
            drain(j);
        size_t room = sizeof j->buf - j->len;
        size_t take = n < room ? n : room;
        memcpy(j->buf + j->len, s, take);
        j->len += take;
        s += take;
        n -= take;
    }
}

static void putc1(struct pm_json *j, char c) { put(j, &c, 1); }

void pm_json_raw(struct pm_json *j, const char *s, size_t n) { put(j, s, n); }

int pm_json_finish(struct pm_json *j)
{
    putc1(j, '\n');
    drain(j);
    return j->failed ? -1 : 0;
}

/* Called before every value and key: the comma, if one is due. */
static void separate(struct pm_json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->need_comma[j->depth])
        putc1(j, ',');
    j->need_comma[j->depth] = true;
}

static void open_level(struct pm_json *j, char c)
{
    separate(j);
    /* each object of an array on its own line: a snapshot reads and
     * diffs line by line (one chunk per line) */
    if (c == '{' && j->is_array[j->depth])
        putc1(j, '\n');
    putc1(j, c);
    if (j->depth + 1 < PM_JSON_DEPTH)
        j->depth++;
    j->need_comma[j->depth] = false;
    j->is_array[j->depth] = c == '[';
}

static void close_level(struct pm_json *j, char c)
{
    if (j->depth > 0)
        j->depth--;
    putc1(j, c);
}

void pm_json_begin_obj(struct pm_json *j) { open_level(j, '{'); }
void pm_json_end_obj(struct pm_json *j) { close_level(j, '}'); }
void pm_json_begin_arr(struct pm_json *j) { open_level(j, '['); }
void pm_json_end_arr(struct pm_json *j) { close_level(j, ']'); }

static void put_string(struct pm_json *j, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    putc1(j, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            putc1(j, '\\');
            putc1(j, (char)c);
        } else if (c < 0x20 || c == 0x7f) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(j, esc, sizeof esc);
        } else {
            putc1(j, (char)c);
        }
    }
    putc1(j, '"');
}

void pm_json_key(struct pm_json *j, const char *key)
{
    separate(j);
    put_string(j, key);
    putc1(j, ':');
    j->after_key = true;
}

void pm_json_str(struct pm_json *j, const char *s)
{
    separate(j);
    put_string(j, s);
}

static void put_u64(struct pm_json *j, uint64_t v)
{
    char d[24];
    unsigned n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        putc1(j, d[--n]);
}

void pm_json_u64(struct pm_json *j, uint64_t v)
{
    separate(j);
    put_u64(j, v);
}

void pm_json_i64(struct pm_json *j, int64_t v)
{
    separate(j);
    if (v < 0) {
        putc1(j, '-');
        put_u64(j, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(j, (uint64_t)v);
    }
}

void pm_json_addr(struct pm_json *j, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    char d[16];
    unsigned n = 0;
    separate(j);
    do {
        d[n++] = hex[v & 15];
        v >>= 4;
    } while (v);
    put(j, "\"0x", 3);
    while (n)
        putc1(j, d[--n]);
    putc1(j, '"');
}

void pm_json_null(struct pm_json *j)
{
    separate(j);
    put(j, "null", 4);
}

/* num/den times `scale`, with 4 decimals, rounded without floating
 * point (no FPU state is touched inside the allocator). */
static void put_fixed4(struct pm_json *j, uint64_t num, uint64_t den, unsigned scale)
{
    if (den == 0) {
        putc1(j, '0');
        return;
    }
    unsigned __int128 scaled = ((unsigned __int128)num * scale * 10000 + den / 2) / den;
    uint64_t whole = (uint64_t)(scaled / 10000), frac = (uint64_t)(scaled % 10000);
    put_u64(j, whole);
    putc1(j, '.');
    char d[4];
    for (int i = 3; i >= 0; i--) {
        d[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    put(j, d, 4);
}

void pm_json_ratio(struct pm_json *j, uint64_t num, uint64_t den)
{
    separate(j);
    put_fixed4(j, num, den, 1);
}

void pm_json_kv_u64(struct pm_json *j, const char *key, uint64_t v)
{
    pm_json_key(j, key);
    pm_json_u64(j, v);
}

void pm_json_kv_addr(struct pm_json *j, const char *key, uint64_t v)
{
    pm_json_key(j, key);
    pm_json_addr(j, v);
}

void pm_json_kv_str(struct pm_json *j, const char *key, const char *s)
{
    pm_json_key(j, key);
    pm_json_str(j, s);
}

void pm_json_kv_bool(struct pm_json *j, const char *key, bool v)
{
    pm_json_key(j, key);
    separate(j);
    if (v)
        put(j, "true", 4);
    else
        put(j, "false", 5);
}

/* ---- the format layer ---- */

void pm_emit_init(struct pm_emit *e, enum pm_emit_format format, int (*flush)(void *, const char *, size_t),
                  void *ctx)
{
    memset(e, 0, sizeof *e);
    pm_json_init(&e->j, flush, ctx);
    e->format = format;
    e->label_width = 17; /* glibc's malloc_stats: "system bytes     = " */
}

int pm_emit_finish(struct pm_emit *e)
{
    if (e->format == PM_EMIT_JSON)
        return pm_json_finish(&e->j);
    drain(&e->j);
    return e->j.failed ? -1 : 0;
}

static void spaces(struct pm_json *j, unsigned n)
{
    while (n-- > 0)
        putc1(j, ' ');
}

static unsigned text_indent(const struct pm_emit *e)
{
    return e->titled > 0 ? e->indent * (e->titled - 1) : 0;
}

/* XML: a child is coming, so the start tag can take no more attributes. */
static void xml_close_tag(struct pm_emit *e)
{
    if (e->tag_open) {
        put(&e->j, ">\n", 2);
        e->tag_open = false;
    }
}

static void xml_text(struct pm_json *j, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': put(j, "&amp;", 5); break;
        case '<': put(j, "&lt;", 4); break;
        case '>': put(j, "&gt;", 4); break;
        case '"': put(j, "&quot;", 6); break;
        default: putc1(j, *s); break;
        }
    }
}

static void open_group(struct pm_emit *e, const char *key, const char *title, bool list)
{
    unsigned d = e->depth < PM_JSON_DEPTH - 1 ? e->depth : PM_JSON_DEPTH - 1;
    e->titled_at[d] = false;
    e->name_at[d] = key;
    e->list_at[d] = list;
    switch (e->format) {
    case PM_EMIT_JSON:
        if (key != NULL && !e->j.is_array[e->j.depth] && e->depth > 0)
            pm_json_key(&e->j, key);
        if (list)
            pm_json_begin_arr(&e->j);
        else
            pm_json_begin_obj(&e->j);
        break;
    case PM_EMIT_XML:
        xml_close_tag(e);
        putc1(&e->j, '<');
        put(&e->j, key, strlen(key));
        e->tag_open = true;
        if (list)
            xml_close_tag(e);
        break;
    case PM_EMIT_TEXT:
        if (title != NULL) {
            spaces(&e->j, text_indent(e));
            put(&e->j, title, strlen(title));
            putc1(&e->j, '\n');
            e->titled_at[d] = true;
            e->titled++;
        }
        break;
    }
    e->depth++;
}

static void close_group(struct pm_emit *e, bool list)
{
    if (e->depth == 0)
        return;
    e->depth--;
    unsigned d = e->depth < PM_JSON_DEPTH - 1 ? e->depth : PM_JSON_DEPTH - 1;
    switch (e->format) {
    case PM_EMIT_JSON:
        if (list)
            pm_json_end_arr(&e->j);
        else
            pm_json_end_obj(&e->j);
        break;
    case PM_EMIT_XML:
        if (e->tag_open) {
            put(&e->j, "/>\n", 3);
            e->tag_open = false;
        } else {
            put(&e->j, "</", 2);
            put(&e->j, e->name_at[d], strlen(e->name_at[d]));
            put(&e->j, ">\n", 2);
        }
        break;
    case PM_EMIT_TEXT:
        if (e->titled_at[d])
            e->titled--;
        break;
    }
}

void pm_emit_begin(struct pm_emit *e, const char *key, const char *title) { open_group(e, key, title, false); }
void pm_emit_end(struct pm_emit *e) { close_group(e, false); }
void pm_emit_begin_list(struct pm_emit *e, const char *key) { open_group(e, key, NULL, true); }
void pm_emit_end_list(struct pm_emit *e) { close_group(e, true); }

/* Text: the label, padded, then "= ". */
static void text_label(struct pm_emit *e, const char *label)
{
    spaces(&e->j, text_indent(e));
    size_t n = strlen(label);
    put(&e->j, label, n);
    spaces(&e->j, n < e->label_width ? (unsigned)(e->label_width - n) : 1);
    put(&e->j, "= ", 2);
}

/* XML: ` key="` */
static void xml_attr_start(struct pm_emit *e, const char *key)
{
    putc1(&e->j, ' ');
    put(&e->j, key, strlen(key));
    put(&e->j, "=\"", 2);
}

void pm_emit_u64(struct pm_emit *e, const char *key, const char *label, uint64_t v)
{
    switch (e->format) {
    case PM_EMIT_JSON:
        pm_json_kv_u64(&e->j, key, v);
        break;
    case PM_EMIT_XML:
        xml_attr_start(e, key);
        put_u64(&e->j, v);
        putc1(&e->j, '"');
        break;
    case PM_EMIT_TEXT: {
        if (label == NULL)
            break;
        text_label(e, label);
        /* right-aligned in 10 columns, as glibc's %10u */
        char d[24];
        unsigned n = 0;
        uint64_t x = v;
        do {
            d[n++] = (char)('0' + x % 10);
            x /= 10;
        } while (x);
        spaces(&e->j, n < 10 ? 10 - n : 0);
        while (n)
            putc1(&e->j, d[--n]);
        putc1(&e->j, '\n');
        break;
    }
    }
}

void pm_emit_str(struct pm_emit *e, const char *key, const char *label, const char *s)
{
    switch (e->format) {
    case PM_EMIT_JSON:
        pm_json_kv_str(&e->j, key, s);
        break;
    case PM_EMIT_XML:
        xml_attr_start(e, key);
        xml_text(&e->j, s);
        putc1(&e->j, '"');
        break;
    case PM_EMIT_TEXT:
        if (label == NULL)
            break;
        text_label(e, label);
        put(&e->j, s, strlen(s));
        putc1(&e->j, '\n');
        break;
    }
}
