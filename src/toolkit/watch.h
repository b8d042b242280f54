/* A watch set: one waiting task watching many tasks, told which finished
 * and in which order. Each watched task gets a node in its done_waiters
 * whose notify hook appends it to the set's done list and wakes the
 * watcher, so the watcher never scans. Used by gather, wait, as_completed. */
#ifndef CIO_TOOLKIT_WATCH_H
#define CIO_TOOLKIT_WATCH_H

#include "cio/gather.h"
#include "task/task.h"

struct cio__watch_node {
    struct cio__waiter w; /* w.link is in the task's done_waiters */
    struct cio__watch *set;
    struct cio__watch_node *next_done;
    size_t index; /* position in the caller's array */
};

#define CIO__WATCH_INLINE 8

struct cio__watch {
    struct cio__watch_node *nodes;
    size_t n;
    size_t pending;            /* watched tasks not finished yet */
    size_t absent;             /* empty entries left out */
    struct cio__task *watcher; /* woken when one finishes; may be NULL */
    /* Gather's mode, chosen before cio__watch_start(): a task that ends
     * while nobody else joins it is released by the hook itself, while its
     * memory is still in cache; its result goes to results[index] (if
     * results) and its entry in tasks is emptied. Such a task never reaches
     * the done list, and the watcher is woken only when the last task ends
     * or one fails (a gather of a thousand tasks resumes once, not a
     * thousand times). */
    bool release;
    cio_task *tasks;
    int *results;
    int failure; /* release mode: the first failure a released task had */
    struct cio__watch_node *done_head, **done_tail;
    struct cio__watch_node small[CIO__WATCH_INLINE];
};

/* Starts watching tasks[0..n). Tasks already finished, and handles that
 * are not live tasks, are queued as done at once, in index order; empty
 * entries (CIO_TASK_NONE) too, unless skip_none, which leaves them out and
 * counts them in s->absent. Returns 0 or -ENOMEM. */
int cio__watch_start(struct cio__watch *s, const cio_task *tasks, size_t n, bool skip_none);

/* Stops watching: unlinks the nodes of tasks still running, frees. */
void cio__watch_stop(struct cio__watch *s);

/* The next finished task's index, or -1 if none finished since. */
static inline long cio__watch_pop(struct cio__watch *s)
{
    struct cio__watch_node *d = s->done_head;
    if (!d)
        return -1;
    s->done_head = d->next_done;
    if (!s->done_head)
        s->done_tail = &s->done_head;
    return (long)d->index;
}

/* Suspends the calling task t until a watched task finishes (returns 0 at
 * once if one already did). Interruptible unless nointr. */
int cio__watch_wait(struct cio__watch *s, struct cio__task *t, bool nointr);

/* Cancels every watched task still running. */
void cio__watch_cancel_all(struct cio__watch *s, const cio_task *tasks);

#endif
