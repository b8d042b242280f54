/* The guide's fetch_with_rate_limit: at most max_concurrent requests at
 * once, with a semaphore around each.
 *
 *     async def limited_fetch(session, url):
 *         async with semaphore:
 *             async with session.get(url) as response:
 *                 return await response.json()
 *
 * Usage: rate_limit [-n MAX_CONCURRENT] URL...   (default 10) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <cio.h>
#include <cio/gather.h>
#include <cio/http.h>
#include <cio/sync.h>

struct shared {
    cio_http_session *session;
    cio_semaphore semaphore;
    int in_flight, most_in_flight;
};

struct fetch {
    struct shared *sh;
    const char *url;
    json_t *json;
};

static int limited_fetch(void *arg)
{
    struct fetch *f = arg;
    struct shared *sh = f->sh;
    int rc;
    CIO_WITH_SEMAPHORE_RC(rc, &sh->semaphore)
    {
        if (++sh->in_flight > sh->most_in_flight)
            sh->most_in_flight = sh->in_flight;
        CIO_HTTP_RESPONSE(r);
        json_t *j;
        rc = cio_http_get(sh->session, f->url, &r);
        if (rc == 0)
            rc = cio_http_response_json(r, &j);
        if (rc == 0)
            f->json = json_incref(j);
        sh->in_flight--;
    }
    return rc;
}

struct args {
    int max_concurrent, n;
    char **urls;
};

static int fetch_with_rate_limit(void *arg)
{
    struct args *a = arg;
    struct shared sh = {0};
    cio_semaphore_init(&sh.semaphore, (unsigned long)a->max_concurrent);
    int rc = cio_http_session_new(NULL, &sh.session);
    if (rc < 0)
        return rc;
    struct fetch *f = calloc((size_t)a->n, sizeof *f);
    cio_task *tasks = calloc((size_t)a->n, sizeof *tasks);
    int *results = calloc((size_t)a->n, sizeof *results);
    if (f && tasks && results) {
        double start = cio_time();
        for (int i = 0; i < a->n; i++) {
            f[i] = (struct fetch){.sh = &sh, .url = a->urls[i]};
            tasks[i] = cio_spawn(limited_fetch, &f[i]);
        }
        rc = cio_gather_results(tasks, (size_t)a->n, results);
        int ok = 0;
        for (int i = 0; i < a->n; i++) {
            if (results[i] == 0)
                ok++;
            else
                printf("%s: %s\n", f[i].url, cio_strerror(results[i]));
            json_decref(f[i].json);
        }
        printf("Fetched %d/%d URLs in %.2fs, at most %d at once (limit %d)\n", ok, a->n,
               cio_time() - start, sh.most_in_flight, a->max_concurrent);
        if (rc == 0 && ok != a->n)
            rc = 1;
    } else {
        rc = -ENOMEM;
    }
    free(f);
    free(tasks);
    free(results);
    cio_http_session_close(sh.session);
    return rc;
}

int main(int argc, char **argv)
{
    struct args a = {.max_concurrent = 10};
    int i = 1;
    if (i + 1 < argc && !strcmp(argv[i], "-n")) {
        a.max_concurrent = atoi(argv[i + 1]);
        i += 2;
    }
    if (i >= argc || a.max_concurrent < 1) {
        fprintf(stderr, "usage: %s [-n MAX_CONCURRENT] URL...\n", argv[0]);
        return 2;
    }
    a.n = argc - i;
    a.urls = argv + i;
    return cio_run(fetch_with_rate_limit, &a) == 0 ? 0 : 1;
}
