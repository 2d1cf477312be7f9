/* A strict JSON reader (RFC 8259), recursive with a depth limit, that
 * reports the line and column of the first error. */
#include "json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

struct parser {
    const char *s, *end, *start;
    char *err;
    size_t errlen;
    bool failed;
};

static void fail(struct parser *p, const char *what)
{
    if (p->failed)
        return;
    p->failed = true;
    size_t line = 1, col = 1;
    for (const char *c = p->start; c < p->s && c < p->end; c++) {
        if (*c == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    if (p->s >= p->end)
        snprintf(p->err, p->errlen, "unexpected end of input (truncated?) at line %zu: %s", line, what);
    else
        snprintf(p->err, p->errlen, "line %zu column %zu: %s", line, col, what);
}

static void ws(struct parser *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\n' || *p->s == '\r' || *p->s == '\t'))
        p->s++;
}

static bool lit(struct parser *p, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(p->end - p->s) < n || memcmp(p->s, word, n) != 0)
        return false;
    p->s += n;
    return true;
}

static void put_utf8(char **o, unsigned cp)
{
    if (cp < 0x80) {
        *(*o)++ = (char)cp;
    } else if (cp < 0x800) {
        *(*o)++ = (char)(0xc0 | cp >> 6);
        *(*o)++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *(*o)++ = (char)(0xe0 | cp >> 12);
        *(*o)++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *(*o)++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *(*o)++ = (char)(0xf0 | cp >> 18);
        *(*o)++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *(*o)++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *(*o)++ = (char)(0x80 | (cp & 0x3f));
    }
}

static int hex4(struct parser *p, unsigned *out)
{
    if (p->end - p->s < 4)
        return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = *p->s++;
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static char *string(struct parser *p)
{
    p->s++; /* the opening quote */
    const char *q = p->s;
    while (q < p->end && *q != '"')
        q += *q == '\\' ? 2 : 1;
    if (q >= p->end) {
        p->s = p->end;
        fail(p, "unterminated string");
        return NULL;
    }
    char *out = malloc((size_t)(q - p->s) * 2 + 1), *o = out;
    if (out == NULL) {
        fail(p, "out of memory");
        return NULL;
    }
    while (*p->s != '"') {
        unsigned char c = (unsigned char)*p->s++;
        if (c < 0x20) {
            fail(p, "control character in a string");
            free(out);
            return NULL;
        }
        if (c != '\\') {
            *o++ = (char)c;
            continue;
        }
        char e = *p->s++;
        unsigned cp;
        switch (e) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u':
            if (hex4(p, &cp) != 0) {
                fail(p, "bad \\u escape");
                free(out);
                return NULL;
            }
            if (cp >= 0xd800 && cp < 0xdc00 && p->end - p->s >= 6 && p->s[0] == '\\' && p->s[1] == 'u') {
                unsigned lo;
                p->s += 2;
                if (hex4(p, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000)
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            put_utf8(&o, cp);
            break;
        default:
            fail(p, "bad escape in a string");
            free(out);
            return NULL;
        }
    }
    p->s++;
    *o = 0;
    return out;
}

static bool value(struct parser *p, struct jval *v, int depth);

static bool number(struct parser *p, struct jval *v)
{
    const char *b = p->s;
    if (*p->s == '-')
        p->s++;
    if (p->s >= p->end || *p->s < '0' || *p->s > '9') {
        fail(p, "bad number");
        return false;
    }
    bool integral = true;
    while (p->s < p->end && ((*p->s >= '0' && *p->s <= '9') || *p->s == '.' || *p->s == 'e' || *p->s == 'E' ||
                             *p->s == '+' || *p->s == '-')) {
        if (*p->s == '.' || *p->s == 'e' || *p->s == 'E')
            integral = false;
        p->s++;
    }
    char buf[64];
    size_t n = (size_t)(p->s - b);
    if (n >= sizeof buf) {
        fail(p, "number too long");
        return false;
    }
    memcpy(buf, b, n);
    buf[n] = 0;
    char *endp;
    v->t = J_NUM;
    v->num = strtod(buf, &endp);
    if (*endp != 0) {
        p->s = b;
        fail(p, "bad number");
        return false;
    }
    if (integral && buf[0] != '-') {
        errno = 0;
        unsigned long long u = strtoull(buf, &endp, 10);
        if (errno == 0 && *endp == 0) {
            v->is_uint = true;
            v->u = u;
        }
    }
    return true;
}

static bool grow(struct parser *p, struct jval *v, size_t *cap, bool keys)
{
    if (v->n < *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 8;
    struct jval *ni = realloc(v->items, nc * sizeof *ni);
    if (ni == NULL) {
        fail(p, "out of memory");
        return false;
    }
    v->items = ni;
    if (keys) {
        char **nk = realloc(v->keys, nc * sizeof *nk);
        if (nk == NULL) {
            fail(p, "out of memory");
            return false;
        }
        v->keys = nk;
    }
    *cap = nc;
    return true;
}

static bool compound(struct parser *p, struct jval *v, int depth, bool obj)
{
    char close = obj ? '}' : ']';
    size_t cap = 0;
    v->t = obj ? J_OBJ : J_ARR;
    p->s++;
    ws(p);
    if (p->s < p->end && *p->s == close) {
        p->s++;
        return true;
    }
    for (;;) {
        if (!grow(p, v, &cap, obj))
            return false;
        struct jval *item = &v->items[v->n];
        memset(item, 0, sizeof *item);
        if (obj) {
            ws(p);
            if (p->s >= p->end || *p->s != '"') {
                fail(p, "expected a member name");
                return false;
            }
            char *k = string(p);
            if (k == NULL)
                return false;
            v->keys[v->n] = k;
            ws(p);
            if (p->s >= p->end || *p->s != ':') {
                v->n++;
                fail(p, "expected ':'");
                return false;
            }
            p->s++;
        }
        v->n++;
        if (!value(p, item, depth + 1))
            return false;
        ws(p);
        if (p->s < p->end && *p->s == ',') {
            p->s++;
            continue;
        }
        if (p->s < p->end && *p->s == close) {
            p->s++;
            return true;
        }
        fail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        return false;
    }
}

static bool value(struct parser *p, struct jval *v, int depth)
{
    ws(p);
    if (depth > MAX_DEPTH) {
        fail(p, "nested too deeply");
        return false;
    }
    if (p->s >= p->end) {
        fail(p, "expected a value");
        return false;
    }
    switch (*p->s) {
    case '{':
        return compound(p, v, depth, true);
    case '[':
        return compound(p, v, depth, false);
    case '"':
        v->t = J_STR;
        return (v->str = string(p)) != NULL;
    case 't':
    case 'f':
    case 'n':
        if (lit(p, "true")) {
            v->t = J_BOOL;
            v->b = true;
        } else if (lit(p, "false")) {
            v->t = J_BOOL;
        } else if (lit(p, "null")) {
            v->t = J_NULL;
        } else {
            fail(p, "unknown literal");
            return false;
        }
        return true;
    default:
        return number(p, v);
    }
}

static void free_inner(struct jval *v)
{
    free(v->str);
    for (size_t i = 0; i < v->n; i++) {
        free_inner(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
}

void json_free(struct jval *v)
{
    if (v) {
        free_inner(v);
        free(v);
    }
}

struct jval *json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    struct parser p = {text, text + len, text, err, errlen, false};
    struct jval *v = calloc(1, sizeof *v);
    if (v == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (value(&p, v, 0)) {
        ws(&p);
        if (p.s != p.end)
            fail(&p, "trailing text after the value");
    }
    if (p.failed) {
        json_free(v);
        return NULL;
    }
    return v;
}

const struct jval *jget(const struct jval *obj, const char *key)
{
    if (obj == NULL || obj->t != J_OBJ)
        return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0)
            return &obj->items[i];
    return NULL;
}

uint64_t ju64(const struct jval *v)
{
    if (v == NULL || v->t != J_NUM)
        return 0;
    return v->is_uint ? v->u : v->num > 0 ? (uint64_t)v->num : 0;
}

uint64_t jget_u64(const struct jval *obj, const char *key) { return ju64(jget(obj, key)); }

double jget_num(const struct jval *obj, const char *key)
{
    const struct jval *v = jget(obj, key);
    return v && v->t == J_NUM ? v->num : 0;
}

uint64_t jaddr(const struct jval *v)
{
    if (v && v->t == J_STR)
        return strtoull(v->str, NULL, 16);
    return ju64(v);
}

uint64_t jget_addr(const struct jval *obj, const char *key) { return jaddr(jget(obj, key)); }

const char *jget_str(const struct jval *obj, const char *key)
{
    const struct jval *v = jget(obj, key);
    return v && v->t == J_STR ? v->str : "";
}

bool jget_bool(const struct jval *obj, const char *key)
{
    const struct jval *v = jget(obj, key);
    return v && v->t == J_BOOL && v->b;
}

size_t jlen(const struct jval *arr) { return arr && arr->t == J_ARR ? arr->n : 0; }

const struct jval *jat(const struct jval *arr, size_t i) { return i < jlen(arr) ? &arr->items[i] : NULL; }

char *read_file(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    while (buf != NULL) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) {
            if (ferror(f)) {
                free(buf);
                buf = NULL;
                errno = EIO;
            }
            break;
        }
        char *nb = realloc(buf, cap * 2 + 1);
        if (nb == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    if (f != stdin)
        fclose(f);
    if (buf != NULL) {
        buf[n] = 0;
        *len = n;
    }
    return buf;
}
