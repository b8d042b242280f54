/* Bad use is an error code, never a crash; every code has a name. */
#include "helpers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct from_callback {
    int sleep_rc, yield_rc, join_rc, wait_rc, check_rc;
    bool ran;
};

static void misuse_in_callback(void *arg)
{
    struct from_callback *c = arg;
    c->sleep_rc = cio_sleep(1);
    c->yield_rc = cio_yield();
    c->join_rc = cio_join(cio_current());
    c->wait_rc = cio_wait_readable(0, 1);
    c->check_rc = cio_check();
    c->ran = true;
}

static int schedule_misuse(void *arg)
{
    task_check_eq(cio_call_soon(misuse_in_callback, arg, NULL), 0);
    return cio_sleep(0.1);
}

static void test_suspending_outside_a_task(void **state)
{
    (void)state;
    struct from_callback c = {0};
    assert_ok(run_virtual(schedule_misuse, &c));
    assert_true(c.ran);
    assert_int_equal(c.sleep_rc, CIO_ENOTTASK);
    assert_int_equal(c.yield_rc, CIO_ENOTTASK);
    assert_int_equal(c.join_rc, CIO_EBADTASK); /* no current task: an empty handle */
    assert_int_equal(c.wait_rc, CIO_ENOTTASK);
    assert_int_equal(c.check_rc, CIO_ENOTTASK);
    /* And with no loop at all. */
    assert_int_equal(cio_sleep(1), CIO_ENOLOOP);
    assert_int_equal(cio_yield(), CIO_ENOLOOP);
    assert_int_equal(cio_check(), CIO_ENOLOOP);
}

static void test_null_and_stale_handles(void **state)
{
    (void)state;
    cio_task none = {0};
    assert_int_equal(cio_join(none), CIO_EBADTASK);
    assert_int_equal(cio_detach(none), CIO_EBADTASK);
    assert_int_equal(cio_cancel(none), CIO_EBADTASK);
    assert_true(cio_task_done(none));
    assert_null(cio_task_name(none));
    int r;
    assert_int_equal(cio_task_result(none, &r), CIO_EBADTASK);
    assert_int_equal(cio_call_soon(NULL, NULL, NULL), -EINVAL);
    assert_int_equal(cio_future_set_result(NULL, NULL), -EINVAL);
    assert_false(cio_future_done(NULL));
    assert_false(cio_scope_expired(NULL));
}

static int returns_zero(void *arg)
{
    (void)arg;
    return 0;
}

static int spawn_and_leave(void *arg)
{
    cio_task *out = arg;
    *out = cio_spawn(returns_zero, NULL);
    return cio_yield(); /* it has run, and is never joined */
}

/* A handle kept after its loop closed names freed memory: every call
 * refuses it without touching it. */
static void test_handle_outliving_its_loop(void **state)
{
    (void)state;
    cio_task kept = {0};
    char *report = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&report, &len);
    assert_int_equal(cio_run_with(&(cio_run_options){.report = f}, spawn_and_leave, &kept), 0);
    fclose(f);
    free(report);
    assert_non_null(kept.ptr_);
    /* No loop runs here: every call says so (task.h), not "bad handle". */
    assert_int_equal(cio_join(kept), CIO_ENOLOOP);
    assert_int_equal(cio_detach(kept), CIO_ENOLOOP);
    assert_int_equal(cio_cancel(kept), CIO_ENOLOOP);
    assert_true(cio_task_done(kept));
    assert_null(cio_task_name(kept));
    int r;
    assert_int_equal(cio_task_result(kept, &r), CIO_ENOLOOP);
    assert_int_equal(cio_task_remove_done_callback(kept, NULL, NULL), CIO_ENOLOOP);
    assert_false(cio_task_cancelling(kept));
}

/* ...nor in a later loop, even one whose own task sits at the same
 * address: the record is checked to be one the running loop handed out,
 * and ids are unique across loops. */
struct later {
    cio_task kept, fresh;
    int same_address;
};

static int returns_seven(void *arg)
{
    (void)arg;
    return 7;
}

static int use_old_handle(void *arg)
{
    struct later *l = arg;
    l->fresh = cio_spawn(returns_seven, NULL);
    task_check_eq(cio_yield(), 0); /* fresh has run and ended */
    l->same_address = l->fresh.ptr_ == l->kept.ptr_;
    task_check_eq(cio_join(l->kept), CIO_EBADTASK);
    task_check_eq(cio_cancel(l->kept), CIO_EBADTASK);
    task_check_eq(cio_detach(l->kept), CIO_EBADTASK);
    task_check(cio_task_done(l->kept));
    task_check(cio_task_name(l->kept) == NULL);
    int r;
    task_check_eq(cio_task_result(l->kept, &r), CIO_EBADTASK);
    task_check_eq(cio_join(l->fresh), 7); /* untouched by the old handle */
    return 0;
}

static void test_handle_passed_to_a_later_loop(void **state)
{
    (void)state;
    struct later l = {0};
    char *report = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&report, &len);
    assert_int_equal(cio_run_with(&(cio_run_options){.report = f}, spawn_and_leave, &l.kept), 0);
    fclose(f);
    free(report);
    assert_int_equal(run_virtual(use_old_handle, &l), 0);
    /* Informative: malloc usually hands the freed slab to the next loop. */
    print_message("the later loop's task %s the old handle's address\n",
                  l.same_address ? "reused" : "did not reuse");
}

static void test_every_code_has_a_name(void **state)
{
    (void)state;
    int own[] = {CIO_ENOLOOP, CIO_ENOTTASK, CIO_EBADTASK, CIO_ESTATE, CIO_ESCOPE, CIO_EDEADLOCK};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        assert_true(strncmp(cio_err_name(own[i]), "CIO_E", 5) == 0);
        assert_string_not_equal(cio_strerror(own[i]), "unknown error");
    }
    assert_string_equal(cio_err_name(-ECANCELED), "ECANCELED");
    assert_string_equal(cio_err_name(-ETIMEDOUT), "ETIMEDOUT");
    assert_string_equal(cio_strerror(-ETIMEDOUT), "Connection timed out");
    assert_string_equal(cio_err_name(0), "OK");
    assert_string_equal(cio_err_name(12345), "UNKNOWN");
    assert_string_equal(cio_strerror(-99999), "unknown error");
}

static int waits_on_nothing(void *arg)
{
    cio_future *f = arg;
    return cio_future_wait(f, NULL);
}

static int deadlocks(void *arg)
{
    (void)arg;
    cio_future *f;
    task_check_eq(cio_future_new(&f), 0);
    cio_task t = cio_spawn_with(&(cio_spawn_options){.name = "stuck"}, waits_on_nothing, f);
    int rc = cio_join(t); /* nobody will ever resolve f */
    cio_future_free(f);
    return rc;
}

static void test_deadlock_is_reported_not_hung(void **state)
{
    (void)state;
    char *report = NULL;
    int rc = run_capture(deadlocks, NULL, &report);
    assert_int_equal(rc, CIO_EDEADLOCK);
    assert_non_null(strstr(report, "deadlock"));
    assert_non_null(strstr(report, "stuck"));
    assert_non_null(strstr(report, "waiting in future"));
    free(report);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suspending_outside_a_task),
        cmocka_unit_test(test_null_and_stale_handles),
        cmocka_unit_test(test_handle_outliving_its_loop),
        cmocka_unit_test(test_handle_passed_to_a_later_loop),
        cmocka_unit_test(test_every_code_has_a_name),
        cmocka_unit_test(test_deadlock_is_reported_not_hung),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
