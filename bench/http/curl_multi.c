/* bench_http_curl_multi: the limit of the dependency. A plain C program on
 * libcurl's multi interface (curl_multi_perform + curl_multi_poll, no event
 * loop of ours) runs the same workload as bench_http_get_json: 20,000 GETs
 * of /user.json, 100 in flight, each body parsed with jansson, easy handles
 * reused. Median of 3 runs after a warm-up. Impl "libcurl-multi". */
#include <curl/curl.h>
#include <jansson.h>

#include "common/bench.h"
#include "fixture.h"

#define CONCURRENCY 100

struct slot {
    CURL *easy;
    char buf[4096];
    size_t len;
};

static size_t on_body(char *d, size_t size, size_t n, void *arg)
{
    struct slot *s = arg;
    size_t k = size * n;
    if (s->len + k > sizeof s->buf)
        return 0;
    memcpy(s->buf + s->len, d, k);
    s->len += k;
    return k;
}

static long failed;

static void start(CURLM *m, struct slot *s)
{
    s->len = 0;
    curl_multi_add_handle(m, s->easy);
}

static void finish(struct slot *s, CURLcode c)
{
    long status = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    json_error_t e;
    json_t *j = c == CURLE_OK && status == 200 ? json_loadb(s->buf, s->len, 0, &e) : NULL;
    if (!j || !json_object_get(j, "id")) {
        if (failed++ == 0)
            fprintf(stderr, "request failed: %s, status %ld\n", curl_easy_strerror(c), status);
    }
    json_decref(j);
}

/* Makes n requests, CONCURRENCY at a time. */
static void batch(CURLM *m, struct slot *slots, long n)
{
    long started = 0, done = 0;
    for (int i = 0; i < CONCURRENCY && started < n; i++, started++)
        start(m, &slots[i]);
    int running = 1;
    while (done < n) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct slot *s;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            CURLcode c = msg->data.result;
            curl_multi_remove_handle(m, s->easy);
            finish(s, c);
            done++;
            if (started < n) {
                started++;
                start(m, s);
            }
        }
        if (done < n)
            curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
}

int main(int argc, char **argv)
{
    struct nginx ng;
    if (nginx_start(&ng, false) < 0)
        return 1;
    long n = bench_size(argc, argv, 20000, 2000);
    char url[128];
    snprintf(url, sizeof url, "%s/user.json", ng.base);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)CONCURRENCY);
    static struct slot slots[CONCURRENCY];
    for (int i = 0; i < CONCURRENCY; i++) {
        CURL *e = slots[i].easy = curl_easy_init();
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &slots[i]);
        curl_easy_setopt(e, CURLOPT_PRIVATE, &slots[i]);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    }
    batch(m, slots, 2000);
    double v[3], cpu[3];
    for (int i = 0; i < 3; i++) {
        int64_t t0 = bench_now_ns(), c0 = bench_cpu_ns();
        batch(m, slots, n);
        v[i] = (double)n / ((double)(bench_now_ns() - t0) / 1e9);
        cpu[i] = (double)(bench_cpu_ns() - c0) / 1e3 / (double)n;
    }
    for (int i = 0; i < CONCURRENCY; i++)
        curl_easy_cleanup(slots[i].easy);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    nginx_stop(&ng);
    if (failed) {
        fprintf(stderr, "bench_http_curl_multi: %ld requests failed\n", failed);
        return 1;
    }
    bench_emit("http.get_json_20k_c100", "libcurl-multi", bench_median(v, 3), "ops/s", "higher");
    bench_emit("http.get_json_20k_c100.client_cpu", "libcurl-multi", bench_median(cpu, 3), "us",
               "lower");
    return 0;
}
