/* cio — cancel scopes: timeouts and shields.
 *
 * A scope wraps ordinary code. A timeout scope gives it a deadline: once
 * the deadline passes, every suspending call inside returns -ETIMEDOUT
 * (level-triggered, like cancellation) until the scope is exited; the code
 * after the scope can ask whether it expired. Scopes nest: an outer deadline
 * that passes first interrupts the inner code too. A shield scope protects
 * the code inside from cancellation and from the timeouts of scopes outside
 * it, so that cleanup which must wait (closing a connection politely) can.
 *
 * A scope lives in the caller's storage (usually its stack) and must be
 * exited by the task that entered it, innermost first. The CIO_TIMEOUT and
 * CIO_SHIELD macros declare one that exits itself at the end of the block,
 * on every path out of it (GNU cleanup attribute, gcc and clang):
 *
 *     {
 *         CIO_TIMEOUT(t, 5.0);
 *         rc = fetch(...);          // -ETIMEDOUT after 5 s
 *     }                             // scope exited here, however we leave
 *
 * asyncio: `async with asyncio.timeout(5)`; Trio: move_on_after().
 */
#ifndef CIO_SCOPE_H
#define CIO_SCOPE_H

#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A timer node of the loop's timer heap. Private: embedded here only so a
 * scope needs no allocation. */
struct cio__timer {
    int64_t deadline; /* loop time, ns */
    uint64_t seq;     /* FIFO order among equal deadlines */
    void (*fire)(struct cio__timer *timer);
    uint32_t pos;  /* in the heap: position + 1; in a wheel bucket or the
                    * overflow: its position in that list (see where) */
    uint8_t where; /* 0 when not scheduled (see src/base/timers.h) */
};

typedef struct cio_scope {
    /* All fields are private. */
    struct cio_scope *parent_;
    struct cio__task *task_;
    struct cio__timer timer_;
    unsigned char kind_; /* 0 unused, 1 timeout, 2 shield */
    bool entered_;
    bool expired_;
} cio_scope;

/* Enters a timeout scope that expires `seconds` from now (NaN or negative:
 * already expired; INFINITY: never, until rescheduled). Returns 0,
 * -EINVAL (s NULL or already entered), CIO_ENOTTASK. */
int cio_timeout_enter(cio_scope *s, double seconds);

/* Enters a timeout scope that expires at loop time `deadline` (cio_time()).
 * Errors as cio_timeout_enter(). */
int cio_timeout_enter_at(cio_scope *s, double deadline);

/* Moves the deadline of an entered timeout scope that has not expired yet.
 * Returns 0, -EINVAL (not an entered timeout scope), CIO_ESTATE (already
 * expired). */
int cio_timeout_reschedule(cio_scope *s, double deadline);

/* Enters a shield scope. Returns 0, -EINVAL, CIO_ENOTTASK. */
int cio_shield_enter(cio_scope *s);

/* Exits a scope. Returns 1 if it was a timeout scope that expired, 0
 * otherwise; CIO_ESCOPE if s is not the caller's innermost scope (nothing
 * is changed then); -EINVAL if s is NULL or was not entered. */
int cio_scope_exit(cio_scope *s);

/* Whether a timeout scope expired (its deadline passed while it was
 * entered). Valid during and after the scope. */
bool cio_scope_expired(const cio_scope *s);

void cio__scope_cleanup(cio_scope *s);

#define CIO__SCOPE_AUTO __attribute__((cleanup(cio__scope_cleanup)))

/* Declares `name` as a timeout scope of `seconds`, exited at block end. */
#define CIO_TIMEOUT(name, seconds)                                                                 \
    cio_scope name CIO__SCOPE_AUTO = {0};                                                          \
    (void)cio_timeout_enter(&name, (seconds))

/* Declares `name` as a shield scope, exited at block end. */
#define CIO_SHIELD(name)                                                                           \
    cio_scope name CIO__SCOPE_AUTO = {0};                                                          \
    (void)cio_shield_enter(&name)

#ifdef __cplusplus
}
#endif
#endif
