/* The event loop: one iteration polls I/O (blocking only when nothing is
 * ready), reads the clock once, fires the timers that are due, then runs a
 * batch of ready tasks and callbacks. */
#include "loop/loop.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "task/task.h"

__thread struct cio__loop *cio__tls_loop __attribute__((tls_model("initial-exec")));

void cio__report(struct cio__loop *loop, const char *fmt, ...)
{
    FILE *out = loop && loop->report ? loop->report : stderr;
    va_list ap;
    va_start(ap, fmt);
    flockfile(out);
    fputs("cio: ", out);
    vfprintf(out, fmt, ap);
    fputc('\n', out);
    funlockfile(out);
    fflush(out);
    va_end(ap);
}

int64_t cio__abs_to_ns(double when)
{
    if (when != when)
        return 0;
    if (when >= 9.2e9)
        return CIO__NEVER;
    if (when <= -9.2e9)
        return -CIO__NEVER;
    return (int64_t)llround(when * 1e9);
}

static void find_sched_stack(struct cio__loop *loop)
{
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &loop->sched_stack_lo, &loop->sched_stack_size);
        pthread_attr_destroy(&attr);
    }
}

static int pick_backend(cio_backend b, const struct cio__backend_ops **ops, FILE *report)
{
    if (b == CIO_BACKEND_DEFAULT) {
        const char *env = getenv("CIO_BACKEND");
        if (!env || !*env || strcmp(env, "epoll") == 0) {
            b = CIO_BACKEND_EPOLL;
        } else if (strcmp(env, "io_uring") == 0) {
            b = CIO_BACKEND_IO_URING;
        } else {
            /* Said, since the caller sees only -EINVAL. */
            fprintf(report, "cio: CIO_BACKEND=%s names no backend (epoll or io_uring)\n", env);
            return -EINVAL;
        }
    }
    switch (b) {
    case CIO_BACKEND_EPOLL:
        *ops = &cio__epoll_ops;
        return 0;
    case CIO_BACKEND_IO_URING:
#ifdef CIO_HAVE_URING
        *ops = &cio__uring_ops;
        return 0;
#else
        fprintf(report, "cio: this cio was built without io_uring (liburing)\n");
        return -ENOSYS;
#endif
    default:
        return -EINVAL;
    }
}

int cio__loop_open(struct cio__loop **out, const cio_run_options *opts)
{
    struct cio__loop *loop = calloc(1, sizeof *loop);
    if (!loop)
        return -ENOMEM;
    loop->ready.tail = &loop->ready.head;
    cio__stack_pool_init(&loop->stacks);
    cio__tasks_init(loop);
    cio__handles_init(loop);
    loop->wake_fd = -1;
    loop->report = opts && opts->report ? opts->report : stderr;
    loop->default_stack = opts && opts->stack_size ? opts->stack_size : CIO_DEFAULT_STACK_SIZE;
    loop->virtual_clock = opts && opts->virtual_clock;
    if (opts && opts->slow_task_warning > 0)
        loop->slow_ns = cio__sec_to_ns(opts->slow_task_warning);
    double slack = opts && opts->timer_slack ? opts->timer_slack : CIO_DEFAULT_TIMER_SLACK;
    loop->timer_slack = slack > 0 ? cio__sec_to_ns(slack) : 0;
    loop->now = loop->virtual_clock ? 0 : cio__mono_ns(); /* virtual time starts at 0 */
    cio__timers_init(&loop->timers, loop->now);
    find_sched_stack(loop);

    int rc = pick_backend(opts ? opts->backend : CIO_BACKEND_DEFAULT, &loop->ops, loop->report);
    if (rc < 0)
        goto fail;
    rc = loop->ops->init(loop);
    if (rc < 0) {
        fprintf(loop->report, "cio: the %s backend cannot run here: %s\n", loop->ops->name,
                cio_strerror(rc));
        goto fail;
    }
    loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (loop->wake_fd < 0) {
        rc = -errno;
        goto fail;
    }
    rc = loop->ops->update(loop, loop->wake_fd, 0, CIO_READABLE);
    if (rc < 0)
        goto fail;
    cio__overflow_install(loop);
    cio__tls_loop = loop;
    *out = loop;
    return 0;
fail:
    if (loop->wake_fd >= 0)
        close(loop->wake_fd);
    if (loop->backend)
        loop->ops->fini(loop);
    cio__stack_pool_fini(&loop->stacks);
    free(loop);
    return rc;
}

/* What is still ready when the loop closes is dropped; deferred records
 * are told, to free what they own. */
static void drop_ready(struct cio__loop *loop)
{
    struct cio__runnable *r;
    while ((r = cio__readyq_pop(loop))) {
        if (r->kind == CIO__RUN_HANDLE)
            cio__handle_drop(loop, r);
        else if (r->kind == CIO__RUN_DEFERRED)
            cio__deferred_call(r, true);
    }
}

void cio__loop_close(struct cio__loop *loop)
{
    cio__overflow_uninstall(loop);
    drop_ready(loop);
    cio__handles_free(loop);
    cio__futures_free(loop);
    cio__tasks_free(loop);
    cio__timers_fini(&loop->timers);
    cio__io_fini(loop);
    close(loop->wake_fd);
    loop->ops->fini(loop);
    cio__stack_pool_fini(&loop->stacks);
    if (cio__tls_loop == loop)
        cio__tls_loop = NULL;
    free(loop);
}

static void cancel_deadlocked(struct cio__task *t, void *woke)
{
    if (t->state == CIO__T_WAITING && cio__cancel_task(t, CIO_EDEADLOCK))
        *(bool *)woke = true;
}

/* Nothing is ready, no timer is set, no fd is watched and no other thread
 * holds a reference: no task can ever run again. Report it, and cancel
 * every waiting task so they unwind. Returns CIO_EDEADLOCK if even that
 * woke nobody (every task waits inside a shield). */
static int deadlock(struct cio__loop *loop)
{
    if (!loop->deadlocked) {
        cio__report(loop, "deadlock: every task is waiting and nothing can wake them");
        cio_dump_tasks(loop->report);
    }
    loop->deadlocked = true;
    bool woke = false;
    cio__tasks_each(loop, cancel_deadlocked, &woke);
    return woke ? 0 : CIO_EDEADLOCK;
}

/* When to wake for a timer due at `deadline`: the first multiple of the
 * timer slack at or after it, so that one wake-up fires every timer due
 * in between (real clock only: virtual time jumps to the deadline). */
static int64_t wake_time(const struct cio__loop *loop, int64_t deadline)
{
    int64_t g = loop->timer_slack;
    if (g <= 1 || loop->virtual_clock || deadline <= loop->now || deadline > INT64_MAX - g)
        return deadline;
    return (deadline + g - 1) / g * g;
}

/* A deferred record (a done callback) run while slow callbacks are
 * watched: named in a warning, as callback handles are, if it kept the
 * loop busy too long. */
static __attribute__((noinline)) void run_deferred_timed(struct cio__loop *loop,
                                                         struct cio__runnable *r)
{
    int64_t start = cio__mono_ns();
    cio__deferred_call(r, false);
    int64_t took = cio__mono_ns() - start;
    if (took > loop->slow_ns)
        cio__report(loop, "a done callback kept the loop busy for %.3f s", (double)took / 1e9);
}

void cio__run(struct cio__loop *loop, struct cio__runnable *r)
{
    if (r->kind == CIO__RUN_TASK)
        cio__task_resume(loop, cio__task_of(r));
    else if (r->kind == CIO__RUN_HANDLE)
        cio__handle_run(loop, r);
    else if (cio__likely(!loop->slow_ns))
        cio__deferred_call(r, false);
    else
        run_deferred_timed(loop, r);
}

/* Fires the due timers, then runs one batch of ready work. */
static void run_due(struct cio__loop *loop)
{
    /* At most a batch of due timers: when thousands fall due at once (the
     * loop was busy), firing them all before running any would leave the
     * first ones' handles evicted from the cache by the last ones' by the
     * time they run. The rest fire in the next iterations, which do not
     * wait: the earliest deadline has passed. */
    struct cio__timer *tm;
    for (unsigned n = CIO__DISPATCH_BATCH;
         n && (tm = cio__timers_pop_due(&loop->timers, loop->now)); n--)
        tm->fire(tm);

    loop->budget = CIO__DISPATCH_BATCH;
    while (loop->budget) {
        struct cio__runnable *r = cio__readyq_pop(loop);
        if (!r)
            break;
        loop->budget--;
        cio__ready_prefetch(loop);
        cio__run(loop, r);
    }
}

int cio__loop_iterate(struct cio__loop *loop)
{
    /* The earliest deadline, asked for once, and only when nothing is
     * ready: it may sort a bucket of the timer wheel. */
    bool ready = loop->ready.head != NULL;
    int64_t next = !ready && loop->timers.count ? cio__timers_next(&loop->timers) : INT64_MAX;
    if (!loop->virtual_clock && (ready || next <= loop->now)) {
        /* Work is ready or a timer is overdue (a loop that is behind fires
         * them a batch at a time), so a poll could not wait anyway: skip
         * it until the poll interval has passed. (The virtual clock polls
         * every iteration: its time must not depend on the machine's
         * speed.) */
        int64_t t = cio__mono_ns();
        if (t - loop->polled_at < CIO__POLL_INTERVAL) {
            loop->now = t;
            run_due(loop);
            return 0;
        }
    }

    int64_t timeout = -1;
    if (ready) {
        timeout = 0;
    } else if (loop->timers.count) {
        timeout = wake_time(loop, next) - loop->now;
        if (timeout < 0)
            timeout = 0;
    }
    if (timeout != 0 && loop->io_watchers == 0 && loop->external_refs == 0) {
        if (timeout < 0)
            return deadlock(loop);
        if (loop->virtual_clock) {
            /* Only timers can wake anything: jump to the next deadline. */
            loop->now += timeout;
            timeout = 0;
        }
    }
    if (loop->virtual_clock && timeout != 0)
        loop->real_mark = cio__mono_ns();
    if (loop->poll_count) /* this thread alone writes it: no locked add */
        atomic_store_explicit(loop->poll_count,
                              atomic_load_explicit(loop->poll_count, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    int rc = loop->ops->poll(loop, timeout);
    if (rc < 0)
        cio__report(loop, "polling for I/O failed: %s", cio_strerror(rc));
    if (loop->virtual_clock) {
        /* Virtual time moves by jumps, by the real time spent waiting for
         * I/O, and by a fixed quantum per iteration while tasks stay ready
         * (one that spins on cio_yield() must still see time pass), never
         * by the CPU time tasks take: code that sleeps sees exactly the
         * times it asked for, however slow or loaded the machine. */
        if (timeout != 0)
            loop->now += cio__mono_ns() - loop->real_mark;
        else if (loop->ready.head)
            loop->now += CIO__VIRTUAL_QUANTUM;
    } else {
        loop->now = cio__mono_ns();
    }
    loop->polled_at = loop->now;
    run_due(loop);
    return 0;
}

const char *cio_backend_name(void)
{
    struct cio__loop *loop = cio__tls_loop;
    return loop ? loop->ops->name : NULL;
}

double cio_time(void)
{
    struct cio__loop *loop = cio__tls_loop;
    return loop ? (double)loop->now / 1e9 : 0.0;
}

int64_t cio_time_ns(void)
{
    struct cio__loop *loop = cio__tls_loop;
    return loop ? loop->now : 0;
}
