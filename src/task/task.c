/* Tasks: spawning, switching, parking and waking, joining, cancelling. */
#include "task/task.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef CIO__ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef CIO__TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* ---- switching ---------------------------------------------------------- */

/* Sanitizers must see every switch (their fiber calls), so they keep the
 * plain switch for all of them. */
#if defined(CIO__CTX_PAIRED) && !defined(CIO__ASAN) && !defined(CIO__TSAN)
#define SWITCH_PAIRED 1
#endif

/* Two cache lines (see task.h). At 232 bytes (records 240 bytes apart,
 * each over four or five lines), a gather of 100,000 tasks took 10-30%
 * longer than at 192; at 192, a task taking turns with a thousand others
 * missed the cache on a third line. The sanitizers' fields and the
 * ucontext switch's saved context come on top. */
#if !defined(CIO__ASAN) && !defined(CIO__TSAN) && !defined(CIO_SWITCH_UCONTEXT) &&                 \
    UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(struct cio__task) == 128, "a task record is two cache lines");
#endif

static void task_free(struct cio__loop *loop, struct cio__task *t)
{
#ifdef CIO__ASAN
    /* A spawn that reuses this record will not write its second line: the
     * task must have left it as a new one needs it. Checked in the
     * sanitizer build, which runs every test; a miss here is cio's bug. */
    if (t->timer.where || t->joiner || t->context || !cio__list_empty(&t->done_waiters)) {
        fputs("cio: internal error: a task record given back with its second line in use\n",
              stderr);
        __builtin_trap();
    }
#endif
    t->id = 0; /* what tells a record given back from a task's (tasks_each) */
    cio__slab_put(&loop->task_slab, t);
}

/* What a task asks of the stack pool: its usable stack and room for what
 * give_stack() puts on top (up to 63 bytes left below the header's line,
 * the start fields, the first frame). */
static size_t stack_request(const struct cio__task *t)
{
    return (size_t)t->stack_kib * 1024 + 128;
}

/* Returns the stack of the task that just ended (we have left it now) to
 * the pool, and the task too if nobody wants its result. */
static __attribute__((noinline)) void reap(struct cio__loop *loop)
{
    struct cio__task *t = loop->graveyard;
    loop->graveyard = NULL;
    cio__stack_put(&loop->stacks, t->stack, stack_request(t), t->canaried);
    t->stack = NULL;
#ifdef CIO__TSAN
    __tsan_destroy_fiber(t->tsan_fiber);
    t->tsan_fiber = NULL;
#endif
    if (t->id == 0)
        task_free(loop, t);
}

static void task_entry(void *arg);
static void task_end(struct cio__task *t, int result);

/* What a task runs, at the top of its stack from when it is given one. */
struct task_start {
    cio_task_fn fn;
    void *arg;
};

/* Below the cache line of the stack's header, which the task then never
 * touches: the pool keeps its free stacks without reading or writing their
 * headers either (stack.h). */
static struct task_start *start_of(const struct cio__stack *s)
{
    return (struct task_start *)((uintptr_t)s & ~(uintptr_t)63) - 1;
}

/* The canary below t's stack, which t->canaried says it has: found from
 * the stack's address (stack.h), not read from its header, a line the task
 * never touches otherwise. */
static inline const uint64_t *canary_of(const struct cio__loop *loop, const struct cio__task *t)
{
    return cio__stack_canary_at(&loop->stacks, t->stack, stack_request(t));
}

/* The canary that t's next switch out checks lies on the page below its
 * stack, which nothing else touches: asked for as t resumes, its miss
 * overlaps t's run. */
static inline void prefetch_canary(const struct cio__loop *loop, const struct cio__task *t)
{
    if (t->canaried)
        __builtin_prefetch(canary_of(loop, t));
}

/* Gives a task about to run for the first time its stack. Without one (out
 * of memory), or if it was cancelled before it ever ran, it ends here, on
 * the caller's stack, without running: its result says why. */
static bool give_stack(struct cio__loop *loop, struct cio__task *t)
{
    bool canaried = false;
    struct cio__stack *s =
        t->cancelled ? NULL : cio__stack_get(&loop->stacks, stack_request(t), &canaried);
    if (cio__unlikely(!s)) {
        task_end(t, t->cancelled ? -ECANCELED : -ENOMEM);
        return false;
    }
#ifdef CIO__ASAN
    /* A reused stack still carries the redzones of the frames its last
     * task never returned from (task_entry's, at least). */
    __asan_unpoison_memory_region(s->lo, (size_t)((char *)s - s->lo));
#endif
    /* What the task will run moves from the record, where it shared the
     * bytes of the context and the stack pointer, to the top of the stack,
     * next to the first frame: task_entry() reads it from a line the
     * switch has just brought in, not from a record line long evicted. */
    struct task_start *start = start_of(s);
    *start = (struct task_start){t->start_fn, t->start_arg};
    t->stack = s;
    t->started = true;
    t->canaried = canaried;
#ifdef CIO__ASAN
    /* Checked against the header in the sanitizer build, which runs every
     * test: a miss here is cio's bug. */
    if (canaried && canary_of(loop, t) != s->canary) {
        fputs("cio: internal error: a stack's canary is not where its address says\n", stderr);
        __builtin_trap();
    }
#endif
    cio__ctx_make(&t->ctx, CIO__CTX_USES_LO ? s->lo : NULL, start, task_entry, t);
#ifdef CIO__TSAN
    /* Without a fiber of its own, ThreadSanitizer would see every task's
     * calls and returns on one shadow stack, which overflows. */
    t->tsan_fiber = __tsan_create_fiber(0);
#endif
    return true;
}

static __attribute__((noinline, cold)) void warn_slow(struct cio__loop *loop,
                                                      struct cio__task *from)
{
    int64_t now = cio__mono_ns();
    char label[CIO__TASK_LABEL];
    if (from && now - loop->slice_start > loop->slow_ns)
        cio__report(loop, "task '%s' kept the loop busy for %.3f s without suspending",
                    cio__task_label(from, label), (double)(now - loop->slice_start) / 1e9);
    loop->slice_start = now;
}

/* Switches from `from` (NULL: the scheduler) to `to` (NULL: the scheduler),
 * which has a stack, and, once something switches back, finishes the switch
 * on this side. Nothing is kept across the switch itself (the loop is read
 * again from the thread's variable): cio__ctx_switch() saves the
 * callee-saved registers anyway, and a value kept would make the callers
 * save them a second time. */
static inline void do_switch(struct cio__loop *loop, struct cio__task *from, struct cio__task *to)
{
    cio__ctx *from_ctx = from ? &from->ctx : &loop->sched_ctx;
    cio__ctx *to_ctx = to ? &to->ctx : &loop->sched_ctx;
    loop->current = to;
    if (to) {
        to->state = CIO__T_RUNNING;
        prefetch_canary(loop, to);
    }
#ifdef CIO__ASAN
    /* A task that has ended passes NULL, so ASan frees its fake stack. */
    void **fake = !from ? NULL : from->state == CIO__T_DONE ? NULL : &from->asan_fake_stack;
    void *sched_fake = NULL;
    if (!from)
        fake = &sched_fake;
    if (to)
        __sanitizer_start_switch_fiber(fake, to->stack->lo,
                                       (size_t)((char *)to->stack - to->stack->lo));
    else
        __sanitizer_start_switch_fiber(fake, loop->sched_stack_lo, loop->sched_stack_size);
    cio__ctx_switch(from_ctx, to_ctx);
    __sanitizer_finish_switch_fiber(from ? from->asan_fake_stack : sched_fake, NULL, NULL);
#else
#ifdef CIO__TSAN
    if (!loop->sched_tsan_fiber)
        loop->sched_tsan_fiber = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(to ? to->tsan_fiber : loop->sched_tsan_fiber, 0);
#endif
    cio__ctx_switch(from_ctx, to_ctx);
#endif
    struct cio__loop *back = cio__tls_loop;
    if (back->graveyard)
        reap(back);
}

/* What switch_to() does first when `to` runs for the first time (it needs
 * a stack) or slow tasks are watched. Returns the task to switch to: `to`,
 * or NULL (the scheduler) if `to` could not start. */
static __attribute__((noinline)) struct cio__task *
switch_prepare(struct cio__loop *loop, struct cio__task *from, struct cio__task *to)
{
    if (to && !to->started && !give_stack(loop, to))
        to = NULL;
    if (loop->slow_ns)
        warn_slow(loop, from);
    return to;
}

/* The context switch sits in the caller's frame, not in a function of its
 * own: after a switch, returns mispredict (the return stack buffer holds
 * the other stack's calls), so a level less is a misprediction less.
 * Nothing is kept across the switch_prepare() call either: the loop is the
 * thread's, and `from` is always its current task (NULL: the scheduler). */
static inline void switch_to(struct cio__loop *loop, struct cio__task *from, struct cio__task *to)
{
    if (cio__unlikely((to && !to->started) || loop->slow_ns)) {
        to = switch_prepare(loop, from, to);
        loop = cio__tls_loop;
        from = loop->current;
        if (!from && !to)
            return; /* the scheduler goes on with the next one */
    }
    do_switch(loop, from, to);
}

/* The task to run after the running one leaves: the next ready task while
 * the batch lasts and no callback is due before it, otherwise NULL (the
 * scheduler, which runs callbacks and polls I/O). */
static inline struct cio__task *next_to_run(struct cio__loop *loop)
{
    struct cio__runnable *r = loop->ready.head;
    if (!r || r->kind != CIO__RUN_TASK || !loop->budget)
        return NULL;
    cio__readyq_pop(loop);
    loop->budget--;
    cio__ready_prefetch(loop);
    return cio__task_of(r);
}

/* Leaves the running task t (its state already set) for the next one, and
 * returns once t is resumed. */
static void switch_out(struct cio__loop *loop, struct cio__task *t)
{
    if (cio__unlikely(t->canaried && !cio__canary_intact(canary_of(loop, t))))
        cio__overflow_canary(t);
    struct cio__task *next = next_to_run(loop);
    if (next == t) {
        t->state = CIO__T_RUNNING;
        return;
    }
    switch_to(loop, t, next);
}

#ifdef SWITCH_PAIRED
/* Leaves the task t that has just ended, for good: as switch_out(), but
 * nothing of t is saved, and the next context is resumed or entered with a
 * jump (see switch.h). */
__attribute__((noreturn, always_inline)) static inline void task_exit(struct cio__loop *loop,
                                                                      struct cio__task *t)
{
    if (cio__unlikely(t->canaried && !cio__canary_intact(canary_of(loop, t))))
        cio__overflow_canary(t);
    struct cio__task *to = next_to_run(loop);
    if (cio__unlikely((to && !to->started) || loop->slow_ns)) {
        to = switch_prepare(loop, t, to);
        loop = cio__tls_loop;
    }
    loop->current = to;
    if (!to)
        cio__ctx_leave(&loop->sched_ctx);
    to->state = CIO__T_RUNNING;
    prefetch_canary(loop, to);
    cio__ctx_leave(&to->ctx);
}
#endif

void cio__task_resume(struct cio__loop *loop, struct cio__task *t)
{
    switch_to(loop, NULL, t);
}

int cio__suspend(struct cio__task *t, const char *what)
{
    t->state = CIO__T_WAITING;
    t->wait_what = what; /* read by task dumps while the task waits */
    switch_out(cio__tls_loop, t);
    /* Back as the loop's current task; read it there rather than keep t
     * across the switch (see do_switch()). */
    return cio__tls_loop->current->wake_code;
}

int cio__suspend_nointr(struct cio__task *t, const char *what)
{
    bool saved = t->nointr;
    t->nointr = true;
    int rc = cio__suspend(t, what);
    t->nointr = saved;
    return rc;
}

static bool shielded(const struct cio__task *t)
{
    for (const struct cio_scope *s = t->scopes; s; s = s->parent_)
        if (s->kind_ == 2)
            return true;
    return false;
}

bool cio__cancel_task(struct cio__task *t, int code)
{
    t->cancelled = true;
    if (t->state == CIO__T_WAITING && !t->nointr && !shielded(t))
        return cio__wake(t, code);
    return false;
}

/* ---- lifecycle ---------------------------------------------------------- */

static void task_timer_fire(struct cio__timer *timer)
{
    struct cio__task *t = cio__container_of(timer, struct cio__task, timer);
    cio__wake(t, t->timer_timeout ? -ETIMEDOUT : 0);
}

const char *cio__task_label(const struct cio__task *t, char buf[CIO__TASK_LABEL])
{
    if (t->named)
        return cio__task_name_get(cio__tls_loop, t);
    /* "task-" and the serial, written from the end of buf, without
     * snprintf: see task.h. */
    char *p = buf + CIO__TASK_LABEL;
    *--p = 0;
    uint64_t serial = t->id & ((1ull << CIO__TASK_SERIAL_BITS) - 1);
    do {
        *--p = (char)('0' + serial % 10);
        serial /= 10;
    } while (serial);
    p -= 5;
    memcpy(p, "task-", 5);
    return p;
}

void cio__task_release(struct cio__task *t)
{
    struct cio__loop *loop = cio__tls_loop;
    if (cio__unlikely(t->named)) {
        cio__task_name_drop(loop, t);
        t->named = false;
    }
    t->id = 0;
    loop->ntasks--;
    if (t != loop->current)
        task_free(loop, t); /* else still running on its stack: reap() frees it */
}

void cio__tasks_init(struct cio__loop *loop)
{
    static _Atomic uint64_t loops;
    /* A first slab of 1024 records (256 KiB of address space, touched only
     * as records are first used): a program with up to a thousand tasks
     * alive has them all in one slab, where checking a handle is a range
     * test (cio__slab_issued()). */
    cio__slab_init(&loop->task_slab, sizeof(struct cio__task), 1024);
    loop->next_id = (atomic_fetch_add_explicit(&loops, 1, memory_order_relaxed) + 1)
                    << CIO__TASK_SERIAL_BITS;
}

/* The tasks not yet released are found by a walk of the records rather than
 * kept in a list: a list would cost every spawn and release a write to the
 * neighbours' records, for the few walks a loop makes (dumps, reports and
 * the cancellations at its end). A record given back has id 0. */
struct visit {
    void (*fn)(struct cio__task *t, void *arg);
    void *arg;
};

static void visit_alive(void *record, void *arg)
{
    struct visit *v = arg;
    struct cio__task *t = record;
    if (t->id)
        v->fn(t, v->arg);
}

void cio__tasks_each_unordered(struct cio__loop *loop, void (*fn)(struct cio__task *t, void *arg),
                               void *arg)
{
    struct visit v = {fn, arg};
    cio__slab_each(&loop->task_slab, visit_alive, &v);
}

struct alive {
    struct cio__task **v;
    size_t n, cap;
};

static void add_alive(struct cio__task *t, void *arg)
{
    struct alive *a = arg;
    if (a->n < a->cap)
        a->v[a->n++] = t;
}

static int by_id(const void *a, const void *b)
{
    uint64_t x = (*(struct cio__task *const *)a)->id, y = (*(struct cio__task *const *)b)->id;
    return x < y ? -1 : x > y;
}

void cio__tasks_each(struct cio__loop *loop, void (*fn)(struct cio__task *t, void *arg), void *arg)
{
    /* Ids grow with every spawn: sorted by id is the order of spawning. */
    struct alive a = {NULL, 0, (size_t)loop->ntasks};
    if (!a.cap)
        return;
    if (!(a.v = malloc(a.cap * sizeof *a.v))) {
        cio__tasks_each_unordered(loop, fn, arg);
        return;
    }
    cio__tasks_each_unordered(loop, add_alive, &a);
    qsort(a.v, a.n, sizeof *a.v, by_id);
    for (size_t i = 0; i < a.n; i++)
        fn(a.v[i], arg);
    free(a.v);
}

/* Tasks that never ended (stuck past the cancellation at the end of
 * cio_run) still hold their contexts and done callbacks. (Their names go
 * with the table.) */
static void task_drop(struct cio__task *t, void *arg)
{
    (void)arg;
    cio__context_drop(t->context);
    cio__task_done_callbacks_free(t);
}

void cio__tasks_free(struct cio__loop *loop)
{
    cio__tasks_each_unordered(loop, task_drop, NULL);
    cio__task_names_free(loop);
    cio__slab_fini(&loop->task_slab);
    loop->ntasks = 0;
}

static void task_end(struct cio__task *t, int result)
{
    struct cio__loop *loop = cio__tls_loop;
    t->result = result;
    t->state = CIO__T_DONE;
    if (cio__unlikely(t->context != NULL)) {
        cio__context_drop(t->context);
        t->context = NULL;
    }
    if (t->scopes)
        cio__scopes_abandon(t);
    cio__timer_stop(loop, &t->timer);
    if (t->joiner)
        cio__wake(t->joiner, 0);
    struct cio__list *n;
    while ((n = cio__list_shift(&t->done_waiters))) {
        struct cio__waiter *w = cio__container_of(n, struct cio__waiter, link);
        if (w->notify)
            w->notify(w, t);
        else
            cio__wake(w->task, 0);
    }
    if (t->detached) {
        char label[CIO__TASK_LABEL];
        if (result < 0 && result != -ECANCELED)
            cio__report(loop, "detached task '%s' failed: %s (%s)", cio__task_label(t, label),
                        cio_strerror(result), cio_err_name(result));
        cio__task_release(t);
    }
}

static void task_entry(void *arg)
{
    struct cio__task *t = arg;
    struct cio__loop *loop = cio__tls_loop;
#ifdef CIO__ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
    if (loop->graveyard)
        reap(loop);
    /* As in asyncio, a task cancelled before it first ran never runs
     * (give_stack() ends most such tasks without a stack). */
    struct task_start *start = start_of(t->stack);
    int result = t->cancelled ? -ECANCELED : start->fn(start->arg);
    task_end(t, result);
    loop->graveyard = t; /* its stack goes back once we are off it */
#ifdef SWITCH_PAIRED
    task_exit(loop, t);
#else
    switch_out(loop, t);
    __builtin_unreachable();
#endif
}

static cio_task spawn_failed(int err)
{
    return (cio_task){NULL, (uint64_t) - (int64_t)err};
}

cio_task cio_spawn_with(const cio_spawn_options *opts, cio_task_fn fn, void *arg)
{
    struct cio__loop *loop = cio__tls_loop;
    if (!loop)
        return spawn_failed(CIO_ENOLOOP);
    if (!fn)
        return spawn_failed(-EINVAL);
    size_t size = opts && opts->stack_size ? opts->stack_size : loop->default_stack;
    if (size < CIO_MIN_STACK_SIZE || size > ((size_t)1 << 36))
        return spawn_failed(-EINVAL);
    bool reused;
    struct cio__task *t = cio__slab_get_reused(&loop->task_slab, &reused);
    if (!t)
        return spawn_failed(-ENOMEM);
    if (cio__unlikely(!reused)) {
        /* The second line as every task leaves it when it is released (its
         * timer stopped, its context dropped, nobody joining or waiting):
         * a record given back already holds these, and a spawn that
         * reuses one does not touch its second line. */
        t->timer.where = 0;
        t->timer.fire = task_timer_fire;
        t->joiner = NULL;
        t->context = NULL;
        cio__list_init(&t->done_waiters);
    }
    bool named = false;
    if (opts && opts->name) {
        char *copy = strdup(opts->name);
        if (!copy || cio__task_name_set(loop, t, copy) < 0) {
            free(copy);
            task_free(loop, t);
            return spawn_failed(-ENOMEM);
        }
        named = true;
    }
    /* Field by field rather than memset: spawning is a hot path. */
    t->run.kind = CIO__RUN_TASK;
    t->state = CIO__T_READY;
    t->started = t->cancelled = t->nointr = t->detached = t->retrieved = t->canaried = false;
    t->timer_timeout = false;
    t->named = named;
    t->stack_kib = (uint32_t)((size + 1023) / 1024);
    t->wake_code = t->result = 0; /* and so wait_what is NULL */
    t->id = ++loop->next_id;
    t->scopes = NULL;
    t->start_fn = fn; /* in place of the context and the stack, until it starts */
    t->start_arg = arg;
    /* asyncio's create_task: the spawner's context as it is now (a
     * callback's when a callback spawns). */
    struct cio__task *parent = loop->current;
    struct cio__context *context = parent ? parent->context : cio__context_current();
    if (cio__unlikely(context != NULL))
        t->context = cio__context_share(context);
#ifdef CIO__ASAN
    t->asan_fake_stack = NULL;
#endif
#ifdef CIO__TSAN
    t->tsan_fiber = NULL;
#endif
    loop->ntasks++;
    cio__readyq_push(loop, &t->run);
    return (cio_task){t, t->id};
}

cio_task cio_spawn(cio_task_fn fn, void *arg)
{
    return cio_spawn_with(NULL, fn, arg);
}

int cio_spawn_error(cio_task h)
{
    return h.ptr_ ? 0 : h.id_ ? -(int)h.id_ : CIO_EBADTASK;
}

/* ---- joining, detaching, cancelling ------------------------------------- */

/* The joiner was interrupted: the child must not outlive the join, so it
 * is cancelled and waited for while it unwinds. */
static __attribute__((noinline, cold)) void join_interrupted(struct cio__task *self,
                                                             struct cio__task *t)
{
    cio__cancel_task(t, -ECANCELED);
    while (t->state != CIO__T_DONE)
        cio__suspend_nointr(self, "join (cancelling)");
}

int cio_join(cio_task h)
{
    if (!h.ptr_)
        return cio_spawn_error(h);
    struct cio__task *self = cio__self();
    if (!self)
        return cio__tls_loop ? CIO_ENOTTASK : CIO_ENOLOOP;
    struct cio__task *t = cio__task_from(h);
    if (!t || t->detached)
        return cio__bad_handle(h);
    if (t == self)
        return -EDEADLK;
    if (t->joiner)
        return -EBUSY;
    int rc = 0;
    if (t->state != CIO__T_DONE) {
        t->joiner = self;
        rc = cio__interrupted(self);
        if (!rc)
            rc = cio__suspend(self, "join");
        if (cio__unlikely(rc))
            join_interrupted(self, t);
        t->joiner = NULL;
    }
    int result = t->result;
    t->retrieved = true;
    cio__task_release(t);
    return rc ? rc : result;
}

int cio_detach(cio_task h)
{
    struct cio__task *t = cio__task_from(h);
    if (!t || t->detached)
        return cio__bad_handle(h);
    if (t->joiner)
        return -EBUSY;
    if (t->state == CIO__T_DONE) {
        char label[CIO__TASK_LABEL];
        if (t->result < 0 && t->result != -ECANCELED && !t->retrieved)
            cio__report(cio__tls_loop, "detached task '%s' failed: %s (%s)",
                        cio__task_label(t, label), cio_strerror(t->result),
                        cio_err_name(t->result));
        cio__task_release(t);
        return 0;
    }
    t->detached = true;
    return 0;
}

int cio_cancel(cio_task h)
{
    struct cio__task *t = cio__task_from(h);
    if (!t)
        return cio__bad_handle(h);
    if (t->state == CIO__T_DONE)
        return -EALREADY;
    cio__cancel_task(t, -ECANCELED);
    return 0;
}

bool cio_task_done(cio_task h)
{
    struct cio__task *t = cio__task_from(h);
    return !t || t->state == CIO__T_DONE;
}

int cio_task_result(cio_task h, int *result)
{
    struct cio__task *t = cio__task_from(h);
    if (!t)
        return cio__bad_handle(h);
    if (!result)
        return -EINVAL;
    if (t->state != CIO__T_DONE)
        return CIO_ESTATE;
    t->retrieved = true;
    *result = t->result;
    return 0;
}

bool cio_task_cancelling(cio_task h)
{
    struct cio__task *t = cio__task_from(h);
    return t && t->cancelled;
}

const char *cio_task_name(cio_task h)
{
    struct cio__task *t = cio__task_from(h);
    if (!t)
        return NULL;
    if (!t->named) {
        /* Made now, to last as long as the handle: most tasks are never
         * asked. */
        char buf[CIO__TASK_LABEL];
        char *name = strdup(cio__task_label(t, buf));
        if (!name || cio__task_name_set(cio__tls_loop, t, name) < 0) {
            free(name);
            return NULL;
        }
        t->named = true;
    }
    return cio__task_name_get(cio__tls_loop, t);
}

cio_task cio_current(void)
{
    struct cio__task *t = cio__self();
    return t ? (cio_task){t, t->id} : (cio_task){NULL, 0};
}

bool cio_in_task(void)
{
    return cio__self() != NULL;
}

/* ---- the basic waits ---------------------------------------------------- */

int cio_check(void)
{
    struct cio__task *t;
    return cio__enter(&t);
}

int cio_yield(void)
{
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc)
        return rc;
    t->state = CIO__T_READY;
    cio__readyq_push(cio__tls_loop, &t->run);
    switch_out(cio__tls_loop, t);
    return cio__interrupted(t);
}

int cio_sleep(double seconds)
{
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc)
        return rc;
    int64_t d = cio__sec_to_ns(seconds);
    if (d == 0)
        return cio_yield();
    struct cio__loop *loop = cio__tls_loop;
    if (d != CIO__NEVER) {
        t->timer.deadline = cio__deadline_after(loop->now, d);
        t->timer_timeout = false;
        if (cio__timer_start(loop, &t->timer) < 0)
            return -ENOMEM;
    }
    rc = cio__suspend(t, "sleep");
    cio__timer_stop(loop, &t->timer);
    return rc;
}

int cio_wait_fd(int fd, int events, double timeout)
{
    if (fd < 0 || events <= 0 || (events & ~(CIO_READABLE | CIO_WRITABLE)) || timeout != timeout)
        return -EINVAL;
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc)
        return rc;
    struct cio__loop *loop = cio__tls_loop;
    rc = cio__io_watch_task(loop, fd, (unsigned)events, t);
    if (rc)
        return rc;
    int64_t d = timeout < 0 ? CIO__NEVER : cio__sec_to_ns(timeout);
    if (d != CIO__NEVER) {
        t->timer.deadline = cio__deadline_after(loop->now, d);
        t->timer_timeout = true;
        if (cio__timer_start(loop, &t->timer) < 0) {
            cio__io_unwatch_task(loop, fd, t);
            return -ENOMEM;
        }
    }
    rc = cio__suspend(t, events == CIO_WRITABLE ? "wait writable" : "wait readable");
    cio__timer_stop(loop, &t->timer);
    cio__io_unwatch_task(loop, fd, t);
    return rc;
}
