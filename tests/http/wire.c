/* What goes on the wire and what comes back at the edges: requests as the
 * echo peer sees them (method, target, Content-Type, long headers, names
 * that are not tokens, uploads of a declared size), and responses that are
 * empty, streamed after a redirect, too big, or answered before their
 * request was sent. */
#include "common.h"

#include <strings.h>

/* The echo peer's answer: the request as it arrived. */
static char *echo(cio_http_session *s, const cio_http_request *q, int *rc)
{
    cio_http_response *r;
    *rc = cio_http_request_send(s, q, &r);
    char *text = strdup(cio_http_response_text(r));
    cio_http_response_free(r);
    return text;
}

static bool has_header(const char *request, const char *name)
{
    const char *head_end = strstr(request, "\r\n\r\n");
    size_t n = strlen(name);
    for (const char *p = strstr(request, "\r\n"); p && p < head_end; p = strstr(p + 2, "\r\n"))
        if (!strncasecmp(p + 2, name, n) && p[2 + n] == ':')
            return true;
    return false;
}

/* ---- the request line and headers --------------------------------------- */

static int shape_task(void *arg)
{
    struct peer *p = arg;
    char base[80];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", p->port);
    cio_http_session_options o = {.base_url = base};
    cio_http_session *s;
    task_check_eq(cio_http_session_new(&o, &s), 0);
    int rc;

    /* A body sent as is carries no Content-Type unless one is given
     * (libcurl would call it a form). */
    cio_http_response *r;
    task_check_eq(cio_http_post(s, "/post", "abc", 3, NULL, &r), 0);
    task_check(!has_header(cio_http_response_text(r), "Content-Type"));
    task_check(strstr(cio_http_response_text(r), "\r\n\r\nabc") != NULL);
    cio_http_response_free(r);
    task_check_eq(cio_http_post(s, "/post", "abc", 3, "text/plain", &r), 0);
    task_check(strstr(cio_http_response_text(r), "Content-Type: text/plain\r\n") != NULL);
    cio_http_response_free(r);

    /* The method as given, a GET with a body included. */
    cio_http_request get = {.method = "GET", .url = "/g", .body = "xyz", .body_len = 3};
    char *t = echo(s, &get, &rc);
    task_check_eq(rc, 0);
    task_check(!strncmp(t, "GET /g HTTP/1.1\r\n", 17));
    task_check(strstr(t, "\r\n\r\nxyz") != NULL);
    free(t);

    /* "://" in a relative URL's query does not make it absolute. */
    cio_http_request rel = {.url = "/go?next=http://example.com/"};
    t = echo(s, &rel, &rc);
    task_check_eq(rc, 0);
    task_check(!strncmp(t, "GET /go?next=http://example.com/ HTTP/1.1\r\n", 43));
    free(t);

    /* Parameters go into the query, before the fragment (never sent). */
    cio_http_field params[] = {{"a", "1"}, {"b", "x y"}};
    cio_http_request frag = {.url = "/p#top", .params = params, .nparams = 2};
    t = echo(s, &frag, &rc);
    task_check_eq(rc, 0);
    task_check(!strncmp(t, "GET /p?a=1&b=x%20y HTTP/1.1\r\n", 29));
    free(t);
    cio_http_request frag2 = {.url = "/p?z=0#top", .params = params, .nparams = 1};
    t = echo(s, &frag2, &rc);
    task_check(!strncmp(t, "GET /p?z=0&a=1 HTTP/1.1\r\n", 25));
    free(t);

    /* A header has no length limit (a 3 KB token), in a request... */
    char big[3000];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = 0;
    cio_http_field auth = {"Authorization", big};
    cio_http_request h = {.url = "/h", .headers = &auth, .nheaders = 1};
    t = echo(s, &h, &rc);
    task_check_eq(rc, 0);
    task_check(strstr(t, big) != NULL);
    free(t);
    task_check_eq(cio_http_session_close(s), 0);

    /* ...and in a session (options as a compound literal, commas and all). */
    task_check_eq(
        cio_http_session_new(&(cio_http_session_options){.headers = &auth, .nheaders = 1}, &s), 0);
    t = echo(s, &(cio_http_request){.url = p->url}, &rc);
    task_check_eq(rc, 0);
    task_check(strstr(t, big) != NULL);
    free(t);

    /* A name must be a token; the request is refused before anything is
     * sent, and so is a session with such a header. */
    int seen = p->requests;
    const char *bad[] = {"X Y", "", "X:Y", "X\tY", "Ä"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cio_http_field f = {bad[i], "v"};
        cio_http_request q = {.url = p->url, .headers = &f, .nheaders = 1};
        task_check_eq(cio_http_request_send(s, &q, &r), -EINVAL);
        task_check(r == NULL);
        cio_http_session *s2 = NULL;
        cio_http_session_options bo = {.headers = &f, .nheaders = 1};
        task_check_eq(cio_http_session_new(&bo, &s2), -EINVAL);
        task_check(s2 == NULL);
    }
    cio_http_request m = {.method = "GE T", .url = p->url};
    task_check_eq(cio_http_request_send(s, &m, &r), -EINVAL);
    task_check_eq(p->requests, seen);
    return cio_http_session_close(s);
}

static void test_request_shape(void **state)
{
    (void)state;
    struct peer p;
    assert_int_equal(peer_start(&p, PEER_ECHO), 0);
    assert_ok(run_real(shape_task, &p));
    peer_stop(&p);
}

/* ---- uploads by reader -------------------------------------------------- */

struct upload {
    size_t left;  /* bytes still to give */
    double pause; /* sleep before each piece */
    int calls;
};

static int64_t give(void *arg, void *buf, size_t cap)
{
    struct upload *u = arg;
    u->calls++;
    if (u->pause > 0) {
        int rc = cio_sleep(u->pause);
        if (rc < 0)
            return rc;
    }
    size_t k = u->left < cap ? u->left : cap;
    if (k > 16384)
        k = 16384;
    for (size_t i = 0; i < k; i++)
        ((char *)buf)[i] = (char)('a' + (u->left - i) % 26);
    u->left -= k;
    return (int64_t)k;
}

static int upload_task(void *arg)
{
    struct peer *p = arg;
    cio_http_session *s;
    task_check_eq(cio_http_session_new(NULL, &s), 0);
    cio_http_response *r;

    /* No Content-Type unless given. */
    struct upload u = {.left = 100};
    cio_http_request q = {.url = p->url, .body_reader = give, .body_reader_arg = &u};
    task_check_eq(cio_http_request_send(s, &q, &r), 0);
    task_check(!has_header(cio_http_response_text(r), "Content-Type"));
    cio_http_response_free(r);

    /* A reader that ends short of body_size, or gives more, fails the
     * request instead of leaving it to hang until a timeout. */
    cio_http_timeout bound = {.total = 5};
    q.timeout = &bound;
    for (int more = 0; more < 2; more++) {
        u = (struct upload){.left = more ? 20 : 5};
        q.body_size = 10;
        double t0 = cio_time();
        task_check_eq(cio_http_request_send(s, &q, &r), -EINVAL);
        task_check(cio_time() - t0 < 2);
        task_check(strstr(cio_http_response_error(r), "body_size 10") != NULL);
        cio_http_response_free(r);
    }
    q.body_size = 0;

    /* The reader's own pauses are not the peer's silence: sock_read 0.1 s
     * against a reader that sleeps 0.2 s before each piece. */
    u = (struct upload){.left = 40000, .pause = 0.2};
    cio_http_timeout read = {.sock_read = 0.1, .total = 10};
    q.timeout = &read;
    task_check_eq(cio_http_request_send(s, &q, &r), 0);
    task_check_eq(u.calls, 4); /* three pieces and the end */
    cio_http_response_free(r);
    return cio_http_session_close(s);
}

static void test_upload_by_reader(void **state)
{
    (void)state;
    struct peer p;
    assert_int_equal(peer_start(&p, PEER_ECHO), 0);
    assert_ok(run_real(upload_task, &p));
    peer_stop(&p);
}

/* A server that answers before it has the whole body, and streams it back:
 * reading the response feeds the upload. */
static int duplex_task(void *arg)
{
    struct peer *p = arg;
    cio_http_session *s;
    task_check_eq(cio_http_session_new(NULL, &s), 0);
    struct upload u = {.left = 200000, .pause = 0.01}; /* the answer comes first */
    cio_http_timeout bound = {.total = 10};
    cio_http_request q = {.url = p->url,
                          .body_reader = give,
                          .body_reader_arg = &u,
                          .body_size = 200000,
                          .stream = true,
                          .timeout = &bound};
    cio_http_response *r;
    double t0 = cio_time();
    task_check_eq(cio_http_request_send(s, &q, &r), 0);
    task_check(u.left > 0); /* returned with the upload under way */
    size_t got = 0;
    bool same = true;
    const void *d;
    size_t n;
    int rc;
    while ((rc = cio_http_response_next(r, &d, &n)) == 1) {
        for (size_t i = 0; i < n; i++)
            same &= ((const char *)d)[i] == (char)('a' + (200000 - got - i) % 26);
        got += n;
    }
    task_check_eq(rc, 0);
    task_check_eq(got, 200000);
    task_check(same);
    task_check(cio_time() - t0 < 5);
    cio_http_response_free(r);
    return cio_http_session_close(s);
}

static void test_answer_before_upload_ends(void **state)
{
    (void)state;
    struct peer p;
    assert_int_equal(peer_start(&p, PEER_DUPLEX), 0);
    assert_ok(run_real(duplex_task, &p));
    peer_stop(&p);
}

/* ---- responses at the edges --------------------------------------------- */

static int edges_task(void *arg)
{
    (void)arg;
    cio_http_session *s;
    task_check_eq(cio_http_session_new(NULL, &s), 0);
    cio_http_response *r;

    /* A response without a body reads empty, though the one freed before
     * it (whose memory it reuses) had a body. */
    task_check_eq(cio_http_get(s, url("/user.json"), &r), 0);
    task_check(strlen(cio_http_response_text(r)) > 100);
    cio_http_response_free(r);
    cio_http_request head = {.method = "HEAD", .url = url("/user.json")};
    task_check_eq(cio_http_request_send(s, &head, &r), 0);
    size_t len = 1;
    task_check_eq(strcmp(cio_http_response_body(r, &len), ""), 0);
    task_check_eq(len, 0);
    json_t *j = (json_t *)1;
    task_check_eq(cio_http_response_json(r, &j), 0); /* aiohttp's None */
    task_check(j == NULL);
    cio_http_response_free(r);
    task_check_eq(cio_http_get(s, url("/user.json"), &r), 0);
    cio_http_response_free(r);
    task_check_eq(cio_http_get(s, "http://127.0.0.1:1/", &r), -ECONNREFUSED);
    task_check_eq(strcmp(cio_http_response_text(r), ""), 0);
    cio_http_response_free(r);

    /* A streamed response knows its final URL before its body is read. */
    cio_http_request redir = {.url = url("/redirect"), .stream = true};
    task_check_eq(cio_http_request_send(s, &redir, &r), 0);
    const char *u = cio_http_response_url(r);
    task_check(strlen(u) > 10 && !strcmp(u + strlen(u) - 10, "/user.json"));
    cio_http_response_free(r);

    /* max_body_size bounds a streamed body too, however fast it is read:
     * the reader sees at most that much, then the error with its reason.
     * (A chunked body: one with a Content-Length over the limit fails
     * before its headers are handed out.) */
    cio_http_session *small;
    cio_http_session_options so = {.max_body_size = 100000};
    task_check_eq(cio_http_session_new(&so, &small), 0);
    cio_http_request big = {.url = url("/gzip/text.txt"), .stream = true};
    task_check_eq(cio_http_request_send(small, &big, &r), 0);
    task_check(cio_http_response_header(r, "content-length") == NULL);
    size_t got = 0;
    const void *d;
    size_t n;
    int rc;
    while ((rc = cio_http_response_next(r, &d, &n)) == 1)
        got += n;
    task_check_eq(rc, CIO_EHTTP_TOOBIG);
    task_check(got <= 100000);
    task_check(!strcmp(cio_http_response_error(r), "body larger than 100000 bytes"));
    cio_http_response_free(r);
    task_check_eq(cio_http_get(small, url("/gzip/text.txt"), &r), CIO_EHTTP_TOOBIG);
    task_check(!strcmp(cio_http_response_error(r), "body larger than 100000 bytes"));
    cio_http_response_free(r);
    task_check_eq(cio_http_session_close(small), 0);

    /* Timeouts too long for nanoseconds are as good as none. */
    cio_http_timeout forever = {.total = 1e20, .connect = 1e20, .sock_read = 1e10};
    cio_http_request q = {.url = url("/user.json"), .timeout = &forever};
    task_check_eq(cio_http_request_send(s, &q, &r), 0);
    task_check_eq(cio_http_response_timeout(r), CIO_HTTP_TIMEOUT_NONE);
    cio_http_response_free(r);
    return cio_http_session_close(s);
}

static void test_response_edges(void **state)
{
    (void)state;
    assert_ok(run_real(edges_task, NULL));
}

/* HTTP/2 has no reason phrase: the status error says "HTTP 404", with no
 * space left dangling. */
static int no_reason_task(void *arg)
{
    (void)arg;
    cio_http_session *s;
    cio_http_session_options o = {.http_version = 2, .raise_for_status = true};
    task_check_eq(cio_http_session_new(&o, &s), 0);
    char u[128];
    snprintf(u, sizeof u, "%s/status/404", ng.base2);
    cio_http_response *r;
    task_check_eq(cio_http_get(s, u, &r), CIO_EHTTP_STATUS);
    task_check_eq(cio_http_response_version(r), 20);
    task_check(!strcmp(cio_http_response_error(r), "HTTP 404"));
    cio_http_response_free(r);
    return cio_http_session_close(s);
}

static void test_status_without_reason(void **state)
{
    (void)state;
    assert_ok(run_real(no_reason_task, NULL));
}

/* A header line longer than libcurl takes is the peer's fault, not memory
 * running out. */
static int big_header_task(void *arg)
{
    (void)arg;
    struct peer p;
    task_check_eq(peer_start(&p, PEER_BIG_HEADER), 0);
    cio_http_session *s;
    task_check_eq(cio_http_session_new(NULL, &s), 0);
    cio_http_response *r;
    int rc = cio_http_get(s, p.url, &r);
    bool says = strstr(cio_http_response_error(r), "header line") != NULL;
    cio_http_response_free(r);
    cio_http_session_close(s);
    peer_stop(&p);
    task_check_eq(rc, CIO_EHTTP_PROTOCOL);
    task_check(says);
    return 0;
}

static void test_header_line_too_long(void **state)
{
    (void)state;
    assert_ok(run_real(big_header_task, NULL));
}

/* ---- the per-host limit -------------------------------------------------- */

struct timed {
    cio_http_session *s;
    const char *url;
    double done_at;
    int rc;
};

static int timed_get(void *arg)
{
    struct timed *t = arg;
    cio_http_response *r;
    t->rc = cio_http_get(t->s, t->url, &r);
    t->done_at = cio_time();
    cio_http_response_free(r);
    return 0;
}

/* With limit_per_host 1, two requests to a slow host (0.5 s each) and then
 * one to another host: the third goes at once instead of queueing behind
 * the second, which waits for the first. */
static int per_host_task(void *arg)
{
    struct peer *p = arg;
    cio_http_session *s;
    cio_http_session_options o = {.limit_per_host = 1};
    task_check_eq(cio_http_session_new(&o, &s), 0);
    struct timed t[3] = {{s, p->url}, {s, p->url}, {s, url("/user.json")}};
    cio_task tasks[3];
    double t0 = cio_time();
    for (int i = 0; i < 3; i++)
        tasks[i] = cio_spawn(timed_get, &t[i]);
    for (int i = 0; i < 3; i++)
        task_check_eq(cio_join(tasks[i]), 0);
    for (int i = 0; i < 3; i++)
        task_check_eq(t[i].rc, 0);
    task_check(t[2].done_at - t0 < 0.4);
    task_check(t[0].done_at - t0 >= 0.45);
    task_check(t[1].done_at - t[0].done_at >= 0.45);
    return cio_http_session_close(s);
}

static void test_per_host_limit_no_head_of_line(void **state)
{
    (void)state;
    struct peer p;
    assert_int_equal(peer_start(&p, PEER_DELAY), 0);
    assert_ok(run_real(per_host_task, &p));
    peer_stop(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_shape),
        cmocka_unit_test(test_upload_by_reader),
        cmocka_unit_test(test_answer_before_upload_ends),
        cmocka_unit_test(test_response_edges),
        cmocka_unit_test(test_status_without_reason),
        cmocka_unit_test(test_header_line_too_long),
        cmocka_unit_test(test_per_host_limit_no_head_of_line),
    };
    return cmocka_run_group_tests(tests, nginx_setup, nginx_teardown);
}
