/* The one emitter behind every report (emit.c): JSON for snapshots and
 * PMALLOC_STATS=json, text for malloc_stats and the PMALLOC_STATS report,
 * glibc's XML for malloc_info.  Output goes into a fixed buffer drained
 * through a callback (write(2) or fwrite in the library, a growing string
 * in heapviz): it never allocates, so it can run inside the allocator.
 * Shared by the library and heapviz. */
#ifndef PMALLOC_EMIT_H
#define PMALLOC_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the JSON layer, which the snapshot writer uses directly ---- */

#define PM_JSON_DEPTH 32

struct pm_json {
    char buf[4096];
    size_t len;
    int (*flush)(void *ctx, const char *data, size_t len); /* 0 or -1 */
    void *ctx;
    int failed;                 /* a flush failed: further output is dropped */
    unsigned depth;
    bool need_comma[PM_JSON_DEPTH];
    bool is_array[PM_JSON_DEPTH];
    bool after_key;
};

void pm_json_init(struct pm_json *j, int (*flush)(void *, const char *, size_t), void *ctx);
int pm_json_finish(struct pm_json *j); /* flushes; 0 or -1 */
void pm_json_begin_obj(struct pm_json *j);
void pm_json_end_obj(struct pm_json *j);
void pm_json_begin_arr(struct pm_json *j);
void pm_json_end_arr(struct pm_json *j);
void pm_json_key(struct pm_json *j, const char *key);
void pm_json_str(struct pm_json *j, const char *s);
void pm_json_u64(struct pm_json *j, uint64_t v);
void pm_json_i64(struct pm_json *j, int64_t v);
void pm_json_addr(struct pm_json *j, uint64_t v);   /* "0x..." string */
void pm_json_null(struct pm_json *j);
/* a number with 4 decimals, 0 <= v < 2^53 / 10000 */
void pm_json_ratio(struct pm_json *j, uint64_t num, uint64_t den);
/* key + value shorthands */
void pm_json_kv_u64(struct pm_json *j, const char *key, uint64_t v);
void pm_json_kv_addr(struct pm_json *j, const char *key, uint64_t v);
void pm_json_kv_str(struct pm_json *j, const char *key, const char *s);
void pm_json_kv_bool(struct pm_json *j, const char *key, bool v);

/* Writes bytes as they are (no comma, no escaping). */
void pm_json_raw(struct pm_json *j, const char *s, size_t n);

/* ---- every format: groups of named values ---- */

enum pm_emit_format { PM_EMIT_TEXT, PM_EMIT_JSON, PM_EMIT_XML };

struct pm_emit {
    struct pm_json j; /* the buffer, and the JSON format's own state */
    enum pm_emit_format format;
    unsigned depth;
    unsigned titled;                     /* text: open groups with a title */
    bool titled_at[PM_JSON_DEPTH];
    const char *name_at[PM_JSON_DEPTH];  /* XML: the element to close */
    bool list_at[PM_JSON_DEPTH];         /* XML: a list element, always closed in full */
    bool tag_open;                       /* XML: the start tag still takes attributes */
    unsigned label_width;                /* text: labels are padded to this */
    unsigned indent;                     /* text: spaces per titled level */
};

void pm_emit_init(struct pm_emit *e, enum pm_emit_format format, int (*flush)(void *, const char *, size_t),
                  void *ctx);
/* Flushes; 0, or -1 if any output was lost. */
int pm_emit_finish(struct pm_emit *e);
/* A group of values: a JSON object (member `key`, or an element when in
 * a list or at the top), an XML element `key`, a text section headed by
 * `title` (no heading when NULL). */
void pm_emit_begin(struct pm_emit *e, const char *key, const char *title);
void pm_emit_end(struct pm_emit *e);
/* A list of groups: a JSON array member `key`, an XML element `key` that
 * encloses them (written in full even when empty); in text the groups
 * simply follow one another. */
void pm_emit_begin_list(struct pm_emit *e, const char *key);
void pm_emit_end_list(struct pm_emit *e);
/* A value: JSON member `key`, XML attribute `key`, text line "label = value"
 * (none when label is NULL: a value only the machine formats carry). */
void pm_emit_u64(struct pm_emit *e, const char *key, const char *label, uint64_t v);
void pm_emit_str(struct pm_emit *e, const char *key, const char *label, const char *s);

#endif
