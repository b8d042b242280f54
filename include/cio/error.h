/* cio — error codes.
 *
 * Every cio function that can fail returns an int: 0 (or a non-negative
 * count) on success, a negative errno value on failure, like libuv. Codes that
 * have no errno equivalent live in a reserved range below CIO_ERRNO_BASE.
 * There is no errno side channel: read the return value.
 */
#ifndef CIO_ERROR_H
#define CIO_ERROR_H

#include <errno.h> /* the codes cio's functions return, negated */

#ifdef __cplusplus
extern "C" {
#endif

/* cio's own codes start below this value, far from any errno. */
#define CIO_ERRNO_BASE (-20000)

enum {
    /* A function that must run on a thread with a running cio loop was
     * called on a thread without one. */
    CIO_ENOLOOP = CIO_ERRNO_BASE - 1,
    /* A suspending function was called from outside a task (for example from
     * a plain loop callback, which must never block). */
    CIO_ENOTTASK = CIO_ERRNO_BASE - 2,
    /* A task handle that does not name a live, owned task: never valid,
     * already joined, or already detached. */
    CIO_EBADTASK = CIO_ERRNO_BASE - 3,
    /* An object was used in a state that does not allow the operation
     * (asyncio's InvalidStateError): a future resolved twice, the result of
     * a task that has not finished. */
    CIO_ESTATE = CIO_ERRNO_BASE - 4,
    /* A scope was exited out of order, or by a task that does not own it. */
    CIO_ESCOPE = CIO_ERRNO_BASE - 5,
    /* The loop found that every task waits and nothing can wake any of them:
     * the main task is cancelled with this reason reported. */
    CIO_EDEADLOCK = CIO_ERRNO_BASE - 6,
    /* Lowest code cio uses; later areas extend the range downwards. */
    CIO_ELAST = CIO_ERRNO_BASE - 100,
};

/* Network streams, TLS and DNS (include/cio/net.h, tls.h, dns.h). */
enum {
    /* A separator was not found within the reader's limit (asyncio's
     * LimitOverrunError); the data stays buffered. */
    CIO_ELIMIT = CIO_ERRNO_BASE - 200,
    /* The stream ended before the requested data arrived (asyncio's
     * IncompleteReadError). */
    CIO_EINCOMPLETE = CIO_ERRNO_BASE - 201,
    /* TLS failed: a protocol error, a handshake the peer rejected, or a
     * close without close_notify where one was required. */
    CIO_ETLS = CIO_ERRNO_BASE - 202,
    /* The peer's certificate has expired (or is not yet valid). */
    CIO_ETLS_CERT_EXPIRED = CIO_ERRNO_BASE - 203,
    /* The peer's certificate does not name the host that was asked for. */
    CIO_ETLS_HOST_MISMATCH = CIO_ERRNO_BASE - 204,
    /* The peer's certificate chain does not lead to a trusted CA
     * (self-signed, unknown issuer). */
    CIO_ETLS_UNKNOWN_CA = CIO_ERRNO_BASE - 205,
    /* The peer's certificate failed verification for another reason
     * (revoked, bad signature, wrong purpose...). */
    CIO_ETLS_CERT_INVALID = CIO_ERRNO_BASE - 206,
    /* DNS: the name does not exist or has no address of the family asked. */
    CIO_EDNS_NOTFOUND = CIO_ERRNO_BASE - 207,
    /* DNS: the resolver failed (server failure, refused, malformed
     * answer, no usable server). */
    CIO_EDNS = CIO_ERRNO_BASE - 208,
};

/* The asyncio toolkit (include/cio/sync.h, queue.h). */
enum {
    /* The queue was shut down (asyncio's QueueShutDown): puts fail at once,
     * gets once the queue is empty (at once after an immediate shutdown). */
    CIO_ESHUTDOWN = CIO_ERRNO_BASE - 300,
    /* The barrier was aborted or reset (asyncio's BrokenBarrierError). */
    CIO_EBROKEN = CIO_ERRNO_BASE - 301,
};

/* HTTP client (include/cio/http.h), from CIO_ERRNO_BASE - 320 (the toolkit
 * holds -300...). TLS and DNS failures of HTTP requests use the network
 * codes above. */
enum {
    /* The response has a 4xx or 5xx status and raise_for_status was asked
     * for; the response (status, body) is still handed back. */
    CIO_EHTTP_STATUS = CIO_ERRNO_BASE - 320,
    /* The peer broke the HTTP protocol: a malformed status line or header,
     * an HTTP/2 framing error, no response at all. */
    CIO_EHTTP_PROTOCOL = CIO_ERRNO_BASE - 321,
    /* More redirects than the request allows. */
    CIO_EHTTP_REDIRECTS = CIO_ERRNO_BASE - 322,
    /* The connection ended before the body announced by Content-Length (or
     * the chunked encoding) was complete. */
    CIO_EHTTP_PAYLOAD = CIO_ERRNO_BASE - 323,
    /* The body is not valid JSON. */
    CIO_EHTTP_JSON = CIO_ERRNO_BASE - 324,
    /* The body's Content-Encoding could not be decoded. */
    CIO_EHTTP_DECODE = CIO_ERRNO_BASE - 325,
    /* The HTTP session was closed before or during the request. */
    CIO_EHTTP_CLOSED = CIO_ERRNO_BASE - 326,
    /* The response body is larger than the session allows. */
    CIO_EHTTP_TOOBIG = CIO_ERRNO_BASE - 327,
    /* Another HTTP transfer failure; the response's error text says what. */
    CIO_EHTTP = CIO_ERRNO_BASE - 328,
};

/* PostgreSQL (include/cio/pg.h), from CIO_ERRNO_BASE - 400. */
enum {
    /* The server reported an error (SQL error, constraint violation...):
     * cio_pg_conn_error() has its SQLSTATE, message, detail and hint. */
    CIO_PG_ESERVER = CIO_ERRNO_BASE - 400,
    /* The connection could not be made, or was lost (server restarted,
     * network down); the message is in cio_pg_conn_error(). A pooled
     * connection in this state is dropped when released. */
    CIO_PG_ECONN = CIO_ERRNO_BASE - 401,
    /* The pool was closed (or is closing): no more acquires. */
    CIO_PG_ECLOSED = CIO_ERRNO_BASE - 402,
    /* Another task is using this connection right now: one connection runs
     * one operation at a time (asyncpg's InterfaceError "another operation
     * is in progress"). */
    CIO_PG_EBUSY = CIO_ERRNO_BASE - 403,
    /* A getter was asked for a type the column does not have (reading a
     * text column as int32), or a value does not fit (int8 into int32). */
    CIO_PG_ETYPE = CIO_ERRNO_BASE - 404,
    /* The value is SQL NULL (a typed getter cannot represent it). */
    CIO_PG_ENULL = CIO_ERRNO_BASE - 405,
    /* fetchval: the query returned no row. */
    CIO_PG_ENOROWS = CIO_ERRNO_BASE - 406,
    /* The server or libpq answered something cio did not expect (a COPY
     * where a query was expected, a malformed binary value). */
    CIO_PG_EPROTO = CIO_ERRNO_BASE - 407,
    /* Operation not allowed in the connection's state: commit of a
     * transaction that is already finished, a query on a connection that is
     * streaming or copying. */
    CIO_PG_ESTATE = CIO_ERRNO_BASE - 408,
};

/* A human-readable message for any code cio returns: a negated errno value
 * or one of cio's own; "success" for 0. A positive value is a count, not a
 * code, and gets "unknown error", as does an unknown negative one (a
 * positive errno passed by mistake must not read as a success). Never
 * NULL; the string is static and must not be freed. */
const char *cio_strerror(int err);

/* The symbolic name of a code ("ECANCELED", "CIO_ENOTTASK"), "OK" for 0,
 * or "UNKNOWN" (positive values included). Never NULL; static storage. */
const char *cio_err_name(int err);

#ifdef __cplusplus
}
#endif
#endif
