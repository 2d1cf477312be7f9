/* A C program that allocates only through strdup: it names no function of
 * the malloc family, so nothing in it makes a linker keep -lpmalloc or pull
 * pmalloc's objects out of libpmalloc.a (pkgconfig.sh links it both ways).
 * With an argument it prints "ready" once its block is allocated and waits
 * for standard input to close, so a heap viewer can read it live.  The
 * block (PKG_BLOCK bytes) is never freed: free would name the family. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PKG_BLOCK 7777

static char text[PKG_BLOCK + 1];

int main(int argc, char **argv)
{
    (void)argv;
    /* Filled at run time, so the compiler cannot turn strdup into malloc. */
    memset(text, 'p', PKG_BLOCK);
    char *copy = strdup(text);
    if (copy == NULL || strlen(copy) != PKG_BLOCK) {
        fputs("pkg_strdup: strdup failed\n", stderr);
        return 1;
    }
    if (argc > 1) {
        puts("ready");
        fflush(stdout);
        char buf[64];
        while (read(STDIN_FILENO, buf, sizeof buf) > 0)
            ;
    }
    printf("copied %zu bytes\n", strlen(copy));
    return 0;
}
