/* Lock, Semaphore and BoundedSemaphore. Both hand what they guard straight
 * to the first waiter on release, so a permit is never both free and
 * awaited: a positive semaphore value implies an empty queue, which is what
 * lets the inline fast paths in sync.h skip the queue entirely. */
#include <errno.h>

#include "toolkit/waitq.h"

/* ---- Lock --------------------------------------------------------------- */

static void set_owner(cio_lock *l, struct cio__task *t)
{
    l->owner_ = t;
    l->owner_id_ = t ? t->id : 0;
}

bool cio__lock_held_by(const cio_lock *l, const struct cio__task *t)
{
    return l->locked_ && t && l->owner_ == t && l->owner_id_ == t->id;
}

void cio_lock_init(cio_lock *l)
{
    if (l)
        *l = (cio_lock)CIO_LOCK_INIT;
}

int cio_lock_try_acquire(cio_lock *l)
{
    if (!l)
        return -EINVAL;
    if (l->locked_ || !cio__wq_empty(&l->waiters_))
        return -EBUSY;
    l->locked_ = true;
    set_owner(l, cio__self());
    return 0;
}

int cio_lock_acquire(cio_lock *l)
{
    if (!l)
        return -EINVAL;
    if (!l->locked_) {
        l->locked_ = true;
        set_owner(l, cio__self());
        return 0;
    }
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc)
        return rc;
    if (cio__lock_held_by(l, t))
        return -EDEADLK;
    struct cio__wnode n;
    return cio__wq_wait(&l->waiters_, &n, t, "lock");
}

int cio_lock_release(cio_lock *l)
{
    if (!l)
        return -EINVAL;
    if (!l->locked_)
        return CIO_ESTATE;
    struct cio__wnode *n = cio__wq_wake_one(&l->waiters_, 0);
    if (n) {
        set_owner(l, n->task); /* stays locked: handed over */
    } else {
        l->locked_ = false;
        set_owner(l, NULL);
    }
    return 0;
}

bool cio_lock_locked(const cio_lock *l)
{
    return l && l->locked_;
}

/* Used by Condition: acquire that neither cancellation nor a timeout can
 * interrupt, because the caller must leave holding the lock. */
int cio__lock_acquire_nointr(cio_lock *l, struct cio__task *t)
{
    if (!l->locked_) {
        l->locked_ = true;
        set_owner(l, t);
        return 0;
    }
    struct cio__wnode n = {.task = t};
    cio__wq_push(&l->waiters_, &n);
    while (!n.woken)
        cio__suspend_nointr(t, "lock (re-acquire)");
    return 0;
}

/* ---- Semaphore ---------------------------------------------------------- */

void cio_semaphore_init(cio_semaphore *s, unsigned long value)
{
    if (s)
        *s = (cio_semaphore)CIO_SEMAPHORE_INIT(value);
}

void cio_bounded_semaphore_init(cio_semaphore *s, unsigned long value)
{
    if (s)
        *s = (cio_semaphore)CIO_BOUNDED_SEMAPHORE_INIT(value);
}

int cio__semaphore_acquire_slow(cio_semaphore *s)
{
    if (!s)
        return -EINVAL;
    if (s->value_ > 0) {
        s->value_--;
        return 0;
    }
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc)
        return rc;
    struct cio__wnode n;
    return cio__wq_wait(&s->waiters_, &n, t, "semaphore");
}

int cio_semaphore_try_acquire(cio_semaphore *s)
{
    if (!s)
        return -EINVAL;
    if (s->value_ == 0)
        return -EBUSY;
    s->value_--;
    return 0;
}

int cio__semaphore_release_slow(cio_semaphore *s)
{
    if (!s)
        return -EINVAL;
    if (s->bound_ && s->value_ >= s->bound_)
        return -EOVERFLOW;
    if (!cio__wq_wake_one(&s->waiters_, 0))
        s->value_++;
    return 0;
}

unsigned long cio_semaphore_value(const cio_semaphore *s)
{
    return s ? s->value_ : 0;
}

bool cio_semaphore_locked(const cio_semaphore *s)
{
    return !s || s->value_ == 0;
}
