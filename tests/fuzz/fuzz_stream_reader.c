/* The stream reader (read, readexactly, readuntil, readline, read_all)
 * against a model of what each call must return, on data that arrives in
 * chunks of any size, at any moment, with any reader limit.
 *
 * The input is a program:
 *   byte 0      the reader limit: 1..64 bytes, or the default from 192 on
 *   byte 1      the seed of the chunking (sizes 1..64, 0..2 yields between)
 *   byte 2      n, the number of calls (at most 32), then n × 3 bytes:
 *               call kind, size argument, separator choice
 *   the rest    the data a peer sends, then it closes
 * The model keeps the data and how much of it was consumed; every result,
 * every byte returned and every error code is checked against it, and at
 * the end the rest of the data must still be readable, in order. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cio.h>
#include <cio/net.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s (call %d)\n", __FILE__, __LINE__, #cond,      \
                    call_no);                                                                      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

enum { READ, READEXACTLY, READUNTIL, READLINE, READ_ALL, KINDS };

struct call {
    uint8_t kind, size, sep;
};

struct program {
    size_t limit; /* 0: the default */
    uint64_t chunk_seed;
    int ncalls;
    struct call calls[32];
    const uint8_t *data;
    size_t len;
    int fds[2];
};

static int call_no;

static const struct {
    const char *s;
    size_t len;
} seps[] = {{"\n", 1}, {"\r\n", 2}, {"ab", 2}, {"a", 1}, {"\0\0", 2}, {"abc", 3}};

static uint64_t next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* The peer: the data in chunks, yielding between them, then the end. */
static int writer(void *arg)
{
    struct program *p = arg;
    uint64_t x = p->chunk_seed * 2 + 1;
    size_t off = 0;
    int rc = 0;
    while (off < p->len && rc == 0) {
        size_t n = 1 + next(&x) % 64;
        if (n > p->len - off)
            n = p->len - off;
        /* At most 4 KiB in all: the socket buffer takes it without waiting. */
        if (write(p->fds[1], p->data + off, n) != (ssize_t)n)
            rc = -EIO;
        off += n;
        for (uint64_t y = next(&x) % 3; y > 0; y--)
            cio_yield();
    }
    close(p->fds[1]);
    return rc;
}

static const uint8_t *find(const uint8_t *h, size_t hl, const char *n, size_t nl)
{
    return hl >= nl ? memmem(h, hl, n, nl) : NULL;
}

static int reader(void *arg)
{
    struct program *p = arg;
    cio_stream *s;
    CHECK(cio_stream_from_fd(&s, p->fds[0]) == 0);
    CHECK(cio_stream_set_limit(s, p->limit) == 0);
    size_t limit = p->limit ? p->limit : CIO_STREAM_LIMIT;
    const uint8_t *d = p->data;
    size_t pos = 0, len = p->len;
    uint8_t buf[300];
    for (call_no = 0; call_no < p->ncalls; call_no++) {
        const struct call *c = &p->calls[call_no];
        size_t left = len - pos, size = c->size;
        const char *sep = seps[c->sep % 6].s;
        size_t seplen = seps[c->sep % 6].len;
        ssize_t r;
        switch (c->kind % KINDS) {
        case READ:
            r = cio_stream_read(s, buf, size);
            if (size == 0 || left == 0) {
                CHECK(r == 0);
            } else {
                CHECK(r >= 1 && (size_t)r <= size && (size_t)r <= left);
                CHECK(memcmp(buf, d + pos, (size_t)r) == 0);
                pos += (size_t)r;
            }
            break;
        case READEXACTLY:
            r = cio_stream_readexactly(s, buf, size);
            if (left >= size) {
                CHECK(r == (ssize_t)size);
                CHECK(memcmp(buf, d + pos, size) == 0);
                pos += size;
            } else {
                CHECK(r == CIO_EINCOMPLETE);
                CHECK(cio_stream_partial(s) == left);
                CHECK(memcmp(buf, d + pos, left) == 0);
                pos = len;
            }
            break;
        case READUNTIL:
        case READLINE: {
            bool line = c->kind % KINDS == READLINE;
            if (line) {
                sep = "\n";
                seplen = 1;
                r = cio_stream_readline(s, buf, size);
            } else {
                r = cio_stream_readuntil(s, sep, seplen, buf, size);
            }
            if (size == 0 || size < seplen) {
                CHECK(r == -EINVAL);
                break;
            }
            size_t max = size < limit ? size : limit;
            const uint8_t *at = find(d + pos, left, sep, seplen);
            size_t want = at ? (size_t)(at - (d + pos)) + seplen : 0;
            if (at && want <= max) {
                CHECK(r == (ssize_t)want);
            } else if (at || left >= max) {
                CHECK(r == CIO_ELIMIT); /* the data stays */
                break;
            } else if (line) {
                CHECK(r == (ssize_t)left); /* the unterminated rest */
            } else {
                CHECK(r == CIO_EINCOMPLETE); /* the data stays */
                break;
            }
            CHECK(memcmp(buf, d + pos, (size_t)r) == 0);
            pos += (size_t)r;
            break;
        }
        default: {
            char *all = NULL;
            r = cio_stream_read_all(s, &all, size);
            if (size == 0) {
                CHECK(r == -EINVAL);
            } else if (left <= size) {
                CHECK(r == (ssize_t)left && all != NULL && all[left] == 0);
                CHECK(memcmp(all, d + pos, left) == 0);
                pos = len;
            } else {
                CHECK(r == CIO_ELIMIT && all == NULL);
            }
            free(all);
            break;
        }
        }
        CHECK(cio_stream_buffered(s) <= len - pos);
    }
    /* Whatever the calls left must come out whole and in order. */
    char *rest = NULL;
    ssize_t r = cio_stream_read_all(s, &rest, 1 << 20);
    CHECK(r == (ssize_t)(len - pos) && memcmp(rest, d + pos, len - pos) == 0);
    CHECK(cio_stream_at_eof(s));
    free(rest);
    cio_stream_abort(s);
    return 0;
}

static int run(void *arg)
{
    cio_task w = cio_spawn(writer, arg);
    cio_task r = cio_spawn(reader, arg);
    int rc = cio_join(r);
    int wc = cio_join(w);
    return rc ? rc : wc;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
    if (n < 3)
        return 0;
    struct program p = {0};
    p.limit = in[0] >= 192 ? 0 : (size_t)(in[0] % 64) + 1;
    p.chunk_seed = in[1];
    p.ncalls = in[2] % 33;
    size_t at = 3;
    for (int i = 0; i < p.ncalls; i++, at += 3) {
        if (at + 3 > n) {
            p.ncalls = i;
            break;
        }
        p.calls[i] = (struct call){in[at], in[at + 1], in[at + 2]};
    }
    if (at > n)
        at = n;
    p.data = in + at;
    p.len = n - at;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, p.fds) != 0)
        abort();
    cio_run_options o = {.virtual_clock = true};
    int rc = cio_run_with(&o, run, &p);
    call_no = -1;
    CHECK(rc == 0);
    return 0;
}
