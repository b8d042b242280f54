/* fd readiness: reader and writer callbacks (asyncio's add_reader) and
 * tasks suspended in cio_wait_fd(), on one table indexed by fd. A callback
 * runs in the context of the code that added it, as asyncio's do.
 *
 * Interest is added to the backend eagerly and, for task waits, removed
 * lazily: a task that reads a socket in a loop waits on it again and again,
 * and leaving the interest in place between waits saves two epoll_ctl calls
 * per wait. An event nobody wants is what triggers the removal. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/fdtable.h"
#include "task/task.h"
#include "threads/threads.h"

/* fdw() when fd is beyond the table: checks that fd is open (the table
 * never grows for a number that names nothing, since the kernel's fd limit
 * bounds every open one) and grows the table to reach it. */
static __attribute__((noinline)) int fdw_grow(struct cio__loop *loop, int fd)
{
    if (fcntl(fd, F_GETFD) < 0)
        return -EBADF;
    return cio__fdtable_reach((void **)&loop->fds, &loop->nfds, sizeof *loop->fds, fd);
}

/* The table entry of fd, growing the table to reach it: 0, -EBADF (fd is
 * not open) or -ENOMEM. Inline: every wait of a task on an fd asks. */
static inline int fdw(struct cio__loop *loop, int fd, struct cio__fdw **out)
{
    if (cio__unlikely(fd >= loop->nfds)) {
        int rc = fdw_grow(loop, fd);
        if (rc < 0)
            return rc;
    }
    *out = &loop->fds[fd];
    return 0;
}

/* The events someone waits for on w. Without branches: it is asked at
 * every wait and every event, and which of the four is set varies from one
 * fd to the next. */
static inline unsigned wanted(const struct cio__fdw *w)
{
    unsigned r = ((uintptr_t)w->rcb | (uintptr_t)w->rtask) != 0;
    unsigned wr = ((uintptr_t)w->wcb | (uintptr_t)w->wtask) != 0;
    return r * CIO_READABLE | wr * CIO_WRITABLE;
}

/* Sets the backend's interest to `now`. */
static int set_reg(struct cio__loop *loop, int fd, struct cio__fdw *w, unsigned now)
{
    if (now == w->reg)
        return 0;
    int rc = loop->ops->update(loop, fd, w->reg, now);
    if (rc == 0 || !now)
        w->reg = (uint8_t)(rc == 0 ? now : 0);
    return rc;
}

/* Adds whatever is wanted but not yet watched. */
static int arm(struct cio__loop *loop, int fd, struct cio__fdw *w)
{
    unsigned want = wanted(w);
    if ((want & ~w->reg) == 0)
        return 0;
    return set_reg(loop, fd, w, w->reg | want);
}

/* Runs a callback in its context. The context is held for the call: the
 * callback may remove itself, which drops the table's reference. */
static void run_cb(cio_callback cb, void *arg, struct cio__context *context)
{
    if (cio__likely(!context)) {
        cb(arg);
        return;
    }
    struct cio__context *outer = cio__context_enter(cio__context_share(context));
    cb(arg);
    cio__context_drop(cio__context_enter(outer));
}

void cio__io_ready(struct cio__loop *loop, int fd, unsigned events)
{
    if (fd == loop->wake_fd) {
        uint64_t v;
        ssize_t n = read(fd, &v, sizeof v);
        (void)n;
        if (loop->threads)
            cio__threads_wake(loop);
        return;
    }
    if (cio__threads_io(loop, fd))
        return;
    if (fd >= loop->nfds)
        return;
    struct cio__fdw *w = &loop->fds[fd];
    if ((events & CIO_READABLE) && w->rtask) {
        struct cio__task *t = w->rtask;
        cio__wake(t, (int)(events & (t == w->wtask ? CIO_READABLE | CIO_WRITABLE : CIO_READABLE)));
    } else if ((events & CIO_READABLE) && w->rcb) {
        run_cb(w->rcb, w->rarg, w->rctx);
        w = &loop->fds[fd]; /* the callback may have grown the table */
    }
    if ((events & CIO_WRITABLE) && w->wtask) {
        if (w->wtask != w->rtask || !(events & CIO_READABLE))
            cio__wake(w->wtask, (int)(events & CIO_WRITABLE));
    } else if ((events & CIO_WRITABLE) && w->wcb) {
        run_cb(w->wcb, w->warg, w->wctx);
        w = &loop->fds[fd];
    }
    if (events & w->reg & ~wanted(w))
        set_reg(loop, fd, w, wanted(w));
}

int cio__io_watch_task(struct cio__loop *loop, int fd, unsigned events, struct cio__task *t)
{
    struct cio__fdw *w;
    int rc = fdw(loop, fd, &w);
    if (rc < 0)
        return rc;
    if (((events & CIO_READABLE) && (w->rtask || w->rcb)) ||
        ((events & CIO_WRITABLE) && (w->wtask || w->wcb)))
        return -EBUSY;
    if (events & CIO_READABLE) {
        w->rtask = t;
        loop->io_watchers++;
    }
    if (events & CIO_WRITABLE) {
        w->wtask = t;
        loop->io_watchers++;
    }
    rc = arm(loop, fd, w);
    if (rc < 0)
        cio__io_unwatch_task(loop, fd, t);
    return rc;
}

void cio__io_unwatch_task(struct cio__loop *loop, int fd, struct cio__task *t)
{
    if (fd >= loop->nfds)
        return;
    struct cio__fdw *w = &loop->fds[fd];
    if (w->rtask == t) {
        w->rtask = NULL;
        loop->io_watchers--;
    }
    if (w->wtask == t) {
        w->wtask = NULL;
        loop->io_watchers--;
    }
}

static int add_cb(int fd, cio_callback cb, void *arg, bool writer)
{
    if (fd < 0 || !cb)
        return -EINVAL;
    struct cio__loop *loop = cio__tls_loop;
    if (!loop)
        return CIO_ENOLOOP;
    struct cio__fdw *w;
    int rc = fdw(loop, fd, &w);
    if (rc < 0)
        return rc;
    cio_callback *slot = writer ? &w->wcb : &w->rcb;
    void **arg_slot = writer ? &w->warg : &w->rarg;
    struct cio__context **ctx_slot = writer ? &w->wctx : &w->rctx;
    if (writer ? w->wtask != NULL : w->rtask != NULL)
        return -EBUSY;
    bool fresh = *slot == NULL;
    cio_callback old_cb = *slot;
    void *old_arg = *arg_slot;
    *slot = cb;
    *arg_slot = arg;
    rc = arm(loop, fd, w);
    if (rc < 0) {
        *slot = old_cb;
        *arg_slot = old_arg;
        return rc;
    }
    cio__context_drop(*ctx_slot);
    *ctx_slot = cio__context_share(cio__context_current());
    if (fresh)
        loop->io_watchers++;
    return 0;
}

static int remove_cb(int fd, bool writer)
{
    if (fd < 0)
        return -EINVAL;
    struct cio__loop *loop = cio__tls_loop;
    if (!loop)
        return CIO_ENOLOOP;
    if (fd >= loop->nfds)
        return -ENOENT;
    struct cio__fdw *w = &loop->fds[fd];
    cio_callback *slot = writer ? &w->wcb : &w->rcb;
    struct cio__context **ctx_slot = writer ? &w->wctx : &w->rctx;
    if (!*slot)
        return -ENOENT;
    *slot = NULL;
    cio__context_drop(*ctx_slot);
    *ctx_slot = NULL;
    loop->io_watchers--;
    /* Callbacks are removed eagerly: the caller may close the fd next. */
    set_reg(loop, fd, w, wanted(w));
    return 0;
}

bool cio__io_forget_reader(struct cio__loop *loop, int fd, cio_callback cb, void *arg)
{
    if (fd < 0 || fd >= loop->nfds)
        return false;
    struct cio__fdw *w = &loop->fds[fd];
    if (w->rcb != cb || w->rarg != arg)
        return false;
    w->rcb = NULL;
    w->rarg = NULL;
    cio__context_drop(w->rctx);
    w->rctx = NULL;
    loop->io_watchers--;
    return true;
}

int cio_add_reader(int fd, cio_callback cb, void *arg)
{
    return add_cb(fd, cb, arg, false);
}

int cio_add_writer(int fd, cio_callback cb, void *arg)
{
    return add_cb(fd, cb, arg, true);
}

int cio_remove_reader(int fd)
{
    return remove_cb(fd, false);
}

int cio_remove_writer(int fd)
{
    return remove_cb(fd, true);
}

int cio_forget_fd(int fd)
{
    struct cio__loop *loop = cio__tls_loop;
    if (!loop)
        return CIO_ENOLOOP;
    if (fd < 0 || fd >= loop->nfds)
        return 0;
    struct cio__fdw *w = &loop->fds[fd];
    struct cio__task *rt = w->rtask, *wt = w->wtask;
    if (rt)
        cio__wake(rt, -EBADF);
    if (wt && wt != rt)
        cio__wake(wt, -EBADF);
    loop->io_watchers -= (w->rtask || w->rcb) + (w->wtask || w->wcb);
    w->rtask = w->wtask = NULL;
    w->rcb = w->wcb = NULL;
    cio__context_drop(w->rctx);
    cio__context_drop(w->wctx);
    w->rctx = w->wctx = NULL;
    set_reg(loop, fd, w, 0);
    return 0;
}

void cio__io_fini(struct cio__loop *loop)
{
    for (int fd = 0; fd < loop->nfds; fd++) {
        cio__context_drop(loop->fds[fd].rctx);
        cio__context_drop(loop->fds[fd].wctx);
    }
    free(loop->fds);
    loop->fds = NULL;
    loop->nfds = 0;
}
