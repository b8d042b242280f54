/* Servers (asyncio's start_server): listening sockets, an accept task per
 * socket, a handler task per connection, and an orderly shutdown.
 *
 * Accept tasks and handler tasks are detached: the server keeps its own
 * count of them and cio_server_shutdown() waits for both counts to reach
 * zero before the memory they share goes, so no task outlives the server.
 * A task's own code does that bookkeeping as it ends, so the server never
 * cancels a task that has not run yet (cancelled then, it would never run
 * at all): it is told to stop instead, and stops as soon as it starts.
 * When accept() fails for want of fds or memory, the accept task sleeps
 * with an exponential back-off instead of spinning on a listening socket
 * that stays readable, and says so once per episode. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/internal.h"

struct cio_server;

struct listener {
    struct cio_server *srv;
    int fd;
    cio_task task;
    struct cio__task *parked; /* waiting for a free connection slot */
};

struct conn {
    struct cio__list link;
    struct cio_server *srv;
    cio_stream *s;
    cio_task task;
};

struct cio_server {
    cio_stream_handler handler;
    void *arg;
    cio_server_options opts;
    struct listener *l; /* one per address; fixed once accepting starts */
    int nl, cap;
    bool closing;
    bool is_unix;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    long nconns;
    long naccept; /* accept tasks still running */
    long accept_errors;
    struct cio__list conns;
    struct cio__list serving; /* struct cio__waiter: cio_server_serve() */
    struct cio__task *waiter; /* cio_server_shutdown() */
};

static void notify(struct cio_server *srv)
{
    if (srv->waiter)
        cio__wake(srv->waiter, 0);
}

/* Whether a task of the server's has begun to run (see the top). */
static bool started(cio_task h)
{
    struct cio__task *t = cio__task_from(h);
    return t && t->started;
}

/* ---- connections -------------------------------------------------------- */

static int conn_main(void *arg)
{
    struct conn *c = arg;
    struct cio_server *srv = c->srv;
    int rc = 0;
    if (srv->opts.tls && !c->s->closing) {
        rc = cio__tls_start(c->s, srv->opts.tls, NULL, true, srv->opts.tls_handshake_timeout);
        if (rc) {
            /* A failed handshake is the peer's problem, not the handler's:
             * say so once, do not report a failed task. */
            cio__report(cio__tls_loop, "TLS handshake with %s failed: %s%s%s",
                        cio_stream_peer(c->s), cio_strerror(rc), c->s->detail[0] ? ": " : "",
                        c->s->detail);
            rc = 0;
            cio_stream_abort(c->s);
        }
    }
    if (!c->s->closing)
        rc = srv->handler(c->s, srv->arg);
    if (!c->s->closing)
        cio_stream_close(c->s);
    cio__stream_free(c->s);
    cio__list_unlink(&c->link);
    srv->nconns--;
    if (srv->opts.max_connections && srv->nconns < srv->opts.max_connections)
        for (int i = 0; i < srv->nl; i++)
            if (srv->l[i].parked)
                cio__wake(srv->l[i].parked, 0);
    notify(srv);
    free(c);
    return rc;
}

static void start_conn(struct cio_server *srv, int fd, const struct sockaddr_storage *ss,
                       socklen_t len)
{
    struct conn *c = calloc(1, sizeof *c);
    cio_stream *s = NULL;
    if (!c) {
        close(fd);
        srv->accept_errors++;
        return;
    }
    if (cio__stream_new(&s, fd) < 0) { /* it closed fd */
        free(c);
        srv->accept_errors++;
        return;
    }
    s->server_owned = true;
    s->is_unix = srv->is_unix;
    s->peer_ss = *ss;
    s->peer_len = len;
    if (srv->opts.limit)
        s->limit = srv->opts.limit;
    if (!srv->is_unix)
        cio__tcp_tune(fd);
    c->srv = srv;
    c->s = s;
    char name[32];
    snprintf(name, sizeof name, "conn %s", srv->is_unix ? "unix" : cio_stream_peer(s));
    cio_spawn_options so = {.name = name, .stack_size = srv->opts.stack_size};
    c->task = cio_spawn_with(&so, conn_main, c);
    if (cio_spawn_error(c->task)) {
        cio__stream_destroy(s);
        free(c);
        srv->accept_errors++;
        return;
    }
    cio_detach(c->task);
    cio__list_push(&srv->conns, &c->link);
    srv->nconns++;
}

/* ---- accepting ---------------------------------------------------------- */

static bool resource_error(int e)
{
    return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

static int accept_main(void *arg)
{
    struct listener *l = arg;
    struct cio_server *srv = l->srv;
    struct cio__task *self = cio__self();
    double backoff = 0;
    unsigned batch = 0;
    while (!srv->closing) {
        if (srv->opts.max_connections && srv->nconns >= srv->opts.max_connections) {
            l->parked = self;
            int rc = cio__net_suspend(self, "server full");
            l->parked = NULL;
            if (rc < 0)
                break;
            continue;
        }
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            backoff = 0;
            start_conn(srv, fd, &ss, len);
            /* Under a connection storm, let the handlers (and the other
             * listeners) run between batches instead of accepting
             * thousands in one go. */
            if (++batch % 64 == 0 && cio_yield() < 0)
                break;
            continue;
        }
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK) {
            if (cio_wait_fd(l->fd, CIO_READABLE, -1) < 0)
                break;
        } else if (resource_error(e)) {
            srv->accept_errors++;
            if (backoff == 0) {
                char addr[112] = "?";
                struct sockaddr_storage ls;
                socklen_t llen = sizeof ls;
                if (getsockname(l->fd, (struct sockaddr *)&ls, &llen) == 0)
                    cio_addr_format((struct sockaddr *)&ls, llen, addr, sizeof addr);
                cio__report(cio__tls_loop,
                            "server on %s: accept failed: %s; backing off (up to 1 s) until it "
                            "succeeds",
                            addr, strerror(e));
            }
            backoff = backoff == 0 ? 0.01 : backoff * 2 > 1.0 ? 1.0 : backoff * 2;
            if (cio_sleep(backoff) < 0)
                break;
        } else if (e == EINTR || e == ECONNABORTED || e == EPROTO || e == EPERM) {
            continue; /* that connection is gone; the next may be fine */
        } else {
            if (!srv->closing)
                cio__report(cio__tls_loop, "server: accept failed: %s; no longer accepting",
                            strerror(e));
            break;
        }
    }
    srv->naccept--;
    notify(srv);
    return 0;
}

/* ---- setting up --------------------------------------------------------- */

/* Adds a listener for fd; the array only grows before accepting starts
 * (the accept tasks point into it). */
static int add_listener(struct cio_server *srv, int fd)
{
    if (srv->nl == srv->cap) {
        int cap = srv->cap ? srv->cap * 2 : 2;
        struct listener *l = realloc(srv->l, (size_t)cap * sizeof *l);
        if (!l)
            return -ENOMEM;
        srv->l = l;
        srv->cap = cap;
    }
    srv->l[srv->nl++] = (struct listener){.srv = srv, .fd = fd};
    return 0;
}

static int listen_on(struct cio_server *srv, const struct sockaddr *sa, socklen_t len)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    if (sa->sa_family != AF_UNIX) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (srv->opts.reuse_port &&
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
            int e = -errno;
            close(fd);
            return e;
        }
    }
    if (sa->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    int backlog = srv->opts.backlog > 0 ? srv->opts.backlog : 511;
    if (bind(fd, sa, len) < 0 || listen(fd, backlog) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    int rc = add_listener(srv, fd);
    if (rc < 0)
        close(fd);
    return rc;
}

static void set_port(struct sockaddr_storage *ss, int port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

static void free_server(struct cio_server *srv)
{
    cio__tls_ctx_unref(srv->opts.tls);
    for (int i = 0; i < srv->nl; i++)
        if (srv->l[i].fd >= 0)
            close(srv->l[i].fd);
    free(srv->l);
    free(srv);
}

static int start_accepting(struct cio_server *srv, cio_server **out)
{
    for (int i = 0; i < srv->nl; i++) {
        cio_spawn_options so = {.name = "server accept", .stack_size = 64 * 1024};
        srv->l[i].task = cio_spawn_with(&so, accept_main, &srv->l[i]);
        int rc = cio_spawn_error(srv->l[i].task);
        if (rc) {
            /* The sockets no task uses yet close now; the accept tasks
             * already running must end before the memory goes. */
            for (int j = i; j < srv->nl; j++)
                close(srv->l[j].fd);
            srv->nl = i;
            if (i == 0)
                free_server(srv);
            else
                cio_server_shutdown(srv, 0);
            return rc;
        }
        cio_detach(srv->l[i].task);
        srv->naccept++;
    }
    *out = srv;
    return 0;
}

static struct cio_server *new_server(cio_stream_handler handler, void *arg,
                                     const cio_server_options *opts)
{
    struct cio_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return NULL;
    srv->handler = handler;
    srv->arg = arg;
    if (opts)
        srv->opts = *opts;
    cio__tls_ctx_ref(srv->opts.tls); /* the caller may free its reference */
    cio__list_init(&srv->conns);
    cio__list_init(&srv->serving);
    return srv;
}

int cio_start_server(cio_server **out, const char *host, int port, cio_stream_handler handler,
                     void *arg, const cio_server_options *opts)
{
    if (!out || !handler || port < 0 || port > 65535)
        return -EINVAL;
    *out = NULL;
    if (!cio__tls_loop)
        return CIO_ENOLOOP;
    int family = opts ? opts->family : 0;
    if (family && family != AF_INET && family != AF_INET6)
        return -EINVAL;
    struct cio_server *srv = new_server(handler, arg, opts);
    if (!srv)
        return -ENOMEM;
    cio_addrinfo *list = NULL;
    int rc;
    if (!host) {
        /* Every interface: one socket per family, as asyncio. */
        cio_addrinfo *v4 = calloc(1, sizeof *v4), *v6 = calloc(1, sizeof *v6);
        if (!v4 || !v6) {
            free(v4);
            free(v6);
            free_server(srv);
            return -ENOMEM;
        }
        cio_addr_parse("0.0.0.0", port, &v4->addr, &v4->addrlen);
        cio_addr_parse("::", port, &v6->addr, &v6->addrlen);
        v4->family = AF_INET;
        v6->family = AF_INET6;
        if (family == AF_INET) {
            list = v4;
            free(v6);
        } else if (family == AF_INET6) {
            list = v6;
            free(v4);
        } else {
            list = v4;
            v4->next = v6;
        }
        rc = 0;
    } else {
        rc = cio__resolve(host, port, family, SOCK_STREAM, srv->opts.dns, &list);
    }
    if (rc < 0) {
        free_server(srv);
        return rc;
    }
    int bound_port = port, first_err = 0;
    for (cio_addrinfo *ai = list; ai; ai = ai->next) {
        /* With port 0, every socket gets the port the first one got. */
        set_port(&ai->addr, bound_port);
        rc = listen_on(srv, (struct sockaddr *)&ai->addr, ai->addrlen);
        if (rc < 0) {
            /* No IPv6 on this machine is not a reason to fail "every
             * interface". */
            if (!host && (rc == -EAFNOSUPPORT || rc == -EADDRNOTAVAIL))
                continue;
            first_err = first_err ? first_err : rc;
            break;
        }
        if (bound_port == 0)
            bound_port = cio_server_port(srv);
    }
    cio_addrinfo_free(list);
    if (first_err || srv->nl == 0) {
        free_server(srv);
        return first_err ? first_err : -EADDRNOTAVAIL;
    }
    return start_accepting(srv, out);
}

int cio_start_unix_server(cio_server **out, const char *path, cio_stream_handler handler, void *arg,
                          const cio_server_options *opts)
{
    if (!out || !path || !handler)
        return -EINVAL;
    *out = NULL;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof sun.sun_path)
        return -EINVAL;
    if (!cio__tls_loop)
        return CIO_ENOLOOP;
    memcpy(sun.sun_path, path, n + 1);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path); /* a stale socket of an earlier run, as asyncio does */
    struct cio_server *srv = new_server(handler, arg, opts);
    if (!srv)
        return -ENOMEM;
    srv->is_unix = true;
    int rc = listen_on(srv, (struct sockaddr *)&sun, sizeof sun);
    if (rc < 0) {
        free_server(srv);
        return rc;
    }
    memcpy(srv->path, path, n + 1);
    return start_accepting(srv, out);
}

int cio_start_server_fd(cio_server **out, int fd, cio_stream_handler handler, void *arg,
                        const cio_server_options *opts)
{
    if (!out || fd < 0 || !handler)
        return -EINVAL;
    *out = NULL;
    if (!cio__tls_loop)
        return CIO_ENOLOOP;
    int listening = 0;
    socklen_t len = sizeof listening;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0)
        return -errno;
    if (!listening)
        return -EINVAL;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    struct cio_server *srv = new_server(handler, arg, opts);
    if (!srv) {
        close(fd);
        return -ENOMEM;
    }
    srv->is_unix = ss.ss_family == AF_UNIX;
    int rc = add_listener(srv, fd);
    if (rc < 0) {
        close(fd);
        free_server(srv);
        return rc;
    }
    return start_accepting(srv, out);
}

/* ---- inspecting and stopping -------------------------------------------- */

int cio_server_sockname(const cio_server *srv, int i, struct sockaddr_storage *ss, socklen_t *len)
{
    if (!srv || !ss || !len)
        return -EINVAL;
    if (i < 0 || i >= srv->nl || srv->l[i].fd < 0)
        return -ENOENT;
    *len = sizeof *ss;
    return getsockname(srv->l[i].fd, (struct sockaddr *)ss, len) < 0 ? -errno : 0;
}

int cio_server_port(const cio_server *srv)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (cio_server_sockname(srv, 0, &ss, &len) < 0)
        return -EINVAL;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -EINVAL;
}

long cio_server_connections(const cio_server *srv)
{
    return srv ? srv->nconns : 0;
}

long cio_server_accept_errors(const cio_server *srv)
{
    return srv ? srv->accept_errors : 0;
}

int cio_server_serve(cio_server *srv)
{
    if (!srv)
        return -EINVAL;
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc)
        return rc;
    while (!srv->closing && !rc) {
        struct cio__waiter w = {.task = t};
        cio__list_push(&srv->serving, &w.link);
        rc = cio__net_suspend(t, "server serve");
        cio__list_unlink(&w.link);
    }
    return rc;
}

void cio_server_close(cio_server *srv)
{
    if (!srv || srv->closing)
        return;
    srv->closing = true;
    for (int i = 0; i < srv->nl; i++) {
        struct listener *l = &srv->l[i];
        if (l->fd >= 0) {
            cio_forget_fd(l->fd); /* wakes the accept task with -EBADF */
            close(l->fd);
            l->fd = -1;
        }
        if (started(l->task)) /* ...or interrupts its back-off sleep */
            cio_cancel(l->task);
        if (l->parked)
            cio__wake(l->parked, -EBADF);
    }
    cio__list_foreach(it, &srv->serving)
        cio__wake(cio__container_of(it, struct cio__waiter, link)->task, 0);
}

/* Stops a connection's task: cancels it, or if it has not run yet, closes
 * its stream (the client sees the end of the stream, as from a handler
 * that returned) so that it skips the handler and ends as soon as it
 * runs. */
static void stop_conn(struct conn *c)
{
    if (started(c->task))
        cio_cancel(c->task);
    else if (!c->s->closing)
        cio_stream_close(c->s);
}

static int wait_tasks(cio_server *srv, struct cio__task *t, bool interruptible)
{
    while (srv->nconns || srv->naccept) {
        srv->waiter = t;
        int rc = interruptible ? cio__net_suspend(t, "server shutdown")
                               : cio__suspend_nointr(t, "server shutdown (cancelling)");
        srv->waiter = NULL;
        if (rc < 0)
            return rc;
    }
    return 0;
}

int cio_server_shutdown(cio_server *srv, double grace)
{
    if (!srv)
        return 0;
    cio_server_close(srv);
    struct cio__task *t = cio__self();
    if (!t)
        return cio__tls_loop ? CIO_ENOTTASK : CIO_ENOLOOP;
    int rc = 0;
    if (srv->nconns && grace > 0 && cio__interrupted(t) == 0) {
        CIO_TIMEOUT(g, grace);
        wait_tasks(srv, t, true);
    }
    if (srv->nconns) {
        rc = -ETIMEDOUT;
        cio__list_foreach(it, &srv->conns) stop_conn(cio__container_of(it, struct conn, link));
    }
    wait_tasks(srv, t, false);
    if (srv->is_unix && srv->path[0])
        unlink(srv->path);
    free_server(srv);
    return rc;
}
