/* Timeout and shield scopes: expiry, nesting in both orders, shields,
 * rescheduling, misuse. */
#include "helpers.h"

#include <errno.h>
#include <math.h>
#include <string.h>

static int simple_timeout(void *arg)
{
    (void)arg;
    double t0 = cio_time();
    cio_scope s = {0};
    task_check_eq(cio_timeout_enter(&s, 0.5), 0);
    int rc = cio_sleep(10);
    task_check_eq(rc, -ETIMEDOUT);
    task_check_eq(cio_sleep(1), -ETIMEDOUT); /* level-triggered inside the scope */
    task_check_eq(cio_scope_exit(&s), 1);
    task_check(cio_scope_expired(&s));
    double dt = cio_time() - t0;
    task_check(between(dt, 0.5, 0.51));
    task_check_eq(cio_sleep(1), 0); /* outside, life goes on */
    /* A scope whose deadline never comes. */
    cio_scope n = {0};
    task_check_eq(cio_timeout_enter(&n, 1.0), 0);
    task_check_eq(cio_sleep(0.5), 0);
    task_check_eq(cio_scope_exit(&n), 0);
    task_check(!cio_scope_expired(&n));
    return 0;
}

static void test_timeout_expires(void **state)
{
    (void)state;
    assert_ok(run_virtual(simple_timeout, NULL));
}

/* Outer deadline first: the inner code sees -ETIMEDOUT, and only the outer
 * scope counts as expired. */
static int outer_first(void *arg)
{
    (void)arg;
    cio_scope outer = {0}, inner = {0};
    task_check_eq(cio_timeout_enter(&outer, 1.0), 0);
    task_check_eq(cio_timeout_enter(&inner, 5.0), 0);
    task_check_eq(cio_sleep(10), -ETIMEDOUT);
    task_check_eq(cio_scope_exit(&inner), 0);
    task_check(!cio_scope_expired(&inner));
    task_check_eq(cio_sleep(1), -ETIMEDOUT); /* still inside the expired outer */
    task_check_eq(cio_scope_exit(&outer), 1);
    return 0;
}

/* Inner deadline first: the outer code carries on until its own. */
static int inner_first(void *arg)
{
    (void)arg;
    double t0 = cio_time();
    cio_scope outer = {0}, inner = {0};
    task_check_eq(cio_timeout_enter(&outer, 2.0), 0);
    task_check_eq(cio_timeout_enter(&inner, 0.5), 0);
    task_check_eq(cio_sleep(10), -ETIMEDOUT);
    task_check_eq(cio_scope_exit(&inner), 1);
    task_check_eq(cio_sleep(1.0), 0);          /* t = 1.5: outer not yet expired */
    task_check_eq(cio_sleep(1.0), -ETIMEDOUT); /* outer expires at 2.0 */
    task_check_eq(cio_scope_exit(&outer), 1);
    double dt = cio_time() - t0;
    task_check(between(dt, 2.0, 2.01));
    return 0;
}

static void test_nested_timeouts_both_orders(void **state)
{
    (void)state;
    assert_ok(run_virtual(outer_first, NULL));
    assert_ok(run_virtual(inner_first, NULL));
}

static int shield_hides_outer_timeout(void *arg)
{
    (void)arg;
    double t0 = cio_time();
    CIO_TIMEOUT(outer, 1.0);
    {
        CIO_SHIELD(sh);
        task_check_eq(cio_sleep(2.0), 0); /* outer expires meanwhile: hidden */
        /* A timeout inside the shield still works. */
        {
            CIO_TIMEOUT(inner, 0.5);
            task_check_eq(cio_sleep(5.0), -ETIMEDOUT);
            task_check(cio_scope_expired(&inner));
        }
    }
    task_check(cio_time() - t0 >= 2.5 - EPS);
    task_check_eq(cio_sleep(1.0), -ETIMEDOUT); /* the shield is gone */
    task_check(cio_scope_expired(&outer));
    return 0;
}

static void test_shield_and_timeouts(void **state)
{
    (void)state;
    assert_ok(run_virtual(shield_hides_outer_timeout, NULL));
}

static int early_return_helper(void)
{
    CIO_TIMEOUT(t, 0.2);
    return cio_sleep(0.1); /* returns from inside: the macro exits the scope */
}

static int macro_exits_on_return(void *arg)
{
    (void)arg;
    task_check_eq(early_return_helper(), 0);
    task_check_eq(cio_sleep(1.0), 0); /* no stale scope left behind */
    return 0;
}

static void test_macro_exits_on_every_path(void **state)
{
    (void)state;
    char *report = NULL;
    assert_ok(run_capture(macro_exits_on_return, NULL, &report));
    assert_string_equal(report, "");
    free(report);
}

static int reschedule(void *arg)
{
    (void)arg;
    double t0 = cio_time();
    cio_scope s = {0};
    task_check_eq(cio_timeout_enter(&s, 0.5), 0);
    task_check_eq(cio_timeout_reschedule(&s, t0 + 2.0), 0);
    task_check_eq(cio_sleep(1.0), 0);
    task_check_eq(cio_sleep(5.0), -ETIMEDOUT);
    task_check(between(cio_time() - t0, 2.0, 2.01));
    task_check_eq(cio_timeout_reschedule(&s, t0 + 10), CIO_ESTATE);
    task_check_eq(cio_scope_exit(&s), 1);
    /* Already past: expired at once; INFINITY: never. */
    cio_scope p = {0};
    task_check_eq(cio_timeout_enter(&p, -1), 0);
    task_check_eq(cio_yield(), -ETIMEDOUT);
    task_check_eq(cio_scope_exit(&p), 1);
    cio_scope inf = {0};
    task_check_eq(cio_timeout_enter(&inf, INFINITY), 0);
    task_check_eq(cio_sleep(1000), 0);
    task_check_eq(cio_scope_exit(&inf), 0);
    return 0;
}

static void test_reschedule_and_extremes(void **state)
{
    (void)state;
    assert_ok(run_virtual(reschedule, NULL));
}

static int misuse(void *arg)
{
    (void)arg;
    cio_scope a = {0}, b = {0};
    task_check_eq(cio_timeout_enter(NULL, 1), -EINVAL);
    task_check_eq(cio_timeout_enter(&a, 1), 0);
    task_check_eq(cio_timeout_enter(&a, 1), -EINVAL); /* already entered */
    task_check_eq(cio_shield_enter(&b), 0);
    task_check_eq(cio_scope_exit(&a), CIO_ESCOPE); /* not innermost */
    task_check_eq(cio_scope_exit(&b), 0);
    task_check_eq(cio_scope_exit(&b), -EINVAL); /* not entered any more */
    task_check_eq(cio_scope_exit(&a), 0);
    task_check_eq(cio_timeout_reschedule(&b, 1), -EINVAL);
    return 0;
}

static void test_misuse(void **state)
{
    (void)state;
    assert_ok(run_virtual(misuse, NULL));
    cio_scope s = {0};
    assert_int_equal(cio_timeout_enter(&s, 1), CIO_ENOLOOP);
    assert_int_equal(cio_scope_exit(&s), -EINVAL);
}

static int forgets_exit(void *arg)
{
    (void)arg;
    static cio_scope s; /* outlives the task, so the check below is safe */
    task_check_eq(cio_timeout_enter(&s, 10), 0);
    return 0;
}

static int forget_main(void *arg)
{
    (void)arg;
    cio_task t = cio_spawn_with(&(cio_spawn_options){.name = "sloppy"}, forgets_exit, NULL);
    task_check_eq(cio_join(t), 0);
    task_check_eq(cio_sleep(20), 0); /* the abandoned scope's timer is gone */
    return 0;
}

static void test_scope_left_open_is_reported(void **state)
{
    (void)state;
    char *report = NULL;
    assert_ok(run_capture(forget_main, NULL, &report));
    assert_non_null(strstr(report, "task 'sloppy' ended inside a scope it never exited"));
    free(report);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeout_expires),
        cmocka_unit_test(test_nested_timeouts_both_orders),
        cmocka_unit_test(test_shield_and_timeouts),
        cmocka_unit_test(test_macro_exits_on_every_path),
        cmocka_unit_test(test_reschedule_and_extremes),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_scope_left_open_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
