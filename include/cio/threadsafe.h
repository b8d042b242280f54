/* cio — crossing threads: thread-safe calls into a loop, a thread-safe
 * channel, and N loops on N threads.
 *
 * A loop belongs to one thread and nothing in cio is shared between loops.
 * These are the only doors between threads:
 *
 * - cio_loop_ref: a handle on a running loop that any thread may hold, and
 *   cio_call_soon_threadsafe() to run a callback on that loop
 *   (asyncio's loop.call_soon_threadsafe).
 * - cio_chan: a bounded FIFO of pointers that tasks on any loops and plain
 *   threads can all send to and receive from; a task suspends where a thread
 *   blocks.
 * - cio_run_loops(): runs one loop per thread, share-nothing, so that a
 *   program (a server with SO_REUSEPORT, say) uses every core.
 *
 * Other threads wake a loop by writing its eventfd once per batch of work,
 * never by taking a lock the loop also takes on its hot path.
 */
#ifndef CIO_THREADSAFE_H
#define CIO_THREADSAFE_H

#include <stdbool.h>
#include <stddef.h>

#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- handles on a loop --------------------------------------------------- */

/* A reference to a loop that other threads may use. It stays valid (as
 * memory) until released, even after the loop has closed: calls through it
 * then return CIO_ENOLOOP. While references are held the loop does not
 * report a deadlock nor jump its virtual clock, since another thread may
 * still call into it. */
typedef struct cio_loop_ref cio_loop_ref;

/* Takes a reference to the calling thread's running loop; the caller owns
 * it and releases it with cio_loop_ref_release() (on any thread).
 * Errors: -EINVAL (out NULL), CIO_ENOLOOP, -ENOMEM. */
int cio_loop_ref_get(cio_loop_ref **out);

/* Releases a reference; any thread. NULL is ignored. */
void cio_loop_ref_release(cio_loop_ref *ref);

/* Schedules cb(arg) to run on the loop of ref, from any thread (the loop's
 * own included), as a plain loop callback: it must not suspend. Callbacks
 * sent by one thread run in the order sent. The loop is woken if it sleeps.
 * Errors: -EINVAL (ref or cb NULL), CIO_ENOLOOP (the loop has closed: cb
 * will never run), -ENOMEM. Callbacks still queued when the loop closes
 * are dropped without running. */
int cio_call_soon_threadsafe(cio_loop_ref *ref, cio_callback cb, void *arg);

/* Cancels the main task of the loop of ref, from any thread: the loop
 * unwinds as after a first SIGINT (see signal.h), and cio_run() returns.
 * Errors: -EINVAL, CIO_ENOLOOP, -ENOMEM. */
int cio_loop_stop_threadsafe(cio_loop_ref *ref);

/* ---- the thread-safe channel --------------------------------------------- */

/* A bounded FIFO of void * items shared by tasks of any loops and by plain
 * threads. From a task, a call that must wait suspends the task (and
 * follows cancellation and timeouts: -ECANCELED, -ETIMEDOUT); from a thread
 * without a running loop it blocks the thread. Calling a waiting function
 * from a loop callback returns CIO_ENOTTASK.
 *
 * No item is ever lost: an item handed over to a waiting receiver is
 * delivered even if that receiver is cancelled at the same moment (the call
 * then returns 0 with the item), and a sender cancelled while it waits has
 * not sent its item. */
typedef struct cio_chan cio_chan;

/* Makes a channel holding up to capacity items (at least 1). The caller
 * owns it. Errors: -EINVAL (out NULL or capacity 0), -ENOMEM. */
int cio_chan_new(cio_chan **out, size_t capacity);

/* Frees a channel. Nobody may be waiting on it or use it afterwards; items
 * still in it are dropped (the caller owns what they point to). NULL is
 * ignored. */
void cio_chan_free(cio_chan *ch);

/* Appends item, waiting while the channel is full. A send that needs no
 * wait is done at once, even in a cancelled task or a loop callback (as
 * the toolkit's calls, sync.h); -ECANCELED, -ETIMEDOUT and CIO_ENOTTASK
 * come only from a send that would wait.
 * Errors: -EPIPE (closed, before or while waiting; the item was not sent),
 * -ECANCELED, -ETIMEDOUT, CIO_ENOTTASK, -EINVAL (ch NULL). */
int cio_chan_send(cio_chan *ch, void *item);

/* As cio_chan_send() without waiting: -EAGAIN when full. Callable from
 * anywhere, loop callbacks included. */
int cio_chan_try_send(cio_chan *ch, void *item);

/* Takes the oldest item into *item, waiting while the channel is empty;
 * done at once when an item is there, as cio_chan_send().
 * Errors: -EPIPE (closed and empty: the end of the stream), -ECANCELED,
 * -ETIMEDOUT, CIO_ENOTTASK, -EINVAL (ch or item NULL). */
int cio_chan_recv(cio_chan *ch, void **item);

/* As cio_chan_recv() without waiting: -EAGAIN when empty (and open),
 * -EPIPE when empty and closed. Callable from anywhere. */
int cio_chan_try_recv(cio_chan *ch, void **item);

/* Closes the channel for sending: waiting senders return -EPIPE, receivers
 * take the items left, then get -EPIPE. Any thread. Returns 0, -EALREADY if
 * already closed, -EINVAL if ch is NULL. */
int cio_chan_close(cio_chan *ch);

/* Number of items in the channel now (a snapshot). 0 for NULL. */
size_t cio_chan_len(cio_chan *ch);

/* ---- one loop per thread ------------------------------------------------- */

typedef struct cio_loops_options {
    /* Options for every loop (NULL fields as in cio_run_with()); the
     * signal fields are ignored: signals are handled by the calling thread
     * as described at cio_run_loops(). May be NULL. */
    const cio_run_options *run;
    /* When true, SIGINT and SIGTERM are left alone. */
    bool no_signal_handling;
    /* Seconds between the first signal and a forced exit; 0 means
     * CIO_DEFAULT_SHUTDOWN_TIMEOUT, negative waits for ever. */
    double shutdown_timeout;
} cio_loops_options;

/* Runs n loops on n new threads, each running main(arg) as its main task
 * with cio_run_with(), and waits for all of them. Loops share nothing:
 * main finds its loop's index (0..n-1) with cio_loop_index(). n == 0 means
 * one loop per online CPU. If results is not NULL it receives each loop's
 * result (n entries; pass n explicitly to size it).
 *
 * Unless opts->no_signal_handling, the calling thread handles SIGINT and
 * SIGTERM for all loops: the first signal cancels every loop's main task
 * (as cio_run() does for one), a second one or the shutdown timeout forces
 * the exit of the process with status 128 + signal number; cio_exit_status()
 * on the calling thread then reports the signal.
 *
 * Returns 0 if every loop's main returned >= 0, else the first negative
 * result in index order. Errors before any loop ran: -EINVAL (main NULL),
 * -EBUSY (the calling thread runs a loop), -ENOMEM, -EAGAIN (threads). */
int cio_run_loops(unsigned n, const cio_loops_options *opts, cio_task_fn main, void *arg,
                  int *results);

/* The index of the calling thread's loop under cio_run_loops(), or -1. */
int cio_loop_index(void);

#ifdef __cplusplus
}
#endif
#endif
