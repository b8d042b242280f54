/* call_soon, call_later, call_at. A handle is referenced by the loop while
 * scheduled and by the caller if it asked for one; handles come from a
 * per-loop slab and are recycled through it.
 *
 * A handle is one cache line: a million timers are a million handles, and
 * each is touched when it fires, in deadline order, not address order. So
 * it keeps no pointer to its loop (it is the thread's: handles are used on
 * their loop's thread) and no state of its own (its callback is cleared once
 * it has run or been cancelled).
 *
 * A callback runs in the context (context variables) of the code that
 * scheduled it, as asyncio's call_soon copies it. Most code sets no context
 * variable, so the handle has no room for one: when there is a context to
 * keep, the callback becomes in_context() and its argument a record of the
 * real callback, argument and context. */
#include <errno.h>
#include <stdlib.h>

#include "loop/loop.h"
#include "task/task.h"

struct cio_handle {
    struct cio__runnable run; /* run.refs: the loop's and the caller's;
                               * run.next: also the free-list link */
    struct cio__timer timer;
    cio_callback cb; /* NULL once it has run or been cancelled */
    void *arg;
};

_Static_assert(sizeof(struct cio_handle) <= 64, "a handle fits a cache line");

struct in_context {
    cio_callback cb;
    void *arg;
    struct cio__context *context;
};

static void in_context(void *arg)
{
    struct in_context *w = arg;
    struct cio__context *outer = cio__context_enter(w->context);
    w->cb(w->arg);
    cio__context_enter(outer);
}

static void in_context_free(struct in_context *w)
{
    cio__context_drop(w->context);
    free(w);
}

/* Forgets h's callback (run, cancelled, or dropped at close). */
static void clear(struct cio_handle *h)
{
    if (h->cb == in_context)
        in_context_free(h->arg);
    h->cb = NULL;
}

static void unref(struct cio__loop *loop, struct cio_handle *h)
{
    if (--h->run.refs == 0) {
        if (cio__unlikely(h->cb != NULL)) /* never ran: the loop closed */
            clear(h);
        cio__slab_put(&loop->handle_slab, h);
    }
}

static void handle_timer_fire(struct cio__timer *timer)
{
    struct cio_handle *h = cio__container_of(timer, struct cio_handle, timer);
    cio__readyq_push(cio__tls_loop, &h->run);
}

/* The record of a callback to run in context (not NULL), or NULL. Out of
 * line: most code sets no context variable, and make() stays lean. */
static __attribute__((noinline)) struct in_context *wrap(cio_callback cb, void *arg,
                                                         struct cio__context *context)
{
    struct in_context *w = malloc(sizeof *w);
    if (w)
        *w = (struct in_context){cb, arg, cio__context_share(context)};
    return w;
}

static __attribute__((noinline, cold)) int make_failed(cio_callback cb, void *arg)
{
    if (cb == in_context)
        in_context_free(arg);
    return -ENOMEM;
}

static inline int make(struct cio__loop *loop, cio_callback cb, void *arg, cio_handle **out,
                       struct cio_handle **hp)
{
    if (!cb)
        return -EINVAL;
    if (!loop)
        return CIO_ENOLOOP;
    struct cio__context *context = loop->current ? loop->current->context : cio__context_current();
    if (cio__unlikely(context != NULL)) {
        struct in_context *w = wrap(cb, arg, context);
        if (!w)
            return -ENOMEM;
        cb = in_context;
        arg = w;
    }
    struct cio_handle *h = cio__slab_get(&loop->handle_slab);
    if (cio__unlikely(!h))
        return make_failed(cb, arg);
    h->run.kind = CIO__RUN_HANDLE;
    h->run.refs = out ? 2 : 1;
    h->timer.where = 0;
    h->timer.fire = handle_timer_fire;
    h->cb = cb;
    h->arg = arg;
    *hp = h;
    return 0;
}

/* The loop that handed out h, if it is this thread's and h is still held:
 * checked without reading h unless h lies among its handles. A handle the
 * loop took back (released, or cancelled) has no references left, until a
 * new call reuses its memory. */
static struct cio__loop *owner(const struct cio_handle *h)
{
    struct cio__loop *loop = cio__tls_loop;
    if (!h || !loop || !cio__slab_issued(&loop->handle_slab, h) || h->run.refs == 0)
        return NULL;
    return loop;
}

int cio_call_soon(cio_callback cb, void *arg, cio_handle **out)
{
    struct cio__loop *loop = cio__tls_loop;
    struct cio_handle *h = NULL;
    int rc = make(loop, cb, arg, out, &h);
    if (rc)
        return rc;
    cio__readyq_push(loop, &h->run);
    if (out)
        *out = h;
    return 0;
}

static int schedule_at(struct cio__loop *loop, int64_t deadline, cio_callback cb, void *arg,
                       cio_handle **out)
{
    struct cio_handle *h = NULL;
    int rc = make(loop, cb, arg, out, &h);
    if (rc)
        return rc;
    h->timer.deadline = deadline;
    rc = cio__timer_start(loop, &h->timer);
    if (rc) {
        h->run.refs = 1;
        unref(loop, h);
        return rc; /* *out untouched: the caller owns nothing */
    }
    if (out)
        *out = h;
    return 0;
}

int cio_call_later(double delay, cio_callback cb, void *arg, cio_handle **out)
{
    if (delay != delay)
        return -EINVAL;
    struct cio__loop *loop = cio__tls_loop;
    int64_t now = loop ? loop->now : 0;
    return schedule_at(loop, cio__deadline_after(now, cio__sec_to_ns(delay)), cb, arg, out);
}

int cio_call_at(double when, cio_callback cb, void *arg, cio_handle **out)
{
    if (when != when)
        return -EINVAL;
    return schedule_at(cio__tls_loop, cio__abs_to_ns(when), cb, arg, out);
}

void cio__handle_run(struct cio__loop *loop, struct cio__runnable *r)
{
    struct cio_handle *h = cio__container_of(r, struct cio_handle, run);
    cio_callback cb = h->cb;
    if (cb) {
        void *arg = h->arg;
        h->cb = NULL;
        int64_t start = loop->slow_ns ? cio__mono_ns() : 0;
        cb(arg);
        if (cio__unlikely(cb == in_context)) {
            cb = ((struct in_context *)arg)->cb; /* for the report */
            in_context_free(arg);
        }
        if (loop->slow_ns && cio__mono_ns() - start > loop->slow_ns)
            cio__report(loop, "callback %p kept the loop busy for %.3f s", (void *)(uintptr_t)cb,
                        (double)(cio__mono_ns() - start) / 1e9);
    }
    unref(loop, h);
}

int cio_handle_cancel(cio_handle *h)
{
    struct cio__loop *loop = owner(h);
    if (!loop)
        return -EINVAL;
    int rc = -EALREADY;
    if (h->cb) {
        clear(h);
        rc = 0;
        if (cio__timer_scheduled(&h->timer)) {
            /* Still in the timer queue: take it out now, with the loop's
             * reference. (A handle already in the ready queue is skipped
             * when reached.) */
            cio__timer_stop(loop, &h->timer);
            unref(loop, h);
        }
    }
    unref(loop, h);
    return rc;
}

void cio_handle_release(cio_handle *h)
{
    struct cio__loop *loop = owner(h);
    if (loop)
        unref(loop, h);
}

void cio__handle_drop(struct cio__loop *loop, struct cio__runnable *r)
{
    unref(loop, cio__container_of(r, struct cio_handle, run));
}

/* At close (after the ready queue was dropped): handles still in the timer
 * queue are dropped, and the free list freed. */
void cio__handles_free(struct cio__loop *loop)
{
    struct cio__timer *t;
    while ((t = cio__timers_take_any(&loop->timers)))
        if (t->fire == handle_timer_fire)
            unref(loop, cio__container_of(t, struct cio_handle, timer));
    cio__slab_fini(&loop->handle_slab);
}

void cio__handles_init(struct cio__loop *loop)
{
    cio__slab_init(&loop->handle_slab, sizeof(struct cio_handle), 64);
}
