/* The loop's private state, shared by the loop and task layers. */
#ifndef CIO_LOOP_LOOP_H
#define CIO_LOOP_LOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "arch/switch.h"
#include "backend/backend.h"
#include "base/clock.h"
#include "base/compiler.h"
#include "base/timers.h"
#include "base/list.h"
#include "base/slab.h"
#include "base/stack.h"
#include "cio/error.h"
#include "cio/loop.h"

/* Something the loop can run next: a task to resume, a callback handle, or
 * a deferred record of cio's own. The ready queue is a singly-linked FIFO of
 * these, embedded in their owners, so making something ready never
 * allocates. */
enum { CIO__RUN_TASK, CIO__RUN_HANDLE, CIO__RUN_DEFERRED };

struct cio__runnable {
    struct cio__runnable *next;
    uint8_t kind;
    uint8_t refs; /* a callback handle's references (handle.c); not a task's */
};

/* Work cio's own code queues for the next turn without a handle (done
 * callbacks): embedded in a record that owns memory, so the loop always
 * calls fn once: with dropped false when it runs, or with dropped true if
 * the loop closes first, for fn to free what the record owns without
 * running anything of the user's (asyncio's close() drops its ready
 * queue). */
struct cio__deferred {
    struct cio__runnable run;
    void (*fn)(struct cio__deferred *d, bool dropped);
};

struct cio__readyq {
    struct cio__runnable *head, **tail;
};

/* How many tasks and callbacks one iteration runs before the loop reads the
 * clock and fires due timers again, when work keeps being ready (tasks that
 * keep yielding). */
#define CIO__DISPATCH_BATCH 64

/* While work stays ready or timers overdue, I/O is polled by the first
 * iteration that starts at least this long after the previous poll: I/O
 * waits at most this plus one batch, and a poll that finds nothing (one
 * epoll_pwait2, hundreds of nanoseconds in a VM) is paid once per many
 * batches of switches or timers instead of once per batch. An idle loop
 * polls, and sleeps in the poll, at once. */
#define CIO__POLL_INTERVAL 20000 /* ns */

/* Virtual clock: how far time moves in an iteration that polls without
 * waiting because tasks are still ready. */
#define CIO__VIRTUAL_QUANTUM 1000

struct cio__task;

/* A task id is (loop serial << CIO__TASK_SERIAL_BITS) + the task's number
 * in its loop: unique in the process, however many loops come and go, for
 * a loop's first 2^40 tasks (past them, the number carries into the serial
 * and ids may repeat another loop's: harmless, since a handle is checked
 * against its own loop's records first; names number from 0 again). */
#define CIO__TASK_SERIAL_BITS 40

/* What watches one fd: at most one reader and one writer, each either a
 * callback or a suspended task. `reg` is what the backend watches, which
 * may lag behind what is wanted (see io.c). */
struct cio__fdw {
    cio_callback rcb, wcb;
    void *rarg, *warg;
    struct cio__context *rctx, *wctx; /* the callbacks' contexts (context.c) */
    struct cio__task *rtask, *wtask;
    uint8_t reg;
};

/* Task names (task/names.c). */
struct cio__task_names {
    struct cio__task_name *slots; /* open addressing; NULL until the first */
    size_t mask, count;
};

struct cio__loop {
    /* The scheduler: runs on the thread's own stack. */
    cio__ctx sched_ctx;
#ifdef CIO__TSAN
    void *sched_tsan_fiber; /* the thread's own fiber, where the scheduler runs */
#endif
    struct cio__task *current; /* NULL while the scheduler runs */
    struct cio__readyq ready;
    uint32_t budget; /* dispatches left before the next poll */

    /* Time. */
    int64_t now;
    int64_t polled_at;   /* the clock when I/O was last polled */
    int64_t timer_slack; /* ns; waits for a timer end on its multiples */
    bool virtual_clock;
    int64_t real_mark; /* virtual: the monotonic clock when a real wait began */
    /* Bumped at each poll when set: the signal relay's way to tell a loop
     * that no longer polls (src/threads/sigrelay.c). */
    atomic_uint_least64_t *poll_count;
    struct cio__timers timers;

    /* I/O. */
    const struct cio__backend_ops *ops;
    void *backend;
    struct cio__fdw *fds;
    int nfds;
    long io_watchers; /* readers, writers and waiting tasks */
    int wake_fd;      /* eventfd: other threads wake the loop with it */

    /* Tasks. */
    struct cio__stack_pool stacks;
    size_t default_stack;
    long ntasks;                 /* tasks not yet released (their records' id is not 0) */
    uint64_t next_id;            /* the loop's serial in the high bits, see task.h */
    struct cio__task *graveyard; /* ended task whose stack awaits release */
    struct cio__slab task_slab;  /* task records */
    struct cio__task *main_task;
    struct cio__task_names names;
    long external_refs;           /* things outside the loop that may wake it */
    struct cio__threads *threads; /* thread-safe calls, signals (threads/) */

    /* Callback handles. */
    struct cio__slab handle_slab;
    /* Freed futures kept for reuse: a hand-off through a future then costs
     * no malloc. */
    struct cio_future *free_futures;
    long n_free_futures;

    /* Reports and diagnostics. */
    FILE *report;
    int64_t slow_ns;
    int64_t slice_start;
    void *sched_stack_lo;
    size_t sched_stack_size;
    bool deadlocked;
};

/* initial-exec: the loop is read on every suspending call, and the default
 * model for a shared library would make that a call to __tls_get_addr. */
extern __thread struct cio__loop *cio__tls_loop __attribute__((tls_model("initial-exec")));

static inline struct cio__loop *cio__loop_get(void)
{
    return cio__tls_loop;
}

static inline void cio__readyq_push(struct cio__loop *loop, struct cio__runnable *r)
{
    r->next = NULL;
    *loop->ready.tail = r;
    loop->ready.tail = &r->next;
}

static inline struct cio__runnable *cio__readyq_pop(struct cio__loop *loop)
{
    struct cio__runnable *r = loop->ready.head;
    if (r) {
        loop->ready.head = r->next;
        if (!r->next)
            loop->ready.tail = &loop->ready.head;
    }
    return r;
}

/* Runs, or tells it was dropped, the deferred record r is part of. */
static inline void cio__deferred_call(struct cio__runnable *r, bool dropped)
{
    struct cio__deferred *d = cio__container_of(r, struct cio__deferred, run);
    d->fn(d, dropped);
}

/* Queues d to run on the next turn. d->fn must be set. */
static inline void cio__defer(struct cio__loop *loop, struct cio__deferred *d)
{
    d->run.kind = CIO__RUN_DEFERRED;
    cio__readyq_push(loop, &d->run);
}

/* Makes the loop, sets it as this thread's. */
int cio__loop_open(struct cio__loop **out, const cio_run_options *opts);
/* Releases everything the loop owns; every task must have been released. */
void cio__loop_close(struct cio__loop *loop);
/* Runs one iteration: poll I/O, fire due timers, run a batch of ready work.
 * Returns 0, or CIO_EDEADLOCK when nothing can ever become ready. */
int cio__loop_iterate(struct cio__loop *loop);
/* Runs r, popped from the ready queue: resumes a task or runs a handle. */
void cio__run(struct cio__loop *loop, struct cio__runnable *r);

/* Schedules an internal timer at t->deadline. Returns 0 or -ENOMEM. */
static inline int cio__timer_start(struct cio__loop *loop, struct cio__timer *t)
{
    return cio__timers_add(&loop->timers, t);
}

/* Unschedules t if it is scheduled. Most callers' timers are not (a task
 * ending, a wait that completed before its timeout): that case is a test
 * here, not a call. */
static inline void cio__timer_stop(struct cio__loop *loop, struct cio__timer *t)
{
    if (cio__timer_scheduled(t))
        cio__timers_remove(&loop->timers, t);
}

/* Runs a handle popped from the ready queue (handle.c). */
void cio__handle_run(struct cio__loop *loop, struct cio__runnable *r);
void cio__handles_init(struct cio__loop *loop);
/* At close: drops a handle still in the ready queue. */
void cio__handle_drop(struct cio__loop *loop, struct cio__runnable *r);
void cio__handles_free(struct cio__loop *loop);
/* Frees the futures kept for reuse (future.c). */
void cio__futures_free(struct cio__loop *loop);
/* Task records (task.c): made ready when the loop opens, and all freed,
 * released or not, when it closes. */
void cio__tasks_init(struct cio__loop *loop);
void cio__tasks_free(struct cio__loop *loop);
/* Calls fn on every task not yet released, in the order they were spawned
 * (out of memory to sort them, in the order of their records). fn may
 * cancel or wake tasks, not spawn or release them. */
void cio__tasks_each(struct cio__loop *loop, void (*fn)(struct cio__task *t, void *arg), void *arg);
/* As cio__tasks_each(), in the order of their records, allocating nothing. */
void cio__tasks_each_unordered(struct cio__loop *loop, void (*fn)(struct cio__task *t, void *arg),
                               void *arg);

/* fd watching (io.c). */
int cio__io_watch_task(struct cio__loop *loop, int fd, unsigned events, struct cio__task *t);
void cio__io_unwatch_task(struct cio__loop *loop, int fd, struct cio__task *t);
/* Removes fd's reader callback if it is cb(arg), as a task's interest is
 * removed: the backend keeps watching fd (the owner's next wait on it
 * usually wants it again: no epoll_ctl), and an event nobody wants drops
 * the interest then. Returns whether it was there. For owners that keep a
 * socket watched between uses (the pg pool's idle connections). */
bool cio__io_forget_reader(struct cio__loop *loop, int fd, cio_callback cb, void *arg);
void cio__io_fini(struct cio__loop *loop);

/* Converts an API time in seconds to loop nanoseconds, saturating. */
int64_t cio__abs_to_ns(double when);

/* Writes a report line, prefixed "cio: ". */
void cio__report(struct cio__loop *loop, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
