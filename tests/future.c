/* Futures: resolution by a callback or a task, errors, cancellation, done
 * callbacks, several waiters, freeing with waiters. */
#include "helpers.h"

#include <errno.h>
#include <string.h>

static void resolve_later(void *arg)
{
    cio_future_set_result(arg, (void *)"hello");
}

struct waiters {
    cio_future *f;
    int rc[4];
    void *got[4];
    char order[8];
    int n;
};

struct waiter_arg {
    struct waiters *w;
    int i;
};

static int wait_one(void *arg)
{
    struct waiter_arg *a = arg;
    a->w->rc[a->i] = cio_future_wait(a->w->f, &a->w->got[a->i]);
    a->w->order[a->w->n++] = (char)('0' + a->i);
    return 0;
}

static int by_callback(void *arg)
{
    (void)arg;
    struct waiters w = {0};
    task_check_eq(cio_future_new(&w.f), 0);
    struct waiter_arg a[3] = {{&w, 0}, {&w, 1}, {&w, 2}};
    cio_task t[3];
    for (int i = 0; i < 3; i++)
        t[i] = cio_spawn(wait_one, &a[i]);
    task_check_eq(cio_call_later(0.5, resolve_later, w.f, NULL), 0);
    for (int i = 0; i < 3; i++)
        task_check_eq(cio_join(t[i]), 0);
    for (int i = 0; i < 3; i++) {
        task_check_eq(w.rc[i], 0);
        task_check(strcmp(w.got[i], "hello") == 0);
    }
    task_check(strcmp(w.order, "012") == 0); /* woken in the order they waited */
    task_check(cio_future_done(w.f));
    void *v = NULL;
    task_check_eq(cio_future_result(w.f, &v), 0);
    task_check(strcmp(v, "hello") == 0);
    task_check_eq(cio_future_set_result(w.f, NULL), CIO_ESTATE);
    task_check_eq(cio_future_set_error(w.f, -EIO), CIO_ESTATE);
    task_check_eq(cio_future_cancel(w.f), -EALREADY);
    cio_future_free(w.f);
    return 0;
}

static void test_resolved_by_callback(void **state)
{
    (void)state;
    assert_ok(run_virtual(by_callback, NULL));
}

static int setter(void *arg)
{
    cio_future *f = arg;
    if (cio_sleep(0.1) < 0)
        return -1;
    return cio_future_set_error(f, -ECONNRESET);
}

static int errors_and_cancel(void *arg)
{
    (void)arg;
    cio_future *f;
    task_check_eq(cio_future_new(&f), 0);
    task_check_eq(cio_future_result(f, NULL), CIO_ESTATE);
    cio_task t = cio_spawn(setter, f);
    task_check_eq(cio_future_wait(f, NULL), -ECONNRESET);
    task_check_eq(cio_join(t), 0);
    cio_future_free(f);

    task_check_eq(cio_future_new(&f), 0);
    task_check_eq(cio_future_set_error(f, 5), -EINVAL);
    task_check_eq(cio_future_cancel(f), 0);
    task_check(cio_future_cancelled(f));
    task_check_eq(cio_future_wait(f, NULL), -ECANCELED);
    cio_future_free(f);

    /* A timeout around a wait. */
    task_check_eq(cio_future_new(&f), 0);
    {
        CIO_TIMEOUT(to, 0.2);
        task_check_eq(cio_future_wait(f, NULL), -ETIMEDOUT);
    }
    task_check(!cio_future_done(f)); /* a waiter giving up does not cancel it */
    cio_future_free(f);
    return 0;
}

static void test_errors_cancel_timeout(void **state)
{
    (void)state;
    assert_ok(run_virtual(errors_and_cancel, NULL));
}

struct cb_log {
    char s[8];
    int n;
    cio_future *seen;
};

static void cb_a(cio_future *f, void *arg)
{
    struct cb_log *l = arg;
    l->seen = f;
    l->s[l->n++] = 'a';
}

static void cb_b(cio_future *f, void *arg)
{
    (void)f;
    struct cb_log *l = arg;
    l->s[l->n++] = 'b';
}

static int callbacks(void *arg)
{
    struct cb_log *l = arg;
    cio_future *f;
    task_check_eq(cio_future_new(&f), 0);
    task_check_eq(cio_future_add_done_callback(f, cb_a, l), 0);
    task_check_eq(cio_future_add_done_callback(f, cb_b, l), 0);
    task_check_eq(cio_future_add_done_callback(f, cb_b, l), 0);
    task_check_eq(cio_future_remove_done_callback(f, cb_b, l), 2);
    task_check_eq(cio_future_add_done_callback(f, cb_b, l), 0);
    task_check_eq(cio_future_set_result(f, NULL), 0);
    task_check_eq(l->n, 0); /* scheduled, not called synchronously */
    task_check_eq(cio_yield(), 0);
    task_check(strcmp(l->s, "ab") == 0);
    task_check(l->seen == f);
    /* Added after resolution: runs on the next turn. */
    task_check_eq(cio_future_add_done_callback(f, cb_a, l), 0);
    cio_future_free(f); /* the pending callback keeps it alive */
    task_check_eq(cio_yield(), 0);
    task_check(strcmp(l->s, "aba") == 0);
    return 0;
}

static void test_done_callbacks(void **state)
{
    (void)state;
    struct cb_log l = {0};
    assert_ok(run_virtual(callbacks, &l));
}

static int waits_for_freed(void *arg)
{
    return cio_future_wait(arg, NULL);
}

static int free_with_waiter(void *arg)
{
    (void)arg;
    cio_future *f;
    task_check_eq(cio_future_new(&f), 0);
    cio_task t = cio_spawn(waits_for_freed, f);
    task_check_eq(cio_yield(), 0);
    cio_future_free(f); /* the waiter is cancelled out, memory freed after */
    task_check_eq(cio_join(t), -ECANCELED);
    task_check_eq(cio_future_wait(NULL, NULL), -EINVAL);
    task_check_eq(cio_future_new(NULL), -EINVAL);
    return 0;
}

static void test_free_with_waiter(void **state)
{
    (void)state;
    assert_ok(run_virtual(free_with_waiter, NULL));
    cio_future *f;
    assert_int_equal(cio_future_new(&f), CIO_ENOLOOP);
}

/* Waits on f with a 1 s timeout, then on g. */
static int leaves_then_waits_elsewhere(void *arg)
{
    cio_future **fg = arg;
    int rc;
    {
        CIO_TIMEOUT(t, 1.0);
        rc = cio_future_wait(fg[0], NULL);
    }
    if (rc != -ETIMEDOUT)
        return -1000 - rc;
    return cio_future_wait(fg[1], NULL);
}

static int waiter_leaving(void *arg)
{
    (void)arg;
    struct waiters w = {0};
    task_check_eq(cio_future_new(&w.f), 0);
    struct waiter_arg a[4] = {{&w, 0}, {&w, 1}, {&w, 2}, {&w, 3}};
    cio_task t[4];
    for (int i = 0; i < 3; i++)
        t[i] = cio_spawn(wait_one, &a[i]);
    task_check_eq(cio_yield(), 0); /* all three wait, 0 first */
    /* The first waiter leaves; one that comes later still queues behind
     * those already waiting. */
    task_check_eq(cio_cancel(t[0]), 0);
    task_check_eq(cio_join(t[0]), 0);
    task_check_eq(w.rc[0], -ECANCELED);
    t[3] = cio_spawn(wait_one, &a[3]);
    task_check_eq(cio_yield(), 0);
    task_check_eq(cio_future_set_result(w.f, "x"), 0);
    for (int i = 1; i < 4; i++) {
        task_check_eq(cio_join(t[i]), 0);
        task_check_eq(w.rc[i], 0);
    }
    task_check(strcmp(w.order, "0123") == 0);
    cio_future_free(w.f);

    /* A lone waiter that timed out is not woken by the future later, while
     * it waits on something else. */
    cio_future *fg[2];
    task_check_eq(cio_future_new(&fg[0]), 0);
    task_check_eq(cio_future_new(&fg[1]), 0);
    cio_task l = cio_spawn(leaves_then_waits_elsewhere, fg);
    task_check_eq(cio_sleep(2.0), 0);
    task_check_eq(cio_future_set_result(fg[0], NULL), 0);
    task_check_eq(cio_sleep(1.0), 0);
    task_check(!cio_task_done(l)); /* still waiting on g */
    task_check_eq(cio_future_set_result(fg[1], NULL), 0);
    task_check_eq(cio_join(l), 0);
    cio_future_free(fg[0]);
    cio_future_free(fg[1]);
    return 0;
}

static void test_waiter_leaving(void **state)
{
    (void)state;
    assert_ok(run_virtual(waiter_leaving, NULL));
}

/* The loop recycles freed futures: one that comes back is as new, whatever
 * its last life (callbacks removed or run, waiters cancelled out of the
 * slot and the list, an error). */
static int recycled(void *arg)
{
    (void)arg;
    for (int life = 0; life < 4; life++) {
        struct cb_log l = {0};
        struct waiters w = {0};
        struct waiter_arg a[2] = {{&w, 0}, {&w, 1}};
        cio_task t[2];
        task_check_eq(cio_future_new(&w.f), 0);
        cio_future *old = w.f;
        if (life == 0) {
            task_check_eq(cio_future_add_done_callback(old, cb_b, &l), 0);
            task_check_eq(cio_future_remove_done_callback(old, cb_b, &l), 1);
            task_check_eq(cio_future_set_result(old, (void *)"old"), 0);
        } else if (life == 1) {
            task_check_eq(cio_future_add_done_callback(old, cb_a, &l), 0);
            task_check_eq(cio_future_set_result(old, NULL), 0);
            task_check_eq(cio_yield(), 0);
            task_check_eq(l.n, 1);
        } else if (life == 2) {
            for (int i = 0; i < 2; i++)
                t[i] = cio_spawn(wait_one, &a[i]);
            task_check_eq(cio_yield(), 0); /* one in the slot, one in the list */
        } else {
            task_check_eq(cio_future_set_error(old, -EIO), 0);
        }
        cio_future_free(old);
        if (life == 2)
            for (int i = 0; i < 2; i++) {
                task_check_eq(cio_join(t[i]), 0);
                task_check_eq(w.rc[i], -ECANCELED);
            }

        /* The next future is the same memory, and fresh. */
        memset(&w, 0, sizeof w);
        memset(&l, 0, sizeof l);
        task_check_eq(cio_future_new(&w.f), 0);
        task_check(w.f == old);
        task_check(!cio_future_done(w.f));
        task_check(!cio_future_cancelled(w.f));
        task_check_eq(cio_future_result(w.f, NULL), CIO_ESTATE);
        task_check_eq(cio_future_add_done_callback(w.f, cb_b, &l), 0);
        for (int i = 0; i < 2; i++)
            t[i] = cio_spawn(wait_one, &a[i]);
        task_check_eq(cio_yield(), 0);
        task_check_eq(cio_future_set_result(w.f, (void *)"new"), 0);
        for (int i = 0; i < 2; i++) {
            task_check_eq(cio_join(t[i]), 0);
            task_check_eq(w.rc[i], 0);
            task_check(strcmp(w.got[i], "new") == 0);
        }
        task_check(strcmp(w.order, "01") == 0);
        task_check_eq(cio_yield(), 0);
        task_check(strcmp(l.s, "b") == 0); /* its own callback, once */
        cio_future_free(w.f);
    }
    return 0;
}

static void test_recycled(void **state)
{
    (void)state;
    assert_ok(run_virtual(recycled, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolved_by_callback), cmocka_unit_test(test_errors_cancel_timeout),
        cmocka_unit_test(test_done_callbacks),       cmocka_unit_test(test_free_with_waiter),
        cmocka_unit_test(test_waiter_leaving),       cmocka_unit_test(test_recycled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
