/* toolkit.queue_1p1c / toolkit.queue_4p4c: items per second through a
 * queue bounded at 1024 (int items), one producer and one consumer, then
 * four of each. Consumers stop when the queue is shut down and drained.
 * Peer: peer_queue.py. */
#include "common/bench.h"

#include <cio.h>

#define REPS 5

struct run {
    cio_queue q;
    long per_producer;
    long got;
};

static int producer(void *arg)
{
    struct run *r = arg;
    for (long i = 0; i < r->per_producer; i++) {
        int v = (int)i;
        int rc = cio_queue_put(&r->q, &v);
        if (rc)
            return rc;
    }
    return 0;
}

static int consumer(void *arg)
{
    struct run *r = arg;
    long got = 0;
    for (;;) {
        int v;
        int rc = cio_queue_get(&r->q, &v);
        if (rc == CIO_ESHUTDOWN)
            break;
        if (rc)
            return rc;
        got++;
    }
    r->got += got;
    return 0;
}

static double one_run(long total, int pairs)
{
    struct run r = {.per_producer = total / pairs};
    BENCH_CHECK(cio_queue_init(&r.q, sizeof(int), 1024));
    cio_task prod[8], cons[8];
    int64_t t0 = bench_now_ns();
    for (int i = 0; i < pairs; i++) {
        prod[i] = cio_spawn(producer, &r);
        cons[i] = cio_spawn(consumer, &r);
    }
    BENCH_CHECK(cio_gather(prod, (size_t)pairs));
    cio_queue_shutdown(&r.q, false);
    BENCH_CHECK(cio_gather(cons, (size_t)pairs));
    int64_t dt = bench_now_ns() - t0;
    if (r.got != r.per_producer * pairs) {
        fprintf(stderr, "queue: %ld items lost\n", r.per_producer * pairs - r.got);
        exit(1);
    }
    cio_queue_destroy(&r.q);
    return (double)(r.per_producer * pairs) / ((double)dt / 1e9);
}

static int bench_main(void *arg)
{
    long n = *(long *)arg;
    double s[REPS];
    for (int i = 0; i < REPS; i++)
        s[i] = one_run(n, 1);
    bench_emit("toolkit.queue_1p1c", "cio", bench_median(s, REPS), "ops/s", "higher");
    for (int i = 0; i < REPS; i++)
        s[i] = one_run(n, 4);
    bench_emit("toolkit.queue_4p4c", "cio", bench_median(s, REPS), "ops/s", "higher");
    return 0;
}

int main(int argc, char **argv)
{
    long n = bench_quick(argc, argv) ? 1000000 : 20000000;
    return cio_run(bench_main, &n) == 0 ? 0 : 1;
}
