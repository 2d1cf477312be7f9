/* pmalloc_snapshot on a corrupt heap: a wild bin link, an impossible
 * chunk size and a bin that loops on itself each give a snapshot marked
 * partial with the reason, never a crash or a hang.  Each case runs in
 * its own child, since the heap is left broken. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../harness.h"

static void corrupt_and_snapshot(int mode, int fd)
{
    mallopt(PMALLOC_M_TCACHE_COUNT, 0);
    char *a = malloc(200), *g = malloc(24), *b = malloc(200), *g2 = malloc(24);
    free(a);
    free(b);
    char *big = malloc(5000); /* a and b now sit in a small bin */
    uintptr_t *words = (uintptr_t *)a;
    /* through an integer: the compiler must not reason about malloc's bounds */
    volatile uintptr_t chunk = (uintptr_t)a - 16;
    size_t *hdr = (size_t *)chunk;
    if (mode == 0)
        words[0] = (uintptr_t)0xdeadbeef000; /* fd to nowhere */
    else if (mode == 1)
        hdr[1] = 0x7fff0;                    /* a size past the heap's end */
    else
        words[0] = words[1] = chunk; /* fd and bk to itself */
    _exit(pmalloc_snapshot(fd) == 0 && g && g2 && big ? 0 : 3);
}

int main(void)
{
    static const char *const reason[] = {"outside the arena's heaps", "impossible chunk size", "cycle"};
    for (int mode = 0; mode < 3; mode++) {
        char path[] = "/tmp/pmalloc-corruptXXXXXX";
        int fd = mkstemp(path);
        REQUIRE(fd >= 0);
        unlink(path);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            alarm(20);
            corrupt_and_snapshot(mode, fd);
        }
        int status;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        static char text[1 << 20];
        ssize_t n = pread(fd, text, sizeof text - 1, 0);
        close(fd);
        CHECK(n > 0);
        text[n > 0 ? n : 0] = 0;
        CHECK(strstr(text, "\"partial\":true") != NULL);
        CHECK(strstr(text, reason[mode]) != NULL);
        if (strstr(text, reason[mode]) == NULL)
            fprintf(stderr, "mode %d: no \"%s\" in the snapshot\n", mode, reason[mode]);
    }
    return test_finish("test_corrupt");
}
