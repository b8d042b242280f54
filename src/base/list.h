/* Intrusive circular doubly-linked list: no allocation per insert, O(1)
 * unlink from anywhere. An empty list is a head pointing at itself; an
 * unlinked node points at itself too, so unlinking twice is harmless. */
#ifndef CIO_BASE_LIST_H
#define CIO_BASE_LIST_H

#include <stdbool.h>

struct cio__list {
    struct cio__list *next, *prev;
};

static inline void cio__list_init(struct cio__list *l)
{
    l->next = l->prev = l;
}

static inline bool cio__list_empty(const struct cio__list *l)
{
    return l->next == l;
}

static inline bool cio__list_linked(const struct cio__list *n)
{
    return n->next != n;
}

static inline void cio__list_insert_before(struct cio__list *pos, struct cio__list *n)
{
    n->prev = pos->prev;
    n->next = pos;
    pos->prev->next = n;
    pos->prev = n;
}

/* Appends n at the tail of list l. */
static inline void cio__list_push(struct cio__list *l, struct cio__list *n)
{
    cio__list_insert_before(l, n);
}

static inline void cio__list_unlink(struct cio__list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = n;
}

/* Unlinks and returns the head of l, or NULL if l is empty. */
static inline struct cio__list *cio__list_shift(struct cio__list *l)
{
    struct cio__list *n = l->next;
    if (n == l)
        return NULL;
    cio__list_unlink(n);
    return n;
}

#define cio__list_foreach(it, l) for (struct cio__list *it = (l)->next; it != (l); it = it->next)

#endif
