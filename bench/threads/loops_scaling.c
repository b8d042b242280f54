/* threads.loops_*: a CPU-light task workload (tasks that each yield to the
 * loop many times, as request handlers do between small pieces of work)
 * run on one loop, then split over one loop per CPU with cio_run_loops().
 * Prints both throughputs (task switches per second) and their ratio.
 *
 * On a shared machine the CPUs are not all free: threads.loops_hw_ratio is
 * the same split done by bare pthreads running a plain arithmetic loop, in
 * the same run, i.e. the parallel speed-up the machine offers right now. */
#include <pthread.h>
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

/* CPU time per switch of the last measure(), all threads included. */
static double cpu_per_op;

/* Runs `loops` loops, each with TASKS tasks of per_task yields; returns
 * switches per second over all loops. */
static double measure(unsigned loops)
{
    int64_t t0 = bench_now_ns(), c0 = bench_cpu_ns();
    if (loops == 1)
        BENCH_CHECK(cio_run(loop_main, NULL));
    else
        BENCH_CHECK(cio_run_loops(loops, NULL, loop_main, NULL, NULL));
    double s = (double)(bench_now_ns() - t0) / 1e9;
    double ops = (double)loops * TASKS * (double)per_task;
    cpu_per_op = (double)(bench_cpu_ns() - c0) / ops;
    return ops / s;
}

volatile unsigned bench_arith_sink; /* keeps the work from being optimised away */

static void *arith(void *arg)
{
    unsigned x = 0;
    for (long i = 0; i < (long)(intptr_t)arg; i++)
        x += (unsigned)i * 2654435761u;
    bench_arith_sink = x;
    return NULL;
}

/* Bare threads: the speed-up of n threads over one on the same work. */
static double hw_ratio(unsigned n, long work)
{
    int64_t t0 = bench_now_ns();
    arith((void *)(intptr_t)work);
    double one = (double)(bench_now_ns() - t0);
    pthread_t th[64];
    n = n > 64 ? 64 : n;
    t0 = bench_now_ns();
    for (unsigned i = 0; i < n; i++)
        pthread_create(&th[i], NULL, arith, (void *)(intptr_t)(work / n));
    for (unsigned i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    return one / (double)(bench_now_ns() - t0);
}

static double best(const double *v, int n)
{
    double b = v[0];
    for (int i = 1; i < n; i++)
        b = v[i] > b ? v[i] : b;
    return b;
}

int main(int argc, char **argv)
{
    long total = bench_size(argc, argv, 40000000, 2000000);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned n = cpus > 1 ? (unsigned)cpus : 1;
    int reps = bench_quick(argc, argv) ? 1 : 5;
    double one[5], many[5], hw[5], cpu_one[5], cpu_many[5];
    for (int i = 0; i < reps; i++) {
        hw[i] = hw_ratio(n, total * 10);
        /* The same total work each way. */
        per_task = total / TASKS;
        one[i] = measure(1);
        cpu_one[i] = cpu_per_op;
        per_task = total / TASKS / n;
        many[i] = measure(n);
        cpu_many[i] = cpu_per_op;
    }
    /* Best of the runs, not the median: other processes come and go on a
     * shared machine, and the question is what the loops do when the
     * cores are free. The bare-thread figure is taken the same way. */
    double o = best(one, reps), m = best(many, reps);
    bench_emit("threads.loops_one", "cio", o, "ops/s", "higher");
    bench_emit("threads.loops_n", "cio", m, "ops/s", "higher");
    bench_emit("threads.loops_ratio", "cio", m / o, "x", "higher");
    bench_emit("threads.loops_hw_ratio", "cio", best(hw, reps), "x", "higher");
    /* Load-independent: if n loops cost as much CPU per switch as one, they
     * do not interfere, and n free cores give n times the throughput. */
    bench_emit("threads.loops_cpu_scaling", "cio",
               n * bench_median(cpu_one, reps) / bench_median(cpu_many, reps), "x", "higher");
    return 0;
}
