/* Barrier. A waiter that is cancelled or times out simply leaves: before
 * the last arrival releases everyone, the queue is pruned of tasks that are
 * no longer waiting, so a cycle only completes with `parties` tasks really
 * there, and indices are given in arrival order among them. */
#include <errno.h>

#include "toolkit/waitq.h"

int cio_barrier_init(cio_barrier *b, unsigned parties)
{
    if (!b || parties == 0)
        return -EINVAL;
    *b = (cio_barrier){.parties_ = parties};
    return 0;
}

/* Drops the nodes of tasks already woken by an interruption: they are
 * leaving and no longer count. */
static void prune(cio_barrier *b)
{
    struct cio__wnode *n = b->waiters_.head;
    while (n) {
        struct cio__wnode *next = n->next;
        if (n->task->state != CIO__T_WAITING) {
            cio__wq_remove(&b->waiters_, n);
            b->count_--;
        }
        n = next;
    }
}

int cio_barrier_wait(cio_barrier *b)
{
    if (!b || b->parties_ == 0)
        return -EINVAL;
    if (b->broken_)
        return CIO_EBROKEN;
    prune(b);
    if (b->count_ + 1 >= b->parties_) {
        /* The last arrival completes the cycle without waiting, so it
         * succeeds even in a cancelled task, like every call that can
         * complete at once. */
        int index = 0;
        while (cio__wq_wake_one(&b->waiters_, index))
            index++;
        b->count_ = 0;
        return index;
    }
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc)
        return rc;
    b->count_++;
    struct cio__wnode n = {.task = t};
    cio__wq_push(&b->waiters_, &n);
    rc = cio__suspend(t, "barrier");
    if (n.woken)
        return n.result;
    if (n.linked) {
        /* Interrupted and not pruned yet: leave, uncounted. */
        cio__wq_remove(&b->waiters_, &n);
        b->count_--;
    }
    return rc ? rc : -ECANCELED;
}

static void break_waiters(cio_barrier *b)
{
    prune(b);
    cio__wq_wake_all(&b->waiters_, CIO_EBROKEN);
    b->count_ = 0;
}

int cio_barrier_abort(cio_barrier *b)
{
    if (!b)
        return -EINVAL;
    b->broken_ = true;
    break_waiters(b);
    return 0;
}

int cio_barrier_reset(cio_barrier *b)
{
    if (!b)
        return -EINVAL;
    break_waiters(b);
    b->broken_ = false;
    return 0;
}

unsigned cio_barrier_n_waiting(const cio_barrier *b)
{
    if (!b)
        return 0;
    unsigned n = 0;
    for (const struct cio__wnode *w = b->waiters_.head; w; w = w->next)
        if (w->task->state == CIO__T_WAITING)
            n++;
    return n;
}

bool cio_barrier_broken(const cio_barrier *b)
{
    return b && b->broken_;
}

unsigned cio_barrier_parties(const cio_barrier *b)
{
    return b ? b->parties_ : 0;
}
