/* Toolkit: Queue, LifoQueue, PriorityQueue: orders, bounds, hand-over,
 * cancellation at every wait, task_done/join, Python 3.13 shutdown. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "helpers.h"

/* Loop time when the test body started: the virtual clock also counts the
 * real time that passes, which under Valgrind is not negligible. */
static double epoch;

/* Timing tolerance: 5 ms, or 50 ms under Valgrind (make valgrind sets
 * CIO_VALGRIND=1), whose slowness leaks into the virtual clock. */
#define near(a, b) (fabs((a) - (b)) < (getenv("CIO_VALGRIND") ? 0.05 : 0.005))

struct ctx {
    cio_queue q;
    int got[256];
    int n;
    int rc[16];
};

static int fifo_body(void *arg)
{
    (void)arg;
    cio_queue q;
    task_check_eq(cio_queue_init(&q, sizeof(int), 0), 0);
    /* Unbounded: grows past its first buffer, wrapping the ring first. */
    for (int i = 0; i < 10; i++)
        task_check_eq(cio_queue_put(&q, &i), 0);
    for (int i = 0; i < 5; i++) {
        int v;
        task_check_eq(cio_queue_get(&q, &v), 0);
        task_check_eq(v, i);
    }
    for (int i = 10; i < 1000; i++)
        task_check_eq(cio_queue_try_put(&q, &i), 0);
    task_check_eq(cio_queue_size(&q), 995);
    task_check(!cio_queue_full(&q));
    for (int i = 5; i < 1000; i++) {
        int v;
        task_check_eq(cio_queue_try_get(&q, &v), 0);
        task_check_eq(v, i);
    }
    int v;
    task_check_eq(cio_queue_try_get(&q, &v), -EAGAIN);
    task_check(cio_queue_empty(&q));
    cio_queue_destroy(&q);

    /* LIFO, bounded. */
    task_check_eq(cio_lifo_queue_init(&q, sizeof(int), 3), 0);
    for (int i = 0; i < 3; i++)
        task_check_eq(cio_queue_try_put(&q, &i), 0);
    task_check_eq(cio_queue_try_put(&q, &v), -EAGAIN);
    task_check(cio_queue_full(&q));
    task_check_eq(cio_queue_maxsize(&q), 3);
    for (int i = 2; i >= 0; i--) {
        task_check_eq(cio_queue_get(&q, &v), 0);
        task_check_eq(v, i);
    }
    cio_queue_destroy(&q);

    task_check_eq(cio_queue_init(&q, 0, 1), -EINVAL);
    task_check_eq(cio_priority_queue_init(&q, 4, 1, NULL), -EINVAL);
    task_check_eq(cio_queue_put(NULL, &v), -EINVAL);
    return 0;
}

static void test_fifo_lifo(void **state)
{
    (void)state;
    assert_ok(run_virtual(fifo_body, NULL));
}

struct job {
    int prio;
    char name[12];
};

static int by_prio(const void *a, const void *b)
{
    const struct job *x = a, *y = b;
    return (x->prio > y->prio) - (x->prio < y->prio);
}

static int prio_body(void *arg)
{
    (void)arg;
    cio_queue q;
    task_check_eq(cio_priority_queue_init(&q, sizeof(struct job), 0, by_prio), 0);
    int prios[] = {5, 1, 3, 1, 9, 0, 3, 7, 1, 2, 8, 4, 6, 5, 2, 0, 9, 3, 1, 4};
    int n = (int)(sizeof prios / sizeof prios[0]);
    for (int i = 0; i < n; i++) {
        struct job j = {.prio = prios[i]};
        snprintf(j.name, sizeof j.name, "job%d", i);
        task_check_eq(cio_queue_put(&q, &j), 0);
    }
    int last = -1, last_index = -1;
    for (int i = 0; i < n; i++) {
        struct job j;
        task_check_eq(cio_queue_get(&q, &j), 0);
        int index = atoi(j.name + 3);
        task_check(j.prio >= last);
        if (j.prio == last)
            task_check(index > last_index); /* equal priorities stay FIFO */
        last = j.prio;
        last_index = index;
    }
    cio_queue_destroy(&q);
    return 0;
}

static void test_priority(void **state)
{
    (void)state;
    assert_ok(run_virtual(prio_body, NULL));
}

/* ---- bounded: putters wait, FIFO among them --------------------------------- */

static int putter(void *arg)
{
    struct ctx *c = arg;
    for (int i = 0; i < 50; i++) {
        int rc = cio_queue_put(&c->q, &i);
        if (rc)
            return rc;
    }
    return 0;
}

static int getter_slow(void *arg)
{
    struct ctx *c = arg;
    for (int i = 0; i < 50; i++) {
        int v, rc = cio_queue_get(&c->q, &v);
        if (rc)
            return rc;
        c->got[c->n++] = v;
        if ((rc = cio_sleep(0.01)))
            return rc;
    }
    return 0;
}

static int bounded_body(void *arg)
{
    (void)arg;
    epoch = cio_time();
    struct ctx c = {0};
    task_check_eq(cio_queue_init(&c.q, sizeof(int), 4), 0);
    cio_task t[2] = {cio_spawn(putter, &c), cio_spawn(getter_slow, &c)};
    task_check_eq(cio_sleep(0.005), 0);
    task_check(cio_queue_full(&c.q)); /* the putter is blocked */
    task_check_eq(cio_gather(t, 2), 0);
    for (int i = 0; i < 50; i++)
        task_check_eq(c.got[i], i);
    task_check(near(cio_time() - epoch, 0.5));
    cio_queue_destroy(&c.q);
    return 0;
}

static void test_bounded(void **state)
{
    (void)state;
    assert_ok(run_virtual(bounded_body, NULL));
}

/* ---- getters: FIFO, cancellation and timeouts never lose an item --------- */

struct getter_arg {
    struct ctx *c;
    int id;
    double timeout;
};

static int getter(void *arg)
{
    struct getter_arg *g = arg;
    int v = -1;
    int rc;
    {
        CIO_TIMEOUT(t, g->timeout > 0 ? g->timeout : INFINITY);
        rc = cio_queue_get(&g->c->q, &g->c->got[g->id]);
        (void)v;
    }
    g->c->rc[g->id] = rc;
    return 0;
}

static int getters_body(void *arg)
{
    (void)arg;
    struct ctx c = {0};
    task_check_eq(cio_queue_init(&c.q, sizeof(int), 0), 0);
    struct getter_arg ga[4] = {{&c, 0, 0}, {&c, 1, 1.0}, {&c, 2, 0}, {&c, 3, 0}};
    cio_task t[4];
    for (int i = 0; i < 4; i++)
        t[i] = cio_spawn(getter, &ga[i]);
    task_check_eq(cio_yield(), 0);
    /* Getter 0 cancelled in the same tick as the first put: the item is
     * not lost, it goes to the next getter still waiting. */
    cio_cancel(t[0]);
    int v = 100;
    task_check_eq(cio_queue_put(&c.q, &v), 0);
    task_check_eq(cio_sleep(1.0), 0); /* getter 1's timer is due now */
    v = 101;
    task_check_eq(cio_queue_put(&c.q, &v), 0);
    v = 102;
    task_check_eq(cio_queue_put(&c.q, &v), 0);
    task_check_eq(cio_gather(t, 4), 0);
    task_check_eq(c.rc[0], -ECANCELED);
    /* 100 went to getter 1 (first still waiting), then 101 to 2, 102 to 3. */
    task_check_eq(c.rc[1], 0);
    task_check_eq(c.got[1], 100);
    task_check_eq(c.rc[2], 0);
    task_check_eq(c.got[2], 101);
    task_check_eq(c.rc[3], 0);
    task_check_eq(c.got[3], 102);
    task_check_eq(cio_queue_size(&c.q), 0);

    /* An item handed over before the cancellation arrives is kept. */
    struct getter_arg g5 = {&c, 5, 0};
    cio_task t5 = cio_spawn(getter, &g5);
    task_check_eq(cio_yield(), 0);
    v = 200;
    task_check_eq(cio_queue_put(&c.q, &v), 0);
    cio_cancel(t5);
    task_check_eq(cio_join(t5), 0);
    task_check_eq(c.rc[5], 0);
    task_check_eq(c.got[5], 200);

    /* A getter whose timeout expires in the same tick as a put: the
     * timeout fired first, so the item stays queued for the next getter. */
    struct getter_arg g6 = {&c, 6, 0.5};
    cio_task t6 = cio_spawn(getter, &g6);
    task_check_eq(cio_yield(), 0);
    task_check_eq(cio_sleep(0.5), 0);
    v = 300;
    task_check_eq(cio_queue_put(&c.q, &v), 0);
    task_check_eq(cio_join(t6), 0);
    task_check_eq(c.rc[6], -ETIMEDOUT);
    task_check_eq(cio_queue_size(&c.q), 1);
    task_check_eq(cio_queue_get(&c.q, &v), 0);
    task_check_eq(v, 300);
    cio_queue_destroy(&c.q);
    return 0;
}

static void test_getters_cancel(void **state)
{
    (void)state;
    assert_ok(run_virtual(getters_body, NULL));
}

static int put_one(void *arg)
{
    struct getter_arg *g = arg;
    CIO_TIMEOUT(t, g->timeout > 0 ? g->timeout : INFINITY);
    g->c->rc[g->id] = cio_queue_put(&g->c->q, &g->id);
    return 0;
}

static int putters_body(void *arg)
{
    (void)arg;
    struct ctx c = {0};
    task_check_eq(cio_queue_init(&c.q, sizeof(int), 1), 0);
    int v = 0;
    task_check_eq(cio_queue_put(&c.q, &v), 0);
    struct getter_arg pa[4] = {{&c, 1, 0}, {&c, 2, 0.5}, {&c, 3, 0}, {&c, 4, 0}};
    cio_task t[4];
    for (int i = 0; i < 4; i++)
        t[i] = cio_spawn(put_one, &pa[i]);
    task_check_eq(cio_yield(), 0);
    cio_cancel(t[0]);
    task_check_eq(cio_sleep(1), 0); /* putter 2 timed out */
    int got[3];
    for (int i = 0; i < 3; i++)
        task_check_eq(cio_queue_get(&c.q, &got[i]), 0);
    task_check_eq(got[0], 0);
    task_check_eq(got[1], 3);
    task_check_eq(got[2], 4);
    task_check_eq(cio_gather(t, 4), 0);
    task_check_eq(c.rc[1], -ECANCELED);
    task_check_eq(c.rc[2], -ETIMEDOUT);
    task_check_eq(c.rc[3], 0);
    task_check_eq(c.rc[4], 0);
    task_check_eq(cio_queue_size(&c.q), 0);
    cio_queue_destroy(&c.q);
    return 0;
}

static void test_putters_cancel(void **state)
{
    (void)state;
    assert_ok(run_virtual(putters_body, NULL));
}

/* ---- task_done / join ------------------------------------------------------ */

static int worker(void *arg)
{
    struct ctx *c = arg;
    for (;;) {
        int v, rc = cio_queue_get(&c->q, &v);
        if (rc)
            return rc == CIO_ESHUTDOWN ? 0 : rc;
        if ((rc = cio_sleep(0.1)))
            return rc;
        c->got[c->n++] = v;
        cio_queue_task_done(&c->q);
    }
}

static int join_body(void *arg)
{
    (void)arg;
    epoch = cio_time();
    struct ctx c = {0};
    task_check_eq(cio_queue_init(&c.q, sizeof(int), 0), 0);
    task_check_eq(cio_queue_task_done(&c.q), CIO_ESTATE);
    task_check_eq(cio_queue_join(&c.q), 0); /* nothing unfinished */
    cio_task w[2] = {cio_spawn(worker, &c), cio_spawn(worker, &c)};
    for (int i = 0; i < 10; i++)
        task_check_eq(cio_queue_put(&c.q, &i), 0);
    task_check_eq(cio_queue_join(&c.q), 0);
    task_check_eq(c.n, 10);
    task_check(near(cio_time() - epoch, 0.5));
    task_check_eq(cio_queue_shutdown(&c.q, false), 0);
    task_check_eq(cio_gather(w, 2), 0);
    cio_queue_destroy(&c.q);
    return 0;
}

static void test_join(void **state)
{
    (void)state;
    assert_ok(run_virtual(join_body, NULL));
}

/* ---- shutdown ------------------------------------------------------------ */

static int shutdown_body(void *arg)
{
    (void)arg;
    struct ctx c = {0};
    /* Graceful: puts fail, blocked putters too; getters drain, then fail. */
    task_check_eq(cio_queue_init(&c.q, sizeof(int), 2), 0);
    for (int i = 0; i < 2; i++)
        task_check_eq(cio_queue_put(&c.q, &i), 0);
    struct getter_arg pa = {&c, 7, 0};
    cio_task p = cio_spawn(put_one, &pa);
    task_check_eq(cio_yield(), 0);
    task_check_eq(cio_queue_shutdown(&c.q, false), 0);
    task_check(cio_queue_is_shutdown(&c.q));
    task_check_eq(cio_join(p), 0);
    task_check_eq(c.rc[7], CIO_ESHUTDOWN);
    int v = 5;
    task_check_eq(cio_queue_put(&c.q, &v), CIO_ESHUTDOWN);
    task_check_eq(cio_queue_try_put(&c.q, &v), CIO_ESHUTDOWN);
    task_check_eq(cio_queue_get(&c.q, &v), 0);
    task_check_eq(v, 0);
    task_check_eq(cio_queue_try_get(&c.q, &v), 0);
    task_check_eq(v, 1);
    task_check_eq(cio_queue_get(&c.q, &v), CIO_ESHUTDOWN);
    task_check_eq(cio_queue_try_get(&c.q, &v), CIO_ESHUTDOWN);
    cio_queue_destroy(&c.q);

    /* Blocked getters wake with CIO_ESHUTDOWN. */
    task_check_eq(cio_queue_init(&c.q, sizeof(int), 0), 0);
    struct getter_arg ga[2] = {{&c, 0, 0}, {&c, 1, 0}};
    cio_task g[2] = {cio_spawn(getter, &ga[0]), cio_spawn(getter, &ga[1])};
    task_check_eq(cio_sleep(1), 0);
    task_check_eq(cio_queue_shutdown(&c.q, false), 0);
    task_check_eq(cio_gather(g, 2), 0);
    task_check_eq(c.rc[0], CIO_ESHUTDOWN);
    task_check_eq(c.rc[1], CIO_ESHUTDOWN);
    cio_queue_destroy(&c.q);

    /* Immediate: the rest is dropped and counted done, so join returns. */
    task_check_eq(cio_queue_init(&c.q, sizeof(int), 0), 0);
    for (int i = 0; i < 3; i++)
        task_check_eq(cio_queue_put(&c.q, &i), 0);
    task_check_eq(cio_queue_get(&c.q, &v), 0); /* taken, not done yet */
    task_check_eq(cio_queue_shutdown(&c.q, true), 0);
    task_check_eq(cio_queue_size(&c.q), 0);
    task_check_eq(cio_queue_get(&c.q, &v), CIO_ESHUTDOWN);
    {
        CIO_TIMEOUT(t, 1);
        task_check_eq(cio_queue_join(&c.q), -ETIMEDOUT); /* one still taken */
    }
    task_check_eq(cio_queue_task_done(&c.q), 0);
    task_check_eq(cio_queue_join(&c.q), 0);
    cio_queue_destroy(&c.q);
    return 0;
}

static void test_shutdown(void **state)
{
    (void)state;
    assert_ok(run_virtual(shutdown_body, NULL));
}

/* ---- many producers and consumers: nothing lost, nothing duplicated ------- */

struct mp {
    cio_queue q;
    int seen[4000];
    int id;
};

static int mp_producer(void *arg)
{
    struct mp *m = arg;
    int base = m->id++ * 1000;
    for (int i = 0; i < 1000; i++) {
        int v = base + i;
        int rc = cio_queue_put(&m->q, &v);
        if (rc)
            return rc;
        if (i % 7 == 0 && (rc = cio_yield()))
            return rc;
    }
    return 0;
}

static int mp_consumer(void *arg)
{
    struct mp *m = arg;
    for (;;) {
        int v, rc = cio_queue_get(&m->q, &v);
        if (rc == CIO_ESHUTDOWN)
            return 0;
        if (rc)
            return rc;
        m->seen[v]++;
        if (v % 5 == 0 && (rc = cio_yield()))
            return rc;
    }
}

static int mp_body(void *arg)
{
    (void)arg;
    static struct mp m;
    memset(&m, 0, sizeof m);
    task_check_eq(cio_queue_init(&m.q, sizeof(int), 16), 0);
    cio_task prod[4], cons[4];
    for (int i = 0; i < 4; i++) {
        prod[i] = cio_spawn(mp_producer, &m);
        cons[i] = cio_spawn(mp_consumer, &m);
    }
    task_check_eq(cio_gather(prod, 4), 0);
    task_check_eq(cio_queue_shutdown(&m.q, false), 0);
    task_check_eq(cio_gather(cons, 4), 0);
    for (int i = 0; i < 4000; i++)
        task_check_eq(m.seen[i], 1);
    cio_queue_destroy(&m.q);
    return 0;
}

static void test_many(void **state)
{
    (void)state;
    assert_ok(run_virtual(mp_body, NULL));
}

/* Bounded LIFO and priority queues with blocked putters: the putter's item
 * moves in when a slot frees, and the order rules still hold. */
static int bounded_kinds_body(void *arg)
{
    (void)arg;
    struct ctx c = {0};
    task_check_eq(cio_priority_queue_init(&c.q, sizeof(struct job), 2, by_prio), 0);
    struct job a = {5, "a"}, b = {3, "b"}, x;
    task_check_eq(cio_queue_put(&c.q, &a), 0);
    task_check_eq(cio_queue_put(&c.q, &b), 0);
    task_check_eq(cio_queue_try_put(&c.q, &a), -EAGAIN);
    task_check_eq(cio_queue_get(&c.q, &x), 0);
    task_check_eq(x.prio, 3);
    task_check_eq(cio_queue_get(&c.q, &x), 0);
    task_check_eq(x.prio, 5);
    cio_queue_destroy(&c.q);

    task_check_eq(cio_lifo_queue_init(&c.q, sizeof(int), 2), 0);
    int v = 10;
    task_check_eq(cio_queue_put(&c.q, &v), 0);
    v = 11;
    task_check_eq(cio_queue_put(&c.q, &v), 0);
    struct getter_arg pb = {&c, 12, 0};
    cio_task p = cio_spawn(put_one, &pb); /* blocks: full */
    task_check_eq(cio_yield(), 0);
    task_check(!cio_task_done(p));
    task_check_eq(cio_queue_get(&c.q, &v), 0);
    task_check_eq(v, 11);
    task_check_eq(cio_join(p), 0);
    task_check_eq(c.rc[12], 0);
    task_check_eq(cio_queue_get(&c.q, &v), 0);
    task_check_eq(v, 12); /* moved in on top */
    task_check_eq(cio_queue_get(&c.q, &v), 0);
    task_check_eq(v, 10);
    cio_queue_destroy(&c.q);

    /* destroy wakes a waiting getter, which never touches the queue again */
    task_check_eq(cio_queue_init(&c.q, sizeof(int), 0), 0);
    struct getter_arg ga = {&c, 3, 0};
    cio_task g = cio_spawn(getter, &ga);
    task_check_eq(cio_yield(), 0);
    cio_queue_destroy(&c.q);
    task_check_eq(cio_join(g), 0);
    task_check_eq(c.rc[3], CIO_ESHUTDOWN);
    return 0;
}

static void test_bounded_kinds(void **state)
{
    (void)state;
    assert_ok(run_virtual(bounded_kinds_body, NULL));
}

/* Outside a task a wait is CIO_ENOTTASK; try_* work from callbacks. */
static cio_queue cb_q;
static int cb_rc[3];

static void from_callback(void *arg)
{
    (void)arg;
    int v = 1;
    cb_rc[0] = cio_queue_get(&cb_q, &v);
    cb_rc[1] = cio_queue_try_put(&cb_q, &v);
    cb_rc[2] = cio_queue_get(&cb_q, &v);
}

static int callback_body(void *arg)
{
    (void)arg;
    task_check_eq(cio_queue_init(&cb_q, sizeof(int), 0), 0);
    task_check_eq(cio_call_soon(from_callback, NULL, NULL), 0);
    task_check_eq(cio_sleep(0.1), 0);
    task_check_eq(cb_rc[0], CIO_ENOTTASK);
    task_check_eq(cb_rc[1], 0);
    task_check_eq(cb_rc[2], 0); /* an item was there: no wait needed */
    cio_queue_destroy(&cb_q);
    return 0;
}

static void test_callback(void **state)
{
    (void)state;
    assert_ok(run_virtual(callback_body, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_lifo),      cmocka_unit_test(test_priority),
        cmocka_unit_test(test_bounded),        cmocka_unit_test(test_getters_cancel),
        cmocka_unit_test(test_putters_cancel), cmocka_unit_test(test_join),
        cmocka_unit_test(test_shutdown),       cmocka_unit_test(test_many),
        cmocka_unit_test(test_bounded_kinds),  cmocka_unit_test(test_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
