/* Toolkit: async generators, retry with backoff, the token-bucket limiter. */
#include <errno.h>
#include <math.h>

#include "helpers.h"

/* Loop time when the test body started: the virtual clock also counts the
 * real time that passes, which under Valgrind is not negligible. */
static double epoch;

/* Timing tolerance: 5 ms, or 50 ms under Valgrind (make valgrind sets
 * CIO_VALGRIND=1), whose slowness leaks into the virtual clock. */
#define near(a, b) (fabs((a) - (b)) < (getenv("CIO_VALGRIND") ? 0.05 : 0.005))

struct range {
    int start, stop;
    double delay;
    int fail_at;  /* return -EIO instead of yielding this value (-1: never) */
    bool started; /* the body ran */
    int cleanup;  /* the error its yield saw when closed */
    double cleanup_done;
};

static int gen_range(cio_gen *g, void *arg)
{
    struct range *r = arg;
    r->started = true;
    for (int i = r->start; i < r->stop; i++) {
        int rc = cio_sleep(r->delay);
        if (rc == 0 && i == r->fail_at)
            return -EIO;
        if (rc == 0)
            rc = cio_gen_yield(g, &i);
        if (rc < 0) {
            r->cleanup = rc;
            CIO_SHIELD(s); /* cleanup that must wait */
            cio_sleep(0.5);
            r->cleanup_done = cio_time();
            return rc;
        }
    }
    return 7; /* a positive return is a normal end */
}

static int gen_basic_body(void *arg)
{
    (void)arg;
    epoch = cio_time();
    struct range r = {0, 5, 0.1, -1};
    int got[8], n = 0, v, rc;
    {
        CIO_GENERATOR(it, gen_range, &r, sizeof(int));
        task_check_eq(cio_yield(), 0);
        task_check(!r.started); /* lazy, as in Python */
        while ((rc = cio_gen_next(&it, &v)) > 0) {
            got[n++] = v;
            task_check(near(cio_time() - epoch, n * 0.1));
        }
        task_check_eq(rc, 0);
        task_check_eq(cio_gen_next(&it, &v), 0); /* exhausted stays exhausted */
    }
    task_check_eq(n, 5);
    for (int i = 0; i < 5; i++)
        task_check_eq(got[i], i);
    task_check_eq(r.cleanup, 0);

    /* An error in the generator reaches the consumer, and stays. */
    struct range e = {0, 5, 0.1, 2};
    CIO_GENERATOR(it, gen_range, &e, sizeof(int));
    task_check_eq(cio_gen_next(&it, &v), 1);
    task_check_eq(cio_gen_next(&it, &v), 1);
    task_check_eq(v, 1);
    task_check_eq(cio_gen_next(&it, &v), -EIO);
    task_check_eq(cio_gen_next(&it, &v), -EIO);
    task_check_eq(cio_gen_close(&it), -EIO);
    task_check_eq(cio_gen_next(&it, &v), 0); /* closed */

    cio_gen bad;
    task_check_eq(cio_gen_init(&bad, NULL, NULL, 4), -EINVAL);
    task_check_eq(cio_gen_init(&bad, gen_range, NULL, 0), -EINVAL);
    task_check_eq(cio_gen_next(NULL, &v), -EINVAL);
    task_check_eq(cio_gen_yield(&it, &v), -EPERM); /* not the generator's task */
    return 0;
}

static void test_generator(void **state)
{
    (void)state;
    assert_ok(run_virtual(gen_basic_body, NULL));
}

/* Closing early runs the generator's cleanup, which sees cancellation. */
static int gen_close_body(void *arg)
{
    (void)arg;
    epoch = cio_time();
    struct range r = {0, 100, 0.1, -1};
    int v, n = 0;
    {
        CIO_GENERATOR(it, gen_range, &r, sizeof(int));
        while (cio_gen_next(&it, &v) > 0)
            if (++n == 3)
                break; /* the block's end closes the generator */
    }
    task_check_eq(r.cleanup, -ECANCELED);
    task_check(near(r.cleanup_done - epoch, 0.8)); /* shielded cleanup ran to its end */
    task_check(near(cio_time() - epoch, 0.8));     /* and close waited for it */

    /* Closing a generator that never started does not start it. */
    struct range never = {0, 3, 0.1, -1};
    cio_gen g;
    task_check_eq(cio_gen_init(&g, gen_range, &never, sizeof(int)), 0);
    task_check_eq(cio_gen_close(&g), 0);
    task_check_eq(cio_yield(), 0);
    task_check(!never.started);
    task_check_eq(cio_gen_next(&g, &v), 0);
    return 0;
}

static void test_generator_close(void **state)
{
    (void)state;
    assert_ok(run_virtual(gen_close_body, NULL));
}

/* A consumer interrupted while waiting loses no value. */
static int gen_interrupt_body(void *arg)
{
    (void)arg;
    struct range r = {0, 3, 0.1, -1};
    CIO_GENERATOR(it, gen_range, &r, sizeof(int));
    int v = -1;
    {
        CIO_TIMEOUT(t, 0.05);
        task_check_eq(cio_gen_next(&it, &v), -ETIMEDOUT);
    }
    task_check_eq(cio_sleep(1), 0); /* the generator yields 0 meanwhile */
    task_check_eq(cio_gen_next(&it, &v), 1);
    task_check_eq(v, 0);
    task_check_eq(cio_gen_next(&it, &v), 1);
    task_check_eq(v, 1);
    task_check_eq(cio_gen_next(&it, &v), 1);
    task_check_eq(v, 2);
    task_check_eq(cio_gen_next(&it, &v), 0);
    return 0;
}

static void test_generator_interrupted(void **state)
{
    (void)state;
    assert_ok(run_virtual(gen_interrupt_body, NULL));
}

/* Two consumers at once: the second is refused, the first is served. */
struct two_consumers {
    cio_gen *g;
    int rc, v;
};

static int second_consumer(void *arg)
{
    struct two_consumers *c = arg;
    c->rc = cio_gen_next(c->g, &c->v);
    return 0;
}

static int gen_two_consumers_body(void *arg)
{
    (void)arg;
    struct range r = {0, 3, 0.1, -1};
    CIO_GENERATOR(it, gen_range, &r, sizeof(int));
    struct two_consumers c = {&it, 99, -1};
    cio_task t = cio_spawn(second_consumer, &c);
    int v = -1;
    task_check_eq(cio_yield(), 0); /* the second one is waiting now */
    task_check_eq(cio_gen_next(&it, &v), -EBUSY);
    task_check_eq(cio_join(t), 0);
    task_check_eq(c.rc, 1);
    task_check_eq(c.v, 0);
    task_check_eq(cio_gen_next(&it, &v), 1); /* free again */
    task_check_eq(v, 1);
    return 0;
}

static void test_generator_two_consumers(void **state)
{
    (void)state;
    assert_ok(run_virtual(gen_two_consumers_body, NULL));
}

/* ---- retry --------------------------------------------------------------- */

struct flaky {
    int fail_times;
    int err;
    int calls;
    double at[16];
};

static int flaky(void *arg)
{
    struct flaky *f = arg;
    f->at[f->calls++] = cio_time();
    return f->calls <= f->fail_times ? f->err : 42;
}

static bool only_reset(int err, void *arg)
{
    (void)arg;
    return err == -ECONNRESET;
}

struct log {
    int attempts[16];
    double delays[16];
    int n;
};

static void on_retry(int attempt, int err, double delay, void *arg)
{
    struct log *l = arg;
    (void)err;
    l->attempts[l->n] = attempt;
    l->delays[l->n++] = delay;
}

static int retry_body(void *arg)
{
    (void)arg;
    /* No jitter: delays 1, 2, 4 capped at 3. */
    struct flaky f = {3, -ECONNRESET};
    struct log l = {0};
    cio_retry_policy p = {.max_attempts = 5,
                          .base_delay = 1,
                          .factor = 2,
                          .max_delay = 3,
                          .jitter = -1,
                          .on_retry = on_retry,
                          .arg = &l};
    task_check_eq(cio_retry(&p, flaky, &f), 42);
    task_check_eq(f.calls, 4);
    task_check(near(f.at[1] - f.at[0], 1));
    task_check(near(f.at[2] - f.at[1], 2));
    task_check(near(f.at[3] - f.at[2], 3));
    task_check_eq(l.n, 3);
    task_check_eq(l.attempts[2], 3);

    /* Gives up after max_attempts with the last error. */
    f = (struct flaky){10, -ECONNRESET};
    p = (cio_retry_policy){.max_attempts = 3, .base_delay = 0.1};
    task_check_eq(cio_retry(&p, flaky, &f), -ECONNRESET);
    task_check_eq(f.calls, 3);

    /* Jitter within [0.5, 1.5) x, reproducible with a seed. */
    struct log a = {0}, b = {0};
    for (int k = 0; k < 2; k++) {
        f = (struct flaky){10, -ECONNRESET};
        p = (cio_retry_policy){.max_attempts = 6,
                               .base_delay = 1,
                               .on_retry = on_retry,
                               .arg = k ? &b : &a,
                               .seed = 9};
        task_check_eq(cio_retry(&p, flaky, &f), -ECONNRESET);
    }
    task_check_eq(a.n, 5);
    for (int i = 0; i < 5; i++) {
        double base = pow(2, i);
        task_check(a.delays[i] >= 0.5 * base && a.delays[i] < 1.5 * base);
        task_check(a.delays[i] == b.delays[i]);
    }

    /* A predicate: other errors are returned at once. */
    f = (struct flaky){10, -EACCES};
    p = (cio_retry_policy){.retryable = only_reset, .base_delay = 0.1};
    task_check_eq(cio_retry(&p, flaky, &f), -EACCES);
    task_check_eq(f.calls, 1);

    /* Cancellation is never retried. */
    f = (struct flaky){10, -ECANCELED};
    task_check_eq(cio_retry(NULL, flaky, &f), -ECANCELED);
    task_check_eq(f.calls, 1);

    /* An enclosing timeout bounds the whole, sleeps included. */
    f = (struct flaky){100, -ECONNRESET};
    p = (cio_retry_policy){.max_attempts = 100, .base_delay = 1, .jitter = -1};
    double start = cio_time();
    {
        CIO_TIMEOUT(t, 5);
        task_check_eq(cio_retry(&p, flaky, &f), -ETIMEDOUT);
    }
    task_check(near(cio_time() - start, 5));
    task_check_eq(f.calls, 3); /* at 0, 1, 3; the sleep to 7 is cut at 5 */

    task_check_eq(cio_retry(NULL, NULL, NULL), -EINVAL);
    p = (cio_retry_policy){.base_delay = -1};
    task_check_eq(cio_retry(&p, flaky, &f), -EINVAL);
    return 0;
}

static void test_retry(void **state)
{
    (void)state;
    assert_ok(run_virtual(retry_body, NULL));
}

static int cancelled_retrier(void *arg)
{
    struct flaky *f = arg;
    cio_retry_policy p = {.max_attempts = 10, .base_delay = 1, .jitter = -1};
    return cio_retry(&p, flaky, f);
}

static int retry_cancel_body(void *arg)
{
    (void)arg;
    struct flaky f = {100, -ECONNRESET};
    cio_task t = cio_spawn(cancelled_retrier, &f);
    task_check_eq(cio_sleep(1.5), 0);
    cio_cancel(t);
    task_check_eq(cio_join(t), -ECANCELED);
    task_check_eq(f.calls, 2);
    return 0;
}

static void test_retry_cancel(void **state)
{
    (void)state;
    assert_ok(run_virtual(retry_cancel_body, NULL));
}

/* ---- limiter ------------------------------------------------------------- */

struct lim {
    cio_limiter l;
    double at[64];
    int n;
};

static int limited(void *arg)
{
    struct lim *m = arg;
    int rc = cio_limiter_acquire(&m->l);
    if (rc == 0)
        m->at[m->n++] = cio_time();
    return rc;
}

static int limiter_body(void *arg)
{
    (void)arg;
    epoch = cio_time();
    static struct lim m;
    m = (struct lim){0};
    /* 10 per second, bursts of 5. */
    task_check_eq(cio_limiter_init(&m.l, 10, 5), 0);
    cio_task t[20];
    for (int i = 0; i < 20; i++)
        t[i] = cio_spawn(limited, &m);
    task_check_eq(cio_gather(t, 20), 0);
    task_check_eq(m.n, 20);
    for (int i = 0; i < 5; i++)
        task_check(near(m.at[i] - epoch, 0)); /* the burst */
    for (int i = 5; i < 20; i++)
        task_check(near(m.at[i] - epoch, (i - 4) * 0.1)); /* then the rate */
    task_check_eq(cio_limiter_try_acquire(&m.l), -EAGAIN);
    task_check_eq(cio_sleep(0.1), 0);
    task_check_eq(cio_limiter_try_acquire(&m.l), 0);
    task_check_eq(cio_limiter_try_acquire(&m.l), -EAGAIN);

    /* A cancelled waiter gives its slot back if it was the last. */
    task_check_eq(cio_limiter_init(&m.l, 1, 1), 0);
    task_check_eq(cio_limiter_acquire(&m.l), 0);
    double start = cio_time();
    {
        CIO_TIMEOUT(to, 0.2);
        task_check_eq(cio_limiter_acquire(&m.l), -ETIMEDOUT);
    }
    task_check_eq(cio_limiter_acquire(&m.l), 0);
    task_check(near(cio_time() - start, 1.0)); /* not 2.0 */
    task_check_eq(cio_limiter_init(&m.l, 0, 1), -EINVAL);
    task_check_eq(cio_limiter_init(&m.l, 1, 0.5), -EINVAL);
    return 0;
}

static void test_limiter(void **state)
{
    (void)state;
    assert_ok(run_virtual(limiter_body, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generator),
        cmocka_unit_test(test_generator_close),
        cmocka_unit_test(test_generator_interrupted),
        cmocka_unit_test(test_generator_two_consumers),
        cmocka_unit_test(test_retry),
        cmocka_unit_test(test_retry_cancel),
        cmocka_unit_test(test_limiter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
