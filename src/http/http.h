/* The HTTP client's private state, shared by its files:
 *   session.c   sessions: options, lifetime, the keeper that reports
 *               unclosed sessions, the pool of request slots
 *   multi.c     libcurl's multi handle driven by the loop (sockets, timer,
 *               finished transfers)
 *   request.c   building a transfer from a request and waiting for it
 *   response.c  responses: libcurl's data callbacks, headers, body, JSON
 *   stream.c    reading a streamed body
 *   errors.c    libcurl codes to cio codes, error names */
#ifndef CIO_HTTP_HTTP_H
#define CIO_HTTP_HTTP_H

#include <curl/curl.h>
#include <jansson.h>

#include "cio/http.h"
#include "task/task.h"

/* A growable byte buffer, always NUL-terminated once allocated. */
struct cio__http_buf {
    char *p;
    size_t len, cap;
};

int cio__http_buf_add(struct cio__http_buf *b, const void *data, size_t n);
/* Empties b, keeping its memory (and the NUL). */
void cio__http_buf_clear(struct cio__http_buf *b);
void cio__http_buf_free(struct cio__http_buf *b);

/* What options a response's easy handle carries (see request.c). */
enum { CIO__EASY_FRESH, CIO__EASY_PLAIN, CIO__EASY_DIRTY };

/* A task queued for a pool slot; lives on the task's stack. */
struct cio__http_slot_waiter {
    struct cio__list link;
    struct cio__task *task;
    struct cio__http_host *host;
    bool granted;
};

/* Requests in flight to one scheme://host:port (only with limit_per_host). */
/* A host's share of the per-host limit; dropped once no request holds a
 * slot of it nor waits for one, so a session that visits many hosts does
 * not keep them all. */
struct cio__http_host {
    struct cio__list link;
    int active;  /* slots held */
    int waiting; /* requests queued for a slot */
    char key[];
};

struct cio_http_session {
    CURLM *multi;
    CURLSH *share; /* cookies, when asked for */
    struct cio__loop *loop;
    cio_http_session_options o; /* limits resolved, strings below */
    char *base_url, *ca_file, *proxy, *user_agent;
    struct curl_slist *headers; /* the session's default headers */
    /* HTTP/2 in clear text on a libcurl that cannot reuse its connections
     * (request.c): each such request gets a connection of its own. */
    bool h2c_no_reuse;

    /* libcurl's timer: a loop timer for positive delays, a call_soon for
     * "now" (a loop timer due now could fire again in the same turn). */
    struct cio__timer timer;
    cio_handle *soon;
    bool timer_now;
    int running;

    /* Pool of request slots. */
    int active;
    struct cio__list waiters; /* struct cio__http_slot_waiter, FIFO */
    struct cio__list hosts;   /* struct cio__http_host */

    struct cio__list live;         /* every response not yet freed */
    struct cio__list sockets;      /* struct cio__http_sock */
    struct cio__http_sock **by_fd; /* the same, by fd */
    int nby_fd;
    struct cio__list spare; /* freed responses kept for reuse */
    int nspare;
    int inflight; /* tasks inside a call on this session */
    int refs;     /* 1 until closed, plus one per live response */
    bool closed;
    struct cio__task *closer; /* waiting for inflight to reach 0 */
    cio_task keeper;
    const char *file;
    int line;
};

/* One socket of libcurl's. A connection's socket (opened through our
 * CURLOPT_OPENSOCKETFUNCTION, closed through CURLOPT_CLOSESOCKETFUNCTION)
 * keeps its read interest in the loop while its connection idles in the
 * pool: libcurl drops its interest after every transfer and asks for it
 * again at the next, and keeping it saves two epoll_ctl calls per request.
 * Sockets libcurl closes by other means (the resolver's) are never kept. */
struct cio__http_sock {
    struct cio__list link;
    cio_http_session *s;
    curl_socket_t fd;
    int want;  /* CURL_POLL_* libcurl wants now */
    int reg;   /* CURL_POLL_* watched in the loop */
    bool conn; /* a connection's socket: we see it closed */
};

/* A response and the easy handle that carries its request. Freed
 * responses go back to their session (session->spare) with their handle
 * and buffers, and the next request takes one: no allocation, and the
 * handle's callbacks and their data pointers already point at it (the
 * handle also keeps its TLS session and DNS entries, and the options of
 * its last request, which a plain GET reuses as they are: request.c). The
 * fields up to req_headers survive that; the others, up to errbuf, are
 * zeroed for each request (response_new in response.c). */
struct cio_http_response {
    struct cio__list link; /* in session->live, or session->spare */
    cio_http_session *s;
    CURL *easy;
    uint8_t easy_state;        /* CIO__EASY_*: options the handle carries */
    struct cio__http_buf url;  /* the URL with query parameters */
    size_t url_set;            /* url's first url_set bytes are the handle's URL */
    struct cio__http_buf hdr;  /* the final response's reason and headers */
    struct cio__http_buf body; /* unread part starts at body_pos */

    /* Zeroed for each request from here. */
    struct curl_slist *req_headers;
    curl_mime *mime; /* a multipart form */
    char *req_body;  /* owned copy: JSON or form text */

    /* Who waits and for what. */
    struct cio__task *waiter;
    bool attached; /* in the multi */
    bool has_slot;
    struct cio__http_host *host;
    bool done;         /* transfer finished (well or not) */
    bool headers_done; /* final status line and headers received */
    bool stream;
    bool follow;
    bool paused;      /* the write callback paused the transfer */
    bool need_upload; /* the read callback wants data */
    int result;       /* 0 or the error the transfer ended with */
    CURLcode curl_result;
    cio_http_timeout_kind timeout_kind;
    cio_http_timeout_kind connect_kind; /* what bounds libcurl's connect */
    bool status_error;                  /* raise_for_status turned it into one */

    /* Timeouts. */
    int64_t deadline;      /* total, loop ns; CIO__NEVER if none */
    int64_t read_ns;       /* sock_read, ns; 0 if none */
    int64_t last_activity; /* loop ns of the last byte moved */
    int64_t connect_ns;    /* the connect bound (connect_kind), ns; 0 if none */
    bool connecting;       /* attached, not connected yet: read_timer is the
                            * connect bound until on_prereq() */
    struct cio__timer read_timer;

    /* Upload by reader. */
    cio_http_body_reader reader;
    void *reader_arg;
    char *up_buf;
    size_t up_len, up_pos;
    bool up_eof;
    int64_t up_size;  /* body_size, or -1 if unknown */
    uint64_t up_sent; /* bytes the reader gave */

    /* Response. */
    int status;
    int version;
    int reused;
    size_t nhdr;     /* header pairs in hdr, once parsed */
    bool hdr_parsed; /* hdr holds pairs, not the lines as they came */
    bool may_fold;   /* the last line of hdr is a header a fold may continue */
    size_t body_pos;
    size_t chunk_len;  /* handed out by next(), consumed at the next call */
    uint64_t received; /* body bytes received, consumed or not */
    int64_t max_body;
    json_t *json;
    char *eff_url;
    char errbuf[CURL_ERROR_SIZE];
    char cause[96]; /* why a callback failed the transfer (response.c) */
};

/* session.c */
int cio__http_slot_acquire(cio_http_session *s, cio_http_response *r, struct cio__task *t,
                           const char *url);
void cio__http_slot_release(cio_http_response *r);
/* Frees the spare responses and their handles. */
void cio__http_spares_free(cio_http_session *s);
/* Marks a task as inside a call on s / leaving it (wakes a closer). */
void cio__http_enter(cio_http_session *s);
void cio__http_leave(cio_http_session *s);
void cio__http_session_unref(cio_http_session *s);

/* multi.c */
int cio__http_multi_init(cio_http_session *s);
void cio__http_multi_fini(cio_http_session *s);
int cio__http_attach(cio_http_response *r);
/* Routes the sockets of an easy handle's connections through the session. */
void cio__http_sockets(cio_http_session *s, CURL *easy);
/* Ends r's transfer with code `err` (0: finished normally): detaches it
 * from the multi, stops its timers, frees its slot, wakes its waiter. */
void cio__http_finish(cio_http_response *r, int err);
/* Records the URL libcurl ended up at (after redirects) in r->eff_url. */
void cio__http_note_url(cio_http_response *r);
/* Runs libcurl after a call that may have made progress outside it
 * (curl_easy_pause). */
void cio__http_kick(cio_http_session *s);

/* response.c */
cio_http_response *cio__http_response_new(cio_http_session *s);
/* Points r->easy's callbacks at r; `defaults`: sets the callbacks too. */
void cio__http_response_setup(cio_http_response *r, bool defaults);
/* Waits (the task t) until r has news; returns 0 or an interruption. */
int cio__http_wait(cio_http_response *r, struct cio__task *t);
void cio__http_wake(cio_http_response *r);
/* Whether s is a token (RFC 9110): a header name or a method. */
bool cio__http_is_token(const char *s);
/* Runs the body reader for the upload callback (in the requesting task). */
int cio__http_upload_fill(cio_http_response *r);
/* Sets the timeout kind and message of a request that timed out. */
void cio__http_timed_out(cio_http_response *r, cio_http_timeout_kind kind);
/* Arms r's connect bound (r->connect_ns, if any) as r is attached: the
 * transfer fails with connect_kind unless on_prereq() sees a connection
 * first. */
void cio__http_connect_timer_start(cio_http_response *r);

/* request.c: appends "name: value" to a header list for libcurl; an
 * empty value is sent empty, a NULL one removes the header. 0 or -ENOMEM. */
int cio__http_add_header(struct curl_slist **l, const char *name, const char *value);
/* request.c: ends r's transfer because its task was interrupted (or a
 * reader failed) with rc; names the timeout that fired. Returns rc. */
int cio__http_abort(cio_http_response *r, int rc, const cio_scope *total, const cio_scope *conn);

/* errors.c */
int cio__http_curl_error(cio_http_response *r, CURLcode c);
/* Sets r's error text for a URL libcurl's parser rejected with uc. */
void cio__http_url_rejected(cio_http_response *r, CURLUcode uc);
/* How libcurl parses a request's URL (a missing scheme is guessed). */
#define CIO__HTTP_URL_FLAGS (CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME)

#endif
