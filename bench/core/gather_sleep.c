/* core.gather_sleep: the guide's first example — 10 tasks each sleep 0.1 s,
 * spawned together and all joined; seconds from the first spawn to the last
 * join (median of 5 runs). The ideal is 0.1000 s.
 * Peer: peer_gather_sleep.py (asyncio.gather of 10 sleep(0.1)). */
#include "common/bench.h"

#include <cio.h>

#define TASKS 10

static int fetch(void *arg)
{
    (void)arg;
    return cio_sleep(0.1);
}

static int bench_main(void *arg)
{
    int reps = *(int *)arg;
    double samples[16];
    for (int r = 0; r < reps; r++) {
        cio_task t[TASKS];
        int64_t t0 = bench_now_ns();
        for (int i = 0; i < TASKS; i++)
            t[i] = cio_spawn(fetch, NULL);
        for (int i = 0; i < TASKS; i++)
            BENCH_CHECK(cio_join(t[i]));
        samples[r] = (double)(bench_now_ns() - t0) / 1e9;
    }
    bench_emit("core.gather_sleep", "cio", bench_median(samples, reps), "s", "lower");
    return 0;
}

int main(int argc, char **argv)
{
    int reps = bench_quick(argc, argv) ? 1 : 5;
    return cio_run(bench_main, &reps) == 0 ? 0 : 1;
}
