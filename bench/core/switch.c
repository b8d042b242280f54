/* core.switch: two tasks ping-pong through cio_yield(); ns per switch.
 *
 * Two tasks each call cio_yield() n times; with only the two of them ready,
 * every yield hands the CPU to the other task, so a run makes 2n switches.
 * Peer: peer_switch.py (asyncio.sleep(0)). Default stack size. */
#include "common/bench.h"

#include <cio.h>

#define REPS 5

static int yielder(void *arg)
{
    long n = *(long *)arg;
    for (long i = 0; i < n; i++)
        BENCH_CHECK(cio_yield());
    return 0;
}

static int bench_main(void *arg)
{
    long n = *(long *)arg;
    double samples[REPS];
    for (int r = 0; r < REPS; r++) {
        int64_t t0 = bench_now_ns();
        cio_task a = cio_spawn(yielder, &n);
        cio_task b = cio_spawn(yielder, &n);
        BENCH_CHECK(cio_join(a));
        BENCH_CHECK(cio_join(b));
        samples[r] = (double)(bench_now_ns() - t0) / (2.0 * (double)n);
    }
    bench_emit("core.switch", "cio", bench_median(samples, REPS), "ns", "lower");
    return 0;
}

int main(int argc, char **argv)
{
    long n = bench_size(argc, argv, 5000000, 100000);
    return cio_run(bench_main, &n) == 0 ? 0 : 1;
}
