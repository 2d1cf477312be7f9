/* Input for gcc_compile.sh: gcc compiles this file on glibc and on
 * pmalloc; the two compilers must print the same warnings and produce
 * programs that print the same thing.  It is deliberately a little
 * involved (a hash table, recursion, qsort, unions, variadic macros) so
 * that the compiler allocates a fair amount; the unused variable in main
 * is there on purpose, to make gcc write a warning. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_BITS 12
#define LOG(fmt, ...) printf("[%s] " fmt "\n", __func__, __VA_ARGS__)

struct entry {
    char *word;
    unsigned count;
    struct entry *next;
};

struct table {
    struct entry *slot[1u << TABLE_BITS];
    size_t size;
};

union number {
    uint64_t u;
    double d;
};

static uint32_t hash_word(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

static void table_add(struct table *t, const char *word)
{
    uint32_t i = hash_word(word) & ((1u << TABLE_BITS) - 1);
    for (struct entry *e = t->slot[i]; e; e = e->next)
        if (strcmp(e->word, word) == 0) {
            e->count++;
            return;
        }
    struct entry *e = malloc(sizeof *e);
    if (!e || !(e->word = strdup(word)))
        abort();
    e->count = 1;
    e->next = t->slot[i];
    t->slot[i] = e;
    t->size++;
}

static int by_count_then_word(const void *a, const void *b)
{
    const struct entry *x = *(const struct entry *const *)a;
    const struct entry *y = *(const struct entry *const *)b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->word, y->word);
}

static unsigned long ackermann(unsigned long m, unsigned long n)
{
    if (m == 0)
        return n + 1;
    if (n == 0)
        return ackermann(m - 1, 1);
    return ackermann(m - 1, ackermann(m, n - 1));
}

static void make_word(char *buf, unsigned seed)
{
    static const char syllables[][4] = {"ka", "lo", "mi", "ne", "ru", "shi", "to"};
    size_t len = 0;
    unsigned parts = 1 + seed % 3;
    for (unsigned i = 0; i < parts; i++) {
        const char *s = syllables[(seed >> (3 * i)) % 7];
        memcpy(buf + len, s, strlen(s));
        len += strlen(s);
    }
    buf[len] = '\0';
}

int main(void)
{
    int unused_on_purpose;
    struct table *t = calloc(1, sizeof *t);
    char word[16];
    unsigned seed = 12345;

    if (!t)
        return 1;
    for (int i = 0; i < 50000; i++) {
        seed = seed * 1103515245u + 12345u;
        make_word(word, seed >> 8);
        table_add(t, word);
    }
    struct entry **all = malloc(t->size * sizeof *all);
    size_t n = 0;
    if (!all)
        return 1;
    for (size_t i = 0; i < (1u << TABLE_BITS); i++)
        for (struct entry *e = t->slot[i]; e; e = e->next)
            all[n++] = e;
    qsort(all, n, sizeof *all, by_count_then_word);
    LOG("%zu distinct words", n);
    for (size_t i = 0; i < 5 && i < n; i++)
        LOG("%-8s %u", all[i]->word, all[i]->count);
    union number num = {.d = 1.0 / 3.0};
    LOG("bits of 1/3: %016llx", (unsigned long long)num.u);
    LOG("ackermann(2, 3) = %lu", ackermann(2, 3));
    for (size_t i = 0; i < n; i++) {
        free(all[i]->word);
        free(all[i]);
    }
    free(all);
    free(t);
    return 0;
}
