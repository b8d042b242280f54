#include "heap.h"

#include <errno.h>
#include <stdlib.h>

#include "compiler.h"

#define ARITY 4

void cio__heap_init(struct cio__heap *h)
{
    h->a = NULL;
    h->n = h->cap = 0;
}

void cio__heap_fini(struct cio__heap *h)
{
    for (uint32_t i = 0; i < h->n; i++)
        h->a[i].timer->pos = 0;
    free(h->a);
    cio__heap_init(h);
}

static inline int less(const struct cio__heap_entry *x, const struct cio__heap_entry *y)
{
    if (x->deadline != y->deadline)
        return x->deadline < y->deadline;
    return x->timer->seq < y->timer->seq;
}

static inline void place(struct cio__heap *h, uint32_t i, struct cio__heap_entry e)
{
    h->a[i] = e;
    e.timer->pos = i + 1;
}

static void sift_up(struct cio__heap *h, uint32_t i, struct cio__heap_entry e)
{
    while (i > 0) {
        uint32_t parent = (i - 1) / ARITY;
        if (!less(&e, &h->a[parent]))
            break;
        place(h, i, h->a[parent]);
        i = parent;
    }
    place(h, i, e);
}

static void sift_down(struct cio__heap *h, uint32_t i, struct cio__heap_entry e)
{
    for (;;) {
        uint32_t first = i * ARITY + 1;
        if (first >= h->n)
            break;
        uint32_t last = first + ARITY < h->n ? first + ARITY : h->n;
        uint32_t best = first;
        for (uint32_t c = first + 1; c < last; c++)
            if (less(&h->a[c], &h->a[best]))
                best = c;
        if (!less(&h->a[best], &e))
            break;
        /* The moved timer's position is written at a random address: start
         * that miss now, while the next level is compared. */
        __builtin_prefetch(h->a[best].timer, 1);
        place(h, i, h->a[best]);
        i = best;
    }
    place(h, i, e);
}

int cio__heap_push(struct cio__heap *h, struct cio__timer *t)
{
    if (cio__unlikely(h->n == h->cap)) {
        uint32_t cap = h->cap ? h->cap * 2 : 64;
        struct cio__heap_entry *a = realloc(h->a, (size_t)cap * sizeof *a);
        if (!a)
            return -ENOMEM;
        h->a = a;
        h->cap = cap;
    }
    struct cio__heap_entry e = {t->deadline, t};
    sift_up(h, h->n++, e);
    return 0;
}

void cio__heap_remove(struct cio__heap *h, struct cio__timer *t)
{
    if (!t->pos)
        return;
    uint32_t i = t->pos - 1;
    t->pos = 0;
    struct cio__heap_entry last = h->a[--h->n];
    if (i == h->n)
        return;
    if (i > 0 && less(&last, &h->a[(i - 1) / ARITY]))
        sift_up(h, i, last);
    else
        sift_down(h, i, last);
}

struct cio__timer *cio__heap_pop_due(struct cio__heap *h, int64_t now)
{
    if (!h->n || h->a[0].deadline > now)
        return NULL;
    struct cio__timer *t = h->a[0].timer;
    t->pos = 0;
    struct cio__heap_entry last = h->a[--h->n];
    if (h->n)
        sift_down(h, 0, last);
    return t;
}
