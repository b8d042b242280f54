/* Queue, LifoQueue, PriorityQueue over one buffer of fixed-size slots.
 *
 * FIFO: a ring whose capacity is a power of two (index by mask). LIFO: a
 * stack in the same buffer. Priority: a binary min-heap whose slots carry a
 * sequence number before the item, so equal items leave in FIFO order.
 * Every path that adds an item first offers it to a waiting getter, and
 * every path that removes one from a full queue refills the slot from the
 * first waiting putter; both use the waiter queue's hand-over rule. */
#include "cio/queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "toolkit/waitq.h"

enum { FIFO, LIFO, PRIO };

#define MIN_CAP 16

static size_t pow2_at_least(size_t n)
{
    size_t c = MIN_CAP;
    while (c < n)
        c <<= 1;
    return c;
}

static int init(cio_queue *q, int kind, size_t item_size, size_t maxsize,
                int (*cmp)(const void *, const void *))
{
    if (!q || item_size == 0 || item_size > ((size_t)1 << 30) || maxsize > ((size_t)1 << 40))
        return -EINVAL;
    *q = (cio_queue){0};
    q->kind_ = (unsigned char)kind;
    q->item_size_ = item_size;
    q->slot_size_ = kind == PRIO ? item_size + sizeof(uint64_t) : item_size;
    q->maxsize_ = maxsize;
    q->cmp_ = cmp;
    q->cap_ = maxsize ? (kind == FIFO ? pow2_at_least(maxsize) : maxsize) : MIN_CAP;
    if (q->cap_ > SIZE_MAX / q->slot_size_)
        return -ENOMEM;
    q->buf_ = malloc(q->cap_ * q->slot_size_);
    return q->buf_ ? 0 : -ENOMEM;
}

int cio_queue_init(cio_queue *q, size_t item_size, size_t maxsize)
{
    return init(q, FIFO, item_size, maxsize, NULL);
}

int cio_lifo_queue_init(cio_queue *q, size_t item_size, size_t maxsize)
{
    return init(q, LIFO, item_size, maxsize, NULL);
}

int cio_priority_queue_init(cio_queue *q, size_t item_size, size_t maxsize,
                            int (*cmp)(const void *a, const void *b))
{
    if (!cmp)
        return -EINVAL;
    return init(q, PRIO, item_size, maxsize, cmp);
}

static inline unsigned char *slot(const cio_queue *q, size_t i)
{
    return q->buf_ + i * q->slot_size_;
}

static inline void copy_item(void *dst, const void *src, size_t n)
{
    /* The common sizes as fixed-size copies the compiler inlines. */
    switch (n) {
    case 4:
        memcpy(dst, src, 4);
        break;
    case 8:
        memcpy(dst, src, 8);
        break;
    case 16:
        memcpy(dst, src, 16);
        break;
    default:
        memcpy(dst, src, n);
    }
}

static bool full(const cio_queue *q)
{
    return q->maxsize_ && q->count_ >= q->maxsize_;
}

/* Makes room for one more item in an unbounded queue. */
static int grow(cio_queue *q)
{
    if (q->count_ < q->cap_)
        return 0;
    size_t ncap = q->cap_ * 2;
    if (ncap > SIZE_MAX / q->slot_size_)
        return -ENOMEM;
    unsigned char *nb = malloc(ncap * q->slot_size_);
    if (!nb)
        return -ENOMEM;
    if (q->kind_ == FIFO) {
        /* Unroll the ring so it starts at 0. */
        size_t first = q->cap_ - q->head_;
        if (first > q->count_)
            first = q->count_;
        memcpy(nb, slot(q, q->head_), first * q->slot_size_);
        memcpy(nb + first * q->slot_size_, q->buf_, (q->count_ - first) * q->slot_size_);
        q->head_ = 0;
    } else {
        memcpy(nb, q->buf_, q->count_ * q->slot_size_);
    }
    free(q->buf_);
    q->buf_ = nb;
    q->cap_ = ncap;
    return 0;
}

/* ---- the priority heap -------------------------------------------------- */

static bool less(const cio_queue *q, size_t a, size_t b)
{
    const unsigned char *x = slot(q, a), *y = slot(q, b);
    int c = q->cmp_(x + sizeof(uint64_t), y + sizeof(uint64_t));
    if (c)
        return c < 0;
    uint64_t sx, sy;
    memcpy(&sx, x, sizeof sx);
    memcpy(&sy, y, sizeof sy);
    return sx < sy;
}

static void swap_slots(cio_queue *q, size_t a, size_t b)
{
    unsigned char tmp[256];
    unsigned char *x = slot(q, a), *y = slot(q, b);
    size_t left = q->slot_size_;
    while (left) {
        size_t k = left < sizeof tmp ? left : sizeof tmp;
        memcpy(tmp, x, k);
        memcpy(x, y, k);
        memcpy(y, tmp, k);
        x += k;
        y += k;
        left -= k;
    }
}

static void heap_push(cio_queue *q, const void *item)
{
    size_t i = q->count_++;
    unsigned char *s = slot(q, i);
    uint64_t seq = q->seq_++;
    memcpy(s, &seq, sizeof seq);
    memcpy(s + sizeof seq, item, q->item_size_);
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!less(q, i, parent))
            break;
        swap_slots(q, i, parent);
        i = parent;
    }
}

static void heap_pop(cio_queue *q, void *item)
{
    memcpy(item, slot(q, 0) + sizeof(uint64_t), q->item_size_);
    size_t n = --q->count_;
    if (n == 0)
        return;
    memcpy(slot(q, 0), slot(q, n), q->slot_size_);
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && less(q, l, m))
            m = l;
        if (r < n && less(q, r, m))
            m = r;
        if (m == i)
            break;
        swap_slots(q, i, m);
        i = m;
    }
}

/* ---- adding and removing, without waiting -------------------------------- */

/* Stores an item; there is room. */
static void push(cio_queue *q, const void *item)
{
    switch (q->kind_) {
    case FIFO:
        copy_item(slot(q, (q->head_ + q->count_) & (q->cap_ - 1)), item, q->item_size_);
        q->count_++;
        break;
    case LIFO:
        copy_item(slot(q, q->count_++), item, q->item_size_);
        break;
    default:
        heap_push(q, item);
    }
}

/* Removes the next item; there is one. */
static void pop(cio_queue *q, void *item)
{
    switch (q->kind_) {
    case FIFO:
        copy_item(item, slot(q, q->head_), q->item_size_);
        q->head_ = (q->head_ + 1) & (q->cap_ - 1);
        q->count_--;
        break;
    case LIFO:
        copy_item(item, slot(q, --q->count_), q->item_size_);
        break;
    default:
        heap_pop(q, item);
    }
}

/* Adds item if it can be done now: to a waiting getter, or into a free
 * slot. Returns 0, -EAGAIN (full), -ENOMEM. */
static int put_now(cio_queue *q, const void *item)
{
    if (!cio__wq_empty(&q->getters_)) {
        struct cio__wnode *g = cio__wq_wake_one(&q->getters_, 0);
        if (g) {
            copy_item(g->data, item, q->item_size_);
            q->unfinished_++;
            return 0;
        }
    }
    if (full(q))
        return -EAGAIN;
    if (!q->maxsize_) {
        int rc = grow(q);
        if (rc)
            return rc;
    }
    push(q, item);
    q->unfinished_++;
    return 0;
}

/* Takes an item into *item if there is one, refilling from a waiting
 * putter. Returns 0 or -EAGAIN. */
static int get_now(cio_queue *q, void *item)
{
    if (q->count_ == 0)
        return -EAGAIN;
    pop(q, item);
    if (!cio__wq_empty(&q->putters_)) {
        struct cio__wnode *p = cio__wq_wake_one(&q->putters_, 0);
        if (p) {
            push(q, p->data);
            q->unfinished_++;
        }
    }
    return 0;
}

/* ---- the API -------------------------------------------------------------- */

int cio_queue_try_put(cio_queue *q, const void *item)
{
    if (!q || !item || !q->buf_)
        return -EINVAL;
    if (q->shutdown_)
        return CIO_ESHUTDOWN;
    return put_now(q, item);
}

int cio_queue_put(cio_queue *q, const void *item)
{
    /* The hot path: a bounded FIFO with room and nobody waiting to get. */
    if (cio__likely(q && item && q->kind_ == FIFO && q->count_ < q->maxsize_ && !q->getters_.head &&
                    !q->shutdown_)) {
        copy_item(slot(q, (q->head_ + q->count_) & (q->cap_ - 1)), item, q->item_size_);
        q->count_++;
        q->unfinished_++;
        return 0;
    }
    if (!q || !item || !q->buf_)
        return -EINVAL;
    if (q->shutdown_)
        return CIO_ESHUTDOWN;
    int rc = put_now(q, item);
    if (rc != -EAGAIN)
        return rc;
    struct cio__task *t;
    rc = cio__enter(&t);
    if (rc)
        return rc;
    /* The getter that frees a slot copies *item in before waking us. */
    struct cio__wnode n = {.data = (void *)item};
    return cio__wq_wait(&q->putters_, &n, t, "queue put");
}

int cio_queue_try_get(cio_queue *q, void *item)
{
    if (!q || !item || !q->buf_)
        return -EINVAL;
    if (get_now(q, item) == 0)
        return 0;
    return q->shutdown_ ? CIO_ESHUTDOWN : -EAGAIN;
}

int cio_queue_get(cio_queue *q, void *item)
{
    /* The hot path: an item in a FIFO and no putter to move in after it. */
    if (cio__likely(q && item && q->kind_ == FIFO && q->count_ && !q->putters_.head)) {
        copy_item(item, slot(q, q->head_), q->item_size_);
        q->head_ = (q->head_ + 1) & (q->cap_ - 1);
        q->count_--;
        return 0;
    }
    if (!q || !item || !q->buf_)
        return -EINVAL;
    if (get_now(q, item) == 0)
        return 0;
    if (q->shutdown_)
        return CIO_ESHUTDOWN;
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc)
        return rc;
    struct cio__wnode n = {.data = item};
    return cio__wq_wait(&q->getters_, &n, t, "queue get");
}

size_t cio_queue_size(const cio_queue *q)
{
    return q ? q->count_ : 0;
}

size_t cio_queue_maxsize(const cio_queue *q)
{
    return q ? q->maxsize_ : 0;
}

bool cio_queue_empty(const cio_queue *q)
{
    return !q || q->count_ == 0;
}

bool cio_queue_full(const cio_queue *q)
{
    return q && full(q);
}

int cio_queue_task_done(cio_queue *q)
{
    if (!q)
        return -EINVAL;
    if (q->unfinished_ == 0)
        return CIO_ESTATE;
    if (--q->unfinished_ == 0)
        cio__wq_wake_all(&q->joiners_, 0);
    return 0;
}

int cio_queue_join(cio_queue *q)
{
    if (!q)
        return -EINVAL;
    if (q->unfinished_ == 0)
        return 0;
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc)
        return rc;
    struct cio__wnode n = {0};
    return cio__wq_wait(&q->joiners_, &n, t, "queue join");
}

int cio_queue_shutdown(cio_queue *q, bool immediate)
{
    if (!q)
        return -EINVAL;
    q->shutdown_ = true;
    if (immediate) {
        size_t dropped = q->count_;
        q->count_ = 0;
        q->head_ = 0;
        q->unfinished_ = q->unfinished_ > dropped ? q->unfinished_ - dropped : 0;
        if (q->unfinished_ == 0)
            cio__wq_wake_all(&q->joiners_, 0);
    }
    cio__wq_wake_all(&q->getters_, CIO_ESHUTDOWN);
    cio__wq_wake_all(&q->putters_, CIO_ESHUTDOWN);
    return 0;
}

bool cio_queue_is_shutdown(const cio_queue *q)
{
    return q && q->shutdown_;
}

void cio_queue_destroy(cio_queue *q)
{
    if (!q)
        return;
    cio_queue_shutdown(q, true);
    /* Interrupted waiters whose nodes are still queued unlink them when they
     * resume; detach the nodes now so they never touch the queue. */
    struct cio__wq *qs[] = {&q->getters_, &q->putters_, &q->joiners_};
    for (size_t i = 0; i < 3; i++)
        while (cio__wq_shift(qs[i]))
            ;
    free(q->buf_);
    q->buf_ = NULL;
}
