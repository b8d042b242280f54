/* Faults: peers that reset in the middle of reads and writes, a slow
 * reader (the writer's memory stays bounded by the water marks), and
 * accept() under fd exhaustion (backs off and reports, never spins). */
#include "net_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

/* ---- resets ------------------------------------------------------------- */

static int reset_after_3(cio_stream *s, void *arg)
{
    (void)arg;
    char b[8];
    if (cio_stream_readexactly(s, b, 3) != 3)
        return -1;
    cio_stream_write(s, "abc", 3);
    cio_stream_flush(s);
    cio_sleep(0.05); /* let the client start waiting for the rest */
    cio_stream_abort(s);
    return 0;
}

static int reset_mid_read(void *arg)
{
    (void)arg;
    cio_server *srv;
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, reset_after_3, NULL, NULL), 0);
    cio_stream *s;
    task_check_eq(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL), 0);
    task_check_eq(cio_stream_send(s, "xyz", 3), 0);
    char b[16];
    /* The peer sends 3 of the 10 bytes and then resets. */
    ssize_t rc = cio_stream_readexactly(s, b, 10);
    task_check_eq(rc, -ECONNRESET);
    task_check(cio_stream_partial(s) <= 3);
    /* The error sticks. */
    task_check_eq(cio_stream_read(s, b, sizeof b), -ECONNRESET);
    int w = cio_stream_send(s, "more", 4);
    task_check(w == -ECONNRESET || w == -EPIPE);
    cio_stream_close(s);
    task_check_eq(cio_server_shutdown(srv, 1), 0);
    return 0;
}

static void test_reset_mid_read(void **state)
{
    (void)state;
    assert_ok(run_real(reset_mid_read, NULL));
}

static int read_1k_then_reset(cio_stream *s, void *arg)
{
    (void)arg;
    char b[1024];
    if (cio_stream_readexactly(s, b, sizeof b) != (ssize_t)sizeof b)
        return -1;
    cio_stream_abort(s);
    return 0;
}

static int reset_mid_write(void *arg)
{
    (void)arg;
    cio_server *srv;
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, read_1k_then_reset, NULL, NULL), 0);
    cio_stream *s;
    task_check_eq(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL), 0);
    static char chunk[65536];
    int rc = 0;
    double t0 = cio_time();
    /* Write far more than the socket buffers hold: the peer's reset must
     * surface as an error, not as a hang or a crash (SIGPIPE). */
    for (int i = 0; i < 4096 && rc == 0; i++)
        rc = cio_stream_send(s, chunk, sizeof chunk);
    task_check(rc == -ECONNRESET || rc == -EPIPE);
    task_check(cio_time() - t0 < 5);
    int again = cio_stream_write(s, chunk, 10);
    task_check(again == -ECONNRESET || again == -EPIPE);
    task_check_eq(cio_stream_drain(s), again);
    task_check(cio_stream_close(s) != 0); /* not a clean close */
    task_check_eq(cio_server_shutdown(srv, 1), 0);
    return 0;
}

static void test_reset_mid_write(void **state)
{
    (void)state;
    assert_ok(run_real(reset_mid_write, NULL));
}

/* A reset that a write meets first (it takes the kernel's error): a read
 * afterwards still reports the reset, not a clean end of stream, so that a
 * truncated exchange is never taken for a finished one. */
static int reset_after_1(cio_stream *s, void *arg)
{
    (void)arg;
    char b[1];
    cio_stream_read(s, b, 1);
    cio_stream_abort(s);
    return 0;
}

static int write_meets_reset(void *arg)
{
    (void)arg;
    cio_server *srv;
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, reset_after_1, NULL, NULL), 0);
    cio_stream *s;
    task_check_eq(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL), 0);
    task_check_eq(cio_stream_send(s, "x", 1), 0);
    task_check_eq(cio_sleep(0.1), 0); /* the reset has arrived */
    task_check_eq(cio_stream_send(s, "request", 7), -ECONNRESET);
    char b[8];
    task_check_eq(cio_stream_read(s, b, sizeof b), -ECONNRESET);
    task_check(!cio_stream_at_eof(s));
    task_check_eq(cio_stream_readline(s, b, sizeof b), -ECONNRESET);
    cio_stream_close(s);
    task_check_eq(cio_server_shutdown(srv, 1), 0);
    return 0;
}

static void test_write_meets_reset(void **state)
{
    (void)state;
    assert_ok(run_real(write_meets_reset, NULL));
}

/* ---- a reader task and a writer task on one stream, then a reset -------- */

struct duplex {
    cio_stream *s;
    int read_rc, write_rc;
    long read_bytes;
};

static int duplex_writer(void *arg)
{
    struct duplex *d = arg;
    static char chunk[32768];
    do
        d->write_rc = cio_stream_send(d->s, chunk, sizeof chunk);
    while (d->write_rc == 0);
    return 0;
}

static int duplex_reader(void *arg)
{
    struct duplex *d = arg;
    char buf[8192];
    ssize_t n;
    while ((n = cio_stream_read(d->s, buf, sizeof buf)) > 0)
        d->read_bytes += n;
    d->read_rc = (int)n;
    return 0;
}

/* Reads and writes at once, then resets in the middle of both. */
static int flood_then_reset(cio_stream *s, void *arg)
{
    (void)arg;
    static char chunk[32768];
    char buf[8192];
    for (int i = 0; i < 8; i++) {
        if (cio_stream_write(s, chunk, sizeof chunk) || cio_stream_read(s, buf, sizeof buf) <= 0)
            return -1;
    }
    cio_stream_abort(s);
    return 0;
}

static int duplex_reset(void *arg)
{
    (void)arg;
    cio_server *srv;
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, flood_then_reset, NULL, NULL), 0);
    for (int round = 0; round < 5; round++) {
        struct duplex d = {0};
        task_check_eq(cio_open_connection(&d.s, "127.0.0.1", cio_server_port(srv), NULL), 0);
        cio_task r = cio_spawn(duplex_reader, &d);
        cio_task w = cio_spawn(duplex_writer, &d);
        {
            CIO_TIMEOUT(t, 5);
            task_check_eq(cio_join(r), 0);
            task_check_eq(cio_join(w), 0);
        }
        /* Both sides saw the reset, as an error, not a hang or a crash. */
        task_check(d.read_rc == -ECONNRESET || d.read_rc == 0);
        task_check(d.write_rc == -ECONNRESET || d.write_rc == -EPIPE);
        task_check(d.read_bytes > 0);
        cio_stream_close(d.s);
    }
    task_check_eq(cio_server_shutdown(srv, 1), 0);
    return 0;
}

static void test_reader_and_writer_tasks_reset(void **state)
{
    (void)state;
    assert_ok(run_real(duplex_reset, NULL));
}

/* ---- a slow reader ------------------------------------------------------ */

#define SLOW_TOTAL (2 << 20)
#define SLOW_CHUNK 16384

struct slow {
    size_t max_buffered;
};

static int fast_writer(cio_stream *s, void *arg)
{
    struct slow *sl = arg;
    static char chunk[SLOW_CHUNK];
    /* Loopback's send buffer grows to megabytes: keep it small so that
     * the stream's own buffer is what holds the backlog. */
    int snd = 16384;
    setsockopt(cio_stream_fd(s), SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd);
    for (size_t sent = 0; sent < SLOW_TOTAL; sent += SLOW_CHUNK) {
        for (size_t i = 0; i < SLOW_CHUNK; i++)
            chunk[i] = (char)((sent + i) % 251);
        int rc = cio_stream_write(s, chunk, SLOW_CHUNK);
        if (rc)
            return rc;
        size_t b = cio_stream_write_buffer_size(s);
        if (b > sl->max_buffered)
            sl->max_buffered = b;
        if ((rc = cio_stream_drain(s)))
            return rc;
    }
    return 0;
}

static int slow_reader(void *arg)
{
    struct slow *sl = arg;
    cio_server *srv;
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, fast_writer, sl, NULL), 0);
    cio_stream *s;
    task_check_eq(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL), 0);
    /* A small receive buffer, so the writer's side fills up quickly. */
    int rcv = 16384;
    setsockopt(cio_stream_fd(s), SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    static char b[SLOW_CHUNK];
    size_t got = 0;
    while (got < SLOW_TOTAL) {
        ssize_t n = cio_stream_read(s, b, sizeof b);
        task_check(n > 0);
        for (ssize_t i = 0; i < n; i++)
            task_check_eq((unsigned char)b[i], (got + (size_t)i) % 251);
        got += (size_t)n;
        task_check_eq(cio_sleep(0.002), 0);
    }
    task_check_eq(cio_stream_read(s, b, sizeof b), 0);
    task_check_eq(cio_stream_close(s), 0);
    task_check_eq(cio_server_shutdown(srv, 1), 0);
    return 0;
}

static void test_slow_reader_bounded_memory(void **state)
{
    (void)state;
    struct slow sl = {0};
    assert_ok(run_real(slow_reader, &sl));
    /* The writer really was held back (it buffered) but never past the
     * high water mark plus the chunk that crossed it. */
    assert_true(sl.max_buffered > 0);
    assert_true(sl.max_buffered <= CIO_STREAM_HIGH_WATER + SLOW_CHUNK);
}

/* ---- a reader that never reads: drain obeys timeouts and cancellation ---- */

static int never_reads(cio_stream *s, void *arg)
{
    (void)s;
    (void)arg;
    cio_sleep(30);
    return 0;
}

struct drainer {
    cio_stream *s;
    int rc;
};

static int drain_forever(void *arg)
{
    struct drainer *d = arg;
    static char chunk[65536];
    do
        d->rc = cio_stream_send(d->s, chunk, sizeof chunk);
    while (d->rc == 0);
    return 0;
}

static int stuck_writer(void *arg)
{
    (void)arg;
    cio_server *srv;
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, never_reads, NULL, NULL), 0);
    cio_stream *s;
    task_check_eq(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL), 0);
    static char chunk[65536];
    int rc = 0;
    double t0 = cio_time();
    /* Custom water marks bound the buffer too (asyncio's
     * set_write_buffer_limits). */
    task_check_eq(cio_stream_set_write_buffer_limits(s, 8192, 2048), 0);
    {
        CIO_TIMEOUT(t, 0.2);
        while (rc == 0)
            rc = cio_stream_send(s, chunk, sizeof chunk);
    }
    task_check_eq(rc, -ETIMEDOUT);
    task_check(cio_time() - t0 < 1.0);
    task_check(cio_stream_write_buffer_size(s) > 8192);
    task_check(cio_stream_write_buffer_size(s) <= 8192 + sizeof chunk);
    /* Cancelling a task blocked in drain. */
    struct drainer d = {.s = s};
    cio_task t = cio_spawn(drain_forever, &d);
    task_check_eq(cio_sleep(0.05), 0);
    task_check_eq(cio_cancel(t), 0);
    task_check_eq(cio_join(t), 0);
    task_check_eq(d.rc, -ECANCELED);
    /* A close that cannot flush gives up after the close timeout. */
    cio_stream_set_close_timeout(s, 0.1);
    t0 = cio_time();
    task_check_eq(cio_stream_close(s), -ETIMEDOUT);
    double el = cio_time() - t0;
    task_check(el >= 0.09 && el < 1.0);
    task_check_eq(cio_server_shutdown(srv, 0), -ETIMEDOUT);
    return 0;
}

static void test_drain_timeout_and_cancel(void **state)
{
    (void)state;
    assert_ok(run_real(stuck_writer, NULL));
}

static int cancelled_close(void *arg)
{
    (void)arg;
    cio_server *srv;
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, never_reads, NULL, NULL), 0);
    cio_stream *s;
    task_check_eq(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL), 0);
    static char chunk[1 << 20];
    int rc = 0;
    /* More than the kernel's buffers on both ends can ever take (they grow
     * as the connection runs), so close's last flush cannot empty it. */
    for (int i = 0; i < 64 && cio_stream_write_buffer_size(s) < (16u << 20); i++)
        rc = cio_stream_write(s, chunk, sizeof chunk);
    task_check_eq(rc, 0);
    task_check(cio_stream_write_buffer_size(s) >= (16u << 20));
    /* A cancelled task does not wait in close: level-triggered. */
    cio_cancel(cio_current());
    double t0 = cio_time();
    rc = cio_stream_close(s);
    task_check(cio_time() - t0 < 0.05);
    task_check_eq(rc, -ETIMEDOUT); /* data was left unsent */
    {
        CIO_SHIELD(sh);
        task_check_eq(cio_server_shutdown(srv, 0), -ETIMEDOUT);
    }
    return 0;
}

static void test_close_when_cancelled(void **state)
{
    (void)state;
    assert_ok(run_real(cancelled_close, NULL));
}

/* ---- fd exhaustion ------------------------------------------------------ */

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

struct emfile {
    long errors;
    double cpu;
};

static int emfile(void *arg)
{
    struct emfile *e = arg;
    cio_server *srv;
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, echo_handler, NULL, NULL), 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)cio_server_port(srv))};
    struct rlimit saved;
    task_check_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
    /* Use up every fd below a low limit, then connect: the connection
     * waits in the backlog and accept() fails with EMFILE. */
    struct rlimit low = {.rlim_cur = 128, .rlim_max = saved.rlim_max};
    task_check_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    int clients[3];
    for (int i = 0; i < 3; i++) {
        clients[i] = socket(AF_INET, SOCK_STREAM, 0);
        task_check(clients[i] >= 0);
        task_check_eq(connect(clients[i], (struct sockaddr *)&a, sizeof a), 0);
    }
    int fill[128], nfill = 0;
    for (int fd; nfill < 128 && (fd = dup(0)) >= 0;)
        fill[nfill++] = fd;
    double cpu0 = cpu_seconds();
    task_check_eq(cio_sleep(0.6), 0);
    e->cpu = cpu_seconds() - cpu0;
    e->errors = cio_server_accept_errors(srv);
    task_check_eq(cio_server_connections(srv), 0);
    /* Give the fds back: the server recovers by itself. */
    for (int i = 0; i < nfill; i++)
        close(fill[i]);
    task_check_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
    for (int i = 0; i < 3; i++) {
        cio_stream *s;
        task_check_eq(cio_stream_from_fd(&s, clients[i]), 0);
        CIO_TIMEOUT(t, 3.0);
        task_check_eq(cio_stream_send(s, "ping", 4), 0);
        char b[4];
        task_check_eq(cio_stream_readexactly(s, b, 4), 4);
        task_check(memcmp(b, "ping", 4) == 0);
        task_check_eq(cio_stream_close(s), 0);
    }
    task_check_eq(cio_server_shutdown(srv, 1), 0);
    return 0;
}

static void test_accept_emfile_backs_off(void **state)
{
    (void)state;
    struct emfile e = {0};
    assert_ok(run_real(emfile, &e));
    /* Backing off 10, 20, 40 ... ms: a handful of attempts in 0.6 s, and
     * almost no CPU. A spinning accept loop would make thousands. */
    assert_true(e.errors >= 2);
    assert_true(e.errors <= 12);
    assert_true(e.cpu < 0.2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_mid_read),
        cmocka_unit_test(test_reset_mid_write),
        cmocka_unit_test(test_write_meets_reset),
        cmocka_unit_test(test_reader_and_writer_tasks_reset),
        cmocka_unit_test(test_slow_reader_bounded_memory),
        cmocka_unit_test(test_drain_timeout_and_cancel),
        cmocka_unit_test(test_close_when_cancelled),
        cmocka_unit_test(test_accept_emfile_backs_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
