#include "timers.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compiler.h"
#include "pages.h"

#define WIDTH ((int64_t)1 << CIO__WHEEL_SHIFT)
#define MASK (CIO__WHEEL_SLOTS - 1)

static inline int64_t slot_of(int64_t deadline)
{
    return deadline >> CIO__WHEEL_SHIFT; /* arithmetic: floor for negatives too */
}

static inline unsigned bucket_of(int64_t deadline)
{
    return (unsigned)(slot_of(deadline) & MASK);
}

/* ---- vectors of references ---------------------------------------------- */

/* Vectors double in mappings of their own (pages.h) rather than with
 * realloc: after a busy stretch the run takes in many buckets at once
 * (megabytes for a million timers), and malloc would give it fresh 4 KiB
 * pages, a fault each, every time it grows; past 2 MiB an arena is made of
 * huge pages. Contents up to v->n are kept. */
static int vec_reserve(struct cio__timer_vec *v, uint32_t n)
{
    if (n <= v->cap)
        return 0;
    size_t bytes = v->bytes ? v->bytes : (size_t)sysconf(_SC_PAGESIZE);
    while (bytes / sizeof *v->a < n)
        bytes *= 2;
    struct cio__timer_ref *a = cio__pages_alloc(bytes);
    if (!a)
        return -ENOMEM;
    if (v->n)
        memcpy(a, v->a, (size_t)v->n * sizeof *a);
    cio__pages_free(v->a, v->bytes);
    v->a = a;
    v->bytes = bytes;
    v->cap = (uint32_t)(bytes / sizeof *a);
    return 0;
}

static void vec_free(struct cio__timer_vec *v)
{
    cio__pages_free(v->a, v->bytes);
    memset(v, 0, sizeof *v);
}

/* ---- lists of references in blocks ---------------------------------------- */

static inline struct cio__timer_ref *at(const struct cio__timer_list *l, uint32_t off)
{
    return &l->blocks[off / CIO__TIMER_BLOCK]->r[off % CIO__TIMER_BLOCK];
}

static inline bool list_empty(const struct cio__timer_list *l)
{
    return l->front == l->n;
}

static inline uint32_t list_live(const struct cio__timer_list *l)
{
    return l->n - l->front - l->dead;
}

/* Appends r; returns its offset, or -ENOMEM. */
static int64_t list_push(struct cio__timers *q, struct cio__timer_list *l, struct cio__timer_ref r)
{
    if (l->n == l->nblocks * CIO__TIMER_BLOCK) {
        if (l->nblocks == l->cap) {
            uint32_t cap = l->cap ? 2 * l->cap : 4;
            struct cio__timer_block **b = realloc(l->blocks, cap * sizeof *b);
            if (!b)
                return -ENOMEM;
            l->blocks = b;
            l->cap = cap;
        }
        struct cio__timer_block *blk = cio__slab_get(&q->blocks);
        if (!blk)
            return -ENOMEM;
        l->blocks[l->nblocks++] = blk;
    }
    *at(l, l->n) = r;
    return l->n++;
}

/* Gives back the blocks past the first n offsets. */
static void list_truncate(struct cio__timers *q, struct cio__timer_list *l, uint32_t n)
{
    l->n = n;
    uint32_t keep = (n + CIO__TIMER_BLOCK - 1) / CIO__TIMER_BLOCK;
    while (l->nblocks > keep) {
        struct cio__timer_block *blk = l->blocks[--l->nblocks];
        if (blk)
            cio__slab_put(&q->blocks, blk);
    }
}

static void list_clear(struct cio__timers *q, struct cio__timer_list *l)
{
    list_truncate(q, l, 0);
    l->front = l->dead = 0;
}

/* Moves front past the tombstones it points at, giving back the blocks it
 * leaves behind. Once those are half the array (and at least 16, so that a
 * short list does not move its array at every block), the blocks still
 * held move to its start: the array stays as long as the live timers need,
 * however many pass through a list that never empties. */
static void list_advance_front(struct cio__timers *q, struct cio__timer_list *l)
{
    uint32_t f = l->front;
    while (f < l->n && !at(l, f)->timer)
        f++;
    l->dead -= f - l->front;
    for (uint32_t b = l->front / CIO__TIMER_BLOCK; b < f / CIO__TIMER_BLOCK; b++) {
        cio__slab_put(&q->blocks, l->blocks[b]);
        l->blocks[b] = NULL;
    }
    l->front = f;
    uint32_t gone = f / CIO__TIMER_BLOCK;
    if (gone >= 16 && 2 * gone >= l->nblocks) {
        memmove(l->blocks, l->blocks + gone, (l->nblocks - gone) * sizeof *l->blocks);
        l->nblocks -= gone;
        l->base += gone * CIO__TIMER_BLOCK;
        l->front -= gone * CIO__TIMER_BLOCK;
        l->n -= gone * CIO__TIMER_BLOCK;
    }
}

/* Drops the tombstones once they are the majority, keeping the order. The
 * live references move down to the start of front's block. */
static void list_compact(struct cio__timers *q, struct cio__timer_list *l)
{
    if (l->dead < 32 || l->dead * 2 < l->n - l->front)
        return;
    uint32_t start = l->front - l->front % CIO__TIMER_BLOCK, j = start;
    for (uint32_t i = l->front; i < l->n; i++) {
        struct cio__timer_ref *r = at(l, i);
        if (!r->timer)
            continue;
        *at(l, j) = *r;
        r->timer->pos = l->base + j;
        j++;
    }
    list_truncate(q, l, j);
    l->front = start;
    l->dead = 0;
}

/* ---- placing ------------------------------------------------------------ */

void cio__timers_init(struct cio__timers *q, int64_t now)
{
    memset(q, 0, sizeof *q);
    cio__heap_init(&q->near);
    cio__slab_init(&q->blocks, sizeof(struct cio__timer_block), 16);
    q->horizon = (slot_of(now) + 1) * WIDTH;
    q->overflow_min = INT64_MAX;
}

/* Files t, due at or after the horizon, in its bucket or the overflow. */
static int place_future(struct cio__timers *q, struct cio__timer *t)
{
    int64_t d = t->deadline;
    struct cio__timer_list *v;
    uint8_t where;
    unsigned k = 0;
    if (slot_of(d) < slot_of(q->horizon) + CIO__WHEEL_SLOTS) {
        k = bucket_of(d);
        v = &q->bucket[k];
        where = CIO__TW_BUCKET;
    } else {
        v = &q->overflow;
        where = CIO__TW_OVERFLOW;
    }
    int64_t off = list_push(q, v, (struct cio__timer_ref){d, t->seq, t});
    if (off < 0)
        return -ENOMEM;
    t->pos = v->base + (uint32_t)off;
    t->where = where;
    if (where == CIO__TW_BUCKET)
        q->used[k / 64] |= 1ull << (k % 64);
    else if (d < q->overflow_min)
        q->overflow_min = d;
    return 0;
}

static int place_near(struct cio__timers *q, struct cio__timer *t)
{
    int rc = cio__heap_push(&q->near, t);
    if (rc == 0)
        t->where = CIO__TW_QUEUED;
    return rc;
}

int cio__timers_add(struct cio__timers *q, struct cio__timer *t)
{
    t->seq = q->seq++;
    int rc = t->deadline < q->horizon ? place_near(q, t) : place_future(q, t);
    if (rc == 0)
        q->count++;
    else
        t->where = CIO__TW_NONE;
    return rc;
}

/* ---- removing ----------------------------------------------------------- */

static struct cio__timer_ref *run_find(struct cio__timers *q, const struct cio__timer *t)
{
    uint32_t lo = q->run_head, hi = q->run.n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const struct cio__timer_ref *r = &q->run.a[mid];
        if (r->deadline < t->deadline || (r->deadline == t->deadline && r->seq < t->seq))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < q->run.n && q->run.a[lo].timer == t)
        return &q->run.a[lo];
    return NULL;
}

/* Counts the tombstone list_remove() has made at offset off of v, the
 * list of t (its bucket, or the overflow), and tidies v: what
 * list_remove() leaves to a call. */
static __attribute__((noinline)) void list_remove_slow(struct cio__timers *q,
                                                       struct cio__timer_list *v, uint32_t off,
                                                       const struct cio__timer *t)
{
    v->dead++;
    if (off == v->front)
        list_advance_front(q, v);
    if (list_empty(v)) {
        list_clear(q, v);
        if (t->where == CIO__TW_BUCKET) {
            unsigned k = bucket_of(t->deadline);
            q->used[k / 64] &= ~(1ull << (k % 64));
        }
    } else {
        list_compact(q, v);
    }
}

static inline void list_remove(struct cio__timers *q, struct cio__timer_list *v,
                               const struct cio__timer *t)
{
    uint32_t off = t->pos - v->base;
    struct cio__timer_ref *r = at(v, off);
    r->timer = NULL;
    /* Nearly always, when timers leave in the order they came: the front
     * one goes, and the next, in the same block, is live. */
    if (cio__likely(off == v->front && (off + 1) % CIO__TIMER_BLOCK && off + 1 < v->n &&
                    r[1].timer)) {
        v->front = off + 1;
        return;
    }
    list_remove_slow(q, v, off, t);
}

void cio__timers_remove(struct cio__timers *q, struct cio__timer *t)
{
    if (t->where == CIO__TW_NONE)
        return;
    if (t->where == CIO__TW_QUEUED) {
        cio__heap_remove(&q->near, t);
    } else if (t->deadline < q->horizon) {
        /* Its bucket has been sorted into the run since it was added. */
        struct cio__timer_ref *r = run_find(q, t);
        if (r)
            r->timer = NULL;
    } else {
        list_remove(
            q, t->where == CIO__TW_BUCKET ? &q->bucket[bucket_of(t->deadline)] : &q->overflow, t);
    }
    t->where = CIO__TW_NONE;
    q->count--;
}

/* ---- time passing ------------------------------------------------------- */

/* Distance, in buckets from the horizon's, to the first bucket with live
 * timers; CIO__WHEEL_SLOTS if there is none. */
static unsigned first_used(const struct cio__timers *q)
{
    /* An empty ring is common (a loop whose only timer is minutes away)
     * and asked about at every wait: tell it without the walk. */
    uint64_t any = 0;
    for (unsigned i = 0; i < CIO__WHEEL_SLOTS / 64; i++)
        any |= q->used[i];
    if (!any)
        return CIO__WHEEL_SLOTS;
    unsigned start = bucket_of(q->horizon);
    for (unsigned step = 0; step < CIO__WHEEL_SLOTS;) {
        unsigned k = (start + step) & MASK;
        uint64_t w = q->used[k / 64] >> (k % 64);
        if (w)
            return step + (unsigned)__builtin_ctzll(w);
        step += 64 - k % 64;
    }
    return CIO__WHEEL_SLOTS;
}

static inline uint32_t low_bits(const struct cio__timer_ref *r)
{
    return (uint32_t)(r->deadline & (WIDTH - 1));
}

static inline bool ref_before(const struct cio__timer_ref *a, const struct cio__timer_ref *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

/* Insertion sort on (deadline, sequence): linear on nearly sorted input. */
static void insertion_sort(struct cio__timer_ref *a, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        struct cio__timer_ref r = a[i];
        uint32_t j = i;
        while (j > 0 && ref_before(&r, &a[j - 1])) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = r;
    }
}

/* Two radix passes cover a bucket's 23 bits; their counts take 32 KiB,
 * allocated once with the scratch array. */
#define RADIX_BITS 12
#define RADIX (1 << RADIX_BITS)
#define DIGIT0(r) (low_bits(r) & (RADIX - 1))
#define DIGIT1(r) (low_bits(r) >> RADIX_BITS)

/* Calls `body` with `r` set to each live reference of list l, in order
 * (from front's block: what lies before front in it is tombstones). */
#define FOREACH_LIVE(l, r, body)                                                                   \
    for (uint32_t b_ = (l)->front / CIO__TIMER_BLOCK; b_ < (l)->nblocks; b_++) {                   \
        const struct cio__timer_ref *blk_ = (l)->blocks[b_]->r;                                    \
        uint32_t n_ = (l)->n - b_ * CIO__TIMER_BLOCK;                                              \
        if (n_ > CIO__TIMER_BLOCK)                                                                 \
            n_ = CIO__TIMER_BLOCK;                                                                 \
        for (uint32_t i_ = 0; i_ < n_; i_++) {                                                     \
            const struct cio__timer_ref *r = &blk_[i_];                                            \
            if (r->timer) {                                                                        \
                body;                                                                              \
            }                                                                                      \
        }                                                                                          \
    }

/* Moves bucket k, all due before the new horizon, into the sorted run, in
 * (deadline, sequence) order. Its deadlines share their high bits, so two
 * stable radix passes on the low 23 bits sort them (the first reading the
 * bucket's blocks, the second writing the run), and an insertion pass
 * orders equal deadlines by sequence (a bucket is in sequence order but
 * for timers moved in from the overflow). */
static int drain_bucket(struct cio__timers *q, unsigned k)
{
    struct cio__timer_list *v = &q->bucket[k];
    uint32_t live = list_live(v);
    if (vec_reserve(&q->run, q->run.n + live) < 0)
        return -ENOMEM;
    if (!q->counts && !(q->counts = malloc(2 * (RADIX + 1) * sizeof *q->counts)))
        return -ENOMEM;
    if (vec_reserve(&q->scratch, live) < 0)
        return -ENOMEM;
    /* Every deadline in this bucket is later than every one in the run. */
    struct cio__timer_ref *dst = q->run.a + q->run.n;
    if (live <= 32) {
        uint32_t j = 0;
        FOREACH_LIVE(v, r, dst[j++] = *r);
    } else {
        uint32_t *c0 = q->counts, *c1 = q->counts + RADIX + 1;
        memset(q->counts, 0, 2 * (RADIX + 1) * sizeof *q->counts);
        FOREACH_LIVE(v, r, {
            c0[DIGIT0(r) + 1]++;
            c1[DIGIT1(r) + 1]++;
        });
        for (int b = 0; b < RADIX; b++) {
            c0[b + 1] += c0[b];
            c1[b + 1] += c1[b];
        }
        FOREACH_LIVE(v, r, q->scratch.a[c0[DIGIT0(r)]++] = *r);
        for (uint32_t i = 0; i < live; i++)
            dst[c1[DIGIT1(&q->scratch.a[i])]++] = q->scratch.a[i];
    }
    insertion_sort(dst, live);
    q->run.n += live;
    list_clear(q, v);
    q->used[k / 64] &= ~(1ull << (k % 64));
    return 0;
}

/* Moves the overflow timers the ring now reaches into the ring or heap. */
static void refill_from_overflow(struct cio__timers *q)
{
    struct cio__timer_list *v = &q->overflow;
    if (list_empty(v) || slot_of(q->overflow_min) >= slot_of(q->horizon) + CIO__WHEEL_SLOTS)
        return;
    q->overflow_min = INT64_MAX;
    /* The references kept move down to the start of front's block. */
    uint32_t start = v->front - v->front % CIO__TIMER_BLOCK, kept = start;
    for (uint32_t i = v->front; i < v->n; i++) {
        struct cio__timer *t = at(v, i)->timer;
        if (!t)
            continue;
        int rc = -1;
        if (t->deadline < q->horizon)
            rc = place_near(q, t);
        else if (slot_of(t->deadline) < slot_of(q->horizon) + CIO__WHEEL_SLOTS)
            rc = place_future(q, t);
        if (rc == 0)
            continue;
        /* Still too far (or no memory): stays, in order. */
        *at(v, kept) = *at(v, i);
        t->pos = v->base + kept++;
        t->where = CIO__TW_OVERFLOW;
        if (t->deadline < q->overflow_min)
            q->overflow_min = t->deadline;
    }
    if (kept == start) {
        list_clear(q, v);
    } else {
        list_truncate(q, v, kept);
        v->front = start;
        v->dead = 0;
    }
}

static struct cio__timer_ref *run_front(struct cio__timers *q)
{
    while (q->run_head < q->run.n && !q->run.a[q->run_head].timer)
        q->run_head++;
    if (q->run_head == q->run.n) {
        q->run.n = q->run_head = 0;
        return NULL;
    }
    return &q->run.a[q->run_head];
}

/* Advances the horizon towards `until`, sorting the buckets it passes into
 * the run, until it is past `until` or the run or heap holds a timer: that
 * one is due before every timer still in a bucket. A loop that is behind
 * (a million timers took a while to add) thus sorts one bucket at a time
 * as the run empties, rather than every overdue bucket at once into a run
 * of megabytes that would grow, be copied, and fault in fresh pages. */
static void advance(struct cio__timers *q, int64_t until)
{
    /* Deadlines near INT64_MAX mean "never": stop short of overflowing. */
    if (until > INT64_MAX - 2 * WIDTH)
        until = INT64_MAX - 2 * WIDTH;
    while (q->horizon <= until && !run_front(q) && !cio__heap_top(&q->near)) {
        unsigned dist = first_used(q);
        int64_t target = (slot_of(q->horizon) + dist) * WIDTH;
        if (dist == CIO__WHEEL_SLOTS || target > until) {
            /* Nothing before `until`: jump over the empty buckets. */
            int64_t jump = (slot_of(until) + 1) * WIDTH;
            if (dist != CIO__WHEEL_SLOTS && jump > target)
                jump = target;
            q->horizon = jump;
        } else {
            if (drain_bucket(q, bucket_of(target)) < 0)
                return; /* out of memory: retried next time */
            q->horizon = target + WIDTH;
        }
        refill_from_overflow(q);
    }
}

/* The earlier of the run's front and the heap's top; sets *from_run. */
static bool earliest(struct cio__timers *q, int64_t *deadline, bool *from_run)
{
    struct cio__timer_ref *r = run_front(q);
    struct cio__timer *h = cio__heap_top(&q->near);
    if (!r && !h)
        return false;
    *from_run =
        r && (!h || r->deadline < h->deadline || (r->deadline == h->deadline && r->seq < h->seq));
    *deadline = *from_run ? r->deadline : h->deadline;
    return true;
}

int64_t cio__timers_next(struct cio__timers *q)
{
    int64_t d;
    bool from_run;
    if (earliest(q, &d, &from_run))
        return d;
    if (!q->count)
        return INT64_MAX;
    /* Sort the next occupied bucket into the run so the answer is exact. */
    unsigned dist = first_used(q);
    if (dist == CIO__WHEEL_SLOTS)
        return !list_empty(&q->overflow) ? q->overflow_min : INT64_MAX; /* a lower bound */
    int64_t start = (slot_of(q->horizon) + dist) * WIDTH;
    advance(q, start);
    if (earliest(q, &d, &from_run))
        return d;
    /* Out of memory while sorting: the bucket's start is a lower bound,
     * and the sort is retried when the loop wakes there. */
    return start;
}

#define PREFETCH_AHEAD 16

struct cio__timer *cio__timers_pop_due(struct cio__timers *q, int64_t now)
{
    if (q->horizon <= now)
        advance(q, now);
    int64_t d;
    bool from_run;
    if (!earliest(q, &d, &from_run) || d > now)
        return NULL;
    struct cio__timer *t;
    if (from_run) {
        t = q->run.a[q->run_head++].timer;
        /* The timers of a run come in deadline order, scattered in memory
         * (a million handles fill ~100 MiB): fetch one a few places ahead,
         * so that firing it finds it in the cache. */
        if (q->run_head + PREFETCH_AHEAD < q->run.n)
            __builtin_prefetch(q->run.a[q->run_head + PREFETCH_AHEAD].timer, 1);
    } else {
        t = cio__heap_pop_due(&q->near, now);
    }
    t->where = CIO__TW_NONE;
    q->count--;
    return t;
}

struct cio__timer *cio__timers_take_any(struct cio__timers *q)
{
    struct cio__timer *t = cio__heap_top(&q->near);
    if (!t) {
        struct cio__timer_ref *r = run_front(q);
        t = r ? r->timer : NULL;
    }
    for (unsigned k = 0; !t && k < CIO__WHEEL_SLOTS; k++)
        for (uint32_t i = q->bucket[k].front; !t && i < q->bucket[k].n; i++)
            t = at(&q->bucket[k], i)->timer;
    for (uint32_t i = q->overflow.front; !t && i < q->overflow.n; i++)
        t = at(&q->overflow, i)->timer;
    if (t)
        cio__timers_remove(q, t);
    return t;
}

void cio__timers_fini(struct cio__timers *q)
{
    while (cio__timers_take_any(q))
        ;
    cio__heap_fini(&q->near);
    vec_free(&q->run);
    for (unsigned k = 0; k < CIO__WHEEL_SLOTS; k++)
        free(q->bucket[k].blocks);
    free(q->overflow.blocks);
    cio__slab_fini(&q->blocks);
    vec_free(&q->scratch);
    free(q->counts);
    q->counts = NULL;
}
