/* Servers: the connection limit, serve() until close, shutdown with a
 * grace period (handlers cancelled after it), SO_REUSEPORT, handlers that
 * close their stream themselves, and streams made from an fd. */
#include "net_helpers.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static int connect_to(cio_server *srv, cio_stream **s)
{
    return cio_open_connection(s, "127.0.0.1", cio_server_port(srv), NULL);
}

static int max_connections(void *arg)
{
    (void)arg;
    cio_server *srv;
    cio_server_options o = {.max_connections = 2};
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, echo_handler, NULL, &o), 0);
    cio_stream *c[3];
    for (int i = 0; i < 3; i++)
        task_check_eq(connect_to(srv, &c[i]), 0);
    for (int i = 0; i < 3; i++)
        task_check_eq(cio_stream_send(c[i], "x", 1), 0);
    char b[1];
    for (int i = 0; i < 2; i++)
        task_check_eq(cio_stream_readexactly(c[i], b, 1), 1);
    task_check_eq(cio_server_connections(srv), 2);
    {
        /* The third waits in the backlog: no handler, no echo. */
        CIO_TIMEOUT(t, 0.2);
        task_check_eq(cio_stream_readexactly(c[2], b, 1), -ETIMEDOUT);
    }
    task_check_eq(cio_stream_close(c[0]), 0);
    {
        CIO_TIMEOUT(t, 2);
        task_check_eq(cio_stream_readexactly(c[2], b, 1), 1);
    }
    task_check_eq(cio_server_connections(srv), 2);
    task_check_eq(cio_stream_close(c[1]), 0);
    task_check_eq(cio_stream_close(c[2]), 0);
    task_check_eq(cio_server_shutdown(srv, 1), 0);
    return 0;
}

static void test_max_connections(void **state)
{
    (void)state;
    assert_ok(run_real(max_connections, NULL));
}

struct sleeper {
    int rc;
    int n;
    double seconds;
};

static int sleepy_handler(cio_stream *s, void *arg)
{
    (void)s;
    struct sleeper *sl = arg;
    sl->rc = cio_sleep(sl->seconds);
    sl->n++;
    return 0;
}

static int server_serve(void *arg)
{
    cio_server *srv = arg;
    return cio_server_serve(srv);
}

static int shutdown_grace(void *arg)
{
    (void)arg;
    /* Handlers that outlive the grace period are cancelled. */
    struct sleeper sl = {.seconds = 100};
    cio_server *srv;
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, sleepy_handler, &sl, NULL), 0);
    cio_task serving = cio_spawn(server_serve, srv);
    cio_stream *c;
    task_check_eq(connect_to(srv, &c), 0);
    task_check_eq(cio_sleep(0.05), 0);
    task_check_eq(cio_server_connections(srv), 1);
    double t0 = cio_time();
    task_check_eq(cio_server_shutdown(srv, 0.1), -ETIMEDOUT);
    double el = cio_time() - t0;
    task_check(el >= 0.09 && el < 0.5);
    task_check_eq(sl.n, 1);
    task_check_eq(sl.rc, -ECANCELED);
    task_check_eq(cio_join(serving), 0); /* serve() returned when closed */
    /* The server closed our connection. */
    char b[1];
    task_check_eq(cio_stream_read(c, b, 1), 0);
    cio_stream_close(c);

    /* Handlers that finish within the grace period are waited for. */
    struct sleeper quick = {.seconds = 0.05};
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, sleepy_handler, &quick, NULL), 0);
    task_check_eq(connect_to(srv, &c), 0);
    task_check_eq(cio_sleep(0.01), 0);
    task_check_eq(cio_server_shutdown(srv, 5), 0);
    task_check_eq(quick.n, 1);
    task_check_eq(quick.rc, 0);
    cio_stream_close(c);
    return 0;
}

/* Shutdown before the server's tasks have run: the accept task right
 * after the start, and a connection's task after its accept. A task
 * cancelled before its first run never runs, so the server must not
 * leave its bookkeeping to them (it waited forever). */
static int shutdown_early(void *arg)
{
    (void)arg;
    cio_server *srv;
    struct sleeper sl = {.seconds = 100};
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, sleepy_handler, &sl, NULL), 0);
    double t0 = cio_time();
    task_check_eq(cio_server_shutdown(srv, 1), 0);
    task_check(cio_time() - t0 < 0.5);

    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, sleepy_handler, &sl, NULL), 0);
    task_check_eq(cio_yield(), 0); /* the accept task waits for connections */
    cio_stream *c;
    task_check_eq(cio_open_connection(&c, "127.0.0.1", cio_server_port(srv), NULL), 0);
    /* Woken as the accept task queues the handler's task, before it runs. */
    while (cio_server_connections(srv) == 0)
        task_check_eq(cio_wait_fd(cio_stream_fd(c), CIO_WRITABLE, 1), 0);
    task_check_eq(sl.n, 0);
    t0 = cio_time();
    task_check_eq(cio_server_shutdown(srv, 0), -ETIMEDOUT);
    task_check(cio_time() - t0 < 0.5);
    task_check_eq(sl.n, 0); /* the handler never ran */
    char b[1];
    task_check_eq(cio_stream_read(c, b, 1), 0); /* closed, not reset */
    cio_stream_close(c);
    return 0;
}

static void test_shutdown_before_tasks_ran(void **state)
{
    (void)state;
    assert_ok(run_real(shutdown_early, NULL));
}

static void test_shutdown_grace(void **state)
{
    (void)state;
    assert_ok(run_real(shutdown_grace, NULL));
}

static int reuse_port(void *arg)
{
    (void)arg;
    cio_server *a, *b;
    cio_server_options o = {.reuse_port = true};
    task_check_eq(cio_start_server(&a, "127.0.0.1", 0, echo_handler, NULL, &o), 0);
    int port = cio_server_port(a);
    task_check_eq(cio_start_server(&b, "127.0.0.1", port, echo_handler, NULL, &o), 0);
    task_check_eq(cio_server_port(b), port);
    cio_server *c;
    task_check_eq(cio_start_server(&c, "127.0.0.1", port, echo_handler, NULL, NULL), -EADDRINUSE);
    task_check(c == NULL);
    /* Connections are spread over both and all work. */
    for (int i = 0; i < 8; i++) {
        cio_stream *s;
        task_check_eq(cio_open_connection(&s, "127.0.0.1", port, NULL), 0);
        char buf[2];
        task_check_eq(cio_stream_send(s, "hi", 2), 0);
        task_check_eq(cio_stream_readexactly(s, buf, 2), 2);
        task_check_eq(cio_stream_close(s), 0);
    }
    task_check_eq(cio_server_shutdown(a, 1), 0);
    task_check_eq(cio_server_shutdown(b, 1), 0);
    return 0;
}

static void test_reuse_port(void **state)
{
    (void)state;
    assert_ok(run_real(reuse_port, NULL));
}

/* One loop per thread, each with its own server on the same port: the
 * kernel spreads the connections over them (SO_REUSEPORT). */
struct loop_ctx {
    int port; /* in: 0 for the first; out: the port bound */
    int ready;
    int stop_fd;
    int served;
    int rc;
};

static int count_echo(cio_stream *s, void *arg)
{
    struct loop_ctx *c = arg;
    c->served++;
    return echo_handler(s, NULL);
}

static int per_core_server(void *arg)
{
    struct loop_ctx *c = arg;
    cio_server *srv;
    cio_server_options o = {.reuse_port = true};
    task_check_eq(cio_start_server(&srv, "127.0.0.1", c->port, count_echo, c, &o), 0);
    c->port = cio_server_port(srv);
    __atomic_store_n(&c->ready, 1, __ATOMIC_RELEASE);
    task_check(cio_wait_readable(c->stop_fd, -1) > 0);
    return cio_server_shutdown(srv, 1);
}

static void *loop_thread(void *arg)
{
    struct loop_ctx *c = arg;
    c->rc = cio_run(per_core_server, c);
    return NULL;
}

static int wait_port(struct loop_ctx *c)
{
    for (int i = 0; i < 2000; i++) {
        if (__atomic_load_n(&c->ready, __ATOMIC_ACQUIRE))
            return c->port;
        usleep(1000);
    }
    return 0;
}

static void test_loop_per_thread_reuse_port(void **state)
{
    (void)state;
    int stop[2];
    assert_int_equal(pipe(stop), 0);
    struct loop_ctx a = {.stop_fd = stop[0]}, b = {.stop_fd = stop[0]};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, loop_thread, &a), 0);
    int port = wait_port(&a);
    assert_true(port > 0);
    b.port = port;
    assert_int_equal(pthread_create(&tb, NULL, loop_thread, &b), 0);
    assert_int_equal(wait_port(&b), port);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < 40; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        assert_int_equal(send(fd, "x", 1, 0), 1);
        char c;
        assert_int_equal(recv(fd, &c, 1, 0), 1);
        close(fd);
    }
    assert_int_equal(write(stop[1], "q", 1), 1);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    close(stop[0]);
    close(stop[1]);
    assert_int_equal(a.rc, 0);
    assert_int_equal(b.rc, 0);
    assert_int_equal(a.served + b.served, 40);
    assert_true(a.served > 0 && b.served > 0);
}

static int closes_itself(cio_stream *s, void *arg)
{
    (void)arg;
    cio_stream_write(s, "bye", 3);
    int rc = cio_stream_close(s);
    /* Closing twice is harmless for a server's stream. */
    return rc ? rc : cio_stream_close(s);
}

static int handler_closes(void *arg)
{
    (void)arg;
    cio_server *srv;
    task_check_eq(cio_start_server(&srv, "::1", 0, closes_itself, NULL, NULL), 0);
    cio_stream *s;
    task_check_eq(cio_open_connection(&s, "::1", cio_server_port(srv), NULL), 0);
    char b[8];
    task_check_eq(cio_stream_readexactly(s, b, 3), 3);
    task_check(memcmp(b, "bye", 3) == 0);
    task_check_eq(cio_stream_read(s, b, sizeof b), 0);
    task_check_eq(cio_stream_close(s), 0);
    task_check_eq(cio_server_shutdown(srv, 1), 0);
    return 0;
}

static void test_handler_closes_stream(void **state)
{
    (void)state;
    SKIP_WITHOUT_IPV6();
    assert_ok(run_real(handler_closes, NULL));
}

static int from_fd(void *arg)
{
    (void)arg;
    int sv[2];
    task_check_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    cio_stream *a, *b;
    task_check_eq(cio_stream_from_fd(&a, sv[0]), 0);
    task_check_eq(cio_stream_from_fd(&b, sv[1]), 0);
    task_check(!cio_stream_is_tls(a));
    task_check_eq(cio_stream_set_nodelay(a, true), -ENOTSUP);
    task_check_eq(cio_stream_send(a, "line one\nline two\n", 18), 0);
    char buf[32];
    task_check_eq(cio_stream_readline(b, buf, sizeof buf), 9);
    task_check_eq(cio_stream_readline(b, buf, sizeof buf), 9);
    task_check_eq(cio_stream_write_eof(a), 0);
    task_check_eq(cio_stream_read(b, buf, sizeof buf), 0);
    task_check_eq(cio_stream_close(a), 0);
    task_check_eq(cio_stream_close(b), 0);
    task_check_eq(cio_stream_from_fd(&a, -1), -EINVAL);
    return 0;
}

static void test_stream_from_fd(void **state)
{
    (void)state;
    assert_ok(run_real(from_fd, NULL));
}

/* A name: the server listens on each of its addresses, on one port. */
static int by_name(void *arg)
{
    (void)arg;
    cio_dns_options dns = {.servers = "127.0.0.1:9", .timeout = 2}; /* loopback only */
    cio_server_options o = {.dns = &dns};
    cio_server *srv;
    task_check_eq(cio_start_server(&srv, "localhost", 0, echo_handler, NULL, &o), 0);
    int port = cio_server_port(srv);
    int families = 0;
    struct sockaddr_storage ss;
    socklen_t len;
    for (int i = 0; cio_server_sockname(srv, i, &ss, &len) == 0; i++) {
        families |= ss.ss_family == AF_INET ? 1 : ss.ss_family == AF_INET6 ? 2 : 4;
        char buf[64];
        cio_addr_format((struct sockaddr *)&ss, len, buf, sizeof buf);
        task_check(strstr(buf, "127.0.0.1:") == buf || strstr(buf, "[::1]:") == buf);
    }
    task_check(families & 1);
    const char *hosts[] = {"127.0.0.1", "::1"};
    for (int i = 0; i < 2; i++) {
        if (i == 1 && !(families & 2))
            break; /* /etc/hosts gives localhost no IPv6 address here */
        cio_stream *s;
        task_check_eq(cio_open_connection(&s, hosts[i], port, NULL), 0);
        char b[2];
        task_check_eq(cio_stream_send(s, "ok", 2), 0);
        task_check_eq(cio_stream_readexactly(s, b, 2), 2);
        task_check_eq(cio_stream_close(s), 0);
    }
    task_check_eq(cio_server_shutdown(srv, 1), 0);
    return 0;
}

static void test_server_by_name(void **state)
{
    (void)state;
    if (!hosts_has_localhost()) {
        print_message("/etc/hosts has no 127.0.0.1 localhost line: skipped\n");
        skip();
    }
    assert_ok(run_real(by_name, NULL));
}

/* A listening socket made by the caller (socket activation). */
static int from_listening_fd(void *arg)
{
    (void)arg;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    task_check_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    cio_server *srv;
    task_check_eq(cio_start_server_fd(&srv, l, echo_handler, NULL, NULL),
                  -EINVAL); /* not listening */
    task_check_eq(listen(l, 16), 0);
    task_check_eq(getsockname(l, (struct sockaddr *)&a, &len), 0);
    task_check_eq(cio_start_server_fd(&srv, l, echo_handler, NULL, NULL), 0);
    task_check_eq(cio_server_port(srv), ntohs(a.sin_port));
    cio_stream *s;
    task_check_eq(cio_open_connection(&s, "127.0.0.1", ntohs(a.sin_port), NULL), 0);
    char b[3];
    task_check_eq(cio_stream_send(s, "abc", 3), 0);
    task_check_eq(cio_stream_readexactly(s, b, 3), 3);
    task_check_eq(cio_stream_close(s), 0);
    task_check_eq(cio_server_shutdown(srv, 1), 0);
    task_check_eq(fcntl(l, F_GETFD), -1); /* the server closed it */
    return 0;
}

static void test_server_from_fd(void **state)
{
    (void)state;
    assert_ok(run_real(from_listening_fd, NULL));
}

static void test_bad_arguments(void **state)
{
    (void)state;
    cio_server *srv;
    /* No loop. */
    assert_int_equal(cio_start_server(&srv, "127.0.0.1", 0, echo_handler, NULL, NULL), CIO_ENOLOOP);
    assert_int_equal(cio_start_server(&srv, "127.0.0.1", 0, NULL, NULL, NULL), -EINVAL);
    assert_int_equal(cio_stream_read(NULL, NULL, 0), -EINVAL);
    assert_int_equal(cio_stream_write(NULL, "x", 1), -EINVAL);
    assert_int_equal(cio_stream_close(NULL), 0);
    cio_stream_abort(NULL);
    assert_int_equal(cio_server_shutdown(NULL, 0), 0);
    struct sockaddr_storage ss;
    socklen_t len;
    assert_int_equal(cio_addr_parse("not an ip", 1, &ss, &len), -EINVAL);
    assert_int_equal(cio_addr_parse("::1", 443, &ss, &len), 0);
    char buf[64];
    assert_int_equal(cio_addr_format((struct sockaddr *)&ss, len, buf, sizeof buf), 9);
    assert_string_equal(buf, "[::1]:443");
    assert_int_equal(cio_addr_format((struct sockaddr *)&ss, len, buf, 4), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_connections),
        cmocka_unit_test(test_shutdown_grace),
        cmocka_unit_test(test_shutdown_before_tasks_ran),
        cmocka_unit_test(test_reuse_port),
        cmocka_unit_test(test_loop_per_thread_reuse_port),
        cmocka_unit_test(test_handler_closes_stream),
        cmocka_unit_test(test_stream_from_fd),
        cmocka_unit_test(test_server_by_name),
        cmocka_unit_test(test_server_from_fd),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
