#include "slab.h"

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
    char *end; /* past its last whole record */
};
#define HEADER CIO__SLAB_HEADER

void cio__slab_init(struct cio__slab *s, size_t size, unsigned first)
{
    s->free = NULL;
    s->bump = s->end = NULL;
    s->slabs = NULL;
    s->size = (size + 15) & ~(size_t)15;
    s->next = HEADER + (size_t)(first ? first : 1) * s->size;
    s->shift = (unsigned)__builtin_ctzll(s->size);
    uint64_t odd = s->size >> s->shift, inv = odd; /* right in 3 bits */
    for (int i = 0; i < 5; i++)
        inv *= 2 - odd * inv; /* Newton's step doubles the right bits */
    s->inv = inv;
    s->limit = UINT64_MAX / odd;
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

bool cio__slab_issued_slow(const struct cio__slab *s, const void *p)
{
    uintptr_t a = (uintptr_t)p;
    /* The newest slab was looked at inline; the older ones have handed
     * out every record that fits. */
    const struct slab_header *newest = s->slabs;
    for (const struct slab_header *h = newest ? newest->next : NULL; h; h = h->next) {
        uintptr_t lo = (uintptr_t)h + HEADER, hi = (uintptr_t)h->end;
        if (a >= lo && a < hi)
            return cio__slab_is_record(s, lo, a);
    }
    return false;
}

void cio__slab_each(const struct cio__slab *s, void (*fn)(void *record, void *arg), void *arg)
{
    for (const struct slab_header *h = s->slabs; h; h = h->next) {
        /* The newest slab has handed out the records below its bump
         * pointer; the older ones, every record that fits. */
        const char *end = h == s->slabs ? s->bump : h->end;
        for (char *r = (char *)h + HEADER; r < end; r += s->size)
            fn(r, arg);
    }
}

void *cio__slab_grow(struct cio__slab *s)
{
    size_t bytes = s->next;
    struct slab_header *h;
    if (bytes >= MAPPED_MIN) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        bytes = (bytes + page - 1) & ~(page - 1);
        /* Where the kernel will not commit that much address space at once
         * (overcommit off), smaller slabs still serve. */
        while (!(h = cio__pages_alloc(bytes)) && bytes / 2 >= MAPPED_MIN &&
               bytes / 2 >= HEADER + s->size)
            bytes = (bytes / 2 + page - 1) & ~(page - 1);
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
    /* After a refusal, the next slab starts from the size that was given
     * rather than from the refused one, which would only be refused again. */
    if (bytes < s->next)
        s->next = bytes;
    else if (s->next < CIO__SLAB_MAX)
        s->next *= 2;
    char *r = (char *)h + HEADER;
    s->bump = r + s->size;
    s->end = h->end = r + (bytes - HEADER) / s->size * s->size;
    return r;
}
