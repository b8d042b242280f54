/* core.handoff_event: two tasks hand a token back and forth through an
 * event each way; ns per hand-off.
 *
 * The other reading of the "hand-off through an event/future each
 * way" (core.handoff is the future one): each side owns an event, which
 * the other sets; the owner waits for it, then clears it for the next
 * round. Nothing is allocated per hand-off. A round trip is two hand-offs.
 * Peer: peer_handoff_event.py (asyncio.Event set / wait / clear). */
#include "common/bench.h"

#include <cio.h>

#define REPS 5

struct state {
    long n;
    cio_event inbox[2]; /* side i waits on inbox[i] */
};

/* Side 0 starts with the token. */
static int side0(void *arg)
{
    struct state *st = arg;
    for (long i = 0; i < st->n; i++) {
        BENCH_CHECK(cio_event_set(&st->inbox[1]));
        BENCH_CHECK(cio_event_wait(&st->inbox[0]));
        BENCH_CHECK(cio_event_clear(&st->inbox[0]));
    }
    return 0;
}

static int side1(void *arg)
{
    struct state *st = arg;
    for (long i = 0; i < st->n; i++) {
        BENCH_CHECK(cio_event_wait(&st->inbox[1]));
        BENCH_CHECK(cio_event_clear(&st->inbox[1]));
        BENCH_CHECK(cio_event_set(&st->inbox[0]));
    }
    return 0;
}

static int bench_main(void *arg)
{
    long n = *(long *)arg;
    double samples[REPS];
    for (int r = 0; r < REPS; r++) {
        struct state st = {.n = n};
        cio_event_init(&st.inbox[0]);
        cio_event_init(&st.inbox[1]);
        int64_t t0 = bench_now_ns();
        cio_task b = cio_spawn(side1, &st);
        cio_task a = cio_spawn(side0, &st);
        BENCH_CHECK(cio_join(a));
        BENCH_CHECK(cio_join(b));
        samples[r] = (double)(bench_now_ns() - t0) / (2.0 * (double)n);
    }
    bench_emit("core.handoff_event", "cio", bench_median(samples, REPS), "ns", "lower");
    return 0;
}

int main(int argc, char **argv)
{
    long n = bench_size(argc, argv, 2000000, 50000);
    return cio_run(bench_main, &n) == 0 ? 0 : 1;
}
