/* threads.loops_*: a CPU-light task workload (tasks that each yield to the
 * loop many times, as request handlers do between small pieces of work)
 * run on one loop, then split over one loop per CPU with cio_run_loops().
 * Prints both throughputs (task switches per second) and their ratio. */
#include <unistd.h>

#include <cio.h>

#include "common/bench.h"

#define TASKS 100

static long per_task;

static int worker(void *arg)
{
    volatile unsigned *acc = arg;
    for (long i = 0; i < per_task; i++) {
        *acc += (unsigned)i * 2654435761u; /* a little work */
        if (cio_yield() < 0)
            return -1;
    }
    return 0;
}

static int loop_main(void *arg)
{
    (void)arg;
    unsigned acc = 0;
    cio_task t[TASKS];
    for (int i = 0; i < TASKS; i++)
        t[i] = cio_spawn(worker, &acc);
    for (int i = 0; i < TASKS; i++)
        BENCH_CHECK(cio_join(t[i]));
    return 0;
}

/* Runs `loops` loops, each with TASKS tasks of per_task yields; returns
 * switches per second over all loops. */
static double measure(unsigned loops)
{
    int64_t t0 = bench_now_ns();
    if (loops == 1)
        BENCH_CHECK(cio_run(loop_main, NULL));
    else
        BENCH_CHECK(cio_run_loops(loops, NULL, loop_main, NULL, NULL));
    double s = (double)(bench_now_ns() - t0) / 1e9;
    return (double)loops * TASKS * (double)per_task / s;
}

int main(int argc, char **argv)
{
    long total = bench_size(argc, argv, 40000000, 2000000);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned n = cpus > 1 ? (unsigned)cpus : 1;
    int reps = bench_quick(argc, argv) ? 1 : 3;
    double one[3], many[3];
    for (int i = 0; i < reps; i++) {
        /* The same total work each way. */
        per_task = total / TASKS;
        one[i] = measure(1);
        per_task = total / TASKS / n;
        many[i] = measure(n);
    }
    double o = bench_median(one, reps), m = bench_median(many, reps);
    bench_emit("threads.loops_one", "cio", o, "ops/s", "higher");
    bench_emit("threads.loops_n", "cio", m, "ops/s", "higher");
    bench_emit("threads.loops_ratio", "cio", m / o, "x", "higher");
    return 0;
}
