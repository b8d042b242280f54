/* What the loop tells about itself: slow tasks and callbacks, task dumps. */
#include "helpers.h"

#include <errno.h>
#include <string.h>

static void spin(double seconds)
{
    int64_t end = now_ns() + (int64_t)(seconds * 1e9);
    while (now_ns() < end)
        ;
}

static int busy(void *arg)
{
    (void)arg;
    spin(0.06); /* blocks the loop: a bug the warning should name */
    return cio_yield();
}

static void slow_callback(void *arg)
{
    (void)arg;
    spin(0.06);
}

static void slow_done(cio_task t, int result, void *arg)
{
    (void)t;
    (void)result;
    (void)arg;
    spin(0.06);
}

static int polite(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++)
        if (cio_sleep(0.001) < 0)
            return -1;
    return 0;
}

static int slow_main(void *arg)
{
    (void)arg;
    cio_task a = cio_spawn_with(&(cio_spawn_options){.name = "hog"}, busy, NULL);
    cio_task b = cio_spawn_with(&(cio_spawn_options){.name = "nice"}, polite, NULL);
    task_check_eq(cio_call_soon(slow_callback, NULL, NULL), 0);
    task_check_eq(cio_task_add_done_callback(b, slow_done, NULL), 0);
    task_check_eq(cio_join(a), 0);
    task_check_eq(cio_join(b), 0);
    task_check_eq(cio_yield(), 0); /* b's done callback runs */
    return 0;
}

static void test_slow_task_warning(void **state)
{
    (void)state;
    if (getenv("CIO_VALGRIND"))
        skip(); /* everything is slow under Valgrind: the point is lost */
    char *report = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&report, &len);
    cio_run_options o = {.report = f, .slow_task_warning = 0.03};
    assert_int_equal(cio_run_with(&o, slow_main, NULL), 0);
    fclose(f);
    assert_non_null(strstr(report, "task 'hog' kept the loop busy for"));
    assert_non_null(strstr(report, "callback 0x"));
    assert_non_null(strstr(report, "a done callback kept the loop busy for"));
    assert_null(strstr(report, "'nice'"));
    free(report);
}

static int waits_forever(void *arg)
{
    (void)arg;
    return cio_sleep(1e6);
}

static int dump_main(void *arg)
{
    char **out = arg;
    size_t len = 0;
    cio_task t = cio_spawn_with(&(cio_spawn_options){.name = "sleeper"}, waits_forever, NULL);
    cio_task u = cio_spawn_with(&(cio_spawn_options){.name = "fresh"}, waits_forever, NULL);
    task_check_eq(cio_yield(), 0);
    task_check_eq(cio_cancel(u), 0);
    FILE *f = open_memstream(out, &len);
    cio_dump_tasks(f);
    fclose(f);
    task_check_eq(cio_cancel(t), 0);
    task_check_eq(cio_join(t), -ECANCELED);
    task_check_eq(cio_join(u), -ECANCELED);
    return 0;
}

static void test_dump_tasks(void **state)
{
    (void)state;
    char *dump = NULL;
    assert_ok(run_virtual(dump_main, &dump));
    assert_non_null(strstr(dump, "3 task(s)"));
    assert_non_null(strstr(dump, "main"));
    assert_non_null(strstr(dump, "running"));
    assert_non_null(strstr(dump, "sleeper"));
    assert_non_null(strstr(dump, "waiting in sleep"));
    assert_non_null(strstr(dump, "[cancelled]"));
    free(dump);
    cio_dump_tasks(NULL); /* no loop: does nothing */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slow_task_warning),
        cmocka_unit_test(test_dump_tasks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
