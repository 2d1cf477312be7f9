/* A JSON writer that never allocates: output goes into a fixed buffer
 * that is drained through a callback (write(2) in the library, a growing
 * string in heapviz).  It tracks commas per nesting level, so callers
 * only say what comes next. */
#include "snapshot.h"

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

void pm_json_bool(struct pm_json *j, bool v)
{
    separate(j);
    if (v)
        put(j, "true", 4);
    else
        put(j, "false", 5);
}

void pm_json_null(struct pm_json *j)
{
    separate(j);
    put(j, "null", 4);
}

void pm_json_ratio(struct pm_json *j, uint64_t num, uint64_t den)
{
    separate(j);
    if (den == 0) {
        putc1(j, '0');
        return;
    }
    /* rounded to 4 decimals without floating point (no FPU state is
     * touched inside the allocator) */
    unsigned __int128 scaled = ((unsigned __int128)num * 10000 + den / 2) / den;
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
    pm_json_bool(j, v);
}
