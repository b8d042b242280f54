/* TLS with OpenSSL 3: contexts, the handshake, and the transport calls the
 * stream uses when it is TLS.
 *
 * OpenSSL works on the non-blocking socket directly, through OpenSSL's
 * socket BIO but for writes, which use send(MSG_NOSIGNAL): the socket BIO
 * writes with write(), and a peer that has gone would raise SIGPIPE, whose
 * default action ends the process. When OpenSSL says WANT_READ or
 * WANT_WRITE, the stream waits for that direction and retries. Partial writes and moving write
 * buffers are enabled because the stream retries a write from its own buffer, where the bytes have
 * moved. The per-thread OpenSSL error queue is cleared before every call, since many streams share
 * a thread and a stale error would be blamed on the wrong one. */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "net/internal.h"

#define HANDSHAKE_TIMEOUT 60.0

struct cio_tls_ctx {
    SSL_CTX *ctx;
    int refs; /* the caller's and each TLS stream's; atomic: loops may share */
    bool server;
    bool verify;
    bool require_close_notify;
    unsigned char alpn[256]; /* wire format */
    unsigned alpn_len;
};

/* ---- the socket BIO, without SIGPIPE --------------------------------------- */

static BIO_METHOD *socket_method;

static int socket_write(BIO *b, const char *in, int n)
{
    int fd = -1;
    BIO_get_fd(b, &fd);
    ssize_t r = send(fd, in, (size_t)n, MSG_NOSIGNAL);
    BIO_clear_retry_flags(b);
    if (r < 0 && BIO_sock_should_retry((int)r))
        BIO_set_retry_write(b);
    return (int)r;
}

static void make_socket_method(void)
{
    const BIO_METHOD *s = BIO_s_socket();
    int index = BIO_get_new_index();
    if (index == -1)
        return;
    BIO_METHOD *m = BIO_meth_new(index | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "cio socket");
    if (m && BIO_meth_set_write(m, socket_write) && BIO_meth_set_read(m, BIO_meth_get_read(s)) &&
        BIO_meth_set_puts(m, BIO_meth_get_puts(s)) && BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(s)) &&
        BIO_meth_set_create(m, BIO_meth_get_create(s)) &&
        BIO_meth_set_destroy(m, BIO_meth_get_destroy(s)))
        socket_method = m;
    else
        BIO_meth_free(m);
}

/* A BIO on fd (which it does not close), or NULL without memory. */
static BIO *socket_bio(int fd)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_socket_method);
    BIO *b = socket_method ? BIO_new(socket_method) : NULL;
    if (b)
        BIO_set_fd(b, fd, BIO_NOCLOSE);
    return b;
}

struct tls {
    SSL *ssl;
    cio_tls_ctx *ctx;
    bool closing; /* in cio__tls_shutdown(): what still arrives is discarded */
    char alpn[64];
};

static void ctx_unref(cio_tls_ctx *c)
{
    if (c && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        SSL_CTX_free(c->ctx);
        free(c);
    }
}

void cio_tls_ctx_free(cio_tls_ctx *ctx)
{
    ctx_unref(ctx);
}

void cio__tls_ctx_ref(cio_tls_ctx *ctx)
{
    if (ctx)
        __atomic_add_fetch(&ctx->refs, 1, __ATOMIC_RELAXED);
}

void cio__tls_ctx_unref(cio_tls_ctx *ctx)
{
    ctx_unref(ctx);
}

/* "h2,http/1.1" to ALPN wire format. */
static int parse_alpn(cio_tls_ctx *c, const char *list)
{
    size_t n = 0;
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0 || len > 255 || n + 1 + len > sizeof c->alpn)
            return -EINVAL;
        c->alpn[n++] = (unsigned char)len;
        memcpy(c->alpn + n, p, len);
        n += len;
        p += len + (e ? 1 : 0);
        if (e && !*p)
            return -EINVAL;
    }
    c->alpn_len = (unsigned)n;
    return n ? 0 : -EINVAL;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg)
{
    (void)ssl;
    cio_tls_ctx *c = arg;
    unsigned char *o;
    if (SSL_select_next_proto(&o, outlen, c->alpn, c->alpn_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = o;
    return SSL_TLSEXT_ERR_OK;
}

static int file_check(const char *path)
{
    struct stat st;
    return !path || stat(path, &st) == 0 ? 0 : -errno;
}

static int ctx_new(cio_tls_ctx **out, const cio_tls_options *o, bool server)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    static const cio_tls_options none;
    if (!o)
        o = &none;
    if (server ? !o->cert_file || !o->key_file : !o->cert_file != !o->key_file)
        return -EINVAL;
    int rc;
    if ((rc = file_check(o->ca_file)) || (rc = file_check(o->ca_path)) ||
        (rc = file_check(o->cert_file)) || (rc = file_check(o->key_file)))
        return rc;
    cio_tls_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->refs = 1;
    c->server = server;
    c->verify = server ? o->verify_client : !o->insecure_no_verify;
    c->require_close_notify = o->require_close_notify;
    if (o->alpn && parse_alpn(c, o->alpn) < 0) {
        free(c);
        return -EINVAL;
    }
    ERR_clear_error();
    c->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!c->ctx) {
        free(c);
        return -ENOMEM;
    }
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(c->ctx, SSL_OP_NO_RENEGOTIATION);
    /* Read whole socket buffers, not a record header and then its body:
     * one recv() per burst instead of two per record. */
    SSL_CTX_set_read_ahead(c->ctx, 1);
    rc = 0;
    if (c->verify) {
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                           NULL);
        int ok = o->ca_file || o->ca_path
                     ? SSL_CTX_load_verify_locations(c->ctx, o->ca_file, o->ca_path)
                     : SSL_CTX_set_default_verify_paths(c->ctx);
        if (ok != 1)
            rc = CIO_ETLS;
    }
    if (!rc && o->cert_file &&
        (SSL_CTX_use_certificate_chain_file(c->ctx, o->cert_file) != 1 ||
         SSL_CTX_use_PrivateKey_file(c->ctx, o->key_file, SSL_FILETYPE_PEM) != 1 ||
         SSL_CTX_check_private_key(c->ctx) != 1))
        rc = CIO_ETLS;
    if (!rc && c->alpn_len) {
        if (server)
            SSL_CTX_set_alpn_select_cb(c->ctx, alpn_select, c);
        else if (SSL_CTX_set_alpn_protos(c->ctx, c->alpn, c->alpn_len) != 0)
            rc = -ENOMEM;
    }
    ERR_clear_error();
    if (rc) {
        ctx_unref(c);
        return rc;
    }
    *out = c;
    return 0;
}

int cio_tls_client_ctx_new(cio_tls_ctx **out, const cio_tls_options *opts)
{
    return ctx_new(out, opts, false);
}

int cio_tls_server_ctx_new(cio_tls_ctx **out, const cio_tls_options *opts)
{
    return ctx_new(out, opts, true);
}

/* ---- errors ------------------------------------------------------------- */

static int verify_error(cio_stream *s, long v)
{
    cio__stream_detail(s, "certificate of %s: %s", cio_stream_peer(s),
                       X509_verify_cert_error_string(v));
    switch (v) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return CIO_ETLS_CERT_EXPIRED;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return CIO_ETLS_HOST_MISMATCH;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return CIO_ETLS_UNKNOWN_CA;
    default:
        return CIO_ETLS_CERT_INVALID;
    }
}

/* The peer closed TCP without close_notify after the handshake: the end
 * of the stream (as Python's suppress_ragged_eofs; many peers close so),
 * or CIO_ETLS where the context requires close_notify, unless we are
 * closing (nothing that could be cut short is wanted any more). */
static int ragged_eof(cio_stream *s, const struct tls *t)
{
    if (t->ctx->require_close_notify && !t->closing) {
        cio__stream_detail(s,
                           "%s closed the connection without close_notify: the data may be "
                           "truncated",
                           cio_stream_peer(s));
        return CIO_ETLS;
    }
    cio__stream_detail(s, "%s closed the connection without close_notify", cio_stream_peer(s));
    return 0;
}

/* Maps a failed SSL call: -EAGAIN with s->want set, 0 for a clean end of
 * stream, or an error (detail recorded on the stream). */
static int ssl_error(cio_stream *s, struct tls *t, int r, bool handshake)
{
    int e = SSL_get_error(t->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        s->want = CIO_READABLE;
        return -EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        s->want = CIO_WRITABLE;
        return -EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
        if (handshake) {
            cio__stream_detail(s, "%s closed the connection during the TLS handshake",
                               cio_stream_peer(s));
            return CIO_ETLS;
        }
        return 0;
    case SSL_ERROR_SYSCALL: {
        int err = errno;
        ERR_clear_error();
        if (err && err != EAGAIN) {
            cio__stream_detail(s, "%s: %s", cio_stream_peer(s), strerror(err));
            return -err;
        }
        if (!handshake)
            return ragged_eof(s, t);
        cio__stream_detail(s, "%s closed the connection during the TLS handshake",
                           cio_stream_peer(s));
        return CIO_ETLS;
    }
    default: {
        unsigned long code = ERR_peek_error();
        if (!handshake && ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            ERR_clear_error();
            return ragged_eof(s, t);
        }
        if (handshake) {
            long v = SSL_get_verify_result(t->ssl);
            if (v != X509_V_OK) {
                ERR_clear_error();
                return verify_error(s, v);
            }
        }
        char buf[160];
        ERR_error_string_n(code, buf, sizeof buf);
        ERR_clear_error();
        cio__stream_detail(s, "TLS with %s: %s", cio_stream_peer(s), buf);
        return CIO_ETLS;
    }
    }
}

/* ---- handshake ---------------------------------------------------------- */

static int handshake(cio_stream *s, struct tls *t)
{
    for (;;) {
        ERR_clear_error();
        int r = SSL_do_handshake(t->ssl);
        if (r == 1)
            return 0;
        int rc = ssl_error(s, t, r, true);
        if (rc != -EAGAIN)
            return rc;
        rc = cio__stream_wait(s, s->want);
        if (rc < 0)
            return rc;
    }
}

int cio__tls_start(cio_stream *s, cio_tls_ctx *ctx, const char *hostname, bool server,
                   double timeout)
{
    if (!s || !ctx || s->ssl || s->closing || ctx->server != server || s->rlen)
        return -EINVAL;
    struct tls *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    ERR_clear_error();
    t->ssl = SSL_new(ctx->ctx);
    BIO *bio = t->ssl ? socket_bio(s->fd) : NULL;
    if (!bio) {
        SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        return -ENOMEM;
    }
    SSL_set_bio(t->ssl, bio, bio);
    t->ctx = ctx;
    __atomic_add_fetch(&ctx->refs, 1, __ATOMIC_RELAXED);
    if (server) {
        SSL_set_accept_state(t->ssl);
    } else {
        SSL_set_connect_state(t->ssl);
        if (hostname && *hostname) {
            unsigned char ip[16];
            bool literal =
                inet_pton(AF_INET, hostname, ip) == 1 || inet_pton(AF_INET6, hostname, ip) == 1;
            if (!literal)
                SSL_set_tlsext_host_name(t->ssl, hostname); /* SNI is for names only */
            if (ctx->verify) {
                int ok = literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), hostname)
                                 : SSL_set1_host(t->ssl, hostname);
                if (ok != 1) {
                    SSL_free(t->ssl);
                    ctx_unref(ctx);
                    free(t);
                    ERR_clear_error();
                    return -EINVAL;
                }
            }
        }
    }
    s->ssl = t;
    s->rdrained = false;
    /* The handshake is a user of the stream, as a read is: a close while
     * it waits wakes it with -EBADF, and the stream outlives it. */
    s->users++;
    int rc;
    {
        CIO_TIMEOUT(limit, timeout > 0 ? timeout : HANDSHAKE_TIMEOUT);
        rc = handshake(s, t);
    }
    if (rc) {
        cio__tls_free(s);
        return (int)cio__stream_leave(s, rc);
    }
    const unsigned char *p;
    unsigned len;
    SSL_get0_alpn_selected(t->ssl, &p, &len);
    if (len && len < sizeof t->alpn) {
        memcpy(t->alpn, p, len);
        t->alpn[len] = 0;
    }
    return (int)cio__stream_leave(s, 0);
}

int cio_stream_start_tls(cio_stream *s, cio_tls_ctx *ctx, const char *server_hostname,
                         double timeout)
{
    return cio__tls_start(s, ctx, server_hostname, false, timeout);
}

int cio_stream_accept_tls(cio_stream *s, cio_tls_ctx *ctx, double timeout)
{
    return cio__tls_start(s, ctx, NULL, true, timeout);
}

/* ---- transport ---------------------------------------------------------- */

ssize_t cio__tls_recv(cio_stream *s, void *buf, size_t n)
{
    struct tls *t = s->ssl;
    size_t got = 0;
    ERR_clear_error();
    int r = SSL_read_ex(t->ssl, buf, n, &got);
    if (r == 1)
        return (ssize_t)got;
    return ssl_error(s, t, r, false);
}

bool cio__tls_pending(const cio_stream *s)
{
    const struct tls *t = s->ssl;
    return SSL_has_pending(t->ssl);
}

ssize_t cio__tls_send(cio_stream *s, const void *buf, size_t n)
{
    struct tls *t = s->ssl;
    size_t put = 0;
    ERR_clear_error();
    int r = SSL_write_ex(t->ssl, buf, n, &put);
    if (r == 1)
        return (ssize_t)put;
    int rc = ssl_error(s, t, r, false);
    return rc == 0 ? -EPIPE : rc;
}

int cio__tls_shutdown(cio_stream *s, bool wait)
{
    struct tls *t = s->ssl;
    /* A close while another task is still in the handshake: there is no
     * session to end politely (and the handshake owns the socket). */
    if (!SSL_is_init_finished(t->ssl))
        return 0;
    t->closing = true;
    for (;;) {
        ERR_clear_error();
        int r = SSL_shutdown(t->ssl);
        if (r == 1)
            return 0;
        if (r == 0) {
            if (!wait)
                return 0;
            /* Our close_notify is out; read until the peer's arrives,
             * discarding any data it still sends. */
            char junk[4096];
            for (;;) {
                ssize_t k = cio__tls_recv(s, junk, sizeof junk);
                if (k == 0)
                    return 0;
                if (k == -EAGAIN) {
                    int rc = cio__stream_wait(s, s->want);
                    if (rc < 0)
                        return rc;
                } else if (k < 0) {
                    return (int)k;
                }
            }
        }
        int rc = ssl_error(s, t, r, false);
        if (rc != -EAGAIN || !wait)
            return rc == -EAGAIN ? 0 : rc;
        rc = cio__stream_wait(s, s->want);
        if (rc < 0)
            return rc;
    }
}

void cio__tls_free(cio_stream *s)
{
    struct tls *t = s->ssl;
    if (!t)
        return;
    SSL_free(t->ssl);
    ctx_unref(t->ctx);
    free(t);
    s->ssl = NULL;
}

int cio_stream_peer_subject(const cio_stream *s, char *buf, size_t size)
{
    if (!s || !buf || !size)
        return -EINVAL;
    buf[0] = 0;
    struct tls *t = s->ssl;
    X509 *cert = t ? SSL_get0_peer_certificate(t->ssl) : NULL;
    if (!cert)
        return -ENOENT;
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return -ENOMEM;
    int rc = -ENOMEM;
    if (X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
        char *p;
        long n = BIO_get_mem_data(b, &p);
        if (n >= 0 && (size_t)n < size) {
            memcpy(buf, p, (size_t)n);
            buf[n] = 0;
            rc = (int)n;
        } else {
            rc = -ENOBUFS;
        }
    }
    BIO_free(b);
    ERR_clear_error();
    return rc;
}

bool cio_stream_is_tls(const cio_stream *s)
{
    return s && s->ssl;
}

const char *cio_stream_alpn(const cio_stream *s)
{
    struct tls *t = s ? s->ssl : NULL;
    return t && t->alpn[0] ? t->alpn : NULL;
}

const char *cio_stream_tls_version(const cio_stream *s)
{
    struct tls *t = s ? s->ssl : NULL;
    return t ? SSL_get_version(t->ssl) : NULL;
}
