/* Sessions: options and defaults, lifetime, the keeper task that reports a
 * session nobody closed, and the pool of request slots that enforces the
 * session's limits. (Freed responses, kept for reuse with their easy
 * handles, are response.c's.) */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"

/* ---- slots ---------------------------------------------------------------
 * A request holds a slot from before its transfer starts until the transfer
 * ends. Slots are handed over FIFO: a releaser grants the first waiter whose
 * host has room and wakes it, so a waiter never loses its turn. */

/* The per-host entry of url's scheme:host:port, made on first use. The URL
 * is parsed as libcurl parses it (guessing a missing scheme), so that it
 * fails the same way with a per-host limit as without one: -EINVAL for a
 * malformed URL, -EPROTONOSUPPORT for a scheme other than http and https
 * (r's error text says why), -ENOMEM. Keys have no length limit: a host
 * name libcurl accepts is looked up as it would be without the limit. */
static int host_for(cio_http_session *s, cio_http_response *r, const char *url,
                    struct cio__http_host **out)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, small[256], *key = NULL;
    int rc = 0;
    CURLUcode uc =
        u ? curl_url_set(u, CURLUPART_URL, url, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME)
          : CURLUE_OUT_OF_MEMORY;
    if (!uc)
        uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    if (!uc && strcasecmp(scheme, "http") && strcasecmp(scheme, "https")) {
        snprintf(r->errbuf, sizeof r->errbuf, "Protocol \"%.100s\" not supported", scheme);
        rc = -EPROTONOSUPPORT;
        goto out;
    }
    if (!uc)
        uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
    if (!uc)
        uc = curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    if (uc) {
        cio__http_url_rejected(r, uc);
        rc = uc == CURLUE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
        goto out;
    }
    size_t n = strlen(scheme) + strlen(host) + strlen(port) + 3;
    key = n <= sizeof small ? small : malloc(n);
    if (!key) {
        rc = -ENOMEM;
        goto out;
    }
    snprintf(key, n, "%s:%s:%s", scheme, host, port);
    cio__list_foreach(it, &s->hosts)
    {
        struct cio__http_host *x = cio__container_of(it, struct cio__http_host, link);
        if (!strcmp(x->key, key)) {
            *out = x;
            goto out;
        }
    }
    struct cio__http_host *h = malloc(sizeof *h + n);
    if (!h) {
        rc = -ENOMEM;
        goto out;
    }
    h->active = 0;
    h->waiting = 0;
    memcpy(h->key, key, n);
    cio__list_push(&s->hosts, &h->link);
    *out = h;
out:
    if (key != small)
        free(key);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

static void host_drop_if_unused(struct cio__http_host *h)
{
    if (h && h->active == 0 && h->waiting == 0) {
        cio__list_unlink(&h->link);
        free(h);
    }
}

static bool room(cio_http_session *s, struct cio__http_host *h)
{
    if (s->o.limit > 0 && s->active >= s->o.limit)
        return false;
    return !h || h->active < s->o.limit_per_host;
}

static void take(cio_http_session *s, cio_http_response *r, struct cio__http_host *h)
{
    s->active++;
    if (h)
        h->active++;
    r->host = h;
    r->has_slot = true;
}

int cio__http_slot_acquire(cio_http_session *s, cio_http_response *r, struct cio__task *t,
                           const char *url)
{
    struct cio__http_host *h = NULL;
    if (s->o.limit_per_host > 0) {
        int rc = host_for(s, r, url, &h);
        if (rc)
            return rc;
    }
    /* Waiters ahead have no room, or they would hold their slot already:
     * with room, this request takes a slot none of them can use. */
    if (room(s, h)) {
        take(s, r, h);
        return 0;
    }
    struct cio__http_slot_waiter w = {.task = t, .host = h};
    cio__list_push(&s->waiters, &w.link);
    if (h)
        h->waiting++;
    int rc = 0;
    while (!w.granted && !rc) {
        rc = cio__interrupted(t);
        if (!rc)
            rc = cio__suspend(t, "http pool slot");
        if (s->closed)
            rc = CIO_EHTTP_CLOSED; /* even granted: the request was ended */
    }
    cio__list_unlink(&w.link);
    if (h)
        h->waiting--;
    if (w.granted) {
        r->host = h;
        r->has_slot = true;
        if (rc) {
            cio__http_slot_release(r);
            return rc;
        }
        return 0;
    }
    host_drop_if_unused(h);
    return rc;
}

void cio__http_slot_release(cio_http_response *r)
{
    if (!r->has_slot)
        return;
    cio_http_session *s = r->s;
    r->has_slot = false;
    s->active--;
    struct cio__http_host *h = r->host;
    if (h)
        h->active--;
    r->host = NULL;
    /* The first waiter with room now, in FIFO order; one slot was freed,
     * so at most one can have it. */
    cio__list_foreach(it, &s->waiters)
    {
        struct cio__http_slot_waiter *w = cio__container_of(it, struct cio__http_slot_waiter, link);
        if (!room(s, w->host))
            continue;
        s->active++;
        if (w->host)
            w->host->active++;
        w->granted = true;
        cio__list_unlink(&w->link);
        cio__wake(w->task, 0);
        break;
    }
    host_drop_if_unused(h);
}

/* ---- lifetime ----------------------------------------------------------- */

void cio__http_enter(cio_http_session *s)
{
    s->inflight++;
}

void cio__http_leave(cio_http_session *s)
{
    if (--s->inflight == 0 && s->closer)
        cio__wake(s->closer, 0);
}

static void session_free(cio_http_session *s)
{
    struct cio__list *n;
    while ((n = cio__list_shift(&s->hosts)))
        free(cio__container_of(n, struct cio__http_host, link));
    cio__http_spares_free(s);
    curl_slist_free_all(s->headers);
    if (s->share)
        curl_share_cleanup(s->share);
    free(s->base_url);
    free(s->ca_file);
    free(s->proxy);
    free(s->user_agent);
    free(s);
    curl_global_cleanup();
}

void cio__http_session_unref(cio_http_session *s)
{
    if (--s->refs == 0)
        session_free(s);
}

/* Closes s from a task or callback; waits for in-flight calls if it can. */
static int close_session(cio_http_session *s)
{
    s->closed = true;
    /* Transfers still attached (requests waiting, streamed bodies) end now. */
    cio__list_foreach(it, &s->live)
    {
        cio_http_response *r = cio__container_of(it, cio_http_response, link);
        if (!r->done) {
            snprintf(r->errbuf, sizeof r->errbuf, "the session was closed");
            cio__http_finish(r, CIO_EHTTP_CLOSED);
        }
    }
    cio__list_foreach(it, &s->waiters)
    {
        cio__wake(cio__container_of(it, struct cio__http_slot_waiter, link)->task, 0);
    }
    if (s->inflight) {
        struct cio__task *t = cio__self();
        if (!t)
            return CIO_ENOTTASK;
        s->closer = t;
        while (s->inflight)
            cio__suspend_nointr(t, "http session close");
        s->closer = NULL;
    }
    cio__http_multi_fini(s);
    cio__http_spares_free(s);
    return 0;
}

/* The keeper waits for the session to be closed. Woken with 1 by
 * cio_http_session_close(); cancelled when the main task returned with the
 * session still open: it reports where the session was made and closes it. */
static int keeper_main(void *arg)
{
    cio_http_session *s = arg;
    struct cio__task *t = cio__self();
    int rc = cio__suspend(t, "http session (open)");
    while (rc == CIO_EDEADLOCK) /* the user may still close it */
        rc = cio__suspend_nointr(t, "http session (open)");
    if (rc == 1)
        return 0;
    cio__report(s->loop, "http session created at %s:%d was never closed: closing it", s->file,
                s->line);
    s->keeper = (cio_task){NULL, 0};
    close_session(s);
    cio__http_session_unref(s);
    return 0;
}

static int copy_str(char **dst, const char *src)
{
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : -ENOMEM;
}

static bool bad_time(double v)
{
    return v != v;
}

/* Appends "name: value" to the session's headers, unless the user's
 * session headers name it already (theirs is sent instead). */
static int add_default_header(cio_http_session *s, const cio_http_session_options *o,
                              const char *name, const char *value)
{
    for (size_t i = 0; i < o->nheaders; i++)
        if (!strcasecmp(o->headers[i].name, name))
            return 0;
    return cio__http_add_header(&s->headers, name, value);
}

/* User-Agent and Accept-Encoding travel in the session's header list
 * rather than as CURLOPT_USERAGENT and CURLOPT_ACCEPT_ENCODING's header:
 * libcurl formats those two into a fresh string for every request (one
 * aprintf each, then again into the request), which cost about 7,000
 * instructions per request, 5% of a small GET. CURLOPT_ACCEPT_ENCODING
 * is still set (request.c): it is what turns decoding on, and libcurl
 * leaves its own header out when the list has one. The list is the one
 * libcurl's "" would send: every encoding it can decode. */
static int add_default_headers(cio_http_session *s, const cio_http_session_options *o)
{
    int rc = 0;
    if (*s->user_agent)
        rc = add_default_header(s, o, "User-Agent", s->user_agent);
    if (rc || o->no_decompress)
        return rc;
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    char list[64] = "";
    if (v->features & CURL_VERSION_LIBZ)
        strcat(list, ", deflate, gzip");
    if (v->features & CURL_VERSION_BROTLI)
        strcat(list, ", br");
#ifdef CURL_VERSION_ZSTD
    if (v->features & CURL_VERSION_ZSTD)
        strcat(list, ", zstd");
#endif
    return *list ? add_default_header(s, o, "Accept-Encoding", list + 2) : 0;
}

int cio_http_session_new_at(const cio_http_session_options *opts, cio_http_session **out,
                            const char *file, int line)
{
    static const cio_http_session_options none;
    if (!out)
        return -EINVAL;
    *out = NULL;
    const cio_http_session_options *o = opts ? opts : &none;
    if (o->limit < -1 || o->limit_per_host < 0 || o->http_version < 0 || o->http_version > 2 ||
        o->max_redirects < 0 || o->max_body_size < 0 || (o->nheaders && !o->headers) ||
        bad_time(o->timeout.total) || bad_time(o->timeout.connect) ||
        bad_time(o->timeout.sock_connect) || bad_time(o->timeout.sock_read) ||
        bad_time(o->keepalive_timeout))
        return -EINVAL;
    struct cio__loop *loop = cio__tls_loop;
    if (!loop)
        return CIO_ENOLOOP;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -ENOMEM;
    cio_http_session *s = calloc(1, sizeof *s);
    if (!s) {
        curl_global_cleanup();
        return -ENOMEM;
    }
    s->loop = loop;
    s->o = *o;
    s->o.headers = NULL;
    s->o.nheaders = 0;
    s->refs = 1;
    s->file = file;
    s->line = line;
    cio__list_init(&s->waiters);
    cio__list_init(&s->hosts);
    cio__list_init(&s->live);
    cio__list_init(&s->sockets);
    cio__list_init(&s->spare);
    if (s->o.limit == 0)
        s->o.limit = 100;
    if (s->o.max_redirects == 0)
        s->o.max_redirects = 10;
    if (s->o.keepalive_timeout == 0)
        s->o.keepalive_timeout = 15;
    cio_http_timeout *tm = &s->o.timeout;
    if (tm->total == 0)
        tm->total = 300;
    if (tm->sock_connect == 0)
        tm->sock_connect = 30;
    int rc = 0;
    if (copy_str(&s->base_url, o->base_url) || copy_str(&s->ca_file, o->ca_file) ||
        copy_str(&s->proxy, o->proxy) ||
        copy_str(&s->user_agent, o->user_agent ? o->user_agent : "cio-http/0.1"))
        rc = -ENOMEM;
    for (size_t i = 0; !rc && i < o->nheaders; i++) {
        const cio_http_field *f = &o->headers[i];
        if (!f->name || !cio__http_is_token(f->name) || (f->value && strpbrk(f->value, "\r\n")))
            rc = -EINVAL;
        else
            rc = cio__http_add_header(&s->headers, f->name, f->value);
    }
    if (!rc && strpbrk(s->user_agent, "\r\n"))
        rc = -EINVAL;
    if (!rc)
        rc = add_default_headers(s, o);
    /* libcurl 7.88 layers a second HTTP/2 handler onto a reused clear-text
     * HTTP/2 connection, and every request after the first on it fails
     * with "Error in the HTTP2 framing layer" (curl issue 10634, fixed in
     * 8.0; Debian 12 ships 7.88.1). */
    unsigned v = curl_version_info(CURLVERSION_NOW)->version_num;
    s->h2c_no_reuse = o->http_version == 2 && v >= 0x075800 && v < 0x080000;
    if (!rc && o->cookies) {
        s->share = curl_share_init();
        if (!s->share || curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE))
            rc = -ENOMEM;
    }
    if (!rc)
        rc = cio__http_multi_init(s);
    if (!rc) {
        cio_spawn_options so = {.name = "http-session"};
        s->keeper = cio_spawn_with(&so, keeper_main, s);
        rc = cio_spawn_error(s->keeper);
        if (!rc)
            cio_detach(s->keeper);
    }
    if (rc) {
        cio__http_multi_fini(s);
        session_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int cio_http_session_close(cio_http_session *s)
{
    if (!s || s->closed)
        return -EINVAL;
    if (s->inflight && !cio__self())
        return CIO_ENOTTASK;
    /* Release the keeper without letting it touch s again. */
    struct cio__task *k = cio__task_from(s->keeper);
    if (k && k->state != CIO__T_DONE) {
        if (k->state == CIO__T_WAITING)
            cio__wake(k, 1);
        else if (k->started)
            k->wake_code = 1; /* woken already (cancelled): tell it we closed */
        else
            cio__cancel_task(k, -ECANCELED); /* never started: never will */
    }
    s->keeper = (cio_task){NULL, 0};
    int rc = close_session(s);
    cio__http_session_unref(s);
    return rc;
}
