/* Fixed-size records carved from slabs and recycled through a free list,
 * all released at once when the owner closes. For objects a loop makes and
 * drops at a high rate (tasks, callback handles): no allocator call and no
 * allocator header per object in steady state.
 *
 * Slabs double in size as the owner keeps more records alive, up to
 * CIO__SLAB_MAX bytes; those past CIO__HUGE_SIZE are huge-page arenas (see
 * pages.h). Records are carved from the newest slab in address order, so a
 * slab's memory is touched only as its records are first used, and a large
 * slab costs address space rather than memory: the cap is high, so that
 * the number of slabs, which a handle check walks, stays logarithmic (ten
 * million task records fit in 14 slabs; with a 16 MiB cap they took 160,
 * and checking one handle missed the cache ~40 times). */
#ifndef CIO_BASE_SLAB_H
#define CIO_BASE_SLAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

#define CIO__SLAB_MAX ((size_t)1 << 30)

struct cio__slab {
    void *free;       /* records given back, linked through their first word */
    char *bump, *end; /* the newest slab's records not yet handed out */
    void *slabs;      /* every slab, linked through its header */
    size_t size;      /* bytes per record, a multiple of 16 */
    size_t next;      /* bytes of the next slab */
    /* size = odd << shift, inv * odd == 1 (mod 2^64): whether an offset is
     * a multiple of size, without a division. */
    unsigned shift;
    uint64_t inv, limit;
};

/* Records of at least `size` bytes; the first slab holds `first` of them. */
void cio__slab_init(struct cio__slab *s, size_t size, unsigned first);

/* Frees every slab, whether its records were put back or not. */
void cio__slab_fini(struct cio__slab *s);

/* Whether p is the address of a record s has handed out (and may since
 * have taken back), found without reading *p: how a handle that may come
 * from another owner, or from one since freed, is checked before it is
 * used. Memory s has not handed out yet may hold anything (a previous
 * owner's records, even), so it is refused. O(number of slabs), which
 * doubling keeps under ~30 for all the records memory can hold; the newest
 * slab is looked at first. */
static inline bool cio__slab_issued(const struct cio__slab *s, const void *p);

/* Bytes at the start of each slab, before its records. */
#define CIO__SLAB_HEADER 64

bool cio__slab_issued_slow(const struct cio__slab *s, const void *p);

static inline bool cio__slab_is_record(const struct cio__slab *s, uintptr_t lo, uintptr_t a)
{
    uint64_t off = a - lo;
    return (off & (((uint64_t)1 << s->shift) - 1)) == 0 && (off >> s->shift) * s->inv <= s->limit;
}

static inline bool cio__slab_issued(const struct cio__slab *s, const void *p)
{
    /* Most often in the newest slab, which has handed out the records
     * below its bump pointer. */
    uintptr_t a = (uintptr_t)p, lo = (uintptr_t)s->slabs + CIO__SLAB_HEADER;
    if (cio__likely(a >= lo && a < (uintptr_t)s->bump))
        return cio__slab_is_record(s, lo, a);
    return cio__slab_issued_slow(s, p);
}

/* Calls fn on every record handed out so far, in use or given back (the
 * owner tells them apart: a given-back record's first word is the free
 * list's link, the rest is as the owner left it), slab by slab. */
void cio__slab_each(const struct cio__slab *s, void (*fn)(void *record, void *arg), void *arg);

/* Carves a record from a new slab; NULL when out of memory. */
void *cio__slab_grow(struct cio__slab *s);

/* A record (16-byte aligned), or NULL. *reused says whether it was given
 * back before, and holds what its last owner left in it but the first word,
 * or is new, and holds anything. */
static inline void *cio__slab_get_reused(struct cio__slab *s, bool *reused)
{
    void *r = s->free;
    if (cio__likely(r != NULL)) {
        s->free = *(void **)r;
        *reused = true;
        return r;
    }
    *reused = false;
    if (cio__likely(s->bump != s->end)) {
        r = s->bump;
        s->bump += s->size;
        return r;
    }
    return cio__slab_grow(s);
}

/* A record (16-byte aligned, contents undefined), or NULL. */
static inline void *cio__slab_get(struct cio__slab *s)
{
    bool reused;
    return cio__slab_get_reused(s, &reused);
}

/* Gives a record back for reuse. */
static inline void cio__slab_put(struct cio__slab *s, void *r)
{
    *(void **)r = s->free;
    s->free = r;
}

#endif
