/* Misbehaving HTTP peers: see peer.h. One connection at a time, blocking
 * I/O on the peer's own thread, poll() on the stop pipe so it ends
 * promptly. */

#include "peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static bool wait_in(struct peer *p, int fd, int ms)
{
    struct pollfd f[2] = {{.fd = fd, .events = POLLIN}, {.fd = p->stop[0], .events = POLLIN}};
    int n = poll(f, 2, ms);
    return n > 0 && !(f[1].revents & POLLIN) && (f[0].revents & (POLLIN | POLLHUP | POLLERR));
}

static bool stopping(struct peer *p)
{
    struct pollfd f = {.fd = p->stop[0], .events = POLLIN};
    return poll(&f, 1, 0) > 0;
}

/* Reads one request (head, then Content-Length or chunked body) into buf;
 * returns its length, or -1 if the client went away. */
static long read_request(struct peer *p, int fd, char *buf, size_t cap)
{
    size_t n = 0;
    long head = -1, need = -1;
    while (n < cap - 1) {
        if (!wait_in(p, fd, 5000))
            return -1;
        ssize_t k = read(fd, buf + n, cap - 1 - n);
        if (k <= 0)
            return n ? (long)n : -1;
        n += (size_t)k;
        buf[n] = 0;
        if (head < 0) {
            char *e = strstr(buf, "\r\n\r\n");
            if (!e)
                continue;
            head = e + 4 - buf;
            char *cl = strcasestr(buf, "\r\ncontent-length:");
            if (cl && cl < e)
                need = head + atol(cl + 17);
            else if (strcasestr(buf, "\r\ntransfer-encoding: chunked"))
                need = -2;
            else
                need = head;
        }
        if (need >= 0 && (long)n >= need)
            return (long)n;
        if (need == -2 && strstr(buf + head, "\r\n0\r\n\r\n"))
            return (long)n;
    }
    return (long)n;
}

static void put(int fd, const void *d, size_t n)
{
    while (n) {
        ssize_t k = send(fd, d, n, MSG_NOSIGNAL);
        if (k <= 0)
            return;
        d = (const char *)d + k;
        n -= (size_t)k;
    }
}

/* PEER_DUPLEX: the answer starts before the request's body has come. */
static void serve_duplex(struct peer *p, int fd)
{
    static char buf[1 << 16];
    size_t n = 0;
    char *end = NULL;
    while (!end && n < sizeof buf - 1) {
        if (!wait_in(p, fd, 5000))
            return;
        ssize_t k = read(fd, buf + n, sizeof buf - 1 - n);
        if (k <= 0)
            return;
        n += (size_t)k;
        buf[n] = 0;
        end = strstr(buf, "\r\n\r\n");
    }
    char *cl = strcasestr(buf, "\r\ncontent-length:");
    if (!end || !cl || cl > end)
        return;
    long left = atol(cl + 17);
    __atomic_add_fetch(&p->requests, 1, __ATOMIC_SEQ_CST);
    static const char hd[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    put(fd, hd, sizeof hd - 1);
    size_t head = (size_t)(end + 4 - buf), have = n - head;
    memmove(buf, end + 4, have);
    for (;;) {
        if (have) {
            char size[32];
            int h = snprintf(size, sizeof size, "%zx\r\n", have);
            put(fd, size, (size_t)h);
            put(fd, buf, have);
            put(fd, "\r\n", 2);
            left -= (long)have;
            have = 0;
        }
        if (left <= 0 || !wait_in(p, fd, 5000))
            break;
        ssize_t k = read(fd, buf, sizeof buf);
        if (k <= 0)
            break;
        have = (size_t)k;
    }
    put(fd, "0\r\n\r\n", 5);
}

static void serve(struct peer *p, int fd)
{
    static char buf[1 << 20];
    if (p->mode == PEER_DUPLEX) {
        serve_duplex(p, fd);
        return;
    }
    for (;;) {
        long n = read_request(p, fd, buf, sizeof buf);
        if (n < 0)
            return;
        __atomic_add_fetch(&p->requests, 1, __ATOMIC_SEQ_CST);
        char head[256];
        switch (p->mode) {
        case PEER_ECHO: {
            int h = snprintf(head, sizeof head,
                             "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                             "Content-Length: %ld\r\n\r\n",
                             n);
            put(fd, head, (size_t)h);
            put(fd, buf, (size_t)n);
            continue; /* keep-alive */
        }
        case PEER_RESET: {
            static char body[100000];
            memset(body, 'x', sizeof body);
            int h = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
                             sizeof body);
            put(fd, head, (size_t)h);
            put(fd, body, sizeof body / 2);
            usleep(50000);
            struct linger l = {1, 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
            return;
        }
        case PEER_MALFORMED:
            put(fd, "HTTP/1.1 OK maybe\r\nfoo\r\n\r\n", 26);
            return;
        case PEER_SILENT:
            while (wait_in(p, fd, 100) || !stopping(p)) {
                char c;
                if (wait_in(p, fd, 0) && read(fd, &c, 1) <= 0)
                    return;
            }
            return;
        case PEER_SHORT: {
            static const char hd[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
            char body[500];
            memset(body, 'y', sizeof body);
            put(fd, hd, sizeof hd - 1);
            put(fd, body, sizeof body);
            return;
        }
        case PEER_CLOSE:
            return;
        case PEER_DELAY: {
            static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            if (wait_in(p, fd, 500) && !stopping(p))
                return; /* the client gave up: it closed or sent more */
            put(fd, ok, sizeof ok - 1);
            continue;
        }
        case PEER_ONE_SHOT: {
            static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            put(fd, ok, sizeof ok - 1);
            usleep(100000);
            return;
        }
        case PEER_BAD_GZIP: {
            static const char bad[] = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
                                      "Content-Length: 16\r\n\r\nthis is not gzip";
            put(fd, bad, sizeof bad - 1);
            continue;
        }
        case PEER_HEADERS: {
            static const char hd[] = "HTTP/1.1 200 Fine\r\nX-Spaces:   padded value \t \r\n"
                                     "X-Tab:\tt\r\nX-Empty:\r\nX-Dup: 1\r\nx-dup: 2\r\n"
                                     "Transfer-Encoding: chunked\r\n"
                                     "X-Fold: a\r\n  b \r\n\tc\r\n\r\n"
                                     "5\r\nhello\r\n0\r\nX-Trailer: t\r\n u\r\n"
                                     "X-Empty-Trailer:\r\n v\r\n\r\n";
            put(fd, hd, sizeof hd - 1);
            continue;
        }
        case PEER_NUL_HEADER: {
            /* A NUL would cut the line in two for code that reads it as a
             * C string: "X-Evil" must not become a header. */
            static const char hd[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                     "X-A: a\0X-Evil: injected\r\n\r\nok";
            put(fd, hd, sizeof hd - 1);
            continue;
        }
        case PEER_CR_HEADER:
        case PEER_BAD_NAME:
        case PEER_SPACE_COLON:
        case PEER_FOLD_FIRST:
        case PEER_NO_COLON: {
            /* What each smuggles past a lenient parser: "X-Evil". */
            static const char *const hd[] = {
                [PEER_CR_HEADER] = "X-A: a\rX-Evil: injected\r\n",
                [PEER_BAD_NAME] = "X A: a\r\n",
                [PEER_SPACE_COLON] = "X-Evil : injected\r\n",
                [PEER_FOLD_FIRST] = " X-Evil: injected\r\n",
                [PEER_NO_COLON] = "X-Evil injected\r\n",
            };
            char answer[256];
            int len = snprintf(answer, sizeof answer,
                               "HTTP/1.1 200 OK\r\n%sContent-Length: 2\r\n\r\nok", hd[p->mode]);
            put(fd, answer, (size_t)len);
            continue;
        }
        case PEER_BIG_HEADER: {
            static char line[200000];
            memset(line, 'a', sizeof line);
            static const char hd[] = "HTTP/1.1 200 OK\r\nX-Big: ";
            static const char tail[] = "\r\nContent-Length: 2\r\n\r\nok";
            put(fd, hd, sizeof hd - 1);
            put(fd, line, sizeof line);
            put(fd, tail, sizeof tail - 1);
            return;
        }
        case PEER_DUPLEX:
            return; /* serve_duplex() */
        case PEER_BAD_STATUS: {
            static const char hd[] = "HTTP/nt-Length: 1000\r\n\r\nshort";
            put(fd, hd, sizeof hd - 1);
            return;
        }
        case PEER_SLOW_BODY: {
            static const char hd[] = "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n";
            put(fd, hd, sizeof hd - 1);
            for (int i = 0; i < 50 && !stopping(p); i++) {
                put(fd, "z", 1);
                usleep(100000);
            }
            return;
        }
        }
    }
}

static void *run(void *arg)
{
    struct peer *p = arg;
    while (!stopping(p)) {
        if (!wait_in(p, p->fd, 100))
            continue;
        int c = accept(p->fd, NULL, NULL);
        if (c < 0)
            continue;
        __atomic_add_fetch(&p->connections, 1, __ATOMIC_SEQ_CST);
        serve(p, c);
        close(c);
    }
    return NULL;
}

int peer_start(struct peer *p, enum peer_mode mode)
{
    memset(p, 0, sizeof *p);
    p->mode = mode;
    p->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (p->fd < 0 || pipe(p->stop) < 0)
        return -1;
    int one = 1;
    setsockopt(p->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (bind(p->fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(p->fd, 64) < 0 ||
        getsockname(p->fd, (struct sockaddr *)&a, &len) < 0)
        return -1;
    p->port = ntohs(a.sin_port);
    snprintf(p->url, sizeof p->url, "http://127.0.0.1:%d/", p->port);
    return pthread_create(&p->thread, NULL, run, p) ? -1 : 0;
}

void peer_stop(struct peer *p)
{
    if (write(p->stop[1], "x", 1) != 1)
        return;
    pthread_join(p->thread, NULL);
    close(p->fd);
    close(p->stop[0]);
    close(p->stop[1]);
}
