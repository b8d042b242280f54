/* Task groups. Each child has a node, allocated in chunks the group owns,
 * hooked into the child's done_waiters: when the child ends, the hook
 * records its result, releases the task (its stack goes back to the pool at
 * once) and, on the first failure, cancels the siblings. */
#include "cio/group.h"

#include <errno.h>
#include <stdlib.h>

#include "task/task.h"

#define CHUNK 64

struct cio__group_node {
    struct cio__waiter w;
    cio_group *g;
    struct cio__task *task; /* NULL once finished */
    int result;
};

void cio_group_init(cio_group *g)
{
    if (g)
        *g = (cio_group){0};
}

static struct cio__group_node *node_at(const cio_group *g, size_t i)
{
    return &g->chunks_[i / CHUNK][i % CHUNK];
}

static void cancel_running(cio_group *g)
{
    for (size_t i = 0; i < g->count_; i++) {
        struct cio__group_node *n = node_at(g, i);
        if (n->task)
            cio__cancel_task(n->task, -ECANCELED);
    }
}

static void fail(cio_group *g, int err)
{
    if (g->error_)
        return;
    g->error_ = err;
    g->cancelled_ = true;
    cancel_running(g);
}

static void on_child_done(struct cio__waiter *w, struct cio__task *ended)
{
    struct cio__group_node *n = cio__container_of(w, struct cio__group_node, w);
    cio_group *g = n->g;
    n->result = ended->result;
    n->task = NULL;
    g->running_--;
    ended->retrieved = true;
    /* Release the child now, unless someone broke the rules and joined or
     * detached the group's handle: they release it then. */
    if (!ended->joiner && !ended->detached)
        cio__task_release(ended);
    if (n->result < 0 && n->result != -ECANCELED)
        fail(g, n->result);
    if (g->running_ == 0 && g->waiter_)
        cio__wake(g->waiter_, 0);
}

static struct cio__group_node *new_node(cio_group *g)
{
    if (g->count_ == g->nchunks_ * CHUNK) {
        struct cio__group_node **chunks =
            realloc(g->chunks_, (g->nchunks_ + 1) * sizeof *g->chunks_);
        if (!chunks)
            return NULL;
        g->chunks_ = chunks;
        chunks[g->nchunks_] = malloc(CHUNK * sizeof **chunks);
        if (!chunks[g->nchunks_])
            return NULL;
        g->nchunks_++;
    }
    struct cio__group_node *n = node_at(g, g->count_++);
    *n = (struct cio__group_node){.g = g};
    n->w.notify = on_child_done;
    cio__list_init(&n->w.link);
    return n;
}

cio_task cio_group_spawn_with(cio_group *g, const cio_spawn_options *opts, cio_task_fn fn,
                              void *arg)
{
    if (!g)
        return (cio_task){NULL, (uint64_t)EINVAL};
    struct cio__group_node *n = new_node(g);
    if (!n) {
        /* A child that cannot even be recorded still fails the group. */
        fail(g, -ENOMEM);
        return (cio_task){NULL, (uint64_t)ENOMEM};
    }
    cio_task h = cio_spawn_with(opts, fn, arg);
    struct cio__task *t = h.ptr_;
    if (!t) {
        n->result = cio_spawn_error(h);
        fail(g, n->result);
        return h;
    }
    n->task = t;
    g->running_++;
    cio__list_push(&t->done_waiters, &n->w.link);
    if (g->cancelled_)
        cio__cancel_task(t, -ECANCELED);
    return h;
}

cio_task cio_group_spawn(cio_group *g, cio_task_fn fn, void *arg)
{
    return cio_group_spawn_with(g, NULL, fn, arg);
}

int cio_group_wait(cio_group *g)
{
    if (!g)
        return -EINVAL;
    struct cio__task *self = cio__self();
    if (!self)
        return cio__tls_loop ? CIO_ENOTTASK : CIO_ENOLOOP;
    int rc = 0;
    if (g->waiter_ && g->waiter_ != self)
        return -EBUSY; /* one owner waits, as one task joins */
    if (g->running_) {
        g->waiter_ = self;
        rc = cio__interrupted(self);
        while (!rc && g->running_)
            rc = cio__suspend(self, "task group");
        if (rc) {
            /* Interrupted: no child may outlive the wait. */
            cio_group_cancel(g);
            while (g->running_)
                cio__suspend_nointr(self, "task group (cancelling)");
        }
        g->waiter_ = NULL;
    }
    return rc ? rc : g->error_;
}

int cio_group_cancel(cio_group *g)
{
    if (!g)
        return -EINVAL;
    g->cancelled_ = true;
    cancel_running(g);
    return 0;
}

size_t cio_group_size(const cio_group *g)
{
    return g ? g->count_ : 0;
}

size_t cio_group_running(const cio_group *g)
{
    return g ? g->running_ : 0;
}

int cio_group_error(const cio_group *g)
{
    return g ? g->error_ : 0;
}

int cio_group_result(const cio_group *g, size_t index, int *result)
{
    if (!g || !result || index >= g->count_)
        return -EINVAL;
    const struct cio__group_node *n = node_at(g, index);
    if (n->task)
        return CIO_ESTATE;
    *result = n->result;
    return 0;
}

void cio_group_destroy(cio_group *g)
{
    if (!g)
        return;
    if (g->running_)
        (void)cio_group_wait(g);
    if (g->running_) {
        /* Not in a task, so nothing could wait: at least never leave a
         * child pointing at freed memory. */
        for (size_t i = 0; i < g->count_; i++)
            cio__list_unlink(&node_at(g, i)->w.link);
    }
    for (size_t i = 0; i < g->nchunks_; i++)
        free(g->chunks_[i]);
    free(g->chunks_);
    *g = (cio_group){0};
}
