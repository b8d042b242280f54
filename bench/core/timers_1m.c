/* core.timers_1m: 1,000,000 cio_call_later() callbacks with random deadlines
 * in [0, 1) s (100,000 with --quick), on the real clock: schedule them all,
 * then run the loop until the last has fired.
 *
 * Records two figures:
 *   core.timers_1m      wall time of schedule + fire / count, ns. Since the
 *                       last deadline is close to 1 s away, this cannot go
 *                       below ~1000 ns per timer (~10,000 with --quick).
 *   core.timers_1m.cpu  the process's CPU time over the same span / count,
 *                       ns: the cost of the timers themselves, without the
 *                       time the loop spends asleep waiting for deadlines.
 * The deadlines are drawn before the clock starts (as in the peer).
 * Peer: peer_timers_1m.py. */
#include "common/bench.h"

#include <cio.h>

struct state {
    long n, fired;
    double *delays;
    cio_future *all_fired;
};

static void on_timer(void *arg)
{
    struct state *st = arg;
    if (++st->fired == st->n)
        cio_future_set_result(st->all_fired, NULL);
}

static int bench_main(void *arg)
{
    struct state *st = arg;
    BENCH_CHECK(cio_future_new(&st->all_fired));
    int64_t t0 = bench_now_ns(), c0 = bench_cpu_ns();
    for (long i = 0; i < st->n; i++)
        BENCH_CHECK(cio_call_later(st->delays[i], on_timer, st, NULL));
    BENCH_CHECK(cio_future_wait(st->all_fired, NULL));
    int64_t t1 = bench_now_ns(), c1 = bench_cpu_ns();
    cio_future_free(st->all_fired);
    bench_emit("core.timers_1m", "cio", (double)(t1 - t0) / (double)st->n, "ns", "lower");
    bench_emit("core.timers_1m.cpu", "cio", (double)(c1 - c0) / (double)st->n, "ns", "lower");
    return 0;
}

int main(int argc, char **argv)
{
    struct state st = {.n = bench_size(argc, argv, 1000000, 100000)};
    st.delays = malloc((size_t)st.n * sizeof *st.delays);
    if (!st.delays)
        return 1;
    uint64_t x = 0x9e3779b97f4a7c15u; /* xorshift64, fixed seed */
    for (long i = 0; i < st.n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        st.delays[i] = (double)(x >> 11) / 9007199254740992.0; /* [0, 1) */
    }
    int rc = cio_run(bench_main, &st);
    free(st.delays);
    return rc == 0 ? 0 : 1;
}
