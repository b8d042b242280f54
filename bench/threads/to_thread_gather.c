/* threads.to_thread_gather: 20,000 tasks each run one to_thread call, all
 * at once, and are joined; total seconds, median of 5 runs. Peer:
 * peer_to_thread_gather.py (asyncio.gather of 20,000 asyncio.to_thread). */
#include <cio.h>

#include "common/bench.h"

static int noop(void *arg)
{
    return (int)(intptr_t)arg;
}

static int one(void *arg)
{
    return cio_to_thread(noop, arg);
}

struct run {
    long n;
    int reps;
    cio_task *tasks;
    double s[5];
};

static double gather(struct run *r)
{
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < r->n; i++)
        r->tasks[i] = cio_spawn(one, (void *)(intptr_t)1);
    for (long i = 0; i < r->n; i++)
        BENCH_CHECK(cio_join(r->tasks[i]));
    return (double)(bench_now_ns() - t0) / 1e9;
}

/* All runs on one loop, after one unmeasured run: the first touches 20,000
 * fresh task stacks (page faults), which is the core's cost, measured by
 * core.spawn_join, and which asyncio's warm allocator does not pay either. */
static int bench(void *arg)
{
    struct run *r = arg;
    gather(r);
    for (int i = 0; i < r->reps; i++)
        r->s[i] = gather(r);
    return 0;
}

int main(int argc, char **argv)
{
    struct run r = {.n = bench_size(argc, argv, 20000, 2000)};
    r.reps = bench_quick(argc, argv) ? 1 : 5;
    r.tasks = calloc((size_t)r.n, sizeof *r.tasks);
    if (!r.tasks)
        return 1;
    BENCH_CHECK(cio_run(bench, &r));
    bench_emit("threads.to_thread_gather", "cio", bench_median(r.s, r.reps), "s", "lower");
    free(r.tasks);
    return 0;
}
