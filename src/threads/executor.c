/* Thread pools and run_in_executor.
 *
 * A job is shared by its waiting task and a worker; who does what is
 * decided by one atomic word of flags, so neither side ever waits for the
 * other:
 *
 *   RUNNING  a worker took it from the queue (set under the pool's mutex)
 *   DONE     the worker finished (or shutdown dropped it); result is set
 *   PARKED   the waiter suspended: the worker must post the job to the
 *            waiter's loop. A waiter that sees DONE before parking takes
 *            the result at once, and nothing is posted.
 *   GONE     the waiter left early (cancelled): whoever holds the job last
 *            calls the release callback and frees it.
 *
 * A job in the queue belongs to the pool: a waiter that leaves finds it
 * still linked and drops it, under the mutex. Whoever unlinks it under the
 * mutex (a worker, or shutdown dropping it) owns it from then on exactly as
 * a worker does: the waiter then only sets GONE, and the job is finished
 * once, by its owner.
 *
 * Round trips are made cheap by spinning: an idle worker polls the queue for
 * a while before it sleeps, and a waiter whose loop has nothing else to run
 * polls its job before it parks; the two cross-thread wake-ups of a round
 * trip become two cache-line transfers when work comes back to back. */
#include "cio/executor.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "threads/threads.h"

enum { RUNNING = 1, DONE = 2, PARKED = 4, GONE = 8 };

struct job {
    struct cio__inbox_node node; /* posted to the waiter's loop */
    struct cio__list qlink;      /* in the pool's queue, under its mutex */
    struct job *dropped_next;    /* shutdown's own list of dropped jobs */
    atomic_uint state;
    bool ran;       /* fn was called (written before DONE) */
    bool delivered; /* loop thread only: the inbox node has run */
    int result;
    cio_job_fn fn;
    void *arg;
    cio_job_release release;
    struct cio__task *task;
    struct cio__context *context; /* the task's, as at the submit */
    struct cio__remote *remote;
    struct cio_executor *ex;
};

struct cio_executor {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct cio__list queue;
    unsigned sleeping; /* workers in cond_wait */
    bool stopping;
    bool is_default;
    atomic_size_t queued;  /* read by spinning workers without the mutex */
    atomic_uint spinners;  /* workers polling the queue */
    atomic_bool stop_flag; /* the same as stopping, for spinners */
    int64_t spin_ns;
    atomic_llong avg_job_ns; /* moving average of job run times */
    atomic_long refs;        /* the owner's and one per job: a waiter may still
                              * touch the queue after shutdown has returned */
    unsigned nthreads;
    pthread_t *threads;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static void pool_unref(cio_executor *ex)
{
    if (atomic_fetch_sub_explicit(&ex->refs, 1, memory_order_acq_rel) == 1) {
        pthread_cond_destroy(&ex->cv);
        pthread_mutex_destroy(&ex->mu);
        free(ex->threads);
        free(ex);
    }
}

static void job_free(struct job *j)
{
    cio__context_drop(j->context);
    cio__remote_unref(j->remote);
    pool_unref(j->ex);
    free(j);
}

/* The waiter left: the job's arg and result go to its release callback. */
static void job_abandon(struct job *j)
{
    if (j->release)
        j->release(j->arg, j->ran ? j->result : -ECANCELED);
    job_free(j);
}

/* Runs on the waiter's loop once a finished job is posted. */
static void job_delivered(struct cio__inbox_node *n, struct cio__loop *loop)
{
    struct job *j = cio__container_of(n, struct job, node);
    if (!loop || (atomic_load_explicit(&j->state, memory_order_acquire) & GONE)) {
        job_abandon(j);
        return;
    }
    j->delivered = true;
    /* If the task was woken already (cancelled), it finds `delivered` set
     * and releases the job itself. */
    cio__wake(j->task, 0);
}

/* The job is finished (or will never run): hand it to whoever waits. */
static void job_finish(struct job *j)
{
    unsigned old = atomic_fetch_or_explicit(&j->state, DONE, memory_order_acq_rel);
    if (old & GONE)
        job_abandon(j);
    else if ((old & PARKED) && cio__remote_post(j->remote, &j->node) < 0)
        job_abandon(j); /* the loop closed: nobody can be waiting */
}

static int64_t mono_ns(void)
{
    return cio__mono_ns();
}

/* Takes the next job, spinning then sleeping; NULL once the pool stops. */
static struct job *next_job(cio_executor *ex)
{
    if (ex->spin_ns > 0 && atomic_load_explicit(&ex->queued, memory_order_relaxed) == 0) {
        atomic_fetch_add_explicit(&ex->spinners, 1, memory_order_relaxed);
        int64_t until = mono_ns() + ex->spin_ns;
        for (unsigned i = 1;; i++) {
            if (atomic_load_explicit(&ex->queued, memory_order_relaxed) ||
                atomic_load_explicit(&ex->stop_flag, memory_order_relaxed))
                break;
            cpu_relax();
            if ((i & 63) == 0) {
                if (mono_ns() > until)
                    break;
                /* On a busy machine, let a runnable thread (the loop
                 * submitting more work, typically) have this CPU. */
                sched_yield();
            }
        }
        atomic_fetch_sub_explicit(&ex->spinners, 1, memory_order_relaxed);
    }
    pthread_mutex_lock(&ex->mu);
    while (cio__list_empty(&ex->queue) && !ex->stopping) {
        ex->sleeping++;
        pthread_cond_wait(&ex->cv, &ex->mu);
        ex->sleeping--;
    }
    struct cio__list *l = cio__list_shift(&ex->queue);
    struct job *j = NULL;
    if (l) {
        j = cio__container_of(l, struct job, qlink);
        atomic_fetch_sub_explicit(&ex->queued, 1, memory_order_relaxed);
        atomic_fetch_or_explicit(&j->state, RUNNING, memory_order_relaxed);
        /* More work than this worker: pass the wake-up on. */
        if (!cio__list_empty(&ex->queue) && ex->sleeping)
            pthread_cond_signal(&ex->cv);
    }
    pthread_mutex_unlock(&ex->mu);
    return j;
}

static void *worker(void *arg)
{
    cio_executor *ex = arg;
    struct job *j;
    while ((j = next_job(ex))) {
        int64_t t0 = mono_ns();
        struct cio__context *outer = cio__context_enter(j->context);
        j->result = j->fn(j->arg);
        cio__context_enter(outer);
        j->ran = true;
        int64_t dt = mono_ns() - t0;
        job_finish(j);
        /* A racy update is fine: it only steers whether waiters spin. */
        long long avg = atomic_load_explicit(&ex->avg_job_ns, memory_order_relaxed);
        atomic_store_explicit(&ex->avg_job_ns, avg + (dt - avg) / 8, memory_order_relaxed);
    }
    return NULL;
}

int cio_executor_new(cio_executor **out, const cio_executor_options *opts)
{
    if (!out)
        return -EINVAL;
    unsigned n = opts && opts->threads ? opts->threads : 0;
    if (!n) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (unsigned)c : 1;
    }
    cio_executor *ex = calloc(1, sizeof *ex);
    if (!ex)
        return -ENOMEM;
    ex->threads = calloc(n, sizeof *ex->threads);
    if (!ex->threads) {
        free(ex);
        return -ENOMEM;
    }
    int spin = opts && opts->spin_usec ? opts->spin_usec : 50;
    ex->spin_ns = spin > 0 ? (int64_t)spin * 1000 : 0;
    pthread_mutex_init(&ex->mu, NULL);
    pthread_cond_init(&ex->cv, NULL);
    cio__list_init(&ex->queue);
    atomic_init(&ex->queued, 0);
    atomic_init(&ex->spinners, 0);
    atomic_init(&ex->stop_flag, false);
    atomic_init(&ex->refs, 1);
    atomic_init(&ex->avg_job_ns, 0);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (opts && opts->stack_size)
        pthread_attr_setstacksize(&attr, opts->stack_size);
    /* Workers inherit a full signal mask: signals are for the loops. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = 0;
    for (; ex->nthreads < n; ex->nthreads++) {
        rc = pthread_create(&ex->threads[ex->nthreads], &attr, worker, ex);
        if (rc)
            break;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc && ex->nthreads == 0) {
        pthread_cond_destroy(&ex->cv);
        pthread_mutex_destroy(&ex->mu);
        free(ex->threads);
        free(ex);
        return rc == EINVAL ? -EINVAL : -EAGAIN;
    }
    *out = ex;
    return 0;
}

unsigned cio_executor_threads(const cio_executor *ex)
{
    return ex ? ex->nthreads : 0;
}

int cio_executor_shutdown(cio_executor *ex, bool cancel_pending)
{
    if (!ex)
        return 0;
    if (ex->is_default)
        return -EINVAL;
    for (unsigned i = 0; i < ex->nthreads; i++)
        if (pthread_equal(pthread_self(), ex->threads[i]))
            return -EDEADLK;
    /* Dropped jobs leave the queue under the mutex, as a worker takes one:
     * a waiter cancelled from now on finds its job unlinked and leaves it
     * to us (GONE), instead of freeing it while we still finish it. */
    struct job *dropped = NULL, **tail = &dropped;
    pthread_mutex_lock(&ex->mu);
    ex->stopping = true;
    atomic_store(&ex->stop_flag, true);
    if (cancel_pending) {
        struct cio__list *l;
        while ((l = cio__list_shift(&ex->queue))) {
            struct job *j = cio__container_of(l, struct job, qlink);
            atomic_fetch_sub_explicit(&ex->queued, 1, memory_order_relaxed);
            atomic_fetch_or_explicit(&j->state, RUNNING, memory_order_relaxed);
            j->dropped_next = NULL;
            *tail = j;
            tail = &j->dropped_next;
        }
    }
    pthread_cond_broadcast(&ex->cv);
    pthread_mutex_unlock(&ex->mu);
    while (dropped) {
        struct job *j = dropped;
        dropped = j->dropped_next; /* job_finish() may free j */
        j->result = -ESHUTDOWN;
        job_finish(j);
    }
    for (unsigned i = 0; i < ex->nthreads; i++)
        pthread_join(ex->threads[i], NULL);
    pool_unref(ex);
    return 0;
}

static _Atomic(cio_executor *) default_pool;
static pthread_mutex_t default_mu = PTHREAD_MUTEX_INITIALIZER;
static bool atfork_registered;
static cio_executor_options default_opts; /* zero: the defaults */

/* A child process has none of the parent's threads: it forgets the pool
 * (its memory stays, unreachable) and makes a fresh one on first use. */
static void default_after_fork(void)
{
    atomic_store(&default_pool, NULL);
    pthread_mutex_init(&default_mu, NULL);
}

cio_executor *cio_executor_default(void)
{
    cio_executor *ex = atomic_load_explicit(&default_pool, memory_order_acquire);
    if (cio__likely(ex != NULL))
        return ex;
    pthread_mutex_lock(&default_mu);
    ex = atomic_load_explicit(&default_pool, memory_order_relaxed);
    if (!ex) {
        if (!atfork_registered)
            atfork_registered = pthread_atfork(NULL, NULL, default_after_fork) == 0;
        if (cio_executor_new(&ex, &default_opts) == 0) {
            ex->is_default = true;
            atomic_store_explicit(&default_pool, ex, memory_order_release);
        } else {
            ex = NULL;
        }
    }
    pthread_mutex_unlock(&default_mu);
    return ex;
}

int cio_executor_set_default_options(const cio_executor_options *opts)
{
    pthread_mutex_lock(&default_mu);
    int rc = 0;
    if (atomic_load_explicit(&default_pool, memory_order_relaxed))
        rc = -EBUSY;
    else
        default_opts = opts ? *opts : (cio_executor_options){0};
    pthread_mutex_unlock(&default_mu);
    return rc;
}

/* Queues j; returns 0 or -ESHUTDOWN. */
static int submit(cio_executor *ex, struct job *j)
{
    pthread_mutex_lock(&ex->mu);
    if (ex->stopping) {
        pthread_mutex_unlock(&ex->mu);
        return -ESHUTDOWN;
    }
    cio__list_push(&ex->queue, &j->qlink);
    size_t q = atomic_fetch_add_explicit(&ex->queued, 1, memory_order_relaxed) + 1;
    /* A spinning worker will see the job; wake a sleeper only for work
     * beyond what the spinners can take. */
    bool wake = ex->sleeping && q > atomic_load_explicit(&ex->spinners, memory_order_relaxed);
    pthread_mutex_unlock(&ex->mu);
    if (wake)
        pthread_cond_signal(&ex->cv);
    return 0;
}

/* The waiter was interrupted: leave the job to the worker or drop it. */
static void leave(cio_executor *ex, struct job *j)
{
    bool dropped = false;
    pthread_mutex_lock(&ex->mu);
    if (cio__list_linked(&j->qlink)) {
        cio__list_unlink(&j->qlink);
        atomic_fetch_sub_explicit(&ex->queued, 1, memory_order_relaxed);
        dropped = true;
    }
    pthread_mutex_unlock(&ex->mu);
    if (dropped) {
        job_abandon(j);
        return;
    }
    unsigned old = atomic_fetch_or_explicit(&j->state, GONE, memory_order_acq_rel);
    /* Not done: the worker sees GONE and releases. Done and delivered: the
     * result is here and nobody else will release it. Done but not yet
     * delivered: the inbox node sees GONE and releases. */
    if ((old & DONE) && j->delivered)
        job_abandon(j);
}

int cio_run_in_executor(const cio_job_options *opts, cio_job_fn fn, void *arg)
{
    if (!fn)
        return -EINVAL;
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc) {
        /* Interrupted before it could submit: the same rule as after, so a
         * caller needs one code path (arg goes to release on -ECANCELED and
         * -ETIMEDOUT, whenever they happen). */
        if ((rc == -ECANCELED || rc == -ETIMEDOUT) && opts && opts->release)
            opts->release(arg, -ECANCELED);
        return rc;
    }
    cio_executor *ex = opts && opts->executor ? opts->executor : cio_executor_default();
    struct cio__loop *loop = cio__tls_loop;
    struct cio__threads *th = cio__threads_get(loop);
    struct job *j = ex && th ? malloc(sizeof *j) : NULL;
    if (!j)
        return -ENOMEM;
    j->node.run = job_delivered;
    cio__list_init(&j->qlink);
    atomic_init(&j->state, 0);
    j->ran = false;
    j->delivered = false;
    j->result = 0;
    j->fn = fn;
    j->arg = arg;
    j->release = opts ? opts->release : NULL;
    j->task = t;
    j->context = cio__context_share(t->context); /* asyncio's to_thread copies it */
    j->remote = th->remote;
    cio__remote_ref(j->remote);
    j->ex = ex;
    atomic_fetch_add_explicit(&ex->refs, 1, memory_order_relaxed);
    rc = submit(ex, j);
    if (rc) {
        job_free(j);
        return rc;
    }
    /* Nothing else to run and the pool's jobs are short: poll the job for
     * a while before parking, so a short job costs no wake-up of the loop
     * (and a long one no wasted spinning). Not on a virtual clock, whose
     * time moves by the real time the loop waits for events: time spent
     * spinning would be lost to it. */
    if (ex->spin_ns > 0 && !loop->ready.head && !loop->virtual_clock &&
        atomic_load_explicit(&ex->avg_job_ns, memory_order_relaxed) < ex->spin_ns) {
        int64_t until = mono_ns() + ex->spin_ns;
        for (unsigned i = 1; !(atomic_load_explicit(&j->state, memory_order_acquire) & DONE); i++) {
            cpu_relax();
            if ((i & 63) == 0 && mono_ns() > until)
                break;
        }
    }
    unsigned old = atomic_fetch_or_explicit(&j->state, PARKED, memory_order_acq_rel);
    if (!(old & DONE)) {
        loop->external_refs++;
        rc = cio__suspend(t, "executor job");
        loop->external_refs--;
        if (rc) {
            leave(ex, j);
            return rc;
        }
    }
    rc = j->result;
    job_free(j);
    return rc;
}

int cio_to_thread(cio_job_fn fn, void *arg)
{
    return cio_run_in_executor(NULL, fn, arg);
}
