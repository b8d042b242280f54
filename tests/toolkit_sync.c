/* Toolkit: Lock, Semaphore, BoundedSemaphore, Event, Condition, Barrier
 * and the CIO_WITH idiom. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "helpers.h"

/* Loop time when the test body started: the virtual clock also counts the
 * real time that passes, which under Valgrind is not negligible. */
static double epoch;

/* Timing tolerance: 5 ms, or 50 ms under Valgrind (make valgrind sets
 * CIO_VALGRIND=1), whose slowness leaks into the virtual clock. */
#define near(a, b) (fabs((a) - (b)) < (getenv("CIO_VALGRIND") ? 0.05 : 0.005))

struct shared {
    cio_lock lock;
    cio_semaphore sem;
    cio_event ev;
    cio_condition cond;
    cio_barrier bar;
    int order[64];
    int n;
    int active, max_active;
    int results[64];
};

struct worker {
    struct shared *s;
    int id;
};

/* ---- Lock --------------------------------------------------------------- */

static int lock_worker(void *arg)
{
    struct worker *w = arg;
    int rc = cio_lock_acquire(&w->s->lock);
    if (rc)
        return rc;
    w->s->order[w->s->n++] = w->id;
    rc = cio_sleep(0.01);
    cio_lock_release(&w->s->lock);
    return rc;
}

static int lock_fifo_body(void *arg)
{
    (void)arg;
    epoch = cio_time();
    struct shared s = {0};
    struct worker w[5];
    cio_task t[5];
    task_check_eq(cio_lock_acquire(&s.lock), 0);
    for (int i = 0; i < 5; i++) {
        w[i] = (struct worker){&s, i};
        t[i] = cio_spawn(lock_worker, &w[i]);
    }
    task_check_eq(cio_sleep(1), 0); /* all five queue up */
    task_check_eq(s.n, 0);
    task_check_eq(cio_lock_release(&s.lock), 0);
    task_check_eq(cio_gather(t, 5), 0);
    task_check_eq(s.n, 5);
    for (int i = 0; i < 5; i++)
        task_check_eq(s.order[i], i);
    task_check(!cio_lock_locked(&s.lock));
    task_check(near(cio_time() - epoch, 1.05));
    return 0;
}

static void test_lock_fifo(void **state)
{
    (void)state;
    assert_ok(run_virtual(lock_fifo_body, NULL));
}

static int lock_errors_body(void *arg)
{
    (void)arg;
    cio_lock l = CIO_LOCK_INIT;
    task_check_eq(cio_lock_release(&l), CIO_ESTATE);
    task_check_eq(cio_lock_try_acquire(&l), 0);
    task_check_eq(cio_lock_try_acquire(&l), -EBUSY);
    task_check_eq(cio_lock_acquire(&l), -EDEADLK);
    task_check(cio_lock_locked(&l));
    task_check_eq(cio_lock_release(&l), 0);
    task_check_eq(cio_lock_acquire(NULL), -EINVAL);
    task_check_eq(cio_lock_release(NULL), -EINVAL);
    return 0;
}

/* Ownership is a task, not a task record: a task that takes the record
 * of one that ended holding a lock (asyncio lets another task release it)
 * does not hold it. It waits for the lock instead of getting -EDEADLK, and
 * a Condition refuses it as it refuses any task that does not hold the
 * lock. */
static cio_lock stale = CIO_LOCK_INIT;
static cio_condition stale_cond;

static int takes_and_ends(void *arg)
{
    (void)arg;
    return cio_lock_acquire(&stale);
}

static int after_the_owner(void *arg)
{
    double *waited = arg;
    task_check_eq(cio_condition_notify(&stale_cond, 1), CIO_ESTATE);
    task_check_eq(cio_condition_wait(&stale_cond), CIO_ESTATE);
    double t0 = cio_time();
    task_check_eq(cio_lock_acquire(&stale), 0);
    *waited = cio_time() - t0;
    return cio_lock_release(&stale);
}

static int lock_stale_owner_body(void *arg)
{
    (void)arg;
    cio_lock_init(&stale);
    cio_condition_init(&stale_cond, &stale);
    cio_task a = cio_spawn(takes_and_ends, NULL);
    task_check_eq(cio_join(a), 0); /* a is gone, the lock still held */
    double waited = -1;
    cio_task b = cio_spawn(after_the_owner, &waited); /* in a's record */
    task_check(b.ptr_ == a.ptr_);
    task_check_eq(cio_sleep(0.5), 0);
    task_check_eq(cio_lock_release(&stale), 0);
    task_check_eq(cio_join(b), 0);
    task_check(waited > 0.49 && waited < 0.51);
    return 0;
}

static void test_lock_stale_owner(void **state)
{
    (void)state;
    assert_ok(run_virtual(lock_stale_owner_body, NULL));
}

static void test_lock_errors(void **state)
{
    (void)state;
    assert_ok(run_virtual(lock_errors_body, NULL));
    cio_lock l = {0};
    assert_int_equal(cio_lock_try_acquire(&l), 0);
    assert_int_equal(cio_lock_acquire(&l), CIO_ENOLOOP); /* would have to wait */
}

static int lock_timeout_worker(void *arg)
{
    struct worker *w = arg;
    CIO_TIMEOUT(t, 1.0);
    int rc = cio_lock_acquire(&w->s->lock);
    w->s->results[w->id] = rc;
    if (rc == 0)
        cio_lock_release(&w->s->lock);
    return 0;
}

/* A waiter cancelled or timed out leaves the queue; the lock goes to the
 * next waiter. */
static int lock_cancel_body(void *arg)
{
    (void)arg;
    struct shared s = {0};
    struct worker w[3] = {{&s, 0}, {&s, 1}, {&s, 2}};
    task_check_eq(cio_lock_acquire(&s.lock), 0);
    cio_task a = cio_spawn(lock_worker, &w[0]);
    cio_task b = cio_spawn(lock_timeout_worker, &w[1]);
    cio_task c = cio_spawn(lock_worker, &w[2]);
    task_check_eq(cio_sleep(0.5), 0);
    task_check_eq(cio_cancel(a), 0);
    task_check_eq(cio_join(a), -ECANCELED);
    task_check_eq(cio_sleep(1.0), 0); /* b times out at t=1 */
    task_check_eq(cio_join(b), 0);
    task_check_eq(s.results[1], -ETIMEDOUT);
    task_check_eq(cio_lock_release(&s.lock), 0);
    task_check_eq(cio_join(c), 0);
    task_check_eq(s.n, 1);
    task_check_eq(s.order[0], 2);
    task_check(!cio_lock_locked(&s.lock));
    return 0;
}

static void test_lock_cancel_timeout(void **state)
{
    (void)state;
    assert_ok(run_virtual(lock_cancel_body, NULL));
}

/* ---- CIO_WITH ----------------------------------------------------------- */

static int with_return(cio_lock *l)
{
    CIO_WITH_LOCK(l)
    {
        if (!cio_lock_locked(l))
            return -1;
        return 7; /* released on the way out */
    }
    return -2;
}

static int with_sleeper(void *arg)
{
    struct shared *s = arg;
    int rc;
    CIO_WITH_SEMAPHORE_RC(rc, &s->sem)
    {
        s->n++;
        rc = cio_sleep(100); /* cancelled here */
    }
    return rc;
}

static int guarded(cio_semaphore *sem, bool fail_early)
{
    int rc;
    CIO_SEMAPHORE_GUARD(rc, sem);
    if (rc < 0)
        return rc;
    if (cio_semaphore_value(sem) != 0)
        return -1000;
    if (fail_early)
        return -EIO; /* released on this path too */
    return cio_sleep(0.1);
}

static int guard_body(void *arg)
{
    (void)arg;
    cio_semaphore sem = CIO_SEMAPHORE_INIT(1);
    task_check_eq(guarded(&sem, false), 0);
    task_check_eq(cio_semaphore_value(&sem), 1);
    task_check_eq(guarded(&sem, true), -EIO);
    task_check_eq(cio_semaphore_value(&sem), 1);
    task_check_eq(cio_semaphore_acquire(&sem), 0);
    {
        CIO_TIMEOUT(t, 0.5);
        task_check_eq(guarded(&sem, false), -ETIMEDOUT); /* never acquired */
    }
    task_check_eq(cio_semaphore_value(&sem), 0); /* nothing released */
    cio_semaphore_release(&sem);
    cio_lock l = CIO_LOCK_INIT;
    {
        int rc;
        CIO_LOCK_GUARD(rc, &l);
        task_check_eq(rc, 0);
        task_check(cio_lock_locked(&l));
    }
    task_check(!cio_lock_locked(&l));
    return 0;
}

static void test_guard(void **state)
{
    (void)state;
    assert_ok(run_virtual(guard_body, NULL));
}

static int with_body(void *arg)
{
    (void)arg;
    struct shared s = {0};
    task_check_eq(with_return(&s.lock), 7);
    task_check(!cio_lock_locked(&s.lock));

    int runs = 0;
    for (int i = 0; i < 3; i++) {
        CIO_WITH_LOCK(&s.lock)
        {
            runs++;
            if (i == 1)
                break; /* leaves the with-block, not the for */
        }
        task_check(!cio_lock_locked(&s.lock));
    }
    task_check_eq(runs, 3);

    /* Cancelled inside the block: still released. */
    cio_semaphore_init(&s.sem, 1);
    cio_task t = cio_spawn(with_sleeper, &s);
    task_check_eq(cio_sleep(1), 0);
    task_check_eq(cio_semaphore_value(&s.sem), 0);
    cio_cancel(t);
    task_check_eq(cio_join(t), -ECANCELED);
    task_check_eq(cio_semaphore_value(&s.sem), 1);

    /* A failed acquire skips the block and reports why. */
    task_check_eq(cio_semaphore_acquire(&s.sem), 0);
    int rc = 1, ran = 0;
    {
        CIO_TIMEOUT(to, 0.5);
        CIO_WITH_SEMAPHORE_RC(rc, &s.sem)
        {
            ran = 1;
        }
    }
    task_check_eq(rc, -ETIMEDOUT);
    task_check_eq(ran, 0);
    task_check_eq(cio_semaphore_value(&s.sem), 0); /* nothing released */
    cio_semaphore_release(&s.sem);
    return 0;
}

static void test_with(void **state)
{
    (void)state;
    assert_ok(run_virtual(with_body, NULL));
}

/* ---- Semaphore -------------------------------------------------------------- */

static int sem_limited(void *arg)
{
    struct worker *w = arg;
    struct shared *s = w->s;
    int rc;
    CIO_WITH_SEMAPHORE_RC(rc, &s->sem)
    {
        s->order[s->n++] = w->id;
        if (++s->active > s->max_active)
            s->max_active = s->active;
        rc = cio_yield();
        s->active--;
    }
    return rc;
}

static int sem_limit_body(void *arg)
{
    (void)arg;
    static struct shared s;
    static struct worker w[60];
    cio_task t[60];
    s = (struct shared){0};
    cio_semaphore_init(&s.sem, 10);
    for (int i = 0; i < 60; i++) {
        w[i] = (struct worker){&s, i};
        t[i] = cio_spawn(sem_limited, &w[i]);
    }
    task_check_eq(cio_gather(t, 60), 0);
    task_check_eq(s.max_active, 10);
    for (int i = 0; i < 60; i++)
        task_check_eq(s.order[i], i); /* FIFO */
    task_check_eq(cio_semaphore_value(&s.sem), 10);
    return 0;
}

static void test_semaphore_limit(void **state)
{
    (void)state;
    assert_ok(run_virtual(sem_limit_body, NULL));
}

static int sem_waiter(void *arg)
{
    struct worker *w = arg;
    int rc = cio_semaphore_acquire(&w->s->sem);
    w->s->results[w->id] = rc;
    if (rc == 0) {
        w->s->order[w->s->n++] = w->id;
        cio_semaphore_release(&w->s->sem);
    }
    return 0;
}

/* The classic asyncio bug (bpo-45997/gh-90155): a waiter cancelled around
 * the moment the permit is released must not swallow it. Both orders:
 * cancel then release (the permit goes to the next waiter), and release
 * then cancel (the woken waiter owns the permit and returns 0). */
static int sem_bug_body(void *arg)
{
    (void)arg;
    for (int order = 0; order < 2; order++) {
        struct shared s = {0};
        struct worker w[3] = {{&s, 0}, {&s, 1}, {&s, 2}};
        cio_semaphore_init(&s.sem, 1);
        task_check_eq(cio_semaphore_acquire(&s.sem), 0);
        cio_task t[3];
        for (int i = 0; i < 3; i++)
            t[i] = cio_spawn(sem_waiter, &w[i]);
        task_check_eq(cio_yield(), 0); /* all three wait */
        task_check(cio_semaphore_locked(&s.sem));
        if (order == 0) {
            cio_cancel(t[0]);
            cio_semaphore_release(&s.sem);
        } else {
            cio_semaphore_release(&s.sem);
            cio_cancel(t[0]);
        }
        task_check_eq(cio_gather_results(t, 3, (int[3]){0}), 0);
        if (order == 0) {
            task_check_eq(s.results[0], -ECANCELED);
            task_check_eq(s.n, 2);
            task_check_eq(s.order[0], 1);
            task_check_eq(s.order[1], 2);
        } else {
            task_check_eq(s.results[0], 0);
            task_check_eq(s.n, 3);
            task_check_eq(s.order[0], 0);
        }
        task_check_eq(s.results[1], 0);
        task_check_eq(s.results[2], 0);
        task_check_eq(cio_semaphore_value(&s.sem), 1); /* no permit lost or made */
    }
    return 0;
}

static void test_semaphore_cancelled_waiter(void **state)
{
    (void)state;
    assert_ok(run_virtual(sem_bug_body, NULL));
}

static int sem_errors_body(void *arg)
{
    (void)arg;
    epoch = cio_time();
    cio_semaphore b = CIO_BOUNDED_SEMAPHORE_INIT(2);
    task_check_eq(cio_semaphore_release(&b), -EOVERFLOW);
    task_check_eq(cio_semaphore_value(&b), 2);
    task_check_eq(cio_semaphore_acquire(&b), 0);
    task_check_eq(cio_semaphore_try_acquire(&b), 0);
    task_check_eq(cio_semaphore_try_acquire(&b), -EBUSY);
    task_check(cio_semaphore_locked(&b));
    task_check_eq(cio_semaphore_release(&b), 0);
    task_check_eq(cio_semaphore_release(&b), 0);
    task_check_eq(cio_semaphore_release(&b), -EOVERFLOW);
    cio_semaphore s = CIO_SEMAPHORE_INIT(0);
    task_check_eq(cio_semaphore_release(&s), 0); /* unbounded: fine */
    task_check_eq(cio_semaphore_value(&s), 1);
    task_check_eq(cio_semaphore_acquire(NULL), -EINVAL);
    task_check_eq(cio_semaphore_release(NULL), -EINVAL);
    {
        CIO_TIMEOUT(t, 2.0);
        task_check_eq(cio_semaphore_acquire(&s), 0);
        task_check_eq(cio_semaphore_acquire(&s), -ETIMEDOUT);
    }
    task_check(near(cio_time() - epoch, 2.0));
    return 0;
}

static void test_semaphore_errors(void **state)
{
    (void)state;
    assert_ok(run_virtual(sem_errors_body, NULL));
}

/* ---- Event -------------------------------------------------------------- */

static int event_waiter(void *arg)
{
    struct worker *w = arg;
    int rc = cio_event_wait(&w->s->ev);
    w->s->results[w->id] = rc;
    w->s->order[w->s->n++] = (int)lround((cio_time() - epoch) * 100); /* in 10 ms */
    return rc;
}

static int event_body(void *arg)
{
    (void)arg;
    epoch = cio_time();
    struct shared s = {0};
    struct worker w[4] = {{&s, 0}, {&s, 1}, {&s, 2}, {&s, 3}};
    cio_task t[4];
    for (int i = 0; i < 4; i++)
        t[i] = cio_spawn(event_waiter, &w[i]);
    task_check_eq(cio_sleep(2), 0);
    task_check_eq(s.n, 0);
    task_check(!cio_event_is_set(&s.ev));
    cio_cancel(t[3]);
    task_check_eq(cio_event_set(&s.ev), 0);
    task_check_eq(cio_event_clear(&s.ev), 0); /* woken waiters still return 0 */
    task_check_eq(cio_gather_results(t, 4, s.results + 10), 0);
    for (int i = 0; i < 3; i++) {
        task_check_eq(s.results[i], 0);
        task_check_eq(s.order[i + 1], 200);
    }
    task_check_eq(s.results[3], -ECANCELED);
    cio_event_set(&s.ev);
    task_check_eq(cio_event_wait(&s.ev), 0); /* set: no wait */
    cio_event_clear(&s.ev);
    {
        CIO_TIMEOUT(to, 1);
        task_check_eq(cio_event_wait(&s.ev), -ETIMEDOUT);
    }
    return 0;
}

static void test_event(void **state)
{
    (void)state;
    assert_ok(run_virtual(event_body, NULL));
}

/* ---- Condition ---------------------------------------------------------- */

static bool positive(void *arg)
{
    return *(int *)arg > 0;
}

static int cond_consumer(void *arg)
{
    struct worker *w = arg;
    struct shared *s = w->s;
    int rc;
    CIO_WITH_LOCK_RC(rc, cio_condition_lock(&s->cond))
    {
        rc = cio_condition_wait_for(&s->cond, positive, &s->active);
        s->results[w->id] = rc;
        if (!cio_lock_locked(cio_condition_lock(&s->cond)))
            rc = -1000; /* must hold the lock whatever happened */
        if (rc == 0) {
            s->active--;
            s->order[s->n++] = w->id;
        }
    }
    return rc == -ECANCELED ? 0 : rc;
}

static int cond_body(void *arg)
{
    (void)arg;
    struct shared s = {0};
    cio_condition_init(&s.cond, NULL);
    struct worker w[4] = {{&s, 0}, {&s, 1}, {&s, 2}, {&s, 3}};
    cio_task t[4];
    for (int i = 0; i < 4; i++)
        t[i] = cio_spawn(cond_consumer, &w[i]);
    task_check_eq(cio_sleep(1), 0);
    task_check_eq(cio_condition_notify(&s.cond, 1), CIO_ESTATE); /* lock not held */
    task_check_eq(cio_condition_wait(&s.cond), CIO_ESTATE);
    cio_cancel(t[0]); /* the notify below must skip it */
    CIO_WITH_LOCK(cio_condition_lock(&s.cond))
    {
        s.active = 1;
        task_check_eq(cio_condition_notify(&s.cond, 1), 1);
    }
    task_check_eq(cio_sleep(1), 0);
    task_check_eq(s.n, 1);
    task_check_eq(s.order[0], 1); /* FIFO, and the cancelled one skipped */
    CIO_WITH_LOCK(cio_condition_lock(&s.cond))
    {
        s.active = 2;
        task_check_eq(cio_condition_notify_all(&s.cond), 2);
    }
    task_check_eq(cio_gather(t, 4), 0);
    task_check_eq(s.n, 3);
    task_check_eq(s.order[1], 2);
    task_check_eq(s.order[2], 3);
    task_check_eq(s.results[0], -ECANCELED);
    task_check(!cio_lock_locked(cio_condition_lock(&s.cond)));
    return 0;
}

static void test_condition(void **state)
{
    (void)state;
    assert_ok(run_virtual(cond_body, NULL));
}

/* ---- Barrier ------------------------------------------------------------ */

static int bar_worker(void *arg)
{
    struct worker *w = arg;
    int rc = cio_barrier_wait(&w->s->bar);
    w->s->results[w->id] = rc;
    return rc < 0 ? rc : 0;
}

static int barrier_body(void *arg)
{
    (void)arg;
    struct shared s = {0};
    struct worker w[8];
    cio_task t[8];
    for (int i = 0; i < 8; i++)
        w[i] = (struct worker){&s, i};
    task_check_eq(cio_barrier_init(&s.bar, 0), -EINVAL);
    task_check_eq(cio_barrier_init(&s.bar, 3), 0);
    /* Two full cycles: indices in arrival order. */
    for (int i = 0; i < 6; i++)
        t[i] = cio_spawn(bar_worker, &w[i]);
    task_check_eq(cio_gather(t, 6), 0);
    for (int i = 0; i < 6; i++)
        task_check_eq(s.results[i], i % 3);
    /* A waiter that times out leaves; the cycle needs another party. */
    t[0] = cio_spawn(bar_worker, &w[0]);
    t[1] = cio_spawn(bar_worker, &w[1]);
    task_check_eq(cio_yield(), 0);
    task_check_eq(cio_barrier_n_waiting(&s.bar), 2);
    cio_cancel(t[0]);
    task_check_eq(cio_join(t[0]), -ECANCELED);
    t[2] = cio_spawn(bar_worker, &w[2]);
    task_check_eq(cio_sleep(1), 0);
    task_check(!cio_task_done(t[1])); /* only two really there */
    t[3] = cio_spawn(bar_worker, &w[3]);
    task_check_eq(cio_join(t[1]), 0);
    task_check_eq(cio_join(t[2]), 0);
    task_check_eq(cio_join(t[3]), 0);
    task_check_eq(s.results[1], 0);
    task_check_eq(s.results[2], 1);
    task_check_eq(s.results[3], 2);
    /* abort breaks waiters and later callers until reset. */
    t[4] = cio_spawn(bar_worker, &w[4]);
    task_check_eq(cio_yield(), 0);
    task_check_eq(cio_barrier_abort(&s.bar), 0);
    task_check_eq(cio_join(t[4]), CIO_EBROKEN);
    task_check(cio_barrier_broken(&s.bar));
    task_check_eq(cio_barrier_wait(&s.bar), CIO_EBROKEN);
    task_check_eq(cio_barrier_reset(&s.bar), 0);
    task_check(!cio_barrier_broken(&s.bar));
    t[5] = cio_spawn(bar_worker, &w[5]);
    task_check_eq(cio_yield(), 0);
    task_check_eq(cio_barrier_reset(&s.bar), 0); /* reset breaks the waiter */
    task_check_eq(cio_join(t[5]), CIO_EBROKEN);
    task_check_eq(cio_barrier_parties(&s.bar), 3);

    /* The last arrival does not wait: it completes even when cancelled. */
    task_check_eq(cio_barrier_init(&s.bar, 2), 0);
    t[6] = cio_spawn(bar_worker, &w[6]);
    task_check_eq(cio_yield(), 0);
    cio_cancel(cio_current());
    task_check_eq(cio_barrier_wait(&s.bar), 1);
    task_check_eq(cio_join(t[6]), -ECANCELED); /* we are cancelled: join says so */
    task_check_eq(s.results[6], 0);
    return 0;
}

static void test_barrier(void **state)
{
    (void)state;
    assert_ok(run_virtual(barrier_body, NULL));
}

/* Waiting on something nobody will ever set is a deadlock the loop detects:
 * the wait returns CIO_EDEADLOCK and the waiter leaves the queue. */
static int deadlock_body(void *arg)
{
    (void)arg;
    cio_event e = CIO_EVENT_INIT;
    int rc = cio_event_wait(&e);
    if (e.waiters_.head)
        return -1000; /* the node must be gone */
    return rc;
}

static void test_deadlock_detected(void **state)
{
    (void)state;
    char *report = NULL;
    assert_int_equal(run_capture(deadlock_body, NULL, &report), CIO_EDEADLOCK);
    assert_non_null(strstr(report, "deadlock"));
    assert_non_null(strstr(report, "event"));
    free(report);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lock_fifo),
        cmocka_unit_test(test_lock_errors),
        cmocka_unit_test(test_lock_stale_owner),
        cmocka_unit_test(test_lock_cancel_timeout),
        cmocka_unit_test(test_with),
        cmocka_unit_test(test_guard),
        cmocka_unit_test(test_semaphore_limit),
        cmocka_unit_test(test_semaphore_cancelled_waiter),
        cmocka_unit_test(test_semaphore_errors),
        cmocka_unit_test(test_event),
        cmocka_unit_test(test_condition),
        cmocka_unit_test(test_barrier),
        cmocka_unit_test(test_deadlock_detected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
