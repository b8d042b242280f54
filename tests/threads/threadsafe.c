/* Thread-safe calls, loop references, the thread-safe channel and
 * cio_run_loops(). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

/* ---- call_soon_threadsafe ------------------------------------------------ */

#define PER_THREAD 2000
#define THREADS 4

struct calls {
    cio_loop_ref *ref;
    pthread_t loop_thread;
    int next[THREADS]; /* the sequence number expected next, per thread */
    int count;
    int wrong; /* out of order, or run on another thread */
};

static struct calls calls;

static void on_call(void *arg)
{
    uintptr_t v = (uintptr_t)arg;
    int th = (int)(v >> 20), seq = (int)(v & 0xfffff);
    if (seq != calls.next[th] || !pthread_equal(pthread_self(), calls.loop_thread) || cio_in_task())
        calls.wrong++;
    calls.next[th] = seq + 1;
    calls.count++;
}

static void *poster(void *arg)
{
    uintptr_t th = (uintptr_t)arg;
    for (int i = 0; i < PER_THREAD; i++)
        if (cio_call_soon_threadsafe(calls.ref, on_call, (void *)(th << 20 | (uintptr_t)i)) != 0)
            return (void *)1;
    return NULL;
}

static int t_calls(void *arg)
{
    (void)arg;
    calls = (struct calls){.loop_thread = pthread_self()};
    task_check_eq(cio_loop_ref_get(&calls.ref), 0);
    pthread_t th[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        task_check_eq(pthread_create(&th[i], NULL, poster, (void *)i), 0);
    for (int i = 0; i < 5000 && calls.count < THREADS * PER_THREAD; i++)
        task_check_eq(cio_sleep(0.001), 0);
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(th[i], &r);
        task_check(r == NULL);
    }
    task_check_eq(calls.count, THREADS * PER_THREAD);
    task_check_eq(calls.wrong, 0);
    cio_loop_ref_release(calls.ref);
    return 0;
}

static void test_call_soon_threadsafe(void **state)
{
    (void)state;
    assert_ok(run_real(t_calls, NULL));
}

static cio_loop_ref *kept_ref;

static int t_keep_ref(void *arg)
{
    (void)arg;
    task_check_eq(cio_loop_ref_get(&kept_ref), 0);
    task_check_eq(cio_loop_ref_get(NULL), -EINVAL);
    task_check_eq(cio_call_soon_threadsafe(kept_ref, NULL, NULL), -EINVAL);
    return 0;
}

static void nothing(void *arg)
{
    (void)arg;
}

static void test_ref_outlives_loop(void **state)
{
    (void)state;
    assert_ok(run_virtual(t_keep_ref, NULL));
    assert_int_equal(cio_call_soon_threadsafe(kept_ref, nothing, NULL), CIO_ENOLOOP);
    assert_int_equal(cio_loop_stop_threadsafe(kept_ref), CIO_ENOLOOP);
    cio_loop_ref_release(kept_ref);
    cio_loop_ref *r;
    assert_int_equal(cio_loop_ref_get(&r), CIO_ENOLOOP);
}

/* A thread resolves a future on the loop 30 ms later: the held reference
 * keeps the loop from declaring a deadlock, even on a virtual clock. */
struct later {
    cio_loop_ref *ref;
    cio_future *f;
};

static void resolve(void *arg)
{
    struct later *l = arg;
    cio_future_set_result(l->f, (void *)(uintptr_t)99);
}

static void *resolver(void *arg)
{
    struct later *l = arg;
    usleep(30000);
    cio_call_soon_threadsafe(l->ref, resolve, l);
    cio_loop_ref_release(l->ref);
    return NULL;
}

static int t_wake_from_thread(void *arg)
{
    (void)arg;
    struct later l;
    task_check_eq(cio_future_new(&l.f), 0);
    task_check_eq(cio_loop_ref_get(&l.ref), 0);
    pthread_t th;
    task_check_eq(pthread_create(&th, NULL, resolver, &l), 0);
    void *v = NULL;
    int64_t t0 = now_ns();
    int rc = cio_future_wait(l.f, &v);
    pthread_join(th, NULL);
    cio_future_free(l.f);
    task_check_eq(rc, 0);
    task_check_eq((uintptr_t)v, 99);
    task_check(now_ns() - t0 >= 25000000);
    return 0;
}

static void test_wake_from_thread(void **state)
{
    (void)state;
    char *report = NULL;
    assert_ok(run_capture(t_wake_from_thread, NULL, &report));
    assert_null(strstr(report, "deadlock"));
    free(report);
}

static void *stopper(void *arg)
{
    usleep(20000);
    cio_loop_stop_threadsafe(arg);
    cio_loop_ref_release(arg);
    return NULL;
}

static int t_stop(void *arg)
{
    (void)arg;
    cio_loop_ref *ref;
    task_check_eq(cio_loop_ref_get(&ref), 0);
    pthread_t th;
    task_check_eq(pthread_create(&th, NULL, stopper, ref), 0);
    int rc = cio_sleep(30);
    pthread_join(th, NULL);
    return rc;
}

static void test_stop_threadsafe(void **state)
{
    (void)state;
    int64_t t0 = now_ns();
    assert_int_equal(run_real(t_stop, NULL), -ECANCELED);
    assert_true(now_ns() - t0 < 2000000000);
}

/* ---- the channel ----------------------------------------------------------- */

#define ITEMS 3000

static void *thread_consumer(void *arg)
{
    cio_chan *ch = arg;
    uintptr_t expect = 1;
    void *item;
    int rc;
    while ((rc = cio_chan_recv(ch, &item)) == 0) {
        if ((uintptr_t)item != expect)
            return (void *)(uintptr_t)1;
        expect++;
    }
    return rc == -EPIPE && expect == ITEMS + 1 ? NULL : (void *)(uintptr_t)2;
}

static int t_task_to_thread(void *arg)
{
    (void)arg;
    cio_chan *ch;
    task_check_eq(cio_chan_new(&ch, 4), 0);
    pthread_t th;
    task_check_eq(pthread_create(&th, NULL, thread_consumer, ch), 0);
    for (uintptr_t i = 1; i <= ITEMS; i++)
        task_check_eq(cio_chan_send(ch, (void *)i), 0);
    task_check_eq(cio_chan_close(ch), 0);
    void *r;
    pthread_join(th, &r);
    cio_chan_free(ch);
    task_check(r == NULL);
    return 0;
}

static void test_chan_task_to_thread(void **state)
{
    (void)state;
    assert_ok(run_real(t_task_to_thread, NULL));
}

static void *thread_producer(void *arg)
{
    cio_chan *ch = arg;
    for (uintptr_t i = 1; i <= ITEMS; i++)
        if (cio_chan_send(ch, (void *)i) != 0)
            return (void *)1;
    cio_chan_close(ch);
    return NULL;
}

static int t_thread_to_task(void *arg)
{
    (void)arg;
    cio_chan *ch;
    task_check_eq(cio_chan_new(&ch, 2), 0);
    pthread_t th;
    task_check_eq(pthread_create(&th, NULL, thread_producer, ch), 0);
    uintptr_t expect = 1;
    void *item;
    int rc;
    while ((rc = cio_chan_recv(ch, &item)) == 0) {
        task_check_eq((uintptr_t)item, expect);
        expect++;
    }
    task_check_eq(rc, -EPIPE);
    task_check_eq(expect, ITEMS + 1);
    void *r;
    pthread_join(th, &r);
    cio_chan_free(ch);
    task_check(r == NULL);
    return 0;
}

static void test_chan_thread_to_task(void **state)
{
    (void)state;
    assert_ok(run_real(t_thread_to_task, NULL));
}

static void try_in_callback(void *arg)
{
    void *item;
    *(int *)arg = cio_chan_recv(NULL, &item) == -EINVAL ? 0 : 1;
}

struct cb_check {
    cio_chan *ch;
    int rc;
};

static void send_in_callback(void *arg)
{
    struct cb_check *c = arg;
    c->rc = cio_chan_send(c->ch, (void *)9);
}

static void recv_in_callback(void *arg)
{
    struct cb_check *c = arg;
    void *item = NULL;
    c->rc = cio_chan_recv(c->ch, &item);
    if (c->rc == 0)
        c->rc = (int)(uintptr_t)item;
}

/* A cancelled task's calls that need no wait are done, as the toolkit's
 * (sync.h): draining a channel in cleanup needs no shield. */
static int cancelled_drains(void *arg)
{
    cio_chan *ch = arg;
    cio_cancel(cio_current());
    void *item = NULL;
    int rc = cio_chan_recv(ch, &item);
    if (rc == 0 && (uintptr_t)item != 7)
        return -1;
    if (rc == 0)
        rc = cio_chan_send(ch, (void *)8);
    if (rc == 0)
        rc = cio_chan_send(ch, (void *)8) == -ECANCELED ? 0 : -2; /* full: would wait */
    return rc;
}

static int t_chan_rules(void *arg)
{
    (void)arg;
    cio_chan *ch;
    task_check_eq(cio_chan_new(&ch, 0), -EINVAL);
    task_check_eq(cio_chan_new(NULL, 1), -EINVAL);
    task_check_eq(cio_chan_new(&ch, 2), 0);
    void *item = NULL;
    task_check_eq(cio_chan_try_recv(ch, &item), -EAGAIN);
    task_check_eq(cio_chan_try_send(ch, (void *)1), 0);
    task_check_eq(cio_chan_try_send(ch, (void *)2), 0);
    task_check_eq(cio_chan_try_send(ch, (void *)3), -EAGAIN);
    task_check_eq(cio_chan_len(ch), 2);
    /* A waiting call from a plain callback is refused, not blocking. */
    struct cb_check c = {ch, 1};
    int bad = 1;
    task_check_eq(cio_call_soon(send_in_callback, &c, NULL), 0);
    task_check_eq(cio_call_soon(try_in_callback, &bad, NULL), 0);
    task_check_eq(cio_yield(), 0);
    task_check_eq(c.rc, CIO_ENOTTASK);
    task_check_eq(bad, 0);
    /* One that can be done at once is done there. */
    cio_chan *one;
    task_check_eq(cio_chan_new(&one, 1), 0);
    task_check_eq(cio_chan_try_send(one, (void *)5), 0);
    struct cb_check c1 = {one, 1};
    task_check_eq(cio_call_soon(recv_in_callback, &c1, NULL), 0);
    task_check_eq(cio_yield(), 0);
    task_check_eq(c1.rc, 5);
    task_check_eq(cio_chan_try_send(one, (void *)7), 0);
    task_check_eq(cio_join(cio_spawn(cancelled_drains, one)), 0);
    task_check_eq(cio_chan_len(one), 1);
    cio_chan_free(one);
    /* A full channel times out a sender, which has then not sent. */
    {
        CIO_TIMEOUT(s, 0.02);
        task_check_eq(cio_chan_send(ch, (void *)3), -ETIMEDOUT);
    }
    task_check_eq(cio_chan_len(ch), 2);
    task_check_eq(cio_chan_close(ch), 0);
    task_check_eq(cio_chan_close(ch), -EALREADY);
    task_check_eq(cio_chan_send(ch, (void *)4), -EPIPE);
    task_check_eq(cio_chan_recv(ch, &item), 0);
    task_check_eq((uintptr_t)item, 1);
    task_check_eq(cio_chan_try_recv(ch, &item), 0);
    task_check_eq((uintptr_t)item, 2);
    task_check_eq(cio_chan_recv(ch, &item), -EPIPE);
    task_check_eq(cio_chan_try_recv(ch, &item), -EPIPE);
    cio_chan_free(ch);
    return 0;
}

static void test_chan_rules(void **state)
{
    (void)state;
    assert_ok(run_real(t_chan_rules, NULL));
}

/* A receiver cancelled while it waits leaves; what is sent next stays in
 * the channel for the next receiver. */
static int waiting_receiver(void *arg)
{
    void *item;
    return cio_chan_recv(arg, &item);
}

static void *late_sender(void *arg)
{
    usleep(20000);
    cio_chan_send(arg, (void *)77);
    return NULL;
}

static int t_chan_cancel(void *arg)
{
    (void)arg;
    cio_chan *ch;
    task_check_eq(cio_chan_new(&ch, 1), 0);
    cio_task r = cio_spawn(waiting_receiver, ch);
    task_check_eq(cio_sleep(0.005), 0);
    task_check_eq(cio_cancel(r), 0);
    task_check_eq(cio_join(r), -ECANCELED);
    pthread_t th;
    task_check_eq(pthread_create(&th, NULL, late_sender, ch), 0);
    void *item = NULL;
    task_check_eq(cio_chan_recv(ch, &item), 0);
    task_check_eq((uintptr_t)item, 77);
    pthread_join(th, NULL);
    cio_chan_free(ch);
    return 0;
}

static void test_chan_cancel_loses_nothing(void **state)
{
    (void)state;
    assert_ok(run_real(t_chan_cancel, NULL));
}

/* ---- several loops -------------------------------------------------------- */

static cio_chan *pipe_ab, *pipe_ba;

static int spinner(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++)
        if (cio_yield() < 0)
            return -1;
    return 0;
}

/* Loop 0 sends numbers to loop 1, which sends them back doubled. */
static int loop_main(void *arg)
{
    int *runs = arg;
    __atomic_fetch_add(runs, 1, __ATOMIC_RELAXED);
    int idx = cio_loop_index();
    task_check(idx == 0 || idx == 1);
    task_check_eq(cio_run_loops(1, NULL, loop_main, arg, NULL), -EBUSY);
    cio_task tasks[50];
    for (int i = 0; i < 50; i++)
        tasks[i] = cio_spawn(spinner, NULL);
    long sum = 0;
    for (int i = 1; i <= 500; i++) {
        void *v;
        if (idx == 0) {
            task_check_eq(cio_chan_send(pipe_ab, (void *)(uintptr_t)i), 0);
            task_check_eq(cio_chan_recv(pipe_ba, &v), 0);
            task_check_eq((uintptr_t)v, 2 * i);
            sum += (long)(uintptr_t)v;
        } else {
            task_check_eq(cio_chan_recv(pipe_ab, &v), 0);
            task_check_eq(cio_chan_send(pipe_ba, (void *)(2 * (uintptr_t)v)), 0);
        }
    }
    for (int i = 0; i < 50; i++)
        task_check_eq(cio_join(tasks[i]), 0);
    return idx == 0 ? (int)(sum / 1000) : 10;
}

static void test_run_loops(void **state)
{
    (void)state;
    assert_ok(cio_chan_new(&pipe_ab, 1));
    assert_ok(cio_chan_new(&pipe_ba, 1));
    int runs = 0, results[2] = {-1, -1};
    assert_int_equal(cio_loop_index(), -1);
    assert_ok(cio_run_loops(2, NULL, loop_main, &runs, results));
    assert_int_equal(runs, 2);
    assert_int_equal(results[0], 500 * 501 / 1000);
    assert_int_equal(results[1], 10);
    assert_int_equal(cio_shutdown_signal(), 0);
    assert_int_equal(cio_run_loops(2, NULL, NULL, NULL, NULL), -EINVAL);
    cio_chan_free(pipe_ab);
    cio_chan_free(pipe_ba);
}

static int sleep_forever(void *arg)
{
    if (cio_loop_index() == 1 && arg)
        kill(getpid(), SIGTERM);
    return cio_sleep(3600);
}

static void test_run_loops_signal(void **state)
{
    (void)state;
    int results[3];
    int64_t t0 = now_ns();
    int rc = cio_run_loops(3, NULL, sleep_forever, (void *)1, results);
    assert_int_equal(rc, -ECANCELED);
    for (int i = 0; i < 3; i++)
        assert_int_equal(results[i], -ECANCELED);
    assert_int_equal(cio_shutdown_signal(), SIGTERM);
    assert_int_equal(cio_exit_status(rc), 143);
    assert_true(now_ns() - t0 < 2000000000);
}

static int sync_fd = -1;

static int stuck_in_cleanup(void *arg)
{
    (void)arg;
    ssize_t n = write(sync_fd, "r", 1);
    int rc = cio_sleep(3600);
    CIO_SHIELD(s);
    n = write(sync_fd, "c", 1);
    (void)n;
    cio_sleep(30);
    return rc;
}

/* A second signal forces the exit of every loop, in a child process. */
static void test_run_loops_second_signal(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        sync_fd = p[1];
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        cio_loops_options o = {.shutdown_timeout = -1};
        cio_run_loops(2, &o, stuck_in_cleanup, NULL, NULL);
        _exit(99);
    }
    close(p[1]);
    char c[2];
    assert_int_equal(read(p[0], c, 1), 1);
    assert_int_equal(read(p[0], c + 1, 1), 1);
    assert_int_equal(c[0] + c[1], 'r' + 'r');
    int64_t t0 = now_ns();
    kill(pid, SIGTERM);
    assert_int_equal(read(p[0], c, 1), 1);
    assert_int_equal(read(p[0], c + 1, 1), 1);
    assert_int_equal(c[0] + c[1], 'c' + 'c');
    kill(pid, SIGINT);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    close(p[0]);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 130);
    assert_true(now_ns() - t0 < 5000000000LL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_loops_second_signal), /* forks: first */
        cmocka_unit_test(test_call_soon_threadsafe),
        cmocka_unit_test(test_ref_outlives_loop),
        cmocka_unit_test(test_wake_from_thread),
        cmocka_unit_test(test_stop_threadsafe),
        cmocka_unit_test(test_chan_task_to_thread),
        cmocka_unit_test(test_chan_thread_to_task),
        cmocka_unit_test(test_chan_rules),
        cmocka_unit_test(test_chan_cancel_loses_nothing),
        cmocka_unit_test(test_run_loops),
        cmocka_unit_test(test_run_loops_signal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
