/* The allocation profile's table of sampled blocks (prof.c): records are
 * kept dense at its front and a freed sample's record is used again, so
 * the table's pages follow the live samples; every live sample has one
 * record, found again when its block is freed or resized.  The program
 * runs itself with PMALLOC_PROF=1 and every block sampled. */
#include "../helpers.h"

#include "prof.h"

#define N 2000
#define BLOCK 100

/* Records in use (chunk not 0) among the first live_cap, and whether
 * one of them names chunk c. */
static size_t records_in_use(void)
{
    const struct pm_prof_live *live = (const struct pm_prof_live *)(uintptr_t)pm_prof_header.live;
    size_t n = 0;
    for (uint32_t i = 0; i < pm_prof_header.live_cap; i++)
        n += live[i].chunk != 0;
    return n;
}
static bool has_record(void *mem)
{
    const struct pm_prof_live *live = (const struct pm_prof_live *)(uintptr_t)pm_prof_header.live;
    for (uint32_t i = 0; i < pm_prof_header.live_cap; i++)
        if (live[i].chunk == (uintptr_t)mem_chunk(mem))
            return true;
    return false;
}

int main(int argc, char **argv)
{
    (void)argc;
    if (getenv("PMALLOC_PROF") == NULL) {
        setenv("PMALLOC_PROF", "1", 1);
        setenv("PMALLOC_PROF_SAMPLE", "1", 1);
        execv("/proc/self/exe", argv);
        perror("execv /proc/self/exe");
        return 99;
    }
    REQUIRE(pm_prof_on);
    static void *b[N];
    uint64_t base = pm_prof_header.nlive;
    for (int i = 0; i < N; i++)
        REQUIRE((b[i] = malloc(BLOCK)) != NULL);
    CHECK_HEAP();
    CHECK(pm_prof_header.nlive == base + N);
    CHECK(records_in_use() == pm_prof_header.nlive);
    CHECK(has_record(b[0]) && has_record(b[N - 1]));
    uint32_t cap = pm_prof_header.live_cap;
    /* dense: no more records than samples ever live at once */
    CHECK(cap == pm_prof_header.nlive);

    for (int i = 0; i < N; i += 2)
        free(b[i]);
    CHECK_HEAP();
    CHECK(pm_prof_header.nlive == base + N / 2);
    CHECK(records_in_use() == pm_prof_header.nlive);
    CHECK(!has_record(b[0]) || b[0] == b[1]); /* freed: gone (b[0] is not reused yet) */
    CHECK(has_record(b[1]) && has_record(b[N - 1]));

    /* new samples take the vacant records: the table does not grow */
    for (int i = 0; i < N; i += 2)
        REQUIRE((b[i] = malloc(BLOCK)) != NULL);
    CHECK_HEAP();
    CHECK(pm_prof_header.nlive == base + N);
    CHECK(pm_prof_header.live_cap == cap);
    CHECK(records_in_use() == pm_prof_header.nlive);
    for (int i = 0; i < N; i++)
        CHECK(has_record(b[i]));

    /* a resized block is a new sample; the old one's record goes */
    void *r = realloc(b[5], 4 * BLOCK);
    REQUIRE(r != NULL);
    b[5] = r;
    CHECK(has_record(r));
    CHECK(pm_prof_header.nlive == base + N);

    for (int i = 0; i < N; i++)
        free(b[i]);
    CHECK_HEAP();
    CHECK(pm_prof_header.nlive == base);
    CHECK(records_in_use() == pm_prof_header.nlive);
    return test_finish("test_prof_table");
}
