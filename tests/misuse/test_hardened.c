/* The hardened mode (PMALLOC_HARDENED=1): each misuse it exists to stop
 * is committed in a fresh process with the mode on, and must end in
 * SIGABRT with the hardened check's message; an overrun of a mapped block
 * must fault on its guard page; and ordinary work must run correctly, with
 * the tag hidden from malloc_usable_size. */
#include "death.h"
#include "misuse.h"

#include <pmalloc.h>

#define HARDENED "PMALLOC_HARDENED=1"

static void require_hardened(void)
{
    free(malloc(1));
    REQUIRE(pm_opt.hardened);
}

/* Overlapping chunks: a block's size field is enlarged so that freeing it
 * would hand its neighbour out again. */
static void enlarged_size(void)
{
    require_hardened();
    void *a = malloc(40);
    void *b = malloc(40);
    REQUIRE(a != NULL && b != NULL);
    death_expect_addr(a);
    *size_word(a) += 64;
    free(a);
}

/* One word past what malloc_usable_size allows lands on the tag. */
static void overrun_into_tag(void)
{
    require_hardened();
    char *a = malloc(100);
    REQUIRE(a != NULL);
    size_t usable = malloc_usable_size(a);
    death_expect_addr(a);
    memset(opaque(a), 'x', usable + 1);
    free(a);
}

static void quarantine_double_free(void)
{
    require_hardened();
    void *a = malloc(200);
    REQUIRE(a != NULL);
    free(a);
    death_expect_addr(a);
    free(opaque(a));
}

/* A write into a quarantined block is found when the block leaves the
 * quarantine, however many frees later. */
static void write_after_free(void)
{
    require_hardened();
    char *a = malloc(300);
    REQUIRE(a != NULL);
    free(a);
    ((char *)opaque(a))[17] = 1;
    death_expect_addr(a + 17);
    for (int i = 0; i < 3000; i++)
        free(malloc(64));
}

/* A fake chunk built in static memory, with a plausible header. */
static size_t fake_region[16] __attribute__((aligned(16)));

static void fake_chunk_outside_heap(void)
{
    require_hardened();
    fake_region[1] = 0x40 | PM_PREV_INUSE;
    fake_region[1 + 8] = 0x40 | PM_PREV_INUSE;
    void *fake = &fake_region[2];
    death_expect_addr(fake);
    free(opaque(fake));
}

/* The same fake in a thread arena's clothing: the flag names a sub-heap
 * that does not exist. */
static void fake_thread_chunk(void)
{
    require_hardened();
    fake_region[1] = 0x40 | PM_PREV_INUSE | PM_NON_MAIN_ARENA;
    void *fake = &fake_region[2];
    death_expect_addr(fake);
    free(opaque(fake));
}

static const struct death_case cases[] = {
    {"enlarged_size", enlarged_size, "free(): block size or trailing tag corrupted (hardened)", HARDENED},
    {"overrun_into_tag", overrun_into_tag, "free(): block size or trailing tag corrupted (hardened)",
     HARDENED},
    {"quarantine_double_free", quarantine_double_free,
     "free(): double free detected in quarantine (hardened)", HARDENED},
    {"write_after_free", write_after_free, "write after free detected (hardened)", HARDENED},
    {"fake_chunk_outside_heap", fake_chunk_outside_heap,
     "free(): pointer is not a block of this heap (hardened)", HARDENED},
    {"fake_thread_chunk", fake_thread_chunk, "free(): pointer is not a block of this heap (hardened)",
     HARDENED},
};

/* Runs in a child with the mode on: an overrun of a mapped block must hit
 * the guard page at once (SIGSEGV), where the normal mode would carry on. */
static void guard_page_child(void)
{
    require_hardened();
    size_t n = 300 * 1024;
    char *m = malloc(n);
    REQUIRE(m != NULL && chunk_is_mmapped(hdr(m)));
    size_t end = align_up((uintptr_t)m + malloc_usable_size(m), pm_page_size()) - (uintptr_t)m;
    ((volatile char *)m)[end] = 1;
    _exit(0);
}

/* Ordinary work with the mode on: contents survive, every block's usable
 * size excludes the tag, the walker finds nothing wrong. */
static int workload_child(void)
{
    require_hardened();
    enum { SLOTS = 512 };
    static unsigned char *slot[SLOTS];
    static size_t len[SLOTS];
    uint64_t r = 99;
    for (int step = 0; step < 60000; step++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        unsigned i = (unsigned)(r >> 33) % SLOTS;
        size_t n = (size_t)(r >> 45) % (step % 7 == 0 ? 200000 : 2000);
        if (slot[i] != NULL) {
            for (size_t k = 0; k < len[i]; k += 97)
                if (slot[i][k] != (unsigned char)(i + k))
                    return 10;
        }
        if (step % 3 == 0 && slot[i] != NULL) {
            unsigned char *q = realloc(slot[i], n + 1);
            if (q == NULL)
                return 11;
            size_t keep = len[i] < n + 1 ? len[i] : n + 1;
            for (size_t k = 0; k < keep; k += 97)
                if (q[k] != (unsigned char)(i + k))
                    return 12;
            slot[i] = q;
        } else {
            free(slot[i]);
            slot[i] = step % 5 == 0 ? memalign(64, n + 1) : (step % 4 == 0 ? calloc(1, n + 1) : malloc(n + 1));
            if (slot[i] == NULL)
                return 13;
        }
        len[i] = n + 1;
        if (malloc_usable_size(slot[i]) < len[i] || malloc_usable_size(slot[i]) > len[i] + 64 * 1024)
            return 14;
        for (size_t k = 0; k < len[i]; k += 97)
            slot[i][k] = (unsigned char)(i + k);
        if (step % 10000 == 0 && pmalloc_check() != 0)
            return 15;
    }
    for (unsigned i = 0; i < SLOTS; i++)
        free(slot[i]);
    return pmalloc_check() == 0 ? 0 : 16;
}

static int run_child_mode(const char *self, const char *mode)
{
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        setenv("PMALLOC_HARDENED", "1", 1);
        char *argv[] = {(char *)self, (char *)mode, NULL};
        execv(self, argv);
        _exit(127);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    return status;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--guard") == 0)
        guard_page_child();
    if (argc == 2 && strcmp(argv[1], "--workload") == 0)
        return workload_child();
    if (argc == 1) {
        char self[4096];
        ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
        REQUIRE(len > 0);
        self[len] = '\0';
        int st = run_child_mode(self, "--guard");
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
        st = run_child_mode(self, "--workload");
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
            fprintf(stderr, "workload child: status %#x\n", st);
    }
    return death_main(argc, argv, cases, sizeof cases / sizeof cases[0], "test_hardened");
}
