/* cio — task groups (asyncio.TaskGroup, Trio's nursery): structured
 * concurrency. The recommended way to spawn.
 *
 *     {
 *         CIO_GROUP(g);
 *         for (int i = 0; i < 10; i++)
 *             cio_group_spawn(&g, fetch_user, &users[i]);
 *         rc = cio_group_wait(&g);       // 0, or the first failure
 *     }                                  // children never outlive this
 *
 * Children cannot outlive the group: the block's end (or
 * cio_group_destroy()) waits for every child still running, cancelling
 * them first if the owner is cancelled. The first child to fail (a negative
 * result other than -ECANCELED) cancels all its siblings, at once, even
 * while the owner is busy elsewhere. Every child's result stays readable,
 * by spawn index, until the group is destroyed; a finished child's task
 * and stack are released at once, only its int result is kept.
 *
 * Differences from asyncio: the owner's own code is not cancelled when a
 * child fails (cio's cancellation is level-triggered and cannot be undone
 * at the end of the block, as asyncio's uncancel() does): it learns of the
 * failure from cio_group_wait() or cio_group_error(). There is no
 * ExceptionGroup: cio_group_wait() returns the first failure and
 * cio_group_result() reads every child's own.
 */
#ifndef CIO_GROUP_H
#define CIO_GROUP_H

#include <stddef.h>

#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cio__group_node;

typedef struct cio_group {
    /* Private; zero is an empty group. */
    struct cio__group_node **chunks_;
    size_t nchunks_, count_, running_;
    struct cio__task *waiter_;
    int error_;
    bool cancelled_;
} cio_group;

/* Makes *g an empty group (same as zeroing it). */
void cio_group_init(cio_group *g);

/* asyncio's tg.create_task(): starts fn(arg) as a child of g. The returned
 * handle may be used to cancel the child or read its name while it runs,
 * but belongs to the group: never join or detach it. If the child cannot
 * be started the handle carries the error (cio_spawn_error()), which also
 * counts as the child's failure. Spawning into a group whose child already
 * failed or that was cancelled starts the child cancelled (it never runs,
 * result -ECANCELED), as asyncio refuses new tasks then. */
cio_task cio_group_spawn(cio_group *g, cio_task_fn fn, void *arg);

/* cio_group_spawn() with spawn options (name, stack size). */
cio_task cio_group_spawn_with(cio_group *g, const cio_spawn_options *opts, cio_task_fn fn,
                              void *arg);

/* Waits until every child has finished. Returns 0 if none failed, the
 * first failure otherwise; -ECANCELED / -ETIMEDOUT if the caller was
 * interrupted (the children are then cancelled and still waited for, so
 * none outlives the call); -EBUSY if another task is waiting on g (one
 * task waits, as one task joins); CIO_ENOTTASK; -EINVAL. The group may be
 * spawned into again afterwards, except after an interrupted wait: the
 * group is cancelled then, and later children start cancelled. */
int cio_group_wait(cio_group *g);

/* Cancels every child still running; children spawned later start
 * cancelled. Returns 0 or -EINVAL. */
int cio_group_cancel(cio_group *g);

/* Number of children ever spawned (the valid spawn indices), and of those
 * still running. */
size_t cio_group_size(const cio_group *g);
size_t cio_group_running(const cio_group *g);

/* The first failure of a child so far, or 0. */
int cio_group_error(const cio_group *g);

/* Stores the result of the child spawned index-th (from 0) in *result.
 * Returns 0, CIO_ESTATE (still running), -EINVAL (no such child). */
int cio_group_result(const cio_group *g, size_t index, int *result);

/* Waits for the children still running (cio_group_wait(), its result
 * discarded), then frees the group's memory; *g is an empty group again.
 * Called by CIO_GROUP at block end. NULL is ignored. */
void cio_group_destroy(cio_group *g);

/* Declares `name` as a group destroyed (children awaited) at block end. */
#define CIO_GROUP(name) cio_group name __attribute__((cleanup(cio_group_destroy))) = {0}

#ifdef __cplusplus
}
#endif
#endif
