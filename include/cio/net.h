/* cio — network streams: TCP and Unix stream sockets, servers, UDP.
 *
 * The asyncio streams API for C. A cio_stream is a connected socket with a
 * read buffer and a write buffer (asyncio's StreamReader and StreamWriter
 * in one object). Reads suspend the calling task until data arrives; writes
 * never suspend: they send what the kernel takes at once and buffer the
 * rest, which the loop flushes in the background; cio_stream_drain() is the
 * backpressure point. Every suspending call obeys cancellation and the
 * enclosing timeout scopes (CIO_TIMEOUT), returning -ECANCELED or
 * -ETIMEDOUT.
 *
 * Link with cio_net (pkg-config cio-net). TLS is in <cio/tls.h>, name
 * resolution in <cio/dns.h>. See docs/net.md for the guide.
 */
#ifndef CIO_NET_H
#define CIO_NET_H

#include <errno.h> /* the codes these functions return */
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_stream cio_stream;
typedef struct cio_server cio_server;
typedef struct cio_udp cio_udp;
typedef struct cio_tls_ctx cio_tls_ctx;         /* <cio/tls.h> */
typedef struct cio_dns_options cio_dns_options; /* <cio/dns.h> */

/* Default reader limit (asyncio's 64 KiB): the most readuntil() and
 * readline() buffer while looking for a separator. */
#define CIO_STREAM_LIMIT ((size_t)64 * 1024)
/* Default write buffer water marks (asyncio's): drain() waits while more
 * than HIGH bytes are buffered, until at most LOW remain. */
#define CIO_STREAM_HIGH_WATER ((size_t)64 * 1024)
#define CIO_STREAM_LOW_WATER ((size_t)16 * 1024)

/* ---- addresses ---------------------------------------------------------- */

/* Fills *ss with the numeric address ip ("127.0.0.1", "::1", NULL for the
 * IPv4 wildcard) and port; *len receives its length. No DNS.
 * Errors: -EINVAL (not a numeric address, port outside 0..65535). */
int cio_addr_parse(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *len);

/* Writes "1.2.3.4:80", "[::1]:80" or a Unix path into buf (always
 * terminated). Returns the length written or -EINVAL (unknown family,
 * buf too small). */
int cio_addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t size);

/* ---- connecting --------------------------------------------------------- */

typedef struct cio_connect_options {
    /* Limit in seconds for the whole connection: DNS, TCP connect and TLS
     * handshake. 0 means none (enclosing timeout scopes still apply). */
    double timeout;
    /* RFC 8305 Happy Eyeballs: when a name has several addresses, start the
     * next attempt after this many seconds if the previous one has not
     * succeeded yet (asyncio's happy_eyeballs_delay). 0 means 0.25 s; a
     * negative value tries one address after another. */
    double happy_eyeballs_delay;
    /* AF_INET or AF_INET6 to restrict the addresses; 0 for both. */
    int family;
    /* How names are resolved (servers, timeout); NULL for the system's
     * configuration. Numeric addresses never touch DNS. */
    const cio_dns_options *dns;
    /* TLS: a client context (cio_tls_client_ctx_new) makes the stream TLS;
     * NULL for plain TCP. */
    cio_tls_ctx *tls;
    /* The name sent as SNI and checked against the certificate; NULL means
     * the host argument. */
    const char *server_hostname;
    /* Limit of the TLS handshake; 0 means 60 s (asyncio's default). */
    double tls_handshake_timeout;
    /* The reader's limit; 0 means CIO_STREAM_LIMIT. */
    size_t limit;
    /* If not NULL, a failure's human detail is copied here (terminated):
     * which address refused, the certificate verify message. */
    char *error_detail;
    size_t error_detail_size;
} cio_connect_options;

/* Connects to host:port (a numeric address or a name, resolved with c-ares
 * on the loop) and gives the caller a new stream in *out, which the caller
 * owns and must release with cio_stream_close() or cio_stream_abort().
 * TCP_NODELAY is on. opts may be NULL.
 * Errors: -EINVAL (out or host NULL, bad port), -ECONNREFUSED,
 * -ENETUNREACH, -EHOSTUNREACH, -ETIMEDOUT (opts->timeout or an enclosing
 * scope), -ECANCELED, CIO_EDNS_NOTFOUND, CIO_EDNS, the TLS errors of
 * cio_stream_start_tls(), -EMFILE, -ENOMEM, CIO_ENOTTASK. With several
 * addresses the error of the last attempt is returned. */
int cio_open_connection(cio_stream **out, const char *host, int port,
                        const cio_connect_options *opts);

/* Connects to the Unix stream socket at path (asyncio's
 * open_unix_connection); opts->timeout, ->limit and ->tls apply. While the
 * listener's backlog is full the connect is retried (1 ms doubling to
 * 50 ms) until the timeout.
 * Errors: -EINVAL (path NULL or too long), -ENOENT, -ECONNREFUSED,
 * -EACCES, -ETIMEDOUT, -ECANCELED, -EMFILE, -ENOMEM, CIO_ENOTTASK. */
int cio_open_unix_connection(cio_stream **out, const char *path, const cio_connect_options *opts);

/* Wraps a connected stream socket the caller made. The stream takes the
 * fd (it is made non-blocking and closed by cio_stream_close()), even when
 * this fails. Errors: -EINVAL (fd < 0, out NULL), -ENOMEM. */
int cio_stream_from_fd(cio_stream **out, int fd);

/* ---- reading (asyncio's StreamReader) ----------------------------------- */

/* Reads up to n bytes into buf: returns how many (at least 1), 0 at end of
 * stream, or an error: -ECONNRESET, -ETIMEDOUT, -ECANCELED, -EBUSY
 * (another task is reading this stream), -EBADF (the stream was closed
 * while waiting), CIO_ETLS, -EINVAL (buf NULL with n > 0). n == 0 returns 0
 * at once. Buffered bytes are returned first, without a syscall. */
ssize_t cio_stream_read(cio_stream *s, void *buf, size_t n);

/* Reads exactly n bytes. Returns n, or CIO_EINCOMPLETE if the stream ended
 * first: the bytes that did arrive are in buf and cio_stream_partial()
 * says how many (asyncio's IncompleteReadError.partial). Other errors as
 * cio_stream_read(); after an interruption the bytes already read are in
 * buf and counted by cio_stream_partial() too. */
ssize_t cio_stream_readexactly(cio_stream *s, void *buf, size_t n);

/* Reads up to and including the separator sep (seplen >= 1 bytes) into buf
 * and returns the length with the separator. Errors: CIO_ELIMIT if the
 * separator is not within the first min(limit, size) bytes (asyncio's
 * LimitOverrunError: the data stays buffered, for cio_stream_read());
 * CIO_EINCOMPLETE if the stream ends first (the partial data stays
 * buffered); -EINVAL; the errors of cio_stream_read(). */
ssize_t cio_stream_readuntil(cio_stream *s, const void *sep, size_t seplen, void *buf, size_t size);

/* Reads a line ending in '\n' (included) into buf. At the end of the
 * stream returns what is left, without '\n' (asyncio's readline), and 0
 * once nothing is. Does not terminate buf. Errors: CIO_ELIMIT, and those
 * of cio_stream_read(). */
ssize_t cio_stream_readline(cio_stream *s, void *buf, size_t size);

/* Reads until the end of the stream (asyncio's read() without a size)
 * and gives the caller the data in *out: malloc'd, terminated by a NUL
 * byte that is not counted; free() it. Returns the length. Errors:
 * CIO_ELIMIT if more than max bytes arrive before the end (they stay
 * buffered, for cio_stream_read()), -EINVAL (out NULL, max 0), -ENOMEM,
 * and those of cio_stream_read() (the data read so far stays buffered). */
ssize_t cio_stream_read_all(cio_stream *s, char **out, size_t max);

/* How many bytes the last failed cio_stream_readexactly() stored. */
size_t cio_stream_partial(const cio_stream *s);

/* Whether the peer ended the stream and every byte has been read. */
bool cio_stream_at_eof(const cio_stream *s);

/* Bytes received and not yet read. */
size_t cio_stream_buffered(const cio_stream *s);

/* Sets the reader limit (0 restores CIO_STREAM_LIMIT). Returns 0, -EINVAL. */
int cio_stream_set_limit(cio_stream *s, size_t limit);

/* ---- writing (asyncio's StreamWriter) ----------------------------------- */

/* Queues n bytes for sending without suspending: what the kernel takes at
 * once is sent now, the rest is copied to the write buffer and flushed by
 * the loop. Returns 0 or -EPIPE (after write_eof or close), the
 * connection's error if it already failed (-ECONNRESET, -EPIPE, CIO_ETLS),
 * -ENOMEM, -EINVAL. */
int cio_stream_write(cio_stream *s, const void *buf, size_t n);

/* As cio_stream_write() for several pieces at once (asyncio's
 * writelines): on a plain socket with nothing buffered they go out in one
 * sendmsg(), without being copied together. Errors as cio_stream_write(),
 * and -EINVAL for iovcnt < 0 or > IOV_MAX. */
int cio_stream_writev(cio_stream *s, const struct iovec *iov, int iovcnt);

/* Backpressure: if more than the high water mark is buffered, suspends
 * until at most the low water mark is. Returns 0, the connection's error
 * (-ECONNRESET, -EPIPE...), -ETIMEDOUT, -ECANCELED, CIO_ENOTTASK. Several
 * tasks may drain at once. */
int cio_stream_drain(cio_stream *s);

/* Suspends until the write buffer is empty (everything handed to the
 * kernel). Errors as cio_stream_drain(). */
int cio_stream_flush(cio_stream *s);

/* cio_stream_write() then cio_stream_drain(). */
int cio_stream_send(cio_stream *s, const void *buf, size_t n);

/* Closes the sending side once the buffer is flushed (TCP FIN; the peer
 * reads end of stream) while reading stays possible. Returns 0, -EPIPE if
 * already done, -ENOTSUP on a TLS stream (as asyncio), -EINVAL. */
int cio_stream_write_eof(cio_stream *s);

/* Whether write_eof() is supported (false for TLS). */
bool cio_stream_can_write_eof(const cio_stream *s);

/* Bytes waiting in the write buffer. */
size_t cio_stream_write_buffer_size(const cio_stream *s);

/* Sets the water marks (asyncio's set_write_buffer_limits): high 0 means
 * CIO_STREAM_HIGH_WATER, low is clamped to high. Returns 0, -EINVAL. */
int cio_stream_set_write_buffer_limits(cio_stream *s, size_t high, size_t low);

/* ---- closing ------------------------------------------------------------ */

/* Closes the stream and releases it (asyncio's close() then wait_closed()):
 * flushes the write buffer, sends TLS close_notify and waits for the
 * peer's, within the close timeout (5 s unless set); a caller that is
 * already cancelled or timed out does not wait at all. Tasks still reading,
 * draining or in a TLS handshake on the stream are woken with -EBADF; a
 * close called from a task waits for them to return, and one called from a
 * plain loop callback leaves the release to the last of them. The stream
 * is released in every case (a stream given to a server handler is released by the server
 * after the handler returns). Returns 0 or why the close was not clean:
 * -ETIMEDOUT (unsent data or no close_notify in time), the connection's
 * error, -ECANCELED. NULL is ignored (0). */
int cio_stream_close(cio_stream *s);

/* Closes at once with a TCP reset (SO_LINGER 0), discarding buffered data,
 * and releases the stream. Never suspends. NULL is ignored. */
void cio_stream_abort(cio_stream *s);

/* Sets the time cio_stream_close() may wait: 0 means not at all (unsent
 * data is dropped), negative means for ever. */
void cio_stream_set_close_timeout(cio_stream *s, double seconds);

/* ---- information -------------------------------------------------------- */

/* The socket, for options and inspection; do not read, write or close it.
 * -EINVAL if s is NULL. */
int cio_stream_fd(const cio_stream *s);

/* The peer as text ("127.0.0.1:5000", "[::1]:443", a Unix path, or "?"). */
const char *cio_stream_peer(const cio_stream *s);

/* Detail of the stream's last failure for humans (the OpenSSL verify
 * message, which address refused), or "" if none. */
const char *cio_stream_error_detail(const cio_stream *s);

/* The peer's and the local address. Return 0 or -errno. */
int cio_stream_peername(const cio_stream *s, struct sockaddr_storage *ss, socklen_t *len);
int cio_stream_sockname(const cio_stream *s, struct sockaddr_storage *ss, socklen_t *len);

/* Turns TCP_NODELAY on or off (on by default). Returns 0 or -errno. */
int cio_stream_set_nodelay(cio_stream *s, bool on);

/* ---- servers (asyncio's start_server) ----------------------------------- */

/* Runs for each accepted connection in a task of its own. The stream
 * belongs to the server: it is closed and released when the handler
 * returns (calling cio_stream_close() in the handler is allowed). The
 * handler's result is the task's result: a negative one is reported. */
typedef int (*cio_stream_handler)(cio_stream *s, void *arg);

typedef struct cio_server_options {
    /* listen() backlog; 0 means 511. */
    int backlog;
    /* At most this many handlers run at once; further connections wait in
     * the kernel's backlog until one ends. 0 means no limit. */
    long max_connections;
    /* SO_REUSEPORT, so several loops (threads, processes) can each run a
     * server on the same port and the kernel spreads connections. */
    bool reuse_port;
    /* With host NULL: AF_INET or AF_INET6 only; 0 listens on both. */
    int family;
    /* A server context makes every connection TLS (handshake before the
     * handler runs); NULL for plain TCP. The server keeps a reference. */
    cio_tls_ctx *tls;
    /* Limit of each TLS handshake; 0 means 60 s. */
    double tls_handshake_timeout;
    /* Reader limit of each stream; 0 means CIO_STREAM_LIMIT. */
    size_t limit;
    /* Stack size of handler tasks; 0 means the loop's default. */
    size_t stack_size;
    /* How a host name is resolved; NULL for the system's configuration. */
    const cio_dns_options *dns;
} cio_server_options;

/* Listens on host:port (a numeric address, a name, or NULL for every
 * interface; port 0 picks a free one, see cio_server_port()) and accepts
 * connections until closed, running handler(stream, arg) for each in a new
 * task. Returns at once with the server in *out, which the caller owns and
 * must release with cio_server_shutdown(). opts may be NULL.
 * Accept errors do not stop the server: fd exhaustion (EMFILE, ENFILE)
 * and memory pressure back off (10 ms doubling to 1 s) and are reported.
 * Errors: -EINVAL, -EADDRINUSE, -EACCES, -EADDRNOTAVAIL, CIO_EDNS_NOTFOUND,
 * -EMFILE, -ENOMEM, CIO_ENOTTASK (name resolution needs a task),
 * CIO_ENOLOOP. */
int cio_start_server(cio_server **out, const char *host, int port, cio_stream_handler handler,
                     void *arg, const cio_server_options *opts);

/* As cio_start_server() on a Unix socket path; a stale socket file left
 * at path is replaced, and the file is removed by cio_server_shutdown().
 * Errors also -EINVAL for a path too long. */
int cio_start_unix_server(cio_server **out, const char *path, cio_stream_handler handler, void *arg,
                          const cio_server_options *opts);

/* As cio_start_server() on a socket the caller made, bound and listening
 * (asyncio's start_server(sock=...); systemd socket activation). The
 * server takes the fd and closes it at shutdown, also when this fails
 * after taking it (-ENOMEM, spawn errors). Errors: -EINVAL (fd < 0, not a
 * listening socket, handler NULL), -ENOTSOCK, -EBADF, CIO_ENOLOOP. */
int cio_start_server_fd(cio_server **out, int fd, cio_stream_handler handler, void *arg,
                        const cio_server_options *opts);

/* The port the server listens on (of its first socket), or -EINVAL. */
int cio_server_port(const cio_server *srv);

/* The address of listening socket i (0 .. count-1). Returns 0, -ENOENT
 * (no such socket), -errno. */
int cio_server_sockname(const cio_server *srv, int i, struct sockaddr_storage *ss, socklen_t *len);

/* Handlers running now. */
long cio_server_connections(const cio_server *srv);

/* Accept failures so far (fd exhaustion and the like). */
long cio_server_accept_errors(const cio_server *srv);

/* Suspends until the server is closed (asyncio's serve_forever). Returns
 * 0, -ECANCELED, -ETIMEDOUT, CIO_ENOTTASK, -EINVAL. */
int cio_server_serve(cio_server *srv);

/* Stops accepting: closes the listening sockets now (asyncio's
 * Server.close()). Running handlers go on. Idempotent; never suspends. */
void cio_server_close(cio_server *srv);

/* Closes the server, waits up to grace seconds for the running handlers
 * to return, cancels those still running and waits for them to unwind,
 * then releases the server. Returns 0, or -ETIMEDOUT if handlers had to be
 * cancelled. Interruption of the caller shortens the grace period but the
 * handlers are still waited for. Must be called from a task: elsewhere it
 * only closes the server and returns CIO_ENOTTASK (or CIO_ENOLOOP), and
 * the server is not released. NULL is ignored. */
int cio_server_shutdown(cio_server *srv, double grace);

/* ---- UDP (datagram endpoints) ------------------------------------------- */

typedef struct cio_udp_options {
    /* Local address to bind (numeric or name); NULL with a remote address
     * binds an ephemeral port of its family; NULL without one binds the
     * IPv4 wildcard. */
    const char *local_host;
    int local_port;
    /* When set, the endpoint is connected: cio_udp_send() goes there and
     * only its datagrams are received. */
    const char *remote_host;
    int remote_port;
    bool reuse_port;
    bool broadcast;
    /* Restricts name resolution: AF_INET or AF_INET6; 0 for any. */
    int family;
    /* How host names are resolved; NULL for the system's configuration. */
    const cio_dns_options *dns;
} cio_udp_options;

/* Opens a UDP endpoint (asyncio's create_datagram_endpoint); the caller
 * owns *out and releases it with cio_udp_close(). Errors: -EINVAL,
 * -EADDRINUSE, -EACCES, CIO_EDNS_NOTFOUND, -EMFILE, -ENOMEM. */
int cio_udp_open(cio_udp **out, const cio_udp_options *opts);

/* Sends one datagram to `to` (NULL on a connected endpoint). Suspends only
 * while the socket's send buffer is full. Returns 0, -EMSGSIZE,
 * -EDESTADDRREQ, -ECONNREFUSED (an earlier datagram was refused, on a
 * connected endpoint), -ETIMEDOUT, -ECANCELED, -EBADF (closed while
 * waiting), -EINVAL, -errno. */
int cio_udp_sendto(cio_udp *u, const void *buf, size_t n, const struct sockaddr *to,
                   socklen_t tolen);

/* cio_udp_sendto(u, buf, n, NULL, 0). */
int cio_udp_send(cio_udp *u, const void *buf, size_t n);

/* Receives one datagram into buf: returns its length (truncated to size:
 * the rest of the datagram is lost, as recvfrom), and the sender in *from
 * (may be NULL). Returns -ECONNREFUSED (connected endpoint, ICMP port
 * unreachable), -ETIMEDOUT, -ECANCELED, -EBUSY (another task receives),
 * -EBADF (closed while waiting), -EINVAL, -errno. */
ssize_t cio_udp_recvfrom(cio_udp *u, void *buf, size_t size, struct sockaddr_storage *from,
                         socklen_t *fromlen);

/* The local port, or -EINVAL. */
int cio_udp_port(const cio_udp *u);

/* The socket, for options; do not close it. -EINVAL if u is NULL or
 * closed. */
int cio_udp_fd(const cio_udp *u);

/* Closes and releases the endpoint; never suspends, so it may be called
 * from a task or a plain loop callback. Tasks waiting on it in
 * cio_udp_sendto() or cio_udp_recvfrom() get -EBADF; the memory is
 * released once the last of them has returned. NULL is ignored. */
void cio_udp_close(cio_udp *u);

#ifdef __cplusplus
}
#endif
#endif
