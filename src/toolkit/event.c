/* Event and Condition. */
#include <errno.h>

#include "toolkit/waitq.h"

/* ---- Event -------------------------------------------------------------- */

void cio_event_init(cio_event *e)
{
    if (e)
        *e = (cio_event)CIO_EVENT_INIT;
}

int cio_event_set(cio_event *e)
{
    if (!e)
        return -EINVAL;
    if (!e->set_) {
        e->set_ = true;
        cio__wq_wake_all(&e->waiters_, 0);
    }
    return 0;
}

int cio_event_clear(cio_event *e)
{
    if (!e)
        return -EINVAL;
    e->set_ = false;
    return 0;
}

bool cio_event_is_set(const cio_event *e)
{
    return e && e->set_;
}

int cio_event_wait(cio_event *e)
{
    if (!e)
        return -EINVAL;
    if (e->set_)
        return 0;
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc)
        return rc;
    struct cio__wnode n;
    return cio__wq_wait(&e->waiters_, &n, t, "event");
}

/* ---- Condition ---------------------------------------------------------- */

void cio_condition_init(cio_condition *c, cio_lock *lock)
{
    if (!c)
        return;
    *c = (cio_condition){.lock_ = lock};
    if (!lock)
        c->lock_ = &c->own_lock_;
}

cio_lock *cio_condition_lock(cio_condition *c)
{
    if (!c)
        return NULL;
    if (!c->lock_)
        c->lock_ = &c->own_lock_; /* a zeroed condition owns its lock */
    return c->lock_;
}

int cio_condition_wait(cio_condition *c)
{
    cio_lock *l = cio_condition_lock(c);
    if (!l)
        return -EINVAL;
    struct cio__task *t = cio__self();
    if (!t)
        return cio__tls_loop ? CIO_ENOTTASK : CIO_ENOLOOP;
    if (!cio__lock_held_by(l, t))
        return CIO_ESTATE;
    int rc = cio__interrupted(t);
    if (rc)
        return rc; /* nothing released, nothing to re-acquire */
    cio_lock_release(l);
    struct cio__wnode n;
    rc = cio__wq_wait(&c->waiters_, &n, t, "condition");
    cio__lock_acquire_nointr(l, t);
    return rc;
}

int cio_condition_wait_for(cio_condition *c, bool (*pred)(void *arg), void *arg)
{
    if (!c || !pred)
        return -EINVAL;
    while (!pred(arg)) {
        int rc = cio_condition_wait(c);
        if (rc)
            return rc;
    }
    return 0;
}

static int check_owner(cio_condition *c)
{
    cio_lock *l = cio_condition_lock(c);
    if (!l)
        return -EINVAL;
    if (!cio__lock_held_by(l, cio__self()))
        return CIO_ESTATE;
    return 0;
}

int cio_condition_notify(cio_condition *c, int n)
{
    int rc = check_owner(c);
    if (rc)
        return rc;
    int woken = 0;
    while (woken < n && cio__wq_wake_one(&c->waiters_, 0))
        woken++;
    return woken;
}

int cio_condition_notify_all(cio_condition *c)
{
    int rc = check_owner(c);
    if (rc)
        return rc;
    return cio__wq_wake_all(&c->waiters_, 0);
}
