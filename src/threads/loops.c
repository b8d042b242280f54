/* cio_run_loops(): one loop per thread, share-nothing, and the signal
 * handling that the calling thread does for all of them. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cio/threadsafe.h"
#include "threads/threads.h"

static __thread int loop_index = -1;

int cio_loop_index(void)
{
    return loop_index;
}

struct group;

struct member {
    struct group *g;
    unsigned index;
    pthread_t thread;
    int result;
};

struct group {
    cio_task_fn main;
    void *arg;
    cio_run_options run;
    pthread_mutex_t mu;
    cio_loop_ref **refs; /* while each loop's main runs; under mu */
    bool stopping;
    int done_fd; /* eventfd: one count per finished loop */
    struct member *m;
};

static int member_main(void *arg)
{
    struct member *m = arg;
    struct group *g = m->g;
    cio_loop_ref *ref = NULL;
    int rc = cio_loop_ref_get(&ref);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&g->mu);
    g->refs[m->index] = ref;
    bool stop = g->stopping;
    pthread_mutex_unlock(&g->mu);
    if (stop)
        cio_cancel(cio_current());
    rc = g->main(g->arg);
    pthread_mutex_lock(&g->mu);
    g->refs[m->index] = NULL;
    pthread_mutex_unlock(&g->mu);
    cio_loop_ref_release(ref);
    return rc;
}

static void *member_thread(void *arg)
{
    struct member *m = arg;
    loop_index = (int)m->index;
    m->result = cio_run_with(&m->g->run, member_main, m);
    uint64_t one = 1;
    ssize_t w = write(m->g->done_fd, &one, sizeof one);
    (void)w;
    return NULL;
}

static void stop_all(struct group *g, unsigned n)
{
    pthread_mutex_lock(&g->mu);
    g->stopping = true;
    for (unsigned i = 0; i < n; i++)
        if (g->refs[i])
            cio_loop_stop_threadsafe(g->refs[i]);
    pthread_mutex_unlock(&g->mu);
}

/* Waits for n loops to finish, turning SIGINT/SIGTERM into their
 * shutdown. sfd < 0: no signal handling. */
static void supervise(struct group *g, unsigned n, int sfd, int64_t timeout_ns)
{
    unsigned finished = 0;
    int signo = 0;
    int64_t deadline = 0;
    while (finished < n) {
        struct pollfd p[2] = {{.fd = g->done_fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
        int ms = -1;
        if (signo && timeout_ns != CIO__NEVER) {
            int64_t left = deadline - cio__mono_ns();
            if (left <= 0) {
                cio__report(NULL, "shutdown deadline passed: forcing exit with %u loop(s) alive",
                            n - finished);
                fflush(NULL);
                _exit(128 + signo);
            }
            ms = (int)((left + 999999) / 1000000);
        }
        if (poll(p, sfd >= 0 ? 2 : 1, ms) < 0 && errno != EINTR)
            break;
        uint64_t v;
        if ((p[0].revents & POLLIN) && read(g->done_fd, &v, sizeof v) == sizeof v)
            finished += (unsigned)v;
        unsigned char got;
        if (sfd >= 0 && (p[1].revents & POLLIN) && read(sfd, &got, 1) == 1) {
            if (signo) {
                cio__report(NULL, "second signal (SIG%s): forcing exit with %u loop(s) alive",
                            sigabbrev_np(got), n - finished);
                fflush(NULL);
                _exit(128 + got);
            }
            signo = got;
            cio__shutdown_set_signal(signo);
            cio__report(NULL, "received SIG%s: cancelling the main task of %u loop(s)",
                        sigabbrev_np(signo), n - finished);
            deadline = cio__deadline_after(cio__mono_ns(), timeout_ns);
            stop_all(g, n);
        }
    }
}

int cio_run_loops(unsigned n, const cio_loops_options *opts, cio_task_fn main, void *arg,
                  int *results)
{
    if (!main)
        return -EINVAL;
    if (cio__tls_loop)
        return -EBUSY;
    if (n == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (unsigned)c : 1;
    }
    struct group g = {.main = main, .arg = arg};
    if (opts && opts->run)
        g.run = *opts->run;
    g.run.no_signal_handling = true;
    g.refs = calloc(n, sizeof *g.refs);
    g.m = calloc(n, sizeof *g.m);
    g.done_fd = eventfd(0, EFD_CLOEXEC);
    if (!g.refs || !g.m || g.done_fd < 0) {
        free(g.refs);
        free(g.m);
        if (g.done_fd >= 0)
            close(g.done_fd);
        return -ENOMEM;
    }
    pthread_mutex_init(&g.mu, NULL);
    cio__shutdown_set_signal(0);

    /* This thread watches SIGINT and SIGTERM for every loop, through a slot
     * of the signal relay; the loops themselves leave signals alone. */
    int slot = -1, sfd = -1;
    if (!(opts && opts->no_signal_handling)) {
        slot = cio__sigrelay_open(&sfd);
        for (int sig = SIGINT; slot >= 0 && sig; sig = sig == SIGINT ? SIGTERM : 0)
            if (cio__sigrelay_default(sig) && cio__sigrelay_watch(slot, sig) < 0)
                cio__report(NULL, "cannot watch SIG%s: default action kept", sigabbrev_np(sig));
        if (slot < 0)
            sfd = -1;
    }
    int rc = 0;
    unsigned started = 0;
    for (; started < n; started++) {
        g.m[started] = (struct member){.g = &g, .index = started};
        int e = pthread_create(&g.m[started].thread, NULL, member_thread, &g.m[started]);
        if (e) {
            rc = -EAGAIN;
            break;
        }
    }
    if (rc)
        stop_all(&g, started);
    double s = opts ? opts->shutdown_timeout : 0;
    if (s == 0)
        s = CIO_DEFAULT_SHUTDOWN_TIMEOUT;
    supervise(&g, started, sfd, s < 0 ? CIO__NEVER : cio__sec_to_ns(s));
    for (unsigned i = 0; i < started; i++) {
        pthread_join(g.m[i].thread, NULL);
        if (results)
            results[i] = g.m[i].result;
        if (!rc && g.m[i].result < 0)
            rc = g.m[i].result;
    }
    if (slot >= 0)
        cio__sigrelay_close(slot);
    pthread_mutex_destroy(&g.mu);
    close(g.done_fd);
    free(g.refs);
    free(g.m);
    return rc;
}
