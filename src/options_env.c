/* The environment: PMALLOC_ names, glibc's older MALLOC_ names and the
 * glibc.malloc names of GLIBC_TUNABLES, their precedence, the one-line
 * messages about what is ignored, and the PMALLOC_VERBOSE listing.
 *
 * The environment is read while the allocator starts, possibly from inside
 * the very first malloc.  So nothing here may call getenv, stdio or malloc:
 * the environment is read through `environ`, numbers are parsed by hand,
 * and messages go to stderr with write(2) (log.h). */
#include "config.h"

#include "options.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "log.h"
#include "os.h"

extern char **environ;

/* ---- environment values ---- */

static bool ascii_eq_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a - 'A' + 'a') : *a;
        char y = (*b >= 'A' && *b <= 'Z') ? (char)(*b - 'A' + 'a') : *b;
        if (x != y)
            return false;
    }
    return *a == *b;
}

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 99;
}

/* Parses "[-]digits[suffix]": decimal or 0x hex, then at most one of
 * k/K, m/M, g/G (powers of 1024).  Sets *magnitude and *negative, or
 * returns the reason the text is not such a number. */
static const char *parse_number(const char *s, uint64_t *magnitude, bool *negative)
{
    *negative = false;
    if (*s == '\0')
        return "empty value";
    if (*s == '-' || *s == '+') {
        *negative = *s == '-';
        s++;
    }
    unsigned base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (digit_value(*s) >= (int)base)
        return "not a number";
    uint64_t v = 0;
    for (; digit_value(*s) < (int)base; s++) {
        unsigned d = (unsigned)digit_value(*s);
        if (v > (UINT64_MAX - d) / base)
            return "too large";
        v = v * base + d;
    }
    unsigned shift = 0;
    switch (*s) {
    case 'k': case 'K': shift = 10; s++; break;
    case 'm': case 'M': shift = 20; s++; break;
    case 'g': case 'G': shift = 30; s++; break;
    default: break;
    }
    if (*s != '\0')
        return "not a number";
    if (shift != 0 && v > (UINT64_MAX >> shift))
        return "too large";
    *magnitude = v << shift;
    return NULL;
}

/* Returned for a value outside the option's range; the message then
 * states the range. */
static const char out_of_range[] = "out of range";
static const char path_too_long[] = "path too long";

/* Turns the text of an environment value into the 64-bit pattern the
 * option's applier takes, or returns why it cannot be used. */
static const char *env_value(const struct pm_option_desc *d, const char *text, uint64_t *out)
{
    if (d->kind == PM_VALUE_PATH) {
        size_t n = strnlen(text, d->max + 1);
        if (n < d->min)
            return "empty value";
        if (n > d->max)
            return path_too_long;
        *out = (uint64_t)(uintptr_t)text;
        return NULL;
    }
    if (d->kind == PM_VALUE_BOOL_OR_JSON && ascii_eq_nocase(text, "json")) {
        *out = 2;
        return NULL;
    }
    if (d->kind == PM_VALUE_BOOL || d->kind == PM_VALUE_BOOL_OR_JSON) {
        static const char *const truths[] = {"1", "true", "yes", "on"};
        static const char *const falsehoods[] = {"0", "false", "no", "off"};
        for (size_t i = 0; i < sizeof truths / sizeof truths[0]; i++) {
            if (ascii_eq_nocase(text, truths[i])) {
                *out = 1;
                return NULL;
            }
            if (ascii_eq_nocase(text, falsehoods[i])) {
                *out = 0;
                return NULL;
            }
        }
        if (*text == '\0')
            return "empty value";
        return d->kind == PM_VALUE_BOOL ? "expected 1/0, true/false, yes/no or on/off"
                                        : "expected 1/0, true/false, yes/no, on/off or json";
    }

    uint64_t magnitude;
    bool negative;
    const char *why = parse_number(text, &magnitude, &negative);
    if (why != NULL)
        return why;
    uint64_t v = magnitude;
    if (d->kind == PM_VALUE_SIZE) {
        if (negative && magnitude != 0)
            return "must not be negative";
    } else {
        /* Anything beyond int64 is certainly outside an int range. */
        if (magnitude > (uint64_t)INT64_MAX + (negative ? 1 : 0))
            return out_of_range;
        v = negative ? (uint64_t)0 - magnitude : magnitude;
    }
    if (!pm_option_in_range(d, v))
        return out_of_range;
    *out = v;
    return NULL;
}

/* ---- messages: one line each, in a single write so that concurrent
 * start-up messages cannot interleave within a line ---- */

static void buf_mem(struct pm_buf *b, const char *s, size_t n)
{
    while (n-- > 0 && *s != '\0' && b->len < sizeof b->text)
        b->text[b->len++] = *s++;
}

static void end_line_and_write(struct pm_buf *b)
{
    pm_buf_end_line(b);
    pm_buf_flush(b, 2);
}

/* A value of option d: signed for int options; with `unit`, a byte count
 * in the largest unit that divides it ("32 MiB"), else the plain number. */
static void buf_amount(struct pm_buf *b, const struct pm_option_desc *d, uint64_t v, bool unit)
{
    if (d->kind == PM_VALUE_INT && (int64_t)v < 0) {
        pm_buf_str(b, "-");
        v = (uint64_t)0 - v;
    }
    static const char *const units[] = {" bytes", " KiB", " MiB", " GiB", " TiB"};
    unsigned u = 0;
    while (unit && d->bytes && v >= 1024 && v % 1024 == 0 &&
           u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024;
        u++;
    }
    pm_buf_dec(b, v);
    if (d->bytes && unit)
        pm_buf_str(b, units[u]);
}

static void buf_range(struct pm_buf *b, const struct pm_option_desc *d)
{
    if (d->kind == PM_VALUE_PATH) {
        pm_buf_str(b, " (at most ");
        buf_amount(b, d, d->max, true);
        pm_buf_str(b, ")");
    } else if (d->kind == PM_VALUE_SIZE && d->max == SIZE_MAX) {
        pm_buf_str(b, " (at least ");
        buf_amount(b, d, d->min, true);
        pm_buf_str(b, ")");
    } else {
        pm_buf_str(b, " ");
        buf_amount(b, d, d->min, d->min != 0);
        pm_buf_str(b, "..");
        buf_amount(b, d, d->max, true);
    }
}

#define MESSAGE_VALUE_MAX 128

/* "pmalloc: ignoring NAME=TEXT[ in WHERE]: WHY" */
static void report_ignored(const struct pm_option_desc *d, const char *name, size_t name_len,
                           const char *text, size_t text_len, const char *where,
                           const char *why)
{
    struct pm_buf b = {.len = 0};
    pm_buf_str(&b, "pmalloc: ignoring ");
    buf_mem(&b, name, name_len);
    pm_buf_str(&b, "=");
    /* the reason must fit on the line after a long value (a path) */
    if (strnlen(text, text_len) > MESSAGE_VALUE_MAX) {
        buf_mem(&b, text, MESSAGE_VALUE_MAX);
        pm_buf_str(&b, "...");
    } else {
        buf_mem(&b, text, text_len);
    }
    if (where != NULL) {
        pm_buf_str(&b, " in ");
        pm_buf_str(&b, where);
    }
    pm_buf_str(&b, ": ");
    pm_buf_str(&b, why);
    if (why == out_of_range || why == path_too_long)
        buf_range(&b, d);
    end_line_and_write(&b);
}

/* Applies the text if it is valid; otherwise says so and changes nothing. */
static bool try_env_value(const struct pm_option_desc *d, const char *name, const char *text)
{
    uint64_t v;
    const char *why = env_value(d, text, &v);
    if (why != NULL) {
        report_ignored(d, name, SIZE_MAX, text, SIZE_MAX, NULL, why);
        return false;
    }
    d->apply(v);
    return true;
}

/* ---- unknown PMALLOC_ names ---- */

/* Not options of the allocator, yet no mistake either (options.h). */
static bool names_other_pmalloc_variable(const char *name, size_t len)
{
    for (size_t i = 0; i < PM_ENV_OTHER_COUNT; i++) {
        const char *other = pm_env_other_names[i];
        size_t n = strlen(other);
        bool prefix = other[n - 1] == '_';
        if (prefix ? len >= n && strncmp(name, other, n) == 0 : len == n && strncmp(name, other, n) == 0)
            return true;
    }
    return false;
}

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

#define HINT_MAX_LEN 40

/* Edits (insertions, deletions, substitutions, swaps of neighbours),
 * ignoring case, between a[0..n) and b[0..m). */
static unsigned name_distance(const char *a, size_t n, const char *b, size_t m)
{
    if (n > HINT_MAX_LEN || m > HINT_MAX_LEN)
        return UINT_MAX;
    unsigned char dist[HINT_MAX_LEN + 1][HINT_MAX_LEN + 1];
    for (size_t i = 0; i <= n; i++)
        dist[i][0] = (unsigned char)i;
    for (size_t j = 0; j <= m; j++)
        dist[0][j] = (unsigned char)j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            unsigned best = dist[i - 1][j - 1] + (lower(a[i - 1]) != lower(b[j - 1]));
            if (dist[i - 1][j] + 1u < best)
                best = dist[i - 1][j] + 1u;
            if (dist[i][j - 1] + 1u < best)
                best = dist[i][j - 1] + 1u;
            if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
                lower(a[i - 2]) == lower(b[j - 1]) && dist[i - 2][j - 2] + 1u < best)
                best = dist[i - 2][j - 2] + 1u;
            dist[i][j] = (unsigned char)best;
        }
    }
    return dist[n][m];
}

/* The option a misspelt name most likely meant: at most two edits away
 * and at most one for every three letters after PMALLOC_, or NULL. */
static const char *closest_option_name(const char *name, size_t len)
{
    const char *best = NULL;
    unsigned best_distance = UINT_MAX;
    for (size_t i = 0; i < PM_OPTION_COUNT; i++) {
        const char *candidate = pm_option_table[i].name;
        size_t candidate_len = strlen(candidate);
        unsigned d = name_distance(name, len, candidate, candidate_len);
        if (d <= 2 && 3 * d <= candidate_len - 8 && d < best_distance) {
            best = candidate;
            best_distance = d;
        }
    }
    return best;
}

static bool same_name(const char *a, const char *b, size_t len)
{
    return strncmp(a, b, len) == 0 && b[len] == '=';
}

/* `*e` starts with PMALLOC_ and names no option: one line, the first
 * time the name appears. */
static void report_unknown(char **env, char **e)
{
    const char *entry = *e;
    size_t len = strcspn(entry, "=");
    if (entry[len] != '=' || names_other_pmalloc_variable(entry, len))
        return;
    for (char **earlier = env; earlier < e; earlier++)
        if (same_name(entry, *earlier, len))
            return;
    struct pm_buf b = {.len = 0};
    pm_buf_str(&b, "pmalloc: ignoring ");
    buf_mem(&b, entry, len + 1 + MESSAGE_VALUE_MAX);
    if (strlen(entry) > len + 1 + MESSAGE_VALUE_MAX)
        pm_buf_str(&b, "...");
    const char *hint = closest_option_name(entry, len);
    if (hint != NULL) {
        pm_buf_str(&b, ": unknown name, did you mean ");
        pm_buf_str(&b, hint);
        pm_buf_str(&b, "?");
    } else {
        pm_buf_str(&b, ": unknown name, see pmalloc(3) for the options");
    }
    end_line_and_write(&b);
}

/* ---- GLIBC_TUNABLES: name=value:name=value ---- */

static const char tunable_prefix[] = "glibc.malloc.";
#define TUNABLE_PREFIX_LEN (sizeof tunable_prefix - 1)

struct tunable_item {
    const char *name;
    size_t name_len;
    const char *value; /* NULL when the item has no '=' (glibc skips those) */
    size_t value_len;
};

/* Reads the item that starts at *s and moves *s past it; false at the end. */
static bool next_tunable(const char **s, struct tunable_item *it)
{
    const char *p = *s;
    if (*p == '\0')
        return false;
    size_t len = strcspn(p, ":");
    const char *eq = memchr(p, '=', len);
    it->name = p;
    it->name_len = eq != NULL ? (size_t)(eq - p) : len;
    it->value = eq != NULL ? eq + 1 : NULL;
    it->value_len = eq != NULL ? len - it->name_len - 1 : 0;
    *s = p[len] == ':' ? p + len + 1 : p + len;
    return true;
}

static bool is_malloc_tunable(const struct tunable_item *it)
{
    return it->value != NULL && it->name_len > TUNABLE_PREFIX_LEN &&
           strncmp(it->name, tunable_prefix, TUNABLE_PREFIX_LEN) == 0;
}

/* The option glibc.malloc.NAME sets, or -1. */
static int tunable_option(const struct tunable_item *it)
{
    if (!is_malloc_tunable(it))
        return -1;
    const char *name = it->name + TUNABLE_PREFIX_LEN;
    size_t len = it->name_len - TUNABLE_PREFIX_LEN;
    for (size_t i = 0; i < PM_OPTION_COUNT; i++) {
        const char *t = pm_option_table[i].tunable;
        if (t != NULL && strlen(t) == len && strncmp(t, name, len) == 0)
            return (int)i;
    }
    return -1;
}

static bool try_tunable(const struct pm_option_desc *d, const struct tunable_item *it)
{
    /* The value ends at ':' in the environment string, which stays as
     * it is: parse a copy.  No number is this long. */
    char text[64];
    const char *why = "not a number";
    uint64_t v = 0;
    if (it->value_len < sizeof text) {
        memcpy(text, it->value, it->value_len);
        text[it->value_len] = '\0';
        why = env_value(d, text, &v);
    }
    if (why != NULL) {
        report_ignored(d, it->name, it->name_len, it->value, it->value_len, "GLIBC_TUNABLES",
                       why);
        return false;
    }
    d->apply(v);
    return true;
}

/* ---- PMALLOC_VERBOSE ---- */

enum option_source { FROM_DEFAULT, FROM_PMALLOC_NAME, FROM_TUNABLES, FROM_GLIBC_NAME };

static void buf_current_value(struct pm_buf *b, const struct pm_option_desc *d)
{
    const char *p = (const char *)&pm_opt + d->field;
    if (d->kind == PM_VALUE_PATH) {
        pm_buf_str(b, p);
        return;
    }
    uint64_t v = 0;
    if (d->field_size == sizeof(uint8_t)) {
        v = *(const uint8_t *)p;
    } else if (d->field_size == sizeof(int32_t)) {
        int32_t i;
        memcpy(&i, p, sizeof i);
        v = (uint64_t)(int64_t)i;
    } else {
        memcpy(&v, p, sizeof v);
    }
    buf_amount(b, d, v, false);
}

static void print_options(const enum option_source *source, const char *tunables)
{
    for (size_t i = 0; i < PM_OPTION_COUNT; i++) {
        const struct pm_option_desc *d = &pm_option_table[i];
        struct pm_buf b = {.len = 0};
        pm_buf_str(&b, "pmalloc: ");
        pm_buf_str(&b, d->name);
        pm_buf_str(&b, "=");
        buf_current_value(&b, d);
        switch (source[i]) {
        case FROM_DEFAULT: pm_buf_str(&b, " (default)"); break;
        case FROM_PMALLOC_NAME: pm_buf_str(&b, " (from the environment)"); break;
        case FROM_TUNABLES:
            pm_buf_str(&b, " (from GLIBC_TUNABLES ");
            pm_buf_str(&b, tunable_prefix);
            pm_buf_str(&b, d->tunable);
            pm_buf_str(&b, ")");
            break;
        case FROM_GLIBC_NAME:
            pm_buf_str(&b, " (from ");
            pm_buf_str(&b, d->glibc_name);
            pm_buf_str(&b, ")");
            break;
        }
        end_line_and_write(&b);
    }
    /* glibc's names that pmalloc lacks (hugetlb, tcache_unsorted_limit,
     * or newer ones) are ignored without a word, as glibc ignores names it
     * does not know; a user who asks is told. */
    struct tunable_item it;
    while (tunables != NULL && next_tunable(&tunables, &it)) {
        if (!is_malloc_tunable(&it) || tunable_option(&it) >= 0)
            continue;
        struct pm_buf b = {.len = 0};
        pm_buf_str(&b, "pmalloc: GLIBC_TUNABLES: ");
        buf_mem(&b, it.name, it.name_len);
        pm_buf_str(&b, " is not a pmalloc option, ignored");
        end_line_and_write(&b);
    }
}

/* ---- reading the environment ---- */

/* The value part if `entry` is "name=value", else NULL. */
static const char *match_name(const char *entry, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(entry, name, n) != 0 || entry[n] != '=')
        return NULL;
    return entry + n + 1;
}

void pm_options_from_env(void)
{
    /* A set-user-ID program must not let its caller tune (or make it
     * print) anything: glibc ignores these variables there too. */
    if (pm_os_secure_exec())
        return;
    if (environ == NULL)
        return;

    /* The first occurrence of each variable counts, as with getenv. */
    const char *pm_text[PM_OPTION_COUNT] = {NULL};
    const char *glibc_text[PM_OPTION_COUNT] = {NULL};
    const char *tunables = NULL;
    for (char **e = environ; *e != NULL; e++) {
        const char *entry = *e;
        if (tunables == NULL && strncmp(entry, "GLIBC_TUNABLES=", 15) == 0) {
            tunables = entry + 15;
            continue;
        }
        /* every name of ours starts with one of these */
        bool pmalloc_name = strncmp(entry, "PMALLOC_", 8) == 0;
        if (!pmalloc_name && strncmp(entry, "MALLOC_", 7) != 0)
            continue;
        bool known = false;
        for (size_t i = 0; i < PM_OPTION_COUNT && !known; i++) {
            const struct pm_option_desc *d = &pm_option_table[i];
            const char *text;
            if ((text = match_name(entry, d->name)) != NULL) {
                known = true;
                if (pm_text[i] == NULL)
                    pm_text[i] = text;
            } else if (d->glibc_name != NULL && (text = match_name(entry, d->glibc_name)) != NULL) {
                known = true;
                if (glibc_text[i] == NULL)
                    glibc_text[i] = text;
            }
        }
        if (pmalloc_name && !known)
            report_unknown(environ, e);
    }

    /* Within GLIBC_TUNABLES the last occurrence of a name counts, as in
     * glibc. */
    struct tunable_item tunable[PM_OPTION_COUNT];
    memset(tunable, 0, sizeof tunable);
    const char *rest = tunables;
    struct tunable_item it;
    while (rest != NULL && next_tunable(&rest, &it)) {
        int i = tunable_option(&it);
        if (i >= 0)
            tunable[i] = it;
    }

    /* The PMALLOC_ spelling wins, then GLIBC_TUNABLES, then glibc's older
     * name (glibc's tunables override those too).  An unusable value
     * falls back to the next, so a typo in one does not lose the others. */
    enum option_source source[PM_OPTION_COUNT];
    for (size_t i = 0; i < PM_OPTION_COUNT; i++) {
        const struct pm_option_desc *d = &pm_option_table[i];
        source[i] = FROM_DEFAULT;
        if (pm_text[i] != NULL && try_env_value(d, d->name, pm_text[i]))
            source[i] = FROM_PMALLOC_NAME;
        else if (tunable[i].value != NULL && try_tunable(d, &tunable[i]))
            source[i] = FROM_TUNABLES;
        else if (glibc_text[i] != NULL && try_env_value(d, d->glibc_name, glibc_text[i]))
            source[i] = FROM_GLIBC_NAME;
    }
    if (pm_opt.verbose)
        print_options(source, tunables);
}
