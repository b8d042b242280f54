/* toolkit.semaphore_uncontended: ns per acquire + release of a free
 * semaphore. toolkit.semaphore_1000: ms to spawn 1000 tasks that each take
 * a permit of Semaphore(10), yield once holding it, and release it, and to
 * gather them all. Peer: peer_semaphore.py. */
#include "common/bench.h"

#include <cio.h>

#define REPS 7

static cio_semaphore sem;

static int holder(void *arg)
{
    (void)arg;
    int rc;
    CIO_WITH_SEMAPHORE_RC(rc, &sem)
    {
        rc = cio_yield();
    }
    return rc;
}

static int bench_main(void *arg)
{
    long n = *(long *)arg;
    double s[REPS];
    cio_semaphore_init(&sem, 1);
    for (int r = 0; r < REPS; r++) {
        int64_t t0 = bench_now_ns();
        for (long i = 0; i < n; i++) {
            BENCH_CHECK(cio_semaphore_acquire(&sem));
            __asm__ volatile("" ::: "memory"); /* keep the pair from folding away */
            BENCH_CHECK(cio_semaphore_release(&sem));
            __asm__ volatile("" ::: "memory");
        }
        s[r] = (double)(bench_now_ns() - t0) / (double)n;
    }
    bench_emit("toolkit.semaphore_uncontended", "cio", bench_median(s, REPS), "ns", "lower");

    static cio_task tasks[1000];
    for (int r = 0; r < REPS; r++) {
        cio_semaphore_init(&sem, 10);
        int64_t t0 = bench_now_ns();
        for (int i = 0; i < 1000; i++)
            tasks[i] = cio_spawn(holder, NULL);
        BENCH_CHECK(cio_gather(tasks, 1000));
        s[r] = (double)(bench_now_ns() - t0) / 1e6;
        if (cio_semaphore_value(&sem) != 10)
            exit(1);
    }
    bench_emit("toolkit.semaphore_1000", "cio", bench_median(s, REPS), "ms", "lower");
    return 0;
}

int main(int argc, char **argv)
{
    long n = bench_quick(argc, argv) ? 1000000 : 100000000;
    return cio_run(bench_main, &n) == 0 ? 0 : 1;
}
