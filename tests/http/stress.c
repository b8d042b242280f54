/* Many tasks, mixed requests, cancelled at random moments: while waiting
 * for a slot, connecting, receiving, streaming, uploading. Every task ends
 * with a sensible code, the session closes, nothing leaks (ASan). */
#include "common.h"

struct job {
    cio_http_session *s;
    struct peer *silent;
    int kind;
    unsigned seed;
};

static int64_t slow_reader(void *arg, void *buf, size_t cap)
{
    int *left = arg;
    if (*left == 0)
        return 0;
    int rc = cio_sleep(0.005);
    if (rc < 0)
        return rc;
    (*left)--;
    size_t n = cap < 100 ? cap : 100;
    memset(buf, 'u', n);
    return (int64_t)n;
}

static int job_main(void *arg)
{
    struct job *j = arg;
    cio_http_response *r = NULL;
    int rc;
    switch (j->kind) {
    case 0:
        rc = cio_http_get(j->s, url("/user.json"), &r);
        if (rc == 0) {
            json_t *x;
            rc = cio_http_response_json(r, &x);
        }
        break;
    case 1: {
        cio_http_request q = {.url = url("/big.bin"), .stream = true};
        rc = cio_http_request_send(j->s, &q, &r);
        const void *d;
        size_t n;
        for (int i = 0; rc == 0 && i < 3; i++)
            rc = cio_http_response_next(r, &d, &n) < 0 ? -1 : 0;
        if (rc == -1)
            rc = cio_http_response_result(r);
        break; /* freed mid-body */
    }
    case 2: {
        cio_http_timeout tm = {.total = 0.05 + (j->seed % 50) / 1000.0};
        cio_http_request q = {.url = j->silent->url, .timeout = &tm};
        rc = cio_http_request_send(j->s, &q, &r);
        break;
    }
    case 3: {
        int left = 5;
        cio_http_request q = {.url = url("/user.json"),
                              .method = "PUT",
                              .body_reader = slow_reader,
                              .body_reader_arg = &left};
        rc = cio_http_request_send(j->s, &q, &r); /* nginx: 405 */
        break;
    }
    default: {
        cio_http_timeout tm = {.total = 0.2};
        cio_http_request q = {.url = url("/slow/text.txt"), .timeout = &tm};
        rc = cio_http_request_send(j->s, &q, &r); /* 3 s of body: times out */
        break;
    }
    }
    cio_http_response_free(r);
    if (rc == 0 || rc == -ECANCELED || rc == -ETIMEDOUT)
        return 0;
    print_error("job kind %d: %s\n", j->kind, cio_err_name(rc));
    return rc;
}

#define NJOBS 300

static int stress_task(void *arg)
{
    struct peer *silent = arg;
    cio_http_session_options o = {.limit = 20};
    cio_http_session *s;
    task_check_eq(cio_http_session_new(&o, &s), 0);
    static struct job jobs[NJOBS];
    static cio_task t[NJOBS];
    unsigned seed = 12345;
    for (int i = 0; i < NJOBS; i++) {
        seed = seed * 1103515245 + 12345;
        jobs[i] = (struct job){s, silent, (int)((seed >> 8) % 5), seed >> 4};
        t[i] = cio_spawn(job_main, &jobs[i]);
    }
    /* Cancel a third of them at random moments over 0.3 s. */
    for (int k = 0; k < NJOBS / 3; k++) {
        seed = seed * 1103515245 + 12345;
        cio_sleep((double)((seed >> 8) % 10) / 1000.0);
        cio_cancel(t[(seed >> 4) % NJOBS]);
    }
    int failed = 0;
    for (int i = 0; i < NJOBS; i++)
        failed += cio_join(t[i]) != 0;
    task_check_eq(failed, 0);
    /* The session still works, then closes with nothing in flight. */
    cio_http_response *r;
    task_check_eq(cio_http_get(s, url("/user.json"), &r), 0);
    cio_http_response_free(r);
    return cio_http_session_close(s);
}

static void test_cancel_storm(void **state)
{
    (void)state;
    struct peer p;
    assert_int_equal(peer_start(&p, PEER_SILENT), 0);
    int rc = run_real(stress_task, &p);
    peer_stop(&p);
    assert_ok(rc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_storm),
    };
    return cmocka_run_group_tests(tests, nginx_setup, nginx_teardown);
}
