/* gather, wait, wait_for and as_completed, on watch sets. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "toolkit/watch.h"

/* Joins the finished task tasks[i] (no suspension: it is done, or its
 * handle is not a live one) and empties its entry. */
static int harvest(cio_task *tasks, size_t i)
{
    int result = cio_join(tasks[i]);
    tasks[i] = CIO_TASK_NONE;
    return result;
}

/* The caller was interrupted: cancel what still runs, wait for all of it
 * (nothing can interrupt that), and release every handle. */
static void unwind(struct cio__watch *s, struct cio__task *self, cio_task *tasks, int *results)
{
    cio__watch_cancel_all(s, tasks);
    for (;;) {
        long i;
        while ((i = cio__watch_pop(s)) >= 0) {
            int r = harvest(tasks, (size_t)i);
            if (results)
                results[i] = r;
        }
        if (s->pending == 0)
            break;
        cio__watch_wait(s, self, true);
    }
}

/* Tasks are released by the watch set's hook as they end, their results
 * stored on the way (release mode); only those that had already ended, or
 * that someone else joins, come back through the done list. */
static int gather(cio_task *tasks, size_t n, int *results)
{
    if (!tasks && n > 0)
        return -EINVAL;
    struct cio__task *self = cio__self();
    if (!self)
        return cio__tls_loop ? CIO_ENOTTASK : CIO_ENOLOOP;
    struct cio__watch s;
    s.release = true;
    s.tasks = tasks;
    s.results = results;
    int rc = cio__watch_start(&s, tasks, n, true);
    if (rc)
        return rc;
    for (;;) {
        long i;
        while ((i = cio__watch_pop(&s)) >= 0) {
            int r = harvest(tasks, (size_t)i);
            if (results)
                results[i] = r;
            else if (r < 0 && !s.failure)
                s.failure = r;
        }
        /* asyncio's default: the first failure, at once. */
        if (!results && s.failure) {
            rc = s.failure;
            break;
        }
        if (s.pending == 0)
            break;
        rc = cio__watch_wait(&s, self, false);
        if (rc) {
            unwind(&s, self, tasks, results);
            break;
        }
    }
    cio__watch_stop(&s);
    return rc;
}

int cio_gather(cio_task *tasks, size_t n)
{
    return gather(tasks, n, NULL);
}

int cio_gather_results(cio_task *tasks, size_t n, int *results)
{
    if (!results && n > 0)
        return -EINVAL;
    return gather(tasks, n, results);
}

/* ---- wait ------------------------------------------------------------- */

static bool failed(cio_task t)
{
    int r;
    return cio_task_result(t, &r) == 0 && r < 0 && r != -ECANCELED;
}

int cio_wait(cio_task *tasks, size_t n, int return_when, double timeout)
{
    if ((!tasks && n > 0) || return_when < CIO_FIRST_COMPLETED || return_when > CIO_ALL_COMPLETED ||
        isnan(timeout))
        return -EINVAL;
    struct cio__task *self;
    int rc = cio__enter(&self);
    if (rc)
        return rc;
    struct cio__watch s;
    s.release = false;
    rc = cio__watch_start(&s, tasks, n, false);
    if (rc)
        return rc;
    /* done[k] is the index of the k-th task to finish. */
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!order) {
        cio__watch_stop(&s);
        return -ENOMEM;
    }
    cio_scope scope = {0};
    if (timeout >= 0 && (rc = cio_timeout_enter(&scope, timeout)) < 0)
        goto out;
    size_t ndone = 0;
    bool satisfied = n == 0;
    while (!satisfied) {
        long i;
        while ((i = cio__watch_pop(&s)) >= 0) {
            order[ndone++] = (size_t)i;
            if (return_when == CIO_FIRST_COMPLETED ||
                (return_when == CIO_FIRST_EXCEPTION && failed(tasks[i])))
                satisfied = true;
        }
        if (ndone == n)
            satisfied = true;
        if (satisfied)
            break;
        rc = cio__watch_wait(&s, self, false);
        if (rc)
            break;
    }
    bool own_timeout = false;
    if (timeout >= 0)
        own_timeout = cio_scope_exit(&scope) == 1;
    if (rc && own_timeout && !cio__interrupted(self))
        rc = 0; /* our own timeout: report what is done, as asyncio does */
    if (rc == 0) {
        /* Stable partition: finished ones in finishing order, then the
         * rest in their original order. */
        cio_task *tmp = malloc((n ? n : 1) * sizeof *tmp);
        if (!tmp) {
            rc = -ENOMEM;
            goto out;
        }
        bool *is_done = calloc(n ? n : 1, sizeof *is_done);
        if (!is_done) {
            free(tmp);
            rc = -ENOMEM;
            goto out;
        }
        size_t k = 0;
        for (size_t j = 0; j < ndone; j++) {
            tmp[k++] = tasks[order[j]];
            is_done[order[j]] = true;
        }
        for (size_t j = 0; j < n; j++)
            if (!is_done[j])
                tmp[k++] = tasks[j];
        for (size_t j = 0; j < n; j++)
            tasks[j] = tmp[j];
        free(is_done);
        free(tmp);
        rc = (int)ndone;
    }
out:
    free(order);
    cio__watch_stop(&s);
    return rc;
}

int cio_wait_for(cio_task t, double timeout)
{
    if (isnan(timeout))
        return -EINVAL;
    if (timeout < 0)
        return cio_join(t);
    cio_scope scope = {0};
    int rc = cio_timeout_enter(&scope, timeout);
    if (rc < 0)
        return rc;
    rc = cio_join(t);
    cio_scope_exit(&scope);
    return rc;
}

/* ---- as_completed ------------------------------------------------------- */

int cio_as_completed_init(cio_as_completed *it, cio_task *tasks, size_t n)
{
    if (!it)
        return -EINVAL;
    *it = (cio_as_completed){.tasks_ = tasks, .left_ = n};
    if (!tasks && n > 0)
        return it->err_ = -EINVAL;
    if (!cio__tls_loop)
        return it->err_ = CIO_ENOLOOP;
    struct cio__watch *s = malloc(sizeof *s);
    if (!s)
        return it->err_ = -ENOMEM;
    s->release = false;
    int rc = cio__watch_start(s, tasks, n, true);
    if (rc) {
        free(s);
        return it->err_ = rc;
    }
    it->left_ = n - s->absent;
    it->watch_ = s;
    return 0;
}

int cio_as_completed_next(cio_as_completed *it, size_t *index, int *result)
{
    if (!it)
        return -EINVAL;
    if (it->err_)
        return it->err_;
    if (it->left_ == 0)
        return 0;
    if (!it->watch_)
        return -EINVAL;
    struct cio__task *self = cio__self();
    if (!self)
        return cio__tls_loop ? CIO_ENOTTASK : CIO_ENOLOOP;
    long i;
    while ((i = cio__watch_pop(it->watch_)) < 0) {
        int rc = cio__watch_wait(it->watch_, self, false);
        if (rc)
            return rc;
    }
    it->left_--;
    int r = harvest(it->tasks_, (size_t)i);
    if (index)
        *index = (size_t)i;
    if (result)
        *result = r;
    return 1;
}

void cio_as_completed_close(cio_as_completed *it)
{
    if (!it || !it->watch_)
        return;
    cio__watch_stop(it->watch_);
    free(it->watch_);
    it->watch_ = NULL;
    it->left_ = 0;
}
