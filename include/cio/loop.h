/* cio — the event loop: running it, its clock, and asyncio's low-level API
 * (call_soon, call_later, call_at, add_reader, add_writer).
 *
 * There is one loop per thread. cio_run() makes it, runs a main task on it
 * and closes it; every other function in this header acts on the calling
 * thread's running loop and returns CIO_ENOLOOP when there is none.
 * Callbacks run on the loop's own stack, not in a task: they must not call
 * suspending functions (those return CIO_ENOTTASK there) and should return
 * quickly.
 */
#ifndef CIO_LOOP_H
#define CIO_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The body of a task: returns 0 or a positive value on success, a negative
 * error code on failure. That int is the task's result. */
typedef int (*cio_task_fn)(void *arg);

/* A plain callback run by the loop. */
typedef void (*cio_callback)(void *arg);

/* Stack size of a task when neither cio_run_options nor cio_spawn_options
 * say otherwise: 256 KiB of address space, of which only the pages a task
 * touches cost memory. */
#define CIO_DEFAULT_STACK_SIZE ((size_t)256 * 1024)
/* Smallest stack a task may ask for. */
#define CIO_MIN_STACK_SIZE ((size_t)16 * 1024)

/* How late, in seconds, the loop may wake for a timer unless
 * cio_run_options says otherwise (see timer_slack). */
#define CIO_DEFAULT_TIMER_SLACK 0.00025

/* How a loop waits for I/O (cio_run_options.backend). */
typedef enum cio_backend {
    /* The CIO_BACKEND environment variable's choice ("epoll" or
     * "io_uring") when it is set, else epoll. */
    CIO_BACKEND_DEFAULT = 0,
    /* epoll: level-triggered, one epoll_ctl system call per change of
     * interest. */
    CIO_BACKEND_EPOLL,
    /* io_uring: one-shot poll requests, level-triggered too; changes of
     * interest are queued in memory and reach the kernel with the next
     * wait, in the same system call. Needs a kernel with io_uring (Linux
     * 5.1 or later) that allows it (the kernel.io_uring_disabled sysctl,
     * seccomp filters of containers), and a cio built with liburing. */
    CIO_BACKEND_IO_URING,
} cio_backend;

typedef struct cio_run_options {
    /* Run on a virtual clock: time starts at 0, and whenever every task
     * waits only on timers, the clock jumps to the next deadline instead of
     * sleeping. Code that sleeps for an hour is tested in milliseconds. */
    bool virtual_clock;
    /* Default stack size of tasks, rounded up to whole pages; 0 means
     * CIO_DEFAULT_STACK_SIZE. */
    size_t stack_size;
    /* Where the loop reports tasks that failed and were never joined, tasks
     * still alive at exit, deadlocks and stack overflows. NULL means stderr. */
    FILE *report;
    /* When positive, a task or callback that keeps the loop busy for longer
     * than this many seconds is named in a warning (asyncio's debug-mode
     * slow_callback_duration). Costs a clock read per switch. */
    double slow_task_warning;
    /* Graceful shutdown (see cio/signal.h): unless this is true, cio_run()
     * on the process's main thread turns the first SIGINT or SIGTERM into
     * the cancellation of the main task, and a second one into a forced
     * exit. */
    bool no_signal_handling;
    /* Seconds between the first shutdown signal and the forced exit; 0
     * means CIO_DEFAULT_SHUTDOWN_TIMEOUT (cio/signal.h), negative never. */
    double shutdown_timeout;
    /* When the loop sleeps until a timer, it wakes at the first multiple of
     * this many seconds at or after the deadline, so that timers due close
     * together fire on one wake-up instead of one each (a wake-up costs
     * microseconds of system time; a million timers in a second would
     * otherwise wake the loop thousands of times). A timer thus fires up to
     * this much late, plus the kernel's own slack (50 us by default). 0
     * means CIO_DEFAULT_TIMER_SLACK (250 us; asyncio, libuv and Tokio round
     * their waits to 1 ms); negative means none, for waits as precise as
     * the kernel gives. The virtual clock is never late. */
    double timer_slack;
    /* How the loop waits for I/O; both backends behave the same to every
     * cio call. A backend that was asked for and cannot run is an error of
     * cio_run_with(), never a silent fallback. */
    cio_backend backend;
} cio_run_options;

/* Makes this thread's loop, runs main(arg) as its first task, and returns
 * the task's result once it finishes. Tasks still alive then are reported
 * and cancelled, and the loop runs until they have unwound; tasks that
 * failed and whose result nobody read are reported; then the loop is closed
 * and every resource it owns released. On the process's main thread, the
 * first SIGINT or SIGTERM cancels the main task and a second one forces the
 * exit (graceful shutdown, cio/signal.h; return cio_exit_status(rc) from
 * main for the conventional 130/143).
 * Errors (instead of main's result): -EINVAL if main is NULL, -EBUSY if this
 * thread already runs a loop, -ENOMEM or another -errno if the loop could
 * not be made. */
int cio_run(cio_task_fn main, void *arg);

/* cio_run() with options; opts may be NULL for the defaults. Same errors,
 * plus -EINVAL for a stack size that cannot be honoured, a timer slack that
 * is not a number, or a backend that is none of cio_backend's (or a
 * CIO_BACKEND naming none), and for io_uring: -ENOSYS if this cio was built
 * without it or the kernel lacks it, -EPERM if the kernel or a seccomp
 * filter forbids it. */
int cio_run_with(const cio_run_options *opts, cio_task_fn main, void *arg);

/* The name of the backend this thread's loop polls with ("epoll" or
 * "io_uring"), or NULL on a thread with no running loop. */
const char *cio_backend_name(void);

/* The loop's time in seconds: monotonic, read once per loop iteration (or
 * the virtual clock). Returns 0.0 on a thread with no running loop. */
double cio_time(void);

/* The same time in nanoseconds. */
int64_t cio_time_ns(void);

/* A scheduled callback. A handle given back to the caller is owned by the
 * caller until cio_handle_cancel() or cio_handle_release(). */
typedef struct cio_handle cio_handle;

/* Schedules cb(arg) to run on a later turn of the loop, after the callbacks
 * and tasks already ready (FIFO), in the caller's context (cio/context.h).
 * If handle is not NULL, *handle receives a handle the caller owns. Errors: -EINVAL (cb NULL),
 * CIO_ENOLOOP, -ENOMEM. */
int cio_call_soon(cio_callback cb, void *arg, cio_handle **handle);

/* Schedules cb(arg) to run delay seconds from now (a negative delay counts
 * as 0; up to the timer slack later, see cio_run_options). Callbacks due
 * at the same time run in the order they were scheduled. Errors: -EINVAL
 * (cb NULL or delay NaN), CIO_ENOLOOP, -ENOMEM. */
int cio_call_later(double delay, cio_callback cb, void *arg, cio_handle **handle);

/* Schedules cb(arg) at the loop time `when` (seconds, see cio_time()).
 * Errors as cio_call_later(). */
int cio_call_at(double when, cio_callback cb, void *arg, cio_handle **handle);

/* Cancels the callback if it has not run yet, and releases the caller's
 * handle, which must not be used again. Call it on the loop's thread.
 * Returns 0 if the callback was cancelled, -EALREADY if it had already run
 * or been cancelled (the handle is released all the same), -EINVAL if h is
 * NULL or not a handle this thread's running loop handed out and the
 * caller still holds: one from a loop since closed, or from another
 * thread's loop, is refused without being read, and so, until a new call
 * reuses its memory, is one already released. */
int cio_handle_cancel(cio_handle *h);

/* Releases the caller's handle without cancelling the callback. Does
 * nothing where cio_handle_cancel() would return -EINVAL. */
void cio_handle_release(cio_handle *h);

/* Calls cb(arg) from the loop each time fd is readable, until
 * cio_remove_reader(fd); replaces a reader callback already set on fd.
 * fd must be pollable (a socket, pipe, eventfd...). Errors: -EINVAL (fd < 0
 * or cb NULL), -EBADF (fd is not open), -EBUSY (a task is waiting on fd for
 * reading), CIO_ENOLOOP, -EPERM (a regular file or directory: no backend
 * polls it), -ENOMEM. */
int cio_add_reader(int fd, cio_callback cb, void *arg);

/* Stops watching fd for reading. Returns 0, or -ENOENT if no reader was
 * set, -EINVAL, CIO_ENOLOOP. */
int cio_remove_reader(int fd);

/* As cio_add_reader(), for writability. */
int cio_add_writer(int fd, cio_callback cb, void *arg);

/* As cio_remove_reader(), for writability. */
int cio_remove_writer(int fd);

/* Must be called before closing an fd that cio watched or waited on, if
 * tasks or callbacks may still refer to it: removes its readers and writers
 * and wakes its waiting tasks with -EBADF. Returns 0 or CIO_ENOLOOP. */
int cio_forget_fd(int fd);

/* Writes every live task of this thread's loop to out (stderr if NULL): its
 * name, state, and where it is suspended. Safe to call from any task or
 * callback; does nothing without a loop. */
void cio_dump_tasks(FILE *out);

#ifdef __cplusplus
}
#endif
#endif
