/* core.sleepers_1m: 1,000,000 tasks asleep at once (100,000 with --quick).
 *
 * Records three figures:
 *   core.sleepers_1m.rss_per_task  VmRSS growth per sleeping task, bytes
 *   core.sleepers_1m.spawn         seconds to spawn them all and let each run
 *                                  up to its sleep (one cio_yield after the
 *                                  spawns lets every new task run once)
 *   core.sleepers_1m.cancel        seconds to cancel them all and join each
 * Tasks use the default stack size (CIO_DEFAULT_STACK_SIZE of address space;
 * only touched pages cost memory). The array of handles is allocated and
 * touched before the baseline RSS is read, as the peer's list is.
 * Peer: peer_sleepers_1m.py. */
#include "common/bench.h"

#include <cio.h>

static int sleeper(void *arg)
{
    (void)arg;
    return cio_sleep(3600.0); /* -ECANCELED when cancelled */
}

static int bench_main(void *arg)
{
    long n = *(long *)arg;
    cio_task *tasks = calloc((size_t)n, sizeof *tasks);
    if (!tasks)
        return -1;
    memset(tasks, 0, (size_t)n * sizeof *tasks);

    int64_t rss0 = bench_rss_bytes();
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        tasks[i] = cio_spawn(sleeper, NULL);
        BENCH_CHECK(cio_spawn_error(tasks[i]));
    }
    BENCH_CHECK(cio_yield());
    int64_t t1 = bench_now_ns();
    int64_t rss1 = bench_rss_bytes();

    for (long i = 0; i < n; i++)
        BENCH_CHECK(cio_cancel(tasks[i]));
    for (long i = 0; i < n; i++) {
        int rc = cio_join(tasks[i]);
        if (rc != -ECANCELED) {
            fprintf(stderr, "sleeper %ld: join returned %d (%s)\n", i, rc, cio_err_name(rc));
            return -1;
        }
    }
    int64_t t2 = bench_now_ns();
    free(tasks);

    bench_emit("core.sleepers_1m.rss_per_task", "cio", (double)(rss1 - rss0) / (double)n, "B",
               "lower");
    bench_emit("core.sleepers_1m.spawn", "cio", (double)(t1 - t0) / 1e9, "s", "lower");
    bench_emit("core.sleepers_1m.cancel", "cio", (double)(t2 - t1) / 1e9, "s", "lower");
    return 0;
}

int main(int argc, char **argv)
{
    long n = bench_quick(argc, argv) ? 100000 : 1000000;
    return cio_run(bench_main, &n) == 0 ? 0 : 1;
}
