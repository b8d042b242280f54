/* UDP endpoints (asyncio's create_datagram_endpoint, as calls instead of a
 * protocol object): bind and/or connect, send and receive datagrams.
 *
 * Lifetime: tasks inside sendto or recvfrom count as users. Closing wakes
 * those waiting with -EBADF and closes the socket at once, but the memory
 * is released by the last user to leave, so a woken task never touches a
 * freed endpoint (and close never has to suspend: it may be called from a
 * plain loop callback). */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/internal.h"

struct cio_udp {
    int fd;
    bool receiving;
    bool closed; /* cio_udp_close() ran: the fd is gone */
    int users;   /* tasks inside sendto or recvfrom */
};

/* Every call that may suspend enters and leaves; the last to leave a
 * closed endpoint releases it. */
static int enter(cio_udp *u)
{
    if (u->closed)
        return -EBADF;
    int rc = cio_check();
    if (rc && rc != CIO_ENOTTASK)
        return rc;
    u->users++;
    return 0;
}

static ssize_t leave(cio_udp *u, ssize_t rc)
{
    if (--u->users == 0 && u->closed)
        free(u);
    return rc;
}

static int bind_and_connect(int fd, const cio_addrinfo *local, const cio_addrinfo *remote,
                            const cio_udp_options *o)
{
    int one = 1;
    if (o->reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        return -errno;
    if (o->broadcast && setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0)
        return -errno;
    if (local && bind(fd, (const struct sockaddr *)&local->addr, local->addrlen) < 0)
        return -errno;
    if (remote && connect(fd, (const struct sockaddr *)&remote->addr, remote->addrlen) < 0)
        return -errno;
    return 0;
}

int cio_udp_open(cio_udp **out, const cio_udp_options *opts)
{
    if (!out || !opts || opts->local_port < 0 || opts->local_port > 65535 ||
        opts->remote_port < 0 || opts->remote_port > 65535)
        return -EINVAL;
    *out = NULL;
    cio_addrinfo *local = NULL, *remote = NULL;
    int rc = 0;
    if (opts->remote_host)
        rc = cio__resolve(opts->remote_host, opts->remote_port, opts->family, SOCK_DGRAM, opts->dns,
                          &remote);
    int family = remote ? remote->family : opts->family;
    if (rc >= 0 && (opts->local_host || !remote))
        rc = cio__resolve(opts->local_host     ? opts->local_host
                          : family == AF_INET6 ? "::"
                                               : "0.0.0.0",
                          opts->local_port, family, SOCK_DGRAM, opts->dns, &local);
    if (rc >= 0) {
        family = local ? local->family : remote->family;
        int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            rc = -errno;
        } else if ((rc = bind_and_connect(fd, local, remote, opts)) < 0) {
            close(fd);
        } else {
            cio_udp *u = calloc(1, sizeof *u);
            if (!u) {
                close(fd);
                rc = -ENOMEM;
            } else {
                u->fd = fd;
                *out = u;
                rc = 0;
            }
        }
    }
    cio_addrinfo_free(local);
    cio_addrinfo_free(remote);
    return rc;
}

int cio_udp_sendto(cio_udp *u, const void *buf, size_t n, const struct sockaddr *to,
                   socklen_t tolen)
{
    if (!u || (!buf && n))
        return -EINVAL;
    int rc = enter(u);
    if (rc)
        return rc;
    for (;;) {
        if (sendto(u->fd, buf, n, MSG_NOSIGNAL, to, to ? tolen : 0) >= 0)
            return (int)leave(u, 0);
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return (int)leave(u, -errno);
        rc = cio_wait_fd(u->fd, CIO_WRITABLE, -1);
        if (rc >= 0 && u->closed)
            rc = -EBADF; /* woken for readiness, then closed before it ran */
        if (rc < 0)
            return (int)leave(u, rc);
    }
}

int cio_udp_send(cio_udp *u, const void *buf, size_t n)
{
    return cio_udp_sendto(u, buf, n, NULL, 0);
}

ssize_t cio_udp_recvfrom(cio_udp *u, void *buf, size_t size, struct sockaddr_storage *from,
                         socklen_t *fromlen)
{
    if (!u || (!buf && size))
        return -EINVAL;
    if (u->receiving)
        return -EBUSY;
    int rc = enter(u);
    if (rc)
        return rc;
    u->receiving = true;
    ssize_t r;
    for (;;) {
        socklen_t len = sizeof(struct sockaddr_storage);
        r = recvfrom(u->fd, buf, size, 0, (struct sockaddr *)from, from ? &len : NULL);
        if (r >= 0) {
            if (fromlen)
                *fromlen = from ? len : 0;
            break;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            r = -errno;
            break;
        }
        r = cio_wait_fd(u->fd, CIO_READABLE, -1);
        if (r >= 0 && u->closed)
            r = -EBADF; /* woken for readiness, then closed before it ran */
        if (r < 0)
            break;
    }
    u->receiving = false;
    return leave(u, r);
}

int cio_udp_port(const cio_udp *u)
{
    if (!u || u->closed)
        return -EINVAL;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(u->fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -EINVAL;
}

int cio_udp_fd(const cio_udp *u)
{
    return u && !u->closed ? u->fd : -EINVAL;
}

void cio_udp_close(cio_udp *u)
{
    if (!u || u->closed)
        return;
    u->closed = true;
    cio_forget_fd(u->fd); /* wakes the tasks waiting on it with -EBADF */
    close(u->fd);
    u->fd = -1;
    if (!u->users)
        free(u);
}
