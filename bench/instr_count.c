/* Runs N iterations of one micro case, for counting instructions with
 * callgrind:
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *       bench/instr_count CASE N
 *
 * The driver runs it with N and with 0 under each allocator; both runs do
 * the same set-up, warm-up and tear-down, so
 *   (instructions(N) - instructions(0)) / calls
 * is the cost of one allocator call plus the few instructions of the loop
 * around it.  CASE is a short name from micro_cases.c (pair16, pair64,
 * pair512, batch, mixed, ...).  Prints "calls=C" (malloc-family plus free
 * calls in the counted part) on stdout. */
#include "micro_cases.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s CASE N\ncases:", argv[0]);
        for (size_t i = 0; i < pm_micro_ncases; i++)
            if (pm_micro_cases[i].short_name && !pm_micro_cases[i].threaded)
                fprintf(stderr, " %s", pm_micro_cases[i].short_name);
        fputc('\n', stderr);
        return 2;
    }
    const struct pm_micro_case *c = pm_micro_find(argv[1]);
    if (!c || c->threaded) {
        fprintf(stderr, "%s: unknown case %s\n", argv[0], argv[1]);
        return 2;
    }
    char *end;
    unsigned long long n = strtoull(argv[2], &end, 10);
    if (*end || argv[2][0] == '-') {
        fprintf(stderr, "%s: bad count %s\n", argv[0], argv[2]);
        return 2;
    }
    /* Round up to whole batches. */
    uint64_t iters = (n + c->batch - 1) / c->batch * c->batch;
    struct pm_micro_ctx ctx = { 0, 1 };

    if (c->setup)
        c->setup(c->arg);
    /* Warm-up: first-use costs (arena and thread-cache creation, the first
     * heap growth) land in both runs and cancel out. */
    c->fn(&ctx, c->arg, c->batch * 4);
    if (iters)
        c->fn(&ctx, c->arg, iters);
    if (c->teardown)
        c->teardown(c->arg);

    printf("case=%s iters=%" PRIu64 " calls=%" PRIu64 "\n", argv[1], iters,
           iters * pm_micro_calls(c));
    return 0;
}
