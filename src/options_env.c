/* The environment: PMALLOC_ names and glibc's MALLOC_ names, their
 * precedence, and the one-line messages about what is ignored.
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
#include <sys/auxv.h>

#include "log.h"

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

/* Turns the text of an environment value into the 64-bit pattern the
 * option's applier takes, or returns why it cannot be used. */
static const char *env_value(const struct pm_option_desc *d, const char *text, uint64_t *out)
{
    if (d->kind == PM_VALUE_PATH) {
        size_t n = strnlen(text, d->max + 1);
        if (n < d->min)
            return "empty value";
        if (n > d->max)
            return "path too long";
        *out = (uint64_t)(uintptr_t)text;
        return NULL;
    }
    if (d->kind == PM_VALUE_BOOL) {
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
        return *text == '\0' ? "empty value" : "expected 1/0, true/false, yes/no or on/off";
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
            return "out of range";
        v = negative ? (uint64_t)0 - magnitude : magnitude;
    }
    if (!pm_option_in_range(d, v))
        return "out of range";
    *out = v;
    return NULL;
}

/* The value part if `entry` is "name=value", else NULL. */
static const char *match_name(const char *entry, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(entry, name, n) != 0 || entry[n] != '=')
        return NULL;
    return entry + n + 1;
}

/* One message per rejected value, in a single write so concurrent start-up
 * messages cannot interleave within a line. */
static void report_ignored(const char *name, const char *text, const char *why)
{
    struct pm_buf b = {.len = 0};
    pm_buf_str(&b, "pmalloc: ignoring ");
    pm_buf_str(&b, name);
    pm_buf_str(&b, "=");
    pm_buf_str(&b, text);
    pm_buf_str(&b, ": ");
    pm_buf_str(&b, why);
    pm_buf_end_line(&b);
    pm_buf_flush(&b, 2);
}

/* Applies the text if it is valid; otherwise says so and changes nothing. */
static bool try_env_value(const struct pm_option_desc *d, const char *name, const char *text)
{
    uint64_t v;
    const char *why = env_value(d, text, &v);
    if (why != NULL) {
        report_ignored(name, text, why);
        return false;
    }
    d->apply(v);
    return true;
}

void pm_options_from_env(void)
{
    /* A set-user-ID program must not let its caller tune (or make it
     * print) anything: glibc ignores these variables there too. */
    if (getauxval(AT_SECURE) != 0)
        return;
    if (environ == NULL)
        return;

    /* The first occurrence of each spelling counts, as with getenv. */
    const char *pm_text[PM_OPTION_COUNT] = {NULL};
    const char *glibc_text[PM_OPTION_COUNT] = {NULL};
    for (char **e = environ; *e != NULL; e++) {
        const char *entry = *e;
        /* every name of ours starts with one of these */
        if (strncmp(entry, "PMALLOC_", 8) != 0 && strncmp(entry, "MALLOC_", 7) != 0)
            continue;
        for (size_t i = 0; i < PM_OPTION_COUNT; i++) {
            const struct pm_option_desc *d = &pm_option_table[i];
            const char *text;
            if (pm_text[i] == NULL && (text = match_name(entry, d->name)) != NULL) {
                pm_text[i] = text;
                break;
            }
            if (d->glibc_name != NULL && glibc_text[i] == NULL &&
                (text = match_name(entry, d->glibc_name)) != NULL) {
                glibc_text[i] = text;
                break;
            }
        }
    }

    /* The PMALLOC_ spelling wins; glibc's is the fallback when ours is
     * absent or unusable, so a typo in one does not lose the other. */
    for (size_t i = 0; i < PM_OPTION_COUNT; i++) {
        const struct pm_option_desc *d = &pm_option_table[i];
        if (pm_text[i] != NULL && try_env_value(d, d->name, pm_text[i]))
            continue;
        if (glibc_text[i] != NULL)
            try_env_value(d, d->glibc_name, glibc_text[i]);
    }
}
