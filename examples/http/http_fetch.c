/* The guide's fetch_url and fetch_multiple_urls:
 *
 *     async def fetch_url(session, url):
 *         async with session.get(url) as response:
 *             return await response.json()
 *
 *     async def fetch_multiple_urls(urls):
 *         async with aiohttp.ClientSession() as session:
 *             tasks = [fetch_url(session, url) for url in urls]
 *             return await asyncio.gather(*tasks, return_exceptions=True)
 *
 * Usage: http_fetch URL...   (prints each URL's JSON, or its error) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include <cio.h>
#include <cio/gather.h>
#include <cio/http.h>

struct fetch {
    cio_http_session *session;
    const char *url;
    json_t *json;  /* the result, owned */
    char why[256]; /* or what went wrong */
};

static int fetch_url(void *arg)
{
    struct fetch *f = arg;
    CIO_HTTP_RESPONSE(r); /* freed when the function returns */
    json_t *j;
    int rc = cio_http_get(f->session, f->url, &r);
    if (rc == 0)
        rc = cio_http_response_json(r, &j);
    if (rc < 0) {
        snprintf(f->why, sizeof f->why, "%s (%s)", cio_strerror(rc), cio_http_response_error(r));
        return rc;
    }
    f->json = json_incref(j); /* keep it past the response */
    return 0;
}

struct urls {
    int n;
    char **v;
};

static int fetch_multiple_urls(void *arg)
{
    struct urls *u = arg;
    cio_http_session *session;
    int rc = cio_http_session_new(NULL, &session);
    if (rc < 0)
        return rc;
    struct fetch *f = calloc((size_t)u->n, sizeof *f);
    cio_task *tasks = calloc((size_t)u->n, sizeof *tasks);
    int *results = calloc((size_t)u->n, sizeof *results);
    if (!f || !tasks || !results) {
        rc = -ENOMEM;
        goto out;
    }
    double start = cio_time();
    for (int i = 0; i < u->n; i++) {
        f[i] = (struct fetch){.session = session, .url = u->v[i]};
        tasks[i] = cio_spawn(fetch_url, &f[i]);
    }
    rc = cio_gather_results(tasks, (size_t)u->n, results); /* return_exceptions=True */
    int failed = 0;
    for (int i = 0; i < u->n; i++) {
        if (results[i] < 0) {
            failed++;
            printf("%s: error: %s\n", f[i].url, f[i].why[0] ? f[i].why : cio_strerror(results[i]));
            continue;
        }
        char *text = json_dumps(f[i].json, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        printf("%s: %s\n", f[i].url, text ? text : "?");
        free(text);
        json_decref(f[i].json);
    }
    printf("Fetched %d URLs (%d failed) in %.2fs\n", u->n, failed, cio_time() - start);
    if (rc == 0 && failed)
        rc = 1;
out:
    free(f);
    free(tasks);
    free(results);
    cio_http_session_close(session);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s URL...\n", argv[0]);
        return 2;
    }
    struct urls u = {argc - 1, argv + 1};
    int rc = cio_run(fetch_multiple_urls, &u);
    return rc == 0 ? 0 : 1;
}
