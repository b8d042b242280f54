/* cio — TLS over cio streams, with OpenSSL 3.
 *
 * A context holds configuration shared by many connections (asyncio's
 * ssl.SSLContext): trusted CAs, a certificate and key, ALPN protocols. A
 * stream becomes TLS when it is opened with a context (connect options,
 * server options) or upgraded with cio_stream_start_tls(); reading and
 * writing then use the same stream calls. Clients verify the peer's
 * certificate and host name by default, against the system's CA store.
 *
 * Link with cio_net (pkg-config cio-net). No OpenSSL type is exposed.
 */
#ifndef CIO_TLS_H
#define CIO_TLS_H

#include <stdbool.h>

#include "net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_tls_options {
    /* Trusted CAs: a PEM file and/or a directory of hashed certificates.
     * Both NULL means the system's store (clients). */
    const char *ca_file;
    const char *ca_path;
    /* Turns certificate and host-name verification off (clients; never do
     * this outside tests). */
    bool insecure_no_verify;
    /* The certificate chain (PEM) and private key: required for servers,
     * optional for clients (client certificates). */
    const char *cert_file;
    const char *key_file;
    /* ALPN protocols in preference order, comma-separated: "h2,http/1.1".
     * NULL for none. */
    const char *alpn;
    /* Servers: ask clients for a certificate and verify it against
     * ca_file/ca_path. */
    bool verify_client;
    /* A peer that closes the connection without TLS's close_notify may
     * have been cut short by an attacker who forged the TCP end. By
     * default that is the end of the stream, as with Python's
     * suppress_ragged_eofs (many peers close so, and protocols that know
     * their length, such as HTTP with Content-Length or chunks, see a
     * truncation themselves); with this set, reads report it as CIO_ETLS
     * (the detail says so), for protocols that read until the end. */
    bool require_close_notify;
} cio_tls_options;

/* Makes a client context; the caller owns it and frees it with
 * cio_tls_ctx_free() (streams keep what they need, so the context may be
 * freed while they live). opts may be NULL (system CAs, verification on).
 * Errors: -EINVAL (bad ALPN list, key without certificate), -ENOENT (a file
 * that does not exist), CIO_ETLS (a file OpenSSL cannot load), -ENOMEM. */
int cio_tls_client_ctx_new(cio_tls_ctx **out, const cio_tls_options *opts);

/* Makes a server context: cert_file and key_file are required. Errors as
 * cio_tls_client_ctx_new(), and -EINVAL without a certificate and key. */
int cio_tls_server_ctx_new(cio_tls_ctx **out, const cio_tls_options *opts);

/* Releases the caller's context. NULL is ignored. */
void cio_tls_ctx_free(cio_tls_ctx *ctx);

/* Upgrades a plain stream to TLS (asyncio's start_tls): performs the
 * handshake as a client (server_hostname is sent as SNI and checked against
 * the certificate; NULL skips both) within timeout seconds (0: 60 s).
 * Nothing must be buffered unread on s. Errors: CIO_ETLS_CERT_EXPIRED,
 * CIO_ETLS_HOST_MISMATCH, CIO_ETLS_UNKNOWN_CA, CIO_ETLS_CERT_INVALID (the
 * verify message is in cio_stream_error_detail()), CIO_ETLS (protocol
 * error, alert from the peer, peer closed during the handshake),
 * -ETIMEDOUT, -ECANCELED, -ECONNRESET, -EBADF (the stream was closed,
 * by another task or a loop callback, during the handshake), -EINVAL
 * (already TLS, server context, data buffered, stream closed), -ENOMEM. On
 * failure the stream stays valid and must still be closed, unless it was
 * closed during the handshake. */
int cio_stream_start_tls(cio_stream *s, cio_tls_ctx *ctx, const char *server_hostname,
                         double timeout);

/* As cio_stream_start_tls() for the server side of a stream, with a server
 * context. */
int cio_stream_accept_tls(cio_stream *s, cio_tls_ctx *ctx, double timeout);

/* Writes the subject of the peer's certificate ("CN=client,O=Example",
 * RFC 2253) into buf, terminated: a server with verify_client learns who
 * connected. Returns its length, or -ENOENT (not TLS, or the peer sent no
 * certificate), -ENOBUFS (buf too small), -EINVAL, -ENOMEM. */
int cio_stream_peer_subject(const cio_stream *s, char *buf, size_t size);

/* Whether the stream is TLS. */
bool cio_stream_is_tls(const cio_stream *s);

/* The ALPN protocol agreed on ("h2"), or NULL if none. Valid while the
 * stream lives. */
const char *cio_stream_alpn(const cio_stream *s);

/* The TLS version agreed on ("TLSv1.3"), or NULL for a plain stream. */
const char *cio_stream_tls_version(const cio_stream *s);

#ifdef __cplusplus
}
#endif
#endif
