/* threads.to_thread_seq: 20,000 to_thread round trips one after another
 * (a task hands a trivial function to the default pool and waits for it);
 * microseconds per round trip, median of 5 runs. Peer: peer_to_thread_seq.py
 * (asyncio.to_thread). */
#include <cio.h>

#include "common/bench.h"

static int noop(void *arg)
{
    return (int)(intptr_t)arg;
}

struct run {
    long n;
    double us;
};

static int bench(void *arg)
{
    struct run *r = arg;
    BENCH_CHECK(cio_to_thread(noop, NULL)); /* starts the pool */
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < r->n; i++)
        BENCH_CHECK(cio_to_thread(noop, (void *)(intptr_t)1));
    r->us = (double)(bench_now_ns() - t0) / 1e3 / (double)r->n;
    return 0;
}

int main(int argc, char **argv)
{
    struct run r = {.n = bench_size(argc, argv, 20000, 2000)};
    int reps = bench_quick(argc, argv) ? 1 : 5;
    double s[5];
    for (int i = 0; i < reps; i++) {
        BENCH_CHECK(cio_run(bench, &r));
        s[i] = r.us;
    }
    bench_emit("threads.to_thread_seq", "cio", bench_median(s, reps), "us", "lower");
    return 0;
}
