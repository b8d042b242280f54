/* cio_run(): the whole life of a loop, and the reports made at its end. */
#include <errno.h>

#include "task/task.h"
#include "threads/threads.h"

static const char *state_name(const struct cio__task *t)
{
    switch (t->state) {
    case CIO__T_READY:
        return t->started ? "ready" : "not started";
    case CIO__T_RUNNING:
        return "running";
    case CIO__T_WAITING:
        return "waiting";
    default:
        return "done";
    }
}

static void dump_task(struct cio__task *t, void *arg)
{
    FILE *out = arg;
    char label[CIO__TASK_LABEL];
    fprintf(out, "  %-20s %s", cio__task_label(t, label), state_name(t));
    if (t->state == CIO__T_WAITING)
        fprintf(out, " in %s", t->wait_what ? t->wait_what : "?");
    if (t->cancelled)
        fputs(" [cancelled]", out);
    if (t->detached)
        fputs(" [detached]", out);
    if (t->state == CIO__T_DONE)
        fprintf(out, " result %d", t->result);
    fputc('\n', out);
}

void cio_dump_tasks(FILE *out)
{
    struct cio__loop *loop = cio__tls_loop;
    if (!loop)
        return;
    if (!out)
        out = stderr;
    fprintf(out, "cio: %ld task(s) on this loop\n", loop->ntasks);
    cio__tasks_each(loop, dump_task, out);
    fflush(out);
}

static void note_running(struct cio__task *t, void *any)
{
    if (t->state != CIO__T_DONE)
        *(bool *)any = true;
}

/* Called once per loop iteration at the end: no order needed. */
static bool all_done(struct cio__loop *loop)
{
    bool any = false;
    cio__tasks_each_unordered(loop, note_running, &any);
    return !any;
}

static void cancel_leftover(struct cio__task *t, void *arg)
{
    struct cio__loop *loop = arg;
    if (t->state == CIO__T_DONE)
        return;
    char label[CIO__TASK_LABEL];
    cio__report(loop, "task '%s' was still %s when the main task returned: cancelling it%s",
                cio__task_label(t, label), state_name(t), t->detached ? " (detached)" : "");
    cio__cancel_task(t, -ECANCELED);
}

/* Main has returned: tasks still alive broke structured concurrency. Name
 * them, cancel them, and let them unwind through their cleanup. */
static void cancel_leftovers(struct cio__loop *loop)
{
    cio__tasks_each(loop, cancel_leftover, loop);
    while (!all_done(loop))
        if (cio__loop_iterate(loop) == CIO_EDEADLOCK)
            return;
}

/* Callbacks already scheduled when the last task ended (the done callbacks
 * of the tasks cancelled above, which a batch may leave queued) run once:
 * dropped, they would leak what they were to free. What they schedule is
 * dropped, as asyncio's close() drops its ready queue. */
static void run_ready_once(struct cio__loop *loop)
{
    size_t n = 0;
    for (struct cio__runnable *r = loop->ready.head; r; r = r->next)
        n++;
    while (n--)
        cio__run(loop, cio__readyq_pop(loop));
}

static void report_one_unretrieved(struct cio__task *t, void *arg)
{
    struct cio__loop *loop = arg;
    char label[CIO__TASK_LABEL];
    if (t != loop->main_task && t->state == CIO__T_DONE && !t->retrieved && t->result < 0 &&
        t->result != -ECANCELED)
        cio__report(loop, "task '%s' failed and was never joined: %s (%s)",
                    cio__task_label(t, label), cio_strerror(t->result), cio_err_name(t->result));
}

static void report_unretrieved(struct cio__loop *loop)
{
    cio__tasks_each(loop, report_one_unretrieved, loop);
}

int cio_run_with(const cio_run_options *opts, cio_task_fn main, void *arg)
{
    if (!main)
        return -EINVAL;
    if (cio__tls_loop)
        return -EBUSY;
    if (opts && ((opts->stack_size && opts->stack_size < CIO_MIN_STACK_SIZE) ||
                 opts->timer_slack != opts->timer_slack))
        return -EINVAL;
    struct cio__loop *loop;
    int rc = cio__loop_open(&loop, opts);
    if (rc < 0)
        return rc;
    cio_task m = cio_spawn_with(&(cio_spawn_options){.name = "main"}, main, arg);
    if (!m.ptr_) {
        cio__loop_close(loop);
        return cio_spawn_error(m);
    }
    struct cio__task *mt = m.ptr_;
    loop->main_task = mt;
    cio__shutdown_install(loop, opts);
    int result = 0;
    while (mt->state != CIO__T_DONE) {
        if (cio__loop_iterate(loop) == CIO_EDEADLOCK) {
            result = CIO_EDEADLOCK;
            break;
        }
    }
    if (mt->state == CIO__T_DONE)
        result = mt->result;
    cancel_leftovers(loop);
    run_ready_once(loop);
    report_unretrieved(loop);
    cio__threads_fini(loop);
    cio__loop_close(loop);
    return result;
}

int cio_run(cio_task_fn main, void *arg)
{
    return cio_run_with(NULL, main, arg);
}
