/* Writing (asyncio's StreamWriter): write never suspends; what the kernel
 * does not take at once is buffered and flushed by a writer callback of
 * the loop; drain is the backpressure point (high and low water marks). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "net/internal.h"

void cio__stream_wake_drainers(cio_stream *s, int code)
{
    cio__list_foreach(it, &s->drainers)
        cio__wake(cio__container_of(it, struct cio__waiter, link)->task, code);
}

void cio__stream_disarm_writer(cio_stream *s)
{
    if (s->writer_armed) {
        cio_remove_writer(s->fd);
        s->writer_armed = false;
    }
}

static void shut_wr(cio_stream *s)
{
    s->eof_pending = false;
    s->wr_shut = true;
    if (shutdown(s->fd, SHUT_WR) < 0 && errno != ENOTCONN)
        s->werr = -errno;
}

/* One send of the buffered data; called by the loop when the fd is
 * writable, and by drain when it waits without the callback. */
void cio__stream_flush_some(cio_stream *s)
{
    if (s->wlen) {
        ssize_t r = cio__stream_send(s, s->wbuf + s->woff, s->wlen);
        if (r > 0) {
            s->woff += (size_t)r;
            s->wlen -= (size_t)r;
        } else if (r != -EAGAIN) {
            s->werr = r ? (int)r : -EPIPE;
            s->wlen = 0;
        }
    }
    if (!s->wlen) {
        s->woff = 0;
        cio__stream_disarm_writer(s);
        if (s->eof_pending && !s->werr)
            shut_wr(s);
    }
    if (s->wlen <= s->low || s->werr)
        cio__stream_wake_drainers(s, 0);
}

static void on_writable(void *arg)
{
    cio__stream_flush_some(arg);
}

static int append(cio_stream *s, const char *p, size_t n)
{
    if (s->woff && s->woff + s->wlen + n > s->wcap) {
        memmove(s->wbuf, s->wbuf + s->woff, s->wlen);
        s->woff = 0;
    }
    if (s->wlen + n > s->wcap) {
        size_t cap = s->wcap ? s->wcap : 4096;
        while (cap < s->wlen + n)
            cap *= 2;
        char *b = realloc(s->wbuf, cap);
        if (!b)
            return -ENOMEM;
        s->wbuf = b;
        s->wcap = cap;
    }
    memcpy(s->wbuf + s->woff + s->wlen, p, n);
    s->wlen += n;
    return 0;
}

/* Registers the flush callback. If the writable direction is taken (a
 * task waits on it during a TLS handshake), drain and flush send the data
 * themselves. */
static void arm_writer(cio_stream *s)
{
    if (!s->writer_armed && s->wlen && cio_add_writer(s->fd, on_writable, s) == 0)
        s->writer_armed = true;
}

int cio_stream_write(cio_stream *s, const void *buf, size_t n)
{
    if (!s || (!buf && n))
        return -EINVAL;
    if (s->closing || s->eof_pending || s->wr_shut)
        return -EPIPE;
    if (s->werr)
        return s->werr;
    if (!n)
        return 0;
    size_t off = 0;
    if (!s->wlen) {
        ssize_t r = cio__stream_send(s, buf, n);
        if (r > 0) {
            off = (size_t)r;
            if (off == n)
                return 0;
        } else if (r != -EAGAIN) {
            s->werr = r ? (int)r : -EPIPE;
            return s->werr;
        }
    }
    int rc = append(s, (const char *)buf + off, n - off);
    if (rc)
        return rc;
    arm_writer(s);
    return 0;
}

int cio_stream_writev(cio_stream *s, const struct iovec *iov, int iovcnt)
{
    if (!s || iovcnt < 0 || iovcnt > IOV_MAX || (!iov && iovcnt))
        return -EINVAL;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (!iov[i].iov_base && iov[i].iov_len)
            return -EINVAL;
        total += iov[i].iov_len;
    }
    if (s->closing || s->eof_pending || s->wr_shut)
        return -EPIPE;
    if (s->werr)
        return s->werr;
    if (!total)
        return 0;
    size_t sent = 0;
    if (!s->wlen && !s->ssl) {
        /* One sendmsg() for all the pieces: a header and a body go out in
         * one segment, without copying them together first. */
        struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
        ssize_t r = sendmsg(s->fd, &mh, MSG_NOSIGNAL);
        if (r >= 0)
            sent = (size_t)r;
        else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return s->werr = -errno;
        if (sent == total)
            return 0;
    } else if (!s->wlen) {
        /* TLS has no gather write: one record per piece would cost more
         * than copying them into the buffer and sending that. */
        for (int i = 0; i < iovcnt; i++) {
            int rc = append(s, iov[i].iov_base, iov[i].iov_len);
            if (rc)
                return rc;
        }
        cio__stream_flush_some(s);
        if (s->werr)
            return s->werr;
        if (s->wlen)
            arm_writer(s);
        return 0;
    }
    for (int i = 0; i < iovcnt; i++) {
        size_t len = iov[i].iov_len, skip = sent < len ? sent : len;
        sent -= skip;
        int rc = append(s, (const char *)iov[i].iov_base + skip, len - skip);
        if (rc)
            return rc;
    }
    arm_writer(s);
    return 0;
}

/* Waits until at most `target` bytes are buffered. */
int cio__stream_wait_buffer(cio_stream *s, size_t target)
{
    struct cio__task *t = cio__self();
    int rc = 0;
    while (!rc && s->wlen > target && !s->werr && !s->closing) {
        if (!t) {
            rc = cio__tls_loop ? CIO_ENOTTASK : CIO_ENOLOOP;
            break;
        }
        if (!s->writer_armed) {
            rc = cio__stream_wait(s, CIO_WRITABLE);
            if (rc > 0) {
                rc = 0;
                cio__stream_flush_some(s);
            }
            continue;
        }
        struct cio__waiter w = {.task = t};
        cio__list_push(&s->drainers, &w.link);
        rc = cio__net_suspend(t, "stream drain");
        cio__list_unlink(&w.link);
    }
    if (!rc && s->werr)
        rc = s->werr;
    if (!rc && s->closing)
        rc = -EBADF;
    return rc;
}

int cio_stream_drain(cio_stream *s)
{
    int rc = cio__stream_enter(s);
    if (rc)
        return rc == -EBADF ? -EPIPE : rc;
    if (s->werr)
        return (int)cio__stream_leave(s, s->werr);
    if (s->wlen <= s->high)
        return (int)cio__stream_leave(s, 0);
    return (int)cio__stream_leave(s, cio__stream_wait_buffer(s, s->low));
}

int cio_stream_flush(cio_stream *s)
{
    int rc = cio__stream_enter(s);
    if (rc)
        return rc == -EBADF ? -EPIPE : rc;
    return (int)cio__stream_leave(s, cio__stream_wait_buffer(s, 0));
}

int cio_stream_send(cio_stream *s, const void *buf, size_t n)
{
    int rc = cio_stream_write(s, buf, n);
    return rc ? rc : cio_stream_drain(s);
}

int cio_stream_write_eof(cio_stream *s)
{
    if (!s)
        return -EINVAL;
    if (s->ssl)
        return -ENOTSUP;
    if (s->closing || s->eof_pending || s->wr_shut)
        return -EPIPE;
    if (s->werr)
        return s->werr;
    if (s->wlen)
        s->eof_pending = true;
    else
        shut_wr(s);
    return s->werr;
}

bool cio_stream_can_write_eof(const cio_stream *s)
{
    return s && !s->ssl;
}

size_t cio_stream_write_buffer_size(const cio_stream *s)
{
    return s ? s->wlen : 0;
}

int cio_stream_set_write_buffer_limits(cio_stream *s, size_t high, size_t low)
{
    if (!s)
        return -EINVAL;
    s->high = high ? high : CIO_STREAM_HIGH_WATER;
    s->low = low > s->high ? s->high : low;
    return 0;
}
