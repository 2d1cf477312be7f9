/* A small strict JSON reader for heapviz: snapshots are read back into a
 * tree of values, whatever produced them (this tool, the library at exit,
 * or a file written earlier). */
#ifndef HEAPVIZ_JSON_H
#define HEAPVIZ_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval {
    enum jtype t;
    bool b;
    bool is_uint;        /* a non-negative integer that fits u */
    uint64_t u;
    double num;
    char *str;           /* J_STR */
    size_t n;            /* items of J_ARR / J_OBJ */
    struct jval *items;
    char **keys;         /* J_OBJ */
};

/* Parses text; NULL with a message in err (line and column) on error. */
struct jval *json_parse(const char *text, size_t len, char *err, size_t errlen);
void json_free(struct jval *v);

/* Lookups that tolerate absent members and wrong types (they give the
 * empty value: NULL, 0, "" or an empty array). */
const struct jval *jget(const struct jval *obj, const char *key);
uint64_t ju64(const struct jval *v);
uint64_t jget_u64(const struct jval *obj, const char *key);
double jget_num(const struct jval *obj, const char *key);
/* An address: a "0x..." string or a number. */
uint64_t jget_addr(const struct jval *obj, const char *key);
uint64_t jaddr(const struct jval *v);
const char *jget_str(const struct jval *obj, const char *key);
bool jget_bool(const struct jval *obj, const char *key);
size_t jlen(const struct jval *arr);
const struct jval *jat(const struct jval *arr, size_t i);

/* Reads a whole file (or stdin for "-"); NULL with errno on failure. */
char *read_file(const char *path, size_t *len);

#endif
