/* Futures. The owner and every waiting task or pending done callback hold a
 * reference, so cio_future_free() never pulls memory from under a waiter. */
#include "cio/future.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "task/task.h"

enum { PENDING, RESOLVED, CANCELLED };

struct done_cb {
    struct cio__deferred run; /* once the future is done */
    struct done_cb *next;
    cio_future_callback cb;
    void *arg;
    cio_future *f;
    struct cio__context *context; /* the adder's, as asyncio's Future keeps */
};

static void done_cb_free(struct done_cb *d)
{
    cio__context_drop(d->context);
    free(d);
}

struct cio_future {
    struct cio__loop *loop;
    /* state, owned and refs are set together when a future is handed out. */
    uint8_t state;
    bool owned;
    uint32_t refs;
    int err;
    void *value;
    /* Waiting tasks, in FIFO order: the first in `waiter` while it is the
     * only one (nearly always: a future has one consumer), the others in
     * `waiters`. A task goes to the slot only when nobody waits at all, so
     * the slot's task is always older than the list's. */
    struct cio__task *waiter;
    struct cio__list waiters;
    struct done_cb *callbacks, **callbacks_tail;
    struct cio_future *next_free; /* in loop->free_futures */
};

/* A future the loop has never handed out. Out of line, so that taking a
 * recycled one (nearly always) saves no registers for malloc(). */
static __attribute__((noinline)) cio_future *future_alloc(struct cio__loop *loop)
{
    cio_future *f = malloc(sizeof *f);
    if (f) {
        f->loop = loop;
        f->waiter = NULL;
        cio__list_init(&f->waiters);
        f->callbacks = NULL;
        f->callbacks_tail = &f->callbacks;
    }
    return f;
}

int cio_future_new(cio_future **out)
{
    if (!out)
        return -EINVAL;
    struct cio__loop *loop = cio__tls_loop;
    if (!loop)
        return CIO_ENOLOOP;
    cio_future *f = loop->free_futures;
    if (cio__likely(f != NULL)) {
        /* A recycled future is as its last reference left it: of this
         * loop, with no waiter and no callback (each held a reference). */
        loop->free_futures = f->next_free;
        loop->n_free_futures--;
    } else if (!(f = future_alloc(loop))) {
        return -ENOMEM;
    }
    f->state = PENDING; /* err and value are set when it settles */
    f->refs = 1;
    f->owned = true;
    *out = f;
    return 0;
}

#define MAX_FREE_FUTURES 1024

static void release(cio_future *f);

/* Inline: a waiter's reference is rarely the last. */
static inline void unref(cio_future *f)
{
    if (--f->refs == 0)
        release(f);
}

static void release(cio_future *f)
{
    struct cio__loop *loop = f->loop;
    if (loop == cio__tls_loop && loop->n_free_futures < MAX_FREE_FUTURES) {
        f->next_free = loop->free_futures;
        loop->free_futures = f;
        loop->n_free_futures++;
    } else {
        free(f);
    }
}

void cio__futures_free(struct cio__loop *loop)
{
    cio_future *f = loop->free_futures;
    while (f) {
        cio_future *next = f->next_free;
        free(f);
        f = next;
    }
    loop->free_futures = NULL;
    loop->n_free_futures = 0;
}

static void run_done_cb(struct cio__deferred *item, bool dropped)
{
    struct done_cb *d = cio__container_of(item, struct done_cb, run);
    cio_future *f = d->f;
    if (!dropped) {
        struct cio__context *outer = cio__context_enter(d->context);
        d->cb(f, d->arg);
        cio__context_enter(outer);
    }
    done_cb_free(d);
    unref(f);
}

static void schedule(struct done_cb *d)
{
    d->run.fn = run_done_cb;
    cio__defer(d->f->loop, &d->run);
}

/* Out of line: most futures have no done callback, and their settle() need
 * not save the registers this loop uses. */
static __attribute__((noinline)) void schedule_callbacks(cio_future *f)
{
    struct done_cb *d = f->callbacks;
    f->callbacks = NULL;
    f->callbacks_tail = &f->callbacks;
    while (d) {
        struct done_cb *next = d->next;
        schedule(d);
        d = next;
    }
}

/* Inline: set_result's whole work, in a hand-off between two tasks. */
static inline __attribute__((always_inline)) void settle(cio_future *f, int state, int err,
                                                         void *value)
{
    f->state = state;
    f->err = err;
    f->value = value;
    struct cio__list *n;
    if (f->waiter) {
        cio__wake(f->waiter, 0);
        f->waiter = NULL;
    }
    while (cio__unlikely((n = cio__list_shift(&f->waiters)) != NULL))
        cio__wake(cio__container_of(n, struct cio__waiter, link)->task, 0);
    if (f->callbacks)
        schedule_callbacks(f);
}

int cio_future_set_result(cio_future *f, void *value)
{
    if (!f)
        return -EINVAL;
    if (f->state != PENDING)
        return CIO_ESTATE;
    settle(f, RESOLVED, 0, value);
    return 0;
}

int cio_future_set_error(cio_future *f, int err)
{
    if (!f || err >= 0)
        return -EINVAL;
    if (f->state != PENDING)
        return CIO_ESTATE;
    settle(f, RESOLVED, err, NULL);
    return 0;
}

int cio_future_cancel(cio_future *f)
{
    if (!f)
        return -EINVAL;
    if (f->state != PENDING)
        return -EALREADY;
    settle(f, CANCELLED, -ECANCELED, NULL);
    return 0;
}

void cio_future_free(cio_future *f)
{
    if (!f || !f->owned)
        return;
    f->owned = false;
    if (f->state == PENDING)
        cio_future_cancel(f);
    unref(f);
}

bool cio_future_done(const cio_future *f)
{
    return f && f->state != PENDING;
}

bool cio_future_cancelled(const cio_future *f)
{
    return f && f->state == CANCELLED;
}

int cio_future_result(const cio_future *f, void **value)
{
    if (!f)
        return -EINVAL;
    if (f->state == PENDING)
        return CIO_ESTATE;
    if (f->err)
        return f->err;
    if (value)
        *value = f->value;
    return 0;
}

int cio_future_wait(cio_future *f, void **value)
{
    if (!f)
        return -EINVAL;
    if (f->state != PENDING)
        return cio_future_result(f, value);
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc)
        return rc;
    f->refs++;
    if (!f->waiter && cio__list_empty(&f->waiters)) {
        f->waiter = t;
        rc = cio__suspend(t, "future");
        if (rc) /* interrupted: settle() did not take it out */
            f->waiter = NULL;
    } else {
        struct cio__waiter w = {.task = t};
        cio__list_push(&f->waiters, &w.link);
        rc = cio__suspend(t, "future");
        cio__list_unlink(&w.link);
    }
    if (rc == 0)
        rc = cio_future_result(f, value);
    unref(f);
    return rc;
}

int cio_future_add_done_callback(cio_future *f, cio_future_callback cb, void *arg)
{
    if (!f || !cb)
        return -EINVAL;
    struct done_cb *d = malloc(sizeof *d);
    if (!d)
        return -ENOMEM;
    *d = (struct done_cb){
        .cb = cb, .arg = arg, .f = f, .context = cio__context_share(cio__context_current())};
    f->refs++;
    if (f->state != PENDING) {
        schedule(d);
        return 0;
    }
    *f->callbacks_tail = d;
    f->callbacks_tail = &d->next;
    return 0;
}

int cio_future_remove_done_callback(cio_future *f, cio_future_callback cb, void *arg)
{
    if (!f || !cb)
        return -EINVAL;
    int removed = 0;
    struct done_cb **p = &f->callbacks;
    while (*p) {
        struct done_cb *d = *p;
        if (d->cb == cb && d->arg == arg) {
            *p = d->next;
            done_cb_free(d);
            f->refs--; /* the owner still holds one */
            removed++;
        } else {
            p = &d->next;
        }
    }
    f->callbacks_tail = p;
    return removed;
}
