/* The loop's timer queue: a wheel of buckets for the future, a sorted run
 * for the bucket that is due, a small heap for late arrivals.
 *
 * A timer due before `horizon` is in the sorted run or, if it was added
 * after its bucket was sorted, in a small 4-ary heap; later ones wait in a
 * ring of 256 buckets of 2^23 ns (~8.4 ms) each, or beyond the ring (~2.1 s)
 * in an overflow list. Buckets are lists of (deadline, sequence, timer)
 * kept in the order timers were added, in blocks of 64 from a slab that
 * drained buckets give back to. A cancelled entry becomes a tombstone:
 * those at a list's front are passed over at once (timers are often
 * cancelled in the order they came), the others dropped when they are the
 * majority. When time reaches a bucket, its entries are radix-sorted on
 * the low bits of their deadlines (stable, so equal deadlines keep their
 * FIFO order) into the run, which is then consumed from the front; a loop
 * that is behind sorts the next overdue bucket only once the run is empty,
 * so the run stays the size of one bucket.
 *
 * So a timer's own memory is touched when it is added and when it fires,
 * and in between only when tombstones around it are dropped: a million
 * timers cost a couple of cache misses each rather than one per level of a
 * million-entry heap. Adding and cancelling are O(1), but for a timer in
 * the run (binary search) or heap. */
#ifndef CIO_BASE_TIMERS_H
#define CIO_BASE_TIMERS_H

#include <stddef.h>
#include <stdint.h>

#include "heap.h"
#include "slab.h"

#define CIO__WHEEL_SHIFT 23
#define CIO__WHEEL_SLOTS 256

/* Where a timer waits (struct cio__timer.where). */
enum { CIO__TW_NONE, CIO__TW_QUEUED, CIO__TW_BUCKET, CIO__TW_OVERFLOW };

struct cio__timer_ref {
    int64_t deadline;
    uint64_t seq;
    struct cio__timer *timer; /* NULL: cancelled */
};

struct cio__timer_vec {
    struct cio__timer_ref *a;
    uint32_t n, cap;
    size_t bytes; /* of the mapping at a */
};

/* A bucket or the overflow: references in blocks of CIO__TIMER_BLOCK from
 * the queue's slab, so that a drained bucket's memory serves the next one
 * and a million timers fill huge pages rather than fault in 4 KiB ones. */
#define CIO__TIMER_BLOCK 64

struct cio__timer_block {
    struct cio__timer_ref r[CIO__TIMER_BLOCK];
};

/* A timer knows its reference by position: `base` plus the reference's
 * offset in the list. Timers are often cancelled in the order they were
 * added (equal timeouts, sleepers cancelled in turn), so the tombstones at
 * the front are passed over as they appear and their blocks given back at
 * once; the offsets of the blocks still held are moved down by raising
 * `base`, which leaves every timer's position as it was. */
struct cio__timer_list {
    struct cio__timer_block **blocks; /* NULL before front's block: given back */
    uint32_t base;                    /* position of blocks[0]'s first reference */
    uint32_t front;                   /* offset: every reference before it is a tombstone */
    uint32_t n;                       /* offset past the last reference */
    uint32_t dead;                    /* tombstones in [front, n) */
    uint32_t nblocks, cap;
};

struct cio__timers {
    struct cio__heap near;     /* due before horizon, added late */
    struct cio__timer_vec run; /* due before horizon, sorted */
    uint32_t run_head;         /* first entry of the run not yet taken */
    int64_t horizon;           /* a bucket boundary */
    struct cio__timer_list bucket[CIO__WHEEL_SLOTS];
    uint64_t used[CIO__WHEEL_SLOTS / 64]; /* buckets with live entries */
    struct cio__timer_list overflow;      /* beyond the ring */
    struct cio__slab blocks;              /* of struct cio__timer_block */
    int64_t overflow_min;                 /* a lower bound of its deadlines */
    struct cio__timer_vec scratch;        /* for sorting */
    uint32_t *counts;                     /* for sorting */
    uint64_t seq;
    size_t count;
};

void cio__timers_init(struct cio__timers *q, int64_t now);
void cio__timers_fini(struct cio__timers *q);

/* Schedules t at t->deadline. Returns 0 or -ENOMEM. */
int cio__timers_add(struct cio__timers *q, struct cio__timer *t);

/* Unschedules t if it is scheduled; harmless otherwise. */
void cio__timers_remove(struct cio__timers *q, struct cio__timer *t);

/* The earliest deadline, or INT64_MAX when no timer is scheduled. May be
 * earlier than the true one (never later): waking early is harmless. */
int64_t cio__timers_next(struct cio__timers *q);

/* Removes and returns a timer due at `now` (deadline <= now), earliest
 * first, FIFO among equal deadlines; NULL when none is due. */
struct cio__timer *cio__timers_pop_due(struct cio__timers *q, int64_t now);

/* Whether t is scheduled. */
static inline int cio__timer_scheduled(const struct cio__timer *t)
{
    return t->where != CIO__TW_NONE;
}

/* Removes and returns any scheduled timer, for draining at close. */
struct cio__timer *cio__timers_take_any(struct cio__timers *q);

#endif
