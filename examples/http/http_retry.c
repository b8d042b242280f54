/* The guide's fetch_with_retry: a GET with raise_for_status, retried with
 * exponential backoff and jitter when it fails with a client error.
 *
 *     @async_retry(max_attempts=3, delay=1.0, exceptions=(aiohttp.ClientError,))
 *     async def fetch_with_retry(url):
 *         async with aiohttp.ClientSession() as session:
 *             async with session.get(url) as response:
 *                 response.raise_for_status()
 *                 return await response.json()
 *
 * Usage: http_retry [-d DELAY] URL   (DELAY: the first backoff, default 1.0) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <cio.h>
#include <cio/http.h>
#include <cio/retry.h>

struct fetch {
    const char *url;
    json_t *json;
    char why[300];
};

static int fetch_with_retry(void *arg)
{
    struct fetch *f = arg;
    cio_http_session *session;
    int rc = cio_http_session_new(NULL, &session);
    if (rc < 0)
        return rc;
    cio_http_request req = {.url = f->url, .raise_for_status = 1};
    cio_http_response *r;
    json_t *j;
    rc = cio_http_request_send(session, &req, &r);
    if (rc == 0)
        rc = cio_http_response_json(r, &j);
    if (rc == 0)
        f->json = json_incref(j);
    else
        snprintf(f->why, sizeof f->why, "%s: %s", cio_err_name(rc), cio_http_response_error(r));
    cio_http_response_free(r);
    cio_http_session_close(session);
    return rc;
}

/* aiohttp.ClientError: every HTTP or transport failure, not cancellation
 * nor a bad argument. */
static bool client_error(int err, void *arg)
{
    (void)arg;
    return err != -ECANCELED && err != -EINVAL && err != -ENOMEM;
}

static void on_retry(int attempt, int err, double delay, void *arg)
{
    struct fetch *f = arg;
    printf("Attempt %d failed (%s), retrying in %.2fs\n", attempt,
           f->why[0] ? f->why : cio_strerror(err), delay);
    f->why[0] = 0;
}

struct args {
    double delay;
    const char *url;
};

static int main_task(void *arg)
{
    struct args *a = arg;
    struct fetch f = {.url = a->url};
    cio_retry_policy p = {.max_attempts = 3,
                          .base_delay = a->delay,
                          .factor = 2.0,
                          .retryable = client_error,
                          .on_retry = on_retry,
                          .arg = &f};
    int rc = cio_retry(&p, fetch_with_retry, &f);
    if (rc < 0) {
        printf("Giving up: %s\n", f.why[0] ? f.why : cio_strerror(rc));
        return rc;
    }
    char *text = json_dumps(f.json, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    printf("%s\n", text ? text : "?");
    free(text);
    json_decref(f.json);
    return 0;
}

int main(int argc, char **argv)
{
    struct args a = {.delay = 1.0};
    int i = 1;
    if (i + 1 < argc && !strcmp(argv[i], "-d")) {
        a.delay = atof(argv[i + 1]);
        i += 2;
    }
    if (i + 1 != argc || !(a.delay > 0)) {
        fprintf(stderr, "usage: %s [-d DELAY] URL\n", argv[0]);
        return 2;
    }
    a.url = argv[i];
    return cio_run(main_task, &a) == 0 ? 0 : 1;
}
