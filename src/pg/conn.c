/* Connections: non-blocking connect on cio's loop, the operation bracket
 * (one task at a time per connection), error records, and the two waits
 * everything else is built from (pump and next_result). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "pg/internal.h"

#define DEFAULT_CONNECT_TIMEOUT 60.0
#define DEFAULT_CACHE 100

/* ---- errors ------------------------------------------------------------- */

static const char empty[] = "";

void cio__pg_error_reset(cio_pg_error *e, char **buf)
{
    free(*buf);
    *buf = NULL;
    memset(e->sqlstate, 0, sizeof e->sqlstate);
    e->severity = e->message = e->detail = e->hint = empty;
    e->row = -1;
}

void cio__pg_clear_error(cio_pg_conn *c)
{
    cio__pg_error_reset(&c->err, &c->err_buf);
}

/* Copies s without the trailing newline libpq leaves in its messages. */
static char *put(char *p, const char *s, const char **field)
{
    size_t n = s ? strlen(s) : 0;
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        n--;
    if (n)
        memcpy(p, s, n);
    p[n] = 0;
    *field = p;
    return p + n + 1;
}

/* Sets *e (its strings in one block, *buf), keeping its row. */
static void fill(cio_pg_error *e, char **buf, const char *sqlstate, const char *severity,
                 const char *message, const char *detail, const char *hint)
{
    int row = e->row;
    cio__pg_error_reset(e, buf);
    e->row = row;
    size_t n = 4;
    const char *parts[4] = {severity, message, detail, hint};
    for (int i = 0; i < 4; i++)
        n += parts[i] ? strlen(parts[i]) : 0;
    char *p = *buf = malloc(n);
    if (!p) {
        e->message = "out of memory while recording an error";
        return;
    }
    p = put(p, severity, &e->severity);
    p = put(p, message, &e->message);
    p = put(p, detail, &e->detail);
    put(p, hint, &e->hint);
    if (sqlstate)
        snprintf(e->sqlstate, sizeof e->sqlstate, "%s", sqlstate);
}

void cio__pg_set_error(cio_pg_conn *c, const char *sqlstate, const char *severity,
                       const char *message, const char *detail, const char *hint)
{
    fill(&c->err, &c->err_buf, sqlstate, severity, message, detail, hint);
}

void cio__pg_error_copy(cio_pg_error *dst, char **buf, const cio_pg_error *src)
{
    dst->row = src->row;
    fill(dst, buf, src->sqlstate, src->severity, src->message, src->detail, src->hint);
}

int cio__pg_conn_lost(cio_pg_conn *c)
{
    c->broken = true;
    const char *m = c->pg ? PQerrorMessage(c->pg) : NULL;
    cio__pg_set_error(c, NULL, "FATAL", m && *m ? m : "connection to the server was lost", NULL,
                      NULL);
    return CIO_PG_ECONN;
}

int cio__pg_result_error(cio_pg_conn *c, const PGresult *res)
{
    if (!res)
        return cio__pg_conn_lost(c);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (!msg)
        msg = PQresultErrorMessage(res);
    cio__pg_set_error(c, state, PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED), msg,
                      PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL),
                      PQresultErrorField(res, PG_DIAG_MESSAGE_HINT));
    if (PQstatus(c->pg) != CONNECTION_OK || !state ||
        (state[0] == '5' && state[1] == '7' && state[2] == 'P')) {
        /* No SQLSTATE means libpq itself failed (the socket closed); 57P0x
         * is the server shutting the session down. */
        c->broken = true;
        return CIO_PG_ECONN;
    }
    return CIO_PG_ESERVER;
}

const cio_pg_error *cio_pg_conn_error(const cio_pg_conn *c)
{
    static const cio_pg_error none = {"", "", "", "", "", -1};
    return c ? &c->err : &none;
}

bool cio_pg_conn_ok(const cio_pg_conn *c)
{
    return c && c->pg && !c->broken && PQstatus(c->pg) == CONNECTION_OK;
}

bool cio_pg_in_transaction(const cio_pg_conn *c)
{
    if (!c || !c->pg)
        return false;
    PGTransactionStatusType s = PQtransactionStatus(c->pg);
    return s == PQTRANS_INTRANS || s == PQTRANS_INERROR;
}

int cio_pg_backend_pid(const cio_pg_conn *c)
{
    return c && c->pg ? PQbackendPID(c->pg) : 0;
}

int cio_pg_server_version(const cio_pg_conn *c)
{
    return c && c->pg ? PQserverVersion(c->pg) : 0;
}

/* ---- the operation bracket and the waits ---------------------------------- */

int cio__pg_begin(cio_pg_conn *c)
{
    if (!c)
        return -EINVAL;
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc)
        return rc;
    if (c->user || c->streaming)
        return CIO_PG_EBUSY;
    cio__pg_clear_error(c);
    if (c->broken || !c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        c->broken = true;
        cio__pg_set_error(c, NULL, "FATAL", "connection is closed or broken", NULL, NULL);
        return CIO_PG_ECONN;
    }
    c->user = t;
    if (c->command_timeout > 0) {
        c->op_scope = (cio_scope){0};
        c->op_scoped = cio_timeout_enter(&c->op_scope, c->command_timeout) == 0;
    }
    return 0;
}

void cio__pg_end(cio_pg_conn *c)
{
    if (c->op_scoped) {
        cio_scope_exit(&c->op_scope);
        c->op_scoped = false;
    }
    c->user = NULL;
}

/* TLS reads ahead (below): bytes of the server's may then wait in
 * OpenSSL's buffer rather than in the socket, where epoll does not see
 * them. They are there when OpenSSL holds decrypted data, or holds record
 * bytes and the last operation on the socket was not a read that ended in
 * EAGAIN (one that did means only a partial record is left, which more
 * input must complete: the socket then becomes readable). libpq's BIO sets
 * the retry-read flag on EAGAIN and clears the flags on every read and
 * write, so a read of buffered data is tried at most once more than
 * needed, never in a loop. */
static bool tls_buffered(const cio_pg_conn *c)
{
    SSL *ssl = c->ssl;
    return ssl &&
           (SSL_pending(ssl) > 0 || (SSL_has_pending(ssl) && !BIO_should_read(SSL_get_rbio(ssl))));
}

int cio__pg_wait(cio_pg_conn *c, int events)
{
    if ((events & CIO_READABLE) && tls_buffered(c))
        return CIO_READABLE;
    int rc = cio_wait_fd(c->fd, events, -1.0);
    return rc == -EBADF ? cio__pg_conn_lost(c) : rc;
}

int cio__pg_pump(cio_pg_conn *c)
{
    int f = PQflush(c->pg);
    if (f < 0)
        return cio__pg_conn_lost(c);
    int rc = cio__pg_wait(c, CIO_READABLE | (f ? CIO_WRITABLE : 0));
    if (rc < 0)
        return rc;
    if (!PQconsumeInput(c->pg))
        return cio__pg_conn_lost(c);
    return 0;
}

int cio__pg_flush(cio_pg_conn *c)
{
    for (;;) {
        int f = PQflush(c->pg);
        if (f < 0)
            return cio__pg_conn_lost(c);
        if (f == 0)
            return 0;
        int rc = cio__pg_wait(c, CIO_READABLE | CIO_WRITABLE);
        if (rc < 0)
            return rc;
        /* Reading while we write keeps the server from blocking on its
         * own full send buffer (a long pipeline). */
        if ((rc & CIO_READABLE) && !PQconsumeInput(c->pg))
            return cio__pg_conn_lost(c);
    }
}

int cio__pg_next_result(cio_pg_conn *c, PGresult **out)
{
    *out = NULL;
    while (PQisBusy(c->pg)) {
        int rc = cio__pg_pump(c);
        if (rc)
            return rc;
    }
    *out = PQgetResult(c->pg);
    if (!*out && PQstatus(c->pg) != CONNECTION_OK) {
        /* No result because the connection is gone (libpq 15 drops it on
         * a message it cannot take, "lost synchronization with server"):
         * NULL would then come for ever, and a loop waiting for a
         * pipeline's Sync would spin without suspending. The account of a
         * failure already recorded (the server's FATAL message, libpq's
         * error result) is kept. */
        c->broken = true;
        return c->err.message[0] ? CIO_PG_ECONN : cio__pg_conn_lost(c);
    }
    return 0;
}

/* ---- connect and close ------------------------------------------------------ */

static void conn_free(cio_pg_conn *c)
{
    if (c->pg) {
        if (c->fd >= 0 && cio__tls_loop)
            cio_forget_fd(c->fd);
        PQfinish(c->pg);
    }
    cio__pg_stmt_free_all(c);
    free(c->err_buf);
    free(c);
}

static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int connect_poll(cio_pg_conn *c)
{
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    for (;;) {
        if (st == PGRES_POLLING_OK)
            return 0;
        if (st == PGRES_POLLING_FAILED)
            return cio__pg_conn_lost(c);
        int fd = PQsocket(c->pg);
        if (fd < 0)
            return cio__pg_conn_lost(c);
        int rc = cio_wait_fd(fd, st == PGRES_POLLING_READING ? CIO_READABLE : CIO_WRITABLE, -1.0);
        /* libpq may close this socket and open another one (next host, SSL
         * fallback) inside PQconnectPoll, possibly with the same number:
         * cio must not keep interest in it. */
        cio_forget_fd(fd);
        if (rc < 0)
            return rc;
        st = PQconnectPoll(c->pg);
    }
}

/* The connect_timeout libpq would apply to pg (from the connection
 * string, a service file or PGCONNECT_TIMEOUT), in seconds as libpq reads
 * it (a whole number, at least 2); 0 when there is none. libpq applies it
 * only in its blocking connect, never in PQconnectPoll. */
static double libpq_connect_timeout(PGconn *pg)
{
    PQconninfoOption *opts = PQconninfo(pg);
    long t = 0;
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (strcmp(o->keyword, "connect_timeout") == 0 && o->val) {
            char *end;
            t = strtol(o->val, &end, 10);
            if (end == o->val || *end)
                t = 0;
        }
    }
    PQconninfoFree(opts);
    return t <= 0 ? 0 : t < 2 ? 2 : (double)t;
}

/* Starts the connection (a host name looked up first) and drives it to
 * the end of the handshake; with use_libpq_timeout, within libpq's
 * connect_timeout if there is one. */
static int start_and_poll(cio_pg_conn *c, const char *dsn, bool use_libpq_timeout)
{
    c->pg = cio__pg_start(dsn, c);
    if (!c->pg)
        return c->lookup_error ? c->lookup_error : -ENOMEM;
    /* NOTICEs (DROP ... IF EXISTS) are not errors: libpq would print them
     * on stderr. */
    PQsetNoticeProcessor(c->pg, quiet_notice, NULL);
    if (PQstatus(c->pg) == CONNECTION_BAD)
        return cio__pg_conn_lost(c);
    double t = use_libpq_timeout ? libpq_connect_timeout(c->pg) : 0;
    if (t <= 0)
        return connect_poll(c);
    cio_scope limit = {0};
    cio_timeout_enter(&limit, t);
    int rc = connect_poll(c);
    cio_scope_exit(&limit);
    return rc;
}

int cio_pg_connect(const char *dsn, const cio_pg_options *opts, cio_pg_conn **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    cio_pg_options o = opts ? *opts : (cio_pg_options){0};
    if (!dsn || o.connect_timeout != o.connect_timeout || o.command_timeout != o.command_timeout ||
        o.statement_cache_size < 0)
        return -EINVAL;
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc)
        return rc;
    cio_pg_conn *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->fd = -1;
    c->no_cache = o.no_statement_cache;
    c->command_timeout = o.command_timeout > 0 ? o.command_timeout : 0;
    c->cache_cap = o.statement_cache_size > 0 ? o.statement_cache_size : DEFAULT_CACHE;
    cio__list_init(&c->link);
    cio__pg_clear_error(c);
    /* One deadline for the lookup, TCP, TLS and authentication. */
    double limit = o.connect_timeout == 0 ? DEFAULT_CONNECT_TIMEOUT : o.connect_timeout;
    {
        CIO_TIMEOUT(deadline, limit < 0 ? INFINITY : limit);
        rc = start_and_poll(c, dsn, o.connect_timeout == 0);
    }
    if (rc == -ENOMEM && !c->pg) {
        free(c->err_buf);
        free(c);
        return -ENOMEM;
    }
    *out = c;
    if (rc == -ETIMEDOUT || rc == -ECANCELED)
        cio__pg_set_error(c, NULL, "FATAL",
                          rc == -ETIMEDOUT ? "timed out while connecting" : "connect cancelled",
                          NULL, NULL);
    if (rc) {
        c->broken = true;
        return rc;
    }
    if (PQsetnonblocking(c->pg, 1) != 0)
        return cio__pg_conn_lost(c);
    c->fd = PQsocket(c->pg);
    /* Over TLS, OpenSSL reads a record's 5-byte header and then its body:
     * two reads of the socket per reply. Reading ahead takes whatever has
     * arrived in one (cio__pg_wait() then looks in OpenSSL's buffer before
     * it waits for the socket). */
    if (PQsslInUse(c->pg) && (c->ssl = PQsslStruct(c->pg, "OpenSSL")) != NULL)
        SSL_set_read_ahead(c->ssl, 1);
    c->created_ns = c->idle_since_ns = cio_time_ns();
    return 0;
}

int cio_pg_close(cio_pg_conn *c)
{
    if (!c)
        return 0;
    if (c->pool)
        return -EINVAL;
    if (c->user || c->streaming)
        return CIO_PG_EBUSY; /* freeing it would pull it from under its user */
    conn_free(c);
    return 0;
}

/* Closes a pooled connection (pool.c has unlinked it). */
void cio__pg_conn_destroy(cio_pg_conn *c)
{
    conn_free(c);
}
