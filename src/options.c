/* Tunable parameters: their defaults, mallopt(3), and the environment.
 *
 * Every tunable is described once, in option_table: its names, its
 * mallopt parameter, its valid range and how it is applied.  mallopt and
 * the environment both go through the same range check and the same
 * apply function, so the two can never disagree about what a value means.
 *
 * The environment is read while the allocator starts, possibly from inside
 * the very first malloc.  So nothing here may call getenv, stdio or malloc:
 * the environment is read through `environ`, numbers are parsed by hand,
 * and messages go to stderr with write(2) (log.h). */
#include "config.h"

#include "options.h"

#include <limits.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>

#include "chunk.h"
#include "log.h"

extern char **environ;

struct pm_options pm_opt = {
    /* pm_max_fast_for(PM_DEFAULT_MXFAST), as a constant expression */
    .max_fast = (PM_DEFAULT_MXFAST + PM_SIZE_SZ) & ~PM_ALIGN_MASK,
    .trim_threshold = PM_DEFAULT_TRIM_THRESHOLD,
    .top_pad = PM_DEFAULT_TOP_PAD,
    .mmap_threshold = PM_DEFAULT_MMAP_THRESHOLD,
    .mmap_max = PM_DEFAULT_MMAP_MAX,
    .arena_max = 0,
    .arena_test = PM_DEFAULT_ARENA_TEST,
    .perturb_byte = 0,
    .check_action = 3,
    .tcache_count = PM_DEFAULT_TCACHE_COUNT,
    .tcache_max_bytes = PM_DEFAULT_TCACHE_MAX_BYTES,
    .no_dyn_threshold = false,
    .stats_at_exit = false,
    .stats_json = false,
    .check_heap = false,
#ifdef PMALLOC_HARDENED_DEFAULT
    .hardened = true,
#else
    .hardened = false,
#endif
    .snapshot_path = "",
};

/* A request of v bytes fits a chunk of (v + SIZE_SZ) rounded down to the
 * alignment (the next chunk's prev_size word is lent to the payload).  A
 * limit below the smallest chunk would admit nothing, so it is stored as
 * 0, the documented "fast bins off" value. */
size_t pm_max_fast_for(size_t request)
{
    if (request > PM_MAX_MXFAST)
        request = PM_MAX_MXFAST;
    size_t limit = (request + PM_SIZE_SZ) & ~PM_ALIGN_MASK;
    return limit < PM_MINSIZE ? 0 : limit;
}

/* ---- appliers: the only code that writes pm_opt after start-up ---- */

/* Values arrive as a 64-bit pattern: an unsigned size for size options, a
 * sign-extended integer for int options (see enum value_kind). */
static void apply_mxfast(uint64_t v) { pm_opt.max_fast = pm_max_fast_for((size_t)v); }

/* A threshold chosen by hand must stay put: the dynamic mmap threshold
 * (raised when large mmapped chunks are freed) would otherwise undo it. */
static void apply_trim_threshold(uint64_t v)
{
    pm_opt.trim_threshold = (size_t)v;
    pm_opt.no_dyn_threshold = true;
}

static void apply_top_pad(uint64_t v)
{
    pm_opt.top_pad = (size_t)v;
    pm_opt.no_dyn_threshold = true;
}

static void apply_mmap_threshold(uint64_t v)
{
    pm_opt.mmap_threshold = (size_t)v;
    pm_opt.no_dyn_threshold = true;
}

/* glibc keeps this limit in an int, so a negative one means "never mmap";
 * in our size_t that is 0. */
static void apply_mmap_max(uint64_t v)
{
    int64_t n = (int64_t)v;
    pm_opt.mmap_max = n < 0 ? 0 : (size_t)n;
    pm_opt.no_dyn_threshold = true;
}

static void apply_arena_max(uint64_t v) { pm_opt.arena_max = (size_t)v; }
static void apply_arena_test(uint64_t v) { pm_opt.arena_test = (size_t)v; }
static void apply_perturb(uint64_t v) { pm_opt.perturb_byte = (int)(int64_t)v; }
static void apply_check_action(uint64_t v) { pm_opt.check_action = (int)(int64_t)v; }
static void apply_tcache_count(uint64_t v) { pm_opt.tcache_count = (size_t)v; }
static void apply_tcache_max(uint64_t v) { pm_opt.tcache_max_bytes = (size_t)v; }
/* 0 off, 1 text, 2 JSON */
static void apply_stats(uint64_t v)
{
    pm_opt.stats_at_exit = v != 0;
    pm_opt.stats_json = v == 2;
}
static void apply_check_heap(uint64_t v) { pm_opt.check_heap = v != 0; }
static void apply_hardened(uint64_t v) { pm_opt.hardened = v != 0; }
/* A path arrives as the address of its text, which env_value has
 * checked fits. */
static void apply_snapshot_path(uint64_t v)
{
    const char *text = (const char *)(uintptr_t)v;
    size_t n = strlen(text);
    memcpy(pm_opt.snapshot_path, text, n + 1);
}

/* ---- the option table ---- */

enum value_kind {
    /* A byte count or count.  A mallopt int is converted to size_t the
     * way C (and glibc) does, so -1 means SIZE_MAX: mallopt(
     * M_TRIM_THRESHOLD, -1) is the well-known "never trim".  In the
     * environment a minus sign is refused: nobody means SIZE_MAX there. */
    VALUE_SIZE,
    /* A plain int (glibc stores these in an int); negative is meaningful. */
    VALUE_INT,
    /* An on/off switch: 1/0, true/false, yes/no, on/off. */
    VALUE_BOOL,
    /* An on/off switch that also takes "json" (2): PMALLOC_STATS. */
    VALUE_BOOL_OR_JSON,
    /* A file name (environment only), passed to the applier as the
     * address of its text; at most PM_OPTION_PATH_MAX - 1 bytes. */
    VALUE_PATH,
};

/* Not a mallopt parameter: environment only. */
#define NO_PARAM INT_MIN

struct option_desc {
    const char *name;        /* PMALLOC_ spelling */
    const char *glibc_name;  /* glibc's spelling, or NULL */
    int param;               /* mallopt parameter, or NO_PARAM */
    enum value_kind kind;
    /* The valid range, as unsigned for VALUE_SIZE and signed (stored as
     * its two's-complement pattern) for VALUE_INT. */
    uint64_t min, max;
    /* glibc's mallopt ignores M_ARENA_TEST/M_ARENA_MAX values <= 0 and
     * still returns 1; this flag reproduces that. */
    bool mallopt_ignores_nonpositive;
    void (*apply)(uint64_t value);
};

#define SIGNED_BOUND(v) ((uint64_t)(int64_t)(v))

static const struct option_desc option_table[] = {
    {"PMALLOC_MXFAST", NULL, M_MXFAST, VALUE_SIZE,
     0, PM_MAX_MXFAST, false, apply_mxfast},
    {"PMALLOC_TRIM_THRESHOLD", "MALLOC_TRIM_THRESHOLD_", M_TRIM_THRESHOLD, VALUE_SIZE,
     0, SIZE_MAX, false, apply_trim_threshold},
    {"PMALLOC_TOP_PAD", "MALLOC_TOP_PAD_", M_TOP_PAD, VALUE_SIZE,
     0, SIZE_MAX, false, apply_top_pad},
    {"PMALLOC_MMAP_THRESHOLD", "MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, VALUE_SIZE,
     0, PM_MMAP_THRESHOLD_MAX, false, apply_mmap_threshold},
    {"PMALLOC_MMAP_MAX", "MALLOC_MMAP_MAX_", M_MMAP_MAX, VALUE_INT,
     SIGNED_BOUND(INT_MIN), SIGNED_BOUND(INT_MAX), false, apply_mmap_max},
    {"PMALLOC_ARENA_MAX", "MALLOC_ARENA_MAX", M_ARENA_MAX, VALUE_SIZE,
     1, SIZE_MAX, true, apply_arena_max},
    {"PMALLOC_ARENA_TEST", "MALLOC_ARENA_TEST", M_ARENA_TEST, VALUE_SIZE,
     1, SIZE_MAX, true, apply_arena_test},
    {"PMALLOC_PERTURB", "MALLOC_PERTURB_", M_PERTURB, VALUE_INT,
     SIGNED_BOUND(INT_MIN), SIGNED_BOUND(INT_MAX), false, apply_perturb},
    {"PMALLOC_CHECK_ACTION", "MALLOC_CHECK_", M_CHECK_ACTION, VALUE_INT,
     SIGNED_BOUND(INT_MIN), SIGNED_BOUND(INT_MAX), false, apply_check_action},
    {"PMALLOC_TCACHE_COUNT", NULL, PM_M_TCACHE_COUNT, VALUE_SIZE,
     0, PM_MAX_TCACHE_COUNT, false, apply_tcache_count},
    {"PMALLOC_TCACHE_MAX", NULL, PM_M_TCACHE_MAX, VALUE_SIZE,
     0, PM_DEFAULT_TCACHE_MAX_BYTES, false, apply_tcache_max},
    {"PMALLOC_STATS", NULL, NO_PARAM, VALUE_BOOL_OR_JSON, 0, 2, false, apply_stats},
    {"PMALLOC_CHECK", NULL, NO_PARAM, VALUE_BOOL, 0, 1, false, apply_check_heap},
    {"PMALLOC_HARDENED", NULL, NO_PARAM, VALUE_BOOL, 0, 1, false, apply_hardened},
    {"PMALLOC_SNAPSHOT_AT_EXIT", NULL, NO_PARAM, VALUE_PATH,
     1, PM_OPTION_PATH_MAX - 1, false, apply_snapshot_path},
};

#define OPTION_COUNT (sizeof option_table / sizeof option_table[0])

static bool in_range(const struct option_desc *d, uint64_t v)
{
    if (d->kind == VALUE_INT)
        return (int64_t)v >= (int64_t)d->min && (int64_t)v <= (int64_t)d->max;
    return v >= d->min && v <= d->max;
}

/* ---- mallopt ---- */

int pm_options_set(int param, int value)
{
    const struct option_desc *d = NULL;
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (option_table[i].param != NO_PARAM && option_table[i].param == param) {
            d = &option_table[i];
            break;
        }
    }
    /* Unknown parameters (and glibc's ignored M_NLBLKS, M_GRAIN, M_KEEP)
     * succeed without effect, as in glibc. */
    if (d == NULL)
        return 1;
    if (d->mallopt_ignores_nonpositive && value <= 0)
        return 1;
    /* For size options this is glibc's implicit int-to-size_t conversion
     * (-1 becomes SIZE_MAX); int options keep their sign. */
    uint64_t v = d->kind == VALUE_SIZE ? (uint64_t)(size_t)value : (uint64_t)(int64_t)value;
    if (!in_range(d, v))
        return 0;
    d->apply(v);
    return 1;
}

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
static const char *env_value(const struct option_desc *d, const char *text, uint64_t *out)
{
    if (d->kind == VALUE_PATH) {
        size_t n = strnlen(text, d->max + 1);
        if (n < d->min)
            return "empty value";
        if (n > d->max)
            return "path too long";
        *out = (uint64_t)(uintptr_t)text;
        return NULL;
    }
    if (d->kind == VALUE_BOOL_OR_JSON && ascii_eq_nocase(text, "json")) {
        *out = 2;
        return NULL;
    }
    if (d->kind == VALUE_BOOL || d->kind == VALUE_BOOL_OR_JSON) {
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
        return d->kind == VALUE_BOOL ? "expected 1/0, true/false, yes/no or on/off"
                                     : "expected 1/0, true/false, yes/no, on/off or json";
    }

    uint64_t magnitude;
    bool negative;
    const char *why = parse_number(text, &magnitude, &negative);
    if (why != NULL)
        return why;
    uint64_t v = magnitude;
    if (d->kind == VALUE_SIZE) {
        if (negative && magnitude != 0)
            return "must not be negative";
    } else {
        /* Anything beyond int64 is certainly outside an int range. */
        if (magnitude > (uint64_t)INT64_MAX + (negative ? 1 : 0))
            return "out of range";
        v = negative ? (uint64_t)0 - magnitude : magnitude;
    }
    if (!in_range(d, v))
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
static bool try_env_value(const struct option_desc *d, const char *name, const char *text)
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
    const char *pm_text[OPTION_COUNT] = {NULL};
    const char *glibc_text[OPTION_COUNT] = {NULL};
    for (char **e = environ; *e != NULL; e++) {
        const char *entry = *e;
        /* every name of ours starts with one of these */
        if (strncmp(entry, "PMALLOC_", 8) != 0 && strncmp(entry, "MALLOC_", 7) != 0)
            continue;
        for (size_t i = 0; i < OPTION_COUNT; i++) {
            const struct option_desc *d = &option_table[i];
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
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const struct option_desc *d = &option_table[i];
        if (pm_text[i] != NULL && try_env_value(d, d->name, pm_text[i]))
            continue;
        if (glibc_text[i] != NULL)
            try_env_value(d, d->glibc_name, glibc_text[i]);
    }
}
