/* Task stacks, taken from a per-loop pool: mapped in chunks once, reused
 * LIFO (a reused stack is warm in cache and already backed by memory).
 *
 * A slot is [page 0 | stack ... | struct cio__stack | gap | canary zone],
 * where the gap (0 to 15 cache lines, by slot) keeps the tops of stacks
 * that are whole pages apart out of the same L1 cache sets. Overflow
 * must never corrupt memory silently, so:
 *  - while a budget lasts, page 0 is a guard page: an overflow faults, and
 *    the SIGSEGV handler names the task. With MADV_GUARD_INSTALL (Linux
 *    6.13+) a guard does not split the mapping; with mprotect() it does, so
 *    the budget is then a quarter of vm.max_map_count. Guards cost system
 *    calls when slots are first carved, which is why they are not spent on
 *    every one of a million stacks;
 *  - beyond the budget, slots are dense: page 0 is stack too, and the top of
 *    the slot below holds a canary that an overflow hits first. It is
 *    checked whenever the task switches out, before any other code can run
 *    on the corrupted neighbour, and the task is named. The canary lives in
 *    a page the neighbour uses anyway, so a dense stack costs one page.
 * The first slot of every chunk sits on a guard page either way.
 *
 * Slots are prepared in batches before they are carved: the top page of
 * each, where its task's first frames go, is backed by memory, and while
 * the budget lasts the guards are installed, a batch per system call where
 * the kernel allows it (pages.h). A page fault costs ~0.5 us on bare metal
 * but ~20 us in some VMs, against ~1 us per page populated in a batch; a
 * batch is as large as the slots carved so far (8 to 1024), so memory
 * prepared ahead of use is at most that of the stacks already carved. */
#ifndef CIO_BASE_STACK_H
#define CIO_BASE_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cio__guard_kind {
    CIO__GUARD_CANARY,
    CIO__GUARD_MPROTECT,
    CIO__GUARD_MADVISE,
};

#define CIO__CANARY_ZONE 64
#define CIO__CANARY 0xC10C10DEADC10C10ull
/* Where a slot's header and first frames sit shifts by 64 bytes from one
 * slot to the next, over this many positions (the gap above): stacks are a
 * multiple of the page size apart, so without it the tops of all stacks
 * would fall in the same few sets of the L1 cache, and a thousand tasks
 * that take turns would evict each other's frames (-12% time in
 * toolkit.semaphore_1000 with 16 positions; 32, half a page, took another
 * 6% off there and 10% of its L1 misses, where 48 and 64 gained nothing
 * more). The frames of a sleeping task still fit the one page a sleeper
 * costs. */
#define CIO__STACK_COLORS 32

struct cio__stack_class;
struct cio__stack_chunk;

/* Sits near the top of its slot, below the canary zone; the usable stack is
 * [lo, this). */
struct cio__stack {
    char *lo;
    const uint64_t *canary; /* in the slot below; NULL if a guard page is there */
    struct cio__stack_class *cls;
    unsigned valgrind_id;
    uint8_t guard; /* enum cio__guard_kind: what lies below lo */
};

struct cio__stack_class {
    struct cio__stack_class *next;
    size_t slot;    /* bytes per slot */
    size_t n_chunk; /* slots in the next chunk */
    size_t carved;  /* slots carved so far, in every chunk */
    struct cio__stack_chunk *cur;
    char *bump, *bump_end;
    char *prepared; /* slots below this one in cur have been prepared */
    char *guarded;  /* ... and those below this one got a guard page then */
    /* Stacks given back, the last on top: their headers' addresses, with
     * bit 0 set for one guarded by a canary. An array rather than a list
     * through the headers, so that neither taking a stack nor giving it
     * back reads or writes its header, a line the task does not touch
     * otherwise. Room for every stack carved, so giving back never
     * allocates. */
    uintptr_t *free;
    size_t nfree, cap;
};

struct cio__stack_pool {
    struct cio__stack_class *classes;
    struct cio__stack_chunk *chunks;
    size_t page;
    enum cio__guard_kind mode;     /* how guards are made while the budget lasts */
    long guard_budget;             /* slots that may still get a guard page */
    struct cio__stack_class *last; /* the class of the last request */
    size_t last_size;
};

void cio__stack_pool_init(struct cio__stack_pool *p);
void cio__stack_pool_fini(struct cio__stack_pool *p);

/* A stack with at least `size` usable bytes, or NULL (out of memory). If
 * canaried is not NULL, *canaried tells whether a canary guards it (no
 * guard page): the caller learns it without reading the header. */
static inline struct cio__stack *cio__stack_get(struct cio__stack_pool *p, size_t size,
                                                bool *canaried);

/* cio__stack_get() when the last size's class has no free stack. */
struct cio__stack *cio__stack_get_slow(struct cio__stack_pool *p, size_t size, bool *canaried);

/* How many stacks the pool has carved so far (in use or free). */
size_t cio__stack_pool_carved(const struct cio__stack_pool *p);

/* Returns s, taken with `size`, to the pool; canaried as cio__stack_get()
 * said. */
static inline void cio__stack_put(struct cio__stack_pool *p, struct cio__stack *s, size_t size,
                                  bool canaried)
{
    struct cio__stack_class *k = p->last && size == p->last_size ? p->last : s->cls;
    k->free[k->nfree++] = (uintptr_t)s | canaried;
}

/* Takes the stack given back last to k, which has one. */
static inline struct cio__stack *cio__stack_pop(struct cio__stack_class *k, bool *canaried)
{
    uintptr_t e = k->free[--k->nfree];
    if (canaried)
        *canaried = e & 1;
    return (struct cio__stack *)(e & ~(uintptr_t)1);
}

static inline struct cio__stack *cio__stack_get(struct cio__stack_pool *p, size_t size,
                                                bool *canaried)
{
    struct cio__stack_class *k = p->last;
    if (k && size == p->last_size && k->nfree)
        return cio__stack_pop(k, canaried);
    return cio__stack_get_slow(p, size, canaried);
}

/* Bytes per slot for stacks of `size` usable bytes: the class they are
 * carved in. */
static inline size_t cio__stack_slot_size(const struct cio__stack_pool *p, size_t size)
{
    size_t need = size + sizeof(struct cio__stack) + 16 + CIO__CANARY_ZONE + CIO__STACK_COLORS * 64;
    return ((need + p->page - 1) & ~(p->page - 1)) + p->page;
}

/* The canary of s, a stack of `size` from p that has one (s->canary),
 * found from s's address alone: a switch checks it, and fetching it ahead
 * need not wait for a line of the header first. Slots are whole pages, so
 * a slot's top is the first page boundary above its header (which sits
 * less than the canary zone and the colours, 2 KiB, below it); the slot
 * below ends where this one starts, with its canary zone. */
static inline const uint64_t *cio__stack_canary_at(const struct cio__stack_pool *p,
                                                   const struct cio__stack *s, size_t size)
{
    uintptr_t top = ((uintptr_t)s + p->page - 1) & ~(uintptr_t)(p->page - 1);
    return (const uint64_t *)(top - cio__stack_slot_size(p, size) - CIO__CANARY_ZONE);
}

/* False if the canary zone at c (a stack's canary; NULL: none) has been
 * overwritten: the task on that stack has overrun it. */
static inline bool cio__canary_intact(const uint64_t *c)
{
    return !c || (c[0] == CIO__CANARY && c[CIO__CANARY_ZONE / 8 - 1] == CIO__CANARY);
}

/* False if the task on s has overrun its stack into the canary below. */
static inline bool cio__stack_intact(const struct cio__stack *s)
{
    return cio__canary_intact(s->canary);
}

/* Whether addr lies just below s (up to 64 KiB under its bottom, since one
 * large frame can jump past a guard page). */
bool cio__stack_guard_hit(const struct cio__stack *s, const void *addr);

#endif
