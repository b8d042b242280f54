/* cio — Unix signals as ordinary loop events, and graceful shutdown.
 *
 * A task can wait for a signal (cio_signal_wait) and a callback can be
 * attached to one (cio_signal_add, asyncio's loop.add_signal_handler).
 * While some loop watches a signal, cio's handler for it (installed with
 * sigaction, SA_RESTART) only writes the signal's number to a pipe of each
 * watching loop — the self-pipe trick — and the loops read it like any
 * other fd: nothing else runs in async-signal context, and handlers may do
 * anything a loop callback may. No signal is blocked, so threads the
 * program makes and child processes it starts are unaffected; once no loop
 * watches a signal, its previous disposition is restored. A program that
 * installs its own handler for a signal a loop watches replaces cio's.
 *
 * Graceful shutdown (the default of cio_run(), see cio_run_options):
 * on the process's main thread, the first SIGINT or SIGTERM that no task
 * waits for and no handler takes cancels the main task, so every task
 * unwinds through its cleanup, shields respected, and cio_run() returns.
 * A second SIGINT or SIGTERM, or the shutdown deadline, forces the exit:
 * the tasks still alive are named on the report stream and the process
 * exits with status 128 + the signal's number (130 for SIGINT, 143 for
 * SIGTERM). The loop hears signals and runs its deadline only when it gets
 * control back: while a task never suspends (a busy loop, or a cancelled
 * task that ignores -ECANCELED from calls that then return at once), the
 * signal handler itself forces the exit, without naming the tasks, when a
 * shutdown signal comes 100 ms or more after the previous one and the
 * loop has not polled since; the deadline alone cannot end such a loop. A program returns the same
 * status after a clean unwind with
 *
 *     int main(void) { return cio_exit_status(cio_run(main_task, NULL)); }
 *
 * A SIGINT or SIGTERM whose disposition was not the default when the loop
 * started (ignored by a background job, or handled by the program) is left
 * alone. Loops on other threads (cio_run_loops) leave signals to the thread
 * that started them.
 */
#ifndef CIO_SIGNAL_H
#define CIO_SIGNAL_H

#include <signal.h>
#include <sys/select.h> /* sigset_t, which <signal.h> hides in strict C modes */

#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Seconds between the first shutdown signal and the forced exit when
 * cio_run_options.shutdown_timeout is 0. */
#define CIO_DEFAULT_SHUTDOWN_TIMEOUT 10.0

/* A signal handler run as a plain loop callback. */
typedef void (*cio_signal_callback)(int signo, void *arg);

/* Suspends the calling task until one of the signals in set arrives and
 * returns its number (> 0). Every task waiting for a signal receives it;
 * several arrivals before anyone reads them count as one. Once a loop has
 * waited for a signal it keeps catching it until it closes, and a signal
 * that arrives while nobody waits is kept for the next wait, so a task
 * that waits in a loop misses none.
 * Errors: -EINVAL (set NULL, empty, or holding a signal that cannot be
 * caught: SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL), -ECANCELED,
 * -ETIMEDOUT, CIO_ENOTTASK, CIO_ENOLOOP, -ENOMEM, -EMFILE (64 loops
 * already watch signals, or no fd for the pipe), or the -errno of
 * sigaction(2). */
int cio_signal_wait(const sigset_t *set);

/* Calls cb(signo, arg) on the loop each time signo arrives, until
 * cio_signal_remove(); replaces a handler already set for signo. For
 * SIGINT and SIGTERM it replaces the default shutdown too.
 * Errors: -EINVAL (cb NULL, or a signal that cannot be caught, as above),
 * CIO_ENOLOOP, -ENOMEM, -EMFILE, or the -errno of sigaction(2). */
int cio_signal_add(int signo, cio_signal_callback cb, void *arg);

/* Removes the handler of signo. Returns 0, -ENOENT if none was set,
 * -EINVAL, CIO_ENOLOOP. */
int cio_signal_remove(int signo);

/* The signal that started the shutdown of the last loop cio_run() (or
 * cio_run_loops()) ran on this thread, or 0 if none did. */
int cio_shutdown_signal(void);

/* The conventional exit status for a program whose cio_run() returned rc:
 * 128 + the signal's number if a signal shut the loop down, else 0 for
 * rc == 0, rc for 1..255, and 1 (failure) for anything else. */
int cio_exit_status(int rc);

#ifdef __cplusplus
}
#endif
#endif
