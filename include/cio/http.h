/* cio — HTTP client: aiohttp's ClientSession for C, on libcurl.
 *
 * A session (aiohttp's ClientSession) owns one libcurl multi handle that is
 * driven by the calling thread's cio loop: libcurl's sockets are watched by
 * the loop and its timers are loop timers, so there are no extra threads and
 * no polling. Any number of tasks share one session; each request suspends
 * only the task that makes it. The session pools connections (keep-alive,
 * HTTP/1.1 and HTTP/2), limits how many requests are in flight (in total
 * and per host, as aiohttp's TCPConnector), follows redirects, decodes
 * gzip/deflate/br and verifies TLS certificates.
 *
 *     cio_http_session *s;
 *     cio_http_session_new(NULL, &s);
 *     cio_http_response *r;
 *     int rc = cio_http_get(s, "http://127.0.0.1:8080/users.json", &r);
 *     json_t *users;                       // borrowed from r
 *     if (rc == 0)
 *         rc = cio_http_response_json(r, &users);
 *     if (rc < 0)
 *         fprintf(stderr, "%s (%s)\n", cio_strerror(rc), cio_http_response_error(r));
 *     cio_http_response_free(r);
 *     cio_http_session_close(s);
 *
 * Errors follow cio's model: 0 or a negative code. Transport errors are
 * errno values (-ECONNREFUSED, -ECONNRESET, -ETIMEDOUT...), HTTP-specific
 * ones the CIO_EHTTP_* codes below. The detail (status, libcurl's message,
 * which timeout fired) is read from the response object, which a request
 * hands back even when it fails.
 *
 * Every function must be called on the thread whose loop made the session.
 * Functions marked "suspends" must be called from a cio task; they return
 * -ECANCELED when the task is cancelled and -ETIMEDOUT when an enclosing
 * timeout scope expires, and they then abort the transfer at once.
 *
 * See docs/http.md for the guide and the mapping from aiohttp.
 */
#ifndef CIO_HTTP_H
#define CIO_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* jansson's JSON value. Including <jansson.h> makes it json_t. */
struct json_t;

/* HTTP errors are CIO_EHTTP_* codes of <cio/error.h>; TLS and DNS failures
 * use the network layer's CIO_ETLS* and CIO_EDNS* codes. */

/* aiohttp's ClientTimeout, in seconds. In a session's options a field of 0
 * means the default shown; in a request's options it means "the session's
 * value". A negative value (or INFINITY) disables that timeout; one over
 * 1e9 s (31 years) is taken as 1e9 s. When a timeout fires the request
 * returns -ETIMEDOUT and
 * cio_http_response_timeout() tells which one it was. */
typedef struct cio_http_timeout {
    /* The whole request: from the call (or from getting a pool slot, see
     * exclude_pool_wait) until the body is complete, including connecting,
     * sending, redirects and, for a streamed response, every read of the
     * body. Default 300 s, as aiohttp. */
    double total;
    /* Waiting for a pool slot plus establishing a new connection (TCP and
     * TLS). Default: none, as aiohttp. */
    double connect;
    /* Establishing a new connection (TCP and TLS) only. Default 30 s, as
     * aiohttp. */
    double sock_connect;
    /* The longest the peer may stay silent once the connection is ready:
     * the time between two pieces of the response (or between sending the
     * request and the first byte of the answer). Pauses while a streamed
     * response waits for its reader, and while a body_reader produces the
     * request's body. Default: none, as aiohttp. */
    double sock_read;
    /* If true, the total timeout starts once the request has its pool slot,
     * so time spent queued behind the session's limit is not counted
     * (the connect timeout still bounds it when set). Default false: the
     * total counts the pool wait, as aiohttp's does. In a request's options
     * true overrides the session; false inherits it. */
    bool exclude_pool_wait;
} cio_http_timeout;

/* Which timeout ended a request. */
typedef enum cio_http_timeout_kind {
    CIO_HTTP_TIMEOUT_NONE = 0,
    CIO_HTTP_TIMEOUT_TOTAL,        /* cio_http_timeout.total */
    CIO_HTTP_TIMEOUT_CONNECT,      /* cio_http_timeout.connect */
    CIO_HTTP_TIMEOUT_SOCK_CONNECT, /* cio_http_timeout.sock_connect */
    CIO_HTTP_TIMEOUT_SOCK_READ,    /* cio_http_timeout.sock_read */
    CIO_HTTP_TIMEOUT_SCOPE,        /* an enclosing cio timeout scope */
} cio_http_timeout_kind;

/* The name of a timeout kind ("total", "sock_read"...); static storage. */
const char *cio_http_timeout_name(cio_http_timeout_kind kind);

/* A name/value pair: a header, a query parameter or a form field. The
 * strings are copied (or sent) during the call that receives them. A
 * header's name must be a token (RFC 9110: letters, digits and
 * !#$%&'*+-.^_`|~) and its value free of CR and LF; there is no length
 * limit. */
typedef struct cio_http_field {
    const char *name;
    const char *value;
} cio_http_field;

typedef struct cio_http_session_options {
    /* Requests in flight at once, which is also the number of connections
     * open at once (aiohttp's TCPConnector limit). 0 means 100; -1 means
     * no limit (aiohttp spells that 0). A request over the limit waits for
     * a slot, in FIFO order. */
    int limit;
    /* Requests in flight at once to one scheme://host:port (aiohttp's
     * limit_per_host). 0 means no per-host limit. */
    int limit_per_host;
    /* Default timeouts of the session's requests (see cio_http_timeout). */
    cio_http_timeout timeout;
    /* Turn 4xx/5xx responses into CIO_EHTTP_STATUS by default. */
    bool raise_for_status;
    /* Headers sent with every request (a request's own header of the same
     * name replaces it). Copied by cio_http_session_new(). */
    const cio_http_field *headers;
    size_t nheaders;
    /* Prepended to request URLs that have no scheme ("/users" with base
     * "http://api:8080" gives "http://api:8080/users"). Copied. */
    const char *base_url;
    /* Most redirects a request follows; 0 means 10 (aiohttp's default). */
    int max_redirects;
    /* Do not follow redirects (aiohttp allow_redirects=False). */
    bool no_redirects;
    /* Skip TLS certificate verification (aiohttp ssl=False). Never do this
     * outside tests. */
    bool insecure;
    /* A CA bundle file to verify peers with instead of the system's. */
    const char *ca_file;
    /* A proxy URL for every request ("http://proxy:3128"); NULL means none,
     * unless trust_env is set. */
    const char *proxy;
    /* Take proxies from the environment (http_proxy, https_proxy,
     * no_proxy), as aiohttp's trust_env=True. */
    bool trust_env;
    /* Keep cookies the server sets and send them back, shared by every
     * request of the session (aiohttp's cookie jar). Off by default. */
    bool cookies;
    /* HTTP version: 0 negotiates HTTP/2 over TLS and uses HTTP/1.1 in
     * clear text; 1 forces HTTP/1.1; 2 uses HTTP/2 everywhere (in clear
     * text without upgrade, "prior knowledge"). */
    int http_version;
    /* Seconds an idle pooled connection is kept for reuse; 0 means 15
     * (aiohttp's keepalive_timeout). libcurl counts idle time in whole
     * seconds: a connection goes once it has been idle for
     * floor(keepalive_timeout) + 1 s, at most a second late. */
    double keepalive_timeout;
    /* Do not ask for compressed bodies nor decode them (aiohttp
     * auto_decompress=False). */
    bool no_decompress;
    /* User-Agent header; NULL gives "cio-http/<version>", "" sends none.
     * A session or request header named User-Agent replaces it. No CR or
     * LF (-EINVAL). */
    const char *user_agent;
    /* Largest body a response may have, in bytes (decoded, streamed or
     * not: a streamed body's reader sees at most this much, then
     * CIO_EHTTP_TOOBIG); 0 means no limit. */
    int64_t max_body_size;
} cio_http_session_options;

typedef struct cio_http_session cio_http_session;
typedef struct cio_http_response cio_http_response;

/* Makes a session on the calling thread's loop; *out receives it, owned by
 * the caller until cio_http_session_close(). opts may be NULL. A session
 * still open when the loop's main task returns is reported with the file
 * and line that made it, then closed. Does not suspend.
 * Errors: -EINVAL (out NULL, or a bad option: limit < -1, limit_per_host
 * < 0, http_version not 0-2, NaN timeouts, a header name that is not a
 * token or a value with CR or LF), CIO_ENOLOOP, -ENOMEM. */
/* Variadic so that a compound literal with commas inside needs no extra
 * parentheses: cio_http_session_new(&(cio_http_session_options){.limit = 10,
 * .raise_for_status = true}, &s). Takes exactly (opts, out). */
#define cio_http_session_new(...) cio_http_session_new_at(__VA_ARGS__, __FILE__, __LINE__)
int cio_http_session_new_at(const cio_http_session_options *opts, cio_http_session **out,
                            const char *file, int line);

/* Closes the session (aiohttp's `await session.close()`): requests still
 * in flight, queued for a slot, or streaming a body fail with
 * CIO_EHTTP_CLOSED, and close waits (uninterruptibly, briefly) until their
 * tasks have left the session; pooled connections are closed. Responses
 * already received stay readable and must still be freed; the session's
 * memory goes with the last of them, so s must not be used once it is
 * closed (a second close is -EINVAL only while a response keeps the
 * memory). Suspends only if requests are in flight. Returns 0, or
 * -EINVAL (s NULL or already closed), CIO_ENOTTASK (requests are in
 * flight and the caller is not a task). */
int cio_http_session_close(cio_http_session *s);

/* Streaming uploads: called from the requesting task whenever libcurl
 * wants more of the body. Writes up to cap bytes to buf and returns how
 * many (> 0), 0 at the end of the body, or a negative error code that
 * aborts the request with that code. It may suspend (read a file, a queue,
 * another stream). With req->stream, a server that answers before the
 * whole body is sent gets the rest while the task reads the response
 * (cio_http_response_next() calls the reader). */
typedef int64_t (*cio_http_body_reader)(void *arg, void *buf, size_t cap);

/* One request. Zero-initialise and fill in what you need. */
typedef struct cio_http_request {
    /* "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS" or any
     * token, sent as given (a GET with a body is a GET); NULL means GET,
     * or POST when a body is given. */
    const char *method;
    /* Absolute URL ("scheme://..."), or relative to the session's
     * base_url. */
    const char *url;
    /* Query parameters, URL-encoded and appended to the URL's query
     * (before a "#fragment"). */
    const cio_http_field *params;
    size_t nparams;
    /* Request headers; a value of NULL removes a header the session or
     * libcurl would send. */
    const cio_http_field *headers;
    size_t nheaders;
    /* The body: at most one of body, json, form and body_reader. body
     * and body_reader send no Content-Type unless headers give one. */
    const void *body; /* sent as is, body_len bytes; not copied, must
                       * stay valid until the request returns */
    size_t body_len;
    const struct json_t *json;  /* serialised, Content-Type application/json */
    const cio_http_field *form; /* application/x-www-form-urlencoded */
    size_t nform;
    cio_http_body_reader body_reader; /* streamed upload, see above */
    void *body_reader_arg;
    int64_t body_size; /* with body_reader: the size if known, else -1
                        * (chunked transfer encoding in HTTP/1.1); a
                        * 0 here with body_reader also means unknown.
                        * A reader that gives more or fewer bytes fails
                        * the request with -EINVAL */
    /* Timeouts: fields left 0 take the session's. NULL: the session's. */
    const cio_http_timeout *timeout;
    /* 1: 4xx/5xx is CIO_EHTTP_STATUS; -1: it is not; 0: the session's. */
    int raise_for_status;
    /* 1: follow redirects; -1: do not; 0: the session's. */
    int follow_redirects;
    /* Most redirects; 0: the session's. */
    int max_redirects;
    /* Return once the status and headers have arrived, and let the body be
     * read piece by piece with cio_http_response_next()/read(). */
    bool stream;
    /* Send `form` as multipart/form-data (aiohttp's FormData with parts)
     * instead of URL-encoded. */
    bool multipart;
} cio_http_request;

/* Performs a request (suspends). Without req->stream the whole body is
 * received before it returns; with it, the call returns after the headers.
 * *out always receives either NULL or a response the caller owns and must
 * free with cio_http_response_free(), whatever the return code: on failure
 * it carries the detail (status, error text, which timeout fired).
 * Returns 0, or:
 *   -EINVAL       s, req, req->url or out NULL, two bodies given, a
 *                 header name that is not a token, a value with CR/LF...:
 *                 *out is NULL; or a URL libcurl finds malformed, or a
 *                 body_reader that broke body_size: the response's error
 *                 text says why
 *   -ENOMEM
 *   -ECANCELED    the task was cancelled; the transfer was removed at once
 *                 and its connection is closed unless it was complete
 *   -ETIMEDOUT    a timeout fired: cio_http_response_timeout() says which
 *   -ECONNREFUSED, -ECONNRESET, -ENETUNREACH, -EHOSTUNREACH... from the
 *                 socket layer
 *   -EPROTONOSUPPORT  a URL scheme libcurl cannot fetch
 *   CIO_EHTTP_STATUS (only with raise_for_status), CIO_EHTTP_PROTOCOL,
 *   CIO_EHTTP_REDIRECTS, CIO_EHTTP_PAYLOAD,
 *   CIO_EHTTP_DECODE, CIO_EHTTP_CLOSED, CIO_EHTTP_TOOBIG, CIO_EHTTP
 *   CIO_ETLS (handshake failed), CIO_ETLS_CERT_EXPIRED, CIO_ETLS_HOST_MISMATCH,
 *   CIO_ETLS_UNKNOWN_CA, CIO_ETLS_CERT_INVALID (verification failed)
 *   CIO_EDNS_NOTFOUND (the host name could not be resolved)
 *   any error a body_reader returned
 *   CIO_ENOTTASK  not called from a task; *out is NULL */
int cio_http_request_send(cio_http_session *s, const cio_http_request *req,
                          cio_http_response **out);

/* GET url (suspends); as cio_http_request_send(). */
int cio_http_get(cio_http_session *s, const char *url, cio_http_response **out);

/* POST body (body_len bytes) with the given Content-Type (NULL: none)
 * (suspends); as cio_http_request_send(). */
int cio_http_post(cio_http_session *s, const char *url, const void *body, size_t body_len,
                  const char *content_type, cio_http_response **out);

/* POST a JSON value (suspends); as cio_http_request_send(). */
int cio_http_post_json(cio_http_session *s, const char *url, const struct json_t *json,
                       cio_http_response **out);

/* ---- responses ----------------------------------------------------------
 * Accessors do not suspend, and accept NULL (the response of a request
 * that failed before it had one), returning 0, "" or NULL as noted. */

/* Releases a response: its memory, and if its body is still streaming,
 * its transfer (the connection is then closed, not reused). NULL is
 * ignored. Neither r nor anything an accessor returned may be used after:
 * the session keeps the memory for its next request (up to 256 freed
 * responses, until it is closed). */
void cio_http_response_free(cio_http_response *r);

/* The HTTP status of the final response (after redirects), or 0 if none
 * was received. */
int cio_http_response_status(const cio_http_response *r);

/* The reason phrase of the status line ("Not Found"); "" for HTTP/2 or
 * none. Valid as long as r. */
const char *cio_http_response_reason(const cio_http_response *r);

/* The HTTP version of the response: 10, 11, 20 or 30; 0 if none. */
int cio_http_response_version(const cio_http_response *r);

/* The URL of the final response, after redirects; "" if none. */
const char *cio_http_response_url(const cio_http_response *r);

/* The first header of that name (case-insensitive) of the final response,
 * or NULL. Valid as long as r. A value comes without the whitespace around
 * it, and a value folded over several lines (obsolete, still sent) as one
 * line, its pieces joined by a space. Trailers of a chunked body count as
 * headers, after the others. */
const char *cio_http_response_header(const cio_http_response *r, const char *name);

/* The i-th header of the final response in arrival order: returns 0 and
 * sets *name and *value (valid as long as r), or -ENOENT past the end,
 * -EINVAL if r, name or value is NULL. */
int cio_http_response_header_at(const cio_http_response *r, size_t i, const char **name,
                                const char **value);

/* The body received (the whole body unless streaming; while streaming, the
 * part received and not yet consumed). *len (if not NULL) gets its length.
 * The bytes are followed by a NUL byte not counted in *len, so a text body
 * can be used as a C string. Never NULL: "" when empty. */
const void *cio_http_response_body(const cio_http_response *r, size_t *len);

/* The body as a C string (aiohttp's text(), without charset conversion:
 * bytes as received). Never NULL. */
const char *cio_http_response_text(const cio_http_response *r);

/* Parses the body as JSON (aiohttp's json(); the Content-Type is not
 * checked). *out receives a value borrowed from r, valid until r is
 * freed: json_incref() it to keep it. Parsed once, later calls return the
 * same value. An empty body (or whitespace alone: a 204, a HEAD) gives 0
 * and *out NULL, as aiohttp's json() gives None. For a streamed body,
 * what next()/read() have not consumed is parsed. Returns 0,
 * CIO_EHTTP_JSON (the error text says where), -EINVAL (r or out NULL),
 * CIO_ESTATE (a streamed body not fully read). */
int cio_http_response_json(cio_http_response *r, struct json_t **out);

/* aiohttp's raise_for_status(): CIO_EHTTP_STATUS if the status is 4xx or
 * 5xx, -EINVAL if r is NULL, 0 otherwise. */
int cio_http_response_raise_for_status(const cio_http_response *r);

/* libcurl's or cio's description of what failed ("Connection refused",
 * "Operation timed out after 200 ms..."), "" if nothing failed. */
const char *cio_http_response_error(const cio_http_response *r);

/* Which timeout ended the request; CIO_HTTP_TIMEOUT_NONE if none did. */
cio_http_timeout_kind cio_http_response_timeout(const cio_http_response *r);

/* The error code the request ended with (what cio_http_request_send() or
 * the last read returned), 0 if none. */
int cio_http_response_result(const cio_http_response *r);

/* Whether the request reused a pooled connection rather than opening one:
 * 1 reused, 0 a new connection, -1 unknown (no connection was made). */
int cio_http_response_reused(const cio_http_response *r);

/* Reads the next piece of a streamed body (suspends): aiohttp's
 * `async for chunk in resp.content.iter_any()`. Returns 1 and sets *data
 * and *len to the bytes received since the last call (valid until the next
 * call or cio_http_response_free()), 0 at the end of the body, or an error
 * code as cio_http_request_send() (the transfer is then aborted). The total
 * and sock_read timeouts of the request apply. For a response that is not
 * streamed, returns the whole body once, then 0. -EINVAL if r, data or len
 * is NULL. */
int cio_http_response_next(cio_http_response *r, const void **data, size_t *len);

/* Reads up to cap bytes of a streamed body into buf (suspends): returns
 * the count (> 0), 0 at the end, or an error as cio_http_response_next(). */
int64_t cio_http_response_read(cio_http_response *r, void *buf, size_t cap);

/* Declares a response variable that is freed when the block ends. */
void cio__http_response_cleanup(cio_http_response **r);
#define CIO_HTTP_RESPONSE(name)                                                                    \
    cio_http_response *name __attribute__((cleanup(cio__http_response_cleanup))) = NULL

#ifdef __cplusplus
}
#endif
#endif
