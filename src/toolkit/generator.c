/* Async generators: a rendezvous between the consumer and a generator
 * task. The generator leaves a pointer to its value in g->pending_ and
 * stays suspended in cio_gen_yield() until asked for the next value, so the
 * value lives in the generator's own frame until the consumer copies it. */
#include "cio/generator.h"

#include <errno.h>
#include <string.h>

#include "task/task.h"

enum { NEW, RUNNING, FINISHED, CLOSED };

int cio_gen_init(cio_gen *g, cio_gen_fn fn, void *arg, size_t item_size)
{
    if (!g || !fn || item_size == 0)
        return -EINVAL;
    *g = (cio_gen){.fn_ = fn, .arg_ = arg, .item_size_ = item_size, .state_ = NEW};
    return 0;
}

static int gen_main(void *arg)
{
    cio_gen *g = arg;
    g->producer_ = cio__self();
    int rc = g->fn_(g, g->arg_);
    g->result_ = rc > 0 ? 0 : rc;
    g->state_ = FINISHED;
    g->producer_ = NULL;
    g->pending_ = NULL;
    if (g->consumer_)
        cio__wake(g->consumer_, 0);
    return rc;
}

/* The generator has returned: release its task, once. */
static void reap(cio_gen *g)
{
    if (g->task_.ptr_) {
        (void)cio_join(g->task_);
        g->task_ = (cio_task){NULL, 0};
    }
}

int cio_gen_next(cio_gen *g, void *item)
{
    if (!g || !item || !g->fn_)
        return -EINVAL;
    if (g->pending_) {
        memcpy(item, g->pending_, g->item_size_);
        g->pending_ = NULL;
        return 1;
    }
    if (g->state_ == CLOSED)
        return 0;
    if (g->state_ == FINISHED) {
        reap(g);
        return g->result_;
    }
    struct cio__task *self;
    int rc = cio__enter(&self);
    if (rc)
        return rc;
    /* One consumer at a time (asyncio: "anext(): asynchronous generator is
     * already running"); a second would steal the first one's wake-up. */
    if (g->consumer_)
        return -EBUSY;
    if (g->state_ == NEW) {
        g->task_ = cio_spawn_with(&(cio_spawn_options){.name = "generator"}, gen_main, g);
        rc = cio_spawn_error(g->task_);
        if (rc) {
            g->task_ = (cio_task){NULL, 0};
            g->state_ = FINISHED;
            g->result_ = rc;
            return rc;
        }
        g->state_ = RUNNING;
    } else {
        g->resume_ = true;
        if (g->yielding_)
            cio__wake(g->producer_, 0);
    }
    g->consumer_ = self;
    while (!g->pending_ && g->state_ == RUNNING) {
        rc = cio__suspend(self, "generator next");
        if (rc)
            break;
    }
    g->consumer_ = NULL;
    if (g->pending_) {
        memcpy(item, g->pending_, g->item_size_);
        g->pending_ = NULL;
        return 1;
    }
    if (rc)
        return rc;
    reap(g);
    return g->result_;
}

int cio_gen_yield(cio_gen *g, const void *item)
{
    if (!g || !item)
        return -EINVAL;
    struct cio__task *self = cio__self();
    if (!self || self != g->producer_)
        return -EPERM;
    int rc = cio__interrupted(self);
    if (rc)
        return rc;
    g->pending_ = item;
    g->resume_ = false;
    if (g->consumer_)
        cio__wake(g->consumer_, 0);
    while (!g->resume_) {
        g->yielding_ = true;
        rc = cio__suspend(self, "generator yield");
        g->yielding_ = false;
        if (rc) {
            if (g->pending_ == item)
                g->pending_ = NULL; /* closed before it was taken */
            return rc;
        }
    }
    return 0;
}

int cio_gen_close(cio_gen *g)
{
    if (!g || !g->fn_)
        return 0;
    int rc = 0;
    if (g->state_ == RUNNING) {
        (void)cio_cancel(g->task_);
        g->resume_ = true;
        rc = cio_join(g->task_);
        g->task_ = (cio_task){NULL, 0};
        if (g->state_ == FINISHED && g->result_ < 0 && g->result_ != -ECANCELED)
            rc = g->result_;
        else
            rc = 0;
    } else if (g->state_ == FINISHED) {
        reap(g);
        rc = g->result_ < 0 && g->result_ != -ECANCELED ? g->result_ : 0;
    }
    g->pending_ = NULL;
    g->state_ = CLOSED;
    return rc;
}

void cio__gen_cleanup(cio_gen *g)
{
    (void)cio_gen_close(g);
}
