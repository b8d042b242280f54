/* Waiting on fds: readiness, timeouts, one waiter per direction, forget,
 * fds that cannot be polled. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

struct pipe_pair {
    int fds[2];
    int got;
};

static int writer_later(void *arg)
{
    struct pipe_pair *p = arg;
    if (cio_sleep(0.05) < 0)
        return -1;
    return write(p->fds[1], "x", 1) == 1 ? 0 : -errno;
}

static int readable(void *arg)
{
    struct pipe_pair *p = arg;
    task_check_eq(pipe2(p->fds, O_NONBLOCK), 0);
    cio_task w = cio_spawn(writer_later, p);
    double t0 = cio_time();
    int rc = cio_wait_readable(p->fds[0], 5.0);
    task_check_eq(rc, CIO_READABLE);
    task_check(cio_time() - t0 >= 0.05 - EPS);
    char c;
    task_check_eq(read(p->fds[0], &c, 1), 1);
    task_check_eq(cio_join(w), 0);
    /* Nothing more to read: times out. */
    t0 = cio_time();
    task_check_eq(cio_wait_readable(p->fds[0], 0.05), -ETIMEDOUT);
    task_check(between(cio_time() - t0, 0.05, 0.2));
    /* A pipe's write end is writable at once. */
    task_check_eq(cio_wait_writable(p->fds[1], 1.0), CIO_WRITABLE);
    task_check_eq(cio_wait_fd(p->fds[1], CIO_READABLE | CIO_WRITABLE, 1.0), CIO_WRITABLE);
    /* Repeated waits on the same fd (lazy interest) still see new data. */
    for (int i = 0; i < 5; i++) {
        task_check_eq(write(p->fds[1], "y", 1), 1);
        task_check_eq(cio_wait_readable(p->fds[0], 1.0), CIO_READABLE);
        task_check_eq(read(p->fds[0], &c, 1), 1);
    }
    /* Peer closed: readable (EOF). */
    close(p->fds[1]);
    task_check(cio_wait_readable(p->fds[0], 1.0) > 0);
    cio_forget_fd(p->fds[0]);
    close(p->fds[0]);
    return 0;
}

static void test_readable_writable_timeout(void **state)
{
    (void)state;
    struct pipe_pair p = {0};
    assert_ok(run_real(readable, &p));
}

static int second_waiter(void *arg)
{
    struct pipe_pair *p = arg;
    return cio_wait_readable(p->fds[0], -1);
}

static void noop(void *arg)
{
    (void)arg;
}

static int busy_and_forget(void *arg)
{
    struct pipe_pair *p = arg;
    task_check_eq(pipe2(p->fds, O_NONBLOCK), 0);
    cio_task t = cio_spawn(second_waiter, p);
    task_check_eq(cio_yield(), 0);
    task_check_eq(cio_wait_readable(p->fds[0], 0.01), -EBUSY);
    task_check_eq(cio_add_reader(p->fds[0], noop, NULL), -EBUSY);
    task_check_eq(cio_forget_fd(p->fds[0]), 0);
    task_check_eq(cio_join(t), -EBADF);
    close(p->fds[0]);
    close(p->fds[1]);
    return 0;
}

static void test_busy_and_forget(void **state)
{
    (void)state;
    struct pipe_pair p = {0};
    assert_ok(run_real(busy_and_forget, &p));
}

static int bad_fds(void *arg)
{
    (void)arg;
    task_check_eq(cio_wait_readable(-1, 1), -EINVAL);
    task_check_eq(cio_wait_fd(0, 0, 1), -EINVAL);
    task_check_eq(cio_wait_fd(0, 8, 1), -EINVAL);
    FILE *f = tmpfile();
    task_check(f != NULL);
    task_check_eq(cio_wait_readable(fileno(f), 1), -EPERM); /* epoll refuses files */
    fclose(f);
    int fd = dup(1);
    close(fd);
    task_check_eq(cio_wait_readable(fd, 1), -EBADF);
    /* Numbers far past any open fd: refused, without growing the table. */
    task_check_eq(cio_wait_readable(INT_MAX, 1), -EBADF);
    task_check_eq(cio_wait_writable(1 << 30, 1), -EBADF);
    task_check_eq(cio_add_reader(INT_MAX, noop, NULL), -EBADF);
    task_check_eq(cio_add_writer(100000000, noop, NULL), -EBADF);
    return 0;
}

struct writer_count {
    int fd, calls;
};

static void on_writable(void *arg)
{
    struct writer_count *w = arg;
    if (++w->calls == 3)
        cio_remove_writer(w->fd);
}

static int writer_callbacks(void *arg)
{
    (void)arg;
    int fds[2];
    task_check_eq(pipe2(fds, O_NONBLOCK), 0);
    struct writer_count w = {fds[1], 0};
    task_check_eq(cio_add_writer(fds[1], on_writable, &w), 0);
    /* An empty pipe is writable on every turn (level-triggered) until the
     * callback removes itself on its third call. */
    for (int i = 0; i < 10; i++)
        task_check_eq(cio_sleep(0.001), 0);
    task_check_eq(w.calls, 3);
    task_check_eq(cio_remove_writer(fds[1]), -ENOENT); /* already gone */
    /* A writer and a task waiting writable on one fd exclude each other. */
    task_check_eq(cio_add_writer(fds[1], on_writable, &w), 0);
    task_check_eq(cio_wait_writable(fds[1], 0.1), -EBUSY);
    task_check_eq(cio_remove_writer(fds[1]), 0);
    task_check_eq(cio_wait_writable(fds[1], 0.1), CIO_WRITABLE);
    cio_forget_fd(fds[0]);
    cio_forget_fd(fds[1]);
    close(fds[0]);
    close(fds[1]);
    return 0;
}

static void test_writer_callbacks(void **state)
{
    (void)state;
    assert_ok(run_real(writer_callbacks, NULL));
}

static void test_bad_fds(void **state)
{
    (void)state;
    assert_ok(run_real(bad_fds, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readable_writable_timeout),
        cmocka_unit_test(test_busy_and_forget),
        cmocka_unit_test(test_writer_callbacks),
        cmocka_unit_test(test_bad_fds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
