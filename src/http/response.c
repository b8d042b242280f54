/* Responses: libcurl's data callbacks (headers, body, upload), the sock_read
 * timer, accessors, JSON, and reading a streamed body. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"

#ifdef CIO__ASAN
#include <sanitizer/asan_interface.h>
#endif

/* A streamed body pauses its transfer when this much is buffered unread. */
#define STREAM_HIGH_WATER ((size_t)1 << 20)
#define UPLOAD_CHUNK ((size_t)64 * 1024)

/* Makes room for n more bytes and the NUL after them. */
static int buf_reserve(struct cio__http_buf *b, size_t n)
{
    if (cio__likely(b->len + n + 1 <= b->cap))
        return 0;
    size_t cap = b->cap ? b->cap : 512;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return -ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int cio__http_buf_add(struct cio__http_buf *b, const void *data, size_t n)
{
    if (buf_reserve(b, n))
        return -ENOMEM;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

/* Appends a and b, each followed by a NUL (b may be NULL: a alone). */
static int buf_add_pair(struct cio__http_buf *buf, const char *a, size_t an, const char *b,
                        size_t bn)
{
    if (buf_reserve(buf, an + 1 + (b ? bn + 1 : 0)))
        return -ENOMEM;
    char *p = buf->p + buf->len;
    memcpy(p, a, an);
    p[an] = 0;
    buf->len += an + 1;
    if (b) {
        memcpy(p + an + 1, b, bn);
        p[an + 1 + bn] = 0;
        buf->len += bn + 1;
    }
    buf->p[buf->len] = 0;
    return 0;
}

void cio__http_buf_clear(struct cio__http_buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = 0;
}

void cio__http_buf_free(struct cio__http_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- waiting ------------------------------------------------------------ */

void cio__http_wake(cio_http_response *r)
{
    if (r->waiter)
        cio__wake(r->waiter, 0);
}

int cio__http_wait(cio_http_response *r, struct cio__task *t)
{
    int rc = cio__interrupted(t);
    if (rc)
        return rc;
    r->waiter = t;
    rc = cio__suspend(t, "http response");
    r->waiter = NULL;
    return rc;
}

void cio__http_timed_out(cio_http_response *r, cio_http_timeout_kind kind)
{
    char prev[CURL_ERROR_SIZE];
    memcpy(prev, r->errbuf, sizeof prev);
    prev[sizeof prev - 1] = 0;
    r->timeout_kind = kind;
    if (prev[0])
        snprintf(r->errbuf, sizeof r->errbuf, "%s timeout (%.200s)", cio_http_timeout_name(kind),
                 prev);
    else
        snprintf(r->errbuf, sizeof r->errbuf, "%s timeout", cio_http_timeout_name(kind));
}

/* ---- the connect and sock_read timer ----------------------------------------
 * Until the connection is ready, the timer bounds the connect: libcurl has
 * the same bound (CURLOPT_CONNECTTIMEOUT_MS, which it also splits between
 * addresses), but does not check it in every state a transfer can wait in,
 * and a connect it left unchecked hung until the kernel gave up (~2 min).
 * Then it is the sock_read timer: each byte moved only records the time,
 * and the timer, when it fires early, re-arms itself for the real deadline:
 * no timer operation per chunk. */

static void read_timer_arm(cio_http_response *r, int64_t at)
{
    cio__timer_stop(r->s->loop, &r->read_timer);
    r->read_timer.deadline = at;
    cio__timer_start(r->s->loop, &r->read_timer);
}

void cio__http_connect_timer_start(cio_http_response *r)
{
    r->connecting = r->connect_ns > 0;
    if (r->connecting)
        read_timer_arm(r, r->s->loop->now + r->connect_ns);
}

static void read_timer_fire(struct cio__timer *tm)
{
    cio_http_response *r = cio__container_of(tm, cio_http_response, read_timer);
    if (r->connecting) {
        r->connecting = false;
        r->errbuf[0] = 0;
        cio__http_timed_out(r, r->connect_kind);
        cio__http_finish(r, -ETIMEDOUT);
        return;
    }
    int64_t now = r->s->loop->now;
    if (r->paused || r->need_upload) {
        r->last_activity = now; /* our reader is slow, not the peer */
        read_timer_arm(r, now + r->read_ns);
        return;
    }
    if (now - r->last_activity < r->read_ns) {
        read_timer_arm(r, r->last_activity + r->read_ns);
        return;
    }
    r->errbuf[0] = 0;
    cio__http_timed_out(r, CIO_HTTP_TIMEOUT_SOCK_READ);
    cio__http_finish(r, -ETIMEDOUT);
}

static int on_prereq(void *arg, char *ip, char *lip, int rport, int lport)
{
    (void)ip, (void)lip, (void)rport, (void)lport;
    cio_http_response *r = arg;
    if (r->read_ns) {
        r->last_activity = r->s->loop->now;
        read_timer_arm(r, r->last_activity + r->read_ns);
    } else if (r->connecting) {
        cio__timer_stop(r->s->loop, &r->read_timer);
    }
    r->connecting = false;
    return CURL_PREREQFUNC_OK;
}

/* ---- libcurl's callbacks ------------------------------------------------ */

static bool is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* Reads "HTTP/1.1 200 OK" (or "HTTP/2 204", no reason): the version, a
 * three-digit status (RFC 9112) and where the reason starts. libcurl lets
 * some malformed lines through (it read "HTTP/nt-Length: 1000" as a
 * status line, found by tests/fuzz), so nothing is taken on trust. */
static bool status_line(const char *d, size_t len, int *status, int *version, size_t *reason)
{
    const char *sp = memchr(d, ' ', len);
    size_t v = sp ? (size_t)(sp - d) : 0, i = v + 1;
    if (!sp || len - i < 3 || (len > i + 3 && d[i + 3] != ' '))
        return false;
    for (size_t k = i; k < i + 3; k++)
        if (d[k] < '0' || d[k] > '9')
            return false;
    if (v == 8 && d[5] == '1' && d[6] == '.' && (d[7] == '0' || d[7] == '1'))
        *version = d[7] == '0' ? 10 : 11;
    else if (v == 6 && (d[5] == '2' || d[5] == '3'))
        *version = (d[5] - '0') * 10;
    else
        return false;
    *status = (d[i] - '0') * 100 + (d[i + 1] - '0') * 10 + (d[i + 2] - '0');
    *reason = i + 3;
    while (*reason < len && d[*reason] == ' ')
        (*reason)++;
    return true;
}

static bool tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

bool cio__http_is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!tchar((unsigned char)*s))
            return false;
    return true;
}

/* Whether a header line is what RFC 9112 allows: a name of token
 * characters, a colon right after it, and no CR in the value. libcurl
 * passes on a bare CR (which other parsers read as a line end: a header
 * smuggled past this one) and names with spaces in them. */
static bool header_line_ok(const char *d, size_t len)
{
    size_t i = 0;
    while (i < len && tchar((unsigned char)d[i]))
        i++;
    return i > 0 && i < len && d[i] == ':' && !memchr(d + i, '\r', len - i);
}

/* Fails the transfer from one of libcurl's callbacks, which then returns
 * 0 (or an abort code). libcurl writes its own message ("Failure writing
 * output to destination") into the error buffer as the transfer ends, so
 * ours waits in r->cause until cio__http_finish(). */
static size_t fail(cio_http_response *r, int code, const char *what)
{
    r->result = code;
    snprintf(r->cause, sizeof r->cause, "%s", what);
    return 0;
}

static size_t header_error(cio_http_response *r, const char *what)
{
    return fail(r, CIO_EHTTP_PROTOCOL, what);
}

/* A line that starts with a space or tab continues the header before it
 * (obsolete line folding): as RFC 9112 lets a client do, it joins that
 * header's value with a space. hdr ends with that value's NUL either way
 * (a raw line, or a trailer's pair). */
static size_t unfold(cio_http_response *r, const char *d, size_t len, size_t all)
{
    if (!r->may_fold)
        return header_error(r, "malformed header line (a continuation of nothing)");
    while (len && (*d == ' ' || *d == '\t'))
        d++, len--;
    while (len && (d[len - 1] == ' ' || d[len - 1] == '\t'))
        len--;
    if (memchr(d, '\r', len))
        return header_error(r, "malformed header line (a bare CR)");
    if (len) {
        bool empty = r->hdr.p[r->hdr.len - 2] == 0; /* a trailer's empty value */
        r->hdr.len--;                               /* its NUL */
        if (!empty)
            r->hdr.p[r->hdr.len++] = ' ';
        if (buf_add_pair(&r->hdr, d, len, NULL, 0)) {
            return fail(r, -ENOMEM, "out of memory");
        }
    }
    return all;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    cio_http_response *r = arg;
    size_t len = size * n, all = len;
    if (r->read_ns)
        r->last_activity = r->s->loop->now;
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    if (len >= 5 && data[0] == 'H' && !memcmp(data, "HTTP/", 5)) {
        /* A new response of the chain (1xx, redirect, final): start over. */
        cio__http_buf_clear(&r->hdr);
        r->nhdr = 0;
        r->hdr_parsed = false;
        r->may_fold = false;
        size_t off;
        if (!status_line(data, len, &r->status, &r->version, &off))
            return header_error(r, "malformed status line");
        if (buf_add_pair(&r->hdr, data + off, len - off, NULL, 0)) {
            return fail(r, -ENOMEM, "out of memory");
        }
        return all;
    }
    if (len == 0) {
        /* End of a header block: the final one unless 1xx or a redirect
         * that libcurl will follow. */
        r->may_fold = false;
        if (r->status >= 200 &&
            !(r->follow && is_redirect(r->status) && cio_http_response_header(r, "location"))) {
            r->headers_done = true;
            if (r->stream)
                cio__http_wake(r);
        }
        return all;
    }
    if (data[0] == ' ' || data[0] == '\t')
        return unfold(r, data, len, all);
    if (!header_line_ok(data, len))
        return header_error(r, memchr(data, '\r', len)
                                   ? "malformed header line (a bare CR)"
                                   : "malformed header line (no name of token characters "
                                     "and a colon)");
    r->may_fold = true;
    if (!r->hdr_parsed) {
        /* Kept as it came; parse_headers() splits the lines when asked. */
        if (buf_add_pair(&r->hdr, data, len, NULL, 0)) {
            return fail(r, -ENOMEM, "out of memory");
        }
        return all;
    }
    /* A line after the headers were read (a trailer): split now. */
    const char *colon = memchr(data, ':', len);
    size_t nlen = (size_t)(colon - data), voff = nlen + 1;
    while (voff < len && (data[voff] == ' ' || data[voff] == '\t'))
        voff++;
    while (len > voff && (data[len - 1] == ' ' || data[len - 1] == '\t'))
        len--;
    if (buf_add_pair(&r->hdr, data, nlen, data + voff, len - voff)) {
        return fail(r, -ENOMEM, "out of memory");
    }
    r->nhdr++;
    return all;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    cio_http_response *r = arg;
    size_t len = size * n;
    if (r->read_ns)
        r->last_activity = r->s->loop->now;
    r->headers_done = true;
    if (r->stream) {
        if (r->body.len - r->body_pos >= STREAM_HIGH_WATER) {
            r->paused = true;
            return CURL_WRITEFUNC_PAUSE;
        }
        if (r->body_pos && r->body_pos == r->body.len && !r->chunk_len) {
            cio__http_buf_clear(&r->body); /* all consumed: reuse from the start */
            r->body_pos = 0;
        }
    }
    /* The whole body counts, what a stream's reader consumed included. */
    r->received += len;
    if (r->max_body && r->received > (uint64_t)r->max_body) {
        char what[64];
        snprintf(what, sizeof what, "body larger than %lld bytes", (long long)r->max_body);
        return fail(r, CIO_EHTTP_TOOBIG, what);
    }
    if (!r->body.len && !r->stream) {
        curl_off_t cl = -1;
        curl_easy_getinfo(r->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
        if (cl > 0 && cl < (64 << 20) && (size_t)cl + 1 > r->body.cap) {
            char *p = realloc(r->body.p, (size_t)cl + 1);
            if (p) {
                r->body.p = p;
                r->body.cap = (size_t)cl + 1;
            }
        }
    }
    if (cio__http_buf_add(&r->body, data, len)) {
        return fail(r, -ENOMEM, "out of memory");
    }
    if (r->stream)
        cio__http_wake(r);
    return len;
}

static size_t on_upload(char *buf, size_t size, size_t n, void *arg)
{
    cio_http_response *r = arg;
    size_t cap = size * n;
    if (r->read_ns)
        r->last_activity = r->s->loop->now;
    if (r->up_pos < r->up_len) {
        size_t k = r->up_len - r->up_pos < cap ? r->up_len - r->up_pos : cap;
        memcpy(buf, r->up_buf + r->up_pos, k);
        r->up_pos += k;
        return k;
    }
    if (r->up_eof)
        return 0;
    if (r->result)
        return CURL_READFUNC_ABORT;
    /* The reader runs in the requesting task, which may suspend. */
    r->need_upload = true;
    cio__http_wake(r);
    return CURL_READFUNC_PAUSE;
}

/* Called by the requesting task when the upload callback asked for data.
 * need_upload stays set while the reader runs: the sock_read timer does
 * not count that time against the peer. */
int cio__http_upload_fill(cio_http_response *r)
{
    if (!r->up_buf) {
        r->up_buf = malloc(UPLOAD_CHUNK);
        if (!r->up_buf) {
            r->need_upload = false;
            return -ENOMEM;
        }
    }
    int64_t k = r->reader(r->reader_arg, r->up_buf, UPLOAD_CHUNK);
    r->need_upload = false;
    if (r->read_ns)
        r->last_activity = r->s->loop->now;
    if (k < 0) {
        snprintf(r->errbuf, sizeof r->errbuf, "the body reader failed: %s", cio_strerror((int)k));
        return (int)k;
    }
    r->up_pos = 0;
    r->up_len = (size_t)(k > (int64_t)UPLOAD_CHUNK ? (int64_t)UPLOAD_CHUNK : k);
    r->up_sent += r->up_len;
    if (r->up_size >= 0 && r->up_sent != (uint64_t)r->up_size &&
        (k == 0 || r->up_sent > (uint64_t)r->up_size)) {
        snprintf(r->errbuf, sizeof r->errbuf, "the body reader gave %llu bytes %s body_size %lld",
                 (unsigned long long)r->up_sent, k == 0 ? "and ended, short of" : "past",
                 (long long)r->up_size);
        return -EINVAL;
    }
    if (k == 0)
        r->up_eof = true;
    if (r->done)
        return 0;
    curl_easy_pause(r->easy, CURLPAUSE_CONT);
    cio__http_kick(r->s);
    return 0;
}

/* Spare responses are poisoned for AddressSanitizer, so that a response
 * used after cio_http_response_free() is still reported as one. */
static void poison(cio_http_response *r, bool on)
{
#ifdef CIO__ASAN
    char *from = (char *)&r->req_headers;
    size_t n = sizeof *r - offsetof(cio_http_response, req_headers);
    struct cio__http_buf *b[] = {&r->url, &r->hdr, &r->body};
    if (on) {
        ASAN_POISON_MEMORY_REGION(from, n);
        for (size_t i = 0; i < 3; i++)
            ASAN_POISON_MEMORY_REGION(b[i]->p, b[i]->cap);
    } else {
        ASAN_UNPOISON_MEMORY_REGION(from, n);
        for (size_t i = 0; i < 3; i++)
            ASAN_UNPOISON_MEMORY_REGION(b[i]->p, b[i]->cap);
    }
#else
    (void)r, (void)on;
#endif
}

cio_http_response *cio__http_response_new(cio_http_session *s)
{
    cio_http_response *r;
    struct cio__list *n = cio__list_shift(&s->spare);
    if (n) {
        s->nspare--;
        r = cio__container_of(n, cio_http_response, link);
        poison(r, false);
        memset(&r->req_headers, 0,
               offsetof(cio_http_response, errbuf) - offsetof(cio_http_response, req_headers));
        r->errbuf[0] = 0;
        r->cause[0] = 0;
        cio__http_buf_clear(&r->url);
        cio__http_buf_clear(&r->hdr);
        cio__http_buf_clear(&r->body);
    } else {
        r = calloc(1, sizeof *r);
        if (!r)
            return NULL;
        r->easy = curl_easy_init();
        if (!r->easy) {
            free(r);
            return NULL;
        }
        r->easy_state = CIO__EASY_FRESH;
        r->s = s;
    }
    r->reused = -1;
    r->deadline = CIO__NEVER;
    r->read_timer.fire = read_timer_fire;
    s->refs++;
    cio__list_push(&s->live, &r->link);
    return r;
}

/* The handle's callbacks and their data pointers are r's for good (it
 * moves from request to request with r): set on a fresh or reset handle
 * only. */
void cio__http_response_setup(cio_http_response *r, bool defaults)
{
    CURL *e = r->easy;
    if (!defaults)
        return;
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_upload);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, r);
    curl_easy_setopt(e, CURLOPT_READDATA, r);
}

static void destroy(cio_http_response *r)
{
    poison(r, false);
    curl_easy_cleanup(r->easy);
    cio__http_buf_free(&r->url);
    cio__http_buf_free(&r->hdr);
    cio__http_buf_free(&r->body);
    free(r);
}

void cio__http_spares_free(cio_http_session *s)
{
    struct cio__list *n;
    while ((n = cio__list_shift(&s->spare)))
        destroy(cio__container_of(n, cio_http_response, link));
    s->nspare = 0;
}

/* Buffers larger than this are not kept with a spare response. */
#define SPARE_BUF_MAX ((size_t)64 * 1024)

void cio_http_response_free(cio_http_response *r)
{
    if (!r)
        return;
    cio_http_session *s = r->s;
    if (!r->done) {
        snprintf(r->errbuf, sizeof r->errbuf, "response freed before its body was read");
        cio__http_finish(r, -ECANCELED);
    }
    cio__list_unlink(&r->link);
    curl_slist_free_all(r->req_headers);
    curl_mime_free(r->mime);
    free(r->req_body);
    free(r->up_buf);
    free(r->eff_url);
    if (r->json)
        json_decref(r->json);
    if (s->closed || s->nspare >= 256) {
        destroy(r);
    } else {
        struct cio__http_buf *b[] = {&r->url, &r->hdr, &r->body};
        for (size_t i = 0; i < 3; i++)
            if (b[i]->cap > SPARE_BUF_MAX)
                cio__http_buf_free(b[i]);
        if (!r->url.p)
            r->url_set = 0;
        cio__list_insert_before(s->spare.next, &r->link); /* LIFO: the warmest first */
        s->nspare++;
        poison(r, true);
    }
    cio__http_session_unref(s);
}

void cio__http_response_cleanup(cio_http_response **r)
{
    cio_http_response_free(*r);
    *r = NULL;
}

/* ---- accessors ---------------------------------------------------------- */

int cio_http_response_status(const cio_http_response *r)
{
    return r ? r->status : 0;
}

const char *cio_http_response_reason(const cio_http_response *r)
{
    return r && r->hdr.len && r->status ? r->hdr.p : "";
}

int cio_http_response_version(const cio_http_response *r)
{
    return r && r->status ? r->version : 0;
}

const char *cio_http_response_url(const cio_http_response *r)
{
    return r && r->eff_url ? r->eff_url : r && r->url.len ? r->url.p : "";
}

/* The header lines on_header() kept (after the reason phrase, each
 * NUL-terminated) become "name\0value\0" pairs, in place: a pair is never
 * longer than its line. Lines without a colon (obsolete folding) are
 * dropped. Done once, at the first look at a header: most responses are
 * read without one. */
static void parse_headers(cio_http_response *r)
{
    r->hdr_parsed = true;
    if (!r->hdr.len)
        return;
    char *p = r->hdr.p + strlen(r->hdr.p) + 1, *end = r->hdr.p + r->hdr.len, *w = p;
    size_t n = 0;
    while (p < end) {
        size_t len = strlen(p);
        char *e = p + len, *colon = memchr(p, ':', len);
        if (colon) {
            size_t nlen = (size_t)(colon - p);
            char *v = colon + 1, *ve = e; /* the value, without whitespace around */
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            memmove(w, p, nlen);
            w[nlen] = 0;
            w += nlen + 1;
            memmove(w, v, (size_t)(ve - v));
            w[ve - v] = 0;
            w += ve - v + 1;
            n++;
        }
        p = e + 1;
    }
    r->hdr.len = (size_t)(w - r->hdr.p);
    r->nhdr = n;
}

/* Accessors take a const response; parsing is a cache of what it holds. */
static const cio_http_response *parsed(const cio_http_response *r)
{
    if (!r->hdr_parsed)
        parse_headers((cio_http_response *)r);
    return r;
}

/* Header pairs follow the reason phrase in r->hdr. */
int cio_http_response_header_at(const cio_http_response *r, size_t i, const char **name,
                                const char **value)
{
    if (!r || !name || !value)
        return -EINVAL;
    r = parsed(r);
    if (i >= r->nhdr)
        return -ENOENT;
    const char *p = r->hdr.p + strlen(r->hdr.p) + 1;
    for (size_t k = 0; k < i; k++) {
        p += strlen(p) + 1;
        p += strlen(p) + 1;
    }
    *name = p;
    *value = p + strlen(p) + 1;
    return 0;
}

const char *cio_http_response_header(const cio_http_response *r, const char *name)
{
    if (!r || !name)
        return NULL;
    r = parsed(r);
    if (!r->nhdr)
        return NULL;
    const char *p = r->hdr.p + strlen(r->hdr.p) + 1;
    for (size_t k = 0; k < r->nhdr; k++) {
        const char *v = p + strlen(p) + 1;
        if (!strcasecmp(p, name))
            return v;
        p = v + strlen(v) + 1;
    }
    return NULL;
}

const void *cio_http_response_body(const cio_http_response *r, size_t *len)
{
    if (!r || !r->body.p) {
        if (len)
            *len = 0;
        return "";
    }
    if (len)
        *len = r->body.len - r->body_pos;
    return r->body.p + r->body_pos;
}

const char *cio_http_response_text(const cio_http_response *r)
{
    return cio_http_response_body(r, NULL);
}

int cio_http_response_json(cio_http_response *r, json_t **out)
{
    if (!r || !out)
        return -EINVAL;
    *out = NULL;
    if (!r->json) {
        if (r->stream && !r->done)
            return CIO_ESTATE;
        json_error_t e;
        size_t len;
        const char *p = cio_http_response_body(r, &len);
        size_t skip = strspn(p, " \t\r\n");
        if (skip == len)
            return 0; /* nothing but whitespace: no value, as aiohttp's None */
        r->json = json_loadb(p, len, JSON_DECODE_ANY, &e);
        if (!r->json) {
            snprintf(r->errbuf, sizeof r->errbuf, "invalid JSON at line %d column %d: %s", e.line,
                     e.column, e.text);
            return CIO_EHTTP_JSON;
        }
    }
    *out = r->json;
    return 0;
}

int cio_http_response_raise_for_status(const cio_http_response *r)
{
    if (!r)
        return -EINVAL;
    return r->status >= 400 ? CIO_EHTTP_STATUS : 0;
}

const char *cio_http_response_error(const cio_http_response *r)
{
    return r ? r->errbuf : "";
}

cio_http_timeout_kind cio_http_response_timeout(const cio_http_response *r)
{
    return r ? r->timeout_kind : CIO_HTTP_TIMEOUT_NONE;
}

int cio_http_response_result(const cio_http_response *r)
{
    return !r ? 0 : r->result ? r->result : r->status_error ? CIO_EHTTP_STATUS : 0;
}

int cio_http_response_reused(const cio_http_response *r)
{
    return r ? r->reused : -1;
}
