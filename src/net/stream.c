/* Streams: making and releasing them, closing (asyncio's close() and
 * wait_closed()) and what they tell about themselves. Reading is in
 * reader.c, writing in writer.c.
 *
 * The hot path is kept to what a callback library does: a read with no
 * buffered data goes straight into the caller's buffer with one recv(); a
 * write with an empty buffer goes straight to send(). Both buffers are
 * allocated on first need and kept for the stream's life: no allocation in
 * steady state. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/internal.h"

#define CLOSE_TIMEOUT 5.0

int cio__stream_new(cio_stream **out, int fd)
{
    cio_stream *s = calloc(1, sizeof *s);
    if (!s) {
        close(fd);
        return -ENOMEM;
    }
    s->fd = fd;
    s->limit = CIO_STREAM_LIMIT;
    s->high = CIO_STREAM_HIGH_WATER;
    s->low = CIO_STREAM_LOW_WATER;
    s->close_timeout = CLOSE_TIMEOUT;
    cio__list_init(&s->drainers);
    *out = s;
    return 0;
}

void cio__stream_free(cio_stream *s)
{
    if (!s)
        return;
    if (s->users) {
        s->release_pending = true;
        return;
    }
    if (s->ssl)
        cio__tls_free(s);
    free(s->rbuf);
    free(s->wbuf);
    free(s);
}

void cio__stream_destroy(cio_stream *s)
{
    if (!s)
        return;
    if (s->fd >= 0) {
        cio_forget_fd(s->fd);
        close(s->fd);
    }
    cio__stream_free(s);
}

void cio__stream_detail(cio_stream *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->detail, sizeof s->detail, fmt, ap);
    va_end(ap);
}

int cio_stream_from_fd(cio_stream **out, int fd)
{
    if (fd < 0)
        return -EINVAL;
    if (!out) {
        close(fd);
        return -EINVAL;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    int rc = cio__stream_new(out, fd);
    if (rc == 0) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_UNIX)
            (*out)->is_unix = true;
    }
    return rc;
}

int cio__stream_wait(cio_stream *s, int events)
{
    /* A task that resumes after a close began must not wait again: the
     * close is waiting for it to leave. */
    if (s->closing)
        return -EBADF;
    if ((events & CIO_WRITABLE) && s->writer_armed) {
        /* The writable direction belongs to our own flush callback (only
         * TLS gets here: a read that must first write). Its progress is
         * what we wait for; poll gently rather than steal the fd. */
        int rc = cio_sleep(0.001);
        return rc < 0 ? rc : s->closing ? -EBADF : CIO_WRITABLE;
    }
    int rc = cio_wait_fd(s->fd, events, -1);
    if (rc >= 0 && s->closing)
        return -EBADF;
    return rc;
}

/* ---- closing ------------------------------------------------------------ */

void cio_stream_set_close_timeout(cio_stream *s, double seconds)
{
    if (s)
        s->close_timeout = seconds;
}

/* The polite part of closing: flush, then TLS close_notify. */
static int close_politely(cio_stream *s)
{
    int rc = 0;
    cio_scope sc = {0};
    if (s->close_timeout >= 0)
        cio_timeout_enter(&sc, s->close_timeout);
    s->users++;
    rc = cio__stream_wait_buffer(s, 0);
    s->users--;
    if (!rc && s->ssl)
        rc = cio__tls_shutdown(s, true);
    if (sc.entered_)
        cio_scope_exit(&sc);
    return rc;
}

static int close_common(cio_stream *s, bool wait)
{
    int rc = 0;
    struct cio__task *t = cio__self();
    if (wait && t && !cio__interrupted(t) && !s->werr && !s->rerr && s->close_timeout != 0) {
        rc = close_politely(s);
    } else if (!s->werr) {
        /* No waiting: hand the kernel what it takes now. */
        if (s->wlen)
            cio__stream_flush_some(s);
        if (s->ssl && !s->werr && !s->rerr)
            cio__tls_shutdown(s, false);
        if (s->wlen)
            rc = -ETIMEDOUT;
    }
    if (!rc && s->werr && s->werr != -ECONNABORTED)
        rc = s->werr;
    else if (!rc && s->rerr)
        rc = s->rerr;
    s->closing = true;
    cio__stream_disarm_writer(s);
    cio_forget_fd(s->fd); /* wakes a reader waiting on the fd with -EBADF */
    cio__stream_wake_drainers(s, -EBADF);
    if (s->users && t) {
        /* Let the tasks still inside read, drain or handshake calls see
         * the close before the memory goes. Without a task to wait in (a
         * loop callback), cio__stream_free() leaves the release to the
         * last of them. */
        s->closer = t;
        while (s->users)
            cio__suspend_nointr(t, "stream close");
        s->closer = NULL;
    }
    close(s->fd);
    s->fd = -1;
    return rc;
}

int cio_stream_close(cio_stream *s)
{
    if (!s)
        return 0;
    if (s->closing)
        return s->server_owned ? 0 : -EBADF;
    int rc = close_common(s, true);
    if (!s->server_owned)
        cio__stream_free(s);
    return rc;
}

void cio_stream_abort(cio_stream *s)
{
    if (!s || s->closing)
        return;
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    if (!s->is_unix)
        setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    s->wlen = 0;
    s->werr = -ECONNABORTED;
    close_common(s, false);
    if (!s->server_owned)
        cio__stream_free(s);
}

/* ---- information -------------------------------------------------------- */

int cio_stream_fd(const cio_stream *s)
{
    return s ? s->fd : -EINVAL;
}

const char *cio_stream_peer(const cio_stream *s)
{
    if (!s)
        return "?";
    cio_stream *m = (cio_stream *)s; /* the text is made on first use */
    if (!m->peer[0]) {
        if (!m->peer_len) {
            m->peer_len = sizeof m->peer_ss;
            if (m->fd < 0 || getpeername(m->fd, (struct sockaddr *)&m->peer_ss, &m->peer_len) < 0)
                m->peer_len = 0;
        }
        if (!m->peer_len || cio_addr_format((struct sockaddr *)&m->peer_ss, m->peer_len, m->peer,
                                            sizeof m->peer) < 0)
            return "?";
    }
    return m->peer;
}

const char *cio_stream_error_detail(const cio_stream *s)
{
    return s ? s->detail : "";
}

int cio_stream_peername(const cio_stream *s, struct sockaddr_storage *ss, socklen_t *len)
{
    if (!s || !ss || !len || s->fd < 0)
        return -EINVAL;
    *len = sizeof *ss;
    return getpeername(s->fd, (struct sockaddr *)ss, len) < 0 ? -errno : 0;
}

int cio_stream_sockname(const cio_stream *s, struct sockaddr_storage *ss, socklen_t *len)
{
    if (!s || !ss || !len || s->fd < 0)
        return -EINVAL;
    *len = sizeof *ss;
    return getsockname(s->fd, (struct sockaddr *)ss, len) < 0 ? -errno : 0;
}

int cio_stream_set_nodelay(cio_stream *s, bool on)
{
    if (!s || s->fd < 0)
        return -EINVAL;
    if (s->is_unix)
        return -ENOTSUP;
    int v = on;
    return setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) < 0 ? -errno : 0;
}
