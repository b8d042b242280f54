/* Misbehaving peers: each failure comes back as a precise error code with
 * libcurl's explanation on the response, and the session stays usable. */
#include "common.h"

struct expect {
    enum peer_mode mode;
    int rc;
    int status;
    int or_rc; /* another answer that is right too, if not 0 */
};

static int misbehave_task(void *arg)
{
    struct expect *e = arg;
    struct peer p;
    task_check_eq(peer_start(&p, e->mode), 0);
    cio_http_session *s;
    task_check_eq(cio_http_session_new(NULL, &s), 0);
    cio_http_response *r;
    int rc = cio_http_get(s, p.url, &r);
    int status = cio_http_response_status(r);
    bool explained = cio_http_response_error(r)[0] != 0;
    cio_http_response_free(r);
    /* The session is fine afterwards. */
    int rc2 = cio_http_get(s, url("/user.json"), &r);
    cio_http_response_free(r);
    cio_http_session_close(s);
    peer_stop(&p);
    if (e->or_rc && rc == e->or_rc)
        rc = e->rc;
    if (rc != e->rc)
        print_error("mode %d: got %s, expected %s\n", e->mode, cio_err_name(rc),
                    cio_err_name(e->rc));
    task_check_eq(rc, e->rc);
    task_check_eq(status, e->status);
    task_check(explained);
    task_check_eq(rc2, 0);
    return 0;
}

static void expect(enum peer_mode mode, int rc, int status)
{
    struct expect e = {mode, rc, status};
    assert_ok(run_real(misbehave_task, &e));
}

static void test_reset_mid_body(void **state)
{
    (void)state;
    expect(PEER_RESET, -ECONNRESET, 200);
}

static void test_malformed_status(void **state)
{
    (void)state;
    expect(PEER_MALFORMED, CIO_EHTTP_PROTOCOL, 0);
}

static void test_short_body(void **state)
{
    (void)state;
    expect(PEER_SHORT, CIO_EHTTP_PAYLOAD, 200);
}

static void test_closed_without_answer(void **state)
{
    (void)state;
    expect(PEER_CLOSE, CIO_EHTTP_PROTOCOL, 0);
}

/* A NUL inside a header line: refused (by libcurl since 7.83), never read
 * as two lines, which would let a peer inject a header. */
static void test_nul_in_header(void **state)
{
    (void)state;
    expect(PEER_NUL_HEADER, CIO_EHTTP_PROTOCOL, 200);
}

/* Header lines other parsers read differently, so that a header could be
 * smuggled past one of them: refused, with the status kept. */
static void test_bare_cr_in_header(void **state)
{
    (void)state;
    expect(PEER_CR_HEADER, CIO_EHTTP_PROTOCOL, 200);
}

static void test_space_in_header_name(void **state)
{
    (void)state;
    expect(PEER_BAD_NAME, CIO_EHTTP_PROTOCOL, 200);
}

static void test_space_before_colon(void **state)
{
    (void)state;
    expect(PEER_SPACE_COLON, CIO_EHTTP_PROTOCOL, 200);
}

/* A line with no colon at all: refused rather than skipped (libcurl 7.88
 * refuses it before cio's own check of header lines sees it). */
static void test_header_without_colon(void **state)
{
    (void)state;
    expect(PEER_NO_COLON, CIO_EHTTP_PROTOCOL, 200);
}

/* libcurl 7.88 refuses this one itself, as CURLE_BAD_FUNCTION_ARGUMENT
 * (CIO_EHTTP); cio's own check is for the versions that pass it on. */
static void test_fold_of_nothing(void **state)
{
    (void)state;
    struct expect e = {PEER_FOLD_FIRST, CIO_EHTTP_PROTOCOL, 200, CIO_EHTTP};
    assert_ok(run_real(misbehave_task, &e));
}

/* Found by tests/fuzz: a status line that libcurl passes on, but whose
 * status is no three-digit code, fails as malformed (it was status 1000). */
static void test_status_not_three_digits(void **state)
{
    (void)state;
    expect(PEER_BAD_STATUS, CIO_EHTTP_PROTOCOL, 0);
}

static void test_bad_content_encoding(void **state)
{
    (void)state;
    expect(PEER_BAD_GZIP, CIO_EHTTP_DECODE, 200);
}

/* A body larger than the session allows. */
static int too_big_task(void *arg)
{
    (void)arg;
    cio_http_session_options o = {.max_body_size = 1 << 20};
    cio_http_session *s;
    task_check_eq(cio_http_session_new(&o, &s), 0);
    cio_http_response *r;
    int rc = cio_http_get(s, url("/big.bin"), &r); /* 4 MiB, Content-Length known */
    cio_http_response_free(r);
    int rc2 = cio_http_get(s, url("/user.json"), &r);
    cio_http_response_free(r);
    cio_http_session_close(s);
    task_check_eq(rc, CIO_EHTTP_TOOBIG);
    task_check_eq(rc2, 0);
    return 0;
}

static void test_too_big(void **state)
{
    (void)state;
    assert_ok(run_real(too_big_task, NULL));
}

/* A streamed body cut short: the reader sees the bytes that came, then the
 * error. */
static int short_stream_task(void *arg)
{
    (void)arg;
    struct peer p;
    task_check_eq(peer_start(&p, PEER_SHORT), 0);
    cio_http_session *s;
    task_check_eq(cio_http_session_new(NULL, &s), 0);
    cio_http_request q = {.url = p.url, .stream = true};
    cio_http_response *r;
    int rc = cio_http_request_send(s, &q, &r);
    size_t got = 0;
    const void *d;
    size_t n;
    while (rc == 0 && (rc = cio_http_response_next(r, &d, &n)) == 1) {
        got += n;
        rc = 0;
    }
    cio_http_response_free(r);
    cio_http_session_close(s);
    peer_stop(&p);
    task_check_eq(rc, CIO_EHTTP_PAYLOAD);
    task_check_eq(got, 500);
    return 0;
}

static void test_short_stream(void **state)
{
    (void)state;
    assert_ok(run_real(short_stream_task, NULL));
}

/* A pooled connection the server closes while idle: the loop stops
 * watching it instead of spinning on its EOF, and the next request opens a
 * new connection. */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int idle_close_task(void *arg)
{
    (void)arg;
    struct peer p;
    task_check_eq(peer_start(&p, PEER_ONE_SHOT), 0);
    cio_http_session *s;
    task_check_eq(cio_http_session_new(NULL, &s), 0);
    cio_http_response *r;
    int rc1 = cio_http_get(s, p.url, &r);
    cio_http_response_free(r);
    double cpu0 = cpu_seconds();
    cio_sleep(0.4); /* the peer closes the idle connection meanwhile */
    double cpu = cpu_seconds() - cpu0;
    int rc2 = cio_http_get(s, p.url, &r);
    int reused = cio_http_response_reused(r);
    cio_http_response_free(r);
    cio_http_session_close(s);
    peer_stop(&p);
    task_check_eq(rc1, 0);
    task_check(cpu < 0.1);
    task_check_eq(rc2, 0);
    task_check_eq(reused, 0);
    task_check_eq(p.connections, 2);
    return 0;
}

static void test_idle_connection_closed(void **state)
{
    (void)state;
    assert_ok(run_real(idle_close_task, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_mid_body),
        cmocka_unit_test(test_malformed_status),
        cmocka_unit_test(test_short_body),
        cmocka_unit_test(test_closed_without_answer),
        cmocka_unit_test(test_short_stream),
        cmocka_unit_test(test_idle_connection_closed),
        cmocka_unit_test(test_nul_in_header),
        cmocka_unit_test(test_bare_cr_in_header),
        cmocka_unit_test(test_space_in_header_name),
        cmocka_unit_test(test_space_before_colon),
        cmocka_unit_test(test_header_without_colon),
        cmocka_unit_test(test_fold_of_nothing),
        cmocka_unit_test(test_bad_content_encoding),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_status_not_three_digits),
    };
    return cmocka_run_group_tests(tests, nginx_setup, nginx_teardown);
}
