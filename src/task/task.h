/* Tasks' private state and the primitives every suspending call is built
 * from: cio__suspend() parks the running task, cio__wake() makes a parked
 * task ready with a code that its suspend returns. */
#ifndef CIO_TASK_TASK_H
#define CIO_TASK_TASK_H

#include <errno.h>

#include "cio/scope.h"
#include "cio/task.h"
#include "loop/loop.h"

enum cio__task_state {
    CIO__T_READY,   /* in the ready queue */
    CIO__T_RUNNING, /* the loop's current task */
    CIO__T_WAITING, /* parked in cio__suspend() */
    CIO__T_DONE,    /* returned; result is set */
};

/* A task's bookkeeping is its own small allocation (recycled through the
 * loop's free list); its stack is taken from the pool only when it first
 * runs and goes back the moment it returns, before anyone joins it. So a
 * task that has not started or has ended holds no stack, and a burst of
 * short tasks run one after another reuses one warm stack.
 *
 * The record is two cache lines (task.c checks): a thousand tasks taking
 * turns, or a hundred thousand gathered, stream through their records, and
 * every line a task touches is one more miss. So it keeps nothing that
 * can live elsewhere: its loop is the thread's (cio__tls_loop), the loop
 * finds its tasks by walking the records (cio__tasks_each), a name lives
 * in a table beside them (names.c), and fields that are never needed at
 * the same time share their bytes (the unions below). What it will run
 * waits in the first line, not the second: its first run reads only the
 * first. */
struct cio__task {
    /* First line: what switching, waking, cancelling and checking a handle
     * read. Before the task starts, what it will run sits in the bytes of
     * its context and its stack pointer, which have no value yet
     * (give_stack() moves it onto the new stack). */
    union {
        cio__ctx ctx;
        cio_task_fn start_fn;
    };
    struct cio__runnable run;
    uint8_t state;
    bool started : 1;       /* given a stack (a switch tests this) */
    bool cancelled : 1;     /* level-triggered: stays set */
    bool nointr : 1;        /* in an uninterruptible wait: cancel and timeouts wait */
    bool detached : 1;      /* nobody will join it */
    bool retrieved : 1;     /* someone read the result */
    bool canaried : 1;      /* its stack has a canary below (no guard page): a
                             * switch checks it, and reads the stack's header
                             * only then */
    bool timer_timeout : 1; /* its timer wakes it with -ETIMEDOUT (else 0) */
    bool named : 1;         /* has an entry in the loop's names */
    uint32_t stack_kib;     /* usable stack it asked for, KiB */
    union {
        /* While it waits: what for, for dumps. */
        const char *wait_what;
        /* Once woken: what its cio__suspend() returns; once ended: its
         * result. */
        struct {
            int wake_code;
            int result;
        };
    };
    uint64_t id;              /* handle check; 0 once released */
    struct cio_scope *scopes; /* innermost first */
    union {
        struct cio__stack *stack; /* from its start (NULL once it has ended) */
        void *start_arg;          /* until then (started tells which) */
    };
    /* Second: timers and the end. */
    struct cio__timer timer; /* sleeps and the timeouts of waits */
    struct cio__task *joiner;
    struct cio__context *context;  /* context variables; NULL: none (context.c) */
    struct cio__list done_waiters; /* struct cio__waiter, woken at the end */
#ifdef CIO__ASAN
    void *asan_fake_stack;
#endif
#ifdef CIO__TSAN
    void *tsan_fiber; /* ThreadSanitizer's view of the task's stack */
#endif
};

/* Task names (names.c), kept beside the records: NULL if t has none. */
const char *cio__task_name_get(const struct cio__loop *loop, const struct cio__task *t);
/* Gives t the name, which the table then owns: 0 or -ENOMEM. */
int cio__task_name_set(struct cio__loop *loop, const struct cio__task *t, char *name);
/* Forgets t's name and frees it. */
void cio__task_name_drop(struct cio__loop *loop, const struct cio__task *t);
/* Frees every name, at the loop's close. */
void cio__task_names_free(struct cio__loop *loop);

/* One task waiting for something; lives on the waiting task's stack. */
struct cio__waiter {
    struct cio__list link;
    struct cio__task *task;
    /* Optional, in a task's done_waiters only: called (from the ending
     * task, which may not suspend) instead of waking `task`, so one waiter
     * can watch many tasks and learn which ended (toolkit: gather, wait,
     * task groups). */
    void (*notify)(struct cio__waiter *w, struct cio__task *ended);
};

static inline struct cio__task *cio__task_of(struct cio__runnable *r)
{
    return cio__container_of(r, struct cio__task, run);
}

/* Asks the cache for what switching to the next ready item will read
 * first, if it is a task that has run: the registers it saved on its
 * stack. Called as the item before it is taken: when many tasks take
 * turns (a million cancelled sleepers reaped), each one's stack is cold,
 * on a page the TLB has long lost, and its miss then overlaps the work of
 * the item before instead of stalling the switch. */
static inline void cio__ready_prefetch(const struct cio__loop *loop)
{
    struct cio__runnable *r = loop->ready.head;
    if (r && r->kind == CIO__RUN_TASK) {
        const struct cio__task *t = cio__task_of(r);
        if (t->started)
            __builtin_prefetch(cio__ctx_first_read(&t->ctx));
    }
}

/* The running task, or NULL in a callback or outside a loop. */
static inline struct cio__task *cio__self(void)
{
    struct cio__loop *loop = cio__tls_loop;
    return loop ? loop->current : NULL;
}

/* The error a suspending call made now returns, or 0: the innermost expired
 * timeout scope not hidden behind a shield gives -ETIMEDOUT, otherwise a
 * cancellation not hidden behind a shield gives -ECANCELED. */
static inline int cio__interrupted(const struct cio__task *t)
{
    if (cio__likely(!t->scopes))
        return t->cancelled ? -ECANCELED : 0;
    for (const struct cio_scope *s = t->scopes; s; s = s->parent_) {
        if (s->kind_ == 2)
            return 0;
        if (s->expired_)
            return -ETIMEDOUT;
    }
    return t->cancelled ? -ECANCELED : 0;
}

/* Checks that a suspending call may proceed: sets *tp to the running task
 * and returns 0, or returns CIO_ENOLOOP, CIO_ENOTTASK, -ECANCELED or
 * -ETIMEDOUT. */
static inline int cio__enter(struct cio__task **tp)
{
    struct cio__task *t = cio__self();
    if (cio__unlikely(!t))
        return cio__tls_loop ? CIO_ENOTTASK : CIO_ENOLOOP;
    *tp = t;
    return cio__interrupted(t);
}

/* Parks the running task t until cio__wake(); returns the wake code.
 * `what` names the wait in task dumps. */
int cio__suspend(struct cio__task *t, const char *what);

/* As cio__suspend(), but cancellation and timeouts do not interrupt it. */
int cio__suspend_nointr(struct cio__task *t, const char *what);

/* Makes a waiting task ready; its cio__suspend() returns code. Returns
 * false, doing nothing, if t is not waiting (already woken): a waker that
 * hands over something (a lock, an item) must then offer it to the next
 * waiter, so a wake-up is never lost. */
static inline bool cio__wake(struct cio__task *t, int code)
{
    if (t->state != CIO__T_WAITING)
        return false;
    t->state = CIO__T_READY;
    t->wake_code = code;
    cio__readyq_push(cio__tls_loop, &t->run);
    return true;
}

/* Requests cancellation of t; if it waits interruptibly, wakes it with
 * `code` (-ECANCELED, or CIO_EDEADLOCK when the loop found a deadlock).
 * Returns whether t was woken. */
bool cio__cancel_task(struct cio__task *t, int code);

/* Resumes a ready task from the scheduler. */
void cio__task_resume(struct cio__loop *loop, struct cio__task *t);

/* Validates a handle: the task, or NULL if the handle is stale. A handle
 * of another loop (another thread's, or one since closed, whose records are
 * freed) is refused before its record is read: the record must lie in this
 * loop's slabs, among the records it has handed out. Task ids are unique in the process (the loop's
 * serial number is in their high bits), so a record reused by a later task, or a later loop's
 * record at the same address, does not match an old handle. */
static inline struct cio__task *cio__task_from(cio_task h)
{
    struct cio__task *t = h.ptr_;
    struct cio__loop *loop = cio__tls_loop;
    if (!t || !loop || !cio__slab_issued(&loop->task_slab, t) || t->id != h.id_)
        return NULL;
    return t;
}

/* What a call on a handle cio__task_from() refused returns: CIO_ENOLOOP
 * for a real handle on a thread with no loop (task.h's promise), else
 * CIO_EBADTASK (a null handle never names a task). */
static inline int cio__bad_handle(cio_task h)
{
    return h.ptr_ && !cio__tls_loop ? CIO_ENOLOOP : CIO_EBADTASK;
}

/* At the loop's close: frees the done callbacks (done.c) of a task that
 * never ended. */
void cio__task_done_callbacks_free(struct cio__task *t);

/* Frees a finished task whose result is no longer wanted. */
void cio__task_release(struct cio__task *t);

/* Room for a task's default name: "task-" and a 40-bit serial. */
#define CIO__TASK_LABEL 24

/* The task's name for reports and dumps: the one it was given, or "task-N"
 * written into buf. Allocates nothing and calls nothing unsafe in a signal
 * handler (the stack overflow handler names the task). */
const char *cio__task_label(const struct cio__task *t, char buf[CIO__TASK_LABEL]);

/* Called when a scope's deadline passes (scope.c). */
void cio__scope_expire(struct cio_scope *s);

/* Stops the timers of scopes a task left entered when it ended. */
void cio__scopes_abandon(struct cio__task *t);

/* Context variables (context.c): a new reference to c (NULL stays NULL),
 * and the release of one (from any thread). */
struct cio__context *cio__context_share(struct cio__context *c);
void cio__context_drop(struct cio__context *c);
/* Makes c the context cio_context_get() reads on this thread outside a
 * task (an executor job's, a callback's); returns the one it replaces. */
struct cio__context *cio__context_enter(struct cio__context *c);
/* The context code on this thread runs in now: its task's, else the one
 * entered (NULL: none). Not a new reference. */
struct cio__context *cio__context_current(void);

/* Stack overflow reporting (overflow.c). */
void cio__overflow_install(struct cio__loop *loop);
void cio__overflow_uninstall(struct cio__loop *loop);
void cio__overflow_canary(struct cio__task *t) __attribute__((noreturn));

#endif
