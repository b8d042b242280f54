/* cio — tasks: stackful coroutines scheduled by the loop.
 *
 * A task runs ordinary C code on its own stack. When it calls a suspending
 * function (cio_sleep, cio_join, cio_wait_fd, cio_yield, and every blocking-
 * looking call of the other areas) it is parked and the loop runs other
 * tasks until the thing it waits for happens.
 *
 * Ownership: cio_spawn() gives the spawner a handle. The handle is released
 * by cio_join() (which returns the task's result) or cio_detach(); exactly
 * one of them must be called. A handle is a small value: copies of it may be
 * used to cancel or inspect the task while it is owned or running, and
 * every function detects a stale copy (CIO_EBADTASK) instead of touching
 * freed memory. Task records are freed when their loop closes: a handle
 * kept past cio_run(), passed to a later loop or to another thread's loop
 * is refused too (CIO_ENOLOOP where no loop runs, else CIO_EBADTASK), as
 * every call checks that the handle names a record of the running loop
 * before reading it. (Below, CIO_EBADTASK stands for both.)
 *
 * Cancellation is level-triggered: once a task is cancelled, every
 * suspending call it makes returns -ECANCELED at once, until it returns.
 * Cleanup that must itself wait runs inside a shield scope (scope.h). A
 * call that returns at once does not give the loop a turn: a task that
 * ignores -ECANCELED and calls again in a loop never lets the loop run.
 *
 * Where this header (or another) says CIO_ENOTTASK for a suspending call
 * made outside a task, the same call on a thread with no loop at all
 * returns CIO_ENOLOOP.
 */
#ifndef CIO_TASK_H
#define CIO_TASK_H

#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cio__task;

/* A handle to a task. Treat as opaque; copy by value. */
typedef struct cio_task {
    struct cio__task *ptr_; /* NULL if spawning failed */
    uint64_t id_;           /* or, when ptr_ is NULL, the spawn error negated */
} cio_task;

typedef struct cio_spawn_options {
    /* Name shown in reports and dumps; copied whole (spawning fails with
     * -ENOMEM if the copy cannot be made). NULL gives "task-N", as
     * asyncio's "Task-N". */
    const char *name;
    /* Stack size in bytes, rounded up to whole pages; 0 means the loop's
     * default (cio_run_options.stack_size). At least CIO_MIN_STACK_SIZE. */
    size_t stack_size;
} cio_spawn_options;

/* Starts fn(arg) as a new task; it first runs on a later turn of the loop,
 * after the tasks already ready. Never fails loudly: if the task cannot be
 * made, the returned handle carries the error, which cio_join() returns and
 * cio_spawn_error() reads (-EINVAL for fn NULL, CIO_ENOLOOP, -ENOMEM). The
 * task's stack is taken when it first runs; if none can be had then, the
 * task ends without running and its result is -ENOMEM. */
cio_task cio_spawn(cio_task_fn fn, void *arg);

/* cio_spawn() with options (opts may be NULL). Also -EINVAL for a stack
 * size below CIO_MIN_STACK_SIZE. */
cio_task cio_spawn_with(const cio_spawn_options *opts, cio_task_fn fn, void *arg);

/* 0 if t is a handle of a successfully spawned task, the spawn error
 * otherwise. */
int cio_spawn_error(cio_task t);

/* Waits until t finishes, releases the handle and returns t's result.
 * If the caller is cancelled, or an enclosing timeout scope expires, while
 * it waits, t is cancelled too and still waited for (it unwinds promptly,
 * since its own suspending calls then fail), and join returns -ECANCELED
 * or -ETIMEDOUT: children never outlive a join. The handle is released in
 * every case but the errors below.
 * Errors that leave the handle as it was: CIO_EBADTASK (not a live owned
 * handle: already joined or detached), -EBUSY (another task is joining it),
 * -EDEADLK (a task joining itself), CIO_ENOTTASK (not called from a task).
 * A handle whose spawn failed returns the spawn error. */
int cio_join(cio_task t);

/* Releases the handle: t runs on, its result is discarded when it ends, and
 * a failure (a negative result other than -ECANCELED) is reported then.
 * Returns 0, CIO_EBADTASK, or -EBUSY if a task is joining it. */
int cio_detach(cio_task t);

/* Requests cancellation of t: from now on every suspending call of t outside
 * a shield returns -ECANCELED, and a call it is suspended in now returns
 * -ECANCELED at once. A task may cancel itself. Returns 0, -EALREADY if t
 * has already finished, CIO_EBADTASK for a stale handle. */
int cio_cancel(cio_task t);

/* Whether t has finished. A stale handle counts as finished. */
bool cio_task_done(cio_task t);

/* If t has finished, stores its result in *result and returns 0 (the
 * handle stays owned). Errors: CIO_ESTATE (still running), CIO_EBADTASK,
 * -EINVAL (result NULL). */
int cio_task_result(cio_task t, int *result);

/* Whether cancellation of t has been requested. False for a stale handle. */
bool cio_task_cancelling(cio_task t);

/* t's name, valid as long as the handle is; NULL for a stale handle, or
 * if the default name ("task-N", made on the first call) cannot be
 * allocated. */
const char *cio_task_name(cio_task t);

/* A task's done callback: called with the task's handle, its result and
 * the arg it was added with. The handle may be stale by then (joined, or
 * detached and freed): the result is passed for that reason. */
typedef void (*cio_task_callback)(cio_task t, int result, void *arg);

/* asyncio's task.add_done_callback: arranges for cb(t, result, arg) to run
 * on the loop once t has ended (on the next turn if it already has), in
 * the caller's context (cio/context.h). Callbacks of one task run in the
 * order they were added, after the tasks its end woke. One still scheduled
 * when the loop closes is dropped (not called). Who owns t does not
 * change: join or detach it as usual. Returns 0, -EINVAL (cb NULL),
 * CIO_EBADTASK (a stale handle or another loop's), -ENOMEM. */
int cio_task_add_done_callback(cio_task t, cio_task_callback cb, void *arg);

/* Removes t's done callbacks added with this cb and arg that are not yet
 * scheduled (t has not ended). Returns how many, or CIO_EBADTASK. */
int cio_task_remove_done_callback(cio_task t, cio_task_callback cb, void *arg);

/* The calling task's handle; { NULL, 0 } outside a task. */
cio_task cio_current(void);

/* Whether the caller is running inside a task. */
bool cio_in_task(void);

/* Lets every other ready task and callback run once, then resumes
 * (asyncio's sleep(0)). Returns 0, -ECANCELED, -ETIMEDOUT (an enclosing
 * timeout expired), CIO_ENOTTASK. */
int cio_yield(void);

/* Suspends the calling task for `seconds` (NaN or negative counts as 0),
 * counted from the loop's time (cio_time()); the loop may wake up to its
 * timer slack late (cio_run_options.timer_slack, 250 us by default).
 * Returns 0, -ECANCELED, -ETIMEDOUT (an enclosing timeout expired first),
 * CIO_ENOTTASK. */
int cio_sleep(double seconds);

/* Without suspending, tells whether a suspending call made now would fail:
 * 0, -ECANCELED or -ETIMEDOUT. For long computations that poll for
 * cancellation. CIO_ENOTTASK outside a task. */
int cio_check(void);

#define CIO_READABLE 1
#define CIO_WRITABLE 2

/* Suspends until fd is readable and/or writable (events: CIO_READABLE,
 * CIO_WRITABLE or both), or timeout seconds pass (a negative timeout waits
 * for ever). Returns the events that are ready (> 0), or -ETIMEDOUT (its own
 * timeout or an enclosing scope), -ECANCELED, -EBUSY (another task already
 * waits on fd in that direction, or a reader/writer callback is set),
 * -EBADF (fd is not open, or cio_forget_fd() was called while waiting),
 * -EPERM (fd cannot be polled), -EINVAL, CIO_ENOTTASK. Error or hang-up on
 * fd counts as ready. */
int cio_wait_fd(int fd, int events, double timeout);

/* cio_wait_fd() for one direction each (CIO_READABLE, CIO_WRITABLE): the
 * same results and errors. */
static inline int cio_wait_readable(int fd, double timeout)
{
    return cio_wait_fd(fd, CIO_READABLE, timeout);
}

static inline int cio_wait_writable(int fd, double timeout)
{
    return cio_wait_fd(fd, CIO_WRITABLE, timeout);
}

#ifdef __cplusplus
}
#endif
#endif
