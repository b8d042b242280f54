/* Reading (asyncio's StreamReader): read, readexactly, readuntil,
 * readline over the stream's read buffer.
 *
 * The read buffer is allocated only when a caller needs one (small reads,
 * readuntil), so 10,000 idle echo connections cost no buffer memory, and it
 * grows up to the limit. Waiting for data uses cio_wait_fd(), whose
 * interest in the fd stays in epoll between waits. After a recv() that
 * emptied the socket (it returned less than asked), the next read waits
 * first instead of trying a recv() that would only say EAGAIN: one syscall
 * per message, not two. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/internal.h"

#define SMALL_READ 1024 /* reads below this go through the buffer */
#define RBUF_FIRST 4096 /* first read buffer size */

static int enter_read(cio_stream *s)
{
    if (s && s->rbusy)
        return -EBUSY;
    int rc = cio__stream_enter(s);
    if (rc == 0)
        s->rbusy = true;
    return rc;
}

static ssize_t leave_read(cio_stream *s, ssize_t rc)
{
    s->rbusy = false;
    return cio__stream_leave(s, rc);
}

/* Receives into buf, waiting as needed: > 0, 0 at end of stream, error. */
static ssize_t recv_wait(cio_stream *s, void *buf, size_t n)
{
    if (s->eof)
        return 0;
    if (s->rerr)
        return s->rerr;
    for (;;) {
        if (!s->rdrained) {
            ssize_t r = cio__stream_recv(s, buf, n);
            if (r > 0) {
                s->rdrained = (size_t)r < n && (!s->ssl || !cio__tls_pending(s));
                return r;
            }
            if (r == 0 && s->werr && s->werr != -EPIPE && s->werr != -ECONNABORTED) {
                /* A write met the connection's failure (a reset) first and
                 * took the kernel's error: recv() only sees the socket
                 * shut. That is no clean end of stream. */
                s->rerr = s->werr;
                return s->rerr;
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

ssize_t cio_stream_read_all(cio_stream *s, char **out, size_t max)
{
    if (!out || !max)
        return -EINVAL;
    *out = NULL;
    int rc = enter_read(s);
    if (rc)
        return rc;
    /* Accumulate in the read buffer itself, so that on a limit overrun or
     * an error the data stays where cio_stream_read() finds it. */
    ssize_t r = 1;
    while (r > 0) {
        if (s->rlen > max)
            return leave_read(s, CIO_ELIMIT);
        r = fill(s, max < SIZE_MAX ? max + 1 : max);
    }
    if (r < 0)
        return leave_read(s, r == CIO_ELIMIT ? CIO_ELIMIT : r);
    char *p = malloc(s->rlen + 1);
    if (!p)
        return leave_read(s, -ENOMEM);
    size_t n = s->rlen;
    if (n)
        memcpy(p, s->rbuf + s->roff, n);
    p[n] = 0;
    consume(s, n);
    *out = p;
    return leave_read(s, (ssize_t)n);
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
