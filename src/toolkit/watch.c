/* Watch sets (see watch.h). */
#include "toolkit/watch.h"

#include <stdlib.h>

static void push_done(struct cio__watch *s, struct cio__watch_node *d)
{
    d->next_done = NULL;
    *s->done_tail = d;
    s->done_tail = &d->next_done;
}

static void on_done(struct cio__waiter *w, struct cio__task *ended)
{
    struct cio__watch_node *d = cio__container_of(w, struct cio__watch_node, w);
    struct cio__watch *s = d->set;
    int r = ended->result;
    s->pending--;
    if (s->release && !ended->joiner && !ended->detached) {
        /* The same handle twice in one set: released once, both entries
         * get its result. */
        if (ended->id) {
            ended->retrieved = true;
            cio__task_release(ended);
        }
        s->tasks[d->index] = CIO_TASK_NONE;
        if (s->results)
            s->results[d->index] = r;
        else if (r < 0 && !s->failure)
            s->failure = r;
    } else {
        push_done(s, d);
    }
    if (s->watcher && (!s->release || s->pending == 0 || r < 0))
        cio__wake(s->watcher, 0);
}

int cio__watch_start(struct cio__watch *s, const cio_task *tasks, size_t n, bool skip_none)
{
    s->n = n;
    s->pending = 0;
    s->absent = 0;
    s->watcher = NULL;
    s->failure = 0;
    /* s->release, s->tasks and s->results are the caller's, set before. */
    s->done_head = NULL;
    s->done_tail = &s->done_head;
    s->nodes = s->small;
    if (n > CIO__WATCH_INLINE) {
        s->nodes = malloc(n * sizeof *s->nodes);
        if (!s->nodes)
            return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        struct cio__watch_node *d = &s->nodes[i];
        d->set = s;
        d->index = i;
        d->w.task = NULL;
        d->w.notify = on_done;
        cio__list_init(&d->w.link);
        if (skip_none && cio_task_is_none(tasks[i])) {
            s->absent++;
            continue;
        }
        struct cio__task *t = cio__task_from(tasks[i]);
        if (t && t->state != CIO__T_DONE && !t->detached) {
            cio__list_push(&t->done_waiters, &d->w.link);
            s->pending++;
        } else {
            push_done(s, d);
        }
    }
    return 0;
}

void cio__watch_stop(struct cio__watch *s)
{
    /* Nothing left to unlink once every watched task has ended: each end
     * took its node off (not touching the nodes again saves a pass over
     * them when there are a hundred thousand). */
    for (size_t i = 0; s->pending && i < s->n; i++)
        cio__list_unlink(&s->nodes[i].w.link);
    if (s->nodes != s->small)
        free(s->nodes);
    s->nodes = NULL;
    s->n = 0;
}

int cio__watch_wait(struct cio__watch *s, struct cio__task *t, bool nointr)
{
    if (s->done_head)
        return 0;
    int rc = nointr ? 0 : cio__interrupted(t);
    if (rc)
        return rc;
    s->watcher = t;
    rc = nointr ? cio__suspend_nointr(t, "gather") : cio__suspend(t, "gather");
    s->watcher = NULL;
    return rc;
}

void cio__watch_cancel_all(struct cio__watch *s, const cio_task *tasks)
{
    for (size_t i = 0; i < s->n; i++)
        if (cio__list_linked(&s->nodes[i].w.link))
            (void)cio_cancel(tasks[i]);
}
