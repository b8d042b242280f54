/* Choosing the I/O backend, and what each backend must get right beneath
 * the fd tests that run on both (io.c and every area's tests run twice):
 * requests in flight when interest changes, fd numbers reused, more
 * changes than the io_uring submission queue holds, sockets closed while
 * watched. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static int name_is(void *arg)
{
    const char *want = arg;
    task_check(cio_backend_name() != NULL);
    task_check(strcmp(cio_backend_name(), want) == 0);
    return 0;
}

static int run_on(cio_backend b, cio_task_fn fn, void *arg)
{
    cio_run_options o = {.backend = b};
    return cio_run_with(&o, fn, arg);
}

/* io_uring is refused by some kernels and sandboxes; a backend test then
 * runs on epoll alone and says so. */
static bool uring_usable(void)
{
    int rc = run_on(CIO_BACKEND_IO_URING, name_is, "io_uring");
    if (rc == -ENOSYS || rc == -EPERM) {
        print_message("io_uring unavailable here (%s): epoll only\n", cio_err_name(rc));
        return false;
    }
    assert_int_equal(rc, 0);
    return true;
}

static void test_choice(void **state)
{
    (void)state;
    assert_null(cio_backend_name());
    unsetenv("CIO_BACKEND");
    assert_ok(run_on(CIO_BACKEND_DEFAULT, name_is, "epoll"));
    assert_ok(run_on(CIO_BACKEND_EPOLL, name_is, "epoll"));
    assert_int_equal(run_on((cio_backend)42, name_is, "epoll"), -EINVAL);
    assert_int_equal(run_on((cio_backend)-1, name_is, "epoll"), -EINVAL);

    setenv("CIO_BACKEND", "epoll", 1);
    assert_ok(run_on(CIO_BACKEND_DEFAULT, name_is, "epoll"));
    setenv("CIO_BACKEND", "kqueue", 1);
    char *report = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&report, &len);
    cio_run_options o = {.report = f};
    assert_int_equal(cio_run_with(&o, name_is, "epoll"), -EINVAL);
    fclose(f);
    assert_non_null(strstr(report, "CIO_BACKEND=kqueue names no backend"));
    free(report);
    assert_int_equal(cio_run(name_is, "epoll"), -EINVAL);
    /* An explicit choice is not overridden by the environment. */
    assert_ok(run_on(CIO_BACKEND_EPOLL, name_is, "epoll"));
    if (uring_usable()) {
        setenv("CIO_BACKEND", "io_uring", 1);
        assert_ok(run_on(CIO_BACKEND_DEFAULT, name_is, "io_uring"));
        assert_ok(run_on(CIO_BACKEND_EPOLL, name_is, "epoll"));
    }
    unsetenv("CIO_BACKEND");
    assert_null(cio_backend_name());
}

/* Each loop of cio_run_loops() takes the backend of the options it is
 * given, on its own thread: a ring per loop. */
static int loop_backend(void *arg)
{
    const char *want = arg;
    task_check(cio_loop_index() >= 0);
    task_check(strcmp(cio_backend_name(), want) == 0);
    /* The ring works from this thread: a wait on a pipe. */
    int p[2];
    task_check_eq(pipe(p), 0);
    task_check_eq(write(p[1], "x", 1), 1);
    task_check_eq(cio_wait_readable(p[0], 1.0), CIO_READABLE);
    close(p[0]);
    close(p[1]);
    return 0;
}

static void test_loops(void **state)
{
    (void)state;
    unsetenv("CIO_BACKEND");
    cio_run_options run = {.backend = CIO_BACKEND_EPOLL};
    cio_loops_options o = {.run = &run, .no_signal_handling = true};
    int results[3];
    assert_ok(cio_run_loops(3, &o, loop_backend, "epoll", results));
    if (!uring_usable())
        return;
    run.backend = CIO_BACKEND_IO_URING;
    assert_ok(cio_run_loops(3, &o, loop_backend, "io_uring", results));
    for (int i = 0; i < 3; i++)
        assert_int_equal(results[i], 0);
}

/* Runs a test body on each backend this machine has. */
static void on_each_backend(cio_task_fn fn)
{
    unsetenv("CIO_BACKEND");
    assert_ok(run_on(CIO_BACKEND_EPOLL, fn, NULL));
    if (uring_usable())
        assert_ok(run_on(CIO_BACKEND_IO_URING, fn, NULL));
}

static int calls[2];

static void count0(void *arg)
{
    (void)arg;
    calls[0]++;
}

static void count1(void *arg)
{
    int fd = *(int *)arg;
    char c;
    if (read(fd, &c, 1) == 1)
        calls[1]++;
}

/* A reader removed and its fd closed, then a new socket given the same
 * number: the old file's request (which the write below makes fire, or the
 * removal cancels) must not be taken for the new one's, which would leave
 * the backend unaware of a request it still has in the kernel. Either way
 * the new socket gets its events, and closing it closes it. */
static int fd_reuse(void *arg)
{
    (void)arg;
    calls[0] = calls[1] = 0;
    for (int round = 0; round < 2; round++) {
        int a[2], b[2];
        task_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
        task_check_eq(cio_add_reader(a[0], count0, NULL), 0);
        task_check_eq(cio_sleep(0.001), 0); /* the request reaches the kernel */
        task_check_eq(cio_remove_reader(a[0]), 0);
        int old = a[0];
        task_check_eq(write(a[1], "x", 1), 1);
        close(a[0]);
        close(a[1]);
        task_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
        task_check_eq(b[0], old);
        task_check_eq(cio_add_reader(b[0], count1, &b[0]), 0);
        task_check_eq(cio_sleep(0.01), 0);
        task_check_eq(calls[0], 0);
        task_check_eq(calls[1], 0); /* nothing written to b yet */
        if (round == 1) {
            task_check_eq(write(b[1], "yz", 2), 2);
            task_check_eq(cio_sleep(0.01), 0);
            task_check_eq(calls[0], 0);
            task_check_eq(calls[1], 2); /* level-triggered: one byte per call */
        }
        task_check_eq(cio_remove_reader(b[0]), 0);
        close(b[0]);
        task_check_eq(cio_sleep(0.001), 0);
        char c;
        task_check_eq(read(b[1], &c, 1), 0); /* closed for the peer */
        close(b[1]);
    }
    return 0;
}

static void test_fd_reuse(void **state)
{
    (void)state;
    on_each_backend(fd_reuse);
}

/* A task's interest widens from reading to reading and writing and back,
 * while requests are armed for the narrower one. */
static int read_then_write(void *arg)
{
    int fd = *(int *)arg;
    int rc = cio_wait_readable(fd, 5.0);
    if (rc != CIO_READABLE)
        return rc < 0 ? rc : -EPROTO;
    char c;
    return read(fd, &c, 1) == 1 ? 0 : -errno;
}

static int interest_changes(void *arg)
{
    (void)arg;
    int s[2];
    task_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
    cio_task reader = cio_spawn(read_then_write, &s[0]);
    task_check_eq(cio_sleep(0.001), 0); /* reader's request armed */
    /* A writer callback on the same fd: the request now polls both. */
    calls[0] = 0;
    task_check_eq(cio_add_writer(s[0], count0, NULL), 0);
    task_check_eq(cio_sleep(0.001), 0);
    task_check(calls[0] >= 1); /* a socket with room is writable */
    task_check_eq(cio_remove_writer(s[0]), 0);
    int seen = calls[0];
    task_check_eq(cio_sleep(0.005), 0);
    task_check_eq(calls[0], seen); /* writability no longer polled */
    task_check(!cio_task_done(reader));
    task_check_eq(write(s[1], "r", 1), 1);
    task_check_eq(cio_join(reader), 0);
    task_check_eq(cio_forget_fd(s[0]), 0);
    close(s[0]);
    close(s[1]);
    return 0;
}

static void test_interest_changes(void **state)
{
    (void)state;
    on_each_backend(interest_changes);
}

/* More fds armed in one turn than io_uring's submission queue holds (256),
 * all ready at once. */
#define MANY 300

static int many_fds(void *arg)
{
    (void)arg;
    static int s[MANY][2];
    calls[1] = 0;
    for (int i = 0; i < MANY; i++) {
        task_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s[i]), 0);
        task_check_eq(cio_add_reader(s[i][0], count1, &s[i][0]), 0);
    }
    task_check_eq(cio_sleep(0.001), 0);
    for (int i = 0; i < MANY; i++)
        task_check_eq(write(s[i][1], "m", 1), 1);
    for (int tries = 0; calls[1] < MANY && tries < 1000; tries++)
        task_check_eq(cio_sleep(0.001), 0);
    task_check_eq(calls[1], MANY);
    for (int i = 0; i < MANY; i++) {
        task_check_eq(cio_remove_reader(s[i][0]), 0);
        close(s[i][0]);
        close(s[i][1]);
    }
    return 0;
}

static void test_many_fds(void **state)
{
    (void)state;
    struct rlimit r;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &r), 0);
    if (r.rlim_cur < 2 * MANY + 64) {
        r.rlim_cur = r.rlim_max < 2 * MANY + 64 ? r.rlim_max : 2 * MANY + 64;
        setrlimit(RLIMIT_NOFILE, &r);
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &r), 0);
        if (r.rlim_cur < 2 * MANY + 64)
            skip();
    }
    on_each_backend(many_fds);
}

/* A socket closed right after its watch was removed is closed for the peer
 * at once: no request left in the kernel holds the file open. */
static int close_while_watched(void *arg)
{
    (void)arg;
    int s[2];
    task_check_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
    task_check_eq(cio_wait_readable(s[0], 0.001), -ETIMEDOUT); /* armed, kept */
    task_check_eq(cio_forget_fd(s[0]), 0);
    close(s[0]);
    task_check_eq(cio_wait_readable(s[1], 1.0), CIO_READABLE); /* the hang-up */
    char c;
    task_check_eq(read(s[1], &c, 1), 0);
    close(s[1]);
    return 0;
}

static void test_close_while_watched(void **state)
{
    (void)state;
    on_each_backend(close_while_watched);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_choice),   cmocka_unit_test(test_loops),
        cmocka_unit_test(test_fd_reuse), cmocka_unit_test(test_interest_changes),
        cmocka_unit_test(test_many_fds), cmocka_unit_test(test_close_while_watched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
