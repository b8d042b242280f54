/* The guide's GracefulShutdown: start a job every 0.2 s until SIGINT or
 * SIGTERM arrives, then cancel the jobs in flight, let each finish its
 * cleanup, and say what finished and what was cancelled.
 *
 * cio_run() does the signal part by default: the first SIGINT/SIGTERM
 * cancels the main task, so its sleep returns -ECANCELED, and the task
 * group's wait cancels every job still running and waits for it to
 * unwind. A second signal (or 10 s) forces the exit. The exit status is
 * 130/143 as for any program stopped by a signal.
 *
 *     $ ./graceful_shutdown & sleep 1; kill -TERM $!
 */
#include <stdint.h>
#include <stdio.h>

#include <cio.h>

static struct {
    int finished, cancelled;
} stats;

static int do_work(void *arg)
{
    int id = (int)(intptr_t)arg;
    int rc = cio_sleep(0.5); /* the work */
    if (rc < 0) {
        /* Cleanup that must itself wait (flushing a partial result)
         * runs shielded from the cancellation. */
        CIO_SHIELD(s);
        cio_sleep(0.05);
        stats.cancelled++;
        printf("job %d cancelled, cleaned up\n", id);
        return rc;
    }
    stats.finished++;
    printf("job %d finished\n", id);
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    /* The group plays the guide's task registry: it holds the jobs in
     * flight (a finished one leaves it at once) and none outlives it. */
    CIO_GROUP(jobs);
    printf("running: send SIGINT (Ctrl-C) or SIGTERM to stop\n");
    fflush(stdout);
    /* Run until shutdown: a new job every 0.2 s. */
    int n = 0;
    do
        cio_group_spawn(&jobs, do_work, (void *)(intptr_t)++n);
    while (cio_sleep(0.2) == 0);
    printf("shutting down: waiting for %zu job(s)\n", cio_group_running(&jobs));
    cio_group_wait(&jobs); /* main is cancelled: so are the jobs, each unwinds */
    printf("shutdown complete: %d finished, %d cancelled\n", stats.finished, stats.cancelled);
    fflush(stdout);
    return 0;
}

int main(void)
{
    return cio_exit_status(cio_run(main_task, NULL));
}
