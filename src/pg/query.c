/* Queries: execute, fetch, fetchrow, fetchval, on the extended protocol
 * with cached prepared statements (or unnamed ones when the cache is off),
 * and the simple protocol for parameterless commands. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pg/internal.h"

int cio__pg_send(cio_pg_conn *c, const char *sql, const cio_pg_arg *args, int nargs,
                 bool single_row)
{
    struct cio__pg_params p;
    int rc = cio__pg_params_init(&p, args, nargs);
    if (rc)
        return rc;
    int ok;
    if (c->no_cache) {
        if ((rc = cio__pg_params_fill(&p, args, nargs)) != 0) {
            cio__pg_params_free(&p);
            return rc;
        }
        ok = PQsendQueryParams(c->pg, sql, nargs, p.oids, p.values, p.lengths, p.formats, 0);
    } else {
        struct cio__pg_stmt *s;
        rc = cio__pg_stmt_get(c, sql, p.oids, nargs, &s);
        if (rc) {
            cio__pg_params_free(&p);
            return rc;
        }
        if ((rc = cio__pg_params_fill(&p, args, nargs)) != 0) {
            cio__pg_params_free(&p);
            return rc;
        }
        ok = PQsendQueryPrepared(c->pg, s->name, nargs, p.values, p.lengths, p.formats,
                                 s->result_format);
    }
    cio__pg_params_free(&p);
    if (!ok)
        return cio__pg_conn_lost(c);
    if (single_row && !PQsetSingleRowMode(c->pg))
        return cio__pg_abort(c, CIO_PG_EPROTO);
    return 0;
}

/* Reads the results of one command: keeps the last successful one, records
 * the first error.
 *
 * Interrupted (a timeout, a cancellation) while it waits, it sends a cancel
 * request and reads on, shielded and bounded: if the statement had already
 * completed, its result is returned as if nothing had happened (asyncio's
 * wait_for does the same when the awaited finished first), so the caller
 * never hears "timed out" about a write the database did keep. Otherwise
 * the server stopped it (57014) and the interruption is returned. */
static int collect(cio_pg_conn *c, PGresult **out)
{
    PGresult *last = NULL;
    int err = 0, why = 0;
    cio_scope shield = {0};
    struct cio__pg_stopping stop;
    for (;;) {
        PGresult *r;
        int rc = cio__pg_next_result(c, &r);
        if (rc && !why && !c->broken && (rc == -ETIMEDOUT || rc == -ECANCELED)) {
            why = rc;
            cio_shield_enter(&shield);
            rc = cio__pg_cancel_request(c);
            cio__pg_stopping_enter(&stop);
            if (rc == 0)
                continue;
            c->broken = true;
        } else if (rc == -ETIMEDOUT && why && cio__pg_stopping_again(&stop, c)) {
            continue;
        }
        if (rc || c->broken) {
            if (why) {
                cio__pg_stopping_exit(&stop);
                cio_scope_exit(&shield);
                c->broken = true; /* the cleanup itself failed */
                rc = why;
            }
            PQclear(last);
            return cio__pg_abort(c, rc);
        }
        if (!r)
            break;
        switch (PQresultStatus(r)) {
        case PGRES_TUPLES_OK:
        case PGRES_COMMAND_OK:
        case PGRES_EMPTY_QUERY:
            PQclear(last);
            last = r;
            break;
        case PGRES_COPY_IN:
        case PGRES_COPY_OUT:
        case PGRES_COPY_BOTH:
            PQclear(r);
            PQclear(last);
            cio__pg_set_error(c, NULL, "ERROR", "COPY needs cio_pg_copy_in() or cio_pg_copy_out()",
                              NULL, NULL);
            rc = cio__pg_abort(c, CIO_PG_EPROTO);
            if (why) {
                cio__pg_stopping_exit(&stop);
                cio_scope_exit(&shield);
            }
            return rc;
        default:
            if (!err)
                err = cio__pg_result_error(c, r);
            PQclear(r);
        }
    }
    if (why) {
        cio__pg_stopping_exit(&stop);
        cio_scope_exit(&shield);
        if (err || !last) {
            PQclear(last);
            cio__pg_set_error(c, "57014", "ERROR",
                              why == -ETIMEDOUT ? "query timed out and was cancelled"
                                                : "query cancelled",
                              NULL, NULL);
            return why;
        }
    }
    if (err) {
        PQclear(last);
        return err;
    }
    *out = last;
    return 0;
}

int cio__pg_query(cio_pg_conn *c, const char *sql, const cio_pg_arg *args, int nargs,
                  PGresult **out)
{
    *out = NULL;
    for (int attempt = 0;; attempt++) {
        int rc = cio__pg_send(c, sql, args, nargs, false);
        if (rc == 0)
            rc = collect(c, out);
        if (rc == CIO_PG_ESERVER && attempt == 0 && !c->no_cache && cio__pg_stmt_stale(c) &&
            PQtransactionStatus(c->pg) == PQTRANS_IDLE) {
            cio__pg_stmt_reset(c);
            if (cio__pg_simple(c, "DEALLOCATE ALL") >= 0)
                continue;
        }
        return rc;
    }
}

static int affected(const PGresult *r)
{
    const char *n = r ? PQcmdTuples((PGresult *)r) : "";
    return *n ? (int)strtol(n, NULL, 10) : 0;
}

int cio__pg_simple(cio_pg_conn *c, const char *sql)
{
    if (!PQsendQuery(c->pg, sql))
        return cio__pg_conn_lost(c);
    PGresult *r = NULL;
    int rc = collect(c, &r);
    if (rc)
        return rc;
    rc = affected(r);
    PQclear(r);
    return rc;
}

/* The checks of a query's (sql, args, nargs) that need no connection: 0
 * or -EINVAL, explained. cio__pg_check_args() follows cio__pg_begin(), so
 * that a busy connection says so first. */
static int check_query(cio_pg_conn *c, const char *sql, const cio_pg_arg *args, int nargs)
{
    if (!sql)
        return cio__pg_invalid(c, -1, "sql is NULL");
    if (nargs < 0 || (nargs && !args))
        return cio__pg_invalid(c, -1, "args is NULL or nargs negative");
    return 0;
}

int cio_pg_execute(cio_pg_conn *c, const char *sql, const cio_pg_arg *args, int nargs)
{
    if (check_query(c, sql, args, nargs) < 0)
        return -EINVAL;
    int rc = cio__pg_begin(c);
    if (rc)
        return rc;
    if ((rc = cio__pg_check_args(c, sql, args, nargs, 1)) != 0) {
        cio__pg_end(c);
        return rc;
    }
    if (nargs == 0) {
        rc = cio__pg_simple(c, sql);
    } else {
        PGresult *r;
        rc = cio__pg_query(c, sql, args, nargs, &r);
        if (rc == 0) {
            rc = affected(r);
            PQclear(r);
        }
    }
    cio__pg_end(c);
    return rc;
}

/* Runs a query that returns rows; *r is its result on success. */
static int query_rows(cio_pg_conn *c, const char *sql, const cio_pg_arg *args, int nargs,
                      PGresult **r)
{
    if (check_query(c, sql, args, nargs) < 0)
        return -EINVAL;
    int rc = cio__pg_begin(c);
    if (rc)
        return rc;
    rc = cio__pg_check_args(c, sql, args, nargs, 1);
    if (rc == 0)
        rc = cio__pg_query(c, sql, args, nargs, r);
    cio__pg_end(c);
    if (rc)
        return rc;
    return *r ? 0 : CIO_PG_EPROTO;
}

int cio_pg_fetch(cio_pg_conn *c, const char *sql, const cio_pg_arg *args, int nargs,
                 cio_pg_result **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    PGresult *r;
    int rc = query_rows(c, sql, args, nargs, &r);
    if (rc)
        return rc;
    *out = cio__pg_result_wrap(r);
    if (!*out)
        return -ENOMEM;
    return (*out)->nrows;
}

int cio_pg_fetchrow(cio_pg_conn *c, const char *sql, const cio_pg_arg *args, int nargs,
                    cio_pg_result **out)
{
    int rc = cio_pg_fetch(c, sql, args, nargs, out);
    if (rc == 0) {
        cio_pg_result_free(*out);
        *out = NULL;
    }
    if (rc > 1) /* the row asked for, alone, as asyncpg's one Record */
        (*out)->nrows = 1;
    return rc > 1 ? 1 : rc;
}

/* fetch into a result on the caller's stack (fetchval's: no allocation
 * for the wrapper); released with cio__pg_result_release(). */
static int fetch_local(cio_pg_conn *c, const char *sql, const cio_pg_arg *args, int nargs,
                       cio_pg_result *out)
{
    *out = (cio_pg_result){0};
    PGresult *r;
    int rc = query_rows(c, sql, args, nargs, &r);
    if (rc)
        return rc;
    cio__pg_result_rewrap(out, r);
    return out->nrows;
}

/* fetchval: fetch, then read (0, 0) with the given getter. */
#define FETCHVAL(getter)                                                                           \
    cio_pg_result res, *r = &res;                                                                  \
    if (!out)                                                                                      \
        return -EINVAL;                                                                            \
    int rc = fetch_local(c, sql, args, nargs, r);                                                  \
    if (rc < 0)                                                                                    \
        return rc;                                                                                 \
    if (rc == 0 || r->ncols == 0)                                                                  \
        rc = CIO_PG_ENOROWS;                                                                       \
    else                                                                                           \
        rc = getter;                                                                               \
    cio__pg_result_release(r);                                                                     \
    return rc

int cio_pg_fetchval_int64(cio_pg_conn *c, const char *sql, const cio_pg_arg *args, int nargs,
                          int64_t *out)
{
    FETCHVAL(cio_pg_get_int64(r, 0, 0, out));
}

int cio_pg_fetchval_double(cio_pg_conn *c, const char *sql, const cio_pg_arg *args, int nargs,
                           double *out)
{
    FETCHVAL(cio_pg_get_double(r, 0, 0, out));
}

int cio_pg_fetchval_bool(cio_pg_conn *c, const char *sql, const cio_pg_arg *args, int nargs,
                         bool *out)
{
    FETCHVAL(cio_pg_get_bool(r, 0, 0, out));
}

static int text_dup(const cio_pg_result *r, char **out)
{
    const char *s;
    size_t n;
    int rc = cio_pg_get_text(r, 0, 0, &s, &n);
    if (rc)
        return rc;
    *out = malloc(n + 1);
    if (!*out)
        return -ENOMEM;
    memcpy(*out, s, n + 1);
    return 0;
}

int cio_pg_fetchval_text(cio_pg_conn *c, const char *sql, const cio_pg_arg *args, int nargs,
                         char **out)
{
    if (out)
        *out = NULL;
    FETCHVAL(text_dup(r, out));
}
