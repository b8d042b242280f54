/* Tasks: spawn, join, detach, names, yield order, bad handles. */
#include "helpers.h"

#include <errno.h>
#include <string.h>

#include "loop/loop.h"

static int return_arg(void *arg)
{
    return (int)(intptr_t)arg;
}

static int spawn_join(void *arg)
{
    (void)arg;
    cio_task t = cio_spawn(return_arg, (void *)(intptr_t)42);
    task_check_eq(cio_spawn_error(t), 0);
    task_check(!cio_task_done(t));
    task_check_eq(cio_join(t), 42);
    /* A finished task joins at once. */
    cio_task u = cio_spawn(return_arg, (void *)(intptr_t)-EIO);
    task_check_eq(cio_yield(), 0);
    task_check(cio_task_done(u));
    int r = 0;
    task_check_eq(cio_task_result(u, &r), 0);
    task_check_eq(r, -EIO);
    task_check_eq(cio_join(u), -EIO);
    /* Joining twice: the handle is stale. */
    task_check_eq(cio_join(u), CIO_EBADTASK);
    task_check_eq(cio_cancel(u), CIO_EBADTASK);
    task_check(cio_task_name(u) == NULL);
    return 0;
}

static void test_spawn_and_join(void **state)
{
    (void)state;
    assert_ok(run_virtual(spawn_join, NULL));
}

struct order {
    char log[64];
    int n;
};

struct worker {
    struct order *o;
    char c;
};

static int yielder(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 3; i++) {
        w->o->log[w->o->n++] = w->c;
        if (cio_yield() < 0)
            return -1;
    }
    return 0;
}

static int round_robin(void *arg)
{
    struct order *o = arg;
    struct worker w[3] = {{o, 'a'}, {o, 'b'}, {o, 'c'}};
    cio_task t[3];
    for (int i = 0; i < 3; i++)
        t[i] = cio_spawn(yielder, &w[i]);
    for (int i = 0; i < 3; i++)
        task_check_eq(cio_join(t[i]), 0);
    return 0;
}

static void test_yield_round_robin(void **state)
{
    (void)state;
    struct order o = {0};
    assert_ok(run_virtual(round_robin, &o));
    assert_string_equal(o.log, "abcabcabc");
}

static int names(void *arg)
{
    (void)arg;
    cio_task t = cio_spawn_with(&(cio_spawn_options){.name = "fetcher"}, return_arg, NULL);
    task_check(strcmp(cio_task_name(t), "fetcher") == 0);
    cio_task u = cio_spawn(return_arg, NULL);
    /* A default name is "task-" and digits, made once: the same text at
     * the same address for as long as the handle lasts. */
    const char *un = cio_task_name(u);
    task_check(un != NULL && strncmp(un, "task-", 5) == 0 && un[5] != 0);
    task_check(strspn(un + 5, "0123456789") == strlen(un + 5));
    task_check(cio_task_name(u) == un);
    task_check(strcmp(cio_task_name(cio_current()), "main") == 0);
    task_check(cio_in_task());
    /* A given name is copied, and kept whole however long. */
    char given[] = "a-name-longer-than-any-fixed-buffer-a-record-could-hold-0123456789";
    cio_task v = cio_spawn_with(&(cio_spawn_options){.name = given}, return_arg, NULL);
    given[0] = 'X';
    task_check(strcmp(cio_task_name(v),
                      "a-name-longer-than-any-fixed-buffer-a-record-could-hold-0123456789") == 0);
    task_check_eq(cio_join(t), 0);
    task_check_eq(cio_join(u), 0);
    task_check_eq(cio_join(v), 0);
    task_check(cio_task_name(u) == NULL); /* stale now */
    return 0;
}

static void test_names_and_current(void **state)
{
    (void)state;
    assert_ok(run_virtual(names, NULL));
    assert_false(cio_in_task());
    assert_null(cio_current().ptr_);
}

/* Names live in a table beside the task records: many tasks named, their
 * names asked for and forgotten in a scrambled order, must each keep their
 * own name until released, and a record reused by a task without a name
 * must not inherit one. */
enum { NAMED = 3000 };

static int many_names(void *arg)
{
    (void)arg;
    static cio_task t[NAMED];
    char want[32];
    for (int i = 0; i < NAMED; i++) {
        snprintf(want, sizeof want, "worker-%d", i);
        /* Every third gets a name at spawn; the others, when asked. */
        t[i] = i % 3 ? cio_spawn(return_arg, NULL)
                     : cio_spawn_with(&(cio_spawn_options){.name = want}, return_arg, NULL);
        task_check_eq(cio_spawn_error(t[i]), 0);
    }
    char *defaults[NAMED] = {0};
    for (int i = 0; i < NAMED; i++)
        if (i % 3) {
            const char *n = cio_task_name(t[i]);
            task_check(n != NULL && strncmp(n, "task-", 5) == 0);
            defaults[i] = strdup(n);
            task_check(defaults[i] != NULL);
        }
    /* Join in an order that empties the table's runs from every side:
     * i * 7 mod NAMED visits each once (7 and 3000 are coprime). */
    for (int k = 0; k < NAMED; k++) {
        int i = (int)((long)k * 7 % NAMED);
        snprintf(want, sizeof want, "worker-%d", i);
        const char *n = cio_task_name(t[i]);
        task_check(n != NULL && strcmp(n, i % 3 ? defaults[i] : want) == 0);
        task_check_eq(cio_join(t[i]), 0);
        free(defaults[i]);
        if (k % 500 == 0) {
            /* The others still answer with their own names. */
            for (int j = 0; j < NAMED; j += 97) {
                if (cio_task_name(t[j]) == NULL)
                    continue; /* joined already */
                snprintf(want, sizeof want, "worker-%d", j);
                task_check(j % 3 ? strncmp(cio_task_name(t[j]), "task-", 5) == 0
                                 : strcmp(cio_task_name(t[j]), want) == 0);
            }
        }
    }
    /* The records come back for tasks that have no name. */
    cio_task u = cio_spawn(return_arg, NULL);
    const char *n = cio_task_name(u);
    task_check(n != NULL && strncmp(n, "task-", 5) == 0);
    task_check_eq(cio_join(u), 0);
    return 0;
}

static void test_many_names(void **state)
{
    (void)state;
    assert_ok(run_virtual(many_names, NULL));
}

static int sleeper(void *arg)
{
    return cio_sleep(*(double *)arg);
}

/* A record given back is reused without its second line being written
 * again: its last task must leave nothing there. The first task sets a
 * context variable, sleeps, is joined and watched by a done callback; the
 * next, on the same record, must start clean. */
static cio_context_var reuse_var = CIO_CONTEXT_VAR("reuse", NULL);

static int leave_traces(void *arg)
{
    (void)arg;
    if (cio_context_set(&reuse_var, (void *)"stale") < 0)
        return -1;
    return cio_sleep(0.01);
}

static int start_clean(void *arg)
{
    (void)arg;
    if (cio_context_get(&reuse_var) != NULL)
        return -2;          /* the last task's context */
    return cio_sleep(0.01); /* a timer that works */
}

static void count_done(cio_task t, int result, void *arg)
{
    (void)t;
    (void)result;
    (*(int *)arg)++;
}

static int reuse(void *arg)
{
    (void)arg;
    int done_a = 0, done_b = 0;
    cio_task a = cio_spawn(leave_traces, NULL);
    task_check_eq(cio_task_add_done_callback(a, count_done, &done_a), 0);
    task_check_eq(cio_join(a), 0);
    cio_task b = cio_spawn(start_clean, NULL);
    task_check(b.ptr_ == a.ptr_); /* the same record, given back last */
    task_check_eq(cio_task_add_done_callback(b, count_done, &done_b), 0);
    task_check_eq(cio_join(b), 0); /* nobody joins it already */
    task_check_eq(cio_sleep(0.01), 0);
    task_check_eq(done_a, 1);
    task_check_eq(done_b, 1);
    return 0;
}

static void test_reused_record_starts_clean(void **state)
{
    (void)state;
    assert_ok(run_virtual(reuse, NULL));
}

static int detach(void *arg)
{
    int *ran = arg;
    double d = 0.5;
    cio_task t = cio_spawn(sleeper, &d);
    task_check_eq(cio_detach(t), 0);
    task_check_eq(cio_detach(t), CIO_EBADTASK); /* no longer owned */
    task_check_eq(cio_join(t), CIO_EBADTASK);
    task_check(!cio_task_done(t)); /* still running: the copy stays valid */
    task_check_eq(cio_sleep(1.0), 0);
    task_check(cio_task_done(t)); /* finished and released: stale */
    *ran = 1;
    return 0;
}

static void test_detach(void **state)
{
    (void)state;
    int ran = 0;
    char *report = NULL;
    assert_ok(run_capture(detach, &ran, &report));
    assert_int_equal(ran, 1);
    assert_string_equal(report, ""); /* a detached task that succeeded is not reported */
    free(report);
}

static int self_join(void *arg)
{
    (void)arg;
    task_check_eq(cio_join(cio_current()), -EDEADLK);
    return 0;
}

struct two_joiners {
    cio_task target;
    int second_rc;
};

static int second_joiner(void *arg)
{
    struct two_joiners *j = arg;
    j->second_rc = cio_join(j->target);
    return 0;
}

static int join_busy(void *arg)
{
    (void)arg;
    double d = 0.1;
    struct two_joiners j = {.target = cio_spawn(sleeper, &d)};
    cio_task other = cio_spawn(second_joiner, &j);
    task_check_eq(cio_yield(), 0);
    task_check_eq(cio_yield(), 0);
    /* `other` is joining the target: a second join is refused. */
    task_check_eq(cio_join(j.target), -EBUSY);
    task_check_eq(cio_detach(j.target), -EBUSY);
    task_check_eq(cio_join(other), 0);
    task_check_eq(j.second_rc, 0);
    return 0;
}

static void test_bad_joins(void **state)
{
    (void)state;
    assert_ok(run_virtual(self_join, NULL));
    assert_ok(run_virtual(join_busy, NULL));
}

static int spawn_errors(void *arg)
{
    (void)arg;
    cio_task t = cio_spawn(NULL, NULL);
    task_check_eq(cio_spawn_error(t), -EINVAL);
    task_check_eq(cio_join(t), -EINVAL); /* join reports the spawn error */
    cio_task u = cio_spawn_with(&(cio_spawn_options){.stack_size = 100}, return_arg, NULL);
    task_check_eq(cio_spawn_error(u), -EINVAL);
    cio_task big = cio_spawn_with(&(cio_spawn_options){.stack_size = 4 << 20}, return_arg,
                                  (void *)(intptr_t)5);
    task_check_eq(cio_join(big), 5);
    return 0;
}

static void test_spawn_errors(void **state)
{
    (void)state;
    assert_ok(run_virtual(spawn_errors, NULL));
    cio_task t = cio_spawn(return_arg, NULL);
    assert_int_equal(cio_spawn_error(t), CIO_ENOLOOP);
}

static int fails(void *arg)
{
    (void)arg;
    return -EPIPE;
}

static int leave_failure(void *arg)
{
    (void)arg;
    cio_spawn_with(&(cio_spawn_options){.name = "orphan"}, fails, NULL);
    double d = 100;
    cio_spawn_with(&(cio_spawn_options){.name = "lingerer"}, sleeper, &d);
    return cio_sleep(0.1);
}

static void test_run_reports_unjoined_and_alive(void **state)
{
    (void)state;
    char *report = NULL;
    assert_ok(run_capture(leave_failure, NULL, &report));
    assert_non_null(strstr(report, "task 'orphan' failed and was never joined"));
    assert_non_null(strstr(report, "EPIPE"));
    assert_non_null(
        strstr(report, "task 'lingerer' was still waiting when the main task returned"));
    free(report);
}

static int main_result(void *arg)
{
    (void)arg;
    return 7;
}

static int nested_run(void *arg)
{
    (void)arg;
    return cio_run(main_result, NULL);
}

static void test_run_result_and_nesting(void **state)
{
    (void)state;
    assert_int_equal(cio_run(main_result, NULL), 7);
    assert_int_equal(cio_run(nested_run, NULL), -EBUSY);
    assert_int_equal(cio_run(NULL, NULL), -EINVAL);
    assert_int_equal(cio_run_with(&(cio_run_options){.stack_size = 10}, main_result, NULL),
                     -EINVAL);
}

static size_t stacks_carved(void)
{
    return cio__stack_pool_carved(&cio__tls_loop->stacks);
}

static int run_on_few_stacks(void *arg)
{
    (void)arg;
    enum { N = 1000 };
    static cio_task t[N];
    size_t before = stacks_carved();
    for (int i = 0; i < N; i++)
        t[i] = cio_spawn(return_arg, (void *)(intptr_t)i);
    /* Spawned, not started: no stack taken yet. */
    task_check_eq(stacks_carved(), before);
    for (int i = 0; i < N; i++)
        task_check_eq(cio_join(t[i]), i);
    /* Each took a stack when it started and gave it back when it returned,
     * so a thousand ran on two, alternating (a task's stack is released
     * once the next one runs). */
    task_check(stacks_carved() <= before + 2);
    /* A task cancelled before it ever ran takes no stack at all. */
    size_t mid = stacks_carved();
    for (int i = 0; i < N; i++) {
        t[i] = cio_spawn(return_arg, NULL);
        task_check_eq(cio_cancel(t[i]), 0);
    }
    for (int i = 0; i < N; i++)
        task_check_eq(cio_join(t[i]), -ECANCELED);
    task_check_eq(stacks_carved(), mid);
    return 0;
}

static void test_stacks_taken_when_tasks_run(void **state)
{
    (void)state;
    assert_int_equal(run_real(run_on_few_stacks, NULL), 0);
}

/* ---- done callbacks -------------------------------------------------------- */

static cio_context_var who = CIO_CONTEXT_VAR("who", NULL);

struct calls {
    char order[16];
    int n;
    int results[8];
    int stale; /* callbacks that found their handle stale */
    void *context;
};

static void record(cio_task t, int result, void *arg)
{
    struct calls *c = arg;
    c->order[c->n] = cio_in_task() ? '!' : (char)('a' + c->n);
    c->results[c->n++] = result;
    int r;
    c->stale += cio_task_result(t, &r) == CIO_EBADTASK;
    c->context = cio_context_get(&who);
}

static void other(cio_task t, int result, void *arg)
{
    (void)t;
    (void)result;
    ((struct calls *)arg)->order[15] = 'X';
}

static int never_ends(void *arg)
{
    (void)arg;
    cio_event ev;
    cio_event_init(&ev);
    CIO_SHIELD(s);
    return cio_event_wait(&ev); /* still waiting when the loop closes */
}

static int done_callbacks(void *arg)
{
    (void)arg;
    struct calls c = {0};
    task_check_eq(cio_context_set(&who, (void *)&c), 0);
    /* Run in the order added, after the end, on the loop; the result comes
     * with them. */
    cio_task t = cio_spawn(return_arg, (void *)(intptr_t)7);
    task_check_eq(cio_task_add_done_callback(t, record, &c), 0);
    task_check_eq(cio_task_add_done_callback(t, record, &c), 0);
    task_check_eq(cio_task_add_done_callback(t, other, &c), 0);
    task_check_eq(cio_task_remove_done_callback(t, other, &c), 1);
    task_check_eq(cio_task_remove_done_callback(t, other, &c), 0);
    task_check_eq(cio_context_set(&who, NULL), 0); /* after: not theirs */
    task_check_eq(cio_join(t), 7);
    task_check_eq(c.n, 0); /* the joiner runs first */
    task_check_eq(cio_yield(), 0);
    task_check(!memcmp(c.order, "ab", 2) && c.order[15] == 0);
    task_check_eq(c.results[0], 7);
    task_check_eq(c.results[1], 7);
    task_check_eq(c.stale, 2); /* joined by then */
    task_check(c.context == &c);

    /* On a task already ended: on the next turn, not at once. */
    c = (struct calls){0};
    t = cio_spawn(return_arg, (void *)(intptr_t)-EIO);
    task_check_eq(cio_yield(), 0);
    task_check(cio_task_done(t));
    task_check_eq(cio_task_add_done_callback(t, record, &c), 0);
    task_check_eq(c.n, 0);
    task_check_eq(cio_task_remove_done_callback(t, record, &c), 0); /* scheduled */
    task_check_eq(cio_yield(), 0);
    task_check_eq(c.n, 1);
    task_check_eq(c.results[0], -EIO);
    task_check_eq(c.stale, 0); /* not joined yet */
    task_check_eq(cio_join(t), -EIO);

    /* Cancelled, and detached: the record is gone, the result is not. */
    c = (struct calls){0};
    t = cio_spawn(never_ends, NULL);
    task_check_eq(cio_task_add_done_callback(t, record, &c), 0);
    task_check_eq(cio_yield(), 0);
    cio_task u = cio_spawn(return_arg, (void *)(intptr_t)3);
    task_check_eq(cio_task_add_done_callback(u, record, &c), 0);
    task_check_eq(cio_detach(u), 0);
    task_check_eq(cio_sleep(0.01), 0);
    task_check_eq(c.n, 1);
    task_check_eq(c.results[0], 3);
    task_check_eq(c.stale, 1);

    /* Bad use. */
    task_check_eq(cio_task_add_done_callback(u, record, &c), CIO_EBADTASK);
    task_check_eq(cio_task_remove_done_callback(u, record, &c), CIO_EBADTASK);
    task_check_eq(cio_task_add_done_callback(t, NULL, &c), -EINVAL);
    /* t never ends (shielded): its callback is freed with the loop. */
    task_check_eq(cio_detach(t), 0);
    return 0;
}

static int sleeps(void *arg)
{
    (void)arg;
    return cio_sleep(3600);
}

struct at_close {
    int cancelled, late;
    cio_task ended; /* not joined: its handle stays valid */
    cio_future *f;
};

static void late_task_cb(cio_task t, int result, void *arg)
{
    (void)t;
    (void)result;
    ((struct at_close *)arg)->late++;
}

static void late_future_cb(cio_future *f, void *arg)
{
    (void)f;
    ((struct at_close *)arg)->late++;
}

static void count_call(cio_task t, int result, void *arg)
{
    (void)t;
    struct at_close *c = arg;
    if (result == -ECANCELED && ++c->cancelled == 300) {
        /* Scheduled by the last callbacks: dropped at close, as asyncio's
         * close() drops its ready queue, but freed (ASan's leak check). */
        assert_int_equal(cio_task_add_done_callback(c->ended, late_task_cb, c), 0);
        assert_int_equal(cio_future_add_done_callback(c->f, late_future_cb, c), 0);
        cio_future_free(c->f); /* the callback's reference keeps it */
    }
}

/* Tasks left running when main returns are cancelled; their done callbacks
 * still run before the loop closes (and their records are not leaked),
 * however many end in the last turns (more than a dispatch batch here). */
static int leaves_many_behind(void *arg)
{
    struct at_close *c = arg;
    task_check_eq(cio_future_new(&c->f), 0);
    task_check_eq(cio_future_set_result(c->f, NULL), 0);
    c->ended = cio_spawn(return_arg, (void *)(intptr_t)0);
    for (int i = 0; i < 300; i++) {
        cio_task t = cio_spawn(sleeps, NULL);
        task_check_eq(cio_task_add_done_callback(t, count_call, arg), 0);
        task_check_eq(cio_detach(t), 0);
    }
    task_check_eq(cio_yield(), 0);
    return 0;
}

static void test_done_callbacks_at_close(void **state)
{
    (void)state;
    char *report = NULL;
    struct at_close c = {0};
    assert_int_equal(run_capture(leaves_many_behind, &c, &report), 0);
    assert_int_equal(c.cancelled, 300);
    assert_int_equal(c.late, 0);
    free(report);
}

static void test_done_callbacks(void **state)
{
    (void)state;
    char *report = NULL;
    assert_int_equal(run_capture(done_callbacks, NULL, &report), 0);
    free(report);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn_and_join),
        cmocka_unit_test(test_yield_round_robin),
        cmocka_unit_test(test_names_and_current),
        cmocka_unit_test(test_many_names),
        cmocka_unit_test(test_reused_record_starts_clean),
        cmocka_unit_test(test_detach),
        cmocka_unit_test(test_bad_joins),
        cmocka_unit_test(test_spawn_errors),
        cmocka_unit_test(test_run_reports_unjoined_and_alive),
        cmocka_unit_test(test_run_result_and_nesting),
        cmocka_unit_test(test_stacks_taken_when_tasks_run),
        cmocka_unit_test(test_done_callbacks),
        cmocka_unit_test(test_done_callbacks_at_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
