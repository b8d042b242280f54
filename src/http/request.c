/* Requests: the easy handle built from a cio_http_request, and the wait
 * for the transfer, with the total and connect timeouts as cio scopes
 * around it. Streamed bodies are read in stream.c. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"

/* Longer timeouts are this: 31 years, which nanoseconds and libcurl's
 * milliseconds still hold. */
#define TIMEOUT_MAX 1e9

/* The effective timeouts: the request's fields, else the session's; a
 * disabled one is 0 here. */
static cio_http_timeout resolve(const cio_http_session *s, const cio_http_timeout *q)
{
    cio_http_timeout t = s->o.timeout;
    if (q) {
        if (q->total)
            t.total = q->total;
        if (q->connect)
            t.connect = q->connect;
        if (q->sock_connect)
            t.sock_connect = q->sock_connect;
        if (q->sock_read)
            t.sock_read = q->sock_read;
        t.exclude_pool_wait |= q->exclude_pool_wait;
    }
    double *f[] = {&t.total, &t.connect, &t.sock_connect, &t.sock_read};
    for (size_t i = 0; i < 4; i++)
        if (!(*f[i] > 0) || isinf(*f[i]))
            *f[i] = 0;
        else if (*f[i] > TIMEOUT_MAX)
            *f[i] = TIMEOUT_MAX;
    return t;
}

static bool bad_header(const cio_http_field *f)
{
    return !f->name || !cio__http_is_token(f->name) || (f->value && strpbrk(f->value, "\r\n"));
}

static int check(const cio_http_request *q)
{
    int bodies = !!q->body + !!q->json + !!q->nform + !!q->body_reader;
    if (bodies > 1 || (q->body_len && !q->body) || (q->nparams && !q->params) ||
        (q->nheaders && !q->headers) || (q->nform && !q->form) || !*q->url ||
        (q->method && !cio__http_is_token(q->method)))
        return -EINVAL;
    for (size_t i = 0; i < q->nheaders; i++)
        if (bad_header(&q->headers[i]))
            return -EINVAL;
    for (size_t i = 0; i < q->nparams; i++)
        if (!q->params[i].name || !q->params[i].value)
            return -EINVAL;
    for (size_t i = 0; i < q->nform; i++)
        if (!q->form[i].name || !q->form[i].value)
            return -EINVAL;
    return 0;
}

/* name=value&... with both URL-encoded, appended to b after `sep`. */
static int encode_fields(CURL *e, struct cio__http_buf *b, const cio_http_field *f, size_t n,
                         char sep)
{
    for (size_t i = 0; i < n; i++) {
        char *k = curl_easy_escape(e, f[i].name, 0), *v = curl_easy_escape(e, f[i].value, 0);
        char c = i ? '&' : sep;
        int rc = !k || !v ? -ENOMEM : 0;
        if (!rc && c)
            rc = cio__http_buf_add(b, &c, 1);
        if (!rc)
            rc = cio__http_buf_add(b, k, strlen(k));
        if (!rc)
            rc = cio__http_buf_add(b, "=", 1);
        if (!rc)
            rc = cio__http_buf_add(b, v, strlen(v));
        curl_free(k);
        curl_free(v);
        if (rc)
            return rc;
    }
    return 0;
}

/* Whether url starts with a scheme and "://" (RFC 3986: a letter, then
 * letters, digits, "+", "-" or "."): anything else is relative to the
 * session's base_url, "/a?next=http://b" included. */
static bool absolute(const char *url)
{
    const char *p = url;
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        return false;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '+' || *p == '-' || *p == '.')
        p++;
    return !strncmp(p, "://", 3);
}

/* Builds r->url, in its buffer (kept from request to request). It is
 * built after the URL the handle already has (the buffer's first
 * r->url_set bytes), and compared with it: a handle sent to the same URL
 * again keeps it, and setup() spares libcurl's copy of it. */
static int make_url(cio_http_response *r, const cio_http_request *q)
{
    cio_http_session *s = r->s;
    struct cio__http_buf *b = &r->url;
    size_t old = r->url_set;
    b->len = old;
    int rc = 0;
    if (s->base_url && !absolute(q->url)) {
        size_t bl = strlen(s->base_url);
        bool slash = bl && s->base_url[bl - 1] == '/';
        if (slash && q->url[0] == '/')
            bl--;
        rc = cio__http_buf_add(b, s->base_url, bl);
        if (!rc && !slash && q->url[0] != '/')
            rc = cio__http_buf_add(b, "/", 1);
    }
    /* The parameters go into the query, before a fragment. */
    size_t before_frag = strcspn(q->url, "#");
    if (!rc)
        rc = cio__http_buf_add(b, q->url, before_frag);
    if (!rc && q->nparams) {
        bool query = memchr(q->url, '?', before_frag);
        rc = encode_fields(r->easy, b, q->params, q->nparams, query ? '&' : '?');
    }
    if (!rc)
        rc = cio__http_buf_add(b, q->url + before_frag, strlen(q->url + before_frag));
    if (rc) {
        cio__http_buf_clear(b); /* no URL */
        return rc;
    }
    size_t n = b->len - old;
    if (!old || n != old || memcmp(b->p, b->p + old, n)) {
        memmove(b->p, b->p + old, n);
        r->url_set = 0;
    }
    b->len = n;
    b->p[n] = 0;
    return 0;
}

/* Appends the header line libcurl reads as "send name: value": "name;"
 * sends an empty value, "name:" (value NULL) removes the header. */
int cio__http_add_header(struct curl_slist **l, const char *name, const char *value)
{
    size_t n = strlen(name) + (value ? strlen(value) : 0) + 3;
    char small[512], *line = n <= sizeof small ? small : malloc(n);
    if (!line)
        return -ENOMEM;
    if (value && *value)
        snprintf(line, n, "%s: %s", name, value);
    else
        snprintf(line, n, value ? "%s;" : "%s:", name);
    struct curl_slist *x = curl_slist_append(*l, line);
    if (line != small)
        free(line);
    if (!x)
        return -ENOMEM;
    *l = x;
    return 0;
}

/* The session's headers that the request does not replace, then the
 * request's. */
static int make_headers(cio_http_response *r, const cio_http_request *q, const char *ctype,
                        bool has_body)
{
    cio_http_session *s = r->s;
    if (!q->nheaders && !ctype && !has_body) {
        curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, s->headers);
        return 0;
    }
    int rc = 0;
    bool own_ctype = false; /* the session's or the request's */
    for (struct curl_slist *h = s->headers; h && !rc; h = h->next) {
        size_t nl = strcspn(h->data, ":;");
        bool replaced = false;
        for (size_t i = 0; i < q->nheaders && !replaced; i++)
            replaced =
                strlen(q->headers[i].name) == nl && !strncasecmp(q->headers[i].name, h->data, nl);
        if (!replaced) {
            own_ctype |= nl == 12 && !strncasecmp(h->data, "content-type", 12);
            struct curl_slist *x = curl_slist_append(r->req_headers, h->data);
            rc = x ? 0 : -ENOMEM;
            if (x)
                r->req_headers = x;
        }
    }
    for (size_t i = 0; i < q->nheaders && !rc; i++) {
        own_ctype |= !strcasecmp(q->headers[i].name, "content-type");
        rc = cio__http_add_header(&r->req_headers, q->headers[i].name, q->headers[i].value);
    }
    /* A body sent as is has no Content-Type unless one is given: libcurl
     * would label it application/x-www-form-urlencoded. A multipart form
     * gets libcurl's, with its boundary. */
    if (!rc && !own_ctype && (ctype || (has_body && !r->mime)))
        rc = cio__http_add_header(&r->req_headers, "Content-Type", ctype);
    if (!rc && has_body) /* no 100-continue round trip */
        rc = cio__http_add_header(&r->req_headers, "Expect", NULL);
    if (!rc)
        curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->req_headers);
    return rc;
}

static int set_body(cio_http_response *r, const cio_http_request *q, const char **ctype)
{
    CURL *e = r->easy;
    if (q->json) {
        r->req_body = json_dumps((const json_t *)q->json, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!r->req_body)
            return -EINVAL;
        *ctype = "application/json";
    } else if (q->nform && q->multipart) {
        r->mime = curl_mime_init(e);
        if (!r->mime)
            return -ENOMEM;
        for (size_t i = 0; i < q->nform; i++) {
            curl_mimepart *part = curl_mime_addpart(r->mime);
            if (!part || curl_mime_name(part, q->form[i].name) != CURLE_OK ||
                curl_mime_data(part, q->form[i].value, CURL_ZERO_TERMINATED) != CURLE_OK)
                return -ENOMEM;
        }
        curl_easy_setopt(e, CURLOPT_MIMEPOST, r->mime);
        return 0; /* libcurl sets the Content-Type with its boundary */
    } else if (q->nform) {
        struct cio__http_buf b = {0};
        int rc = encode_fields(e, &b, q->form, q->nform, 0);
        if (rc) {
            cio__http_buf_free(&b);
            return rc;
        }
        r->req_body = b.p ? b.p : strdup("");
        if (!r->req_body)
            return -ENOMEM;
        *ctype = "application/x-www-form-urlencoded";
    }
    if (r->req_body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->req_body));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->req_body);
    } else if (q->body || (q->method && !q->body_reader && !strcasecmp(q->method, "POST"))) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, q->body ? q->body : "");
    } else if (q->body_reader) {
        r->reader = q->body_reader;
        r->reader_arg = q->body_reader_arg;
        r->up_size = q->body_size > 0 ? q->body_size : -1;
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(q->body_size > 0 ? q->body_size : -1));
    }
    return 0;
}

/* The options every request of the session shares: set once per handle. */
static void session_defaults(cio_http_session *s, CURL *e)
{
    const cio_http_session_options *o = &s->o;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    cio__http_sockets(s, e);
    /* User-Agent is in the session's headers (session.c); a CONNECT to a
     * proxy does not carry those, so it gets libcurl's own. */
    if (s->proxy || o->trust_env)
        curl_easy_setopt(e, CURLOPT_USERAGENT, s->user_agent);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (!o->no_decompress) /* decoding on; the header is the session's */
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    if (o->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (s->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, s->ca_file);
    if (s->proxy)
        curl_easy_setopt(e, CURLOPT_PROXY, s->proxy);
    else if (!o->trust_env)
        curl_easy_setopt(e, CURLOPT_PROXY, "");
    /* The share holds the cookies; CURLOPT_COOKIEFILE "" turns the
     * handle's cookie engine on (setup() drops it before a reset). */
    if (s->share) {
        curl_easy_setopt(e, CURLOPT_SHARE, s->share);
        curl_easy_setopt(e, CURLOPT_COOKIEFILE, "");
    }
    static const long versions[] = {CURL_HTTP_VERSION_2TLS, CURL_HTTP_VERSION_1_1,
                                    CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE};
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, versions[o->http_version]);
    /* libcurl drops a connection once its idle time in whole seconds
     * exceeds this: floor() makes that at most a second late. */
    curl_easy_setopt(e, CURLOPT_MAXAGE_CONN, (long)floor(o->keepalive_timeout));
    if (o->max_body_size)
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_body_size);
}

/* Configures r->easy for q. A pooled handle whose last request was a plain
 * GET (no body, no headers of its own) carries nothing another plain GET
 * must undo, so it is reused as it is; any other request leaves it dirty,
 * and a dirty handle is reset first. Cheaper than a reset per request. */
static int setup(cio_http_response *r, const cio_http_request *q, const cio_http_timeout *tm,
                 double connect_left)
{
    cio_http_session *s = r->s;
    CURL *e = r->easy;
    const cio_http_session_options *o = &s->o;
    const char *ctype = NULL;
    const char *m = q->method;
    bool has_body = q->body || q->json || q->nform || q->body_reader;
    bool plain = !has_body && !q->nheaders && (!m || !strcmp(m, "GET"));
    if (r->easy_state == CIO__EASY_DIRTY) {
        /* libcurl 7.88's reset forgets the list of cookie files without
         * freeing it; NULL frees it (the share keeps the cookies). */
        if (s->share)
            curl_easy_setopt(e, CURLOPT_COOKIEFILE, NULL);
        curl_easy_reset(e);
        r->easy_state = CIO__EASY_FRESH;
    }
    bool defaults = r->easy_state == CIO__EASY_FRESH;
    if (defaults)
        session_defaults(s, e);
    r->easy_state = plain ? CIO__EASY_PLAIN : CIO__EASY_DIRTY;
    int rc = set_body(r, q, &ctype);
    if (!rc)
        rc = make_headers(r, q, ctype, has_body);
    if (rc)
        return rc;
    cio__http_response_setup(r, defaults);
    if (defaults || r->url_set != r->url.len) {
        r->url_set = 0;
        if (curl_easy_setopt(e, CURLOPT_URL, r->url.p) != CURLE_OK)
            return -EINVAL;
        r->url_set = r->url.len;
    }
    if (s->h2c_no_reuse) { /* see session.c; set either way: handles are pooled */
        long own = strncasecmp(r->url.p, "https:", 6) != 0;
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, own);
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, own);
    }
    if (m && !strcasecmp(m, "HEAD"))
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else if (m && strcasecmp(m, "POST") && (has_body || strcasecmp(m, "GET")))
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m); /* a body makes libcurl POST */
    bool follow = q->follow_redirects ? q->follow_redirects > 0 : !o->no_redirects;
    r->follow = follow;
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, (long)follow);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS,
                     (long)(q->max_redirects ? q->max_redirects : o->max_redirects));
    r->max_body = o->max_body_size;
    /* libcurl keeps only the connect timeouts; the others are cio's. */
    double c = tm->sock_connect;
    r->connect_kind = CIO_HTTP_TIMEOUT_SOCK_CONNECT;
    if (connect_left > 0 && (c == 0 || connect_left < c)) {
        c = connect_left;
        r->connect_kind = CIO_HTTP_TIMEOUT_CONNECT;
    }
    long c_ms = c > 0 ? (long)ceil(c * 1000) : 0L;
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c_ms);
    r->connect_ns = (int64_t)c_ms * 1000000;
    r->read_ns = (int64_t)(tm->sock_read * 1e9);
    r->stream = q->stream;
    return 0;
}

/* The timeout kind of an interruption that returned -ETIMEDOUT. */
static cio_http_timeout_kind which(const cio_scope *total, const cio_scope *conn)
{
    if (cio_scope_expired(total))
        return CIO_HTTP_TIMEOUT_TOTAL;
    if (cio_scope_expired(conn))
        return CIO_HTTP_TIMEOUT_CONNECT;
    return CIO_HTTP_TIMEOUT_SCOPE;
}

/* Ends r's transfer because its task was interrupted or failed. */
int cio__http_abort(cio_http_response *r, int rc, const cio_scope *total, const cio_scope *conn)
{
    if (rc == -ETIMEDOUT && !r->timeout_kind) {
        r->errbuf[0] = 0;
        cio__http_timed_out(r, which(total, conn));
    } else if (rc == -ECANCELED && !r->errbuf[0]) {
        snprintf(r->errbuf, sizeof r->errbuf, "the request's task was cancelled");
    }
    cio__http_finish(r, rc);
    r->result = rc;
    return rc;
}

int cio_http_request_send(cio_http_session *s, const cio_http_request *q, cio_http_response **out)
{
    if (out)
        *out = NULL;
    if (!s || !q || !q->url || !out || check(q))
        return -EINVAL;
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc)
        return rc;
    if (s->closed)
        return CIO_EHTTP_CLOSED;
    cio_http_response *r = cio__http_response_new(s);
    if (!r)
        return -ENOMEM;
    *out = r;
    cio__http_enter(s);
    cio_http_timeout tm = resolve(s, q->timeout);
    cio_scope total = {0}, conn = {0};
    double start = cio_time();
    if (tm.total && !tm.exclude_pool_wait) {
        rc = cio_timeout_enter(&total, tm.total);
        r->deadline = cio__abs_to_ns(start + tm.total);
    }
    if (!rc)
        rc = make_url(r, q);
    if (!rc && tm.connect)
        rc = cio_timeout_enter(&conn, tm.connect);
    if (!rc) {
        rc = cio__http_slot_acquire(s, r, t, r->url.p);
        if (conn.entered_)
            cio_scope_exit(&conn);
    }
    double connect_left = tm.connect ? tm.connect - (cio_time() - start) : 0;
    if (!rc && tm.connect && !(connect_left > 0)) {
        conn.expired_ = true; /* ran out exactly as the slot came */
        rc = -ETIMEDOUT;
    }
    if (!rc && tm.total && tm.exclude_pool_wait) {
        rc = cio_timeout_enter(&total, tm.total);
        r->deadline = cio__abs_to_ns(cio_time() + tm.total);
    }
    if (!rc)
        rc = setup(r, q, &tm, connect_left);
    if (!rc)
        rc = cio__http_attach(r);
    while (!rc && !r->done && !(r->stream && r->headers_done)) {
        if (r->need_upload)
            rc = cio__http_upload_fill(r);
        else
            rc = cio__http_wait(r, t);
    }
    if (rc) {
        cio__http_abort(r, rc, &total, &conn);
    } else if (!r->done) {
        cio__http_note_url(r); /* a streamed body: the final URL is known */
    }
    if (!rc) {
        rc = r->result;
        /* A streamed body that failed after its headers fails its reader,
         * whatever the timing: next() returns the error after the data. */
        if (rc && r->stream && r->headers_done)
            rc = 0;
    }
    if (!rc) {
        int rfs = q->raise_for_status ? q->raise_for_status > 0 : s->o.raise_for_status;
        if (rfs && r->status >= 400) {
            r->status_error = true;
            const char *reason = cio_http_response_reason(r);
            snprintf(r->errbuf, sizeof r->errbuf, "HTTP %d%s%s", r->status, *reason ? " " : "",
                     reason);
            rc = CIO_EHTTP_STATUS;
        }
    }
    if (total.entered_)
        cio_scope_exit(&total);
    cio__http_leave(s);
    return rc;
}

int cio_http_get(cio_http_session *s, const char *url, cio_http_response **out)
{
    cio_http_request q = {.url = url};
    return cio_http_request_send(s, &q, out);
}

int cio_http_post(cio_http_session *s, const char *url, const void *body, size_t body_len,
                  const char *content_type, cio_http_response **out)
{
    cio_http_field h = {"Content-Type", content_type};
    cio_http_request q = {.method = "POST",
                          .url = url,
                          .body = body,
                          .body_len = body_len,
                          .headers = content_type ? &h : NULL,
                          .nheaders = content_type ? 1 : 0};
    return cio_http_request_send(s, &q, out);
}

int cio_http_post_json(cio_http_session *s, const char *url, const struct json_t *json,
                       cio_http_response **out)
{
    if (!json) {
        if (out)
            *out = NULL;
        return -EINVAL;
    }
    cio_http_request q = {.method = "POST", .url = url, .json = json};
    return cio_http_request_send(s, &q, out);
}
