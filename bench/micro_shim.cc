// Registers the C benchmark bodies of micro_cases.c with google-benchmark.
// The binary links no allocator of its own, so LD_PRELOAD decides which
// malloc every case measures; the driver runs it once per allocator.
//
// Items per second count iterations of a case (see micro_cases.h); the
// "calls" counter is allocator calls per second.
#include <benchmark/benchmark.h>

#include "micro_cases.h"

namespace {

void run_case(benchmark::State &state, const pm_micro_case *c)
{
    pm_micro_ctx ctx;
    ctx.thread_index = state.thread_index();
    ctx.threads = state.threads();
    if (c->setup)
        c->setup(c->arg);
    while (state.KeepRunningBatch(static_cast<benchmark::IterationCount>(c->batch)))
        c->fn(&ctx, c->arg, c->batch);
    if (c->teardown)
        c->teardown(c->arg);
    state.SetItemsProcessed(state.iterations());
    state.counters["calls"] = benchmark::Counter(
        static_cast<double>(state.iterations()) * pm_micro_calls(c),
        benchmark::Counter::kIsRate);
}

} // namespace

int main(int argc, char **argv)
{
    for (size_t i = 0; i < pm_micro_ncases; i++) {
        const pm_micro_case *c = &pm_micro_cases[i];
        benchmark::internal::Benchmark *b =
            benchmark::RegisterBenchmark(c->name, run_case, c);
        if (c->threaded)
            b->Threads(1)->Threads(2)->Threads(4)->Threads(8)->UseRealTime();
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
