/* Timeouts, cancellation and closing: which timeout fired, what a total
 * timeout counts, timers that must not outlive their request, cancelled
 * transfers, sessions closed under requests or never closed. */
#include "common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

static double elapsed(double since)
{
    return cio_time() - since;
}

/* ---- which timeout ------------------------------------------------------ */

static int which_task(void *arg)
{
    struct peer *p = arg;
    cio_http_session *s;
    task_check_eq(cio_http_session_new(NULL, &s), 0);
    cio_http_response *r;

    cio_http_timeout total = {.total = 0.3};
    cio_http_request q = {.url = p->url, .timeout = &total};
    double t0 = cio_time();
    task_check_eq(cio_http_request_send(s, &q, &r), -ETIMEDOUT);
    task_check(elapsed(t0) >= 0.29 && elapsed(t0) < 2);
    task_check_eq(cio_http_response_timeout(r), CIO_HTTP_TIMEOUT_TOTAL);
    task_check(strstr(cio_http_response_error(r), "total") != NULL);
    task_check_eq(cio_http_response_result(r), -ETIMEDOUT);
    cio_http_response_free(r);

    cio_http_timeout read = {.sock_read = 0.3};
    q.timeout = &read;
    t0 = cio_time();
    task_check_eq(cio_http_request_send(s, &q, &r), -ETIMEDOUT);
    task_check(elapsed(t0) >= 0.29 && elapsed(t0) < 2);
    task_check_eq(cio_http_response_timeout(r), CIO_HTTP_TIMEOUT_SOCK_READ);
    task_check(!strcmp(cio_http_timeout_name(cio_http_response_timeout(r)), "sock_read"));
    cio_http_response_free(r);

    q.timeout = NULL;
    {
        CIO_TIMEOUT(scope, 0.3);
        task_check_eq(cio_http_request_send(s, &q, &r), -ETIMEDOUT);
    }
    task_check_eq(cio_http_response_timeout(r), CIO_HTTP_TIMEOUT_SCOPE);
    cio_http_response_free(r);
    return cio_http_session_close(s);
}

static void test_which_timeout(void **state)
{
    (void)state;
    struct peer p;
    assert_int_equal(peer_start(&p, PEER_SILENT), 0);
    int rc = run_real(which_task, &p);
    peer_stop(&p);
    assert_ok(rc);
}

/* sock_read measures silence, not duration: a body trickling one byte
 * every 100 ms never trips a 0.3 s sock_read, but trips a total. */
static int trickle_task(void *arg)
{
    struct peer *p = arg;
    cio_http_session *s;
    task_check_eq(cio_http_session_new(NULL, &s), 0);
    cio_http_timeout read = {.sock_read = 0.3, .total = 1.0};
    cio_http_request q = {.url = p->url, .timeout = &read};
    cio_http_response *r;
    task_check_eq(cio_http_request_send(s, &q, &r), -ETIMEDOUT);
    task_check_eq(cio_http_response_timeout(r), CIO_HTTP_TIMEOUT_TOTAL);
    size_t len;
    cio_http_response_body(r, &len);
    task_check(len >= 5); /* bytes kept coming */
    cio_http_response_free(r);
    return cio_http_session_close(s);
}

static void test_sock_read_is_silence(void **state)
{
    (void)state;
    struct peer p;
    assert_int_equal(peer_start(&p, PEER_SLOW_BODY), 0);
    int rc = run_real(trickle_task, &p);
    peer_stop(&p);
    assert_ok(rc);
}

/* ---- what the total timeout counts -------------------------------------- */

struct hold {
    cio_http_session *s;
    const char *url;
};

static int hold_slot(void *arg)
{
    struct hold *h = arg;
    cio_http_response *r;
    int rc = cio_http_get(h->s, h->url, &r); /* silent peer: holds its slot */
    cio_http_response_free(r);
    return rc;
}

static int kill_after(void *a)
{
    cio_task *t = a;
    int rc = cio_sleep(0.4);
    if (rc < 0)
        return rc;
    return cio_cancel(*t);
}

static int pool_wait_task(void *arg)
{
    struct peer *p = arg;
    cio_http_session_options o = {.limit = 1};
    cio_http_session *s;
    task_check_eq(cio_http_session_new(&o, &s), 0);
    struct hold h = {s, p->url};
    cio_task holder = cio_spawn(hold_slot, &h);
    cio_sleep(0.05);

    /* Default: the pool wait counts towards the total. */
    cio_http_timeout tm = {.total = 0.3};
    cio_http_request q = {.url = url("/user.json"), .timeout = &tm};
    cio_http_response *r;
    double t0 = cio_time();
    task_check_eq(cio_http_request_send(s, &q, &r), -ETIMEDOUT);
    task_check(elapsed(t0) < 1);
    task_check_eq(cio_http_response_timeout(r), CIO_HTTP_TIMEOUT_TOTAL);
    task_check_eq(cio_http_response_status(r), 0);
    cio_http_response_free(r);

    /* connect bounds the pool wait too (aiohttp's connect). */
    tm = (cio_http_timeout){.connect = 0.2};
    task_check_eq(cio_http_request_send(s, &q, &r), -ETIMEDOUT);
    task_check_eq(cio_http_response_timeout(r), CIO_HTTP_TIMEOUT_CONNECT);
    cio_http_response_free(r);

    /* exclude_pool_wait: the total starts once the slot is ours. The holder
     * is cancelled 0.4 s from now, freeing its slot; the request then still
     * has its whole 0.3 s. */
    tm = (cio_http_timeout){.total = 0.3, .exclude_pool_wait = true};
    cio_task killer = cio_spawn(kill_after, &holder);
    t0 = cio_time();
    task_check_eq(cio_http_request_send(s, &q, &r), 0);
    task_check(elapsed(t0) >= 0.35);
    task_check_eq(cio_http_response_status(r), 200);
    cio_http_response_free(r);
    task_check_eq(cio_join(killer), 0);
    task_check_eq(cio_join(holder), -ECANCELED);
    return cio_http_session_close(s);
}

static void test_pool_wait(void **state)
{
    (void)state;
    struct peer p;
    assert_int_equal(peer_start(&p, PEER_SILENT), 0);
    int rc = run_real(pool_wait_task, &p);
    peer_stop(&p);
    assert_ok(rc);
}

/* ---- a TCP connect that hangs ------------------------------------------- */

/* A listener on 127.0.0.1 whose accept queue is full: listen(fd, 0) admits
 * one connection that nobody accepts; Linux then drops every further SYN
 * (tcp_conn_request: "accept queue full", SYN cookies or not), so a connect
 * stays in SYN-SENT until the client gives up. Checked, not assumed: a
 * probe must still be connecting after 200 ms. */
struct blackhole {
    int lfd, filler;
    char url[64];
};

static void blackhole_close(struct blackhole *b)
{
    if (b->filler >= 0)
        close(b->filler);
    if (b->lfd >= 0)
        close(b->lfd);
}

/* 0, or 1 if connects here do not hang (the test is then skipped). */
static int blackhole_open(struct blackhole *b)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    b->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    b->filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(b->lfd >= 0 && b->filler >= 0);
    assert_int_equal(bind(b->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(b->lfd, 0), 0);
    assert_int_equal(getsockname(b->lfd, (struct sockaddr *)&a, &len), 0);
    snprintf(b->url, sizeof b->url, "http://127.0.0.1:%d/", ntohs(a.sin_port));
    assert_int_equal(connect(b->filler, (struct sockaddr *)&a, sizeof a), 0);
    int probe = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(probe >= 0);
    int rc = connect(probe, (struct sockaddr *)&a, sizeof a);
    assert_true(rc < 0 && errno == EINPROGRESS);
    struct pollfd f = {.fd = probe, .events = POLLOUT};
    rc = poll(&f, 1, 200);
    close(probe);
    return rc != 0;
}

static double elapsed_since(double t0)
{
    return cio_time() - t0;
}

struct hang {
    cio_http_session *s;
    const char *url;
    cio_http_timeout tm;
    int rc;
    cio_http_timeout_kind kind;
};

static int hang_get(void *arg)
{
    struct hang *h = arg;
    cio_http_request q = {.url = h->url, .timeout = &h->tm};
    cio_http_response *r;
    h->rc = cio_http_request_send(h->s, &q, &r);
    h->kind = cio_http_response_timeout(r);
    cio_http_response_free(r);
    return 0;
}

/* One request to the black hole with timeouts tm: it must fail with
 * -ETIMEDOUT, say `kind`, and take about `after` seconds. */
static int expect_hang(cio_http_session *s, const char *u, cio_http_timeout tm,
                       cio_http_timeout_kind kind, double after)
{
    cio_http_request q = {.url = u, .timeout = &tm};
    cio_http_response *r;
    double t0 = cio_time();
    int rc = cio_http_request_send(s, &q, &r);
    double took = elapsed_since(t0);
    if (rc != -ETIMEDOUT || cio_http_response_timeout(r) != kind || took < after - 0.02 ||
        took > after + 1)
        print_error("connect to the black hole: %d (%s), timeout %s after %.3f s, expected %s "
                    "after %.3f s\n",
                    rc, cio_http_response_error(r),
                    cio_http_timeout_name(cio_http_response_timeout(r)), took,
                    cio_http_timeout_name(kind), after);
    task_check_eq(rc, -ETIMEDOUT);
    task_check_eq(cio_http_response_timeout(r), kind);
    task_check_eq(cio_http_response_result(r), -ETIMEDOUT);
    task_check(strstr(cio_http_response_error(r), cio_http_timeout_name(kind)) != NULL);
    task_check_eq(cio_http_response_status(r), 0);
    task_check(took >= after - 0.02 && took < after + 1);
    cio_http_response_free(r);
    return 0;
}

static int connect_hang_task(void *arg)
{
    struct blackhole *b = arg;
    cio_http_session *s;
    task_check_eq(cio_http_session_new(NULL, &s), 0);
    const cio_http_timeout_kind C = CIO_HTTP_TIMEOUT_CONNECT, SC = CIO_HTTP_TIMEOUT_SOCK_CONNECT;
    const struct {
        cio_http_timeout tm;
        cio_http_timeout_kind kind;
        double after;
    } cases[] = {
        {{.connect = 0.3}, C, 0.3},
        {{.sock_connect = 0.3}, SC, 0.3},
        /* Whichever is shorter fires, and says so. */
        {{.connect = 0.5, .sock_connect = 0.2}, SC, 0.2},
        {{.connect = 0.2, .sock_connect = 0.5}, C, 0.2},
        /* total fires during a connect too. */
        {{.total = 0.3}, CIO_HTTP_TIMEOUT_TOTAL, 0.3},
    };
    int rc;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if ((rc = expect_hang(s, b->url, cases[i].tm, cases[i].kind, cases[i].after)))
            return rc;
    /* The session goes on: the abandoned connects left nothing behind. */
    cio_http_response *r;
    task_check_eq(cio_http_get(s, url("/hello.txt"), &r), 0);
    task_check_eq(cio_http_response_status(r), 200);
    cio_http_response_free(r);
    task_check_eq(cio_http_session_close(s), 0);

    /* connect counts the pool wait: with one slot held for 0.3 s by another
     * hanging connect, a 0.5 s connect leaves 0.2 s for the TCP connect and
     * fires 0.5 s after the call. */
    cio_http_session_options o = {.limit = 1};
    task_check_eq(cio_http_session_new(&o, &s), 0);
    struct hang holder = {s, b->url, {.sock_connect = 0.3}, 0, 0};
    cio_task t = cio_spawn(hang_get, &holder);
    cio_sleep(0.01);
    rc = expect_hang(s, b->url, (cio_http_timeout){.connect = 0.5}, C, 0.5);
    task_check_eq(cio_join(t), 0);
    task_check_eq(holder.rc, -ETIMEDOUT);
    task_check_eq(holder.kind, SC);
    task_check_eq(cio_http_session_close(s), 0);
    return rc;
}

static void test_connect_hangs(void **state)
{
    (void)state;
    struct blackhole b;
    if (blackhole_open(&b)) {
        blackhole_close(&b);
        print_message("a connect to a full accept queue did not hang here\n");
        skip();
    }
    int rc = run_real(connect_hang_task, &b);
    blackhole_close(&b);
    assert_ok(rc);
}

/* ---- a timer of one request never fires on the next one ---------------- */

static int reuse_timer_task(void *arg)
{
    struct peer *p = arg;
    cio_http_session *s;
    task_check_eq(cio_http_session_new(NULL, &s), 0);
    cio_http_response *r;
    /* A: answered after 0.5 s, within its 0.7 s timeouts. */
    cio_http_timeout a = {.total = 0.7, .sock_read = 0.7};
    cio_http_request q = {.url = p->url, .timeout = &a};
    task_check_eq(cio_http_request_send(s, &q, &r), 0);
    cio_http_response_free(r);
    /* B reuses A's connection and takes 0.5 s as well: A's timers, had they
     * survived, would fire 0.2 s into it. */
    task_check_eq(cio_http_get(s, p->url, &r), 0);
    task_check_eq(cio_http_response_reused(r), 1);
    task_check(!strcmp(cio_http_response_text(r), "ok"));
    cio_http_response_free(r);
    task_check_eq(p->connections, 1);
    return cio_http_session_close(s);
}

static void test_timer_not_reused(void **state)
{
    (void)state;
    struct peer p;
    assert_int_equal(peer_start(&p, PEER_DELAY), 0);
    int rc = run_real(reuse_timer_task, &p);
    peer_stop(&p);
    assert_ok(rc);
}

/* ---- cancellation ------------------------------------------------------- */

static int get_silent(void *arg)
{
    struct hold *h = arg;
    cio_http_response *r;
    int rc = cio_http_get(h->s, h->url, &r);
    int kind_ok = rc != -ECANCELED || cio_http_response_error(r)[0];
    cio_http_response_free(r);
    return kind_ok ? rc : -1;
}

static int cancel_task(void *arg)
{
    struct peer *p = arg;
    cio_http_session *s;
    task_check_eq(cio_http_session_new(NULL, &s), 0);
    struct hold h = {s, p->url};
    cio_task t = cio_spawn(get_silent, &h);
    cio_sleep(0.1);
    double t0 = cio_time();
    task_check_eq(cio_cancel(t), 0);
    task_check_eq(cio_join(t), -ECANCELED);
    task_check(elapsed(t0) < 0.05);
    /* The transfer is gone and its connection closed: the peer sees EOF,
     * and the next request needs a new connection. */
    cio_http_response *r;
    task_check_eq(cio_http_get(s, url("/user.json"), &r), 0);
    task_check_eq(cio_http_response_reused(r), 0);
    cio_http_response_free(r);
    /* A cancelled task cannot start a request. */
    cio_cancel(cio_current());
    task_check_eq(cio_http_get(s, url("/user.json"), &r), -ECANCELED);
    task_check(r == NULL);
    CIO_SHIELD(sh);
    return cio_http_session_close(s);
}

static void test_cancel(void **state)
{
    (void)state;
    struct peer p;
    assert_int_equal(peer_start(&p, PEER_SILENT), 0);
    int rc = run_real(cancel_task, &p);
    peer_stop(&p);
    assert_ok(rc);
}

/* ---- closing ------------------------------------------------------------ */

static int close_task(void *arg)
{
    struct peer *p = arg;
    cio_http_session_options o = {.limit = 1};
    cio_http_session *s;
    task_check_eq(cio_http_session_new(&o, &s), 0);
    struct hold h = {s, p->url};
    cio_task a = cio_spawn(get_silent, &h), b = cio_spawn(get_silent, &h);
    cio_sleep(0.1);
    task_check_eq(cio_http_session_close(s), 0);
    task_check_eq(cio_join(a), CIO_EHTTP_CLOSED); /* in flight */
    task_check_eq(cio_join(b), CIO_EHTTP_CLOSED); /* queued for the slot */
    return 0;
}

static int close_stream_task(void *arg)
{
    (void)arg;
    cio_http_session *s;
    task_check_eq(cio_http_session_new(NULL, &s), 0);
    cio_http_request q = {.url = url("/big.bin"), .stream = true};
    cio_http_response *r;
    task_check_eq(cio_http_request_send(s, &q, &r), 0);
    task_check_eq(cio_http_session_close(s), 0);
    const void *d;
    size_t n;
    int rc;
    while ((rc = cio_http_response_next(r, &d, &n)) == 1)
        ;
    task_check_eq(rc, CIO_EHTTP_CLOSED);
    task_check_eq(cio_http_response_status(r), 200);
    cio_http_response *r2;
    task_check_eq(cio_http_get(s, url("/x"), &r2), CIO_EHTTP_CLOSED);
    task_check(r2 == NULL);
    cio_http_response_free(r); /* the session's memory goes with it */
    return 0;
}

static void test_close(void **state)
{
    (void)state;
    struct peer p;
    assert_int_equal(peer_start(&p, PEER_SILENT), 0);
    int rc = run_real(close_task, &p);
    peer_stop(&p);
    assert_ok(rc);
}

static void test_close_streaming(void **state)
{
    (void)state;
    assert_ok(run_real(close_stream_task, NULL));
}

static int unclosed_task(void *arg)
{
    (void)arg;
    cio_http_session *s;
    task_check_eq(cio_http_session_new(NULL, &s), 0);
    return 0; /* never closed */
}

static void test_unclosed_reported(void **state)
{
    (void)state;
    char *report = NULL;
    assert_ok(run_capture(unclosed_task, NULL, &report));
    assert_non_null(strstr(report, "never closed"));
    assert_non_null(strstr(report, "timeouts.c:"));
    free(report);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_which_timeout),   cmocka_unit_test(test_sock_read_is_silence),
        cmocka_unit_test(test_pool_wait),       cmocka_unit_test(test_timer_not_reused),
        cmocka_unit_test(test_cancel),          cmocka_unit_test(test_close),
        cmocka_unit_test(test_close_streaming), cmocka_unit_test(test_unclosed_reported),
        cmocka_unit_test(test_connect_hangs),
    };
    return cmocka_run_group_tests(tests, nginx_setup, nginx_teardown);
}
