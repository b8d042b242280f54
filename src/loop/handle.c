/* call_soon, call_later, call_at. A handle is referenced by the loop while
 * scheduled and by the caller if it asked for one; handles come from a
 * per-loop slab and are recycled through it. */
#include <errno.h>
#include <stdlib.h>

#include "loop/loop.h"

enum { SCHEDULED, RAN, CANCELLED };

struct cio_handle {
    struct cio__runnable run; /* also the free-list link */
    struct cio__timer timer;
    cio_callback cb;
    void *arg;
    struct cio__loop *loop;
    uint8_t state;
    uint8_t refs;
};

static void unref(struct cio_handle *h)
{
    if (--h->refs == 0)
        cio__slab_put(&h->loop->handle_slab, h);
}

static void handle_timer_fire(struct cio__timer *timer)
{
    struct cio_handle *h = cio__container_of(timer, struct cio_handle, timer);
    cio__readyq_push(h->loop, &h->run);
}

static int make(cio_callback cb, void *arg, cio_handle **out, struct cio_handle **hp)
{
    if (!cb)
        return -EINVAL;
    struct cio__loop *loop = cio__tls_loop;
    if (!loop)
        return CIO_ENOLOOP;
    struct cio_handle *h = cio__slab_get(&loop->handle_slab);
    if (!h)
        return -ENOMEM;
    h->run.kind = CIO__RUN_HANDLE;
    h->timer.index = 0;
    h->timer.where = 0;
    h->timer.fire = handle_timer_fire;
    h->cb = cb;
    h->arg = arg;
    h->loop = loop;
    h->state = SCHEDULED;
    h->refs = out ? 2 : 1;
    *hp = h;
    return 0;
}

int cio_call_soon(cio_callback cb, void *arg, cio_handle **out)
{
    struct cio_handle *h;
    int rc = make(cb, arg, out, &h);
    if (rc)
        return rc;
    cio__readyq_push(h->loop, &h->run);
    if (out)
        *out = h;
    return 0;
}

static int schedule_at(int64_t deadline, cio_callback cb, void *arg, cio_handle **out)
{
    struct cio_handle *h;
    int rc = make(cb, arg, out, &h);
    if (rc)
        return rc;
    h->timer.deadline = deadline;
    rc = cio__timer_start(h->loop, &h->timer);
    if (rc) {
        h->refs = 1;
        unref(h);
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
    return schedule_at(cio__deadline_after(now, cio__sec_to_ns(delay)), cb, arg, out);
}

int cio_call_at(double when, cio_callback cb, void *arg, cio_handle **out)
{
    if (when != when)
        return -EINVAL;
    return schedule_at(cio__abs_to_ns(when), cb, arg, out);
}

void cio__handle_run(struct cio__loop *loop, struct cio__runnable *r)
{
    struct cio_handle *h = cio__container_of(r, struct cio_handle, run);
    if (h->state == SCHEDULED) {
        h->state = RAN;
        int64_t start = loop->slow_ns ? cio__mono_ns() : 0;
        h->cb(h->arg);
        if (loop->slow_ns && cio__mono_ns() - start > loop->slow_ns)
            cio__report(loop, "callback %p kept the loop busy for %.3f s", (void *)(uintptr_t)h->cb,
                        (double)(cio__mono_ns() - start) / 1e9);
    }
    unref(h);
}

int cio_handle_cancel(cio_handle *h)
{
    if (!h)
        return -EINVAL;
    int rc = -EALREADY;
    if (h->state == SCHEDULED) {
        h->state = CANCELLED;
        rc = 0;
        if (cio__timer_scheduled(&h->timer)) {
            /* Still in the heap: take it out now, with the loop's reference.
             * (A handle already in the ready queue is skipped when reached.) */
            cio__timer_stop(h->loop, &h->timer);
            unref(h);
        }
    }
    unref(h);
    return rc;
}

void cio_handle_release(cio_handle *h)
{
    if (h)
        unref(h);
}

/* At close: handles still scheduled are dropped, and the free list freed. */
void cio__handles_free(struct cio__loop *loop)
{
    struct cio__runnable *r;
    while ((r = cio__readyq_pop(loop)))
        if (r->kind == CIO__RUN_HANDLE)
            unref(cio__container_of(r, struct cio_handle, run));
    struct cio__timer *t;
    while ((t = cio__timers_take_any(&loop->timers)))
        if (t->fire == handle_timer_fire)
            unref(cio__container_of(t, struct cio_handle, timer));
    cio__slab_fini(&loop->handle_slab);
}

void cio__handles_init(struct cio__loop *loop)
{
    cio__slab_init(&loop->handle_slab, sizeof(struct cio_handle), 64);
}
