/* A 4-ary min-heap of timers ordered by deadline, then by sequence number
 * (so equal deadlines fire in FIFO order): the near part of the loop's
 * timer queue (timers.h).
 * Insert and remove are O(log n); each entry keeps its deadline next to the
 * pointer so that sifting compares without touching the timers. */
#ifndef CIO_BASE_HEAP_H
#define CIO_BASE_HEAP_H

#include <stdint.h>

#include "cio/scope.h" /* struct cio__timer */

struct cio__heap_entry {
    int64_t deadline;
    struct cio__timer *timer;
};

struct cio__heap {
    struct cio__heap_entry *a;
    uint32_t n, cap;
};

void cio__heap_init(struct cio__heap *h);
void cio__heap_fini(struct cio__heap *h);

/* Adds t, with t->deadline and t->seq set. Returns 0 or -ENOMEM. */
int cio__heap_push(struct cio__heap *h, struct cio__timer *t);

/* Removes t if it is in the heap; harmless if the heap took it out (t->pos
 * is then 0). */
void cio__heap_remove(struct cio__heap *h, struct cio__timer *t);

/* The earliest timer, or NULL. */
static inline struct cio__timer *cio__heap_top(const struct cio__heap *h)
{
    return h->n ? h->a[0].timer : 0;
}

/* Removes and returns the earliest timer if its deadline is <= now. */
struct cio__timer *cio__heap_pop_due(struct cio__heap *h, int64_t now);

#endif
