/* Happy Eyeballs (RFC 8305): connecting to a name with several addresses.
 *
 * Addresses are interleaved by family (the first family c-ares preferred,
 * then the other, alternately), and each attempt runs in a task of its
 * own. The next attempt starts when the previous one fails or after
 * `delay` seconds without an answer, whichever comes first; the first
 * connection wins and every other attempt is cancelled and joined, so no
 * task or socket outlives the call. With one address, or a negative delay,
 * addresses are tried one after another in the calling task. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "net/internal.h"

struct he;

struct attempt {
    struct he *he;
    const cio_addrinfo *ai;
    cio_task task;
    int fd; /* the connection, or the error */
    bool started, done;
};

struct he {
    struct cio__task *waiter;
    struct cio__timer timer;
};

static int attempt_main(void *arg)
{
    struct attempt *a = arg;
    a->fd = cio__connect_addr((const struct sockaddr *)&a->ai->addr, a->ai->addrlen);
    a->done = true;
    if (a->he->waiter)
        cio__wake(a->he->waiter, 0);
    return 0;
}

static void delay_fire(struct cio__timer *timer)
{
    struct he *he = cio__container_of(timer, struct he, timer);
    if (he->waiter)
        cio__wake(he->waiter, 1);
}

static int sequential(const cio_addrinfo *list, const cio_addrinfo **which)
{
    int rc = -EHOSTUNREACH;
    for (const cio_addrinfo *ai = list; ai; ai = ai->next) {
        rc = cio__connect_addr((const struct sockaddr *)&ai->addr, ai->addrlen);
        if (rc >= 0) {
            *which = ai;
            return rc;
        }
        if (rc == -ECANCELED || rc == -ETIMEDOUT || rc == CIO_ENOTTASK || rc == CIO_ENOLOOP)
            return rc;
    }
    return rc;
}

/* RFC 8305 section 4: alternate address families, starting with the
 * family of the first address. */
static void interleave(const cio_addrinfo *list, struct attempt *a, int n)
{
    int first = list->family, k = 0;
    const cio_addrinfo *p = list, *q = list;
    while (k < n) {
        while (p && p->family != first)
            p = p->next;
        if (p) {
            a[k++].ai = p;
            p = p->next;
        }
        while (q && q->family == first)
            q = q->next;
        if (q && k < n) {
            a[k++].ai = q;
            q = q->next;
        }
    }
}

int cio__happy_eyeballs(const cio_addrinfo *list, double delay, const cio_addrinfo **which)
{
    int n = 0;
    for (const cio_addrinfo *ai = list; ai; ai = ai->next)
        n++;
    if (n == 0)
        return CIO_EDNS_NOTFOUND;
    if (n == 1 || delay < 0)
        return sequential(list, which);

    struct cio__task *self;
    int rc = cio__enter(&self);
    if (rc)
        return rc;
    struct attempt *a = calloc((size_t)n, sizeof *a);
    if (!a)
        return -ENOMEM;
    interleave(list, a, n);
    struct he he = {.timer.fire = delay_fire};
    struct cio__loop *loop = cio__tls_loop;
    int started = 0, winner = -1, last_err = -EHOSTUNREACH;
    bool start_next = true;
    rc = 0;
    for (;;) {
        if (start_next && started < n) {
            struct attempt *x = &a[started++];
            x->he = &he;
            x->started = true;
            cio_spawn_options so = {.name = "happy-eyeballs", .stack_size = 64 * 1024};
            x->task = cio_spawn_with(&so, attempt_main, x);
            if (cio_spawn_error(x->task)) {
                x->done = true;
                x->started = false;
                x->fd = cio_spawn_error(x->task);
            }
        }
        start_next = false;
        int pending = 0;
        for (int i = 0; i < started; i++) {
            if (a[i].done && a[i].fd >= 0 && winner < 0)
                winner = i;
            else if (a[i].done && a[i].fd < 0 && a[i].fd != -ECANCELED)
                last_err = a[i].fd;
            pending += !a[i].done;
        }
        if (winner >= 0)
            break;
        if (!pending && started == n)
            break;
        if (!pending) { /* every attempt so far failed: next one now */
            start_next = true;
            continue;
        }
        he.waiter = self;
        bool timed = started < n;
        if (timed) {
            he.timer.deadline = cio__deadline_after(loop->now, cio__sec_to_ns(delay));
            if (cio__timer_start(loop, &he.timer) < 0)
                timed = false;
        }
        int fails_before = 0;
        for (int i = 0; i < started; i++)
            fails_before += a[i].done && a[i].fd < 0;
        int w = cio__net_suspend(self, "happy eyeballs");
        he.waiter = NULL;
        if (timed)
            cio__timer_stop(loop, &he.timer);
        if (w < 0) {
            rc = w;
            break;
        }
        int fails_after = 0;
        for (int i = 0; i < started; i++)
            fails_after += a[i].done && a[i].fd < 0;
        start_next = w == 1 || fails_after > fails_before;
    }
    /* Cancel and join every other attempt; close what they connected. */
    for (int i = 0; i < started; i++) {
        if (!a[i].started)
            continue;
        if (i != winner)
            cio_cancel(a[i].task);
        cio_join(a[i].task);
        if (i != winner && a[i].fd >= 0) {
            cio_forget_fd(a[i].fd);
            close(a[i].fd);
        }
    }
    int fd = rc ? rc : winner >= 0 ? a[winner].fd : last_err;
    if (!rc && winner >= 0)
        *which = a[winner].ai;
    else if (rc && winner >= 0) {
        cio_forget_fd(a[winner].fd);
        close(a[winner].fd);
    }
    free(a);
    return fd;
}
