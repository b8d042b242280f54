/* core.handoff: two tasks hand a token back and forth through a future each
 * way; ns per hand-off.
 *
 * Each hand-off is one future made by the receiver (cio_future_new), resolved
 * by the sender (cio_future_set_result) and waited for by the receiver
 * (cio_future_wait), then freed. A round trip is two hand-offs. Both tasks
 * run one function, as core.switch's two tasks do.
 * Peer: peer_handoff.py (loop.create_future / set_result / await).
 *
 * Built a second time with HANDOFF_APART as core.handoff_apart: the two
 * sides are two functions, so each resumed task returns into another
 * function than the one that left, and that return mispredicts (the
 * unfavourable case, as core.switch_deep is for the switch; docs/core.md,
 * "Context switch"). Peer: peer_handoff_apart.py. */
#include "common/bench.h"

#include <cio.h>

#define REPS 5

struct state {
    long n;
    cio_future *inbox[2]; /* the future each side waits on next */
};

#ifndef HANDOFF_APART
#define WORKLOAD "core.handoff"

struct side {
    struct state *st;
    int me;
};

/* Waits for the token in its own inbox, makes the next inbox, and hands the
 * token to the other side's. */
static int side(void *arg)
{
    struct side *s = arg;
    cio_future **mine = &s->st->inbox[s->me];
    cio_future **theirs = &s->st->inbox[!s->me];
    for (long i = 0; i < s->st->n; i++) {
        void *token;
        BENCH_CHECK(cio_future_wait(*mine, &token));
        cio_future_free(*mine);
        BENCH_CHECK(cio_future_new(mine));
        BENCH_CHECK(cio_future_set_result(*theirs, token));
    }
    return 0;
}

/* Side 0 finds the token in its inbox. Both inboxes are left live: the
 * caller frees them. */
static void run_round(struct state *st)
{
    struct side s0 = {st, 0}, s1 = {st, 1};
    BENCH_CHECK(cio_future_new(&st->inbox[0]));
    BENCH_CHECK(cio_future_new(&st->inbox[1]));
    BENCH_CHECK(cio_future_set_result(st->inbox[0], st));
    cio_task a = cio_spawn(side, &s0);
    cio_task b = cio_spawn(side, &s1);
    BENCH_CHECK(cio_join(a));
    BENCH_CHECK(cio_join(b));
    cio_future_free(st->inbox[0]);
    cio_future_free(st->inbox[1]);
}
#else
#define WORKLOAD "core.handoff_apart"

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

static void run_round(struct state *st)
{
    BENCH_CHECK(cio_future_new(&st->inbox[1]));
    cio_task b = cio_spawn(side1, st);
    cio_task a = cio_spawn(side0, st);
    BENCH_CHECK(cio_join(a));
    BENCH_CHECK(cio_join(b));
}
#endif

static int bench_main(void *arg)
{
    long n = *(long *)arg;
    double samples[REPS];
    for (int r = 0; r < REPS; r++) {
        struct state st = {.n = n};
        int64_t t0 = bench_now_ns();
        run_round(&st);
        samples[r] = (double)(bench_now_ns() - t0) / (2.0 * (double)n);
    }
    bench_emit(WORKLOAD, "cio", bench_median(samples, REPS), "ns", "lower");
    return 0;
}

int main(int argc, char **argv)
{
    long n = bench_size(argc, argv, 2000000, 50000);
    return cio_run(bench_main, &n) == 0 ? 0 : 1;
}
