/* TLS: a CA and certificates made at test time with the openssl CLI (good,
 * expired, wrong host, unknown CA); verification errors that say which;
 * ALPN; clean close_notify; handshake and shutdown timeouts; start_tls on
 * an open stream. */
#include "net_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static char dir[64];
static char ca[128], good_crt[128], good_key[128], exp_crt[128], wrong_crt[128], rogue_crt[128],
    rogue_key[128], client_crt[128], client_key[128];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

#define EC "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"

static int make_certs(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/cio-tls-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(good_crt, sizeof good_crt, "%s/good.pem", dir);
    snprintf(good_key, sizeof good_key, "%s/server.key", dir);
    snprintf(exp_crt, sizeof exp_crt, "%s/expired.pem", dir);
    snprintf(wrong_crt, sizeof wrong_crt, "%s/wrong.pem", dir);
    snprintf(rogue_crt, sizeof rogue_crt, "%s/rogue.pem", dir);
    snprintf(rogue_key, sizeof rogue_key, "%s/rogue.key", dir);
    int rc = 0;
    rc |= sh("cd %s && openssl req -x509 " EC " -keyout ca.key -out ca.pem -days 30 "
             "-subj '/CN=cio test CA' 2>/dev/null",
             dir);
    rc |= sh("cd %s && openssl req " EC " -keyout server.key -out server.csr -subj /CN=localhost "
             "2>/dev/null",
             dir);
    rc |= sh("cd %s && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\\n' > good.ext && "
             "printf 'subjectAltName=DNS:other.example\\n' > wrong.ext",
             dir);
    /* Good, expired (valid until yesterday), and for another host; all
     * with the same key, signed by the test CA. */
    rc |= sh("cd %s && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
             "-CAcreateserial -days 30 -extfile good.ext -out good.pem 2>/dev/null",
             dir);
    rc |= sh("cd %s && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
             "-CAcreateserial -days -1 -extfile good.ext -out expired.pem 2>/dev/null",
             dir);
    rc |= sh("cd %s && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
             "-CAcreateserial -days 30 -extfile wrong.ext -out wrong.pem 2>/dev/null",
             dir);
    /* A client certificate signed by the test CA. */
    snprintf(client_crt, sizeof client_crt, "%s/client.pem", dir);
    snprintf(client_key, sizeof client_key, "%s/client.key", dir);
    rc |= sh("cd %s && openssl req " EC " -keyout client.key -out client.csr "
             "-subj /CN=cio-client 2>/dev/null && openssl x509 -req -in client.csr -CA ca.pem "
             "-CAkey ca.key -CAcreateserial -days 30 -out client.pem 2>/dev/null",
             dir);
    /* Self-signed for localhost: a CA nobody trusts. */
    rc |= sh("cd %s && openssl req -x509 " EC " -keyout rogue.key -out rogue.pem -days 30 "
             "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null",
             dir);
    return rc;
}

static int remove_certs(void **state)
{
    (void)state;
    return sh("rm -rf %s", dir);
}

/* ---- a TLS echo server and clients -------------------------------------- */

struct tls_case {
    const char *crt, *key;   /* the server's */
    const char *host;        /* what the client connects to */
    const char *sni;         /* server_hostname, NULL: host */
    const char *client_alpn; /* NULL: none */
    int expect;              /* cio_open_connection's result */
    const char *detail;      /* a substring of the error detail, or NULL */
    char alpn[32];
    char version[32];
};

static int tls_echo(cio_stream *s, void *arg)
{
    (void)arg;
    int rc = echo_handler(s, NULL);
    return rc == -ECONNRESET ? 0 : rc;
}

static int tls_client(void *arg)
{
    struct tls_case *c = arg;
    cio_tls_ctx *sctx, *cctx;
    cio_tls_options so = {.cert_file = c->crt, .key_file = c->key, .alpn = "http/1.1,x-cio"};
    task_check_eq(cio_tls_server_ctx_new(&sctx, &so), 0);
    cio_tls_options co = {.ca_file = ca, .alpn = c->client_alpn};
    task_check_eq(cio_tls_client_ctx_new(&cctx, &co), 0);
    cio_server *srv;
    cio_server_options srvo = {.tls = sctx};
    task_check_eq(cio_start_server(&srv, strchr(c->host, ':') ? "::1" : "127.0.0.1", 0, tls_echo,
                                   NULL, &srvo),
                  0);
    /* The server holds its own reference: the caller's may go now. */
    cio_tls_ctx_free(sctx);
    char detail[256] = "";
    /* Names come from /etc/hosts; should a lookup go further, it must
     * reach nothing but loopback (never a real DNS server). */
    cio_dns_options dns = {.servers = "127.0.0.1:9", .timeout = 2};
    cio_connect_options o = {.tls = cctx,
                             .dns = &dns,
                             .server_hostname = c->sni,
                             .timeout = 5,
                             .error_detail = detail,
                             .error_detail_size = sizeof detail};
    cio_stream *s = NULL;
    int rc = cio_open_connection(&s, c->host, cio_server_port(srv), &o);
    task_check_eq(rc, c->expect);
    if (rc == 0) {
        task_check(cio_stream_is_tls(s));
        task_check(!cio_stream_can_write_eof(s));
        task_check_eq(cio_stream_write_eof(s), -ENOTSUP);
        if (cio_stream_alpn(s))
            snprintf(c->alpn, sizeof c->alpn, "%s", cio_stream_alpn(s));
        snprintf(c->version, sizeof c->version, "%s", cio_stream_tls_version(s));
        static char big[300000], back[300000];
        for (size_t i = 0; i < sizeof big; i++)
            big[i] = (char)(i % 253);
        task_check_eq(cio_stream_send(s, "hello tls\n", 10), 0);
        char line[32];
        task_check_eq(cio_stream_readline(s, line, sizeof line), 10);
        task_check(memcmp(line, "hello tls\n", 10) == 0);
        struct iovec iov[2] = {{"abc", 3}, {"def\n", 4}};
        task_check_eq(cio_stream_writev(s, iov, 2), 0);
        task_check_eq(cio_stream_readline(s, line, sizeof line), 7);
        task_check(memcmp(line, "abcdef\n", 7) == 0);
        task_check_eq(cio_stream_write(s, big, sizeof big), 0);
        task_check_eq(cio_stream_readexactly(s, back, sizeof back), (long long)sizeof back);
        task_check(memcmp(big, back, sizeof big) == 0);
        /* close_notify both ways: a clean close. */
        task_check_eq(cio_stream_close(s), 0);
    } else if (c->detail) {
        /* The detail names the peer and what OpenSSL said. */
        task_check(strstr(detail, c->detail) != NULL);
        task_check(strstr(detail, c->host) != NULL);
    }
    task_check_eq(cio_server_shutdown(srv, 2), 0);
    cio_tls_ctx_free(cctx);
    return 0;
}

static void run_case(struct tls_case *c)
{
    assert_ok(run_real(tls_client, c));
}

static void test_good_certificate(void **state)
{
    (void)state;
    /* "localhost" is resolved (hosts file) and verified by name; without
     * a hosts entry, 127.0.0.1 is verified by the name sent as SNI. */
    bool named = hosts_has_localhost();
    struct tls_case c = {.crt = good_crt,
                         .key = good_key,
                         .host = named ? "localhost" : "127.0.0.1",
                         .sni = named ? NULL : "localhost",
                         .client_alpn = "h2,x-cio"};
    run_case(&c);
    assert_string_equal(c.alpn, "x-cio");
    assert_string_equal(c.version, "TLSv1.3");
}

static void test_ip_address_certificate(void **state)
{
    (void)state;
    struct tls_case c = {.crt = good_crt, .key = good_key, .host = "127.0.0.1"};
    run_case(&c);
    assert_string_equal(c.alpn, ""); /* the client offered none */
}

static void test_ip_address_certificate_ipv6(void **state)
{
    (void)state;
    SKIP_WITHOUT_IPV6();
    struct tls_case c = {.crt = good_crt, .key = good_key, .host = "::1"};
    run_case(&c);
}

static void test_expired_certificate(void **state)
{
    (void)state;
    struct tls_case c = {.crt = exp_crt,
                         .key = good_key,
                         .host = "127.0.0.1",
                         .expect = CIO_ETLS_CERT_EXPIRED,
                         .detail = "expired"};
    run_case(&c);
}

static void test_wrong_host(void **state)
{
    (void)state;
    struct tls_case c = {.crt = wrong_crt,
                         .key = good_key,
                         .host = "127.0.0.1",
                         .sni = "localhost",
                         .expect = CIO_ETLS_HOST_MISMATCH,
                         .detail = "mismatch"};
    run_case(&c);
}

static void test_unknown_ca(void **state)
{
    (void)state;
    struct tls_case c = {.crt = rogue_crt,
                         .key = rogue_key,
                         .host = "127.0.0.1",
                         .expect = CIO_ETLS_UNKNOWN_CA,
                         .detail = "self-signed"};
    run_case(&c);
}

/* ---- start_tls, detail, timeouts ----------------------------------------- */

static int upgrade_server(cio_stream *s, void *arg)
{
    cio_tls_ctx *ctx = arg;
    char line[16];
    if (cio_stream_readline(s, line, sizeof line) != 9) /* "STARTTLS\n" */
        return -1;
    int rc = cio_stream_send(s, "GO\n", 3);
    if (rc)
        return rc;
    /* The second client rejects our certificate: not our failure. */
    return cio_stream_accept_tls(s, ctx, 5) ? 0 : tls_echo(s, NULL);
}

static int start_tls(void *arg)
{
    (void)arg;
    cio_tls_ctx *sctx, *cctx;
    cio_tls_options so = {.cert_file = good_crt, .key_file = good_key};
    task_check_eq(cio_tls_server_ctx_new(&sctx, &so), 0);
    cio_tls_options co = {.ca_file = ca};
    task_check_eq(cio_tls_client_ctx_new(&cctx, &co), 0);
    cio_server *srv;
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, upgrade_server, sctx, NULL), 0);
    cio_stream *s;
    task_check_eq(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL), 0);
    task_check_eq(cio_stream_send(s, "STARTTLS\n", 9), 0);
    char line[16];
    task_check_eq(cio_stream_readline(s, line, sizeof line), 3);
    task_check_eq(cio_stream_start_tls(s, cctx, "localhost", 5), 0);
    task_check_eq(cio_stream_start_tls(s, cctx, "localhost", 5), -EINVAL); /* already TLS */
    task_check_eq(cio_stream_send(s, "secret\n", 7), 0);
    task_check_eq(cio_stream_readline(s, line, sizeof line), 7);
    task_check_eq(cio_stream_close(s), 0);

    /* A verification failure keeps the stream, with the detail on it. */
    cio_tls_ctx *strict;
    task_check_eq(cio_tls_client_ctx_new(&strict, &(cio_tls_options){.ca_file = ca}), 0);
    task_check_eq(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL), 0);
    task_check_eq(cio_stream_send(s, "STARTTLS\n", 9), 0);
    task_check_eq(cio_stream_readline(s, line, sizeof line), 3);
    task_check_eq(cio_stream_start_tls(s, strict, "other.example", 5), CIO_ETLS_HOST_MISMATCH);
    task_check(strstr(cio_stream_error_detail(s), "127.0.0.1") != NULL);
    task_check(strstr(cio_stream_error_detail(s), "mismatch") != NULL);
    cio_stream_close(s);
    cio_tls_ctx_free(strict);

    task_check_eq(cio_server_shutdown(srv, 2), 0);
    cio_tls_ctx_free(sctx);
    cio_tls_ctx_free(cctx);
    return 0;
}

static void test_start_tls(void **state)
{
    (void)state;
    assert_ok(run_real(start_tls, NULL));
}

/* Starts a TLS server on 127.0.0.1 with the good certificate, running
 * handler(s, arg); the server keeps its own reference to the context. */
static int start_good_server(cio_server **srv, cio_stream_handler handler, void *arg)
{
    cio_tls_ctx *sctx;
    int rc = cio_tls_server_ctx_new(
        &sctx, &(cio_tls_options){.cert_file = good_crt, .key_file = good_key});
    if (rc)
        return rc;
    rc = cio_start_server(srv, "127.0.0.1", 0, handler, arg, &(cio_server_options){.tls = sctx});
    cio_tls_ctx_free(sctx);
    return rc;
}

static int mute(cio_stream *s, void *arg)
{
    (void)s;
    double *secs = arg;
    cio_sleep(*secs); /* accepts and never says a word */
    return 0;
}

static int stalled_handshake(void *arg)
{
    (void)arg;
    double secs = 5;
    cio_server *srv;
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, mute, &secs, NULL), 0);
    cio_tls_ctx *cctx;
    task_check_eq(cio_tls_client_ctx_new(&cctx, &(cio_tls_options){.ca_file = ca}), 0);
    cio_connect_options o = {.tls = cctx, .tls_handshake_timeout = 0.2};
    cio_stream *s;
    double t0 = cio_time();
    task_check_eq(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), &o), -ETIMEDOUT);
    double el = cio_time() - t0;
    task_check(el >= 0.19 && el < 1.0);
    task_check_eq(cio_server_shutdown(srv, 0), -ETIMEDOUT);
    cio_tls_ctx_free(cctx);
    return 0;
}

static void test_handshake_timeout(void **state)
{
    (void)state;
    assert_ok(run_real(stalled_handshake, NULL));
}

/* Closing a stream while another task is inside cio_stream_start_tls():
 * the handshake ends with -EBADF and the stream's memory outlives it,
 * whether the close comes from a task (which waits for the handshake to
 * unwind) or from a plain loop callback (AddressSanitizer watches). */
struct upgrader {
    cio_stream *s;
    cio_tls_ctx *ctx;
    int rc;
};

static int upgrading(void *arg)
{
    struct upgrader *u = arg;
    u->rc = cio_stream_start_tls(u->s, u->ctx, "localhost", 5);
    return 0;
}

static void close_cb(void *arg)
{
    cio_stream_close(arg);
}

static void abort_cb(void *arg)
{
    cio_stream_abort(arg);
}

static int close_during_handshake(void *arg)
{
    (void)arg;
    double secs = 5;
    cio_server *srv;
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, mute, &secs, NULL), 0);
    cio_tls_ctx *cctx;
    task_check_eq(cio_tls_client_ctx_new(&cctx, &(cio_tls_options){.ca_file = ca}), 0);
    for (int round = 0; round < 3; round++) {
        struct upgrader u = {.ctx = cctx, .rc = 1};
        task_check_eq(cio_open_connection(&u.s, "127.0.0.1", cio_server_port(srv), NULL), 0);
        cio_task t = cio_spawn(upgrading, &u);
        task_check_eq(cio_sleep(0.05), 0); /* waiting for the server's hello */
        task_check_eq(u.rc, 1);
        if (round == 0)
            task_check_eq(cio_stream_close(u.s), 0);
        else
            task_check_eq(cio_call_soon(round == 1 ? close_cb : abort_cb, u.s, NULL), 0);
        task_check_eq(cio_join(t), 0);
        task_check_eq(u.rc, -EBADF);
    }
    task_check_eq(cio_server_shutdown(srv, 0), -ETIMEDOUT);
    cio_tls_ctx_free(cctx);
    return 0;
}

static void test_close_during_handshake(void **state)
{
    (void)state;
    assert_ok(run_real(close_during_handshake, NULL));
}

static int stalled_shutdown(void *arg)
{
    (void)arg;
    /* The peer completes the handshake, then never reads: our
     * close_notify gets no answer, and close must not hang. */
    double secs = 5;
    cio_tls_ctx *cctx;
    task_check_eq(cio_tls_client_ctx_new(&cctx, &(cio_tls_options){.ca_file = ca}), 0);
    cio_server *srv;
    task_check_eq(start_good_server(&srv, mute, &secs), 0);
    cio_stream *s;
    cio_connect_options o = {.tls = cctx};
    task_check_eq(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), &o), 0);
    cio_stream_set_close_timeout(s, 0.2);
    double t0 = cio_time();
    task_check_eq(cio_stream_close(s), -ETIMEDOUT);
    double el = cio_time() - t0;
    task_check(el >= 0.19 && el < 1.0);
    task_check_eq(cio_server_shutdown(srv, 0), -ETIMEDOUT);
    cio_tls_ctx_free(cctx);
    return 0;
}

static void test_shutdown_timeout(void **state)
{
    (void)state;
    assert_ok(run_real(stalled_shutdown, NULL));
}

/* A peer that ends TCP without close_notify after some data (a ragged
 * EOF: a truncation an attacker could forge): the end of the stream by
 * default; with require_close_notify, CIO_ETLS for the read that meets it
 * (and for the close, which reports the connection's error), but not for
 * a close that meets it while waiting for the peer's close_notify. */
static int ragged_close(cio_stream *s, void *arg)
{
    (void)arg;
    if (cio_stream_send(s, "partial", 7) < 0)
        return -1;
    shutdown(cio_stream_fd(s), SHUT_WR); /* a FIN, no close_notify */
    char buf[16];
    while (cio_stream_read(s, buf, sizeof buf) > 0)
        ;
    return 0;
}

static int ragged_eof(void *arg)
{
    (void)arg;
    cio_server *srv;
    task_check_eq(start_good_server(&srv, ragged_close, NULL), 0);
    for (int round = 0; round < 3; round++) {
        bool strict = round > 0, read_to_end = round < 2;
        cio_tls_ctx *cctx;
        cio_tls_options co = {.ca_file = ca, .require_close_notify = strict};
        task_check_eq(cio_tls_client_ctx_new(&cctx, &co), 0);
        cio_stream *s;
        cio_connect_options o = {.tls = cctx};
        task_check_eq(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), &o), 0);
        char buf[16];
        task_check_eq(cio_stream_readexactly(s, buf, 7), 7);
        task_check(memcmp(buf, "partial", 7) == 0);
        if (read_to_end) {
            task_check_eq(cio_stream_read(s, buf, sizeof buf), strict ? CIO_ETLS : 0);
            task_check(strstr(cio_stream_error_detail(s), "without close_notify") != NULL);
            if (strict)
                task_check(strstr(cio_stream_error_detail(s), "truncated") != NULL);
        }
        task_check_eq(cio_stream_close(s), strict && read_to_end ? CIO_ETLS : 0);
        cio_tls_ctx_free(cctx);
    }
    task_check_eq(cio_server_shutdown(srv, 5), 0);
    return 0;
}

static void test_ragged_eof(void **state)
{
    (void)state;
    assert_ok(run_real(ragged_eof, NULL));
}

/* Writing TLS to a peer that has gone fails with an error; it must not
 * raise SIGPIPE, whose default action would end this process. */
static int hang_up(cio_stream *s, void *arg)
{
    (void)arg;
    cio_stream_abort(s);
    return 0;
}

static int write_to_gone(void *arg)
{
    (void)arg;
    cio_tls_ctx *cctx;
    task_check_eq(cio_tls_client_ctx_new(&cctx, &(cio_tls_options){.ca_file = ca}), 0);
    cio_server *srv;
    task_check_eq(start_good_server(&srv, hang_up, NULL), 0);
    cio_stream *s;
    cio_connect_options o = {.tls = cctx};
    task_check_eq(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), &o), 0);
    task_check_eq(cio_sleep(0.05), 0); /* the reset has arrived */
    static char chunk[16384];
    int rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++)
        rc = cio_stream_write(s, chunk, sizeof chunk);
    if (rc == 0)
        rc = cio_stream_drain(s);
    task_check(rc == -EPIPE || rc == -ECONNRESET);
    cio_stream_close(s);
    task_check_eq(cio_server_shutdown(srv, 5), 0);
    cio_tls_ctx_free(cctx);
    return 0;
}

static void test_write_to_gone_peer(void **state)
{
    (void)state;
    assert_ok(run_real(write_to_gone, NULL));
}

/* Many TLS connections at once on one loop: each handshake, read and
 * write interleaves with the others' (OpenSSL's per-thread error queue
 * must not leak between them). */
struct tls_many {
    cio_tls_ctx *ctx;
    int port;
    int ok;
};

static int tls_many_client(void *arg)
{
    struct tls_many *m = arg;
    cio_stream *s;
    cio_connect_options o = {.tls = m->ctx, .server_hostname = "localhost", .timeout = 20};
    task_check_eq(cio_open_connection(&s, "127.0.0.1", m->port, &o), 0);
    static char out[10000];
    char in[10000];
    task_check_eq(cio_stream_send(s, out, sizeof out), 0);
    task_check_eq(cio_stream_readexactly(s, in, sizeof in), (long long)sizeof in);
    task_check_eq(cio_stream_close(s), 0);
    m->ok++;
    return 0;
}

static int tls_many(void *arg)
{
    (void)arg;
    struct tls_many m = {0};
    task_check_eq(cio_tls_client_ctx_new(&m.ctx, &(cio_tls_options){.ca_file = ca}), 0);
    cio_server *srv;
    task_check_eq(start_good_server(&srv, tls_echo, NULL), 0);
    m.port = cio_server_port(srv);
    enum { N = 100 };
    cio_task t[N];
    for (int i = 0; i < N; i++)
        t[i] = cio_spawn(tls_many_client, &m);
    int failed = 0;
    for (int i = 0; i < N; i++)
        failed += cio_join(t[i]) != 0;
    task_check_eq(failed, 0);
    task_check_eq(m.ok, N);
    task_check_eq(cio_server_shutdown(srv, 2), 0);
    cio_tls_ctx_free(m.ctx);
    return 0;
}

static void test_many_concurrent_connections(void **state)
{
    (void)state;
    assert_ok(run_real(tls_many, NULL));
}

/* Client certificates: a server with verify_client learns who connected,
 * and refuses a client without a certificate. */
static int whoami(cio_stream *s, void *arg)
{
    (void)arg;
    char subject[128], line[160];
    int n = cio_stream_peer_subject(s, subject, sizeof subject);
    if (n < 0)
        return n;
    n = snprintf(line, sizeof line, "hello %s\n", subject);
    return cio_stream_send(s, line, (size_t)n);
}

static int client_certs(void *arg)
{
    (void)arg;
    cio_tls_ctx *sctx, *with, *without;
    cio_tls_options so = {
        .cert_file = good_crt, .key_file = good_key, .ca_file = ca, .verify_client = true};
    task_check_eq(cio_tls_server_ctx_new(&sctx, &so), 0);
    cio_tls_options co = {.ca_file = ca, .cert_file = client_crt, .key_file = client_key};
    task_check_eq(cio_tls_client_ctx_new(&with, &co), 0);
    task_check_eq(cio_tls_client_ctx_new(&without, &(cio_tls_options){.ca_file = ca}), 0);
    cio_server *srv;
    cio_server_options o = {.tls = sctx};
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, whoami, NULL, &o), 0);
    cio_stream *s;
    cio_connect_options c = {.tls = with, .server_hostname = "localhost"};
    task_check_eq(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), &c), 0);
    char line[160], subject[128];
    ssize_t n = cio_stream_readline(s, line, sizeof line);
    task_check_eq(n, 20);
    task_check(memcmp(line, "hello CN=cio-client\n", 20) == 0);
    /* The client sees the server's subject too. */
    task_check(cio_stream_peer_subject(s, subject, sizeof subject) > 0);
    task_check(strcmp(subject, "CN=localhost") == 0);
    task_check_eq(cio_stream_peer_subject(s, subject, 4), -ENOBUFS);
    task_check_eq(cio_stream_close(s), 0);
    /* Without a certificate: TLS 1.3 finishes the client's handshake
     * first, so the refusal arrives as an alert on the first read. */
    c.tls = without;
    int rc = cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), &c);
    if (rc == 0) {
        rc = (int)cio_stream_readline(s, line, sizeof line);
        task_check(strstr(cio_stream_error_detail(s), "certificate required") != NULL);
        cio_stream_close(s);
    }
    task_check(rc == CIO_ETLS || rc == -ECONNRESET);
    task_check_eq(cio_server_shutdown(srv, 2), 0);
    cio_tls_ctx_free(sctx);
    cio_tls_ctx_free(with);
    cio_tls_ctx_free(without);
    return 0;
}

static void test_client_certificates(void **state)
{
    (void)state;
    assert_ok(run_real(client_certs, NULL));
}

static void test_context_errors(void **state)
{
    (void)state;
    cio_tls_ctx *c;
    assert_int_equal(cio_tls_server_ctx_new(&c, NULL), -EINVAL); /* needs a certificate */
    assert_int_equal(cio_tls_server_ctx_new(
                         &c, &(cio_tls_options){.cert_file = "/nonexistent", .key_file = good_key}),
                     -ENOENT);
    /* A key that does not match the certificate. */
    assert_int_equal(cio_tls_server_ctx_new(
                         &c, &(cio_tls_options){.cert_file = good_crt, .key_file = rogue_key}),
                     CIO_ETLS);
    assert_int_equal(cio_tls_client_ctx_new(&c, &(cio_tls_options){.alpn = "h2,,x"}), -EINVAL);
    /* The system store loads. */
    assert_int_equal(cio_tls_client_ctx_new(&c, NULL), 0);
    cio_tls_ctx_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_certificate),
        cmocka_unit_test(test_ip_address_certificate),
        cmocka_unit_test(test_ip_address_certificate_ipv6),
        cmocka_unit_test(test_expired_certificate),
        cmocka_unit_test(test_wrong_host),
        cmocka_unit_test(test_unknown_ca),
        cmocka_unit_test(test_start_tls),
        cmocka_unit_test(test_handshake_timeout),
        cmocka_unit_test(test_close_during_handshake),
        cmocka_unit_test(test_shutdown_timeout),
        cmocka_unit_test(test_ragged_eof),
        cmocka_unit_test(test_write_to_gone_peer),
        cmocka_unit_test(test_many_concurrent_connections),
        cmocka_unit_test(test_client_certificates),
        cmocka_unit_test(test_context_errors),
    };
    return cmocka_run_group_tests(tests, make_certs, remove_certs);
}
