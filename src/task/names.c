/* Task names, kept beside the task records rather than in them: most tasks
 * never get one, and a record is two cache lines with no room to spare
 * (task.h). An open-addressing table keyed by the record's address, with
 * linear probing and deletion by shifting back (no tombstones). Reading
 * it allocates nothing and calls nothing, so the stack overflow handler may
 * name a task. */
#include <errno.h>
#include <stdlib.h>

#include "task/task.h"

struct cio__task_name {
    const struct cio__task *task; /* NULL: free slot */
    char *name;
};

static size_t home(const struct cio__task_names *n, const struct cio__task *t)
{
    /* Records are 16-byte aligned; the multiplier spreads the rest. */
    return (size_t)(((uintptr_t)t >> 4) * 0x9E3779B97F4A7C15ull) & n->mask;
}

static struct cio__task_name *find(const struct cio__task_names *n, const struct cio__task *t)
{
    if (!n->slots)
        return NULL;
    for (size_t i = home(n, t);; i = (i + 1) & n->mask) {
        struct cio__task_name *e = &n->slots[i];
        if (e->task == t)
            return e;
        if (!e->task)
            return NULL;
    }
}

const char *cio__task_name_get(const struct cio__loop *loop, const struct cio__task *t)
{
    const struct cio__task_name *e = find(&loop->names, t);
    return e ? e->name : NULL;
}

/* Doubles the table (at first, makes one of 16 slots). */
static int grow(struct cio__task_names *n)
{
    size_t cap = n->slots ? (n->mask + 1) * 2 : 16;
    struct cio__task_name *old = n->slots;
    size_t old_cap = old ? n->mask + 1 : 0;
    struct cio__task_name *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    n->slots = slots;
    n->mask = cap - 1;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].task)
            continue;
        size_t j = home(n, old[i].task);
        while (slots[j].task)
            j = (j + 1) & n->mask;
        slots[j] = old[i];
    }
    free(old);
    return 0;
}

int cio__task_name_set(struct cio__loop *loop, const struct cio__task *t, char *name)
{
    struct cio__task_names *n = &loop->names;
    /* At most half full: probes stay short. */
    if ((!n->slots || (n->count + 1) * 2 > n->mask + 1) && grow(n) < 0)
        return -ENOMEM;
    size_t i = home(n, t);
    while (n->slots[i].task && n->slots[i].task != t)
        i = (i + 1) & n->mask;
    if (n->slots[i].task)
        free(n->slots[i].name);
    else
        n->count++;
    n->slots[i] = (struct cio__task_name){t, name};
    return 0;
}

void cio__task_name_drop(struct cio__loop *loop, const struct cio__task *t)
{
    struct cio__task_names *n = &loop->names;
    struct cio__task_name *e = find(n, t);
    if (!e)
        return;
    free(e->name);
    n->count--;
    /* Shift back the entries of the run that follows, each as far as its
     * home allows, so that no probe stops short at the hole. */
    size_t hole = (size_t)(e - n->slots);
    for (size_t i = (hole + 1) & n->mask; n->slots[i].task; i = (i + 1) & n->mask) {
        size_t h = home(n, n->slots[i].task);
        /* Movable if its home is not in (hole, i], cyclically. */
        bool movable = hole <= i ? (h <= hole || h > i) : (h <= hole && h > i);
        if (movable) {
            n->slots[hole] = n->slots[i];
            hole = i;
        }
    }
    n->slots[hole] = (struct cio__task_name){NULL, NULL};
}

void cio__task_names_free(struct cio__loop *loop)
{
    struct cio__task_names *n = &loop->names;
    for (size_t i = 0; n->slots && i <= n->mask; i++)
        free(n->slots[i].name);
    free(n->slots);
    *n = (struct cio__task_names){NULL, 0, 0};
}
