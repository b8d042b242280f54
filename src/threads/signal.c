/* Signals as loop events: each loop reads a pipe of the process-wide relay
 * (sigrelay.c), registered with the backend like the loop's eventfd (so
 * merely catching a signal neither keeps the loop alive nor stops its
 * virtual clock); waits and handlers on top. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
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
    if (th->relay_slot < 0) {
        int fd;
        int slot = cio__sigrelay_open(&fd);
        if (slot < 0)
            return slot;
        int rc = loop->ops->update(loop, fd, 0, CIO_READABLE);
        if (rc < 0) {
            cio__sigrelay_close(slot);
            return rc;
        }
        th->relay_slot = slot;
        th->sfd = fd;
    }
    return cio__sigrelay_watch(th->relay_slot, signo);
}

void cio__signal_fini(struct cio__loop *loop, struct cio__threads *th);

void cio__signal_fini(struct cio__loop *loop, struct cio__threads *th)
{
    if (th->relay_slot < 0)
        return;
    loop->ops->update(loop, th->sfd, CIO_READABLE, 0);
    cio__sigrelay_close(th->relay_slot);
    th->relay_slot = -1;
    th->sfd = -1;
}

static void deliver(struct cio__loop *loop, struct cio__threads *th, int signo)
{
    if (th->shutdown_on && (signo == SIGINT || signo == SIGTERM))
        cio__sigrelay_shutdown_taken();
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
    unsigned char buf[64];
    ssize_t n;
    while ((n = read(th->sfd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] > 0 && buf[i] < _NSIG && loop->threads && th->sfd >= 0)
                deliver(loop, th, buf[i]);
        if ((size_t)n < sizeof buf)
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
    struct cio__loop *loop = cio__tls_loop;
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
