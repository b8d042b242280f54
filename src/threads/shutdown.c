/* cio_run()'s graceful shutdown: the first SIGINT or SIGTERM cancels the
 * main task, a second one or the deadline forces the exit; and the
 * conventional exit status afterwards. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cio/signal.h"
#include "threads/threads.h"

/* The signal that shut down the last loop run on this thread. */
static __thread int last_signo;

void cio__shutdown_set_signal(int signo)
{
    last_signo = signo;
}

int cio_shutdown_signal(void)
{
    return last_signo;
}

int cio_exit_status(int rc)
{
    if (last_signo)
        return 128 + last_signo;
    if (rc >= 0 && rc <= 255)
        return rc;
    return 1;
}

void cio__shutdown_force(struct cio__loop *loop, int signo, const char *why)
{
    cio__report(loop, "%s: forcing exit with %ld task(s) still alive", why, loop->ntasks);
    cio_dump_tasks(loop->report);
    fflush(NULL);
    _exit(128 + signo);
}

static void deadline_fire(struct cio__timer *timer)
{
    struct cio__threads *th = cio__container_of(timer, struct cio__threads, shutdown_timer);
    struct cio__loop *loop = cio__tls_loop;
    char why[64];
    snprintf(why, sizeof why, "shutdown deadline of %.3g s passed",
             (double)th->shutdown_timeout_ns / 1e9);
    cio__shutdown_force(loop, th->shutdown_signo, why);
}

void cio__shutdown_signal(struct cio__loop *loop, struct cio__threads *th, int signo)
{
    if (th->shutdown_signo) {
        char why[48];
        snprintf(why, sizeof why, "second signal (%s)", sigabbrev_np(signo));
        cio__shutdown_force(loop, signo, why);
    }
    th->shutdown_signo = signo;
    last_signo = signo;
    struct cio__task *m = loop->main_task;
    bool alive = m && m->state != CIO__T_DONE;
    if (th->shutdown_timeout_ns != CIO__NEVER) {
        th->shutdown_timer.fire = deadline_fire;
        th->shutdown_timer.deadline = cio__deadline_after(loop->now, th->shutdown_timeout_ns);
        if (cio__timer_start(loop, &th->shutdown_timer) < 0)
            cio__report(loop, "no memory for the shutdown deadline: none will be enforced");
        else
            th->shutdown_timer_on = true;
    }
    cio__report(loop, "received SIG%s: %s (send it again to force the exit)", sigabbrev_np(signo),
                alive ? "cancelling the main task" : "shutting down");
    if (alive)
        cio__cancel_task(m, -ECANCELED);
}

void cio__shutdown_install(struct cio__loop *loop, const cio_run_options *opts)
{
    last_signo = 0;
    if (opts && opts->no_signal_handling)
        return;
    /* Only the process's main thread: a signal is the whole process's, and
     * loops on other threads leave it to the thread that started them. */
    if (syscall(SYS_gettid) != getpid())
        return;
    struct cio__threads *th = cio__threads_get(loop);
    if (!th) {
        cio__report(loop, "no memory to watch SIGINT and SIGTERM: default actions kept");
        return;
    }
    double s = opts ? opts->shutdown_timeout : 0;
    if (s == 0)
        s = CIO_DEFAULT_SHUTDOWN_TIMEOUT;
    th->shutdown_timeout_ns = s < 0 ? CIO__NEVER : cio__sec_to_ns(s);
    static const int sigs[] = {SIGINT, SIGTERM};
    for (size_t i = 0; i < 2; i++) {
        /* A signal the program ignores (a background job's SIGINT) or
         * handles itself is left alone. */
        if (!cio__sigrelay_default(sigs[i]))
            continue;
        int rc = cio__signal_watch(loop, th, sigs[i]);
        if (rc < 0)
            cio__report(loop, "cannot watch SIG%s (%s): default action kept", sigabbrev_np(sigs[i]),
                        cio_strerror(rc));
        else
            th->shutdown_on = true;
    }
    if (th->shutdown_on)
        loop->poll_count = cio__sigrelay_arm_shutdown(true);
}

void cio__shutdown_fini(struct cio__loop *loop, struct cio__threads *th)
{
    if (th->shutdown_timer_on)
        cio__timer_stop(loop, &th->shutdown_timer);
    if (loop->poll_count) {
        cio__sigrelay_arm_shutdown(false);
        loop->poll_count = NULL;
    }
}
