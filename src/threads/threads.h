/* The threads layer's private state: a loop's inbox for other threads, its
 * signal watching and its graceful-shutdown settings.
 *
 * Other threads never touch a loop directly. They push nodes onto its
 * inbox, a lock-free stack that the loop empties in one exchange when its
 * eventfd fires; only a push onto an empty inbox writes the eventfd, so a
 * burst of completions costs one wake-up. */
#ifndef CIO_THREADS_THREADS_H
#define CIO_THREADS_THREADS_H

#include <signal.h>
#include <stdatomic.h>

#include "cio/signal.h"
#include "task/task.h"

/* One message for a loop. run() is called on the loop's thread with the
 * loop, or with NULL when the loop closed before reading it (the node must
 * then only free what it owns). */
struct cio__inbox_node {
    struct cio__inbox_node *next;
    void (*run)(struct cio__inbox_node *n, struct cio__loop *loop);
};

/* The part of a loop that other threads may reach. Reference-counted: it
 * outlives the loop as long as someone holds it; the inbox then refuses
 * pushes. efd is a dup of the loop's eventfd, closed with the last
 * reference, so a late writer never writes to a reused fd number. */
struct cio__remote {
    _Atomic(struct cio__inbox_node *) head;
    atomic_long refs;
    int efd;
};

/* The closed inbox's head. */
#define CIO__INBOX_CLOSED ((struct cio__inbox_node *)(uintptr_t)1)

/* A task waiting in cio_signal_wait(). */
struct cio__sig_waiter {
    struct cio__list link;
    struct cio__task *task;
    const sigset_t *set;
};

struct cio__sig_slot {
    cio_signal_callback cb;
    void *arg;
    bool kept;    /* a task waited for it once: keep catching it */
    bool pending; /* arrived while nobody waited */
};

/* Per loop, reached through loop->threads; loop thread only but `remote`. */
struct cio__threads {
    struct cio__remote *remote;

    /* Signals (signal.c, through the relay of sigrelay.c). */
    int relay_slot; /* -1 when none */
    int sfd;        /* the slot's pipe, read end; -1 when none */
    struct cio__sig_slot sig[_NSIG];
    struct cio__list sig_waiters;

    /* Graceful shutdown (shutdown.c). */
    bool shutdown_on;
    int shutdown_signo; /* 0 until the first signal */
    int64_t shutdown_timeout_ns;
    struct cio__timer shutdown_timer;
    bool shutdown_timer_on;
};

/* The loop's threads state, made on first use; NULL on -ENOMEM. Loop
 * thread only. */
struct cio__threads *cio__threads_get(struct cio__loop *loop);

/* Called by the loop when its eventfd fired (loop/io.c): runs the inbox. */
void cio__threads_wake(struct cio__loop *loop);

/* Called by cio_run() before closing the loop: closes the inbox (dropping
 * what is left), stops watching signals and restores the thread's mask. */
void cio__threads_fini(struct cio__loop *loop);

/* Reads and dispatches the loop's signalfd (signal.c). */
void cio__signal_ready(struct cio__loop *loop);

/* Whether fd is the loop's signalfd; if so, reads and dispatches it. */
static inline bool cio__threads_io(struct cio__loop *loop, int fd)
{
    if (cio__likely(!loop->threads) || loop->threads->sfd != fd)
        return false;
    cio__signal_ready(loop);
    return true;
}

/* ---- the inbox ---------------------------------------------------------- */

void cio__remote_ref(struct cio__remote *r);
void cio__remote_unref(struct cio__remote *r);
/* Pushes n and wakes the loop if the inbox was empty. Any thread. Returns
 * 0, or CIO_ENOLOOP if the loop has closed (n was not taken). */
int cio__remote_post(struct cio__remote *r, struct cio__inbox_node *n);

/* ---- signals and shutdown ------------------------------------------------ */

/* The process-wide relay (sigrelay.c). open takes a slot and gives its
 * pipe's read end (returns the slot or -errno); watch makes the relay
 * write signo's number to the slot's pipe (installing the handler for the
 * first watcher); close releases the slot (restoring a signal's previous
 * disposition after its last watcher). default tells whether signo's
 * disposition, before cio took it, is the default action. */
int cio__sigrelay_open(int *rfd);
int cio__sigrelay_watch(int slot, int signo);
void cio__sigrelay_close(int slot);
bool cio__sigrelay_default(int signo);
/* Arms (or disarms) the relay's check for a shutdown loop that stopped
 * polling; returns the counter the loop must bump at each poll
 * (loop->poll_count). */
atomic_uint_least64_t *cio__sigrelay_arm_shutdown(bool on);
/* The shutdown loop has read a SIGINT or SIGTERM from its pipe. */
void cio__sigrelay_shutdown_taken(void);

/* Starts catching signo on the loop (blocks it on this thread). */
int cio__signal_watch(struct cio__loop *loop, struct cio__threads *th, int signo);
/* A shutdown signal nobody took (signal.c -> shutdown.c). */
void cio__shutdown_signal(struct cio__loop *loop, struct cio__threads *th, int signo);
/* Installs cio_run()'s default SIGINT/SIGTERM handling (run.c), and
 * removes it as the loop closes (cio__threads_fini). */
void cio__shutdown_install(struct cio__loop *loop, const cio_run_options *opts);
void cio__shutdown_fini(struct cio__loop *loop, struct cio__threads *th);
/* Sets the thread's shutdown signal (cio_shutdown_signal()). */
void cio__shutdown_set_signal(int signo);
/* Writes what is still alive and exits with 128 + signo. */
void cio__shutdown_force(struct cio__loop *loop, int signo, const char *why)
    __attribute__((noreturn));

#endif
