/* libcurl's multi-socket API driven by the cio loop.
 *
 * libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when
 * to call it back (CURLMOPT_TIMERFUNCTION); we watch the sockets with reader
 * and writer callbacks on the loop, keep one loop timer, and after each
 * call into libcurl collect the transfers it finished and wake their tasks.
 * No thread, no polling: libcurl runs only when one of its sockets is ready
 * or its timer is due. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.h"

static void collect_done(cio_http_session *s)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(s->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        cio_http_response *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (!r)
            continue;
        CURLcode c = m->data.result;
        r->curl_result = c;
        cio__http_finish(r, c == CURLE_OK ? 0 : cio__http_curl_error(r, c));
    }
}

static void socket_action(cio_http_session *s, curl_socket_t fd, int ev)
{
    curl_multi_socket_action(s->multi, fd, ev, &s->running);
    collect_done(s);
}

void cio__http_kick(cio_http_session *s)
{
    collect_done(s);
}

static struct cio__http_sock **slot_of(cio_http_session *s, curl_socket_t fd)
{
    if (fd < 0)
        return NULL;
    if (fd >= s->nby_fd) {
        int n = s->nby_fd ? s->nby_fd : 64;
        while (n <= fd)
            n *= 2;
        struct cio__http_sock **a = realloc(s->by_fd, (size_t)n * sizeof *a);
        if (!a)
            return NULL;
        memset(a + s->nby_fd, 0, (size_t)(n - s->nby_fd) * sizeof *a);
        s->by_fd = a;
        s->nby_fd = n;
    }
    return &s->by_fd[fd];
}

static struct cio__http_sock *sock_new(cio_http_session *s, curl_socket_t fd, bool conn)
{
    struct cio__http_sock **slot = slot_of(s, fd);
    struct cio__http_sock *k = slot ? calloc(1, sizeof *k) : NULL;
    if (!k)
        return NULL;
    k->s = s;
    k->fd = fd;
    k->conn = conn;
    *slot = k;
    cio__list_push(&s->sockets, &k->link);
    /* A number libcurl closed without telling us may still be registered
     * in the loop: start from a clean slate. */
    cio_forget_fd(fd);
    return k;
}

static void on_readable(void *arg);
static void on_writable(void *arg);

/* Makes the loop's interest in k's socket `reg`. */
static int sock_watch(struct cio__http_sock *k, int reg)
{
    int rc = 0;
    if ((reg & CURL_POLL_IN) && !(k->reg & CURL_POLL_IN))
        rc |= cio_add_reader(k->fd, on_readable, k);
    if (!(reg & CURL_POLL_IN) && (k->reg & CURL_POLL_IN))
        cio_remove_reader(k->fd);
    if ((reg & CURL_POLL_OUT) && !(k->reg & CURL_POLL_OUT))
        rc |= cio_add_writer(k->fd, on_writable, k);
    if (!(reg & CURL_POLL_OUT) && (k->reg & CURL_POLL_OUT))
        cio_remove_writer(k->fd);
    k->reg = reg;
    return rc ? -1 : 0;
}

static void sock_free(struct cio__http_sock *k)
{
    sock_watch(k, 0);
    cio__list_unlink(&k->link);
    if (k->fd < k->s->nby_fd && k->s->by_fd[k->fd] == k)
        k->s->by_fd[k->fd] = NULL;
    free(k);
}

static void on_readable(void *arg)
{
    struct cio__http_sock *k = arg;
    if (!(k->want & CURL_POLL_IN)) {
        /* An idle pooled connection became readable: the peer closed it or
         * sent something unasked. libcurl checks it before reuse; stop
         * watching it so the loop does not spin. */
        sock_watch(k, k->reg & ~CURL_POLL_IN);
        return;
    }
    socket_action(k->s, k->fd, CURL_CSELECT_IN);
}

static void on_writable(void *arg)
{
    struct cio__http_sock *k = arg;
    socket_action(k->s, k->fd, CURL_CSELECT_OUT);
}

/* Sockets are found by fd in s->by_fd, not through curl_multi_assign():
 * libcurl drops its entry of a socket (and what was assigned to it) at
 * every CURL_POLL_REMOVE, that is after every transfer on a pooled
 * connection, so assigning would cost a hash lookup per request. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy, (void)socketp;
    cio_http_session *s = userp;
    struct cio__http_sock *k = fd >= 0 && fd < s->nby_fd ? s->by_fd[fd] : NULL;
    if (what == CURL_POLL_REMOVE) {
        if (!k)
            return 0;
        k->want = 0;
        if (k->conn) /* kept: only writability must go */
            return sock_watch(k, k->reg & CURL_POLL_IN);
        sock_free(k);
        return 0;
    }
    if (!k) {
        k = sock_new(s, fd, false);
        if (!k)
            return -1;
    }
    k->want = what & (CURL_POLL_IN | CURL_POLL_OUT);
    return sock_watch(k, k->want);
}

static curl_socket_t on_open(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    cio_http_session *s = clientp;
    curl_socket_t fd = socket(a->family, a->socktype, a->protocol);
    if (fd < 0 || purpose != CURLSOCKTYPE_IPCXN)
        return fd;
    if (fd < s->nby_fd && s->by_fd[fd])
        sock_free(s->by_fd[fd]); /* stale: that number was closed behind us */
    if (!sock_new(s, fd, true)) {
        close(fd);
        return CURL_SOCKET_BAD;
    }
    return fd;
}

static int on_close(void *clientp, curl_socket_t fd)
{
    cio_http_session *s = clientp;
    if (fd >= 0 && fd < s->nby_fd && s->by_fd[fd])
        sock_free(s->by_fd[fd]);
    return close(fd);
}

void cio__http_sockets(cio_http_session *s, CURL *easy)
{
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, on_open);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, s);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, on_close);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, s);
}

static void timer_fire(struct cio__timer *tm)
{
    cio_http_session *s = cio__container_of(tm, cio_http_session, timer);
    socket_action(s, CURL_SOCKET_TIMEOUT, 0);
}

static void soon_fire(void *arg)
{
    cio_http_session *s = arg;
    cio_handle_release(s->soon);
    s->soon = NULL;
    if (s->timer_now) {
        s->timer_now = false;
        socket_action(s, CURL_SOCKET_TIMEOUT, 0);
    }
}

/* libcurl moves its timer at least once per request ("now" when a
 * transfer is added, its connect timeout once it is sent). A loop timer
 * already due before the new time is left as it is: firing early is
 * harmless (libcurl finds nothing expired and sets its timer again), and
 * moving a loop timer costs a removal and an insertion. */
static int on_timer(CURLM *multi, long ms, void *userp)
{
    (void)multi;
    cio_http_session *s = userp;
    s->timer_now = false;
    if (ms < 0) {
        cio__timer_stop(s->loop, &s->timer);
        return 0;
    }
    if (ms == 0) {
        s->timer_now = true;
        if (!s->soon && cio_call_soon(soon_fire, s, &s->soon) < 0)
            return -1;
        return 0;
    }
    int64_t at = s->loop->now + (int64_t)ms * 1000000;
    if (cio__timer_scheduled(&s->timer) && s->timer.deadline <= at)
        return 0;
    cio__timer_stop(s->loop, &s->timer);
    s->timer.deadline = at;
    return cio__timer_start(s->loop, &s->timer) < 0 ? -1 : 0;
}

int cio__http_multi_init(cio_http_session *s)
{
    s->multi = curl_multi_init();
    if (!s->multi)
        return -ENOMEM;
    s->timer.fire = timer_fire;
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
    long limit = s->o.limit > 0 ? s->o.limit : 0;
    curl_multi_setopt(s->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, limit);
    curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, limit > 0 ? limit : 10000L);
    curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)s->o.limit_per_host);
    curl_multi_setopt(s->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    return 0;
}

void cio__http_multi_fini(cio_http_session *s)
{
    if (s->multi)
        curl_multi_cleanup(s->multi);
    s->multi = NULL;
    while (!cio__list_empty(&s->sockets))
        sock_free(cio__container_of(s->sockets.next, struct cio__http_sock, link));
    free(s->by_fd);
    s->by_fd = NULL;
    s->nby_fd = 0;
    cio__timer_stop(s->loop, &s->timer);
    s->timer_now = false;
    if (s->soon) {
        cio_handle_cancel(s->soon);
        s->soon = NULL;
    }
}

int cio__http_attach(cio_http_response *r)
{
    CURLMcode mc = curl_multi_add_handle(r->s->multi, r->easy);
    if (mc != CURLM_OK)
        return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
    r->attached = true;
    cio__http_connect_timer_start(r);
    return 0;
}

void cio__http_note_url(cio_http_response *r)
{
    char *u = NULL;
    if (curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &u) == CURLE_OK && u &&
        (!r->url.len || strcmp(u, r->url.p)) && (!r->eff_url || strcmp(u, r->eff_url))) {
        free(r->eff_url);
        r->eff_url = strdup(u);
    }
}

void cio__http_finish(cio_http_response *r, int err)
{
    if (r->done)
        return;
    r->done = true;
    if (!r->result)
        r->result = err;
    if (r->cause[0]) /* a callback's reason, over libcurl's "Failure writing..." */
        snprintf(r->errbuf, sizeof r->errbuf, "%s", r->cause);
    r->connecting = false;
    cio__timer_stop(r->s->loop, &r->read_timer);
    if (r->attached) {
        long reused = -1;
        if (curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &reused) == CURLE_OK)
            r->reused = r->status ? reused == 0 : -1;
        cio__http_note_url(r);
        r->attached = false;
        curl_multi_remove_handle(r->s->multi, r->easy);
    }
    cio__http_slot_release(r);
    cio__http_wake(r);
}
