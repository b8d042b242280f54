/* Toolkit: gather (both modes), wait (three conditions, timeout),
 * as_completed, wait_for, task groups. */
#include <errno.h>
#include <math.h>

#include "helpers.h"
#include "loop/loop.h"

/* Loop time when the test body started: the virtual clock also counts the
 * real time that passes, which under Valgrind is not negligible. */
static double epoch;

/* Timing tolerance: 5 ms, or 50 ms under Valgrind (make valgrind sets
 * CIO_VALGRIND=1), whose slowness leaks into the virtual clock. */
#define near(a, b) (fabs((a) - (b)) < (getenv("CIO_VALGRIND") ? 0.05 : 0.005))

struct job {
    double delay;
    int result;
    int *log; /* appended to when it finishes */
    int *nlog;
    int id;
    bool cleaned; /* saw its cancellation and unwound */
};

static int job(void *arg)
{
    struct job *j = arg;
    int rc = cio_sleep(j->delay);
    if (rc < 0) {
        j->cleaned = true;
        return rc;
    }
    if (j->log)
        j->log[(*j->nlog)++] = j->id;
    return j->result;
}

static void setup(struct job *j, int n, const double *delays, const int *results, int *log,
                  int *nlog)
{
    for (int i = 0; i < n; i++)
        j[i] = (struct job){delays[i], results ? results[i] : 0, log, nlog, i, false};
}

/* ---- gather ----------------------------------------------------------- */

static int gather_ok_body(void *arg)
{
    (void)arg;
    epoch = cio_time();
    struct job j[5];
    int log[5], nlog = 0;
    setup(j, 5, (double[]){0.5, 0.1, 0.3, 0.2, 0.4}, (int[]){1, 2, 3, 4, 5}, log, &nlog);
    cio_task t[5];
    for (int i = 0; i < 5; i++)
        t[i] = cio_spawn(job, &j[i]);
    task_check_eq(cio_gather(t, 5), 0);
    task_check(near(cio_time() - epoch, 0.5));
    for (int i = 0; i < 5; i++)
        task_check(cio_task_is_none(t[i])); /* all released */
    task_check_eq(cio_gather(t, 0), 0);
    task_check_eq(cio_gather(NULL, 1), -EINVAL);

    /* return_exceptions=True: every result in order. */
    setup(j, 5, (double[]){0.3, 0.1, 0.2, 0.1, 0}, (int[]){7, -EIO, 0, -ENOENT, 3}, NULL, NULL);
    for (int i = 0; i < 5; i++)
        t[i] = cio_spawn(job, &j[i]);
    int r[5];
    task_check_eq(cio_gather_results(t, 5, r), 0);
    task_check_eq(r[0], 7);
    task_check_eq(r[1], -EIO);
    task_check_eq(r[2], 0);
    task_check_eq(r[3], -ENOENT);
    task_check_eq(r[4], 3);
    task_check(near(cio_time() - epoch, 0.8));
    return 0;
}

static void test_gather(void **state)
{
    (void)state;
    assert_ok(run_virtual(gather_ok_body, NULL));
}

/* asyncio's default: the first failure, in finishing order, at once; the
 * others keep running and stay the caller's. */
static int gather_fail_body(void *arg)
{
    (void)arg;
    epoch = cio_time();
    struct job j[4];
    setup(j, 4, (double[]){1.0, 0.3, 0.2, 2.0}, (int[]){0, -EIO, -ENOENT, 0}, NULL, NULL);
    cio_task t[4];
    for (int i = 0; i < 4; i++)
        t[i] = cio_spawn(job, &j[i]);
    task_check_eq(cio_gather(t, 4), -ENOENT);
    task_check(near(cio_time() - epoch, 0.2));
    task_check(cio_task_is_none(t[2]));
    task_check(!cio_task_is_none(t[0]));
    task_check(!cio_task_is_none(t[1]));
    task_check(!cio_task_is_none(t[3]));
    task_check(!cio_task_done(t[0]));
    /* The rest are still ours: gather them again. */
    task_check_eq(cio_gather(t, 4), -EIO);
    task_check(near(cio_time() - epoch, 0.3));
    /* t[1] and t[2] are empty now: skipped. */
    task_check_eq(cio_gather(t, 4), 0);
    task_check(near(cio_time() - epoch, 2.0));
    cio_task stale = cio_spawn(job, &j[0]);
    cio_task copy = stale;
    task_check_eq(cio_join(stale), 0);
    task_check_eq(cio_gather(&copy, 1), CIO_EBADTASK);
    return 0;
}

static void test_gather_first_failure(void **state)
{
    (void)state;
    assert_ok(run_virtual(gather_fail_body, NULL));
}

/* The gatherer is woken only by the last finish or a failure: successes
 * before a failure are harvested when the failure wakes it, and it returns
 * at the failure's time, not at the last task's. */
static int gather_ok_then_fail_body(void *arg)
{
    (void)arg;
    epoch = cio_time();
    struct job j[4];
    setup(j, 4, (double[]){0.1, 0.5, 0.3, 0.2}, (int[]){0, -EIO, 0, 0}, NULL, NULL);
    cio_task t[4];
    for (int i = 0; i < 4; i++)
        t[i] = cio_spawn(job, &j[i]);
    task_check_eq(cio_gather(t, 4), -EIO);
    task_check(near(cio_time() - epoch, 0.5));
    for (int i = 0; i < 4; i++)
        task_check(cio_task_is_none(t[i])); /* all finished and released */
    setup(j, 3, (double[]){0.1, 0.4, 0.2}, (int[]){0, 0, -EPIPE}, NULL, NULL);
    epoch = cio_time();
    for (int i = 0; i < 3; i++)
        t[i] = cio_spawn(job, &j[i]);
    task_check_eq(cio_gather(t, 3), -EPIPE);
    task_check(near(cio_time() - epoch, 0.2));
    task_check(cio_task_is_none(t[0]) && cio_task_is_none(t[2]));
    task_check(!cio_task_is_none(t[1]));
    task_check_eq(cio_gather(t, 3), 0);
    task_check(near(cio_time() - epoch, 0.4));
    return 0;
}

static void test_gather_successes_then_failure(void **state)
{
    (void)state;
    assert_ok(run_virtual(gather_ok_then_fail_body, NULL));
}

struct gatherer {
    struct job j[3];
    int rc;
    bool results;
};

static int gatherer(void *arg)
{
    struct gatherer *g = arg;
    cio_task t[3];
    for (int i = 0; i < 3; i++)
        t[i] = cio_spawn(job, &g->j[i]);
    int r[3];
    g->rc = g->results ? cio_gather_results(t, 3, r) : cio_gather(t, 3);
    for (int i = 0; i < 3; i++)
        if (!cio_task_is_none(t[i]))
            return -1; /* every handle released after an interruption */
    return 0;
}

/* Cancelling a gather cancels its children and waits for them. */
static int gather_cancel_body(void *arg)
{
    (void)arg;
    for (int mode = 0; mode < 2; mode++) {
        struct gatherer g = {.results = mode == 1};
        setup(g.j, 3, (double[]){0.1, 5, 10}, NULL, NULL, NULL);
        cio_task t = cio_spawn(gatherer, &g);
        task_check_eq(cio_sleep(1), 0);
        cio_cancel(t);
        task_check_eq(cio_join(t), 0);
        task_check_eq(g.rc, -ECANCELED);
        task_check(!g.j[0].cleaned);
        task_check(g.j[1].cleaned);
        task_check(g.j[2].cleaned);
    }
    /* A timeout around a gather: -ETIMEDOUT, children unwound. */
    struct job j[2];
    setup(j, 2, (double[]){1, 5}, NULL, NULL, NULL);
    cio_task t[2] = {cio_spawn(job, &j[0]), cio_spawn(job, &j[1])};
    double start = cio_time();
    {
        CIO_TIMEOUT(to, 2);
        task_check_eq(cio_gather(t, 2), -ETIMEDOUT);
    }
    task_check(near(cio_time() - start, 2));
    task_check(j[1].cleaned);
    return 0;
}

static void test_gather_cancel(void **state)
{
    (void)state;
    assert_ok(run_virtual(gather_cancel_body, NULL));
}

/* 10,000 tasks: more than the inline nodes, finishing in reverse order. */
static int gather_many_body(void *arg)
{
    (void)arg;
    enum { N = 10000 };
    static struct job j[N];
    static cio_task t[N];
    static int r[N];
    for (int i = 0; i < N; i++) {
        j[i] = (struct job){(N - i) * 0.001, i, NULL, NULL, i, false};
        t[i] = cio_spawn(job, &j[i]);
    }
    task_check_eq(cio_gather_results(t, N, r), 0);
    for (int i = 0; i < N; i++)
        task_check_eq(r[i], i);
    return 0;
}

static void test_gather_many(void **state)
{
    (void)state;
    assert_ok(run_virtual(gather_many_body, NULL));
}

/* The same running task twice in one gather: both entries get its result,
 * and it is released once (the loop's count of live tasks stays right). */
static int gather_duplicate_body(void *arg)
{
    (void)arg;
    struct job j = {0.1, 7, NULL, NULL, 0, false};
    long before = cio__tls_loop->ntasks;
    cio_task t = cio_spawn(job, &j);
    cio_task twice[2] = {t, t};
    int r[2] = {0, 0};
    task_check_eq(cio_gather_results(twice, 2, r), 0);
    task_check_eq(r[0], 7);
    task_check_eq(r[1], 7);
    task_check_eq(cio__tls_loop->ntasks, before);
    return 0;
}

static void test_gather_duplicate(void **state)
{
    (void)state;
    assert_ok(run_virtual(gather_duplicate_body, NULL));
}

/* ---- wait ----------------------------------------------------------------- */

static int wait_body(void *arg)
{
    (void)arg;
    epoch = cio_time();
    struct job j[4];
    cio_task t[4];
    setup(j, 4, (double[]){0.4, 0.1, 0.3, 0.2}, (int[]){0, 0, -EIO, 0}, NULL, NULL);
    for (int i = 0; i < 4; i++)
        t[i] = cio_spawn(job, &j[i]);
    cio_task orig[4] = {t[0], t[1], t[2], t[3]};

    task_check_eq(cio_wait(t, 4, CIO_FIRST_COMPLETED, -1), 1);
    task_check(near(cio_time() - epoch, 0.1));
    task_check(cio_task_same(t[0], orig[1])); /* done first */
    task_check(cio_task_same(t[1], orig[0])); /* pending in original order */
    task_check(cio_task_same(t[2], orig[2]));
    task_check(cio_task_same(t[3], orig[3]));

    task_check_eq(cio_wait(t, 4, CIO_FIRST_EXCEPTION, -1), 3);
    task_check(near(cio_time() - epoch, 0.3));
    task_check(cio_task_same(t[0], orig[1])); /* already done, first */
    task_check(cio_task_same(t[1], orig[3])); /* 0.2 */
    task_check(cio_task_same(t[2], orig[2])); /* 0.3, failed */
    task_check(cio_task_same(t[3], orig[0]));

    /* Timeout: returns what is done; not an error. */
    task_check_eq(cio_wait(t, 4, CIO_ALL_COMPLETED, 0.05), 3);
    task_check(near(cio_time() - epoch, 0.35));
    task_check(!cio_task_done(t[3]));
    task_check_eq(cio_wait(t, 4, CIO_ALL_COMPLETED, -1), 4);
    task_check(near(cio_time() - epoch, 0.4));
    int r;
    task_check_eq(cio_task_result(t[2], &r), 0);
    task_check_eq(r, -EIO);
    for (int i = 0; i < 4; i++)
        cio_join(t[i]);

    /* An enclosing timeout is an error; the array is untouched. */
    setup(j, 2, (double[]){5, 1}, NULL, NULL, NULL);
    t[0] = cio_spawn(job, &j[0]);
    t[1] = cio_spawn(job, &j[1]);
    orig[0] = t[0];
    {
        CIO_TIMEOUT(to, 0.5);
        task_check_eq(cio_wait(t, 2, CIO_FIRST_COMPLETED, 10), -ETIMEDOUT);
    }
    task_check(cio_task_same(t[0], orig[0]));
    task_check_eq(cio_wait(t, 2, 0, -1), -EINVAL);
    task_check_eq(cio_wait(t, 2, CIO_FIRST_COMPLETED, NAN), -EINVAL);
    cio_cancel(t[0]);
    cio_cancel(t[1]);
    task_check_eq(cio_gather_results(t, 2, (int[2]){0}), 0);
    task_check_eq(cio_wait(t, 0, CIO_ALL_COMPLETED, -1), 0);

    /* FIRST_EXCEPTION ignores tasks that ended by cancellation, as asyncio
     * does; empty entries count as done. */
    setup(j, 3, (double[]){0.1, 0.2, 0.3}, (int[]){0, -EIO, 0}, NULL, NULL);
    for (int i = 0; i < 3; i++)
        t[i] = cio_spawn(job, &j[i]);
    t[3] = CIO_TASK_NONE;
    orig[2] = t[2];
    cio_cancel(t[0]);
    double start = cio_time();
    task_check_eq(cio_wait(t, 4, CIO_FIRST_EXCEPTION, -1), 3);
    task_check(near(cio_time() - start, 0.2));
    task_check(cio_task_same(t[3], orig[2])); /* the only one pending */
    task_check_eq(cio_gather_results(t, 4, (int[4]){0}), 0);
    return 0;
}

static void test_wait(void **state)
{
    (void)state;
    assert_ok(run_virtual(wait_body, NULL));
}

/* ---- as_completed and wait_for ------------------------------------------ */

static int as_completed_body(void *arg)
{
    (void)arg;
    epoch = cio_time();
    struct job j[12];
    cio_task t[12];
    for (int i = 0; i < 12; i++) {
        j[i] = (struct job){(12 - i) * 0.1, 100 + i, NULL, NULL, i, false};
        t[i] = cio_spawn(job, &j[i]);
    }
    int k = 0, rc;
    size_t index;
    int result;
    {
        CIO_AS_COMPLETED(it, t, 12);
        while ((rc = cio_as_completed_next(&it, &index, &result)) > 0) {
            task_check_eq(index, 11 - k);
            task_check_eq(result, 100 + 11 - k);
            task_check(cio_task_is_none(t[index]));
            task_check(near(cio_time() - epoch, (k + 1) * 0.1));
            k++;
        }
        task_check_eq(rc, 0);
        task_check_eq(cio_as_completed_next(&it, &index, &result), 0);
    }
    task_check_eq(k, 12);

    /* A timeout around the loop; the rest stay ours. */
    for (int i = 0; i < 3; i++) {
        j[i] = (struct job){(i + 1) * 1.0, i, NULL, NULL, i, false};
        t[i] = cio_spawn(job, &j[i]);
    }
    k = 0;
    {
        CIO_TIMEOUT(to, 1.5);
        CIO_AS_COMPLETED(it, t, 3);
        while ((rc = cio_as_completed_next(&it, &index, NULL)) > 0)
            k++;
    }
    task_check_eq(rc, -ETIMEDOUT);
    task_check_eq(k, 1);
    task_check(cio_task_is_none(t[0]));
    task_check_eq(cio_join(t[1]), 1);
    task_check_eq(cio_join(t[2]), 2);
    return 0;
}

static void test_as_completed(void **state)
{
    (void)state;
    assert_ok(run_virtual(as_completed_body, NULL));
}

static int wait_for_body(void *arg)
{
    (void)arg;
    struct job j = {10, 5, NULL, NULL, 0, false};
    cio_task t = cio_spawn(job, &j);
    double start = cio_time();
    task_check_eq(cio_wait_for(t, 2.0), -ETIMEDOUT);
    task_check(near(cio_time() - start, 2.0));
    task_check(j.cleaned); /* cancelled and awaited */
    task_check_eq(cio_join(t), CIO_EBADTASK);
    j = (struct job){1, 5, NULL, NULL, 0, false};
    t = cio_spawn(job, &j);
    task_check_eq(cio_wait_for(t, 2.0), 5);
    t = cio_spawn(job, &j);
    task_check_eq(cio_wait_for(t, -1), 5);
    t = cio_spawn(job, &j);
    task_check_eq(cio_wait_for(t, NAN), -EINVAL);
    task_check_eq(cio_join(t), 5);
    return 0;
}

static void test_wait_for(void **state)
{
    (void)state;
    assert_ok(run_virtual(wait_for_body, NULL));
}

/* ---- task groups ---------------------------------------------------------- */

static int group_ok_body(void *arg)
{
    (void)arg;
    epoch = cio_time();
    struct job j[100];
    int rc;
    {
        CIO_GROUP(g);
        for (int i = 0; i < 100; i++) {
            j[i] = (struct job){(i % 10) * 0.1, i, NULL, NULL, i, false};
            cio_group_spawn(&g, job, &j[i]);
        }
        task_check_eq(cio_group_size(&g), 100);
        task_check_eq(cio_group_running(&g), 100);
        rc = cio_group_wait(&g);
        task_check_eq(rc, 0);
        task_check(near(cio_time() - epoch, 0.9));
        for (size_t i = 0; i < 100; i++) {
            int r;
            task_check_eq(cio_group_result(&g, i, &r), 0);
            task_check_eq(r, (int)i);
        }
        int r;
        task_check_eq(cio_group_result(&g, 100, &r), -EINVAL);
    }
    /* The block's end waits for children that were never waited for. */
    struct job k = {1, 0, NULL, NULL, 0, false};
    double start = cio_time();
    {
        CIO_GROUP(g);
        cio_group_spawn(&g, job, &k);
    }
    task_check(near(cio_time() - start, 1));
    task_check(!k.cleaned);
    return 0;
}

static void test_group(void **state)
{
    (void)state;
    assert_ok(run_virtual(group_ok_body, NULL));
}

static int group_fail_body(void *arg)
{
    (void)arg;
    epoch = cio_time();
    struct job j[4];
    setup(j, 4, (double[]){5, 0.5, 1, 5}, (int[]){0, -EIO, -ENOENT, 0}, NULL, NULL);
    CIO_GROUP(g);
    for (int i = 0; i < 4; i++)
        cio_group_spawn(&g, job, &j[i]);
    /* The owner is busy elsewhere: the failure cancels siblings at once. */
    task_check_eq(cio_sleep(0.7), 0);
    task_check_eq(cio_group_error(&g), -EIO);
    task_check_eq(cio_group_wait(&g), -EIO);
    task_check(near(cio_time() - epoch, 0.7));
    int r;
    task_check_eq(cio_group_result(&g, 0, &r), 0);
    task_check_eq(r, -ECANCELED);
    task_check_eq(cio_group_result(&g, 1, &r), 0);
    task_check_eq(r, -EIO);
    task_check_eq(cio_group_result(&g, 2, &r), 0);
    task_check_eq(r, -ECANCELED);
    task_check(j[0].cleaned && j[2].cleaned && j[3].cleaned);
    /* A later spawn starts cancelled. */
    struct job late = {0, 1, NULL, NULL, 0, false};
    cio_group_spawn(&g, job, &late);
    task_check_eq(cio_group_wait(&g), -EIO);
    task_check_eq(cio_group_result(&g, 4, &r), 0);
    task_check_eq(r, -ECANCELED);
    return 0;
}

static void test_group_failure(void **state)
{
    (void)state;
    assert_ok(run_virtual(group_fail_body, NULL));
}

struct owner {
    struct job j[3];
    int rc;
};

static int group_owner(void *arg)
{
    struct owner *o = arg;
    CIO_GROUP(g);
    for (int i = 0; i < 3; i++)
        cio_group_spawn(&g, job, &o->j[i]);
    o->rc = cio_group_wait(&g);
    return o->rc;
}

static int group_cancel_body(void *arg)
{
    (void)arg;
    epoch = cio_time();
    struct owner o = {0};
    setup(o.j, 3, (double[]){0.5, 5, 10}, NULL, NULL, NULL);
    cio_task t = cio_spawn(group_owner, &o);
    task_check_eq(cio_sleep(1), 0);
    cio_cancel(t);
    task_check_eq(cio_join(t), -ECANCELED);
    task_check_eq(o.rc, -ECANCELED);
    task_check(!o.j[0].cleaned);
    task_check(o.j[1].cleaned && o.j[2].cleaned);
    task_check(near(cio_time() - epoch, 1));

    /* cio_group_cancel from the owner; a spawn error counts as failure. */
    CIO_GROUP(g);
    struct job k = {5, 0, NULL, NULL, 0, false};
    cio_task c = cio_group_spawn(&g, job, &k);
    task_check_eq(cio_spawn_error(c), 0);
    task_check_eq(cio_yield(), 0); /* let it start: cancelled before, it would never run */
    task_check_eq(cio_group_cancel(&g), 0);
    task_check_eq(cio_group_wait(&g), 0); /* cancellation is not failure */
    task_check(k.cleaned);
    CIO_GROUP(g2);
    cio_task bad = cio_group_spawn(&g2, NULL, NULL);
    task_check_eq(cio_spawn_error(bad), -EINVAL);
    task_check_eq(cio_group_wait(&g2), -EINVAL);
    return 0;
}

static void test_group_cancel(void **state)
{
    (void)state;
    assert_ok(run_virtual(group_cancel_body, NULL));
}

/* One task waits on a group, as one joins a task: a second waiter is told
 * so at once (it used to replace the first, which then slept until the
 * loop found the deadlock). */
static int second_waiter(void *arg)
{
    return cio_group_wait(arg);
}

static int group_two_waiters_body(void *arg)
{
    (void)arg;
    epoch = cio_time();
    struct job j = {1, 0, NULL, NULL, 0, false};
    CIO_GROUP(g);
    cio_group_spawn(&g, job, &j);
    cio_task first = cio_spawn(second_waiter, &g);
    task_check_eq(cio_yield(), 0); /* first waits now */
    task_check_eq(cio_group_wait(&g), -EBUSY);
    cio_task other = cio_spawn(second_waiter, &g);
    task_check_eq(cio_join(other), -EBUSY);
    task_check_eq(cio_join(first), 0);
    task_check(near(cio_time() - epoch, 1));
    task_check_eq(cio_group_wait(&g), 0); /* nobody waits any more */
    return 0;
}

static void test_group_two_waiters(void **state)
{
    (void)state;
    assert_ok(run_virtual(group_two_waiters_body, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gather),
        cmocka_unit_test(test_gather_first_failure),
        cmocka_unit_test(test_gather_successes_then_failure),
        cmocka_unit_test(test_gather_cancel),
        cmocka_unit_test(test_gather_many),
        cmocka_unit_test(test_wait),
        cmocka_unit_test(test_as_completed),
        cmocka_unit_test(test_wait_for),
        cmocka_unit_test(test_group),
        cmocka_unit_test(test_group_failure),
        cmocka_unit_test(test_group_cancel),
        cmocka_unit_test(test_group_two_waiters),
        cmocka_unit_test(test_gather_duplicate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
