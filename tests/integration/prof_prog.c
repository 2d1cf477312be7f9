/* Known allocation sites for prof.sh: grow_large allocates 64 MiB in
 * 4000-byte blocks, grow_small 16 MiB in 64-byte blocks and clear_some
 * 12 MiB in 64-byte blocks from calloc (each a hit in the thread cache
 * but the first), freeing each;
 * leak_some keeps 8 MiB in 1000-byte blocks; pin_pages leaves 100 small
 * 200-byte blocks (a size nothing else uses, so none is recycled) alone
 * on otherwise free heap pages. */
#include <stdlib.h>
#include <string.h>

#define MIB (1024 * 1024)
#define PINNED 100

static void *volatile sink;
/* volatile: the compiler must not drop allocations nothing reads */
void *volatile kept[8 * MIB / 1000 + 1];
void *volatile pins[PINNED];

__attribute__((noinline)) static void grow_large(void)
{
    for (int i = 0; i < 64 * MIB / 4000; i++) {
        sink = malloc(4000);
        free(sink);
    }
}

__attribute__((noinline)) static void grow_small(void)
{
    for (int i = 0; i < 16 * MIB / 64; i++) {
        sink = malloc(64);
        free(sink);
    }
}

__attribute__((noinline)) static void clear_some(void)
{
    for (int i = 0; i < 12 * MIB / 64; i++) {
        /* each block was the last one, dirtied: calloc must clear a
         * cache hit while profiling too */
        unsigned char *p = calloc(1, 64);
        for (int k = 0; k < 64; k++)
            if (p[k] != 0)
                abort();
        memset(p, 0xa5, 64);
        sink = p;
        free(p);
    }
}

__attribute__((noinline)) static void leak_some(void)
{
    for (size_t i = 0; i < sizeof kept / sizeof kept[0] - 1; i++)
        kept[i] = malloc(1000);
}

/* Each small block sits between two 8000-byte ones, which are freed: a
 * page-sized gap on either side of it. */
__attribute__((noinline)) static void pin_pages(void)
{
    void *big[PINNED + 1];
    big[0] = malloc(8000);
    for (int i = 0; i < PINNED; i++) {
        pins[i] = malloc(200);
        big[i + 1] = malloc(8000);
    }
    for (int i = 0; i <= PINNED; i++)
        free(big[i]);
}

/* "pin" runs pin_pages alone, on a fresh heap, so its pieces come from
 * the top in order and nothing later fills the gaps. */
int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "pin") == 0) {
        pin_pages();
        memset(pins[0], 0, 200);
        return 0;
    }
    grow_large();
    grow_small();
    clear_some();
    leak_some();
    pin_pages();
    memset(pins[0], 0, 200);
    return 0;
}
