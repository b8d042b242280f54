/* fetch: downloads the URLs listed in a file, a few at a time, retrying
 * what fails, with a progress line.
 *
 * Usage: fetch [-c CONCURRENCY] [-r RETRIES] [-t TIMEOUT] [-o DIR] [-p] FILE
 *   FILE         one URL per line ('-' for standard input); blank lines and
 *                lines starting with '#' are skipped
 *   -c N         requests in flight at once (default 10)
 *   -r N         retries of a failed request: transport errors, 429 and 5xx
 *                (default 3), with exponential backoff from 0.2 s
 *   -t SECONDS   total timeout of each attempt (default 30)
 *   -o DIR       save each body as DIR/<line number>
 *   -p           show the progress line even if stderr is not a terminal
 *
 * Prints one line per URL (status, size, time, URL, or the error), then a
 * summary. Exits 0 if every URL was fetched with a 2xx status, 1 if not.
 *
 * The shape: a fixed pool of worker tasks takes URLs from a shared cursor
 * (the loop is single-threaded, so a plain int is a safe queue), each
 * fetch goes through cio_retry(), and a ticker task redraws the progress
 * line ten times a second. */
#define _POSIX_C_SOURCE 200809L /* getline, strdup, also under -std=c11 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cio.h>
#include <cio/gather.h>
#include <cio/http.h>
#include <cio/retry.h>

struct job {
    char *url;
    int line;
    int status; /* last HTTP status, 0 if none */
    int rc;     /* 0 or the final error */
    size_t bytes;
    double secs;
    char why[200];
};

struct run {
    cio_http_session *session;
    struct job *jobs;
    int njobs, next, finished, failed, retries_done;
    size_t bytes;
    int concurrency, retries;
    double timeout, start;
    const char *outdir;
    bool progress;
};

struct attempt {
    struct run *run;
    struct job *job;
};

static int save(struct run *run, struct job *job, const void *body, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%d", run->outdir, job->line);
    /* A plain blocking write: fine for a small tool. A server would hand
     * it to the executor (cio/executor.h). */
    FILE *f = fopen(path, "wb");
    if (!f)
        return -errno;
    size_t n = fwrite(body, 1, len, f);
    int rc = fclose(f);
    return n == len && rc == 0 ? 0 : -EIO;
}

static int fetch_once(void *arg)
{
    struct attempt *a = arg;
    struct job *job = a->job;
    cio_http_timeout tm = {.total = a->run->timeout};
    cio_http_request req = {.url = job->url, .timeout = &tm, .raise_for_status = 1};
    CIO_HTTP_RESPONSE(r);
    double t0 = cio_time();
    int rc = cio_http_request_send(a->run->session, &req, &r);
    job->secs = cio_time() - t0;
    job->status = cio_http_response_status(r);
    if (rc < 0) {
        snprintf(job->why, sizeof job->why, "%s",
                 cio_http_response_error(r)[0] ? cio_http_response_error(r) : cio_strerror(rc));
        return rc;
    }
    size_t len;
    const void *body = cio_http_response_body(r, &len);
    job->bytes = len;
    if (a->run->outdir && (rc = save(a->run, job, body, len)) < 0)
        snprintf(job->why, sizeof job->why, "saving: %s", cio_strerror(rc));
    return rc;
}

/* Transport failures, 429 and 5xx are worth another try; 4xx are not. */
static bool retryable(int err, void *arg)
{
    struct attempt *a = arg;
    if (err == CIO_EHTTP_STATUS)
        return a->job->status == 429 || a->job->status >= 500;
    return err != -ECANCELED && err != -EINVAL && err != -ENOMEM && err != -EPROTONOSUPPORT &&
           err != CIO_EHTTP_CLOSED;
}

static void on_retry(int attempt, int err, double delay, void *arg)
{
    (void)attempt, (void)err, (void)delay;
    struct attempt *a = arg;
    a->run->retries_done++;
}

static int worker(void *arg)
{
    struct run *run = arg;
    while (run->next < run->njobs) {
        struct job *job = &run->jobs[run->next++];
        struct attempt a = {run, job};
        cio_retry_policy p = {.max_attempts = run->retries + 1,
                              .base_delay = 0.2,
                              .max_delay = 5,
                              .retryable = retryable,
                              .on_retry = on_retry,
                              .arg = &a};
        job->rc = cio_retry(&p, fetch_once, &a);
        if (job->rc == -ECANCELED)
            return job->rc;
        run->finished++;
        run->bytes += job->bytes;
        if (run->progress)
            fputs("\r\033[K", stderr);
        if (job->rc < 0) {
            run->failed++;
            printf("ERR %-4d %s  %s\n", job->status, job->why, job->url);
        } else {
            printf("%-7d %9zu B %7.3f s  %s\n", job->status, job->bytes, job->secs, job->url);
        }
        fflush(stdout);
    }
    return 0;
}

static void draw(struct run *run)
{
    double t = cio_time() - run->start;
    fprintf(stderr, "\r\033[K[%*d/%d] %d failed, %d retries, %.1f MB, %.0f req/s",
            run->njobs > 999 ? 5 : 3, run->finished, run->njobs, run->failed, run->retries_done,
            (double)run->bytes / 1e6, t > 0 ? run->finished / t : 0.0);
    fflush(stderr);
}

static int ticker(void *arg)
{
    struct run *run = arg;
    while (cio_sleep(0.1) == 0)
        draw(run);
    return 0;
}

static int main_task(void *arg)
{
    struct run *run = arg;
    cio_http_session_options o = {.limit = run->concurrency};
    int rc = cio_http_session_new(&o, &run->session);
    if (rc < 0)
        return rc;
    run->start = cio_time();
    cio_task tick = run->progress ? cio_spawn(ticker, run) : CIO_TASK_NONE;
    int n = run->concurrency < run->njobs ? run->concurrency : run->njobs;
    cio_task *workers = calloc((size_t)(n ? n : 1), sizeof *workers);
    if (!workers)
        rc = -ENOMEM;
    for (int i = 0; workers && i < n; i++)
        workers[i] = cio_spawn(worker, run);
    if (workers)
        rc = cio_gather(workers, (size_t)n);
    free(workers);
    if (run->progress) {
        cio_cancel(tick);
        cio_join(tick);
        draw(run);
        fputc('\n', stderr);
    }
    double t = cio_time() - run->start;
    printf("%d URLs: %d ok, %d failed, %zu bytes in %.2f s (%.0f req/s, %d retries)\n", run->njobs,
           run->finished - run->failed, run->failed, run->bytes, t, t > 0 ? run->finished / t : 0.0,
           run->retries_done);
    cio_http_session_close(run->session);
    return rc < 0 ? rc : run->failed ? 1 : 0;
}

static int read_urls(const char *path, struct run *run)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f)
        return -errno;
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, cap_jobs = 0;
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        char *s = line + strspn(line, " \t");
        s[strcspn(s, " \t\r\n")] = 0;
        if (!*s || *s == '#')
            continue;
        if (run->njobs == cap_jobs) {
            cap_jobs = cap_jobs ? cap_jobs * 2 : 64;
            struct job *j = realloc(run->jobs, (size_t)cap_jobs * sizeof *j);
            if (!j)
                return -ENOMEM;
            run->jobs = j;
        }
        run->jobs[run->njobs++] = (struct job){.url = strdup(s), .line = lineno};
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return 0;
}

static int usage(const char *argv0)
{
    fprintf(stderr, "usage: %s [-c CONCURRENCY] [-r RETRIES] [-t TIMEOUT] [-o DIR] [-p] FILE\n",
            argv0);
    return 2;
}

int main(int argc, char **argv)
{
    struct run run = {.concurrency = 10, .retries = 3, .timeout = 30};
    run.progress = isatty(2);
    int opt;
    while ((opt = getopt(argc, argv, "c:r:t:o:p")) != -1) {
        switch (opt) {
        case 'c':
            run.concurrency = atoi(optarg);
            break;
        case 'r':
            run.retries = atoi(optarg);
            break;
        case 't':
            run.timeout = atof(optarg);
            break;
        case 'o':
            run.outdir = optarg;
            break;
        case 'p':
            run.progress = true;
            break;
        default:
            return usage(argv[0]);
        }
    }
    if (optind + 1 != argc || run.concurrency < 1 || run.retries < 0 || !(run.timeout > 0))
        return usage(argv[0]);
    int rc = read_urls(argv[optind], &run);
    if (rc < 0) {
        fprintf(stderr, "%s: %s: %s\n", argv[0], argv[optind], cio_strerror(rc));
        return 2;
    }
    rc = cio_run(main_task, &run);
    if (rc < 0)
        fprintf(stderr, "%s: %s\n", argv[0], cio_strerror(rc));
    for (int i = 0; i < run.njobs; i++)
        free(run.jobs[i].url);
    free(run.jobs);
    return rc == 0 ? 0 : 1;
}
