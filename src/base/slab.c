#include "slab.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "pages.h"

/* Slabs this large or larger are mappings of their own (pages.h); smaller
 * ones come from malloc, so that a loop with few records makes no system
 * call for them. */
#define MAPPED_MIN ((size_t)256 << 10)

/* Each slab starts with this header, padded to a cache line. */
struct slab_header {
    void *next;
    size_t bytes;
};
#define HEADER 64

void cio__slab_init(struct cio__slab *s, size_t size, unsigned first)
{
    s->free = NULL;
    s->bump = s->end = NULL;
    s->slabs = NULL;
    s->size = (size + 15) & ~(size_t)15;
    s->next = HEADER + (size_t)(first ? first : 1) * s->size;
}

void cio__slab_fini(struct cio__slab *s)
{
    struct slab_header *h = s->slabs;
    while (h) {
        struct slab_header *next = h->next;
        if (h->bytes >= MAPPED_MIN)
            cio__pages_free(h, h->bytes);
        else
            free(h);
        h = next;
    }
    s->slabs = NULL;
    s->free = NULL;
    s->bump = s->end = NULL;
}

void *cio__slab_grow(struct cio__slab *s)
{
    size_t bytes = s->next;
    struct slab_header *h;
    if (bytes >= MAPPED_MIN) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        bytes = (bytes + page - 1) & ~(page - 1);
        h = cio__pages_alloc(bytes);
    } else {
        /* aligned_alloc wants a size that is a multiple of the alignment. */
        bytes = (bytes + 63) & ~(size_t)63;
        h = aligned_alloc(64, bytes);
    }
    if (!h)
        return NULL;
    h->next = s->slabs;
    h->bytes = bytes;
    s->slabs = h;
    if (s->next < CIO__SLAB_MAX)
        s->next *= 2;
    char *r = (char *)h + HEADER;
    s->bump = r + s->size;
    s->end = r + (bytes - HEADER) / s->size * s->size;
    return r;
}
