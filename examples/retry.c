/* The guide's async_retry: exponential backoff with jitter.
 *
 *     @async_retry(max_attempts=3, delay=1.0, exceptions=(aiohttp.ClientError,))
 *     async def fetch_with_retry(url: str) -> dict: ...
 *
 * which prints, between attempts,
 *
 *     print(f"Attempt {attempt + 1} failed, retrying in {wait_time:.2f}s")
 *
 * Here the fetch fails twice with a connection reset, then succeeds. The
 * jitter's seed is fixed so the delays printed are the same on every run.
 * CIO_VIRTUAL_CLOCK=1 skips the waiting. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <cio.h>

struct fetch {
    const char *url;
    int calls;
    char body[64];
};

static int fetch(void *arg) /* fails twice, like a flaky server */
{
    struct fetch *f = arg;
    if (++f->calls < 3)
        return -ECONNRESET;
    snprintf(f->body, sizeof f->body, "{\"url\": \"%s\", \"ok\": true}", f->url);
    return 0;
}

static bool client_error(int err, void *arg) /* exceptions=(ClientError,) */
{
    (void)arg;
    return err == -ECONNRESET || err == -ECONNREFUSED || err == -ETIMEDOUT;
}

static void log_retry(int attempt, int err, double delay, void *arg)
{
    (void)err, (void)arg;
    printf("Attempt %d failed, retrying in %.2fs\n", attempt, delay);
}

static int main_task(void *arg)
{
    (void)arg;
    struct fetch f = {.url = "https://api.example.com/data"};
    cio_retry_policy policy = {.max_attempts = 3,
                               .base_delay = 1.0,
                               .factor = 2.0,
                               .retryable = client_error,
                               .on_retry = log_retry,
                               .seed = 42};
    int rc = cio_retry(&policy, fetch, &f);
    if (rc < 0) {
        printf("Failed: %s\n", cio_strerror(rc));
        return rc;
    }
    printf("%s\n", f.body);
    return 0;
}

int main(void)
{
    cio_run_options opts = {.virtual_clock = getenv("CIO_VIRTUAL_CLOCK") != NULL};
    return cio_run_with(&opts, main_task, NULL) < 0;
}
