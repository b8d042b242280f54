/* Signals: waits and handlers while the loop is idle and while it is busy,
 * and cio_run()'s graceful shutdown: every kind of wait unwinds, shields
 * are respected, a second signal or the deadline forces the exit. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

/* A thread that sends signo to the process delay_us after the loop handles
 * it. Counting from the spawn instead, a loaded machine could let the
 * signal come before the loop's handler, and its default action would end
 * the test. */
struct later_kill {
    pthread_t th;
    int signo;
    unsigned delay_us;
};

static void *kill_later_fn(void *arg)
{
    struct later_kill *k = arg;
    struct sigaction sa;
    for (;;) {
        if (sigaction(k->signo, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL)
            break;
        usleep(100);
    }
    usleep(k->delay_us);
    kill(getpid(), k->signo);
    return NULL;
}

static int kill_later(struct later_kill *k, int signo, unsigned delay_us)
{
    k->signo = signo;
    k->delay_us = delay_us;
    /* A plain thread that blocks nothing: the process's signal may well be
     * delivered to it, and must reach the loop all the same. */
    return pthread_create(&k->th, NULL, kill_later_fn, k);
}

static sigset_t one_signal(int signo)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, signo);
    return s;
}

/* ---- waits: idle and busy loop ------------------------------------------- */

static int t_wait_idle(void *arg)
{
    (void)arg;
    sigset_t s = one_signal(SIGUSR1);
    struct later_kill k;
    task_check_eq(kill_later(&k, SIGUSR1, 20000), 0);
    int64_t t0 = now_ns();
    int rc = cio_signal_wait(&s);
    pthread_join(k.th, NULL);
    task_check_eq(rc, SIGUSR1);
    task_check(now_ns() - t0 >= 15000000);
    return 0;
}

static void test_wait_idle(void **state)
{
    (void)state;
    assert_ok(run_real(t_wait_idle, NULL));
}

static int busy(void *arg)
{
    long *spins = arg;
    while (cio_yield() == 0)
        ++*spins;
    return 0;
}

static int t_wait_busy(void *arg)
{
    (void)arg;
    long spins = 0;
    cio_task b[8];
    for (int i = 0; i < 8; i++)
        b[i] = cio_spawn(busy, &spins);
    sigset_t s = one_signal(SIGUSR2);
    struct later_kill k;
    task_check_eq(kill_later(&k, SIGUSR2, 30000), 0);
    int64_t t0 = now_ns();
    int rc = cio_signal_wait(&s);
    int64_t waited = now_ns() - t0;
    pthread_join(k.th, NULL);
    for (int i = 0; i < 8; i++) {
        cio_cancel(b[i]);
        task_check_eq(cio_join(b[i]), 0);
    }
    task_check_eq(rc, SIGUSR2);
    task_check(waited >= 25000000 && waited < 1000000000);
    task_check(spins > 1000); /* the loop really was busy meanwhile */
    return 0;
}

static void test_wait_busy(void **state)
{
    (void)state;
    assert_ok(run_real(t_wait_busy, NULL));
}

/* ---- handlers ---------------------------------------------------------------- */

struct handled {
    int count;
    int wrong;
    pthread_t loop_thread;
};

static void on_usr1(int signo, void *arg)
{
    struct handled *h = arg;
    if (signo != SIGUSR1 || cio_in_task() || !pthread_equal(pthread_self(), h->loop_thread))
        h->wrong++;
    h->count++;
}

static int t_handler(void *arg)
{
    (void)arg;
    struct handled h = {.loop_thread = pthread_self()};
    task_check_eq(cio_signal_add(SIGUSR1, on_usr1, &h), 0);
    for (int i = 1; i <= 3; i++) {
        struct later_kill k;
        task_check_eq(kill_later(&k, SIGUSR1, 1000), 0);
        for (int j = 0; j < 2000 && h.count < i; j++)
            task_check_eq(cio_sleep(0.001), 0);
        pthread_join(k.th, NULL);
        task_check_eq(h.count, i);
    }
    task_check_eq(h.wrong, 0);
    task_check_eq(cio_signal_remove(SIGUSR1), 0);
    task_check_eq(cio_signal_remove(SIGUSR1), -ENOENT);
    task_check_eq(cio_signal_add(SIGKILL, on_usr1, &h), -EINVAL);
    task_check_eq(cio_signal_add(SIGSEGV, on_usr1, &h), -EINVAL);
    task_check_eq(cio_signal_add(SIGUSR1, NULL, &h), -EINVAL);
    sigset_t empty;
    sigemptyset(&empty);
    task_check_eq(cio_signal_wait(&empty), -EINVAL);
    task_check_eq(cio_signal_wait(NULL), -EINVAL);
    return 0;
}

static void test_handler(void **state)
{
    (void)state;
    assert_ok(run_real(t_handler, NULL));
    assert_int_equal(cio_signal_add(SIGUSR1, on_usr1, NULL), CIO_ENOLOOP);
}

/* A signal that arrives while the waiting task is busy elsewhere is kept
 * for its next wait. */
static int t_kept(void *arg)
{
    (void)arg;
    sigset_t s = one_signal(SIGUSR1);
    struct later_kill k;
    task_check_eq(kill_later(&k, SIGUSR1, 1000), 0);
    task_check_eq(cio_signal_wait(&s), SIGUSR1);
    pthread_join(k.th, NULL);
    kill(getpid(), SIGUSR1);
    task_check_eq(cio_sleep(0.02), 0); /* the loop reads it meanwhile */
    int64_t t0 = now_ns();
    task_check_eq(cio_signal_wait(&s), SIGUSR1);
    task_check(now_ns() - t0 < 5000000);
    return 0;
}

static void test_kept_for_next_wait(void **state)
{
    (void)state;
    assert_ok(run_real(t_kept, NULL));
}

/* ---- graceful shutdown: tasks in every kind of wait ------------------------- */

enum {
    W_SLEEP,
    W_FUTURE,
    W_JOIN,
    W_FD,
    W_EXECUTOR,
    W_CHAN,
    W_SIGNAL,
    W_EVENT,
    W_LOCK,
    W_QUEUE,
    W_SHIELD,
    W_KINDS
};

struct waits {
    int result[W_KINDS];
    bool cleaned; /* the shielded cleanup ran to its end */
    cio_future *f;
    cio_chan *ch;
    int pipefd[2];
    cio_event ev;
    cio_lock lock; /* held by the main task */
    cio_queue q;
    atomic_bool job_may_end;
};

struct kind {
    struct waits *w;
    int k;
};

static int blocking_job(void *arg)
{
    struct waits *w = arg;
    while (!atomic_load(&w->job_may_end))
        usleep(1000);
    return 0;
}

static int child_sleep(void *arg)
{
    (void)arg;
    return cio_sleep(3600);
}

static int waiter(void *arg)
{
    struct kind *kd = arg;
    struct waits *w = kd->w;
    int rc = 0;
    void *v;
    switch (kd->k) {
    case W_SLEEP:
        rc = cio_sleep(3600);
        break;
    case W_FUTURE:
        rc = cio_future_wait(w->f, &v);
        break;
    case W_JOIN: {
        cio_task c = cio_spawn(child_sleep, NULL);
        rc = cio_join(c);
        break;
    }
    case W_FD:
        rc = cio_wait_readable(w->pipefd[0], -1);
        break;
    case W_EXECUTOR:
        rc = cio_to_thread(blocking_job, w);
        break;
    case W_CHAN:
        rc = cio_chan_recv(w->ch, &v);
        break;
    case W_SIGNAL: {
        sigset_t s = one_signal(SIGUSR2);
        rc = cio_signal_wait(&s);
        break;
    }
    case W_EVENT:
        rc = cio_event_wait(&w->ev);
        break;
    case W_LOCK:
        rc = cio_lock_acquire(&w->lock);
        if (rc == 0)
            cio_lock_release(&w->lock);
        break;
    case W_QUEUE: {
        int item;
        rc = cio_queue_get(&w->q, &item);
        break;
    }
    case W_SHIELD:
        rc = cio_sleep(3600);
        {
            /* Cleanup that must itself wait. */
            CIO_SHIELD(sh);
            if (cio_sleep(0.05) == 0)
                w->cleaned = true;
        }
        break;
    }
    w->result[kd->k] = rc;
    return rc;
}

static int t_shutdown(void *arg)
{
    struct waits *w = arg;
    task_check_eq(cio_future_new(&w->f), 0);
    task_check_eq(cio_chan_new(&w->ch, 1), 0);
    task_check_eq(pipe(w->pipefd), 0);
    cio_event_init(&w->ev);
    cio_lock_init(&w->lock);
    task_check_eq(cio_lock_acquire(&w->lock), 0);
    task_check_eq(cio_queue_init(&w->q, sizeof(int), 4), 0);
    struct kind kinds[W_KINDS];
    cio_task t[W_KINDS];
    for (int k = 0; k < W_KINDS; k++) {
        kinds[k] = (struct kind){w, k};
        t[k] = cio_spawn(waiter, &kinds[k]);
    }
    struct later_kill kl;
    task_check_eq(kill_later(&kl, SIGTERM, 30000), 0);
    int rc = 0;
    for (int k = 0; k < W_KINDS; k++) {
        int r = cio_join(t[k]);
        if (!rc)
            rc = r;
    }
    pthread_join(kl.th, NULL);
    atomic_store(&w->job_may_end, true);
    cio_future_free(w->f);
    cio_chan_free(w->ch);
    cio_lock_release(&w->lock);
    cio_queue_destroy(&w->q);
    close(w->pipefd[0]);
    close(w->pipefd[1]);
    return rc;
}

static int quick(void *arg)
{
    (void)arg;
    return cio_sleep(1);
}

static void test_shutdown_every_wait(void **state)
{
    (void)state;
    static struct waits w;
    for (int k = 0; k < W_KINDS; k++)
        w.result[k] = 1;
    char *report = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&report, &len);
    int64_t t0 = now_ns();
    int rc = cio_run_with(&(cio_run_options){.report = f}, t_shutdown, &w);
    int64_t took = now_ns() - t0;
    fclose(f);
    assert_int_equal(rc, -ECANCELED);
    for (int k = 0; k < W_KINDS; k++)
        assert_int_equal(w.result[k], -ECANCELED);
    assert_true(w.cleaned);
    assert_int_equal(cio_shutdown_signal(), SIGTERM);
    assert_int_equal(cio_exit_status(rc), 143);
    assert_non_null(strstr(report, "received SIGTERM: cancelling the main task"));
    assert_true(took < 1000000000);
    free(report);
    /* The next run starts afresh. */
    assert_ok(run_virtual(quick, NULL));
    assert_int_equal(cio_shutdown_signal(), 0);
    assert_int_equal(cio_exit_status(0), 0);
}

/* ---- forced exits, in a child process ----------------------------------------- */

struct child_out {
    int status;
    char err[4096];
    double seconds;
};

static int stubborn(void *arg)
{
    int ready_fd = (int)(intptr_t)arg;
    int rc = cio_sleep(3600);
    CIO_SHIELD(sh);
    ssize_t n = write(ready_fd, "c", 1); /* cancelled: now stuck in cleanup */
    (void)n;
    cio_sleep(30);
    return rc;
}

static int stubborn_main(void *arg)
{
    int ready_fd = (int)(intptr_t)arg;
    cio_task t = cio_spawn_with(&(cio_spawn_options){.name = "stubborn"}, stubborn, arg);
    ssize_t n = write(ready_fd, "r", 1);
    (void)n;
    return cio_join(t);
}

/* Runs main in a child under cio_run with the given shutdown timeout; main
 * gets the write end of a pipe to report its progress on, whose read end
 * is *ready; the child's stderr is *err. Returns the child's pid. */
static pid_t start_child(cio_task_fn main, double timeout, int *ready, int *err)
{
    int r[2], e[2];
    assert_int_equal(pipe(r), 0);
    assert_int_equal(pipe(e), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(r[0]);
        close(e[0]);
        dup2(e[1], 2);
        cio_run_options o = {.shutdown_timeout = timeout};
        int rc = cio_run_with(&o, main, (void *)(intptr_t)r[1]);
        _exit(cio_exit_status(rc) == 0 ? 99 : 98); /* never reached */
    }
    close(r[1]);
    close(e[1]);
    *ready = r[0];
    *err = e[0];
    return pid;
}

/* Reads what the child wrote on stderr, and closes both pipes. */
static void finish_child(int ready, int err, struct child_out *out)
{
    ssize_t n = read(err, out->err, sizeof out->err - 1);
    out->err[n > 0 ? n : 0] = 0;
    close(ready);
    close(err);
}

/* Runs stubborn_main in a child with the given shutdown timeout, sends
 * `first`, then (if second) `second` once the child is in its cleanup. */
static void run_child(double timeout, int first, int second, struct child_out *out)
{
    int ready, err;
    pid_t pid = start_child(stubborn_main, timeout, &ready, &err);
    char c;
    assert_int_equal(read(ready, &c, 1), 1);
    assert_int_equal(c, 'r');
    int64_t t0 = now_ns();
    kill(pid, first);
    assert_int_equal(read(ready, &c, 1), 1);
    assert_int_equal(c, 'c');
    if (second)
        kill(pid, second);
    assert_int_equal(waitpid(pid, &out->status, 0), pid);
    out->seconds = (double)(now_ns() - t0) / 1e9;
    finish_child(ready, err, out);
}

static void test_second_signal_forces_exit(void **state)
{
    (void)state;
    struct child_out o;
    run_child(-1, SIGTERM, SIGINT, &o);
    assert_true(WIFEXITED(o.status));
    assert_int_equal(WEXITSTATUS(o.status), 130);
    assert_non_null(strstr(o.err, "received SIGTERM"));
    assert_non_null(strstr(o.err, "second signal (INT): forcing exit"));
    assert_non_null(strstr(o.err, "stubborn"));
    assert_true(o.seconds < 5);
}

static void test_deadline_forces_exit(void **state)
{
    (void)state;
    struct child_out o;
    run_child(0.3, SIGINT, 0, &o);
    assert_true(WIFEXITED(o.status));
    assert_int_equal(WEXITSTATUS(o.status), 130);
    assert_non_null(strstr(o.err, "shutdown deadline of 0.3 s passed"));
    assert_non_null(strstr(o.err, "stubborn"));
    assert_true(o.seconds >= 0.25 && o.seconds < 5);
}

/* A loop that never gets control back cannot hear a signal: a task busy
 * from the start, or a cancelled one that ignores -ECANCELED from calls
 * that then return at once. The second signal still ends the process. */
static int spins_at_once(void *arg)
{
    int ready_fd = (int)(intptr_t)arg;
    ssize_t n = write(ready_fd, "r", 1);
    (void)n;
    for (volatile unsigned long x = 0;; x++)
        ;
    return 0;
}

static int spins_once_cancelled(void *arg)
{
    int ready_fd = (int)(intptr_t)arg;
    ssize_t n = write(ready_fd, "r", 1);
    (void)n;
    for (;;)
        cio_yield(); /* a switch until cancelled, then -ECANCELED at once */
    return 0;
}

static void run_stuck(cio_task_fn fn, struct child_out *out)
{
    int ready, err;
    pid_t pid = start_child(fn, -1, &ready, &err);
    char c;
    assert_int_equal(read(ready, &c, 1), 1);
    usleep(50000);
    kill(pid, SIGINT);
    usleep(300000);
    int64_t t0 = now_ns();
    kill(pid, SIGTERM);
    int st = 0;
    for (int i = 0; i < 300 && waitpid(pid, &st, WNOHANG) != pid; i++)
        usleep(10000);
    out->seconds = (double)(now_ns() - t0) / 1e9;
    if (out->seconds >= 3) { /* it did not exit: do not leave it spinning */
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    out->status = st;
    finish_child(ready, err, out);
}

static void test_second_signal_reaches_a_stuck_loop(void **state)
{
    (void)state;
    cio_task_fn stuck[] = {spins_at_once, spins_once_cancelled};
    for (int i = 0; i < 2; i++) {
        struct child_out o;
        run_stuck(stuck[i], &o);
        assert_true(o.seconds < 3);
        assert_true(WIFEXITED(o.status));
        assert_int_equal(WEXITSTATUS(o.status), 143);
        assert_non_null(strstr(o.err, "the loop has not polled since the last one came"));
    }
}

static int no_handling_main(void *arg)
{
    (void)arg;
    kill(getpid(), SIGTERM);
    return cio_sleep(5);
}

static void test_no_signal_handling(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        cio_run_with(&(cio_run_options){.no_signal_handling = true}, no_handling_main, NULL);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGTERM);
}

/* ---- nothing leaks out of the loop ---------------------------------------- */

static int t_child(void *arg)
{
    int *status = arg;
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", "kill -TERM $$; sleep 5", (char *)NULL);
        _exit(127);
    }
    task_check(pid > 0);
    task_check_eq(waitpid(pid, status, 0), pid);
    return 0;
}

/* A child started while the loop watches SIGTERM gets the default
 * disposition and no blocked signals; after the loop, SIGINT and SIGTERM
 * are as they were before it. */
static void test_children_and_after(void **state)
{
    (void)state;
    int status = 0;
    assert_ok(run_real(t_child, &status));
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGTERM);
    struct sigaction sa;
    assert_int_equal(sigaction(SIGINT, NULL, &sa), 0);
    assert_true(sa.sa_handler == SIG_DFL);
    assert_int_equal(sigaction(SIGTERM, NULL, &sa), 0);
    assert_true(sa.sa_handler == SIG_DFL);
    sigset_t mask;
    pthread_sigmask(SIG_SETMASK, NULL, &mask);
    assert_false(sigismember(&mask, SIGINT));
    assert_false(sigismember(&mask, SIGTERM));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* Forks first, while this process has no other threads. */
        cmocka_unit_test(test_second_signal_forces_exit),
        cmocka_unit_test(test_deadline_forces_exit),
        cmocka_unit_test(test_second_signal_reaches_a_stuck_loop),
        cmocka_unit_test(test_no_signal_handling),
        cmocka_unit_test(test_children_and_after),
        cmocka_unit_test(test_wait_idle),
        cmocka_unit_test(test_wait_busy),
        cmocka_unit_test(test_handler),
        cmocka_unit_test(test_kept_for_next_wait),
        cmocka_unit_test(test_shutdown_every_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
