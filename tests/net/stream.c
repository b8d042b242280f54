/* Streams: echo over TCP (IPv4, IPv6) and Unix sockets, the reader API
 * (read, readexactly, readline, readuntil and their limits), half-close,
 * timeouts and cancellation of reads. */
#include "net_helpers.h"

#include <stdint.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/un.h>

struct echo_case {
    const char *host;
    const char *unix_path;
};

static int echo_client(void *arg)
{
    struct echo_case *c = arg;
    cio_server *srv;
    cio_stream *s;
    if (c->unix_path) {
        task_check_eq(cio_start_unix_server(&srv, c->unix_path, echo_handler, NULL, NULL), 0);
        task_check_eq(cio_open_unix_connection(&s, c->unix_path, NULL), 0);
        task_check(strcmp(cio_stream_peer(s), c->unix_path) == 0);
    } else {
        task_check_eq(cio_start_server(&srv, c->host, 0, echo_handler, NULL, NULL), 0);
        int port = cio_server_port(srv);
        task_check(port > 0);
        cio_connect_options o = {.timeout = 5};
        task_check_eq(cio_open_connection(&s, c->host, port, &o), 0);
        char expect[64];
        snprintf(expect, sizeof expect, strchr(c->host, ':') ? "[%s]:%d" : "%s:%d", c->host, port);
        task_check(strcmp(cio_stream_peer(s), expect) == 0);
    }
    /* Lines, then an exact read, then a custom separator. */
    task_check_eq(cio_stream_write(s, "hello\nworld\n", 12), 0);
    char buf[256];
    task_check_eq(cio_stream_readline(s, buf, sizeof buf), 6);
    task_check(memcmp(buf, "hello\n", 6) == 0);
    task_check_eq(cio_stream_readline(s, buf, sizeof buf), 6);
    task_check(memcmp(buf, "world\n", 6) == 0);
    task_check_eq(cio_stream_send(s, "0123456789", 10), 0);
    task_check_eq(cio_stream_readexactly(s, buf, 10), 10);
    task_check(memcmp(buf, "0123456789", 10) == 0);
    task_check_eq(cio_stream_send(s, "a\r\n\r\nrest", 9), 0);
    task_check_eq(cio_stream_readuntil(s, "\r\n\r\n", 4, buf, sizeof buf), 5);
    task_check(memcmp(buf, "a\r\n\r\n", 5) == 0);
    task_check_eq(cio_stream_readexactly(s, buf, 4), 4);
    task_check(memcmp(buf, "rest", 4) == 0);
    /* Gathered writes: pieces arrive in order, as one. */
    struct iovec iov[3] = {{"GET / ", 6}, {"HTTP/1.1", 8}, {"\r\n", 2}};
    task_check_eq(cio_stream_writev(s, iov, 3), 0);
    task_check_eq(cio_stream_readline(s, buf, sizeof buf), 16);
    task_check(memcmp(buf, "GET / HTTP/1.1\r\n", 16) == 0);
    task_check_eq(cio_stream_writev(s, iov, -1), -EINVAL);
    task_check_eq(cio_stream_writev(s, NULL, 0), 0);
    /* A large message goes through whole. */
    size_t big = 1 << 20;
    char *out = malloc(big), *in = malloc(big);
    task_check(out && in);
    for (size_t i = 0; i < big; i++)
        out[i] = (char)(i * 7 + 3);
    task_check_eq(cio_stream_write(s, out, big), 0);
    task_check_eq(cio_stream_readexactly(s, in, big), (long long)big);
    task_check(memcmp(in, out, big) == 0);
    free(out);
    free(in);
    /* Half-close: the echo server sees end of stream and closes, we see
     * it too. */
    task_check_eq(cio_stream_write_eof(s), 0);
    task_check_eq(cio_stream_write(s, "x", 1), -EPIPE);
    task_check_eq(cio_stream_read(s, buf, sizeof buf), 0);
    task_check(cio_stream_at_eof(s));
    task_check_eq(cio_stream_close(s), 0);
    task_check_eq(cio_server_shutdown(srv, 1), 0);
    return 0;
}

static void test_echo_ipv4(void **state)
{
    (void)state;
    struct echo_case c = {.host = "127.0.0.1"};
    assert_ok(run_real(echo_client, &c));
}

/* TCP_NODELAY is on for both ends: the handler reports its own side. */
static bool nodelay(int fd)
{
    int on = 0;
    socklen_t len = sizeof on;
    return getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0 && on;
}

static int nodelay_handler(cio_stream *s, void *arg)
{
    (void)arg;
    char c = nodelay(cio_stream_fd(s)) ? '1' : '0';
    int rc = cio_stream_write(s, &c, 1);
    return rc < 0 ? rc : cio_stream_close(s);
}

static int nodelay_client(void *arg)
{
    (void)arg;
    cio_server *srv;
    cio_stream *s;
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, nodelay_handler, NULL, NULL), 0);
    task_check_eq(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL), 0);
    task_check(nodelay(cio_stream_fd(s)));
    char c = 0;
    task_check_eq(cio_stream_readexactly(s, &c, 1), 1);
    task_check_eq(c, '1');
    task_check_eq(cio_stream_close(s), 0);
    task_check_eq(cio_server_shutdown(srv, 1), 0);
    return 0;
}

static void test_tcp_nodelay(void **state)
{
    (void)state;
    assert_ok(run_real(nodelay_client, NULL));
}

static void test_echo_ipv6(void **state)
{
    (void)state;
    SKIP_WITHOUT_IPV6();
    struct echo_case c = {.host = "::1"};
    assert_ok(run_real(echo_client, &c));
}

static void test_echo_unix(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/cio-net-test-%d.sock", (int)getpid());
    struct echo_case c = {.unix_path = path};
    assert_ok(run_real(echo_client, &c));
    assert_int_equal(access(path, F_OK), -1); /* shutdown removed the file */
}

/* ---- a separator split across packets ----------------------------------- */

static int dribble(cio_stream *s, void *arg)
{
    (void)arg;
    static const char *parts[] = {"HEAD", "ER\r", "\n\r", "\nbody"};
    for (int i = 0; i < 4; i++) {
        int rc = cio_stream_send(s, parts[i], strlen(parts[i]));
        if (!rc)
            rc = cio_sleep(0.02); /* each part its own segment */
        if (rc)
            return rc;
    }
    return 0;
}

static int split_separator(void *arg)
{
    (void)arg;
    cio_server *srv;
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, dribble, NULL, NULL), 0);
    cio_stream *s;
    task_check_eq(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL), 0);
    char buf[64];
    task_check_eq(cio_stream_readuntil(s, "\r\n\r\n", 4, buf, sizeof buf), 10);
    task_check(memcmp(buf, "HEADER\r\n\r\n", 10) == 0);
    task_check_eq(cio_stream_readexactly(s, buf, 4), 4);
    task_check(memcmp(buf, "body", 4) == 0);
    task_check_eq(cio_stream_close(s), 0);
    task_check_eq(cio_server_shutdown(srv, 1), 0);
    return 0;
}

static void test_separator_split_across_packets(void **state)
{
    (void)state;
    assert_ok(run_real(split_separator, NULL));
}

/* ---- half-close ---------------------------------------------------------- */

/* Reads everything until the client's end of stream, then answers: the
 * sending side of the client is shut, its receiving side still works. */
static int count_then_answer(cio_stream *s, void *arg)
{
    (void)arg;
    char buf[4096];
    size_t total = 0;
    ssize_t n;
    while ((n = cio_stream_read(s, buf, sizeof buf)) > 0)
        total += (size_t)n;
    if (n < 0)
        return (int)n;
    int len = snprintf(buf, sizeof buf, "got %zu bytes\n", total);
    return cio_stream_send(s, buf, (size_t)len);
}

static int half_close(void *arg)
{
    (void)arg;
    cio_server *srv;
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, count_then_answer, NULL, NULL), 0);
    cio_stream *s;
    task_check_eq(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL), 0);
    task_check(cio_stream_can_write_eof(s));
    static char data[300000];
    task_check_eq(cio_stream_write(s, data, sizeof data), 0);
    /* The FIN goes after the buffered data, not before. */
    task_check_eq(cio_stream_write_eof(s), 0);
    task_check_eq(cio_stream_write_eof(s), -EPIPE);
    char line[64];
    task_check_eq(cio_stream_readline(s, line, sizeof line), 17);
    task_check(memcmp(line, "got 300000 bytes\n", 17) == 0);
    task_check_eq(cio_stream_read(s, line, sizeof line), 0);
    task_check_eq(cio_stream_close(s), 0);
    task_check_eq(cio_server_shutdown(srv, 1), 0);
    return 0;
}

static void test_half_close(void **state)
{
    (void)state;
    assert_ok(run_real(half_close, NULL));
}

/* ---- reader limits and end of stream ------------------------------------ */

static int send_then_close(cio_stream *s, void *arg)
{
    const char *msg = arg;
    return cio_stream_send(s, msg, strlen(msg));
}

static int limits(void *arg)
{
    (void)arg;
    cio_server *srv;
    const char *msg = "0123456789abcdefghij\nxyz";
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, send_then_close, (void *)msg, NULL), 0);
    cio_stream *s;
    task_check_eq(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL), 0);
    task_check_eq(cio_stream_set_limit(s, 8), 0);
    char buf[64];
    /* The separator is beyond the limit: LimitOverrunError, data stays. */
    task_check_eq(cio_stream_readline(s, buf, sizeof buf), CIO_ELIMIT);
    task_check(cio_stream_buffered(s) >= 8);
    task_check_eq(cio_stream_set_limit(s, 0), 0);
    /* The caller's buffer is a limit too. */
    task_check_eq(cio_stream_readuntil(s, "\n", 1, buf, 10), CIO_ELIMIT);
    task_check_eq(cio_stream_readuntil(s, "\n", 1, buf, sizeof buf), 21);
    task_check(memcmp(buf, "0123456789abcdefghij\n", 21) == 0);
    /* The rest has no separator: incomplete, and it stays buffered. */
    task_check_eq(cio_stream_readuntil(s, "\n", 1, buf, sizeof buf), CIO_EINCOMPLETE);
    task_check_eq(cio_stream_buffered(s), 3);
    /* readexactly past the end: IncompleteReadError with the partial. */
    task_check_eq(cio_stream_readexactly(s, buf, 10), CIO_EINCOMPLETE);
    task_check_eq(cio_stream_partial(s), 3);
    task_check(memcmp(buf, "xyz", 3) == 0);
    task_check(cio_stream_at_eof(s));
    task_check_eq(cio_stream_read(s, buf, sizeof buf), 0);
    task_check_eq(cio_stream_readline(s, buf, sizeof buf), 0);
    task_check_eq(cio_stream_close(s), 0);

    /* read_all: everything up to the end, or a limit overrun that keeps
     * the data. */
    task_check_eq(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL), 0);
    char *all;
    task_check_eq(cio_stream_read_all(s, &all, 10), CIO_ELIMIT);
    task_check(all == NULL);
    task_check_eq(cio_stream_read_all(s, &all, 1000), 24);
    task_check(strcmp(all, msg) == 0);
    free(all);
    task_check_eq(cio_stream_read_all(s, &all, 1000), 0); /* at the end: empty */
    task_check(all && all[0] == 0);
    free(all);
    task_check_eq(cio_stream_close(s), 0);
    /* SIZE_MAX: no cap, whatever the stream's limit (max + 1 must not
     * wrap to 0, which left the limit as the cap). */
    static char big[200001];
    memset(big, 'b', sizeof big - 1);
    cio_server *bsrv;
    task_check_eq(cio_start_server(&bsrv, "127.0.0.1", 0, send_then_close, big, NULL), 0);
    task_check_eq(cio_open_connection(&s, "127.0.0.1", cio_server_port(bsrv), NULL), 0);
    task_check_eq(cio_stream_read_all(s, &all, SIZE_MAX), 200000);
    task_check(strcmp(all, big) == 0);
    free(all);
    task_check_eq(cio_stream_close(s), 0);
    task_check_eq(cio_server_shutdown(bsrv, 1), 0);

    /* readline returns an unterminated last line at end of stream. */
    task_check_eq(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL), 0);
    task_check_eq(cio_stream_readline(s, buf, sizeof buf), 21);
    task_check_eq(cio_stream_readline(s, buf, sizeof buf), 3);
    task_check(memcmp(buf, "xyz", 3) == 0);
    task_check_eq(cio_stream_readline(s, buf, sizeof buf), 0);
    task_check_eq(cio_stream_close(s), 0);
    task_check_eq(cio_server_shutdown(srv, 1), 0);
    return 0;
}

static void test_reader_limits(void **state)
{
    (void)state;
    assert_ok(run_real(limits, NULL));
}

/* ---- timeouts and cancellation ------------------------------------------ */

static int silent_handler(cio_stream *s, void *arg)
{
    (void)arg;
    char b[16];
    return (int)cio_stream_read(s, b, sizeof b) < 0 ? 0 : 0; /* waits for the client's end */
}

struct reader {
    cio_stream *s;
    int rc;
};

static int blocked_reader(void *arg)
{
    struct reader *r = arg;
    char b[16];
    r->rc = (int)cio_stream_read(r->s, b, sizeof b);
    return 0;
}

static int timeouts(void *arg)
{
    (void)arg;
    cio_server *srv;
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, silent_handler, NULL, NULL), 0);
    cio_stream *s;
    task_check_eq(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL), 0);
    char b[16];
    /* A timeout scope around a read. */
    double t0 = cio_time();
    {
        CIO_TIMEOUT(t, 0.1);
        task_check_eq(cio_stream_read(s, b, sizeof b), -ETIMEDOUT);
        task_check_eq(cio_stream_readline(s, b, sizeof b), -ETIMEDOUT); /* level-triggered */
    }
    double el = cio_time() - t0;
    task_check(el >= 0.09 && el < 0.5);
    /* Cancelling a task blocked in a read. */
    struct reader r = {.s = s};
    cio_task t = cio_spawn(blocked_reader, &r);
    task_check_eq(cio_sleep(0.02), 0);
    task_check_eq(cio_stream_read(s, b, sizeof b), -EBUSY); /* one reader at a time */
    task_check_eq(cio_cancel(t), 0);
    task_check_eq(cio_join(t), 0);
    task_check_eq(r.rc, -ECANCELED);
    /* Closing a stream another task reads: that read ends with -EBADF. */
    t = cio_spawn(blocked_reader, &r);
    task_check_eq(cio_sleep(0.02), 0);
    task_check_eq(cio_stream_close(s), 0);
    task_check_eq(cio_join(t), 0);
    task_check_eq(r.rc, -EBADF);
    task_check_eq(cio_server_shutdown(srv, 1), 0);
    return 0;
}

static void test_timeouts_and_cancellation(void **state)
{
    (void)state;
    assert_ok(run_real(timeouts, NULL));
}

/* ---- closing from a plain loop callback ----------------------------------- */

/* cio_stream_close() called where there is no task to wait in (a loop
 * callback) while tasks are inside a read or a drain: they get -EBADF and
 * the stream's memory outlives them (AddressSanitizer watches). */
struct drainer {
    cio_stream *s;
    int rc;
};

static int blocked_drainer(void *arg)
{
    struct drainer *d = arg;
    static char chunk[64 * 1024];
    /* The peer never reads: the buffer passes the high water mark. */
    for (;;) {
        d->rc = cio_stream_write(d->s, chunk, sizeof chunk);
        if (d->rc)
            return 0;
        if (cio_stream_write_buffer_size(d->s) > 4 * sizeof chunk) {
            d->rc = cio_stream_drain(d->s);
            return 0;
        }
    }
}

static void close_cb(void *arg)
{
    cio_stream_close(arg);
}

static int deaf_handler(cio_stream *s, void *arg)
{
    (void)s;
    (void)arg;
    cio_sleep(10); /* never reads: the client's buffer fills */
    return 0;
}

static void abort_cb(void *arg)
{
    cio_stream_abort(arg);
}

static int close_from_callback(void *arg)
{
    (void)arg;
    cio_server *srv;
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, deaf_handler, NULL, NULL), 0);
    for (int round = 0; round < 4; round++) {
        cio_stream *s;
        task_check_eq(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL), 0);
        cio_stream_set_write_buffer_limits(s, 1024, 0);
        struct reader r = {.s = s, .rc = 1};
        struct drainer d = {.s = s, .rc = 1};
        cio_task tr = cio_spawn(blocked_reader, &r);
        bool drain = round >= 2;
        cio_task td = {0};
        if (drain)
            td = cio_spawn(blocked_drainer, &d);
        task_check_eq(cio_sleep(0.05), 0); /* both are parked now */
        task_check(r.rc == 1);
        task_check_eq(cio_call_soon(round % 2 ? abort_cb : close_cb, s, NULL), 0);
        task_check_eq(cio_join(tr), 0);
        task_check_eq(r.rc, -EBADF);
        if (drain) {
            task_check_eq(cio_join(td), 0);
            task_check_eq(d.rc, -EBADF);
        }
    }
    task_check_eq(cio_server_shutdown(srv, 0), -ETIMEDOUT); /* the handlers sleep */
    return 0;
}

static void test_close_from_callback(void **state)
{
    (void)state;
    assert_ok(run_real(close_from_callback, NULL));
}

static int refused(void *arg)
{
    (void)arg;
    /* A port nobody listens on: bind one, close it, connect to it. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    task_check_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    task_check_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    cio_stream *s = (cio_stream *)1;
    task_check_eq(cio_open_connection(&s, "127.0.0.1", ntohs(a.sin_port), NULL), -ECONNREFUSED);
    task_check(s == NULL);
    task_check_eq(cio_open_unix_connection(&s, "/nonexistent/cio.sock", NULL), -ENOENT);
    task_check_eq(cio_open_connection(&s, "127.0.0.1", 70000, NULL), -EINVAL);
    task_check_eq(cio_open_connection(NULL, "127.0.0.1", 1, NULL), -EINVAL);
    return 0;
}

static void test_connect_refused(void **state)
{
    (void)state;
    assert_ok(run_real(refused, NULL));
}

/* A listener whose backlog is full drops SYNs: connecting to it stalls,
 * and the connect timeout must cut it. */
static int connect_timeout(void *arg)
{
    (void)arg;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    task_check_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    task_check_eq(listen(l, 0), 0);
    task_check_eq(getsockname(l, (struct sockaddr *)&a, &len), 0);
    int fill[4];
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    cio_sleep(0.05);
    cio_stream *s;
    cio_connect_options o = {.timeout = 0.2};
    double t0 = cio_time();
    int rc = cio_open_connection(&s, "127.0.0.1", ntohs(a.sin_port), &o);
    double el = cio_time() - t0;
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(l);
    task_check_eq(rc, -ETIMEDOUT);
    task_check(el >= 0.19 && el < 1.0);
    return 0;
}

/* A Unix listener whose backlog is full: the connect waits (and its
 * timeout applies) until the listener accepts. */
struct unix_acceptor {
    int fd;
    int want; /* connections to accept */
    int accepted[4];
    int n;
};

static int accept_later(void *arg)
{
    struct unix_acceptor *u = arg;
    int rc = cio_sleep(0.15);
    if (rc)
        return rc;
    for (u->n = 0; u->n < u->want;) {
        int fd = accept4(u->fd, NULL, NULL, SOCK_NONBLOCK);
        if (fd >= 0)
            u->accepted[u->n++] = fd;
        else if ((rc = cio_wait_readable(u->fd, 1.0)) < 0)
            return rc;
    }
    return 0;
}

static int unix_backlog(void *arg)
{
    (void)arg;
    char path[64];
    snprintf(path, sizeof path, "/tmp/cio-net-backlog-%d.sock", (int)getpid());
    unlink(path);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    task_check_eq(bind(l, (struct sockaddr *)&sun, sizeof sun), 0);
    task_check_eq(listen(l, 0), 0);
    int fill[2], nfill = 0;
    for (int i = 0; i < 2; i++) {
        fill[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (connect(fill[i], (struct sockaddr *)&sun, sizeof sun) == 0)
            nfill++;
    }
    task_check(nfill >= 1);
    cio_stream *s;
    cio_connect_options o = {.timeout = 0.1};
    double t0 = cio_time();
    task_check_eq(cio_open_unix_connection(&s, path, &o), -ETIMEDOUT);
    task_check(cio_time() - t0 >= 0.09);
    /* Once the listener accepts, a waiting connect gets through. */
    struct unix_acceptor u = {.fd = l, .want = nfill + 1};
    cio_task t = cio_spawn(accept_later, &u);
    o.timeout = 3;
    task_check_eq(cio_open_unix_connection(&s, path, &o), 0);
    task_check_eq(cio_join(t), 0);
    task_check_eq(cio_stream_close(s), 0);
    for (int i = 0; i < u.n; i++)
        close(u.accepted[i]);
    for (int i = 0; i < 2; i++)
        close(fill[i]);
    close(l);
    unlink(path);
    return 0;
}

static void test_unix_backlog_full(void **state)
{
    (void)state;
    assert_ok(run_real(unix_backlog, NULL));
}

static void test_connect_timeout(void **state)
{
    (void)state;
    assert_ok(run_real(connect_timeout, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_ipv4),
        cmocka_unit_test(test_tcp_nodelay),
        cmocka_unit_test(test_echo_ipv6),
        cmocka_unit_test(test_echo_unix),
        cmocka_unit_test(test_separator_split_across_packets),
        cmocka_unit_test(test_half_close),
        cmocka_unit_test(test_reader_limits),
        cmocka_unit_test(test_timeouts_and_cancellation),
        cmocka_unit_test(test_close_from_callback),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_connect_timeout),
        cmocka_unit_test(test_unix_backlog_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
