/* TCP clients: addresses, one non-blocking connect, and
 * cio_open_connection() (resolve, Happy Eyeballs, optional TLS). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/internal.h"

int cio_addr_parse(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    if (!ss || !len || port < 0 || port > 65535)
        return -EINVAL;
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (!ip || inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof *a4;
        return 0;
    }
    /* Accept "[::1]" as well as "::1". */
    char tmp[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(ip);
    if (n >= 2 && ip[0] == '[' && ip[n - 1] == ']' && n - 2 < sizeof tmp) {
        memcpy(tmp, ip + 1, n - 2);
        tmp[n - 2] = 0;
        ip = tmp;
    }
    if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof *a6;
        return 0;
    }
    return -EINVAL;
}

int cio_addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
{
    if (!sa || !buf || !size)
        return -EINVAL;
    char ip[INET6_ADDRSTRLEN];
    int n;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        n = snprintf(buf, size, "%s:%u", ip, ntohs(a->sin_port));
    } else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        n = snprintf(buf, size, "[%s]:%u", ip, ntohs(a->sin6_port));
    } else if (sa->sa_family == AF_UNIX) {
        const struct sockaddr_un *a = (const struct sockaddr_un *)sa;
        size_t plen = len > offsetof(struct sockaddr_un, sun_path)
                          ? len - offsetof(struct sockaddr_un, sun_path)
                          : 0;
        n = snprintf(buf, size, "%.*s", (int)strnlen(a->sun_path, plen), plen ? a->sun_path : "");
        if (n == 0)
            n = snprintf(buf, size, "unix:unnamed");
    } else {
        buf[0] = 0;
        return -EINVAL;
    }
    if (n < 0 || (size_t)n >= size)
        return -EINVAL;
    return n;
}

void cio__tcp_tune(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* A Unix socket whose listener's backlog is full says EAGAIN, and there
 * is no readiness to wait for on an unconnected socket: retry with a short
 * back-off (1 ms doubling to 50 ms) until it connects or the caller's
 * timeout or cancellation ends it. */
static int connect_unix(int fd, const struct sockaddr *sa, socklen_t len)
{
    double delay = 0.001;
    while (connect(fd, sa, len) < 0) {
        if (errno == EISCONN)
            return 0;
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
        int rc = cio_sleep(delay);
        if (rc < 0)
            return rc;
        delay = delay * 2 > 0.05 ? 0.05 : delay * 2;
    }
    return 0;
}

static int connect_inet(int fd, const struct sockaddr *sa, socklen_t len)
{
    if (connect(fd, sa, len) == 0)
        return 0;
    if (errno != EINPROGRESS)
        return -errno;
    int rc = cio_wait_fd(fd, CIO_WRITABLE, -1);
    if (rc < 0)
        return rc;
    int err = 0;
    socklen_t elen = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
        err = errno;
    return -err;
}

int cio__connect_addr(const struct sockaddr *sa, socklen_t len)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = sa->sa_family == AF_UNIX ? connect_unix(fd, sa, len) : connect_inet(fd, sa, len);
    if (rc < 0) {
        cio_forget_fd(fd);
        close(fd);
        return rc;
    }
    if (sa->sa_family != AF_UNIX)
        cio__tcp_tune(fd);
    return fd;
}

int cio__resolve(const char *host, int port, int family, int socktype, const cio_dns_options *dns,
                 cio_addrinfo **out)
{
    (void)socktype;
    struct sockaddr_storage ss;
    socklen_t len;
    if (cio_addr_parse(host, port, &ss, &len) == 0) {
        if (family && ss.ss_family != family)
            return CIO_EDNS_NOTFOUND;
        cio_addrinfo *ai = calloc(1, sizeof *ai);
        if (!ai)
            return -ENOMEM;
        ai->family = ss.ss_family;
        ai->addrlen = len;
        ai->addr = ss;
        *out = ai;
        return 1;
    }
    return cio_dns_resolve(host, port, family, dns, out);
}

static void set_detail(const cio_connect_options *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_detail(const cio_connect_options *o, const char *fmt, ...)
{
    if (!o->error_detail || !o->error_detail_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->error_detail, o->error_detail_size, fmt, ap);
    va_end(ap);
}

/* Connects as opts say, inside the caller's timeout scope. */
static int open_tcp(cio_stream **out, const char *host, int port, const cio_connect_options *o)
{
    cio_addrinfo *list = NULL;
    int rc = cio__resolve(host, port, o->family, SOCK_STREAM, o->dns, &list);
    if (rc < 0) {
        set_detail(o, "resolve %s: %s", host, cio_strerror(rc));
        return rc;
    }
    const cio_addrinfo *won = NULL;
    double delay = o->happy_eyeballs_delay == 0 ? 0.25 : o->happy_eyeballs_delay;
    int fd = cio__happy_eyeballs(list, delay, &won);
    if (fd < 0) {
        char addr[112] = "?";
        cio_addr_format((const struct sockaddr *)&list->addr, list->addrlen, addr, sizeof addr);
        set_detail(o, "connect to %s port %d (%s%s): %s", host, port, addr,
                   list->next ? " and others" : "", cio_strerror(fd));
        cio_addrinfo_free(list);
        return fd;
    }
    cio_stream *s;
    rc = cio__stream_new(&s, fd);
    if (rc == 0) {
        s->peer_ss = won->addr;
        s->peer_len = won->addrlen;
        if (o->limit)
            s->limit = o->limit;
    }
    cio_addrinfo_free(list);
    if (rc)
        return rc;
    if (o->tls) {
        const char *name = o->server_hostname ? o->server_hostname : host;
        rc = cio__tls_start(s, o->tls, name, false, o->tls_handshake_timeout);
        if (rc) {
            set_detail(o, "%s", s->detail[0] ? s->detail : cio_strerror(rc));
            cio__stream_destroy(s);
            return rc;
        }
    }
    *out = s;
    return 0;
}

int cio_open_connection(cio_stream **out, const char *host, int port,
                        const cio_connect_options *opts)
{
    if (!out || !host || port < 0 || port > 65535)
        return -EINVAL;
    *out = NULL;
    static const cio_connect_options none;
    const cio_connect_options *o = opts ? opts : &none;
    if (o->family && o->family != AF_INET && o->family != AF_INET6)
        return -EINVAL;
    int rc = cio_check();
    if (rc)
        return rc;
    if (o->timeout > 0) {
        CIO_TIMEOUT(limit, o->timeout);
        rc = open_tcp(out, host, port, o);
    } else {
        rc = open_tcp(out, host, port, o);
    }
    return rc;
}
