/* The guide's "Avoid Blocking Calls": a slow blocking function called
 * directly stops every task of the loop; handed to a thread pool
 * (run_in_executor) it runs while the other tasks keep going.
 *
 * A heartbeat task ticks every 0.1 s; the blocking call takes 0.5 s. */
#define _POSIX_C_SOURCE 200809L /* nanosleep, also under -std=c11 */
#include <stdio.h>
#include <time.h>

#include <cio.h>

/* A blocking function, as a library call that knows nothing of cio. */
static int slow_checksum(void *arg)
{
    const char *text = arg;
    nanosleep(&(struct timespec){.tv_nsec = 500 * 1000 * 1000}, NULL); /* time.sleep(0.5) */
    int sum = 0;
    for (const char *p = text; *p; p++)
        sum = (sum * 31 + *p) & 0xffff;
    return sum;
}

static int heartbeat(void *arg)
{
    int *ticks = arg;
    while (cio_sleep(0.1) == 0)
        ++*ticks;
    return 0;
}

/* Runs the checksum directly or through pool, with a heartbeat beside. */
static int measure(const char *how, cio_executor *pool)
{
    int ticks = 0;
    cio_task hb = cio_spawn(heartbeat, &ticks);
    cio_yield(); /* let it start */
    double start = cio_time();
    char text[] = "http://example.com";
    int sum = pool ? cio_run_in_executor(&(cio_job_options){.executor = pool}, slow_checksum, text)
                   : slow_checksum(text); /* BLOCKS the loop */
    if (sum < 0)
        return sum;
    cio_sleep(0.05); /* let a tick due now run before we stop */
    cio_cancel(hb);
    cio_join(hb);
    printf("%-10s checksum %5d in %.2fs; heartbeat ticked %d times meanwhile\n", how, sum,
           cio_time() - start, ticks);
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    int rc = measure("bad:", NULL);
    /* asyncio: with ThreadPoolExecutor() as pool: run_in_executor(pool...) */
    cio_executor *pool;
    if (rc == 0)
        rc = cio_executor_new(&pool, NULL);
    if (rc == 0) {
        rc = measure("good:", pool);
        cio_executor_shutdown(pool, false);
    }
    /* The default pool: asyncio.to_thread(). */
    if (rc == 0) {
        char text[] = "http://example.com";
        int sum = cio_to_thread(slow_checksum, text);
        printf("to_thread: checksum %5d\n", sum);
    }
    return rc;
}

int main(void)
{
    return cio_exit_status(cio_run(main_task, NULL));
}
