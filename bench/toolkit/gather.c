/* toolkit.gather_100k: spawn 100,000 trivial tasks and gather them; ns per
 * task (spawn + run + join). Peer: peer_gather.py (asyncio.gather of 100,000
 * coroutines). */
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
    cio_task *tasks = malloc((size_t)n * sizeof *tasks);
    if (!tasks)
        return -1;
    double s[REPS];
    for (int r = 0; r < REPS; r++) {
        int64_t t0 = bench_now_ns();
        for (long i = 0; i < n; i++)
            tasks[i] = cio_spawn(trivial, NULL); /* a stack only once it runs */
        BENCH_CHECK(cio_gather(tasks, (size_t)n));
        s[r] = (double)(bench_now_ns() - t0) / (double)n;
        if (getenv("BENCH_VERBOSE"))
            fprintf(stderr, "rep %d: %.1f ns/task\n", r, s[r]);
    }
    free(tasks);
    bench_emit("toolkit.gather_100k", "cio", bench_median(s, REPS), "ns", "lower");
    return 0;
}

int main(int argc, char **argv)
{
    long n = bench_quick(argc, argv) ? 10000 : 100000;
    return cio_run(bench_main, &n) == 0 ? 0 : 1;
}
