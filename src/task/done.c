/* Done callbacks of tasks (asyncio's Task.add_done_callback). Each is a
 * waiter in the task's done_waiters, on the heap, whose notify schedules
 * the callback when the task ends; the result goes with it, since by the
 * time it runs the task may have been joined or, detached, freed. */
#include <errno.h>
#include <stdlib.h>

#include "task/task.h"

struct done_cb {
    struct cio__waiter w;
    struct cio__deferred run; /* once the task has ended */
    cio_task_callback cb;
    void *arg;
    cio_task task;
    int result;
    struct cio__context *context; /* the adder's, as asyncio keeps it */
};

static void done_cb_free(struct done_cb *d)
{
    cio__context_drop(d->context);
    free(d);
}

static void deliver(struct cio__deferred *item, bool dropped)
{
    struct done_cb *d = cio__container_of(item, struct done_cb, run);
    if (!dropped) {
        struct cio__context *outer = cio__context_enter(d->context);
        d->cb(d->task, d->result, d->arg);
        cio__context_enter(outer);
    }
    done_cb_free(d);
}

static void schedule(struct cio__loop *loop, struct done_cb *d, int result)
{
    d->result = result;
    d->run.fn = deliver;
    cio__defer(loop, &d->run);
}

static void notify(struct cio__waiter *w, struct cio__task *ended)
{
    schedule(cio__tls_loop, cio__container_of(w, struct done_cb, w), ended->result);
}

int cio_task_add_done_callback(cio_task h, cio_task_callback cb, void *arg)
{
    if (!cb)
        return -EINVAL;
    struct cio__task *t = cio__task_from(h);
    if (!t)
        return cio__bad_handle(h);
    struct done_cb *d = malloc(sizeof *d);
    if (!d)
        return -ENOMEM;
    *d = (struct done_cb){.w = {.task = NULL, .notify = notify},
                          .cb = cb,
                          .arg = arg,
                          .task = h,
                          .context = cio__context_share(cio__context_current())};
    if (t->state == CIO__T_DONE)
        schedule(cio__tls_loop, d, t->result);
    else
        cio__list_push(&t->done_waiters, &d->w.link);
    return 0;
}

/* Frees t's done callbacks added with cb and arg (all of them if cb is
 * NULL); the other waiters stay. Returns how many. */
static int drop(struct cio__task *t, cio_task_callback cb, void *arg)
{
    int n = 0;
    struct cio__list *it = t->done_waiters.next;
    while (it != &t->done_waiters) {
        struct cio__waiter *w = cio__container_of(it, struct cio__waiter, link);
        struct done_cb *d = cio__container_of(w, struct done_cb, w);
        it = it->next;
        if (w->notify == notify && (!cb || (d->cb == cb && d->arg == arg))) {
            cio__list_unlink(&w->link);
            done_cb_free(d);
            n++;
        }
    }
    return n;
}

int cio_task_remove_done_callback(cio_task h, cio_task_callback cb, void *arg)
{
    struct cio__task *t = cio__task_from(h);
    if (!t)
        return cio__bad_handle(h);
    return cb ? drop(t, cb, arg) : 0;
}

void cio__task_done_callbacks_free(struct cio__task *t)
{
    drop(t, NULL, NULL);
}
