/* Streams: the read buffer (asyncio's StreamReader), the write buffer and
 * its background flushing (StreamWriter), and closing.
 *
 * The hot path is kept to what a callback library does: a read with no
 * buffered data goes straight into the caller's buffer with one recv(); a
 * write with an empty buffer goes straight to send(). The read buffer is
 * allocated only when a caller needs one (small reads, readuntil), so
 * 10,000 idle echo connections cost no buffer memory at all, and both
 * buffers are kept for the stream's life: no allocation in steady state.
 *
 * Waiting for data uses cio_wait_fd(), whose interest in the fd stays in
 * epoll between waits. After a recv() that emptied the socket (it returned
 * less than asked), the next read waits first instead of trying a recv()
 * that would only say EAGAIN: one syscall per message, not two. */
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

#define SMALL_READ 1024 /* reads below this go through the buffer */
#define RBUF_FIRST 4096 /* first read buffer size */
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

/* ---- transport ---------------------------------------------------------- */

static ssize_t io_recv(cio_stream *s, void *buf, size_t n)
{
    if (s->ssl)
        return cio__tls_recv(s, buf, n);
    ssize_t r = recv(s->fd, buf, n, 0);
    if (r >= 0)
        return r;
    s->want = CIO_READABLE;
    return errno == EWOULDBLOCK ? -EAGAIN : errno == EINTR ? -EAGAIN : -errno;
}

static ssize_t io_send(cio_stream *s, const void *buf, size_t n)
{
    if (s->ssl)
        return cio__tls_send(s, buf, n);
    ssize_t r = send(s->fd, buf, n, MSG_NOSIGNAL);
    if (r >= 0)
        return r;
    s->want = CIO_WRITABLE;
    return errno == EWOULDBLOCK ? -EAGAIN : errno == EINTR ? -EAGAIN : -errno;
}

int cio__stream_wait(cio_stream *s, int events)
{
    if ((events & CIO_WRITABLE) && s->writer_armed) {
        /* The writable direction belongs to our own flush callback (only
         * TLS gets here: a read that must first write). Its progress is
         * what we wait for; poll gently rather than steal the fd. */
        int rc = cio_sleep(0.001);
        return rc < 0 ? rc : CIO_WRITABLE;
    }
    int rc = cio_wait_fd(s->fd, events, -1);
    if (rc >= 0 && s->closing)
        return -EBADF;
    return rc;
}

/* ---- entering and leaving calls ----------------------------------------- */

/* Every suspending call checks for interruption on entry, even when the
 * data is already there: with level-triggered cancellation a cancelled
 * task's read loop must end. */
static int enter(cio_stream *s)
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

static ssize_t leave(cio_stream *s, ssize_t rc)
{
    if (--s->users == 0 && s->closer)
        cio__wake(s->closer, 0);
    return rc;
}

static int enter_read(cio_stream *s)
{
    if (s && s->rbusy)
        return -EBUSY;
    int rc = enter(s);
    if (rc == 0)
        s->rbusy = true;
    return rc;
}

static ssize_t leave_read(cio_stream *s, ssize_t rc)
{
    s->rbusy = false;
    return leave(s, rc);
}

/* ---- reading ------------------------------------------------------------ */

/* Receives into buf, waiting as needed: > 0, 0 at end of stream, error. */
static ssize_t recv_wait(cio_stream *s, void *buf, size_t n)
{
    if (s->eof)
        return 0;
    if (s->rerr)
        return s->rerr;
    for (;;) {
        if (!s->rdrained) {
            ssize_t r = io_recv(s, buf, n);
            if (r > 0) {
                s->rdrained = (size_t)r < n && (!s->ssl || !cio__tls_pending(s));
                return r;
            }
            if (r == 0) {
                s->eof = true;
                return 0;
            }
            if (r != -EAGAIN) {
                s->rerr = (int)r;
                return r;
            }
        } else {
            s->want = CIO_READABLE;
        }
        s->rdrained = false;
        int rc = cio__stream_wait(s, s->want);
        if (rc < 0)
            return rc;
    }
}

static void consume(cio_stream *s, size_t k)
{
    s->roff += k;
    s->rlen -= k;
    if (s->rlen == 0)
        s->roff = 0;
}

/* Makes room for more data in rbuf (compacting, then growing up to the
 * limit or `need`). Returns the free space, 0 if full, or -ENOMEM. */
static ssize_t rbuf_room(cio_stream *s, size_t need)
{
    if (s->roff + s->rlen < s->rcap)
        return (ssize_t)(s->rcap - s->roff - s->rlen);
    if (s->roff) {
        memmove(s->rbuf, s->rbuf + s->roff, s->rlen);
        s->roff = 0;
        return (ssize_t)(s->rcap - s->rlen);
    }
    size_t max = need > s->limit ? need : s->limit;
    if (max < RBUF_FIRST)
        max = RBUF_FIRST;
    if (s->rcap >= max)
        return 0;
    size_t cap = s->rcap ? s->rcap * 2 : RBUF_FIRST;
    if (cap > max)
        cap = max;
    char *b = realloc(s->rbuf, cap);
    if (!b)
        return -ENOMEM;
    s->rbuf = b;
    s->rcap = cap;
    return (ssize_t)(cap - s->rlen);
}

/* Reads more into rbuf: > 0 bytes added, 0 at end of stream, error. */
static ssize_t fill(cio_stream *s, size_t need)
{
    ssize_t room = rbuf_room(s, need);
    if (room <= 0)
        return room < 0 ? room : CIO_ELIMIT;
    ssize_t r = recv_wait(s, s->rbuf + s->roff + s->rlen, (size_t)room);
    if (r > 0)
        s->rlen += (size_t)r;
    return r;
}

ssize_t cio_stream_read(cio_stream *s, void *buf, size_t n)
{
    if (!buf && n)
        return -EINVAL;
    int rc = enter_read(s);
    if (rc)
        return rc;
    if (n == 0)
        return leave_read(s, 0);
    ssize_t r;
    if (!s->rlen && n >= SMALL_READ) {
        r = recv_wait(s, buf, n); /* straight into the caller's buffer */
    } else {
        r = s->rlen ? 1 : fill(s, 0);
        if (r > 0) {
            r = (ssize_t)(n < s->rlen ? n : s->rlen);
            memcpy(buf, s->rbuf + s->roff, (size_t)r);
            consume(s, (size_t)r);
        }
    }
    return leave_read(s, r);
}

ssize_t cio_stream_readexactly(cio_stream *s, void *buf, size_t n)
{
    if (!buf && n)
        return -EINVAL;
    int rc = enter_read(s);
    if (rc)
        return rc;
    size_t got = s->rlen < n ? s->rlen : n;
    if (got) {
        memcpy(buf, s->rbuf + s->roff, got);
        consume(s, got);
    }
    while (got < n) {
        ssize_t r = recv_wait(s, (char *)buf + got, n - got);
        if (r <= 0) {
            s->partial = got;
            return leave_read(s, r == 0 ? CIO_EINCOMPLETE : r);
        }
        got += (size_t)r;
    }
    s->partial = 0;
    return leave_read(s, (ssize_t)n);
}

/* Looks for sep in the buffer from `from`; returns the length of the chunk
 * with the separator, or 0. */
static size_t find_sep(const cio_stream *s, const void *sep, size_t seplen, size_t from)
{
    if (s->rlen < seplen)
        return 0;
    const char *p = memmem(s->rbuf + s->roff + from, s->rlen - from, sep, seplen);
    return p ? (size_t)(p - (s->rbuf + s->roff)) + seplen : 0;
}

static ssize_t until(cio_stream *s, const void *sep, size_t seplen, void *buf, size_t size,
                     bool line)
{
    size_t max = size < s->limit ? size : s->limit;
    size_t from = 0;
    for (;;) {
        size_t len = find_sep(s, sep, seplen, from);
        if (len) {
            if (len > max)
                return CIO_ELIMIT;
            memcpy(buf, s->rbuf + s->roff, len);
            consume(s, len);
            return (ssize_t)len;
        }
        if (s->rlen >= max)
            return CIO_ELIMIT;
        from = s->rlen >= seplen ? s->rlen - seplen + 1 : 0;
        ssize_t r = fill(s, max);
        if (r == 0) {
            if (!line)
                return CIO_EINCOMPLETE;
            len = s->rlen; /* readline: the unterminated rest */
            memcpy(buf, s->rbuf + s->roff, len);
            consume(s, len);
            return (ssize_t)len;
        }
        if (r < 0)
            return r;
    }
}

ssize_t cio_stream_readuntil(cio_stream *s, const void *sep, size_t seplen, void *buf, size_t size)
{
    if (!sep || !seplen || !buf || seplen > size)
        return -EINVAL;
    int rc = enter_read(s);
    if (rc)
        return rc;
    return leave_read(s, until(s, sep, seplen, buf, size, false));
}

ssize_t cio_stream_readline(cio_stream *s, void *buf, size_t size)
{
    if (!buf || !size)
        return -EINVAL;
    int rc = enter_read(s);
    if (rc)
        return rc;
    return leave_read(s, until(s, "\n", 1, buf, size, true));
}

size_t cio_stream_partial(const cio_stream *s)
{
    return s ? s->partial : 0;
}

bool cio_stream_at_eof(const cio_stream *s)
{
    return s && s->eof && !s->rlen;
}

size_t cio_stream_buffered(const cio_stream *s)
{
    return s ? s->rlen : 0;
}

int cio_stream_set_limit(cio_stream *s, size_t limit)
{
    if (!s)
        return -EINVAL;
    s->limit = limit ? limit : CIO_STREAM_LIMIT;
    return 0;
}

/* ---- writing ------------------------------------------------------------ */

static void wake_drainers(cio_stream *s, int code)
{
    cio__list_foreach(it, &s->drainers)
        cio__wake(cio__container_of(it, struct cio__waiter, link)->task, code);
}

static void disarm_writer(cio_stream *s)
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
static void flush_some(cio_stream *s)
{
    if (s->wlen) {
        ssize_t r = io_send(s, s->wbuf + s->woff, s->wlen);
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
        disarm_writer(s);
        if (s->eof_pending && !s->werr)
            shut_wr(s);
    }
    if (s->wlen <= s->low || s->werr)
        wake_drainers(s, 0);
}

static void on_writable(void *arg)
{
    flush_some(arg);
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
        ssize_t r = io_send(s, buf, n);
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
    /* If the writable direction is taken (a task waits on it during a TLS
     * handshake), drain and flush send the data themselves. */
    if (!s->writer_armed && cio_add_writer(s->fd, on_writable, s) == 0)
        s->writer_armed = true;
    return 0;
}

/* Waits until at most `target` bytes are buffered. */
static int wait_buffer(cio_stream *s, size_t target)
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
                flush_some(s);
            }
            continue;
        }
        struct cio__waiter w = {.task = t};
        cio__list_push(&s->drainers, &w.link);
        rc = cio__suspend(t, "stream drain");
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
    int rc = enter(s);
    if (rc)
        return rc == -EBADF ? -EPIPE : rc;
    if (s->werr)
        return (int)leave(s, s->werr);
    if (s->wlen <= s->high)
        return (int)leave(s, 0);
    return (int)leave(s, wait_buffer(s, s->low));
}

int cio_stream_flush(cio_stream *s)
{
    int rc = enter(s);
    if (rc)
        return rc == -EBADF ? -EPIPE : rc;
    return (int)leave(s, wait_buffer(s, 0));
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
    rc = wait_buffer(s, 0);
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
            flush_some(s);
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
    disarm_writer(s);
    cio_forget_fd(s->fd); /* wakes a reader waiting on the fd with -EBADF */
    wake_drainers(s, -EBADF);
    if (s->users && t) {
        /* Let the tasks still inside read or drain calls see the close
         * before the memory goes. */
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
