/* cio — futures: a low-level awaitable resolved by a callback or a task.
 *
 * A future starts pending and is resolved once: with a value, with an error
 * code, or by cancellation. Any number of tasks may wait on it; done
 * callbacks run on the loop (scheduled with call_soon) once it is resolved.
 * Futures belong to one loop and must be freed on its thread.
 *
 * Difference from asyncio: a task cancelled while it waits on a future
 * stops waiting (-ECANCELED) but does not cancel the future, which other
 * waiters may share; cancel it explicitly with cio_future_cancel().
 */
#ifndef CIO_FUTURE_H
#define CIO_FUTURE_H

#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_future cio_future;

typedef void (*cio_future_callback)(cio_future *f, void *arg);

/* Makes a pending future on this thread's loop; the caller owns it.
 * Errors: -EINVAL (out NULL), CIO_ENOLOOP, -ENOMEM. */
int cio_future_new(cio_future **out);

/* Releases the caller's reference. A future still pending is cancelled
 * first, so its waiters return -ECANCELED; memory is freed once the last
 * waiter has left. NULL is ignored. */
void cio_future_free(cio_future *f);

/* Resolves f with value and wakes its waiters. Returns 0, CIO_ESTATE if f
 * is already resolved or cancelled, -EINVAL if f is NULL. */
int cio_future_set_result(cio_future *f, void *value);

/* Resolves f with the error err (< 0). Returns 0, CIO_ESTATE, -EINVAL (f
 * NULL or err >= 0). */
int cio_future_set_error(cio_future *f, int err);

/* Cancels f: waiters and readers get -ECANCELED. Returns 0, or -EALREADY if
 * f was already resolved; -EINVAL if f is NULL. */
int cio_future_cancel(cio_future *f);

/* Whether f is resolved (value, error or cancellation). */
bool cio_future_done(const cio_future *f);

/* Whether f was cancelled. */
bool cio_future_cancelled(const cio_future *f);

/* Suspends until f is resolved. Returns 0 and stores the value in *value
 * (if value is not NULL), or the future's error, -ECANCELED (f cancelled or
 * the caller cancelled), -ETIMEDOUT (an enclosing timeout expired),
 * CIO_ENOTTASK, -EINVAL. */
int cio_future_wait(cio_future *f, void **value);

/* Without suspending: as cio_future_wait() if f is resolved, CIO_ESTATE if
 * it is still pending. */
int cio_future_result(const cio_future *f, void **value);

/* Arranges for cb(f, arg) to run on the loop once f is resolved (at once,
 * on the next turn, if it already is), in the caller's context
 * (cio/context.h); one still scheduled when the loop closes is dropped (not
 * called). Returns 0, -EINVAL, -ENOMEM. */
int cio_future_add_done_callback(cio_future *f, cio_future_callback cb, void *arg);

/* Removes every registration of (cb, arg) that has not run yet; returns how
 * many were removed, or -EINVAL. */
int cio_future_remove_done_callback(cio_future *f, cio_future_callback cb, void *arg);

#ifdef __cplusplus
}
#endif
#endif
