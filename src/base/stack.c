#include "stack.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "compiler.h"
#include "pages.h"

#ifdef CIO__ASAN
#include <sanitizer/asan_interface.h>
#endif

#ifdef CIO_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#else
#define VALGRIND_STACK_REGISTER(lo, hi) 0u
#define VALGRIND_STACK_DEREGISTER(id) ((void)(id))
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define MAX_CHUNK_BYTES ((size_t)1 << 30)
#define FIRST_CHUNK_SLOTS 16
/* Slots prepared at once: the slots carved so far, within these bounds. */
#define PREPARE_MIN 8
#define PREPARE_MAX 1024
/* Guarded slots when guards do not split mappings: enough for nearly every
 * program to have all its stacks guarded, for ~65 ms of system calls. */
#define MADVISE_GUARD_BUDGET 65536

struct cio__stack_chunk {
    struct cio__stack_chunk *next;
    char *base; /* the leading guard page; slots follow */
    size_t len;
    size_t slot;
    size_t used; /* slots carved from this chunk */
};

static long read_max_map_count(void)
{
    long v = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = 65530;
        fclose(f);
    }
    return v;
}

static bool madvise_guard_works(size_t page)
{
    char *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return false;
    bool ok = madvise(m, page, MADV_GUARD_INSTALL) == 0;
    munmap(m, 2 * page);
    return ok;
}

void cio__stack_pool_init(struct cio__stack_pool *p)
{
    memset(p, 0, sizeof *p);
    p->page = (size_t)sysconf(_SC_PAGESIZE);
    /* CIO_STACK_GUARD=canary|mprotect forces a mode (tests use it). */
    const char *force = getenv("CIO_STACK_GUARD");
    if (force && strcmp(force, "canary") == 0) {
        p->mode = CIO__GUARD_CANARY;
        p->guard_budget = 0;
    } else if (!(force && strcmp(force, "mprotect") == 0) && madvise_guard_works(p->page)) {
        p->mode = CIO__GUARD_MADVISE;
        p->guard_budget = MADVISE_GUARD_BUDGET;
    } else {
        p->mode = CIO__GUARD_MPROTECT;
        p->guard_budget = read_max_map_count() / 4;
    }
}

static struct cio__stack *slot_header(char *slot_base, size_t slot)
{
    size_t color = ((uintptr_t)slot_base / slot) % CIO__STACK_COLORS;
    uintptr_t top = (uintptr_t)(slot_base + slot) - CIO__CANARY_ZONE - color * 64;
    return (struct cio__stack *)((top - sizeof(struct cio__stack)) & ~(uintptr_t)15);
}

void cio__stack_pool_fini(struct cio__stack_pool *p)
{
    struct cio__stack_chunk *c = p->chunks;
    while (c) {
        struct cio__stack_chunk *next = c->next;
        for (size_t i = 0; i < c->used; i++)
            VALGRIND_STACK_DEREGISTER(
                slot_header(c->base + p->page + i * c->slot, c->slot)->valgrind_id);
#ifdef CIO__ASAN
        /* Frames left poisoned in these stacks would otherwise stay in
         * ASan's shadow and fault the next mapping at these addresses. */
        ASAN_UNPOISON_MEMORY_REGION(c->base, c->len);
#endif
        munmap(c->base, c->len);
        free(c);
        c = next;
    }
    struct cio__stack_class *k = p->classes;
    while (k) {
        struct cio__stack_class *next = k->next;
        free(k->free);
        free(k);
        k = next;
    }
    memset(p, 0, sizeof *p);
}

static struct cio__stack_class *class_for(struct cio__stack_pool *p, size_t size)
{
    size_t slot = cio__stack_slot_size(p, size);
    struct cio__stack_class **pk = &p->classes;
    for (; *pk; pk = &(*pk)->next)
        if ((*pk)->slot == slot)
            return *pk;
    struct cio__stack_class *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->slot = slot;
    k->n_chunk = FIRST_CHUNK_SLOTS;
    *pk = k;
    return k;
}

/* Makes [addr, addr + page) fault on access. */
static bool guard(struct cio__stack_pool *p, char *addr, enum cio__guard_kind *how)
{
    if (p->mode == CIO__GUARD_MADVISE && madvise(addr, p->page, MADV_GUARD_INSTALL) == 0) {
        *how = CIO__GUARD_MADVISE;
        return true;
    }
    if (mprotect(addr, p->page, PROT_NONE) == 0) {
        *how = CIO__GUARD_MPROTECT;
        return true;
    }
    return false;
}

static int grow(struct cio__stack_pool *p, struct cio__stack_class *k)
{
    size_t n = k->n_chunk;
    if (n * k->slot > MAX_CHUNK_BYTES)
        n = MAX_CHUNK_BYTES / k->slot ? MAX_CHUNK_BYTES / k->slot : 1;
    size_t len = p->page + n * k->slot;
    struct cio__stack_chunk *c = malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (m == MAP_FAILED) {
        free(c);
        return -ENOMEM;
    }
    /* The page under the first slot is always a guard: its canary would
     * have no neighbour to live in. */
    enum cio__guard_kind how;
    if (!guard(p, m, &how)) {
        munmap(m, len);
        free(c);
        return -ENOMEM;
    }
    *c = (struct cio__stack_chunk){p->chunks, m, len, k->slot, 0};
    p->chunks = c;
    k->cur = c;
    k->bump = k->prepared = k->guarded = m + p->page;
    k->bump_end = m + len;
    if (k->n_chunk * 2 * k->slot <= MAX_CHUNK_BYTES)
        k->n_chunk *= 2;
    return 0;
}

/* Whether the slot at base is its chunk's first, which sits on the chunk's
 * own guard page. */
static bool first_in_chunk(const struct cio__stack_pool *p, const struct cio__stack_class *k,
                           const char *base)
{
    return base == k->cur->base + p->page;
}

/* Prepares the next batch of slots of the current chunk (see stack.h):
 * backs their top pages with memory and installs their guards in as few
 * system calls as the kernel allows. Both are only a head start: a slot
 * whose guard was not installed here gets one from carve() while the budget
 * lasts, and a page not populated is faulted in by its first use. */
static void prepare(struct cio__stack_pool *p, struct cio__stack_class *k)
{
    size_t n = k->carved < PREPARE_MIN   ? PREPARE_MIN
               : k->carved > PREPARE_MAX ? PREPARE_MAX
                                         : k->carved;
    size_t left = (size_t)(k->bump_end - k->bump) / k->slot;
    if (n > left)
        n = left;
    char *start = k->bump, *end = start + n * k->slot;
    k->prepared = end;
    cio__pages_advise_strided(start + k->slot - p->page, k->slot, n, p->page, MADV_POPULATE_WRITE);
    char *g = first_in_chunk(p, k, start) ? start + k->slot : start;
    size_t ng = g < end ? (size_t)(end - g) / k->slot : 0;
    if (p->mode != CIO__GUARD_MADVISE || p->guard_budget <= 0)
        ng = 0;
    else if ((long)ng > p->guard_budget)
        ng = (size_t)p->guard_budget;
    size_t done = ng ? cio__pages_advise_strided(g, k->slot, ng, p->page, MADV_GUARD_INSTALL) : 0;
    p->guard_budget -= (long)done;
    k->guarded = g + done * k->slot;
}

/* Carves a new slot from the class's current chunk and protects it. */
static struct cio__stack *carve(struct cio__stack_pool *p, struct cio__stack_class *k)
{
    if (k->carved == k->cap) {
        /* Room to give back every stack carved (see stack.h). The new room
         * is written now, while carving faults pages in anyway: left to
         * the first give-backs, its page faults (one per 512 stacks) fell
         * in the middle of a mass reap, and cost it a third more time. */
        size_t cap = k->cap ? 2 * k->cap : 16;
        uintptr_t *v = realloc(k->free, cap * sizeof *v);
        if (!v)
            return NULL;
        memset(v + k->cap, 0, (cap - k->cap) * sizeof *v);
        k->free = v;
        k->cap = cap;
    }
    if (k->bump == k->bump_end && grow(p, k) < 0)
        return NULL;
    if (k->bump == k->prepared)
        prepare(p, k);
    char *base = k->bump;
    bool first = first_in_chunk(p, k, base);
    k->bump += k->slot;
    k->cur->used++;
    k->carved++;
    struct cio__stack *s = slot_header(base, k->slot);
    s->cls = k;
    s->canary = NULL;
    enum cio__guard_kind how = CIO__GUARD_CANARY;
    if (first) {
        s->lo = base;
        s->guard = (uint8_t)p->mode;
    } else if (base < k->guarded) {
        s->lo = base + p->page;
        s->guard = CIO__GUARD_MADVISE;
    } else if (p->guard_budget > 0 && guard(p, base, &how)) {
        p->guard_budget--;
        s->lo = base + p->page;
        s->guard = (uint8_t)how;
    } else {
        uint64_t *c = (uint64_t *)(void *)(base - CIO__CANARY_ZONE);
        for (int i = 0; i < CIO__CANARY_ZONE / 8; i++)
            c[i] = CIO__CANARY;
        s->canary = c;
        s->lo = base;
        s->guard = CIO__GUARD_CANARY;
    }
    s->valgrind_id = VALGRIND_STACK_REGISTER(s->lo, (char *)s);
    return s;
}

struct cio__stack *cio__stack_get_slow(struct cio__stack_pool *p, size_t size, bool *canaried)
{
    struct cio__stack_class *k = p->last;
    if (cio__unlikely(!k || size != p->last_size)) {
        k = class_for(p, size);
        if (!k)
            return NULL;
        p->last = k;
        p->last_size = size;
    }
    if (cio__likely(k->nfree > 0))
        return cio__stack_pop(k, canaried);
    struct cio__stack *s = carve(p, k);
    if (s && canaried)
        *canaried = s->canary != NULL;
    return s;
}

size_t cio__stack_pool_carved(const struct cio__stack_pool *p)
{
    size_t n = 0;
    for (const struct cio__stack_chunk *c = p->chunks; c; c = c->next)
        n += c->used;
    return n;
}

bool cio__stack_guard_hit(const struct cio__stack *s, const void *addr)
{
    const char *a = addr;
    return a < s->lo && a >= s->lo - 64 * 1024;
}
