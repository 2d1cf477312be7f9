/* Death tests for realloc() (src/api_realloc.c, src/realloc.c), mmapped chunks
 * (src/mmap_chunk.c: munmap_chunk / mremap_chunk), the check action
 * (M_CHECK_ACTION, MALLOC_CHECK_, PMALLOC_CHECK_ACTION: bit 0 prints, the
 * abort always happens), the debug mode's heap walker (PMALLOC_CHECK=1)
 * and the per-process safe-linking secret. */
#include "misuse.h"

/* ---- realloc ---- */

static void realloc_misaligned(void)
{
    char *p = malloc(64);
    *word(p, 0) = 0x50 | PM_PREV_INUSE;
    death_expect_addr(p + 8);
    (void)!realloc(opaque(p + 8), 100);
}

static void realloc_wraps(void)
{
    void *p = malloc(64);
    *size_word(p) = ((size_t)0 - 0x100) | PM_PREV_INUSE;
    death_expect_addr(p);
    (void)!realloc(p, 100);
}

static void realloc_with_size(size_t forged)
{
    void *p = malloc(200);
    guard();
    *size_word(p) = forged | PM_PREV_INUSE;
    death_expect_addr(p);
    (void)!realloc(p, 300);
}
static void realloc_old_size_small(void) { realloc_with_size(0x8); }
static void realloc_old_size_huge(void) { realloc_with_size((size_t)1 << 40); }

/* A block whose in-use neighbour's size was overwritten. */
static void *next_size_forged(size_t forged)
{
    void *p, *q;
    neighbours(&p, 200, &q, 200);
    *next_size_word(p) = forged | PM_PREV_INUSE;
    death_expect_addr(p);
    return p;
}

static void realloc_next_size(void) { (void)!realloc(next_size_forged(0x8), 300); }

/* a shrink checks too */
static void realloc_next_size_huge(void) { (void)!realloc(next_size_forged((size_t)1 << 40), 100); }

/* a block growing into top checks top's size (the short way hands it on) */
static void realloc_top_size_huge(void)
{
    void *p = block_before_top(200);
    *next_size_word(p) = ((size_t)1 << 40) | PM_PREV_INUSE;
    death_expect_addr(p);
    (void)!realloc(opaque(p), 400);
}

/* ---- mmapped chunks ---- */

static void *mapped_block(void)
{
    void *m = malloc(MiB);
    REQUIRE(m != NULL && chunk_is_mmapped(hdr(m)));
    return m;
}

/* A heap block whose header was rewritten to claim IS_MMAPPED. */
static void munmap_forged_flag(void)
{
    void *p = malloc(200);
    guard();
    *prev_size_word(p) = ((uintptr_t)hdr(p) & (pm_page_size() - 1)) == 0 ? 16 : 0;
    *size_word(p) = 0x2000 | PM_IS_MMAPPED;
    death_expect_addr(p);
    free(p);
}

/* A fake mmapped chunk built inside a real mapping, page-aligned and with
 * a plausible offset: the link record it leads to is another chunk's. */
static void munmap_forged_in_mapping(void)
{
    void *m = mapped_block();
    char *map = (char *)hdr(m) - *prev_size_word(m);
    size_t offset = pm_page_size() + 32;
    mchunk *f = (mchunk *)(map + offset);
    f->prev_size = offset;
    f->size = (2 * pm_page_size() - offset) | PM_IS_MMAPPED;
    death_expect_addr(chunk_mem(f));
    free(opaque(chunk_mem(f)));
}

/* The size of a real mmapped chunk was changed: its mapping's length is
 * no longer a whole number of pages. */
static void munmap_size_changed(void)
{
    void *m = mapped_block();
    *size_word(m) += 16;
    death_expect_addr(m);
    free(m);
}

static void munmap_prev_size_changed(void)
{
    void *m = mapped_block();
    *prev_size_word(m) += pm_page_size() / 2;
    death_expect_addr(m);
    free(m);
}

static void mremap_size_changed(void)
{
    void *m = mapped_block();
    *size_word(m) += 16;
    death_expect_addr(m);
    (void)!realloc(m, 3 * MiB);
}

/* ---- the check action ---- */

static void tcache_double_free(void)
{
    void *a = malloc(24);
    free(a);
    free(opaque(a));
}

static void action_0(void) { REQUIRE(mallopt(M_CHECK_ACTION, 0) == 1); tcache_double_free(); }
static void action_1(void) { REQUIRE(mallopt(M_CHECK_ACTION, 1) == 1); tcache_double_free(); }
static void action_2(void) { REQUIRE(mallopt(M_CHECK_ACTION, 2) == 1); tcache_double_free(); }
static void action_3(void) { REQUIRE(mallopt(M_CHECK_ACTION, 3) == 1); tcache_double_free(); }
static void action_env(void) { tcache_double_free(); }

/* The check action also applies to aborts deep in the arena. */
static void action_0_arena(void)
{
    REQUIRE(mallopt(M_CHECK_ACTION, 0) == 1);
    free(opaque(freed_between_guards(200)));
}

/* ---- the debug mode's walker ---- */

/* An overflow sets NON_MAIN_ARENA on a neighbour; no call's own checks
 * look at that chunk, but the walker that PMALLOC_CHECK=1 runs after
 * every call does. */
static void walker_after_call(void)
{
    void *a;
    (void)walker_neighbours(&a);
    *next_size_word(a) |= PM_NON_MAIN_ARENA;
    (void)!malloc(16);
}

static const char walker_check[] = "NON_MAIN_ARENA flag does not match the arena";

static const struct death_case cases[] = {
    DEATH_CASE(realloc_misaligned, "realloc(): invalid pointer"),
    DEATH_CASE(realloc_wraps, "realloc(): invalid pointer"),
    DEATH_CASE(realloc_old_size_small, "realloc(): invalid old size"),
    DEATH_CASE(realloc_old_size_huge, "realloc(): invalid old size"),
    DEATH_CASE(realloc_next_size, "realloc(): invalid next size"),
    DEATH_CASE(realloc_next_size_huge, "realloc(): invalid next size"),
    DEATH_CASE(realloc_top_size_huge, "realloc(): invalid next size"),
    DEATH_CASE(munmap_forged_flag, "munmap_chunk(): invalid pointer"),
    DEATH_CASE(munmap_forged_in_mapping, "munmap_chunk(): invalid pointer"),
    DEATH_CASE(munmap_size_changed, "munmap_chunk(): invalid pointer"),
    DEATH_CASE(munmap_prev_size_changed, "munmap_chunk(): invalid pointer"),
    DEATH_CASE(mremap_size_changed, "mremap_chunk(): invalid pointer"),
    {"check_action_0_silent", action_0, NULL, NULL},
    {"check_action_1_prints", action_1, "free(): double free detected in tcache 2", NULL},
    {"check_action_2_silent", action_2, NULL, NULL},
    {"check_action_3_prints", action_3, "free(): double free detected in tcache 2", NULL},
    {"check_action_0_arena_silent", action_0_arena, NULL, NULL},
    {"env_MALLOC_CHECK_0_silent", action_env, NULL, "MALLOC_CHECK_=0"},
    {"env_MALLOC_CHECK_2_silent", action_env, NULL, "MALLOC_CHECK_=2"},
    {"env_MALLOC_CHECK_3_prints", action_env, "free(): double free detected in tcache 2", "MALLOC_CHECK_=3"},
    {"env_PMALLOC_CHECK_ACTION_0_silent", action_env, NULL, "PMALLOC_CHECK_ACTION=0"},
    {"env_PMALLOC_CHECK_ACTION_1_prints", action_env, "free(): double free detected in tcache 2",
     "PMALLOC_CHECK_ACTION=1"},
    {"walker_after_call", walker_after_call, walker_check, "PMALLOC_CHECK=1"},
};

/* ---- the safe-linking secret ---- */

/* Two fresh processes must not share the secret (a fork child does, as
 * in glibc: its heap is a copy). */
static bool read_secret(const char *self, uintptr_t *out)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "'%s' --print-secret", self);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return false;
    unsigned long long s = 0;
    int n = fscanf(p, "%llx", &s);
    pclose(p);
    *out = (uintptr_t)s;
    return n == 1;
}

static void secret_per_process(void)
{
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    REQUIRE(len > 0);
    self[len] = '\0';
    uintptr_t a, b;
    REQUIRE(read_secret(self, &a));
    REQUIRE(read_secret(self, &b));
    CHECK(a != 0 && b != 0);
    CHECK(a != b);
    CHECK(pm_chunk_secret != a && pm_chunk_secret != b);

    /* A fast chunk's stored link differs from what glibc's scheme alone
     * (slot >> 12) would store: the secret is in it. */
    REQUIRE(mallopt(PMALLOC_M_TCACHE_COUNT, 0) == 1);
    void *x = malloc(24), *g = malloc(24);
    free(x);
    mchunk *p = hdr(x);
    CHECK((uintptr_t)chunk_fd(p) != ((uintptr_t)chunk_fd_slot(p) >> 12));
    CHECK(link_reveal(chunk_fd_slot(p), chunk_fd(p)) == NULL || ptr_aligned(link_reveal(chunk_fd_slot(p), chunk_fd(p))));
    free(g);
    REQUIRE(mallopt(PMALLOC_M_TCACHE_COUNT, 7) == 1);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--print-secret") == 0) {
        free(malloc(1)); /* initialised */
        printf("%llx\n", (unsigned long long)pm_chunk_secret);
        return 0;
    }
    if (argc == 1)
        secret_per_process();
    return death_main(argc, argv, cases, sizeof cases / sizeof cases[0], "test_death_other");
}
