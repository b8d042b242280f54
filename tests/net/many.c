/* 10,000 concurrent connections: a cio server in this process, a cio
 * client in a forked child (so each process needs only one fd per
 * connection), every connection open at once, each echoing a message. */
#include "net_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define WANT 10000

static int nconn = WANT;

static long live, peak;

/* Echoes lines until "bye": then the server closes first, so the TCP
 * TIME_WAIT state stays on the server's side and the client's ephemeral
 * ports are free again at once (the test can run back to back). */
static int small_echo_loop(cio_stream *s)
{
    char buf[256];
    for (;;) {
        ssize_t n = cio_stream_readline(s, buf, sizeof buf);
        if (n <= 0)
            return n < 0 && n != -ECONNRESET ? (int)n : 0;
        if (n == 4 && memcmp(buf, "bye\n", 4) == 0)
            return 0;
        int rc = cio_stream_send(s, buf, (size_t)n);
        if (rc)
            return rc;
    }
}

static int small_echo(cio_stream *s, void *arg)
{
    (void)arg;
    if (++live > peak)
        peak = live;
    int rc = small_echo_loop(s);
    live--;
    return rc;
}

/* ---- the client (child process) ----------------------------------------- */

struct client {
    int port;
};

static int client_main(void *arg)
{
    struct client *c = arg;
    cio_stream **s = calloc((size_t)nconn, sizeof *s);
    task_check(s != NULL);
    /* Open every connection first, so all are open at the same time. */
    for (int i = 0; i < nconn; i++) {
        CIO_TIMEOUT(t, 10);
        int rc = cio_open_connection(&s[i], "127.0.0.1", c->port, NULL);
        if (rc) {
            fprintf(stderr, "connection %d: %s\n", i, cio_strerror(rc));
            return -1;
        }
    }
    char msg[32], back[32];
    for (int i = 0; i < nconn; i++) {
        int n = snprintf(msg, sizeof msg, "hello %d\n", i);
        task_check_eq(cio_stream_write(s[i], msg, (size_t)n), 0);
    }
    for (int i = 0; i < nconn; i++) {
        CIO_TIMEOUT(t, 10);
        int n = snprintf(msg, sizeof msg, "hello %d\n", i);
        task_check_eq(cio_stream_readline(s[i], back, sizeof back), n);
        task_check(memcmp(back, msg, (size_t)n) == 0);
    }
    for (int i = 0; i < nconn; i++)
        task_check_eq(cio_stream_write(s[i], "bye\n", 4), 0);
    for (int i = 0; i < nconn; i++) {
        CIO_TIMEOUT(t, 10);
        task_check_eq(cio_stream_read(s[i], back, sizeof back), 0);
        task_check_eq(cio_stream_close(s[i]), 0);
    }
    free(s);
    return 0;
}

/* ---- the server (this process) ------------------------------------------ */

struct server {
    int port_pipe;
    pid_t child;
    long peak;
    int child_status;
};

static int server_main(void *arg)
{
    struct server *sv = arg;
    cio_server *srv;
    cio_server_options o = {.backlog = 4096, .stack_size = 32 * 1024};
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, small_echo, NULL, &o), 0);
    int port = cio_server_port(srv);
    task_check(write(sv->port_pipe, &port, sizeof port) == sizeof port);
    close(sv->port_pipe);
    /* Wait for the child to finish, watching the number of handlers. */
    for (int i = 0; i < 6000; i++) {
        int st;
        if (waitpid(sv->child, &st, WNOHANG) == sv->child) {
            sv->child_status = st;
            sv->child = 0;
            break;
        }
        task_check_eq(cio_sleep(0.01), 0);
    }
    task_check(sv->child == 0);
    task_check_eq(cio_server_shutdown(srv, 5), 0);
    sv->peak = peak;
    return 0;
}

static void test_ten_thousand_connections(void **state)
{
    (void)state;
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rlim_t need = (rlim_t)WANT + 64;
    if (rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    if (rl.rlim_cur < need) {
        nconn = (int)rl.rlim_cur - 64;
        print_message("RLIMIT_NOFILE hard limit is %llu: testing %d connections instead of %d\n",
                      (unsigned long long)rl.rlim_max, nconn, WANT);
    }
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[1]);
        struct client c = {0};
        if (read(p[0], &c.port, sizeof c.port) != sizeof c.port)
            _exit(2);
        close(p[0]);
        int rc = cio_run(client_main, &c);
        _exit(rc == 0 ? 0 : 1);
    }
    close(p[0]);
    struct server sv = {.port_pipe = p[1], .child = pid};
    int64_t t0 = now_ns();
    int rc = run_real(server_main, &sv);
    if (sv.child) {
        kill(sv.child, SIGKILL);
        waitpid(sv.child, NULL, 0);
    }
    assert_ok(rc);
    assert_true(WIFEXITED(sv.child_status));
    assert_int_equal(WEXITSTATUS(sv.child_status), 0);
    /* Every connection was open at once. */
    assert_int_equal(sv.peak, nconn);
    print_message("%d connections echoed in %.2f s\n", nconn, (double)(now_ns() - t0) / 1e9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ten_thousand_connections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
