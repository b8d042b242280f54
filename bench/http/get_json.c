/* bench_http_get_json: cio's HTTP client on the workload. 100
 * tasks share one session and take requests from a common count until
 * 20,000 GETs of /user.json (~200 bytes) have been made, each body parsed
 * as JSON. Median of 3 runs after a warm-up that opens the connections.
 * Prints http.get_json_20k_c100 in requests per second, and
 * http.get_json_20k_c100.client_cpu: the client's CPU time per request
 * (nginx excluded), steadier than wall time on a shared machine. */
#include <jansson.h>

#include <cio.h>
#include <cio/http.h>

#include "common/bench.h"
#include "fixture.h"

#define CONCURRENCY 100

struct run {
    cio_http_session *s;
    char url[128];
    long left;
    long failed;
};

static int worker(void *arg)
{
    struct run *r = arg;
    while (r->left > 0) {
        r->left--;
        cio_http_response *resp;
        json_t *j;
        int rc = cio_http_get(r->s, r->url, &resp);
        if (rc == 0)
            rc = cio_http_response_json(resp, &j);
        if (rc == 0 && !json_object_get(j, "id"))
            rc = -EPROTO;
        if (rc < 0 && r->failed++ == 0)
            fprintf(stderr, "request failed: %s (%s)\n", cio_strerror(rc),
                    cio_http_response_error(resp));
        cio_http_response_free(resp);
    }
    return 0;
}

static int batch(struct run *r, long n)
{
    r->left = n;
    cio_task t[CONCURRENCY];
    for (int i = 0; i < CONCURRENCY; i++)
        t[i] = cio_spawn(worker, r);
    int rc = 0;
    for (int i = 0; i < CONCURRENCY; i++) {
        int x = cio_join(t[i]);
        if (x < 0 && !rc)
            rc = x;
    }
    return rc;
}

struct args {
    struct nginx *ng;
    long n;
    double result;
    double cpu_us; /* the client's CPU time per request */
};

static int main_task(void *arg)
{
    struct args *a = arg;
    struct run r = {0};
    snprintf(r.url, sizeof r.url, "%s/user.json", a->ng->base);
    int rc = cio_http_session_new(NULL, &r.s);
    if (rc < 0)
        return rc;
    rc = batch(&r, 2000); /* warm-up: connections opened, handles pooled */
    double v[3], cpu[3];
    for (int i = 0; i < 3 && rc == 0; i++) {
        int64_t t0 = bench_now_ns(), c0 = bench_cpu_ns();
        rc = batch(&r, a->n);
        v[i] = (double)a->n / ((double)(bench_now_ns() - t0) / 1e9);
        cpu[i] = (double)(bench_cpu_ns() - c0) / 1e3 / (double)a->n;
    }
    cio_http_session_close(r.s);
    if (rc == 0 && r.failed)
        rc = -EIO;
    if (rc == 0) {
        a->result = bench_median(v, 3);
        a->cpu_us = bench_median(cpu, 3);
    }
    return rc;
}

int main(int argc, char **argv)
{
    struct nginx ng;
    if (nginx_start(&ng, false) < 0)
        return 1;
    struct args a = {.ng = &ng, .n = bench_size(argc, argv, 20000, 2000)};
    int rc = cio_run(main_task, &a);
    nginx_stop(&ng);
    if (rc < 0) {
        fprintf(stderr, "bench_http_get_json: %s\n", cio_strerror(rc));
        return 1;
    }
    bench_emit("http.get_json_20k_c100", "cio", a.result, "ops/s", "higher");
    bench_emit("http.get_json_20k_c100.client_cpu", "cio", a.cpu_us, "us", "lower");
    return 0;
}
