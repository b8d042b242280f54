/* core.spawn_join: spawn a trivial task and join it, one after another; ns
 * per spawn + join. Default stack size (the pool reuses the stack).
 * Peer: peer_spawn_join.py (create_task + await). */
#include "common/bench.h"

#include <cio.h>

#define REPS 5

static int trivial(void *arg)
{
    (void)arg;
    return 0;
}

static int bench_main(void *arg)
{
    long n = *(long *)arg;
    double samples[REPS];
    for (int r = 0; r < REPS; r++) {
        int64_t t0 = bench_now_ns();
        for (long i = 0; i < n; i++)
            BENCH_CHECK(cio_join(cio_spawn(trivial, NULL)));
        samples[r] = (double)(bench_now_ns() - t0) / (double)n;
    }
    bench_emit("core.spawn_join", "cio", bench_median(samples, REPS), "ns", "lower");
    return 0;
}

int main(int argc, char **argv)
{
    long n = bench_size(argc, argv, 2000000, 50000);
    return cio_run(bench_main, &n) == 0 ? 0 : 1;
}
