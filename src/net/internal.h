/* The network layer's private state: the stream object shared by
 * stream.c (buffers, reading, writing, closing), tcp.c and unix.c
 * (connecting), server.c (accepting) and tls.c (the OpenSSL transport).
 * No OpenSSL or c-ares type appears here: tls.c and dns.c keep theirs. */
#ifndef CIO_NET_INTERNAL_H
#define CIO_NET_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <errno.h>
#include <sys/socket.h>

#include "cio/dns.h"
#include "cio/net.h"
#include "cio/tls.h"
#include "task/task.h"

struct cio_stream {
    int fd;
    /* What the last transport call that returned -EAGAIN waits for:
     * CIO_READABLE or CIO_WRITABLE (TLS may need either for both). */
    int want;
    void *ssl; /* SSL *, NULL for a plain socket */

    /* Read side: data is rbuf[roff .. roff + rlen). */
    char *rbuf;
    size_t rcap, roff, rlen;
    size_t limit;
    size_t partial;
    int rerr;      /* a read error sticks: later reads return it */
    bool eof;      /* the peer ended the stream */
    bool rbusy;    /* a task is inside a read call */
    bool rdrained; /* the last recv() emptied the socket: wait before the next */

    /* Write side: data is wbuf[woff .. woff + wlen). */
    bool writer_armed; /* on_writable() is registered as the fd's writer */
    bool eof_pending;  /* write_eof() once the buffer is empty */
    bool wr_shut;      /* the sending side is shut */
    int werr;          /* a write error sticks */
    char *wbuf;
    size_t wcap, woff, wlen;
    size_t high, low;
    struct cio__list drainers; /* struct cio__waiter: drain() and flush() */

    /* Lifetime. */
    bool closing;      /* close() started: every call fails with -EBADF */
    bool server_owned; /* released by the server after the handler */
    bool is_unix;
    int users;                /* tasks inside read, drain or handshake calls */
    struct cio__task *closer; /* close() waiting for them to leave */
    bool release_pending;     /* released while users > 0: the last one frees */
    double close_timeout;

    /* For humans. */
    struct sockaddr_storage peer_ss;
    socklen_t peer_len;
    char peer[112];
    char detail[256];
};

/* cio__suspend() for the net layer's own waits: a cancellation or an
 * expired timeout that arrived while the task was not parked (it was
 * ready, woken by something else) must still end the wait at once, as
 * cancellation is level-triggered. */
static inline int cio__net_suspend(struct cio__task *t, const char *what)
{
    int rc = cio__interrupted(t);
    return rc ? rc : cio__suspend(t, what);
}

/* Makes a stream for a connected, non-blocking socket; takes fd (closed on
 * failure). Returns 0 or -ENOMEM. */
int cio__stream_new(cio_stream **out, int fd);

/* Releases the memory of a stream whose fd is already closed (or closes
 * it: cio__stream_destroy). While tasks are still inside calls on it (a
 * close from a loop callback cannot wait for them), the release is left
 * to the last of them: see cio__stream_leave(). */
void cio__stream_free(cio_stream *s);

/* Closes the fd without waiting for anything and frees: error paths. */
void cio__stream_destroy(cio_stream *s);

/* Records a human-readable detail on the stream. */
void cio__stream_detail(cio_stream *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Waits until fd is ready for `events`; copes with the stream's own writer
 * callback holding the writable direction. Returns > 0 or an error. */
int cio__stream_wait(cio_stream *s, int events);

/* ---- TLS transport (tls.c) ---------------------------------------------- */

/* Performs a TLS handshake on s as client (hostname: SNI and verification
 * name, may be NULL) or server, within timeout seconds (0: 60 s). */
int cio__tls_start(cio_stream *s, cio_tls_ctx *ctx, const char *hostname, bool server,
                   double timeout);

/* Transport calls: > 0 bytes, 0 at a clean end of stream, -EAGAIN with
 * s->want set, or an error. */
ssize_t cio__tls_recv(cio_stream *s, void *buf, size_t n);
ssize_t cio__tls_send(cio_stream *s, const void *buf, size_t n);

/* Whether OpenSSL holds received bytes not yet returned (so the socket's
 * readiness says nothing about them). */
bool cio__tls_pending(const cio_stream *s);

/* Sends close_notify and, if wait, waits for the peer's (callers bound it
 * with a timeout scope). */
int cio__tls_shutdown(cio_stream *s, bool wait);

/* Takes and drops a reference to a context (servers keep one). */
void cio__tls_ctx_ref(cio_tls_ctx *ctx);
void cio__tls_ctx_unref(cio_tls_ctx *ctx);

/* Releases the SSL object. */
void cio__tls_free(cio_stream *s);

/* ---- shared by stream.c, reader.c and writer.c --------------------------- */

/* The transport: > 0 bytes, 0 at end of stream, -EAGAIN with s->want set,
 * or an error. Inline: they are the hot path of every read and write. */
static inline ssize_t cio__stream_recv(cio_stream *s, void *buf, size_t n)
{
    if (s->ssl)
        return cio__tls_recv(s, buf, n);
    ssize_t r = recv(s->fd, buf, n, 0);
    if (r >= 0)
        return r;
    s->want = CIO_READABLE;
    return errno == EWOULDBLOCK ? -EAGAIN : errno == EINTR ? -EAGAIN : -errno;
}

static inline ssize_t cio__stream_send(cio_stream *s, const void *buf, size_t n)
{
    if (s->ssl)
        return cio__tls_send(s, buf, n);
    ssize_t r = send(s->fd, buf, n, MSG_NOSIGNAL);
    if (r >= 0)
        return r;
    s->want = CIO_WRITABLE;
    return errno == EWOULDBLOCK ? -EAGAIN : errno == EINTR ? -EAGAIN : -errno;
}

/* Every suspending call checks for interruption on entry, even when the
 * data is already there: with level-triggered cancellation a cancelled
 * task's read loop must end. */
static inline int cio__stream_enter(cio_stream *s)
{
    if (!s)
        return -EINVAL;
    if (s->closing)
        return -EBADF;
    struct cio__task *t = cio__self();
    if (t) {
        int rc = cio__interrupted(t);
        if (rc)
            return rc;
    }
    s->users++;
    return 0;
}

/* The last call to leave wakes a close waiting for it, or releases a
 * stream that was released while it was inside. Nothing may touch s after
 * this. */
static inline ssize_t cio__stream_leave(cio_stream *s, ssize_t rc)
{
    if (--s->users == 0) {
        if (s->closer)
            cio__wake(s->closer, 0);
        else if (s->release_pending)
            cio__stream_free(s);
    }
    return rc;
}

/* Writer side helpers used by close (writer.c). */
void cio__stream_flush_some(cio_stream *s);
void cio__stream_disarm_writer(cio_stream *s);
void cio__stream_wake_drainers(cio_stream *s, int code);
int cio__stream_wait_buffer(cio_stream *s, size_t target);

/* ---- sockets (tcp.c) ---------------------------------------------------- */

/* Connects a new non-blocking socket to one address, waiting in the
 * calling task. Returns the fd or an error. */
int cio__connect_addr(const struct sockaddr *sa, socklen_t len);

/* Resolves host:port to a list: numeric hosts without DNS, names through
 * cio_dns_resolve(). */
int cio__resolve(const char *host, int port, int family, int socktype, const cio_dns_options *dns,
                 cio_addrinfo **out);

/* Happy Eyeballs over a list of addresses (happy_eyeballs.c). Returns the
 * connected fd or the last attempt's error; *which receives the address
 * that won. */
int cio__happy_eyeballs(const cio_addrinfo *list, double delay, const cio_addrinfo **which);

/* Sets the socket options every cio TCP stream gets (TCP_NODELAY). */
void cio__tcp_tune(int fd);

#endif
