/* Level-triggered cancellation: a task cancelled in every kind of wait,
 * inside shields, by itself, before it starts, and after it ends. */
#include "helpers.h"

#include <errno.h>
#include <math.h>
#include <unistd.h>

struct probe {
    int first;  /* what the interrupted wait returned */
    int second; /* what the next suspending call returned */
    int fds[2];
    cio_future *fut;
    cio_task other;
};

static int in_sleep(void *arg)
{
    struct probe *p = arg;
    p->first = cio_sleep(100);
    p->second = cio_yield();
    return p->first;
}

static int in_wait_fd(void *arg)
{
    struct probe *p = arg;
    p->first = cio_wait_readable(p->fds[0], -1);
    p->second = cio_sleep(1);
    return p->first;
}

static int in_future(void *arg)
{
    struct probe *p = arg;
    p->first = cio_future_wait(p->fut, NULL);
    p->second = cio_sleep(1);
    return p->first;
}

static int forever(void *arg)
{
    (void)arg;
    return cio_sleep(INFINITY);
}

static int in_join(void *arg)
{
    struct probe *p = arg;
    p->first = cio_join(p->other); /* cancelling us cancels the child too */
    p->second = cio_sleep(1);
    return p->first;
}

static int in_yield_loop(void *arg)
{
    struct probe *p = arg;
    int rc;
    while ((rc = cio_yield()) == 0)
        ;
    p->first = rc;
    p->second = cio_yield();
    return rc;
}

static int cancel_each(void *arg)
{
    (void)arg;
    cio_task_fn kinds[] = {in_sleep, in_wait_fd, in_future, in_join, in_yield_loop};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        struct probe p = {0};
        task_check_eq(pipe(p.fds), 0);
        task_check_eq(cio_future_new(&p.fut), 0);
        p.other = cio_spawn(forever, NULL);
        cio_task t = cio_spawn(kinds[k], &p);
        task_check_eq(cio_sleep(0.01), 0);
        task_check(!cio_task_done(t));
        task_check_eq(cio_cancel(t), 0);
        task_check(cio_task_cancelling(t));
        task_check_eq(cio_join(t), -ECANCELED);
        task_check_eq(p.first, -ECANCELED);
        task_check_eq(p.second, -ECANCELED); /* level-triggered: it stays cancelled */
        if (kinds[k] == in_join)
            task_check(cio_task_done(p.other)); /* the child went with it */
        else
            task_check_eq(cio_cancel(p.other), 0);
        if (!cio_task_done(p.other) || kinds[k] != in_join)
            task_check_eq(cio_join(p.other), -ECANCELED);
        cio_future_free(p.fut);
        cio_forget_fd(p.fds[0]);
        close(p.fds[0]);
        close(p.fds[1]);
    }
    return 0;
}

static void test_cancel_in_every_wait(void **state)
{
    (void)state;
    assert_ok(run_virtual(cancel_each, NULL));
}

struct shielded {
    int inside;
    int after;
    double finished_at;
};

static int cleanup_in_shield(void *arg)
{
    struct shielded *s = arg;
    int rc = cio_sleep(100); /* cancelled here */
    {
        CIO_SHIELD(shield);
        s->inside = cio_sleep(0.5); /* cleanup that must wait: not interrupted */
        s->finished_at = cio_time();
    }
    s->after = cio_yield();
    return rc;
}

static int shield_main(void *arg)
{
    struct shielded *s = arg;
    cio_task t = cio_spawn(cleanup_in_shield, s);
    task_check_eq(cio_sleep(1), 0);
    double t0 = cio_time();
    task_check_eq(cio_cancel(t), 0);
    task_check_eq(cio_join(t), -ECANCELED);
    task_check(s->finished_at - t0 >= 0.5 - EPS);
    return 0;
}

static void test_cancel_inside_shield(void **state)
{
    (void)state;
    struct shielded s = {0};
    assert_ok(run_virtual(shield_main, &s));
    assert_int_equal(s.inside, 0);
    assert_int_equal(s.after, -ECANCELED);
}

static int cancel_self(void *arg)
{
    int *steps = arg;
    task_check_eq(cio_cancel(cio_current()), 0);
    (*steps)++; /* cancelling oneself does not stop the code that runs now */
    task_check_eq(cio_check(), -ECANCELED);
    task_check_eq(cio_sleep(0), -ECANCELED);
    task_check_eq(cio_sleep(1), -ECANCELED);
    (*steps)++;
    return -ECANCELED;
}

static int self_main(void *arg)
{
    cio_task t = cio_spawn(cancel_self, arg);
    task_check_eq(cio_join(t), -ECANCELED);
    return 0;
}

static void test_task_cancels_itself(void **state)
{
    (void)state;
    int steps = 0;
    assert_ok(run_virtual(self_main, &steps));
    assert_int_equal(steps, 2);
}

static int never_runs(void *arg)
{
    *(int *)arg = 1;
    return 0;
}

static int before_start(void *arg)
{
    cio_task t = cio_spawn(never_runs, arg);
    task_check_eq(cio_cancel(t), 0);
    task_check_eq(cio_join(t), -ECANCELED);
    return 0;
}

static void test_cancel_before_start(void **state)
{
    (void)state;
    int ran = 0;
    assert_ok(run_virtual(before_start, &ran));
    assert_int_equal(ran, 0); /* as in asyncio, it never runs */
}

static int quick(void *arg)
{
    (void)arg;
    return 3;
}

static int after_end(void *arg)
{
    (void)arg;
    cio_task t = cio_spawn(quick, NULL);
    task_check_eq(cio_yield(), 0);
    task_check(cio_task_done(t));
    task_check_eq(cio_cancel(t), -EALREADY);
    task_check_eq(cio_join(t), 3);
    return 0;
}

static void test_cancel_finished_task(void **state)
{
    (void)state;
    assert_ok(run_virtual(after_end, NULL));
}

static int canceller(void *arg)
{
    cio_task *target = arg;
    return cio_cancel(*target);
}

static int join_cancelled_main(void *arg)
{
    (void)arg;
    cio_task me = cio_current();
    cio_task c = cio_spawn(canceller, &me);
    int rc = cio_sleep(10);
    task_check_eq(rc, -ECANCELED);
    task_check_eq(cio_join(c), 0); /* join still waits (the child is done anyway) */
    return 0;
}

static void test_cancelled_parent_still_joins(void **state)
{
    (void)state;
    assert_ok(run_virtual(join_cancelled_main, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_in_every_wait),
        cmocka_unit_test(test_cancel_inside_shield),
        cmocka_unit_test(test_task_cancels_itself),
        cmocka_unit_test(test_cancel_before_start),
        cmocka_unit_test(test_cancel_finished_task),
        cmocka_unit_test(test_cancelled_parent_still_joins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
