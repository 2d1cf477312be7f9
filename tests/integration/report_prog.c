/* Run by report.sh with PMALLOC_STATS: leaves known amounts in each place
 * the report names, then exits.  LIVE MiB stay in use (touched), FREED MiB
 * are freed in large blocks that stay in the bins (every other block, so
 * they cannot merge into top), and one MAPPED MiB block is mapped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024 * 1024)

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    size_t live = strtoul(argv[1], NULL, 10), freed = strtoul(argv[2], NULL, 10);
    size_t mapped = strtoul(argv[3], NULL, 10);
    /* 64 KiB blocks: below the mmap threshold, above every cache size */
    enum { BLOCK = 64 * 1024 };
    size_t n = (live + freed) * MIB / BLOCK;
    char **blocks = calloc(n, sizeof *blocks);
    if (blocks == NULL)
        return 2;
    for (size_t i = 0; i < n; i++) {
        blocks[i] = malloc(BLOCK);
        if (blocks[i] == NULL)
            return 2;
        memset(blocks[i], 1, BLOCK);
    }
    /* free the first `freed` MiB worth as every other block, so each
     * freed block is fenced by live ones */
    size_t to_free = freed * MIB / BLOCK;
    for (size_t i = 0, done = 0; i < n && done < to_free; i += 2, done++) {
        free(blocks[i]);
        blocks[i] = NULL;
    }
    char *big = malloc(mapped * MIB);
    if (big == NULL)
        return 2;
    memset(big, 1, mapped * MIB);
    /* the compiler must not drop the writes: they make the pages resident */
    __asm__ volatile("" : : "r"(big), "r"(blocks) : "memory");
    printf("ready\n");
    return 0;
}
