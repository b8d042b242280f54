#include "timers.h"

#include <errno.h>
#include <string.h>

#include "compiler.h"

#define WIDTH ((int64_t)1 << CIO__WHEEL_SHIFT)
#define MASK (CIO__WHEEL_SLOTS - 1)

static inline int64_t slot_of(int64_t deadline)
{
    return deadline >> CIO__WHEEL_SHIFT; /* arithmetic: floor for negatives too */
}

static void link(struct cio__timer **head, struct cio__timer *t)
{
    t->next = *head;
    if (*head)
        (*head)->pprev = &t->next;
    *head = t;
    t->pprev = head;
}

static void unlink(struct cio__timer *t)
{
    *t->pprev = t->next;
    if (t->next)
        t->next->pprev = t->pprev;
    t->next = NULL;
    t->pprev = NULL;
}

void cio__timers_init(struct cio__timers *q, int64_t now)
{
    memset(q, 0, sizeof *q);
    cio__heap_init(&q->near);
    q->horizon = (slot_of(now) + 1) * WIDTH;
    q->overflow_min = INT64_MAX;
}

void cio__timers_fini(struct cio__timers *q)
{
    while (cio__timers_take_any(q))
        ;
    cio__heap_fini(&q->near);
}

/* Files t where its deadline says, given the current horizon. */
static int place(struct cio__timers *q, struct cio__timer *t)
{
    int64_t d = t->deadline;
    if (d < q->horizon)
        return cio__heap_push(&q->near, t);
    int64_t s = slot_of(d);
    if (s < slot_of(q->horizon) + CIO__WHEEL_SLOTS) {
        unsigned k = (unsigned)(s & MASK);
        link(&q->bucket[k], t);
        q->used[k / 64] |= 1ull << (k % 64);
    } else {
        link(&q->overflow, t);
        if (d < q->overflow_min)
            q->overflow_min = d;
    }
    return 0;
}

int cio__timers_add(struct cio__timers *q, struct cio__timer *t)
{
    t->seq = q->seq++;
    t->index = 0;
    t->next = NULL;
    t->pprev = NULL;
    int rc = place(q, t);
    if (rc == 0)
        q->count++;
    return rc;
}

void cio__timers_remove(struct cio__timers *q, struct cio__timer *t)
{
    if (t->index) {
        cio__heap_remove(&q->near, t);
    } else if (t->pprev) {
        unlink(t);
        int64_t s = slot_of(t->deadline);
        unsigned k = (unsigned)(s & MASK);
        if (!q->bucket[k])
            q->used[k / 64] &= ~(1ull << (k % 64));
    } else {
        return;
    }
    q->count--;
}

/* Distance, in buckets from the horizon's, to the first non-empty bucket;
 * CIO__WHEEL_SLOTS if all are empty. */
static unsigned first_used(const struct cio__timers *q)
{
    unsigned start = (unsigned)(slot_of(q->horizon) & MASK);
    for (unsigned step = 0; step < CIO__WHEEL_SLOTS;) {
        unsigned k = (start + step) & MASK;
        uint64_t w = q->used[k / 64] >> (k % 64);
        if (w)
            return step + (unsigned)__builtin_ctzll(w);
        step += 64 - k % 64;
    }
    return CIO__WHEEL_SLOTS;
}

/* Moves the overflow timers the ring now reaches into the ring or heap. */
static int refill_from_overflow(struct cio__timers *q)
{
    if (slot_of(q->overflow_min) >= slot_of(q->horizon) + CIO__WHEEL_SLOTS)
        return 0;
    struct cio__timer *t = q->overflow;
    q->overflow = NULL;
    q->overflow_min = INT64_MAX;
    int rc = 0;
    while (t) {
        struct cio__timer *next = t->next;
        t->next = NULL;
        t->pprev = NULL;
        if (place(q, t) < 0) {
            link(&q->overflow, t); /* keep it; retried on the next advance */
            if (t->deadline < q->overflow_min)
                q->overflow_min = t->deadline;
            rc = -ENOMEM;
        }
        t = next;
    }
    return rc;
}

/* Moves one bucket into the heap and the horizon past it. */
static void drain_bucket(struct cio__timers *q, unsigned k)
{
    struct cio__timer *t = q->bucket[k];
    q->bucket[k] = NULL;
    q->used[k / 64] &= ~(1ull << (k % 64));
    while (t) {
        struct cio__timer *next = t->next;
        t->next = NULL;
        t->pprev = NULL;
        if (cio__heap_push(&q->near, t) < 0)
            link(&q->bucket[k], t); /* out of memory: stays, retried later */
        t = next;
    }
    if (q->bucket[k])
        q->used[k / 64] |= 1ull << (k % 64);
}

/* Advances the horizon past `until`, moving every bucket it passes. */
static void advance(struct cio__timers *q, int64_t until)
{
    while (q->horizon <= until) {
        unsigned dist = first_used(q);
        int64_t target = (slot_of(q->horizon) + dist) * WIDTH;
        if (dist == CIO__WHEEL_SLOTS || target > until) {
            /* Nothing before `until`: jump over the empty buckets. */
            int64_t jump = (slot_of(until) + 1) * WIDTH;
            if (dist != CIO__WHEEL_SLOTS && jump > target)
                jump = target;
            q->horizon = jump;
        } else {
            unsigned k = (unsigned)(slot_of(target) & MASK);
            drain_bucket(q, k);
            if (q->bucket[k])
                return; /* out of memory: try again next time */
            q->horizon = target + WIDTH;
        }
        refill_from_overflow(q);
    }
}

int64_t cio__timers_next(struct cio__timers *q)
{
    if (q->near.n)
        return q->near.a[0].deadline;
    if (!q->count)
        return INT64_MAX;
    /* Pull the next occupied bucket into the heap so the answer is exact. */
    unsigned dist = first_used(q);
    if (dist < CIO__WHEEL_SLOTS)
        advance(q, (slot_of(q->horizon) + dist) * WIDTH);
    else if (q->overflow)
        return q->overflow_min; /* exact or earlier: waking early is harmless */
    return q->near.n ? q->near.a[0].deadline : INT64_MAX;
}

struct cio__timer *cio__timers_pop_due(struct cio__timers *q, int64_t now)
{
    if (q->horizon <= now)
        advance(q, now);
    struct cio__timer *t = cio__heap_pop_due(&q->near, now);
    if (t)
        q->count--;
    return t;
}

struct cio__timer *cio__timers_take_any(struct cio__timers *q)
{
    struct cio__timer *t = cio__heap_top(&q->near);
    if (!t) {
        for (unsigned k = 0; k < CIO__WHEEL_SLOTS && !t; k++)
            t = q->bucket[k];
        if (!t)
            t = q->overflow;
    }
    if (t)
        cio__timers_remove(q, t);
    return t;
}
