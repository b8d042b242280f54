/* Context variables: values that follow a task, with asyncio's contextvars
 * semantics (a task starts with a copy of its spawner's context as it is
 * at the spawn). */
#include "helpers.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static cio_context_var request = CIO_CONTEXT_VAR("request", (void *)"none");
static cio_context_var user = CIO_CONTEXT_VAR("user", NULL);

#define V(x) ((void *)(uintptr_t)(x))

static void test_outside_a_task(void **state)
{
    (void)state;
    assert_string_equal(cio_context_get(&request), "none");
    assert_null(cio_context_get(&user));
    assert_null(cio_context_get(NULL));
    assert_int_equal(cio_context_set(&request, V(1)), CIO_ENOLOOP);
}

static int set_and_get(void *arg)
{
    (void)arg;
    task_check(!strcmp(cio_context_get(&request), "none")); /* the default */
    task_check_eq(cio_context_set(&request, V(1)), 0);
    task_check_eq(cio_context_set(&user, V(2)), 0);
    task_check(cio_context_get(&request) == V(1));
    task_check(cio_context_get(&user) == V(2));
    task_check_eq(cio_context_set(&request, V(3)), 0); /* replaced, not added */
    task_check(cio_context_get(&request) == V(3));
    task_check(cio_context_get(&user) == V(2));
    task_check_eq(cio_context_set(NULL, V(1)), -EINVAL);
    /* It follows the task across suspensions. */
    task_check_eq(cio_sleep(0.5), 0);
    task_check(cio_context_get(&request) == V(3));
    return 0;
}

static void test_set_and_get(void **state)
{
    (void)state;
    assert_int_equal(run_virtual(set_and_get, NULL), 0);
}

/* ---- inheritance --------------------------------------------------------- */

struct seen {
    void *at_start, *after_sleep, *after_own_set;
};

static int child(void *arg)
{
    struct seen *s = arg;
    s->at_start = cio_context_get(&request);
    cio_sleep(1.0); /* meanwhile the parent sets it again */
    s->after_sleep = cio_context_get(&request);
    cio_context_set(&request, V(100));
    s->after_own_set = cio_context_get(&request);
    return 0;
}

static int grandparent_task(void *arg)
{
    (void)arg;
    struct seen a = {0}, b = {0};
    cio_task none = cio_spawn(child, &a); /* before any set: the default */
    task_check_eq(cio_context_set(&request, V(7)), 0);
    cio_task t = cio_spawn(child, &b);
    task_check_eq(cio_sleep(0.5), 0);
    task_check_eq(cio_context_set(&request, V(8)), 0); /* after the spawn: the child keeps 7 */
    task_check_eq(cio_join(t), 0);
    task_check_eq(cio_join(none), 0);
    task_check(!strcmp(a.at_start, "none") && !strcmp(a.after_sleep, "none"));
    task_check(b.at_start == V(7));
    task_check(b.after_sleep == V(7));
    task_check(b.after_own_set == V(100));
    /* The child's own set stayed its own. */
    task_check(cio_context_get(&request) == V(8));
    return 0;
}

static void test_a_child_starts_with_a_copy(void **state)
{
    (void)state;
    assert_int_equal(run_virtual(grandparent_task, NULL), 0);
}

/* Three generations, and siblings that write: each write copies the shared
 * context once, and nobody sees another's. */
static int level(void *arg)
{
    int depth = (int)(uintptr_t)arg;
    if (cio_context_get(&user) != V(depth - 1))
        return -100 - depth;
    if (cio_context_set(&user, V(depth)) < 0)
        return -1;
    if (depth == 3)
        return 0;
    cio_task kids[3];
    for (int i = 0; i < 3; i++)
        kids[i] = cio_spawn(level, V(depth + 1));
    int rc = cio_gather(kids, 3);
    if (rc)
        return rc;
    return cio_context_get(&user) == V(depth) ? 0 : -200 - depth;
}

static int generations(void *arg)
{
    (void)arg;
    task_check_eq(cio_context_set(&user, V(0)), 0);
    cio_task t = cio_spawn(level, V(1));
    task_check_eq(cio_join(t), 0);
    task_check(cio_context_get(&user) == V(0));
    return 0;
}

static void test_generations(void **state)
{
    (void)state;
    assert_int_equal(run_virtual(generations, NULL), 0);
}

/* ---- where there is no task ----------------------------------------------- */

struct cb_seen {
    void *soon, *nested, *later, *done, *spawned, *fd;
    int set_rc;
    cio_task task;
    int pipe[2];
};

static int report_context(void *arg)
{
    *(void **)arg = cio_context_get(&user);
    return 0;
}

static void nested(void *arg)
{
    struct cb_seen *s = arg;
    s->nested = cio_context_get(&user);
}

static void soon(void *arg)
{
    struct cb_seen *s = arg;
    s->soon = cio_context_get(&user);
    s->set_rc = cio_context_set(&user, V(99));
    s->task = cio_spawn(report_context, &s->spawned);
    cio_call_soon(nested, s, NULL); /* scheduled in the callback's context */
}

static void later(void *arg)
{
    struct cb_seen *s = arg;
    s->later = cio_context_get(&user);
}

static void done(cio_future *f, void *arg)
{
    (void)f;
    struct cb_seen *s = arg;
    s->done = cio_context_get(&user);
}

static void readable(void *arg)
{
    struct cb_seen *s = arg;
    cio_remove_reader(s->pipe[0]); /* its context lives on until it returns */
    s->fd = cio_context_get(&user);
}

static void never(void *arg)
{
    (void)arg;
}

static int left_open[2]; /* a reader still added when the loop closes */

/* A callback runs in the context of the code that scheduled it, as that
 * context was then, as asyncio's call_soon and add_done_callback do. */
static int callbacks(void *arg)
{
    (void)arg;
    struct cb_seen s = {0};
    task_check_eq(cio_context_set(&user, V(5)), 0);
    task_check_eq(cio_call_soon(soon, &s, NULL), 0);
    task_check_eq(cio_call_later(1.0, later, &s, NULL), 0);
    cio_future *f;
    task_check_eq(cio_future_new(&f), 0);
    task_check_eq(cio_future_add_done_callback(f, done, &s), 0);
    task_check_eq(pipe(s.pipe), 0);
    task_check_eq(cio_add_reader(s.pipe[0], readable, &s), 0);
    /* Left behind: a cancelled one, and one still due when the loop closes
     * (LeakSanitizer checks that they give their contexts back). */
    cio_handle *h;
    task_check_eq(cio_call_later(5.0, never, NULL, &h), 0);
    task_check_eq(cio_handle_cancel(h), 0);
    task_check_eq(cio_call_later(3600.0, never, NULL, NULL), 0);
    task_check_eq(pipe(left_open), 0);
    task_check_eq(cio_add_reader(left_open[0], never, NULL), 0);
    task_check_eq(cio_add_reader(left_open[0], never, &s), 0); /* replaces it */

    task_check_eq(cio_context_set(&user, V(6)), 0); /* after: not theirs */
    task_check_eq(cio_future_set_result(f, NULL), 0);
    task_check_eq(write(s.pipe[1], "x", 1), 1);
    task_check_eq(cio_sleep(2.0), 0);
    task_check(s.soon == V(5));
    task_check(s.nested == V(5));
    task_check(s.later == V(5));
    task_check(s.done == V(5));
    task_check(s.fd == V(5));
    task_check_eq(s.set_rc, CIO_ENOTTASK);
    task_check_eq(cio_join(s.task), 0);
    task_check(s.spawned == V(5));
    task_check(cio_context_get(&user) == V(6));
    cio_future_free(f);
    close(s.pipe[0]);
    close(s.pipe[1]);
    return 0;
}

static void test_callbacks_run_in_their_schedulers_context(void **state)
{
    (void)state;
    assert_int_equal(run_virtual(callbacks, NULL), 0);
    close(left_open[0]);
    close(left_open[1]);
}

/* ---- lifetime --------------------------------------------------------------- */

static int short_lived(void *arg)
{
    (void)arg;
    cio_context_set(&request, V(1));
    return cio_context_set(&user, V(2));
}

static int blocked_forever(void *arg)
{
    (void)arg;
    cio_context_set(&user, V(9));
    cio_event never;
    cio_event_init(&never);
    /* Not even cancellation ends this wait: the task is still alive when
     * the loop closes, and its context must be freed with it. */
    CIO_SHIELD(s);
    return cio_event_wait(&never);
}

static int many(void *arg)
{
    (void)arg;
    task_check_eq(cio_context_set(&request, V(3)), 0);
    for (int round = 0; round < 10; round++) {
        cio_task t[1000];
        for (int i = 0; i < 1000; i++)
            t[i] = cio_spawn(short_lived, NULL);
        task_check_eq(cio_gather(t, 1000), 0);
    }
    cio_task stuck = cio_spawn(blocked_forever, NULL);
    cio_detach(stuck);
    task_check_eq(cio_yield(), 0);
    return 0;
}

static void test_contexts_are_freed(void **state)
{
    (void)state;
    /* LeakSanitizer and Valgrind check the point of this test. */
    char *report = NULL;
    assert_int_equal(run_capture(many, NULL, &report), 0);
    assert_non_null(strstr(report, "still"));
    free(report);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outside_a_task),
        cmocka_unit_test(test_set_and_get),
        cmocka_unit_test(test_a_child_starts_with_a_copy),
        cmocka_unit_test(test_generations),
        cmocka_unit_test(test_callbacks_run_in_their_schedulers_context),
        cmocka_unit_test(test_contexts_are_freed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
