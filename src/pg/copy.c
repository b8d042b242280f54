/* COPY: FROM STDIN for bulk loads (asyncpg's copy_records_to_table, and a
 * low-level writer), TO STDOUT for export, with backpressure on the socket
 * in both directions. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/internal.h"

/* Data bytes per CopyData message: with its 5-byte header, 64 KiB. libpq
 * writes a message of 8 KiB or more at once; at 64 KiB that is four full
 * 16 KiB TLS records, and no fifth, tiny one for the server to read and
 * decrypt on its own. */
#define COPY_CHUNK (64 * 1024 - 5)

struct cio_pg_copy {
    cio_pg_conn *c;
};

/* Reads the results after a COPY ends: rows copied, or the error. */
static int copy_result(cio_pg_conn *c)
{
    int rows = 0, err = 0;
    for (;;) {
        PGresult *r;
        int rc = cio__pg_next_result(c, &r);
        if (rc)
            return cio__pg_abort(c, rc);
        if (!r)
            break;
        if (PQresultStatus(r) == PGRES_COMMAND_OK) {
            const char *n = PQcmdTuples(r);
            rows = *n ? atoi(n) : 0;
        } else if (!err) {
            err = cio__pg_result_error(c, r);
        }
        PQclear(r);
    }
    return err ? err : rows;
}

/* Sends sql and waits for the server to enter the COPY state `want`. */
static int copy_start(cio_pg_conn *c, const char *sql, ExecStatusType want)
{
    if (!PQsendQuery(c->pg, sql))
        return cio__pg_conn_lost(c);
    PGresult *r;
    int rc = cio__pg_next_result(c, &r);
    if (rc)
        return cio__pg_abort(c, rc);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == want) {
        PQclear(r);
        return 0;
    }
    if (st == PGRES_FATAL_ERROR) {
        rc = cio__pg_result_error(c, r);
    } else {
        cio__pg_set_error(c, NULL, "ERROR", "statement is not the expected COPY", NULL, NULL);
        rc = CIO_PG_EPROTO;
    }
    PQclear(r);
    int drc = cio__pg_drain(c);
    return drc < 0 && rc != CIO_PG_ECONN ? drc : rc;
}

int cio_pg_copy_in(cio_pg_conn *c, const char *sql, cio_pg_copy **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!sql)
        return -EINVAL;
    cio_pg_copy *cp = malloc(sizeof *cp);
    if (!cp)
        return -ENOMEM;
    int rc = cio__pg_begin(c);
    if (rc == 0) {
        rc = copy_start(c, sql, PGRES_COPY_IN);
        cio__pg_end(c);
    }
    if (rc) {
        free(cp);
        return rc;
    }
    cp->c = c;
    c->streaming = true;
    c->copy = cp;
    *out = cp;
    return 0;
}

static int put(cio_pg_conn *c, const void *data, size_t len)
{
    while (len > 0) {
        int n = len > COPY_CHUNK ? COPY_CHUNK : (int)len;
        int r = PQputCopyData(c->pg, data, n);
        if (r < 0)
            return cio__pg_conn_lost(c);
        if (r == 0) { /* libpq's buffer is full: let the socket drain */
            int rc = cio__pg_flush(c);
            if (rc)
                return rc;
            continue;
        }
        data = (const char *)data + n;
        len -= (size_t)n;
        if (PQflush(c->pg) == 1) {
            int rc = cio__pg_flush(c);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int cio_pg_copy_write(cio_pg_copy *cp, const void *data, size_t len)
{
    if (!cp || (!data && len))
        return -EINVAL;
    cio_pg_conn *c = cp->c;
    if (!c)
        return CIO_PG_ESTATE; /* its connection went back to the pool */
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc)
        return rc;
    if (c->user)
        return CIO_PG_EBUSY;
    c->user = t;
    rc = put(c, data, len);
    c->user = NULL;
    return rc;
}

/* Ends the COPY on the server: commits it, or aborts it with `why` (not
 * NULL), and returns the rows copied or the error. rc is the caller's
 * interruption, if any: the COPY is aborted then, with a bounded wait. In a
 * shield; unties cp from its connection. */
static int finish(cio_pg_copy *cp, struct cio__task *t, const char *why, int rc)
{
    cio_pg_conn *c = cp->c;
    cio_scope shield = {0};
    cio_shield_enter(&shield);
    c->user = t;
    if (c->broken) {
        rc = CIO_PG_ECONN;
    } else {
        if (rc)
            why = "COPY interrupted";
        if (PQputCopyEnd(c->pg, why) < 0) {
            rc = cio__pg_conn_lost(c);
        } else {
            cio_scope limit = {0};
            cio_timeout_enter(&limit, rc || why ? 10.0 : INFINITY);
            int f = cio__pg_flush(c);
            int r = f ? f : copy_result(c);
            cio_scope_exit(&limit);
            if (r < 0 && f)
                c->broken = true;
            if (!rc)
                rc = r;
        }
    }
    c->user = NULL;
    c->streaming = false;
    c->copy = NULL;
    cp->c = NULL;
    cio_scope_exit(&shield);
    return rc;
}

void cio__pg_copy_detach(cio_pg_copy *cp)
{
    cio_pg_conn *c = cp->c;
    struct cio__task *t = cio__self();
    if (!t || c->user) {
        c->broken = true; /* the server still waits for COPY data */
        c->streaming = false;
        c->copy = NULL;
        cp->c = NULL;
        return;
    }
    finish(cp, t, "COPY abandoned: its connection was released to the pool", 0);
}

int cio_pg_copy_end(cio_pg_copy *cp, const char *error_message)
{
    if (!cp)
        return -EINVAL;
    cio_pg_conn *c = cp->c;
    if (!c) { /* its connection went back to the pool: aborted then */
        free(cp);
        return CIO_PG_ESTATE;
    }
    struct cio__task *t = cio__self();
    if (!t)
        return cio__tls_loop ? CIO_ENOTTASK : CIO_ENOLOOP;
    if (c->user)
        return CIO_PG_EBUSY;
    /* Ending the COPY is cleanup: it runs even in a cancelled task (an
     * interrupted caller gets the COPY aborted, not committed). */
    int rc = finish(cp, t, error_message, cio__interrupted(t));
    free(cp);
    return rc;
}

/* "(a, b)" for the column list, "" when columns is NULL; malloc'd. */
static char *column_list(const char *const *columns, int ncols)
{
    size_t cap = 4;
    for (int i = 0; columns && i < ncols; i++)
        cap += 2 * strlen(columns[i]) + 4;
    char *out = malloc(cap), *p = out;
    if (!out)
        return NULL;
    *p = 0;
    for (int i = 0; columns && i < ncols; i++) {
        char *q = cio__pg_quote_ident(columns[i]);
        if (!q) {
            free(out);
            return NULL;
        }
        p += sprintf(p, "%s%s", i ? ", " : "(", q);
        free(q);
    }
    if (columns)
        strcpy(p, ")");
    return out;
}

/* Whether every value can go in COPY's binary format: then the server
 * parses nothing (asyncpg's copy_records_to_table does the same). Needs
 * the columns' types, from a zero-row SELECT (cached like any statement). */
static bool binary_ok(cio_pg_conn *c, const char *qt, const char *cols, int ncols,
                      const cio_pg_arg *args, int nrows, uint32_t *types)
{
    size_t n = strlen(qt) + strlen(cols) + 48;
    char *sql = malloc(n);
    if (!sql)
        return false;
    /* "(a, b)" reads as a row constructor: select the columns themselves. */
    snprintf(sql, n, "SELECT %.*s FROM %s LIMIT 0", cols[0] ? (int)strlen(cols) - 2 : 1,
             cols[0] ? cols + 1 : "*", qt);
    PGresult *r = NULL;
    bool ok = cio__pg_begin(c) == 0;
    if (ok) {
        ok = cio__pg_query(c, sql, NULL, 0, &r) == 0 && r && PQnfields(r) == ncols;
        cio__pg_end(c);
    }
    free(sql);
    for (int k = 0; ok && k < ncols; k++) {
        uint32_t t = types[k] = PQftype(r, k);
        for (int i = 0; ok && i < nrows; i++)
            ok = cio__pg_binary_copy_ok(&args[(size_t)i * (size_t)ncols + (size_t)k], t);
    }
    PQclear(r);
    return ok;
}

int cio_pg_copy_records(cio_pg_conn *c, const char *table, const char *const *columns, int ncols,
                        const cio_pg_arg *args, int nrows)
{
    if (!c)
        return -EINVAL;
    if (!table || ncols <= 0 || nrows < 0 || (nrows && !args))
        return cio__pg_invalid(c, -1, "table is NULL, ncols not positive, or no args for the rows");
    if (cio__pg_check_args(c, NULL, args, ncols, nrows) < 0)
        return -EINVAL;
    char *qt = cio__pg_quote_ident(table);
    char *cols = column_list(columns, ncols);
    size_t n = (qt ? strlen(qt) : 0) + (cols ? strlen(cols) : 0) + 48;
    char *sql = malloc(n);
    uint32_t *types = malloc((size_t)ncols * sizeof *types);
    if (!qt || !cols || !sql || !types) {
        free(qt);
        free(cols);
        free(sql);
        free(types);
        return -ENOMEM;
    }
    bool binary = nrows > 0 && binary_ok(c, qt, cols, ncols, args, nrows, types);
    snprintf(sql, n, "COPY %s %s FROM STDIN%s", qt, cols, binary ? " (FORMAT binary)" : "");
    free(qt);
    free(cols);
    cio_pg_copy *cp;
    int rc = cio_pg_copy_in(c, sql, &cp);
    free(sql);
    if (rc) {
        free(types);
        return rc;
    }
    char *buf = NULL;
    size_t blen = 0, bcap = 0;
    if (binary)
        rc = cio__pg_copy_binary_header(&buf, &blen, &bcap);
    for (int i = 0; i < nrows && rc == 0; i++) {
        const cio_pg_arg *row = args + (size_t)i * (size_t)ncols;
        rc = binary ? cio__pg_copy_binary_row(&buf, &blen, &bcap, row, ncols, types)
                    : cio__pg_copy_text_row(&buf, &blen, &bcap, row, ncols);
        if (rc == 0 && binary && i + 1 == nrows)
            rc = cio__pg_copy_binary_trailer(&buf, &blen, &bcap);
        if (rc == 0 && i + 1 == nrows) {
            rc = cio_pg_copy_write(cp, buf, blen);
        } else if (rc == 0 && blen >= COPY_CHUNK) {
            /* A full message; the rest (part of a row) starts the next. */
            rc = cio_pg_copy_write(cp, buf, COPY_CHUNK);
            blen -= COPY_CHUNK;
            memmove(buf, buf + COPY_CHUNK, blen);
        }
    }
    free(buf);
    free(types);
    int end = cio_pg_copy_end(cp, rc ? "cio_pg_copy_records failed" : NULL);
    return rc ? rc : end;
}

int cio_pg_copy_out(cio_pg_conn *c, const char *sql,
                    int (*sink)(void *ctx, const char *data, size_t len), void *ctx)
{
    if (!sql || !sink)
        return -EINVAL;
    int rc = cio__pg_begin(c);
    if (rc)
        return rc;
    rc = copy_start(c, sql, PGRES_COPY_OUT);
    while (rc == 0) {
        char *buf;
        int n = PQgetCopyData(c->pg, &buf, 1);
        if (n > 0) {
            int s = sink(ctx, buf, (size_t)n);
            PQfreemem(buf);
            if (s < 0) {
                rc = cio__pg_abort(c, s);
                break;
            }
        } else if (n == 0) {
            if ((rc = cio__pg_pump(c)) != 0)
                rc = cio__pg_abort(c, rc);
        } else if (n == -1) {
            rc = copy_result(c);
            break;
        } else {
            rc = cio__pg_conn_lost(c);
        }
    }
    cio__pg_end(c);
    return rc;
}
