/* When a large free trims top (sysmalloc.h, pm_free_trim_due): once the
 * program has raised the dynamic trim threshold, only a top past twice
 * the threshold, and down to the threshold, and the idle return gives
 * the rest back after the decay's delay (a decay of -1 keeps it); a
 * threshold set by hand, or a decay of 0 (give back at once), trim down
 * to top_pad whenever top passes the threshold, as glibc does. */
#include <unistd.h>

#include "../helpers.h"
#include "../../src/trim.h"

#define MAX_BLOCKS 16

static size_t top_now(void) { return chunk_size(MAIN->top); }

/* Top after pm_systrim(pad): more than pad and a minimal chunk, by at
 * most a page. */
static bool top_trimmed_to(size_t pad)
{
    size_t top = top_now();
    if (top > pad + PM_MINSIZE && top <= pad + PM_MINSIZE + pm_page_size())
        return true;
    fprintf(stderr, "top %zu, expected just above %zu\n", top, pad + PM_MINSIZE);
    return false;
}

/* n blocks of 1 MiB from the heap (below the raised mmap threshold),
 * written, then freed: the last free merges all of them into top.
 * Returns the break before the frees. */
static char *grow_and_free(int n)
{
    void *b[MAX_BLOCKS];
    REQUIRE(n <= MAX_BLOCKS);
    for (int i = 0; i < n; i++) {
        b[i] = malloc(MiB);
        REQUIRE(b[i] != NULL && !chunk_is_mmapped(hdr(b[i])));
        memset(b[i], i + 1, MiB);
    }
    REQUIRE(chunk_next(hdr(b[n - 1])) == MAIN->top);
    char *high = sbrk(0);
    for (int i = 0; i < n; i++) {
        free(b[i]);
        CHECK_HEAP();
    }
    return high;
}

static void test_dynamic_threshold_keeps(void)
{
    /* a mapped block of 2 MiB freed raises the thresholds (facts §5) */
    void *m = malloc(2 * MiB);
    REQUIRE(m != NULL && chunk_is_mmapped(hdr(m)));
    free(m);
    REQUIRE(!pm_opt.no_dyn_threshold);
    size_t threshold = pm_opt.trim_threshold;
    CHECK(threshold >= 4 * MiB && threshold < 5 * MiB);

    /* past the threshold, short of twice it: nothing goes back */
    char *high = grow_and_free(6);
    CHECK((char *)sbrk(0) == high);
    CHECK(top_now() > threshold && top_now() < 2 * threshold);

    /* past twice the threshold: top goes back down to the threshold */
    high = grow_and_free(10);
    CHECK((char *)sbrk(0) < high);
    CHECK(top_trimmed_to(threshold));
    CHECK((char *)MAIN->top + top_now() == (char *)sbrk(0));

    /* A block cut from top leaves it below the threshold, where no free
     * trims it.  Idle for the decay's delay, the arena gives top back down
     * to top_pad all the same.  The first look only starts the idle
     * clock. */
    void *hold = malloc(512 * KiB);
    REQUIRE(hold != NULL && !chunk_is_mmapped(hdr(hold)));
    CHECK(top_now() < threshold);
    pm_opt.decay_ms = 20;
    for (int i = 0; i < 200 && top_now() > pm_opt.top_pad + PM_MINSIZE + pm_page_size(); i++) {
        pm_trim_idle_step();
        usleep(10 * 1000);
    }
    CHECK(top_trimmed_to(pm_opt.top_pad));
    CHECK((char *)MAIN->top + top_now() == (char *)sbrk(0));
    CHECK_HEAP();
    free(hold);
    CHECK_HEAP();
}

static void test_glibc_rule(void)
{
    /* a decay of 0 gives back at once: nothing left for an idle return */
    pm_opt.decay_ms = 0;
    size_t threshold = pm_opt.trim_threshold;
    char *high = grow_and_free(6);
    CHECK(top_now() < threshold);
    CHECK((char *)sbrk(0) < high);
    CHECK(top_trimmed_to(pm_opt.top_pad));

    /* a decay of -1 keeps free memory: it keeps what a delay would */
    pm_opt.decay_ms = -1;
    high = grow_and_free(6);
    CHECK((char *)sbrk(0) == high);
    CHECK(top_now() > threshold);
    malloc_trim(0);
    CHECK(top_trimmed_to(0));

    /* a threshold set by hand is glibc's: trim to top_pad */
    pm_opt.decay_ms = PM_DEFAULT_DECAY_MS;
    REQUIRE(mallopt(M_TRIM_THRESHOLD, 4 << 20) == 1);
    REQUIRE(pm_opt.no_dyn_threshold);
    high = grow_and_free(6);
    CHECK((char *)sbrk(0) < high);
    CHECK(top_trimmed_to(pm_opt.top_pad));
    CHECK_HEAP();
}

int main(void)
{
    no_tcache();
    CHECK_HEAP();
    test_dynamic_threshold_keeps();
    test_glibc_rule();
    return test_finish("test_trim_keep");
}
