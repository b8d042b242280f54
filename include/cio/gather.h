/* cio — waiting for several tasks: gather, wait, as_completed, wait_for.
 *
 * These take arrays of task handles the caller owns (cio_spawn()'s). A
 * function that releases a handle (by joining its finished task) sets the
 * array entry to CIO_TASK_NONE, so after any return the entries still set
 * are exactly the tasks the caller still owns and must join, cancel or
 * detach — and calling cio_gather() again on the same array finishes the
 * job: cio_gather(), cio_gather_results() and cio_as_completed skip empty
 * entries (results[i] is then left as it was). A handle whose spawn failed
 * counts as a task that failed with the spawn error; a stale handle as one
 * that failed with CIO_EBADTASK; cio_wait() counts empty entries as done.
 *
 * Waiting costs one small node per task (one allocation per call, none per
 * task when n <= 8). cio_wait() and cio_as_completed are woken once per
 * finished task, in the order they finish; cio_gather() once, when the
 * last task finishes or one fails.
 *
 * Cancelling (or timing out) a caller of cio_gather() cancels the tasks it
 * gathers and waits for them to unwind, as asyncio cancels a gather's
 * children and as cio_join() does. cio_wait() and cio_as_completed don't
 * touch the tasks: like asyncio.wait(), they only watch.
 */
#ifndef CIO_GATHER_H
#define CIO_GATHER_H

#include <stddef.h>

#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An empty handle: what released array entries are set to. cio_join() and
 * cio_cancel() return CIO_EBADTASK for it. */
#define CIO_TASK_NONE ((cio_task){NULL, 0})

/* Whether a handle is empty (CIO_TASK_NONE). */
static inline bool cio_task_is_none(cio_task t)
{
    return t.ptr_ == NULL && t.id_ == 0;
}

/* Whether two handles name the same task. */
static inline bool cio_task_same(cio_task a, cio_task b)
{
    return a.ptr_ == b.ptr_ && a.id_ == b.id_;
}

/* asyncio.gather(*tasks): waits until every task has finished, joining each
 * as it finishes, and returns 0 if all succeeded (result >= 0). As in
 * asyncio, the first failure (in the order tasks finish) is returned at
 * once: the tasks still running keep running, their entries stay set and
 * the caller still owns them. Results travel through the tasks' arguments.
 * Errors: the first task's failure, or -ECANCELED / -ETIMEDOUT if the
 * caller was interrupted (every task is then cancelled, awaited and
 * released), -ENOMEM (nothing was released), CIO_ENOTTASK, -EINVAL (tasks
 * NULL with n > 0). */
int cio_gather(cio_task *tasks, size_t n);

/* asyncio.gather(*tasks, return_exceptions=True): waits for every task and
 * stores each one's result (a value >= 0 or its error) in results[i], in
 * the order of tasks. Every handle is released. Returns 0 — a failed task
 * is not an error of the gather — or -ECANCELED / -ETIMEDOUT if the caller
 * was interrupted (every task is cancelled and awaited; results[] still
 * holds what each returned), -ENOMEM, CIO_ENOTTASK, -EINVAL. */
int cio_gather_results(cio_task *tasks, size_t n, int *results);

/* asyncio.wait's return_when. */
enum {
    CIO_FIRST_COMPLETED = 1, /* as soon as any task finishes */
    CIO_FIRST_EXCEPTION = 2, /* as soon as one fails (not by cancellation), or all finish */
    CIO_ALL_COMPLETED = 3,   /* when all have finished */
};

/* asyncio.wait(tasks, return_when=..., timeout=...): waits until the
 * condition holds or `timeout` seconds pass (negative: no timeout), then
 * reorders tasks[] in place so the finished tasks come first, in the order
 * they finished, followed by the pending ones in their original order, and
 * returns how many finished (>= 0; possibly 0 after the timeout, which is
 * not an error, as in asyncio). No handle is released and no task is
 * cancelled: read results with cio_join() or cio_task_result().
 * Errors: -ECANCELED, -ETIMEDOUT (an enclosing scope expired; tasks[] is
 * unchanged), -ENOMEM, CIO_ENOTTASK, -EINVAL (bad return_when, tasks NULL
 * with n > 0, a NaN timeout). */
int cio_wait(cio_task *tasks, size_t n, int return_when, double timeout);

/* asyncio.wait_for(task, timeout): joins t, but if it has not finished
 * after `timeout` seconds (negative: no limit), cancels it, waits for it to
 * unwind and returns -ETIMEDOUT. The handle is released in every case
 * cio_join() releases it. Returns t's result, -ETIMEDOUT, or cio_join()'s
 * errors. For a deadline on plain code, use a CIO_TIMEOUT scope. */
int cio_wait_for(cio_task t, double timeout);

/* asyncio.as_completed(tasks): an iterator that yields the tasks in the
 * order they finish.
 *
 *     CIO_AS_COMPLETED(it, tasks, n);
 *     size_t i;
 *     int result, rc;
 *     while ((rc = cio_as_completed_next(&it, &i, &result)) > 0)
 *         printf("task %zu returned %d\n", i, result);
 *
 * Bound the whole with a CIO_TIMEOUT scope (asyncio's timeout argument). */
typedef struct cio_as_completed {
    /* Private. */
    struct cio__watch *watch_;
    cio_task *tasks_;
    size_t left_;
    int err_;
} cio_as_completed;

/* Starts watching tasks[0..n). Returns 0, -ENOMEM, CIO_ENOLOOP, -EINVAL;
 * on error, cio_as_completed_next() returns the same error. */
int cio_as_completed_init(cio_as_completed *it, cio_task *tasks, size_t n);

/* Waits for the next task to finish, joins it, sets *index to its
 * position in tasks[] (whose entry becomes CIO_TASK_NONE) and *result to
 * its result, and returns 1. Returns 0 once every task has been returned;
 * -ECANCELED or -ETIMEDOUT if the caller is interrupted (the iteration may
 * go on later; unreturned tasks are untouched and still the caller's),
 * the init error, CIO_ENOTTASK, -EINVAL. index and result may be NULL. */
int cio_as_completed_next(cio_as_completed *it, size_t *index, int *result);

/* Stops watching. Tasks not yet returned stay the caller's. NULL and a
 * closed iterator are ignored. */
void cio_as_completed_close(cio_as_completed *it);

/* Declares `name` as an iterator over tasks[0..n), closed at block end. */
#define CIO_AS_COMPLETED(name, tasks, n)                                                           \
    cio_as_completed name __attribute__((cleanup(cio_as_completed_close))) = {0};                  \
    (void)cio_as_completed_init(&name, (tasks), (n))

#ifdef __cplusplus
}
#endif
#endif
