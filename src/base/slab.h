/* Fixed-size records carved from slabs and recycled through a free list,
 * all released at once when the owner closes. For objects a loop makes and
 * drops at a high rate (tasks, callback handles): no allocator call and no
 * allocator header per object in steady state.
 *
 * Slabs double in size as the owner keeps more records alive, up to
 * CIO__SLAB_MAX bytes; those past CIO__HUGE_SIZE are huge-page arenas (see
 * pages.h). Records are carved from the newest slab in address order, so a
 * slab's memory is touched only as its records are first used. */
#ifndef CIO_BASE_SLAB_H
#define CIO_BASE_SLAB_H

#include <stddef.h>

#include "compiler.h"

#define CIO__SLAB_MAX ((size_t)16 << 20)

struct cio__slab {
    void *free;       /* records given back, linked through their first word */
    char *bump, *end; /* the newest slab's records not yet handed out */
    void *slabs;      /* every slab, linked through its header */
    size_t size;      /* bytes per record, a multiple of 16 */
    size_t next;      /* bytes of the next slab */
};

/* Records of at least `size` bytes; the first slab holds `first` of them. */
void cio__slab_init(struct cio__slab *s, size_t size, unsigned first);

/* Frees every slab, whether its records were put back or not. */
void cio__slab_fini(struct cio__slab *s);

/* Carves a record from a new slab; NULL when out of memory. */
void *cio__slab_grow(struct cio__slab *s);

/* A record (16-byte aligned, contents undefined), or NULL. */
static inline void *cio__slab_get(struct cio__slab *s)
{
    void *r = s->free;
    if (cio__likely(r != NULL)) {
        s->free = *(void **)r;
        return r;
    }
    if (cio__likely(s->bump != s->end)) {
        r = s->bump;
        s->bump += s->size;
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
