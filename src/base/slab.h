/* Fixed-size records carved from slabs and recycled through a free list,
 * all released at once when the owner closes. For objects a loop makes and
 * drops at a high rate (tasks, callback handles): no allocator call and no
 * allocator header per object in steady state. */
#ifndef CIO_BASE_SLAB_H
#define CIO_BASE_SLAB_H

#include <stddef.h>

#include "compiler.h"

struct cio__slab {
    void *free;   /* free records, linked through their first word */
    void *slabs;  /* every slab, linked through its first cache line */
    size_t size;  /* bytes per record, a multiple of 16 */
    unsigned per; /* records per slab */
};

/* Records of at least `size` bytes, `per` to a slab. */
void cio__slab_init(struct cio__slab *s, size_t size, unsigned per);

/* Frees every slab, whether its records were put back or not. */
void cio__slab_fini(struct cio__slab *s);

/* Carves a new slab; NULL when out of memory. */
void *cio__slab_grow(struct cio__slab *s);

/* A record (16-byte aligned, contents undefined), or NULL. */
static inline void *cio__slab_get(struct cio__slab *s)
{
    void *r = s->free;
    if (cio__likely(r != NULL)) {
        s->free = *(void **)r;
        return r;
    }
    return cio__slab_grow(s);
}

/* Gives a record back for reuse. */
static inline void cio__slab_put(struct cio__slab *s, void *r)
{
    *(void **)r = s->free;
    s->free = r;
}

#endif
