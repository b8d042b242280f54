/* Signals as loop events: a signalfd per loop, registered with the backend
 * like the loop's eventfd (so merely catching a signal neither keeps the
 * loop alive nor stops its virtual clock), waits and handlers. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cio/signal.h"
#include "threads/threads.h"

static bool catchable(int signo)
{
    return signo > 0 && signo < _NSIG && signo != SIGKILL && signo != SIGSTOP && signo != SIGSEGV &&
           signo != SIGBUS && signo != SIGFPE && signo != SIGILL;
}

int cio__signal_watch(struct cio__loop *loop, struct cio__threads *th, int signo)
{
    if (sigismember(&th->watched, signo))
        return 0;
    sigset_t one, old, want = th->watched;
    sigemptyset(&one);
    sigaddset(&one, signo);
    sigaddset(&want, signo);
    /* Blocked first, so that an arrival between the two calls waits for
     * the signalfd instead of taking its default action. */
    int rc = pthread_sigmask(SIG_BLOCK, &one, &old);
    if (rc)
        return -rc;
    bool was_open = !sigismember(&old, signo);
    int fd = signalfd(th->sfd, &want, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        if (was_open)
            pthread_sigmask(SIG_UNBLOCK, &one, NULL);
        return rc;
    }
    if (th->sfd < 0) {
        rc = loop->ops->update(loop, fd, 0, CIO_READABLE);
        if (rc < 0) {
            close(fd);
            if (was_open)
                pthread_sigmask(SIG_UNBLOCK, &one, NULL);
            return rc;
        }
        th->sfd = fd;
    }
    th->watched = want;
    if (was_open)
        sigaddset(&th->blocked_by_us, signo);
    return 0;
}

void cio__signal_fini(struct cio__loop *loop, struct cio__threads *th);

void cio__signal_fini(struct cio__loop *loop, struct cio__threads *th)
{
    if (th->sfd < 0)
        return;
    loop->ops->update(loop, th->sfd, CIO_READABLE, 0);
    close(th->sfd);
    th->sfd = -1;
    /* Signals that arrived after the last poll would take their default
     * action the moment they are unblocked (a late SIGINT would kill a
     * program that has already shut down cleanly): consume them first. */
    const struct timespec zero = {0, 0};
    while (sigtimedwait(&th->blocked_by_us, NULL, &zero) > 0)
        ;
    pthread_sigmask(SIG_UNBLOCK, &th->blocked_by_us, NULL);
    sigemptyset(&th->blocked_by_us);
    sigemptyset(&th->watched);
}

static void deliver(struct cio__loop *loop, struct cio__threads *th, int signo)
{
    bool taken = false;
    struct cio__list *it = th->sig_waiters.next;
    while (it != &th->sig_waiters) {
        struct cio__list *next = it->next;
        struct cio__sig_waiter *w = cio__container_of(it, struct cio__sig_waiter, link);
        /* A waiter already woken (cancelled) does not count as taking it. */
        if (sigismember(w->set, signo) && cio__wake(w->task, signo)) {
            cio__list_unlink(&w->link);
            taken = true;
        }
        it = next;
    }
    struct cio__sig_slot *s = &th->sig[signo];
    if (s->cb) {
        s->cb(signo, s->arg);
        taken = true;
    }
    if (taken)
        return;
    if (th->shutdown_on && (signo == SIGINT || signo == SIGTERM))
        cio__shutdown_signal(loop, th, signo);
    else
        s->pending = true;
}

void cio__signal_ready(struct cio__loop *loop)
{
    struct cio__threads *th = loop->threads;
    struct signalfd_siginfo si[16];
    for (;;) {
        ssize_t n = read(th->sfd, si, sizeof si);
        if (n <= 0)
            return;
        for (size_t i = 0; i < (size_t)n / sizeof si[0]; i++) {
            int signo = (int)si[i].ssi_signo;
            if (signo > 0 && signo < _NSIG && loop->threads && th->sfd >= 0)
                deliver(loop, th, signo);
        }
        if ((size_t)n < sizeof si)
            return;
    }
}

int cio_signal_wait(const sigset_t *set)
{
    if (!set || sigisemptyset(set))
        return -EINVAL;
    for (int s = 1; s < _NSIG; s++)
        if (sigismember(set, s) == 1 && !catchable(s))
            return -EINVAL;
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc)
        return rc;
    struct cio__loop *loop = t->loop;
    struct cio__threads *th = cio__threads_get(loop);
    if (!th)
        return -ENOMEM;
    for (int s = 1; s < _NSIG; s++) {
        if (sigismember(set, s) != 1)
            continue;
        rc = cio__signal_watch(loop, th, s);
        if (rc < 0)
            return rc;
        th->sig[s].kept = true;
    }
    for (int s = 1; s < _NSIG; s++) {
        if (sigismember(set, s) == 1 && th->sig[s].pending) {
            th->sig[s].pending = false;
            return s;
        }
    }
    struct cio__sig_waiter w = {.task = t, .set = set};
    cio__list_push(&th->sig_waiters, &w.link);
    loop->external_refs++;
    rc = cio__suspend(t, "signal");
    loop->external_refs--;
    cio__list_unlink(&w.link);
    return rc;
}

int cio_signal_add(int signo, cio_signal_callback cb, void *arg)
{
    if (!cb || !catchable(signo))
        return -EINVAL;
    struct cio__loop *loop = cio__tls_loop;
    if (!loop)
        return CIO_ENOLOOP;
    struct cio__threads *th = cio__threads_get(loop);
    if (!th)
        return -ENOMEM;
    int rc = cio__signal_watch(loop, th, signo);
    if (rc < 0)
        return rc;
    struct cio__sig_slot *s = &th->sig[signo];
    if (!s->cb)
        loop->external_refs++; /* a signal may come: not a deadlock */
    s->cb = cb;
    s->arg = arg;
    return 0;
}

int cio_signal_remove(int signo)
{
    if (signo <= 0 || signo >= _NSIG)
        return -EINVAL;
    struct cio__loop *loop = cio__tls_loop;
    if (!loop)
        return CIO_ENOLOOP;
    struct cio__threads *th = loop->threads;
    if (!th || !th->sig[signo].cb)
        return -ENOENT;
    th->sig[signo].cb = NULL;
    th->sig[signo].arg = NULL;
    loop->external_refs--;
    return 0;
}
