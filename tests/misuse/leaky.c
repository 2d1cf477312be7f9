/* A program with known memory errors, for tests/misuse/memcheck.sh: it is
 * run under valgrind's memcheck with pmalloc preloaded, and memcheck must
 * report the same errors as it does with glibc's malloc.
 *
 *   leaky leaks    leaks 3 blocks (111 + 2222 + 33333 bytes, "definitely
 *                  lost"), reads 1 byte past a 10-byte block, reads a
 *                  freed block, and frees everything else;
 *   leaky badfree  frees a block twice, and frees a pointer into the
 *                  middle of a block (memcheck reports both as invalid
 *                  frees and lets the program go on).
 * The exit status is 0; memcheck's --error-exitcode says whether it saw
 * errors.  Not linked with pmalloc: it gets it only through LD_PRELOAD. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Hides pointers from the compiler, which would otherwise warn about (or
 * remove) the misuse. */
static void *opaque(void *p)
{
    __asm__ volatile("" : "+r"(p));
    return p;
}

static volatile unsigned char sink;

/* The blocks are lost once this frame is gone. */
__attribute__((noinline)) static void leak(size_t n)
{
    unsigned char *p = malloc(n);
    if (p == NULL)
        exit(2);
    memset(p, 1, n);
    sink = p[n - 1];
    p = opaque(NULL);
}

__attribute__((noinline)) static void leaks(void)
{
    leak(111);
    leak(2222);
    leak(33333);

    unsigned char *p = malloc(10);
    if (p == NULL)
        exit(2);
    memset(p, 2, 10);
    sink = ((unsigned char *)opaque(p))[10]; /* 1 byte past the end */

    unsigned char *q = malloc(64);
    if (q == NULL)
        exit(2);
    memset(q, 3, 64);
    free(q);
    sink = ((unsigned char *)opaque(q))[8]; /* use after free */

    /* ordinary work that must not be reported */
    void *v[100];
    for (int i = 0; i < 100; i++) {
        v[i] = malloc((size_t)(i * 37 % 3000) + 1);
        if (v[i] == NULL)
            exit(2);
        memset(v[i], i, (size_t)(i * 37 % 3000) + 1);
    }
    for (int i = 0; i < 100; i += 2)
        v[i] = realloc(v[i], (size_t)i * 50 + 8);
    for (int i = 0; i < 100; i++)
        free(v[i]);
    void *c = calloc(100, 100);
    free(c);
    void *big = malloc(1 << 20);
    memset(big, 4, 1 << 20);
    free(big);
    free(p);
}

__attribute__((noinline)) static void badfree(void)
{
    char *p = malloc(40);
    char *q = malloc(4000);
    if (p == NULL || q == NULL)
        exit(2);
    memset(p, 5, 40);
    memset(q, 6, 4000);
    free(p);
    free(opaque(p)); /* double free */
    free(opaque(q + 16)); /* not the start of a block */
    free(q);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "leaks") == 0)
        leaks();
    else if (argc == 2 && strcmp(argv[1], "badfree") == 0)
        badfree();
    else {
        fprintf(stderr, "usage: %s leaks|badfree\n", argv[0]);
        return 2;
    }
    return 0;
}
