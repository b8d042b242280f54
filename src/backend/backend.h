/* The contract between the loop and an I/O poller. Each backend is one
 * file (epoll.c, uring.c) exporting one ops table, chosen when a loop is
 * made (cio_run_options.backend); nothing above this header knows which
 * one runs. */
#ifndef CIO_BACKEND_BACKEND_H
#define CIO_BACKEND_BACKEND_H

#include <stdint.h>

struct cio__loop;

struct cio__backend_ops {
    const char *name;
    /* Sets loop->backend; returns 0 or -errno. */
    int (*init)(struct cio__loop *loop);
    void (*fini)(struct cio__loop *loop);
    /* Changes the events watched on fd from `old` to `now` (CIO_READABLE |
     * CIO_WRITABLE bits; 0 means not watched). Returns 0 or -errno (-EPERM
     * for an fd that cannot be polled). */
    int (*update)(struct cio__loop *loop, int fd, unsigned old, unsigned now);
    /* Waits up to timeout_ns (-1: no limit, 0: do not block) and reports
     * each ready fd with cio__io_ready(). Returns the number of events or
     * -errno (-EINTR is not an error: 0 is returned). */
    int (*poll)(struct cio__loop *loop, int64_t timeout_ns);
};

extern const struct cio__backend_ops cio__epoll_ops;
#ifdef CIO_HAVE_URING
extern const struct cio__backend_ops cio__uring_ops;
#endif

/* Called by a backend for each ready fd; events are CIO_READABLE |
 * CIO_WRITABLE, with an error or hang-up reported as both. */
void cio__io_ready(struct cio__loop *loop, int fd, unsigned events);

#endif
