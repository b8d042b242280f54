/* Many tasks: 100,000 spawned and joined (leaks show under ASan), deep
 * chains of joins, and stacks reused rather than re-mapped. */
#include "helpers.h"

#include <errno.h>

static int add_one(void *arg)
{
    int *n = arg;
    (*n)++;
    return cio_yield();
}

static int hundred_thousand(void *arg)
{
    (void)arg;
    enum { N = 100000 };
    cio_task *t = malloc(N * sizeof *t);
    task_check(t != NULL);
    int count = 0;
    for (int i = 0; i < N; i++) {
        t[i] = cio_spawn(add_one, &count);
        task_check_eq(cio_spawn_error(t[i]), 0);
    }
    for (int i = 0; i < N; i++)
        task_check_eq(cio_join(t[i]), 0);
    task_check_eq(count, N);
    free(t);
    /* Spawn + join one at a time reuses one stack over and over. */
    for (int i = 0; i < N; i++)
        task_check_eq(cio_join(cio_spawn(add_one, &count)), 0);
    task_check_eq(count, 2 * N);
    return 0;
}

static void test_100k_tasks(void **state)
{
    (void)state;
    assert_ok(run_virtual(hundred_thousand, NULL));
}

static int chain(void *arg)
{
    intptr_t depth = (intptr_t)arg;
    if (depth == 0)
        return 0;
    cio_task t = cio_spawn_with(&(cio_spawn_options){.stack_size = CIO_MIN_STACK_SIZE}, chain,
                                (void *)(depth - 1));
    int rc = cio_join(t);
    return rc < 0 ? rc : rc + 1;
}

static void test_chain_of_joins(void **state)
{
    (void)state;
    assert_int_equal(run_virtual(chain, (void *)(intptr_t)10000), 10000);
}

struct sleepers {
    int woke;
};

static int nap(void *arg)
{
    struct sleepers *s = arg;
    int rc = cio_sleep(1.0);
    if (rc == 0)
        s->woke++;
    return rc;
}

static int many_sleepers_cancelled(void *arg)
{
    (void)arg;
    enum { N = 20000 };
    struct sleepers s = {0};
    cio_task *t = malloc(N * sizeof *t);
    task_check(t != NULL);
    for (int i = 0; i < N; i++)
        t[i] = cio_spawn(nap, &s);
    task_check_eq(cio_yield(), 0);
    for (int i = 0; i < N; i += 2)
        task_check_eq(cio_cancel(t[i]), 0);
    int cancelled = 0, ok = 0;
    for (int i = 0; i < N; i++) {
        int rc = cio_join(t[i]);
        cancelled += rc == -ECANCELED;
        ok += rc == 0;
    }
    task_check_eq(cancelled, N / 2);
    task_check_eq(ok, N / 2);
    task_check_eq(s.woke, N / 2);
    free(t);
    return 0;
}

static void test_many_sleepers_half_cancelled(void **state)
{
    (void)state;
    assert_ok(run_virtual(many_sleepers_cancelled, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_100k_tasks),
        cmocka_unit_test(test_chain_of_joins),
        cmocka_unit_test(test_many_sleepers_half_cancelled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
