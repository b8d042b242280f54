/* The loop's timer queue: a heap for the near future and a wheel of
 * buckets for the rest.
 *
 * Every timer due before `horizon` sits in a 4-ary heap, in exact (deadline,
 * sequence) order; later ones wait, unsorted, in a ring of 256 buckets of
 * 2^23 ns (~8.4 ms) each, or beyond the ring (~2.1 s) in an overflow list.
 * As time passes, whole buckets move into the heap. A timer is touched a
 * couple of times in its life instead of at every level of a large heap,
 * the heap stays small enough for the cache, and adding or cancelling a
 * timer that is not due soon (most sleeps and timeouts) is O(1). */
#ifndef CIO_BASE_TIMERS_H
#define CIO_BASE_TIMERS_H

#include <stddef.h>
#include <stdint.h>

#include "heap.h"

#define CIO__WHEEL_SHIFT 23
#define CIO__WHEEL_SLOTS 256

struct cio__timers {
    struct cio__heap near; /* deadline < horizon */
    int64_t horizon;       /* a bucket boundary */
    struct cio__timer *bucket[CIO__WHEEL_SLOTS];
    uint64_t used[CIO__WHEEL_SLOTS / 64]; /* which buckets are not empty */
    struct cio__timer *overflow;          /* beyond the ring */
    int64_t overflow_min;                 /* a lower bound of its deadlines */
    uint64_t seq;
    size_t count;
};

void cio__timers_init(struct cio__timers *q, int64_t now);
void cio__timers_fini(struct cio__timers *q);

/* Schedules t at t->deadline. Returns 0 or -ENOMEM. */
int cio__timers_add(struct cio__timers *q, struct cio__timer *t);

/* Unschedules t if it is scheduled; harmless otherwise. */
void cio__timers_remove(struct cio__timers *q, struct cio__timer *t);

/* The earliest deadline, or INT64_MAX when no timer is scheduled. */
int64_t cio__timers_next(struct cio__timers *q);

/* Removes and returns a timer due at `now` (deadline <= now), earliest
 * first, FIFO among equal deadlines; NULL when none is due. */
struct cio__timer *cio__timers_pop_due(struct cio__timers *q, int64_t now);

/* Whether t is scheduled (in the heap or in the wheel). */
static inline int cio__timer_scheduled(const struct cio__timer *t)
{
    return t->index || t->pprev;
}

/* Removes and returns any scheduled timer, for draining at close. */
struct cio__timer *cio__timers_take_any(struct cio__timers *q);

#endif
