/* Context variables (cio/context.h). A task's context is a small array of
 * (variable, value) pairs shared with the tasks it spawned while it was
 * unchanged, and copied on the first write to a shared one: a spawn costs
 * a reference, not a copy, and most tasks never write.
 *
 * A shared context is never written, so an executor job may read the one
 * its task had while the task goes on: the job holds a reference, and the
 * count is atomic because the job's may be dropped on a worker thread. */
#include "cio/context.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "task/task.h"

struct cio__context {
    atomic_int refs;
    int n, cap;
    struct {
        const cio_context_var *var;
        void *value;
    } e[];
};

/* The context of the executor job or loop callback running on this thread,
 * if any. */
static _Thread_local struct cio__context *job_context;

struct cio__context *cio__context_share(struct cio__context *c)
{
    if (c)
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

void cio__context_drop(struct cio__context *c)
{
    /* Release: a job's reads happen before the owner sees it unshared. */
    if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
        free(c);
}

struct cio__context *cio__context_enter(struct cio__context *c)
{
    struct cio__context *old = job_context;
    job_context = c;
    return old;
}

struct cio__context *cio__context_current(void)
{
    struct cio__task *t = cio__self();
    return t ? t->context : job_context;
}

static int find(const struct cio__context *c, const cio_context_var *var)
{
    for (int i = 0; c && i < c->n; i++)
        if (c->e[i].var == var)
            return i;
    return -1;
}

void *cio_context_get(const cio_context_var *var)
{
    if (!var)
        return NULL;
    const struct cio__context *c = cio__context_current();
    int i = find(c, var);
    return i >= 0 ? c->e[i].value : var->default_value;
}

/* A context of its own for t, with room for one more pair. */
static struct cio__context *own(struct cio__task *t)
{
    struct cio__context *c = t->context;
    if (c && atomic_load_explicit(&c->refs, memory_order_acquire) == 1 && c->n < c->cap)
        return c;
    int n = c ? c->n : 0, cap = n < 4 ? 4 : 2 * n;
    struct cio__context *d = malloc(sizeof *d + (size_t)cap * sizeof d->e[0]);
    if (!d)
        return NULL;
    atomic_init(&d->refs, 1);
    d->n = n;
    d->cap = cap;
    if (n)
        memcpy(d->e, c->e, (size_t)n * sizeof d->e[0]);
    cio__context_drop(c);
    t->context = d;
    return d;
}

int cio_context_set(const cio_context_var *var, void *value)
{
    if (!var)
        return -EINVAL;
    struct cio__task *t = cio__self();
    if (!t)
        return cio__tls_loop ? CIO_ENOTTASK : CIO_ENOLOOP;
    int i = find(t->context, var);
    if (i >= 0 && t->context->e[i].value == value)
        return 0;
    struct cio__context *c = own(t);
    if (!c)
        return -ENOMEM;
    if (i < 0)
        i = c->n++;
    c->e[i].var = var;
    c->e[i].value = value;
    return 0;
}
