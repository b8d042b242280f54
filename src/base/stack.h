/* Task stacks, taken from a per-loop pool: mapped in chunks once, reused
 * LIFO (a reused stack is warm in cache and already backed by memory).
 *
 * Each slot is [guard | usable stack ... | struct cio__stack]. Overflow is
 * caught by the guard, which costs nothing per switch:
 *  - MADV_GUARD_INSTALL (Linux 6.13+) guards every slot without splitting
 *    the mapping, so a million guarded stacks fit in vm.max_map_count;
 *  - otherwise mprotect(PROT_NONE), which splits the mapping, while a
 *    budget of a quarter of vm.max_map_count lasts;
 *  - beyond that, a canary at the bottom of the stack, checked whenever the
 *    task switches out and when it ends. */
#ifndef CIO_BASE_STACK_H
#define CIO_BASE_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cio__guard {
    CIO__GUARD_CANARY,
    CIO__GUARD_MPROTECT,
    CIO__GUARD_MADVISE,
};

#define CIO__CANARY_WORDS 8
#define CIO__CANARY 0xC10C10DEADC10C10ull

struct cio__stack_class;
struct cio__stack_chunk;

/* Sits at the very top of its slot; the usable stack is [lo, this). */
struct cio__stack {
    struct cio__stack *next_free;
    char *lo;
    struct cio__stack_class *cls;
    unsigned valgrind_id;
    uint8_t guard; /* enum cio__guard */
};

struct cio__stack_class {
    struct cio__stack_class *next;
    size_t slot;     /* bytes per slot, guard included */
    size_t n_chunk;  /* slots in the next chunk */
    struct cio__stack_chunk *cur; /* the chunk bump carves from */
    char *bump, *bump_end;
    struct cio__stack *free;
};

struct cio__stack_pool {
    struct cio__stack_class *classes;
    struct cio__stack_chunk *chunks;
    size_t page;
    enum cio__guard mode;
    long mprotect_budget;
};

void cio__stack_pool_init(struct cio__stack_pool *p);
void cio__stack_pool_fini(struct cio__stack_pool *p);

/* A stack with at least `size` usable bytes, or NULL (out of memory). */
struct cio__stack *cio__stack_get(struct cio__stack_pool *p, size_t size);

/* Returns s to the pool. */
void cio__stack_put(struct cio__stack_pool *p, struct cio__stack *s);

/* False if a canary-guarded stack has been overrun. */
static inline bool cio__stack_intact(const struct cio__stack *s)
{
    if (s->guard != CIO__GUARD_CANARY)
        return true;
    const uint64_t *w = (const uint64_t *)(const void *)s->lo;
    return w[0] == CIO__CANARY && w[CIO__CANARY_WORDS - 1] == CIO__CANARY;
}

/* Whether addr lies in the guard area just below s (up to 64 KiB under its
 * bottom, since one large frame can jump past the guard page). */
bool cio__stack_guard_hit(const struct cio__stack *s, const void *addr);

#endif
