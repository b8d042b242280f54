/* core.handoff_event: two tasks hand a token back and forth through an
 * event each way; ns per hand-off.
 *
 * The other reading of the "hand-off through an event/future each
 * way" (core.handoff is the future one): each side owns an event, which
 * the other sets; the owner waits for it, then clears it for the next
 * round. Nothing is allocated per hand-off. A round trip is two hand-offs.
 * Both tasks run one function, as in core.handoff (core.handoff_apart shows
 * what two different functions cost).
 * Peer: peer_handoff_event.py (asyncio.Event set / wait / clear). */
#include "common/bench.h"

#include <cio.h>

#define REPS 5

struct state {
    long n;
    cio_event inbox[2]; /* side i waits on inbox[i] */
};

struct side {
    struct state *st;
    int me;
};

/* Both tasks run this function, as in core.handoff: wait for the own event,
 * clear it for the next round, set the other side's. */
static int side(void *arg)
{
    struct side *s = arg;
    cio_event *mine = &s->st->inbox[s->me];
    cio_event *theirs = &s->st->inbox[!s->me];
    for (long i = 0; i < s->st->n; i++) {
        BENCH_CHECK(cio_event_wait(mine));
        BENCH_CHECK(cio_event_clear(mine));
        BENCH_CHECK(cio_event_set(theirs));
    }
    return 0;
}

static int bench_main(void *arg)
{
    long n = *(long *)arg;
    double samples[REPS];
    for (int r = 0; r < REPS; r++) {
        struct state st = {.n = n};
        struct side s0 = {&st, 0}, s1 = {&st, 1};
        cio_event_init(&st.inbox[0]);
        cio_event_init(&st.inbox[1]);
        BENCH_CHECK(cio_event_set(&st.inbox[0])); /* side 0 starts with the token */
        int64_t t0 = bench_now_ns();
        cio_task a = cio_spawn(side, &s0);
        cio_task b = cio_spawn(side, &s1);
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
