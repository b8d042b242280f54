#include "slab.h"

#include <stdlib.h>

void cio__slab_init(struct cio__slab *s, size_t size, unsigned per)
{
    s->free = NULL;
    s->slabs = NULL;
    s->size = (size + 15) & ~(size_t)15;
    s->per = per ? per : 1;
}

void cio__slab_fini(struct cio__slab *s)
{
    void *slab = s->slabs;
    while (slab) {
        void *next = *(void **)slab;
        free(slab);
        slab = next;
    }
    s->slabs = NULL;
    s->free = NULL;
}

void *cio__slab_grow(struct cio__slab *s)
{
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    size_t bytes = (64 + s->per * s->size + 63) & ~(size_t)63;
    char *slab = aligned_alloc(64, bytes);
    if (!slab)
        return NULL;
    *(void **)slab = s->slabs;
    s->slabs = slab;
    /* Handed out in address order: neighbours in time are neighbours in
     * memory. */
    for (unsigned i = s->per - 1; i > 0; i--)
        cio__slab_put(s, slab + 64 + (size_t)i * s->size);
    return slab + 64;
}
