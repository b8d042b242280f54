/* The epoll backend: level-triggered, one epoll_ctl per change of interest.
 * The loop removes interest lazily (see loop/io.c), so a task that waits on
 * the same fd again and again costs no epoll_ctl after the first wait. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "backend/backend.h"
#include "cio/task.h"
#include "loop/loop.h"

#define MAX_EVENTS 256

struct epoll_state {
    int epfd;
    int have_pwait2;
    struct epoll_event events[MAX_EVENTS];
};

static int ep_init(struct cio__loop *loop)
{
    struct epoll_state *st = malloc(sizeof *st);
    if (!st)
        return -ENOMEM;
    st->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (st->epfd < 0) {
        int err = -errno;
        free(st);
        return err;
    }
    st->have_pwait2 = 1;
    loop->backend = st;
    return 0;
}

static void ep_fini(struct cio__loop *loop)
{
    struct epoll_state *st = loop->backend;
    if (!st)
        return;
    close(st->epfd);
    free(st);
    loop->backend = NULL;
}

static uint32_t to_epoll(unsigned ev)
{
    return (ev & CIO_READABLE ? EPOLLIN | EPOLLRDHUP : 0) | (ev & CIO_WRITABLE ? EPOLLOUT : 0);
}

static int ep_update(struct cio__loop *loop, int fd, unsigned old, unsigned now)
{
    struct epoll_state *st = loop->backend;
    struct epoll_event e = {.events = to_epoll(now), .data.fd = fd};
    int op = !now ? EPOLL_CTL_DEL : old ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(st->epfd, op, fd, &e) == 0)
        return 0;
    /* Our record can be stale if the fd was closed and its number reused:
     * epoll forgot the old file. Retry with the other operation. */
    if (errno == ENOENT && op == EPOLL_CTL_MOD)
        op = EPOLL_CTL_ADD;
    else if (errno == EEXIST && op == EPOLL_CTL_ADD)
        op = EPOLL_CTL_MOD;
    else if (errno == ENOENT || errno == EBADF)
        return op == EPOLL_CTL_DEL ? 0 : -errno;
    else
        return -errno;
    return epoll_ctl(st->epfd, op, fd, &e) == 0 ? 0 : -errno;
}

static int ep_poll(struct cio__loop *loop, int64_t timeout_ns)
{
    struct epoll_state *st = loop->backend;
    int n;
    if (st->have_pwait2) {
        struct timespec ts, *tsp = NULL;
        if (timeout_ns >= 0) {
            ts.tv_sec = timeout_ns / 1000000000;
            ts.tv_nsec = timeout_ns % 1000000000;
            tsp = &ts;
        }
        n = epoll_pwait2(st->epfd, st->events, MAX_EVENTS, tsp, NULL);
        if (n < 0 && errno == ENOSYS) {
            st->have_pwait2 = 0;
            return ep_poll(loop, timeout_ns);
        }
    } else {
        int ms = timeout_ns < 0                    ? -1
                 : timeout_ns > 1000LL * INT32_MAX ? INT32_MAX
                                                   : (int)((timeout_ns + 999999) / 1000000);
        n = epoll_wait(st->epfd, st->events, MAX_EVENTS, ms);
    }
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        uint32_t e = st->events[i].events;
        unsigned ev = 0;
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLPRI))
            ev |= CIO_READABLE;
        if (e & EPOLLOUT)
            ev |= CIO_WRITABLE;
        if (e & (EPOLLERR | EPOLLHUP))
            ev |= CIO_READABLE | CIO_WRITABLE;
        cio__io_ready(loop, st->events[i].data.fd, ev);
    }
    return n;
}

const struct cio__backend_ops cio__epoll_ops = {
    .name = "epoll",
    .init = ep_init,
    .fini = ep_fini,
    .update = ep_update,
    .poll = ep_poll,
};
