/* Timeout and shield scopes. A scope is linked into its task's chain while
 * entered; cio__interrupted() reads the chain, so entering a scope costs a
 * timer insertion and nothing else. */
#include <errno.h>

#include "task/task.h"

enum { KIND_TIMEOUT = 1, KIND_SHIELD = 2 };

static void scope_timer_fire(struct cio__timer *timer)
{
    cio__scope_expire(cio__container_of(timer, struct cio_scope, timer_));
}

/* True if an expiry of s reaches the task's current wait: no shield lies
 * between the innermost scope and s. */
static bool reaches(const struct cio__task *t, const struct cio_scope *s)
{
    for (const struct cio_scope *x = t->scopes; x != s; x = x->parent_)
        if (x->kind_ == KIND_SHIELD)
            return false;
    return true;
}

void cio__scope_expire(struct cio_scope *s)
{
    s->expired_ = true;
    struct cio__task *t = s->task_;
    if (t->state == CIO__T_WAITING && !t->nointr && reaches(t, s))
        cio__wake(t, -ETIMEDOUT);
}

static int enter(cio_scope *s, int kind, int64_t deadline)
{
    if (!s || s->entered_)
        return -EINVAL;
    struct cio__task *t = cio__self();
    if (!t)
        return cio__tls_loop ? CIO_ENOTTASK : CIO_ENOLOOP;
    s->kind_ = (unsigned char)kind;
    s->task_ = t;
    s->expired_ = false;
    s->timer_.where = 0;
    s->timer_.fire = scope_timer_fire;
    s->timer_.deadline = deadline;
    if (kind == KIND_TIMEOUT) {
        if (deadline <= cio__tls_loop->now)
            s->expired_ = true;
        else if (deadline != CIO__NEVER && cio__timer_start(cio__tls_loop, &s->timer_) < 0)
            return -ENOMEM;
    }
    s->parent_ = t->scopes;
    t->scopes = s;
    s->entered_ = true;
    return 0;
}

int cio_timeout_enter(cio_scope *s, double seconds)
{
    struct cio__loop *loop = cio__tls_loop;
    int64_t now = loop ? loop->now : 0;
    int64_t deadline = seconds != seconds ? now : cio__deadline_after(now, cio__sec_to_ns(seconds));
    return enter(s, KIND_TIMEOUT, deadline);
}

int cio_timeout_enter_at(cio_scope *s, double deadline)
{
    return enter(s, KIND_TIMEOUT, cio__abs_to_ns(deadline));
}

int cio_shield_enter(cio_scope *s)
{
    return enter(s, KIND_SHIELD, 0);
}

int cio_timeout_reschedule(cio_scope *s, double deadline)
{
    if (!s || !s->entered_ || s->kind_ != KIND_TIMEOUT)
        return -EINVAL;
    if (s->expired_)
        return CIO_ESTATE;
    struct cio__loop *loop = cio__tls_loop;
    cio__timer_stop(loop, &s->timer_);
    s->timer_.deadline = cio__abs_to_ns(deadline);
    if (s->timer_.deadline <= loop->now) {
        cio__scope_expire(s);
        return 0;
    }
    if (s->timer_.deadline != CIO__NEVER)
        return cio__timer_start(loop, &s->timer_);
    return 0;
}

int cio_scope_exit(cio_scope *s)
{
    if (!s || !s->entered_)
        return -EINVAL;
    struct cio__task *t = s->task_;
    if (t != cio__self() || t->scopes != s)
        return CIO_ESCOPE;
    cio__timer_stop(cio__tls_loop, &s->timer_);
    t->scopes = s->parent_;
    s->entered_ = false;
    return s->kind_ == KIND_TIMEOUT && s->expired_;
}

bool cio_scope_expired(const cio_scope *s)
{
    return s && s->kind_ == KIND_TIMEOUT && s->expired_;
}

void cio__scope_cleanup(cio_scope *s)
{
    if (s->entered_)
        (void)cio_scope_exit(s);
}

void cio__scopes_abandon(struct cio__task *t)
{
    char label[CIO__TASK_LABEL];
    cio__report(cio__tls_loop, "task '%s' ended inside a scope it never exited",
                cio__task_label(t, label));
    for (struct cio_scope *s = t->scopes; s; s = s->parent_) {
        cio__timer_stop(cio__tls_loop, &s->timer_);
        s->entered_ = false;
    }
    t->scopes = NULL;
}
