/* cio — the executor: thread pools that run blocking functions for tasks
 * (asyncio's run_in_executor and to_thread).
 *
 * A task hands a blocking function to a pool and is suspended until a
 * worker thread has run it; the loop keeps running the other tasks. Workers
 * hand results back in batches and wake the loop through its eventfd, so no
 * work on the loop thread ever blocks on the pool.
 *
 * The job function runs on a worker thread: it must not call cio functions
 * other than the _threadsafe ones, and must not touch the loop's objects
 * without its own synchronisation.
 *
 * Cancellation (and timeouts) follow the rule of every suspending call: a
 * task cancelled while it waits returns -ECANCELED (-ETIMEDOUT for a
 * timeout) at once. A job that had not started is then dropped and never
 * runs; a job already running cannot be stopped and runs to its end.
 *
 * The ownership rule: whenever cio_run_in_executor() returns -ECANCELED or
 * -ETIMEDOUT (including when the caller was already cancelled and nothing
 * was submitted), the job's `arg`, and whatever the job produced, belong
 * from then on to the job's release callback (see cio_job_options): it is
 * called exactly once, with the job's result (or -ECANCELED if the job
 * never ran), so memory the caller would have freed after a normal return
 * is freed anyway. On any other return the release callback is never
 * called: the caller owns arg and the result as with any function call.
 */
#ifndef CIO_EXECUTOR_H
#define CIO_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A pool of worker threads. */
typedef struct cio_executor cio_executor;

/* A blocking function run on a worker. Its int is the job's result, as a
 * task's (0 or positive on success, a negative error code on failure); any
 * other output goes through arg. */
typedef int (*cio_job_fn)(void *arg);

/* Called once for a job whose waiter left before it finished (see the top
 * of this header): owns arg from then on. result is the job's result, or
 * -ECANCELED if it never ran. It runs on the worker that finished the job,
 * or on the loop thread of the cancelled task, so it must be thread-safe;
 * freeing memory is its usual business. */
typedef void (*cio_job_release)(void *arg, int result);

typedef struct cio_executor_options {
    /* Worker threads; 0 means the number of online CPUs. */
    unsigned threads;
    /* How long an idle worker, and a task that waits on a job when the
     * loop has nothing else to run, spin before going to sleep, in
     * microseconds. Spinning turns the two cross-thread wake-ups of a round
     * trip into memory reads. A task spins only while the pool's recent
     * jobs took less than this on average. 0 means the default (50);
     * negative disables spinning. */
    int spin_usec;
    /* Stack size of each worker thread; 0 means the system default. */
    size_t stack_size;
} cio_executor_options;

/* Makes a pool of worker threads (opts may be NULL for the defaults). The
 * caller owns it and must shut it down. A pool is not tied to a loop: tasks
 * of several loops, on several threads, may share one. Its workers belong
 * to the process that made it: a child made by fork() must neither use nor
 * shut down the parent's pools (its copy has no workers: a job would never
 * run, and the shutdown would wait for ever); make new ones there.
 * Errors: -EINVAL (out NULL), -ENOMEM, -EAGAIN (no thread could be made). */
int cio_executor_new(cio_executor **out, const cio_executor_options *opts);

/* Shuts the pool down and frees it. With cancel_pending false, every job
 * already queued still runs; with true, jobs that have not started are
 * dropped (their waiters return -ESHUTDOWN; jobs whose waiter had left have
 * their release callback called with -ECANCELED). Either way it then waits
 * for running jobs to finish and joins the workers: it blocks the calling
 * thread, so call it from outside a loop or once no job can be long.
 * Submitting to a pool being shut down returns -ESHUTDOWN. NULL is ignored.
 * Must not be called from one of the pool's own workers (-EDEADLK) nor for
 * the default pool (-EINVAL); returns 0 otherwise. */
int cio_executor_shutdown(cio_executor *ex, bool cancel_pending);

/* The process's default pool, made on first use with the default options
 * (as asyncio's default executor); it lives until the process exits. A
 * child made by fork() gets a fresh one on first use. NULL if it cannot be
 * made. Thread-safe. */
cio_executor *cio_executor_default(void);

/* Sets the options the default pool will be made with (NULL: back to the
 * defaults: one thread per online CPU), as asyncio's
 * loop.set_default_executor(ThreadPoolExecutor(max_workers=N)). Only
 * before the default pool is first used: -EBUSY once it exists; 0
 * otherwise. Thread-safe. */
int cio_executor_set_default_options(const cio_executor_options *opts);

/* Number of worker threads of a pool; 0 for NULL. */
unsigned cio_executor_threads(const cio_executor *ex);

typedef struct cio_job_options {
    /* The pool; NULL means cio_executor_default(). */
    cio_executor *executor;
    /* Takes over arg when the waiter leaves early; NULL if nothing needs
     * releasing (arg then must outlive a job that keeps running: prefer a
     * release callback whenever arg is on the caller's stack and the call
     * can be cancelled). */
    cio_job_release release;
} cio_job_options;

/* Runs fn(arg) on a worker of the pool named by opts (NULL: the default
 * pool) and suspends the calling task until it has returned; returns fn's
 * result. asyncio: loop.run_in_executor(pool, fn, arg).
 * Errors: -EINVAL (fn NULL), CIO_ENOTTASK, CIO_ENOLOOP, -ECANCELED,
 * -ETIMEDOUT (an enclosing timeout scope expired; see the top of this
 * header for what happens to the job), -ESHUTDOWN (the pool is shutting
 * down), -ENOMEM. */
int cio_run_in_executor(const cio_job_options *opts, cio_job_fn fn, void *arg);

/* cio_run_in_executor() on the default pool without a release callback:
 * asyncio.to_thread(fn, arg). */
int cio_to_thread(cio_job_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
