/* Streaming a query's rows to a task (asyncpg's cursor iteration): libpq's
 * single-row mode (rows handed over as they arrive, no transaction) or a
 * server-side cursor fetched in batches. Either way at most one batch is in
 * memory and TCP flow control makes a slow consumer slow the server down. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/internal.h"

#define CLEANUP_WAIT 10.0 /* seconds the cursor's CLOSE may take when a stream ends */

struct cio_pg_stream {
    cio_pg_conn *c;
    cio_pg_result rows;
    int batch;
    bool cursor;              /* server-side cursor mode */
    bool own_tx;              /* the stream opened the transaction the cursor lives in */
    bool done;                /* no more rows (or failed) */
    bool pending;             /* single-row mode: results still to read */
    int chunk_rows, next_row; /* cio_pg_stream_row()'s place in the chunk */
    char name[32];
};

/* Claims the stream's connection for one step. */
static int step_begin(cio_pg_stream *st)
{
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc)
        return rc;
    cio_pg_conn *c = st->c;
    if (c->user)
        return CIO_PG_EBUSY;
    c->user = t;
    if (c->command_timeout > 0) {
        c->op_scope = (cio_scope){0};
        c->op_scoped = cio_timeout_enter(&c->op_scope, c->command_timeout) == 0;
    }
    return 0;
}

int cio_pg_stream_open(cio_pg_conn *c, const char *sql, const cio_pg_arg *args, int nargs,
                       int batch, cio_pg_stream **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!sql)
        return cio__pg_invalid(c, -1, "sql is NULL");
    if (nargs < 0 || (nargs && !args))
        return cio__pg_invalid(c, -1, "args is NULL or nargs negative");
    cio_pg_stream *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    int rc = cio__pg_begin(c);
    if (rc == 0 && (rc = cio__pg_check_args(c, sql, args, nargs, 1)) != 0)
        cio__pg_end(c);
    if (rc) {
        free(st);
        return rc;
    }
    st->c = c;
    st->batch = batch;
    if (batch <= 1) {
        rc = cio__pg_send(c, sql, args, nargs, true);
        st->pending = rc == 0;
    } else {
        static _Thread_local unsigned next_cursor;
        st->cursor = true;
        snprintf(st->name, sizeof st->name, "cio_cur_%u", ++next_cursor);
        if (!cio_pg_in_transaction(c)) {
            rc = cio__pg_simple(c, "BEGIN");
            st->own_tx = rc >= 0;
        }
        if (rc >= 0) {
            size_t n = strlen(sql) + 64;
            char *decl = malloc(n);
            if (!decl) {
                rc = -ENOMEM;
            } else {
                snprintf(decl, n, "DECLARE %s NO SCROLL CURSOR FOR %s", st->name, sql);
                PGresult *r;
                rc = nargs ? cio__pg_query(c, decl, args, nargs, &r)
                           : (cio__pg_simple(c, decl) < 0 ? -1 : 0);
                if (rc == -1)
                    rc = CIO_PG_ESERVER;
                else if (nargs && rc == 0)
                    PQclear(r);
                free(decl);
            }
            if (rc < 0 && st->own_tx && cio_pg_conn_ok(c)) {
                cio_scope sh = {0};
                cio_shield_enter(&sh);
                cio__pg_simple(c, "ROLLBACK");
                cio_scope_exit(&sh);
            }
        }
    }
    cio__pg_end(c);
    if (rc < 0) {
        free(st);
        return rc;
    }
    c->streaming = true;
    c->stream = st;
    *out = st;
    return 0;
}

static int next_single(cio_pg_stream *st, cio_pg_result **rows)
{
    cio_pg_conn *c = st->c;
    for (;;) {
        PGresult *r;
        int rc = cio__pg_next_result(c, &r);
        if (rc) {
            st->done = true;
            st->pending = false;
            return cio__pg_abort(c, rc);
        }
        if (!r) {
            st->done = true;
            st->pending = false;
            return 0;
        }
        switch (PQresultStatus(r)) {
        case PGRES_SINGLE_TUPLE:
            cio__pg_result_rewrap(&st->rows, r);
            *rows = &st->rows;
            return 1;
        case PGRES_TUPLES_OK:
        case PGRES_COMMAND_OK:
            PQclear(r); /* the end marker */
            break;
        default:
            rc = cio__pg_result_error(c, r);
            PQclear(r);
            st->done = true;
            int drc = cio__pg_drain(c);
            st->pending = false;
            return drc < 0 && rc == CIO_PG_ESERVER ? drc : rc;
        }
    }
}

static int next_cursor(cio_pg_stream *st, cio_pg_result **rows)
{
    char sql[64];
    snprintf(sql, sizeof sql, "FETCH %d FROM %s", st->batch, st->name);
    if (!PQsendQuery(st->c->pg, sql))
        return cio__pg_conn_lost(st->c);
    PGresult *last = NULL;
    int err = 0;
    for (;;) {
        PGresult *r;
        int rc = cio__pg_next_result(st->c, &r);
        if (rc) {
            PQclear(last);
            st->done = true;
            return cio__pg_abort(st->c, rc);
        }
        if (!r)
            break;
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            PQclear(last);
            last = r;
        } else {
            if (!err)
                err = cio__pg_result_error(st->c, r);
            PQclear(r);
        }
    }
    if (err || !last) {
        PQclear(last);
        st->done = true;
        return err ? err : CIO_PG_EPROTO;
    }
    cio__pg_result_rewrap(&st->rows, last);
    if (st->rows.nrows == 0)
        st->done = true;
    *rows = &st->rows;
    return st->rows.nrows;
}

int cio_pg_stream_next(cio_pg_stream *st, cio_pg_result **rows)
{
    if (!st || !rows)
        return -EINVAL;
    *rows = NULL;
    if (!st->c)
        return CIO_PG_ESTATE; /* its connection went back to the pool */
    if (st->done)
        return 0;
    int rc = step_begin(st);
    if (rc)
        return rc;
    rc = st->cursor ? next_cursor(st, rows) : next_single(st, rows);
    cio__pg_end(st->c);
    return rc;
}

int cio_pg_stream_row(cio_pg_stream *st, cio_pg_result **rows, int *row)
{
    if (!st || !rows || !row)
        return -EINVAL;
    if (st->next_row >= st->chunk_rows) {
        int n = cio_pg_stream_next(st, rows);
        st->chunk_rows = n > 0 ? n : 0;
        st->next_row = 0;
        if (n <= 0)
            return n;
    }
    *rows = &st->rows;
    *row = st->next_row++;
    return 1;
}

void cio__pg_stream_detach(cio_pg_stream *st)
{
    cio_pg_conn *c = st->c;
    struct cio__task *t = cio__self();
    if (!t || c->user) {
        /* No task to talk to the server in (or an operation of this task's
         * own is under way): a query in flight or an open cursor leaves
         * the session unusable. */
        c->broken = c->broken || st->pending || st->cursor;
    } else if (cio_pg_conn_ok(c)) {
        /* Cleanup runs even in a cancelled task. */
        cio_scope shield = {0};
        cio_shield_enter(&shield);
        c->user = t;
        if (st->pending) {
            cio__pg_abort(c, 0);
        } else if (st->cursor) {
            char sql[96];
            snprintf(sql, sizeof sql, st->own_tx ? "CLOSE %s; COMMIT" : "CLOSE %s", st->name);
            if (st->own_tx && PQtransactionStatus(c->pg) == PQTRANS_INERROR)
                snprintf(sql, sizeof sql, "ROLLBACK");
            else if (PQtransactionStatus(c->pg) == PQTRANS_INERROR)
                sql[0] = 0;
            cio_scope limit = {0};
            cio_timeout_enter(&limit, CLEANUP_WAIT);
            if (sql[0] && cio__pg_simple(c, sql) < 0 && st->own_tx)
                c->broken = true;
            cio_scope_exit(&limit);
        }
        c->user = NULL;
        cio_scope_exit(&shield);
    }
    c->streaming = false;
    c->stream = NULL;
    st->c = NULL;
    st->pending = false;
    st->done = true;
}

int cio_pg_stream_close(cio_pg_stream *st)
{
    if (!st)
        return 0;
    cio_pg_conn *c = st->c;
    int rc = 0;
    if (c) {
        if (c->user && c->user != cio__self())
            return CIO_PG_EBUSY; /* another task is inside cio_pg_stream_next() */
        bool cleaned = cio__self() && !c->user && cio_pg_conn_ok(c);
        cio__pg_stream_detach(st);
        if (cleaned && c->broken)
            rc = CIO_PG_ECONN;
    }
    cio__pg_result_release(&st->rows);
    free(st);
    return rc;
}
