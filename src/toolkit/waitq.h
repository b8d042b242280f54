/* The toolkit's FIFO of waiting tasks (struct cio__wq, declared in
 * cio/sync.h so objects embed it without allocation). A node lives on the
 * waiting task's stack for the length of its wait.
 *
 * The hand-over rule every primitive follows: a waker pops the first node
 * and calls cio__wake(); only if that succeeds does it hand the node what
 * it waited for (a lock, a permit, an item), setting `woken`. If the task
 * had already been woken by a cancellation or a timeout, the wake fails and
 * the waker moves on to the next node, so nothing is lost. A waiter whose
 * node is not `woken` when it resumes was interrupted: it unlinks its node
 * (if still linked) and returns the interruption. */
#ifndef CIO_TOOLKIT_WAITQ_H
#define CIO_TOOLKIT_WAITQ_H

#include "cio/sync.h"
#include "task/task.h"

struct cio__wnode {
    struct cio__wnode *next, *prev;
    struct cio__task *task;
    void *data;  /* what the wait carries: an item's source or destination */
    int result;  /* set by the waker with `woken` */
    bool linked; /* in a queue */
    bool woken;  /* woken by the waker, not by an interruption */
};

static inline bool cio__wq_empty(const struct cio__wq *q)
{
    return q->head == NULL;
}

static inline void cio__wq_push(struct cio__wq *q, struct cio__wnode *n)
{
    n->next = NULL;
    n->prev = q->tail;
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    n->linked = true;
}

static inline void cio__wq_remove(struct cio__wq *q, struct cio__wnode *n)
{
    if (!n->linked)
        return;
    if (n->prev)
        n->prev->next = n->next;
    else
        q->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        q->tail = n->prev;
    n->next = n->prev = NULL;
    n->linked = false;
}

static inline struct cio__wnode *cio__wq_shift(struct cio__wq *q)
{
    struct cio__wnode *n = q->head;
    if (n)
        cio__wq_remove(q, n);
    return n;
}

/* Pops nodes until one whose task can still be woken; wakes it with
 * `result` and returns it, or returns NULL if nobody was waiting. */
static inline struct cio__wnode *cio__wq_wake_one(struct cio__wq *q, int result)
{
    struct cio__wnode *n;
    while ((n = cio__wq_shift(q))) {
        if (cio__wake(n->task, 0)) {
            n->woken = true;
            n->result = result;
            return n;
        }
    }
    return NULL;
}

/* Wakes every waiter with `result`; returns how many were woken. The
 * queue is emptied at once rather than node by node: a woken task does
 * not run before this returns, and an interrupted one finds its node
 * unlinked. */
static inline int cio__wq_wake_all(struct cio__wq *q, int result)
{
    struct cio__wnode *n = q->head;
    q->head = q->tail = NULL;
    int count = 0;
    while (n) {
        struct cio__wnode *next = n->next;
        n->linked = false;
        if (cio__wake(n->task, 0)) {
            n->woken = true;
            n->result = result;
            count++;
        }
        n = next;
    }
    return count;
}

/* Parks task t on q with node n (data filled in by the caller) and returns
 * the waker's result, or the interruption that woke it instead. */
static inline int cio__wq_wait(struct cio__wq *q, struct cio__wnode *n, struct cio__task *t,
                               const char *what)
{
    n->task = t;
    n->woken = false;
    n->result = 0;
    cio__wq_push(q, n);
    int rc = cio__suspend(t, what);
    if (n->woken)
        return n->result;
    cio__wq_remove(q, n);
    return rc ? rc : -ECANCELED;
}

/* Lock internals that Condition (event.c) shares (lock.c): an acquire
 * nothing can interrupt, and whether t holds l (t itself, not a later task
 * in its reused record). */
int cio__lock_acquire_nointr(cio_lock *l, struct cio__task *t);
bool cio__lock_held_by(const cio_lock *l, const struct cio__task *t);

#endif
