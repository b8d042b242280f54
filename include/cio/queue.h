/* cio — queues between tasks: asyncio's Queue, LifoQueue and PriorityQueue.
 *
 * Items have a fixed size chosen at init and are copied in and out: the
 * queue owns one buffer of slots, so moving an item costs a copy and never
 * an allocation (an unbounded queue grows its buffer by doubling). A put
 * that finds a getter waiting copies the item straight into the getter's
 * destination; a get that frees a slot of a full queue moves the first
 * waiting putter's item in. Waiters are served in FIFO order.
 *
 * Hand-over is safe against cancellation: an item is given to a waiting
 * getter only if that getter can still be woken, so a getter cancelled or
 * timed out at the moment an item arrives never loses it — the item stays
 * for the next getter. A getter that was handed an item before its
 * cancellation arrived returns 0 with the item (its next suspending call
 * sees the cancellation).
 *
 * Shutdown follows Python 3.13: after cio_queue_shutdown(q, false) puts
 * fail with CIO_ESHUTDOWN (blocked putters too), getters drain what is left
 * and then fail with CIO_ESHUTDOWN; cio_queue_shutdown(q, true) also drops
 * the items left (counting each as task_done) so getters fail at once.
 *
 * A queue belongs to one loop and is not thread-safe.
 */
#ifndef CIO_QUEUE_H
#define CIO_QUEUE_H

#include <stdint.h>

#include "sync.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_queue {
    /* Private. */
    struct cio__wq getters_, putters_, joiners_;
    unsigned char *buf_;
    size_t item_size_, slot_size_;
    size_t cap_;     /* slots in buf_ (a power of two for FIFO) */
    size_t maxsize_; /* 0: unbounded */
    size_t head_, count_;
    size_t unfinished_;
    int (*cmp_)(const void *a, const void *b);
    uint64_t seq_;
    unsigned char kind_;
    bool shutdown_;
} cio_queue;

/* Makes *q a FIFO queue (asyncio.Queue(maxsize)) of items of item_size
 * bytes, holding at most maxsize items (0: unbounded). Its buffer is
 * allocated now (for a bounded queue, all of it). Returns 0, -EINVAL
 * (q NULL, item_size 0), -ENOMEM. Free it with cio_queue_destroy(). */
int cio_queue_init(cio_queue *q, size_t item_size, size_t maxsize);

/* As cio_queue_init(), last in first out (asyncio.LifoQueue). */
int cio_lifo_queue_init(cio_queue *q, size_t item_size, size_t maxsize);

/* As cio_queue_init(), smallest item first by cmp (a qsort-style
 * comparison of two items: asyncio.PriorityQueue); items that compare
 * equal come out in the order they were put. -EINVAL if cmp is NULL. */
int cio_priority_queue_init(cio_queue *q, size_t item_size, size_t maxsize,
                            int (*cmp)(const void *a, const void *b));

/* Shuts q down immediately (waking its waiters with CIO_ESHUTDOWN) and
 * frees its buffer. Tasks still waiting on q must not touch it after they
 * wake. NULL is ignored. */
void cio_queue_destroy(cio_queue *q);

/* Copies item_size bytes from item into q, waiting while q is full.
 * Returns 0, CIO_ESHUTDOWN (q was shut down, before or while waiting; the
 * item was not added), -ECANCELED, -ETIMEDOUT (not added), -ENOMEM (an
 * unbounded queue could not grow), CIO_ENOTTASK (q full outside a task),
 * -EINVAL. */
int cio_queue_put(cio_queue *q, const void *item);

/* Removes the next item into *item, waiting while q is empty. Returns 0,
 * CIO_ESHUTDOWN (q shut down and empty), -ECANCELED, -ETIMEDOUT (nothing
 * was removed), CIO_ENOTTASK, -EINVAL. */
int cio_queue_get(cio_queue *q, void *item);

/* put_nowait: as cio_queue_put() without waiting. Returns 0, -EAGAIN
 * (full: asyncio's QueueFull), CIO_ESHUTDOWN, -ENOMEM, -EINVAL. Usable
 * outside tasks (callbacks). */
int cio_queue_try_put(cio_queue *q, const void *item);

/* get_nowait: returns 0, -EAGAIN (empty: QueueEmpty), CIO_ESHUTDOWN (shut
 * down and empty), -EINVAL. */
int cio_queue_try_get(cio_queue *q, void *item);

/* Number of items in q; its maxsize (0: unbounded); whether it is empty;
 * whether it is full (never for an unbounded queue). */
size_t cio_queue_size(const cio_queue *q);
size_t cio_queue_maxsize(const cio_queue *q);
bool cio_queue_empty(const cio_queue *q);
bool cio_queue_full(const cio_queue *q);

/* Marks one item taken from q as processed. Returns 0, CIO_ESTATE (called
 * more times than items were put: asyncio's ValueError), -EINVAL. */
int cio_queue_task_done(cio_queue *q);

/* Waits until every item ever put has been marked done. Returns 0,
 * -ECANCELED, -ETIMEDOUT, CIO_ENOTTASK, -EINVAL. */
int cio_queue_join(cio_queue *q);

/* Shuts q down (see above); immediate also drops the items left. Waiting
 * putters and getters wake with CIO_ESHUTDOWN. Returns 0 or -EINVAL. */
int cio_queue_shutdown(cio_queue *q, bool immediate);

/* Whether q has been shut down. */
bool cio_queue_is_shutdown(const cio_queue *q);

#ifdef __cplusplus
}
#endif
#endif
