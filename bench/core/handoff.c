/* core.handoff: two tasks hand a token back and forth through a future each
 * way; ns per hand-off.
 *
 * Each hand-off is one future made by the receiver (cio_future_new), resolved
 * by the sender (cio_future_set_result) and waited for by the receiver
 * (cio_future_wait), then freed. A round trip is two hand-offs.
 * Peer: peer_handoff.py (loop.create_future / set_result / await). */
#include "common/bench.h"

#include <cio.h>

#define REPS 5

struct state {
    long n;
    cio_future *inbox[2]; /* the future each side waits on next */
};

/* Side 0 starts with the token. */
static int side0(void *arg)
{
    struct state *st = arg;
    for (long i = 0; i < st->n; i++) {
        BENCH_CHECK(cio_future_new(&st->inbox[0]));
        BENCH_CHECK(cio_future_set_result(st->inbox[1], st));
        void *token;
        BENCH_CHECK(cio_future_wait(st->inbox[0], &token));
        cio_future_free(st->inbox[0]);
    }
    return 0;
}

static int side1(void *arg)
{
    struct state *st = arg;
    for (long i = 0; i < st->n; i++) {
        void *token;
        BENCH_CHECK(cio_future_wait(st->inbox[1], &token));
        cio_future_free(st->inbox[1]);
        st->inbox[1] = NULL;
        if (i + 1 < st->n)
            BENCH_CHECK(cio_future_new(&st->inbox[1]));
        BENCH_CHECK(cio_future_set_result(st->inbox[0], token));
    }
    return 0;
}

static int bench_main(void *arg)
{
    long n = *(long *)arg;
    double samples[REPS];
    for (int r = 0; r < REPS; r++) {
        struct state st = {.n = n};
        BENCH_CHECK(cio_future_new(&st.inbox[1]));
        int64_t t0 = bench_now_ns();
        cio_task b = cio_spawn(side1, &st);
        cio_task a = cio_spawn(side0, &st);
        BENCH_CHECK(cio_join(a));
        BENCH_CHECK(cio_join(b));
        samples[r] = (double)(bench_now_ns() - t0) / (2.0 * (double)n);
    }
    bench_emit("core.handoff", "cio", bench_median(samples, REPS), "ns", "lower");
    return 0;
}

int main(int argc, char **argv)
{
    long n = bench_size(argc, argv, 2000000, 50000);
    return cio_run(bench_main, &n) == 0 ? 0 : 1;
}
