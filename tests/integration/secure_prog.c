/* Linked fully static with pmalloc by tests/integration/local.mk and run by
 * secure.sh, once as an ordinary program and once set-user-ID root by an
 * unprivileged user.  It prints whether the kernel ran it in secure mode
 * (AT_SECURE), its effective uid, and the first byte of a fresh block:
 * with PMALLOC_PERTURB=0x55 read, a new block is filled with 0xaa, so the
 * byte tells whether pmalloc read its environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <pmalloc.h>

int main(int argc, char **argv)
{
    (void)argv;
    /* Names the snapshot code, so a static link holds its at-exit writer
     * whatever the library's own references. */
    if (argc > 1)
        return pmalloc_snapshot(1) == 0 ? 0 : 3;
    unsigned char *p = malloc(4000);
    if (p == NULL)
        return 2;
    /* The byte is read as the allocator left it: hide from the compiler
     * that the block is fresh from malloc. */
    __asm__("" : "+r"(p));
    unsigned first = p[0];
    printf("secure=%lu euid=%lu first_byte=0x%02x\n", getauxval(AT_SECURE), (unsigned long)geteuid(),
           first);
    free(p);
    /* leave something in the heap for a snapshot to show */
    char *keep = strdup("still here at exit");
    return keep == NULL ? 2 : 0;
}
