/* The guide's GracefulShutdown: start a job every 0.2 s until SIGINT or
 * SIGTERM arrives, then cancel the jobs in flight, let each finish its
 * cleanup, and say what finished and what was cancelled.
 *
 * cio_run() does the signal part by default: the first SIGINT/SIGTERM
 * cancels the main task, so its sleep returns -ECANCELED, and every
 * cio_join() below cancels its child and waits for it to unwind. A second
 * signal (or 10 s) forces the exit. The exit status is 130/143 as for any
 * program stopped by a signal.
 *
 *     $ ./graceful_shutdown & sleep 1; kill -TERM $!
 */
#include <stdio.h>

#include <cio.h>

#define MAX_JOBS 256

struct job {
    int id;
    enum { RUNNING, FINISHED, CANCELLED } state;
};

static int do_work(void *arg)
{
    struct job *j = arg;
    int rc = cio_sleep(0.5); /* the work */
    if (rc < 0) {
        /* Cleanup that must itself wait (flushing a partial result)
         * runs shielded from the cancellation. */
        CIO_SHIELD(s);
        cio_sleep(0.05);
        j->state = CANCELLED;
        printf("job %d cancelled, cleaned up\n", j->id);
        return rc;
    }
    j->state = FINISHED;
    printf("job %d finished\n", j->id);
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    static struct job jobs[MAX_JOBS];
    static cio_task tasks[MAX_JOBS];
    int n = 0;
    printf("running: send SIGINT (Ctrl-C) or SIGTERM to stop\n");
    fflush(stdout);
    /* Run until shutdown: a new job every 0.2 s. */
    for (; n < MAX_JOBS; n++) {
        jobs[n] = (struct job){.id = n + 1};
        tasks[n] = cio_spawn(do_work, &jobs[n]);
        if (cio_sleep(0.2) < 0) {
            n++;
            break;
        }
    }
    printf("shutting down: waiting for %d job(s)\n", n);
    int finished = 0, cancelled = 0;
    for (int i = 0; i < n; i++) {
        cio_join(tasks[i]); /* cancels the job if main was cancelled */
        finished += jobs[i].state == FINISHED;
        cancelled += jobs[i].state == CANCELLED;
    }
    printf("shutdown complete: %d finished, %d cancelled\n", finished, cancelled);
    fflush(stdout);
    return 0;
}

int main(void)
{
    return cio_exit_status(cio_run(main_task, NULL));
}
