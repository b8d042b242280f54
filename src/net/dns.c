/* Name resolution: c-ares driven by cio's loop.
 *
 * Each resolution gets a channel of its own. That costs reading
 * /etc/resolv.conf once per call, but keeps no per-thread state that
 * would need tearing down when a loop closes, and a cancelled resolution
 * simply destroys its channel. c-ares tells us through sock_state_cb which
 * sockets it wants watched; they become the loop's reader and writer
 * callbacks, c-ares's own retry timeouts become a loop timer, and the
 * calling task sleeps until the answer callback wakes it. */
#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "net/internal.h"

#define MAX_SOCKS 16
#define DEFAULT_TIMEOUT 10.0

struct resolve;

struct sock {
    struct resolve *r;
    int fd; /* -1: free slot */
    bool rd, wr;
};

struct resolve {
    ares_channel channel;
    struct cio__task *task;
    struct cio__timer timer;
    bool timer_on;
    bool done;
    int status;
    int port;
    cio_addrinfo *list;
    int count;
    struct sock socks[MAX_SOCKS];
};

static void reschedule(struct resolve *r);

static void on_fd(struct sock *k, bool readable)
{
    struct resolve *r = k->r;
    int fd = k->fd;
    ares_process_fd(r->channel, readable ? fd : ARES_SOCKET_BAD, readable ? ARES_SOCKET_BAD : fd);
    reschedule(r);
}

static void on_readable(void *arg)
{
    on_fd(arg, true);
}

static void on_writable(void *arg)
{
    on_fd(arg, false);
}

static void on_timer(struct cio__timer *timer)
{
    struct resolve *r = cio__container_of(timer, struct resolve, timer);
    r->timer_on = false;
    ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    reschedule(r);
}

/* Keeps one loop timer at c-ares's next retry deadline. */
static void reschedule(struct resolve *r)
{
    struct cio__loop *loop = cio__tls_loop;
    if (r->timer_on) {
        cio__timer_stop(loop, &r->timer);
        r->timer_on = false;
    }
    if (r->done)
        return;
    struct timeval tv;
    if (!ares_timeout(r->channel, NULL, &tv))
        return;
    int64_t ns = (int64_t)tv.tv_sec * 1000000000LL + (int64_t)tv.tv_usec * 1000;
    r->timer.deadline = cio__deadline_after(loop->now, ns);
    r->timer_on = cio__timer_start(loop, &r->timer) == 0;
}

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    struct resolve *r = data;
    struct sock *k = NULL, *free_slot = NULL;
    for (int i = 0; i < MAX_SOCKS; i++) {
        if (r->socks[i].fd == fd)
            k = &r->socks[i];
        else if (r->socks[i].fd < 0 && !free_slot)
            free_slot = &r->socks[i];
    }
    if (!k) {
        if (!readable && !writable)
            return;
        if (!free_slot)
            return; /* c-ares's retry timer still gets the answer or fails */
        k = free_slot;
        k->fd = fd;
        k->r = r;
    }
    if (readable && !k->rd)
        k->rd = cio_add_reader(fd, on_readable, k) == 0;
    else if (!readable && k->rd) {
        cio_remove_reader(fd);
        k->rd = false;
    }
    if (writable && !k->wr)
        k->wr = cio_add_writer(fd, on_writable, k) == 0;
    else if (!writable && k->wr) {
        cio_remove_writer(fd);
        k->wr = false;
    }
    if (!readable && !writable) {
        cio_forget_fd(fd); /* c-ares closes it next */
        k->fd = -1;
    }
}

static int map_status(int status)
{
    switch (status) {
    case ARES_SUCCESS:
        return 0;
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
    case ARES_ENONAME:
        return CIO_EDNS_NOTFOUND;
    case ARES_ETIMEOUT:
        return -ETIMEDOUT;
    case ARES_ENOMEM:
        return -ENOMEM;
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
        return -ECANCELED;
    case ARES_EBADNAME:
    case ARES_EBADFAMILY:
        return -EINVAL;
    default:
        return CIO_EDNS;
    }
}

static void on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    (void)timeouts;
    struct resolve *r = arg;
    r->done = true;
    r->status = map_status(status);
    if (status == ARES_SUCCESS && res) {
        cio_addrinfo **tail = &r->list;
        for (struct ares_addrinfo_node *n = res->nodes; n; n = n->ai_next) {
            if ((n->ai_family != AF_INET && n->ai_family != AF_INET6) ||
                n->ai_addrlen > sizeof(struct sockaddr_storage))
                continue;
            cio_addrinfo *ai = calloc(1, sizeof *ai);
            if (!ai) {
                r->status = -ENOMEM;
                break;
            }
            ai->family = n->ai_family;
            ai->addrlen = (socklen_t)n->ai_addrlen;
            memcpy(&ai->addr, n->ai_addr, n->ai_addrlen);
            if (ai->family == AF_INET)
                ((struct sockaddr_in *)&ai->addr)->sin_port = htons((uint16_t)r->port);
            else
                ((struct sockaddr_in6 *)&ai->addr)->sin6_port = htons((uint16_t)r->port);
            *tail = ai;
            tail = &ai->next;
            r->count++;
        }
        if (!r->count && r->status == 0)
            r->status = CIO_EDNS_NOTFOUND;
    }
    if (res)
        ares_freeaddrinfo(res);
    if (r->task)
        cio__wake(r->task, 0);
}

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
    ares_library_init(ARES_LIB_INIT_ALL);
}

static int open_channel(struct resolve *r, const cio_dns_options *o, double timeout)
{
    struct ares_options ao = {0};
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS;
    ao.sock_state_cb = sock_state;
    ao.sock_state_cb_data = r;
    ao.lookups = (char *)(o && o->no_hosts_file ? "b" : "fb");
    int tries = o && o->tries > 0 ? o->tries : 3;
    ao.tries = tries;
    mask |= ARES_OPT_TRIES;
    /* Spread the time over the tries, so that every try gets a chance
     * before the overall limit. */
    ao.timeout = (int)(timeout * 1000 / (tries + 1));
    if (ao.timeout < 100)
        ao.timeout = 100;
    mask |= ARES_OPT_TIMEOUTMS;
    int st = ares_init_options(&r->channel, &ao, mask);
    if (st != ARES_SUCCESS)
        return st == ARES_ENOMEM ? -ENOMEM : CIO_EDNS;
    if (o && o->servers) {
        st = ares_set_servers_ports_csv(r->channel, o->servers);
        if (st != ARES_SUCCESS) {
            ares_destroy(r->channel);
            return st == ARES_ENOMEM ? -ENOMEM : -EINVAL;
        }
    }
    return 0;
}

static int resolve(struct resolve *r, const char *host, int family)
{
    struct ares_addrinfo_hints hints = {0};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    ares_getaddrinfo(r->channel, host, NULL, &hints, on_answer, r);
    reschedule(r);
    int rc = 0;
    while (!r->done) {
        rc = cio__net_suspend(r->task, "dns resolve");
        if (rc < 0)
            break;
    }
    if (!r->done)
        ares_cancel(r->channel); /* runs on_answer with ARES_ECANCELLED */
    r->task = NULL;
    return rc ? rc : r->status;
}

int cio_dns_resolve(const char *host, int port, int family, const cio_dns_options *opts,
                    cio_addrinfo **out)
{
    /* An empty server list would leave c-ares to the system's servers,
     * which a caller naming its own never wants. */
    if (!host || !out || port < 0 || port > 65535 ||
        (family != 0 && family != AF_INET && family != AF_INET6) ||
        (opts && opts->servers && !opts->servers[strspn(opts->servers, " ,")]))
        return -EINVAL;
    *out = NULL;
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc)
        return rc;
    pthread_once(&lib_once, lib_init);
    double timeout = opts && opts->timeout > 0 ? opts->timeout : DEFAULT_TIMEOUT;
    struct resolve *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    for (int i = 0; i < MAX_SOCKS; i++)
        r->socks[i].fd = -1;
    r->timer.fire = on_timer;
    r->port = port;
    r->task = t;
    rc = open_channel(r, opts, timeout);
    if (rc == 0) {
        {
            CIO_TIMEOUT(limit, timeout);
            rc = resolve(r, host, family);
        }
        r->done = true;
        reschedule(r); /* stops the timer */
        ares_destroy(r->channel);
        for (int i = 0; i < MAX_SOCKS; i++)
            if (r->socks[i].fd >= 0)
                cio_forget_fd(r->socks[i].fd);
    }
    if (rc == 0) {
        *out = r->list;
        rc = r->count;
    } else {
        cio_addrinfo_free(r->list);
    }
    free(r);
    return rc;
}

void cio_addrinfo_free(cio_addrinfo *list)
{
    while (list) {
        cio_addrinfo *next = list->next;
        free(list);
        list = next;
    }
}
