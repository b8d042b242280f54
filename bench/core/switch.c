/* core.switch: two tasks ping-pong through cio_yield(); ns per switch.
 *
 * Two tasks each call cio_yield() n times; with only the two of them ready,
 * every yield hands the CPU to the other task, so a run makes 2n switches.
 * Peer: peer_switch.py (asyncio.sleep(0)). Default stack size.
 *
 * Built a second time with SWITCH_DEEP as core.switch_deep, the
 * unfavourable case: one of the two tasks yields from three calls deeper,
 * as tasks of a real program wait at different depths. A switch resumes a
 * task whose returns the CPU predicts from the other task's calls, so each
 * level where the two call chains differ costs a mispredicted return
 * (docs/core.md, "Context switch"). Peer: peer_switch_deep.py. */
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

#ifdef SWITCH_DEEP
#define WORKLOAD "core.switch_deep"

/* Each level is a real call: noinline, and work after the call so that it
 * is not a tail call. */
static __attribute__((noinline)) int level3(void)
{
    int rc = cio_yield();
    __asm__ volatile("" ::: "memory");
    return rc;
}

static __attribute__((noinline)) int level2(void)
{
    int rc = level3();
    __asm__ volatile("" ::: "memory");
    return rc;
}

static __attribute__((noinline)) int level1(void)
{
    int rc = level2();
    __asm__ volatile("" ::: "memory");
    return rc;
}

static int other(void *arg)
{
    long n = *(long *)arg;
    for (long i = 0; i < n; i++)
        BENCH_CHECK(level1());
    return 0;
}
#else
#define WORKLOAD "core.switch"
#define other yielder /* both tasks yield from the same place */
#endif

static int bench_main(void *arg)
{
    long n = *(long *)arg;
    double samples[REPS];
    for (int r = 0; r < REPS; r++) {
        int64_t t0 = bench_now_ns();
        cio_task a = cio_spawn(yielder, &n);
        cio_task b = cio_spawn(other, &n);
        BENCH_CHECK(cio_join(a));
        BENCH_CHECK(cio_join(b));
        samples[r] = (double)(bench_now_ns() - t0) / (2.0 * (double)n);
    }
    bench_emit(WORKLOAD, "cio", bench_median(samples, REPS), "ns", "lower");
    return 0;
}

int main(int argc, char **argv)
{
    long n = bench_size(argc, argv, 5000000, 100000);
    return cio_run(bench_main, &n) == 0 ? 0 : 1;
}
