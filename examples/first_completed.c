/* The guide's wait_for_first: three sources raced, the first answer wins,
 * the others are cancelled.
 *
 *     tasks = [asyncio.create_task(fetch_from_cache()),
 *              asyncio.create_task(fetch_from_db()),
 *              asyncio.create_task(fetch_from_api())]
 *     done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
 *     for task in pending:
 *         task.cancel()
 *     return done.pop().result()
 *
 * cio_wait() puts the finished tasks first in the array and returns how
 * many there are. Prints what `print(await wait_for_first())` would. */
#include <stdio.h>

#include <cio.h>

struct source {
    const char *name;
    double latency;
    char result[32];
};

static int fetch(void *arg)
{
    struct source *s = arg;
    int rc = cio_sleep(s->latency);
    if (rc < 0)
        return rc;
    snprintf(s->result, sizeof s->result, "data from %s", s->name);
    return 0;
}

static int wait_for_first(void *arg)
{
    (void)arg;
    struct source sources[3] = {
        {.name = "cache", .latency = 0.01},
        {.name = "db", .latency = 0.05},
        {.name = "api", .latency = 0.2},
    };
    cio_task tasks[3];
    for (int i = 0; i < 3; i++)
        tasks[i] = cio_spawn(fetch, &sources[i]);

    int ndone = cio_wait(tasks, 3, CIO_FIRST_COMPLETED, -1);
    if (ndone < 0)
        return ndone;
    for (int i = ndone; i < 3; i++) /* cancel pending tasks */
        cio_cancel(tasks[i]);
    for (int i = 0; i < 3; i++) /* and reap them all: no task outlives us */
        cio_join(tasks[i]);

    for (int i = 0; i < 3; i++)
        if (sources[i].result[0])
            printf("%s\n", sources[i].result);
    return 0;
}

int main(void)
{
    return cio_run(wait_for_first, NULL) < 0;
}
