/* cio — synchronisation between tasks: Lock, Event, Condition, Semaphore,
 * BoundedSemaphore, Barrier (asyncio's primitives of the same names).
 *
 * Every object lives in the caller's storage and needs no allocation: a
 * zeroed object is ready to use (an unlocked lock, a clear event, a
 * semaphore of value 0), and the *_init functions or CIO_*_INIT macros set
 * the others up. They belong to one loop and are not thread-safe.
 *
 * Waiters are served in FIFO order, and a release hands the lock or permit
 * directly to the first waiter still waiting. A waiter that is cancelled or
 * times out leaves the queue without taking anything: whatever was meant
 * for it goes to the next waiter, so no wake-up is ever lost (asyncio's
 * Semaphore had this bug for years: bpo-45997, gh-90155). Conversely, a
 * waiter that was handed the lock before its cancellation arrived returns
 * 0 and holds it: it must release it (the CIO_WITH_* macros do).
 *
 * A call that can complete at once does so without suspending, even in a
 * cancelled task (like cio_future_wait() on a resolved future): acquiring a
 * free lock in cleanup code needs no shield. Calls that must wait return
 * -ECANCELED / -ETIMEDOUT (level-triggered, see task.h and scope.h),
 * CIO_ENOTTASK outside a task (CIO_ENOLOOP on a thread with no loop), and
 * -EINVAL for a NULL object. Since a call that can complete does, a
 * cancelled task that retries in a loop regardless of the result may
 * never suspend, and the loop never runs: stop on -ECANCELED.
 *
 * The `async with` idiom: CIO_WITH_LOCK(&lock) { ... } and
 * CIO_WITH_SEMAPHORE(&sem) { ... } run the block with the lock or permit
 * held and release it on every way out of the block: falling off its end,
 * break, return, goto. If acquiring fails (cancellation, timeout) the block
 * is skipped and the error is left in the variable named by the _RC forms.
 */
#ifndef CIO_SYNC_H
#define CIO_SYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A FIFO of waiting tasks. Private; zero is an empty queue. */
struct cio__wnode;
struct cio__wq {
    struct cio__wnode *head, *tail;
};

/* ---- Lock ---------------------------------------------------------------- */

typedef struct cio_lock {
    /* Private. The owner is its task and that task's id: a task record is
     * reused once its task has ended. */
    struct cio__wq waiters_;
    struct cio__task *owner_;
    unsigned long long owner_id_;
    bool locked_;
} cio_lock;

#define CIO_LOCK_INIT                                                                              \
    {                                                                                              \
        {NULL, NULL}, NULL, 0, false                                                               \
    }

/* Makes *l an unlocked lock (same as zeroing it). */
void cio_lock_init(cio_lock *l);

/* Acquires l, waiting in FIFO order if it is held. Returns 0 (the caller
 * holds l), -ECANCELED, -ETIMEDOUT, -EDEADLK (the calling task already holds
 * l: asyncio's Lock is not reentrant and would hang), CIO_ENOTTASK (l is
 * held and the caller is not a task), -EINVAL. */
int cio_lock_acquire(cio_lock *l);

/* Acquires l only if it is free and nobody waits. Returns 0 or -EBUSY,
 * -EINVAL. */
int cio_lock_try_acquire(cio_lock *l);

/* Releases l and hands it to the first waiter. As in asyncio any task may
 * release it. Returns 0, CIO_ESTATE (l is not locked: asyncio's
 * RuntimeError), -EINVAL. */
int cio_lock_release(cio_lock *l);

/* Whether l is held. */
bool cio_lock_locked(const cio_lock *l);

/* ---- Semaphore and BoundedSemaphore ---------------------------------------- */

typedef struct cio_semaphore {
    /* Private. */
    struct cio__wq waiters_;
    unsigned long value_;
    unsigned long bound_; /* 0: unbounded */
} cio_semaphore;

#define CIO_SEMAPHORE_INIT(value)                                                                  \
    {                                                                                              \
        {NULL, NULL}, (value), 0                                                                   \
    }
#define CIO_BOUNDED_SEMAPHORE_INIT(value)                                                          \
    {                                                                                              \
        {NULL, NULL}, (value), (value)                                                             \
    }

/* Makes *s a semaphore holding `value` permits (asyncio.Semaphore(value)). */
void cio_semaphore_init(cio_semaphore *s, unsigned long value);

/* Makes *s a bounded semaphore (asyncio.BoundedSemaphore(value)): releasing
 * it more often than it was acquired is an error. value 0 gives a plain
 * semaphore of value 0. */
void cio_bounded_semaphore_init(cio_semaphore *s, unsigned long value);

int cio__semaphore_acquire_slow(cio_semaphore *s);
int cio__semaphore_release_slow(cio_semaphore *s);

/* Takes a permit, waiting in FIFO order while there is none. Returns 0,
 * -ECANCELED, -ETIMEDOUT, CIO_ENOTTASK, -EINVAL. Inline: an uncontended
 * acquire is a test and a decrement. */
static inline int cio_semaphore_acquire(cio_semaphore *s)
{
    if (__builtin_expect(s && s->value_ > 0, 1)) {
        s->value_--; /* a positive value means nobody waits */
        return 0;
    }
    return cio__semaphore_acquire_slow(s);
}

/* Takes a permit only if one is free. Returns 0, -EBUSY, -EINVAL. */
int cio_semaphore_try_acquire(cio_semaphore *s);

/* Returns a permit: to the first waiter, or to the semaphore. Returns 0,
 * -EOVERFLOW (a bounded semaphore released more often than acquired:
 * asyncio's ValueError; nothing changes), -EINVAL. */
static inline int cio_semaphore_release(cio_semaphore *s)
{
    if (__builtin_expect(s && !s->waiters_.head && (!s->bound_ || s->value_ < s->bound_), 1)) {
        s->value_++;
        return 0;
    }
    return cio__semaphore_release_slow(s);
}

/* The number of free permits. */
unsigned long cio_semaphore_value(const cio_semaphore *s);

/* Whether an acquire would have to wait (asyncio's locked()). */
bool cio_semaphore_locked(const cio_semaphore *s);

/* ---- Event ----------------------------------------------------------------- */

typedef struct cio_event {
    /* Private. */
    struct cio__wq waiters_;
    bool set_;
} cio_event;

#define CIO_EVENT_INIT                                                                             \
    {                                                                                              \
        {NULL, NULL}, false                                                                        \
    }

/* Makes *e a clear event. */
void cio_event_init(cio_event *e);

/* Sets e and wakes every task waiting for it. Returns 0 or -EINVAL. */
int cio_event_set(cio_event *e);

/* Clears e: later waits suspend until the next set. Returns 0 or -EINVAL. */
int cio_event_clear(cio_event *e);

/* Whether e is set. */
bool cio_event_is_set(const cio_event *e);

/* Returns at once if e is set, otherwise suspends until it is. Returns 0
 * (e was set, even if it has been cleared again since), -ECANCELED,
 * -ETIMEDOUT, CIO_ENOTTASK, -EINVAL. */
int cio_event_wait(cio_event *e);

/* ---- Condition -------------------------------------------------------------- */

typedef struct cio_condition {
    /* Private. */
    struct cio__wq waiters_;
    cio_lock *lock_;
    cio_lock own_lock_;
} cio_condition;

/* Makes *c a condition variable over `lock`, or over a lock of its own if
 * lock is NULL (asyncio.Condition(lock=None)). */
void cio_condition_init(cio_condition *c, cio_lock *lock);

/* The condition's lock: acquire and release it with cio_lock_*() or
 * CIO_WITH_LOCK(cio_condition_lock(c)). */
cio_lock *cio_condition_lock(cio_condition *c);

/* With the lock held: releases it, waits for a notify, and re-acquires it
 * before returning, whatever the outcome (as asyncio does: the caller
 * always leaves holding the lock, so its release on the way out is right).
 * Returns 0 when notified, -ECANCELED or -ETIMEDOUT (the lock is held all
 * the same), CIO_ESTATE (the caller does not hold the lock), CIO_ENOTTASK,
 * -EINVAL. A notify meant for a waiter that was cancelled meanwhile goes to
 * the next waiter. */
int cio_condition_wait(cio_condition *c);

/* Waits until pred(arg) is true, checking it first and after each notify
 * (asyncio's wait_for). The lock must be held; it is held on return.
 * Returns 0 (pred is true) or cio_condition_wait()'s errors. */
int cio_condition_wait_for(cio_condition *c, bool (*pred)(void *arg), void *arg);

/* Wakes up to n waiters, in FIFO order. The lock must be held. Returns the
 * number woken, CIO_ESTATE (lock not held), -EINVAL. */
int cio_condition_notify(cio_condition *c, int n);

/* Wakes every waiter. Returns the number woken, CIO_ESTATE, -EINVAL. */
int cio_condition_notify_all(cio_condition *c);

/* ---- Barrier ---------------------------------------------------------------- */

typedef struct cio_barrier {
    /* Private. */
    struct cio__wq waiters_;
    unsigned parties_;
    unsigned count_;
    bool broken_;
} cio_barrier;

/* Makes *b a barrier for `parties` tasks (asyncio.Barrier). Returns 0 or
 * -EINVAL (b NULL or parties 0). */
int cio_barrier_init(cio_barrier *b, unsigned parties);

/* Waits until `parties` tasks are waiting, then releases them all (the last
 * to arrive does not wait). Returns the caller's arrival index,
 * 0 .. parties-1 (>= 0), or CIO_EBROKEN (the
 * barrier was aborted or reset while waiting, or is broken),
 * -ECANCELED, -ETIMEDOUT (the caller leaves; the barrier is not broken and
 * still needs `parties` others), CIO_ENOTTASK, -EINVAL. */
int cio_barrier_wait(cio_barrier *b);

/* Puts b in the broken state: waiters and later callers get CIO_EBROKEN
 * until cio_barrier_reset(). Returns 0 or -EINVAL. */
int cio_barrier_abort(cio_barrier *b);

/* Returns b to the empty, unbroken state; tasks waiting get CIO_EBROKEN.
 * Returns 0 or -EINVAL. */
int cio_barrier_reset(cio_barrier *b);

/* Number of tasks waiting now; whether b is broken; its number of parties. */
unsigned cio_barrier_n_waiting(const cio_barrier *b);
bool cio_barrier_broken(const cio_barrier *b);
unsigned cio_barrier_parties(const cio_barrier *b);

/* ---- `async with` --------------------------------------------------------- */

/* The guard of a CIO_WITH block. Private. */
struct cio__guard {
    void (*release)(void *obj);
    void *obj;
    int status; /* the acquire's result; 1 once released */
};

static inline void cio__guard_exit(struct cio__guard *g)
{
    if (g->status == 0) {
        g->status = 1; /* released: the loop's second test ends it */
        g->release(g->obj);
    }
}

static inline void cio__lock_release_any(void *l)
{
    (void)cio_lock_release((cio_lock *)l);
}

static inline void cio__semaphore_release_any(void *s)
{
    (void)cio_semaphore_release((cio_semaphore *)s);
}

#define CIO__CAT2(a, b) a##b
#define CIO__CAT(a, b) CIO__CAT2(a, b)
#define CIO__UNIQ(name) CIO__CAT(name, __LINE__)

/* The general form, for any acquire/release pair (other areas build their
 * CIO_WITH_* on it): evaluates `acquire` (an int expression: 0 or an
 * error), stores its result in the int lvalue rc, and if it is 0 runs the
 * block that follows, then calls release(obj) on every path out of the
 * block: its end, break, continue, return, goto. A failed acquire skips the
 * block. release has type void (*)(void *). rc is not touched after the
 * acquire, so the block may reuse it for its own result. */
#define CIO_WITH(rc_out, acquire, release, obj)                                                    \
    for (struct cio__guard CIO__UNIQ(cio__g_)                                                      \
             __attribute__((cleanup(cio__guard_exit))) = {(release), (obj), (rc_out) = (acquire)}; \
         CIO__UNIQ(cio__g_).status == 0; cio__guard_exit(&CIO__UNIQ(cio__g_)))

/* `async with lock:` — runs the block holding *lock. rc (an int lvalue)
 * receives the acquire's result: 0, or -ECANCELED, -ETIMEDOUT... when the
 * block was skipped. */
#define CIO_WITH_LOCK_RC(rc, lock)                                                                 \
    CIO_WITH(rc, cio_lock_acquire(lock), cio__lock_release_any, (lock))

/* `async with sem:` — runs the block holding a permit of *sem. */
#define CIO_WITH_SEMAPHORE_RC(rc, sem)                                                             \
    CIO_WITH(rc, cio_semaphore_acquire(sem), cio__semaphore_release_any, (sem))

/* The same without an rc: for blocks whose callers learn of a failed
 * acquire otherwise (the block did not run; cio_check() tells why). */
#define CIO_WITH_LOCK(lock)                                                                        \
    for (int CIO__UNIQ(cio__rc_) = 0; !CIO__UNIQ(cio__rc_); CIO__UNIQ(cio__rc_) = 1)               \
    CIO_WITH_LOCK_RC(CIO__UNIQ(cio__rc_), lock)
#define CIO_WITH_SEMAPHORE(sem)                                                                    \
    for (int CIO__UNIQ(cio__rc_) = 0; !CIO__UNIQ(cio__rc_); CIO__UNIQ(cio__rc_) = 1)               \
    CIO_WITH_SEMAPHORE_RC(CIO__UNIQ(cio__rc_), sem)

/* The declaration form, for code that holds something until the end of the
 * enclosing block without a nested block: declares a guard that releases
 * obj at the end of the enclosing block, on every way out of it, if the
 * acquire (whose result is stored in rc) succeeded.
 *
 *     int rc;
 *     CIO_SEMAPHORE_GUARD(rc, &sem);
 *     if (rc < 0)
 *         return rc;                 // not acquired: nothing to release
 *     ...                            // released when the block ends
 */
#define CIO_GUARD(rc_out, acquire, release, obj)                                                   \
    struct cio__guard CIO__UNIQ(cio__guard_) __attribute__((cleanup(cio__guard_exit), unused)) = { \
        (release), (obj), (rc_out) = (acquire)}

#define CIO_LOCK_GUARD(rc, lock)                                                                   \
    CIO_GUARD(rc, cio_lock_acquire(lock), cio__lock_release_any, (lock))
#define CIO_SEMAPHORE_GUARD(rc, sem)                                                               \
    CIO_GUARD(rc, cio_semaphore_acquire(sem), cio__semaphore_release_any, (sem))

#ifdef __cplusplus
}
#endif
#endif
