/* cio — retrying with exponential backoff, and rate limiting.
 *
 * cio_retry() is the guide's async_retry decorator as a call: it runs an
 * operation in the calling task, and while it fails with a retryable error
 * sleeps base_delay * factor^attempt (capped at max_delay, scaled by a
 * random jitter) and tries again, up to max_attempts times.
 *
 *     cio_retry_policy p = {.max_attempts = 3, .base_delay = 1.0};
 *     rc = cio_retry(&p, fetch, &req);
 *
 * Cancellation is never retried: if the operation returns -ECANCELED, or
 * the caller has been cancelled or an enclosing timeout scope has expired
 * (cio_check() != 0), cio_retry() returns at once. So a CIO_TIMEOUT scope
 * around the call bounds the whole, sleeps included. An operation's own
 * -ETIMEDOUT (a connect timeout of its own) is retried like other errors
 * when the predicate allows it.
 *
 * cio_limiter is a token bucket (beyond asyncio, alongside the guide's
 * Semaphore pattern): at most `burst` operations at once, refilled at
 * `rate` per second; callers wait their turn in FIFO order.
 */
#ifndef CIO_RETRY_H
#define CIO_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_retry_policy {
    /* Attempts in all, first included; 0 means 3 (the guide's default). */
    int max_attempts;
    /* Delay after the first failure, seconds; 0 means 1.0. */
    double base_delay;
    /* Multiplier per further failure (the guide's backoff); 0 means 2.0. */
    double factor;
    /* Upper bound of a delay before jitter, seconds; 0 means no bound. */
    double max_delay;
    /* Each delay is multiplied by a uniform random factor in
     * [1 - jitter, 1 + jitter]; 0.5 gives the guide's (0.5 + random()).
     * Negative: no jitter. 0 means 0.5. */
    double jitter;
    /* Which errors are retried (the guide's `exceptions`): NULL retries
     * every negative result except -ECANCELED. */
    bool (*retryable)(int err, void *arg);
    /* Called before each sleep with the attempt that failed (from 1), its
     * error and the delay chosen: for logging. May be NULL. */
    void (*on_retry)(int attempt, int err, double delay, void *arg);
    /* Passed to retryable and on_retry. */
    void *arg;
    /* Seed of the jitter's generator, for reproducible delays; 0 seeds
     * from the clock and the call's address. */
    uint64_t seed;
} cio_retry_policy;

/* Runs op(op_arg) until it returns a result >= 0, which is returned, or
 * the policy gives up: then the last error is returned (a non-retryable
 * one at once). Also returns -ECANCELED / -ETIMEDOUT when the caller is
 * interrupted (during a sleep or after an attempt), -EINVAL (op NULL, a
 * negative or NaN setting), CIO_ENOTTASK (a retry needs to sleep outside a
 * task). policy NULL means all defaults. */
int cio_retry(const cio_retry_policy *policy, cio_task_fn op, void *op_arg);

/* ---- rate limiting ------------------------------------------------------- */

typedef struct cio_limiter {
    /* Private. */
    int64_t interval_ns; /* between two tokens */
    int64_t burst_ns;    /* how far ahead of now reservations may run */
    int64_t tat_;        /* theoretical arrival time of the next token */
} cio_limiter;

/* Allows `rate` operations per second on average, and up to `burst` at
 * once after a quiet period (for "N per interval": rate = N / interval,
 * burst = N). Returns 0 or -EINVAL (rate not positive, burst < 1). */
int cio_limiter_init(cio_limiter *l, double rate, double burst);

/* Takes a token, sleeping until one is due (at once, even outside a task or
 * in a cancelled one, if a token is available now). Callers are served in
 * the order they arrive. Returns 0, -ECANCELED, -ETIMEDOUT (the token is
 * given back if no later caller has reserved one), CIO_ENOTTASK, CIO_ENOLOOP,
 * -EINVAL. */
int cio_limiter_acquire(cio_limiter *l);

/* Takes a token only if one is available now. Returns 0, -EAGAIN, -EINVAL,
 * CIO_ENOLOOP. */
int cio_limiter_try_acquire(cio_limiter *l);

#ifdef __cplusplus
}
#endif
#endif
