/* executemany through libpq's pipeline mode: every row's Bind/Execute is
 * queued behind the previous one and a single Sync ends the batch, so the
 * whole batch costs one round trip and runs as one implicit transaction
 * (asyncpg's executemany is atomic too). Results are read while sending so
 * neither side's buffers fill up. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pg/internal.h"

struct batch {
    int sent, done; /* queries queued, queries whose results were read */
    int affected;
    int err;
};

static void take(cio_pg_conn *c, struct batch *b, PGresult *r)
{
    if (!r) {
        b->done++;
        return;
    }
    switch (PQresultStatus(r)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK: {
        const char *n = PQcmdTuples(r);
        b->affected += *n ? atoi(n) : 0;
        break;
    }
    case PGRES_PIPELINE_ABORTED:
    case PGRES_PIPELINE_SYNC:
        break;
    default:
        if (!b->err) {
            c->err.row = b->done;
            b->err = cio__pg_result_error(c, r);
            c->err.row = b->done;
        }
    }
    PQclear(r);
}

/* Reads the results that have already arrived, without waiting. */
static int read_ready(cio_pg_conn *c, struct batch *b)
{
    if (PQflush(c->pg) < 0 || !PQconsumeInput(c->pg))
        return cio__pg_conn_lost(c);
    while (b->done < b->sent && !PQisBusy(c->pg))
        take(c, b, PQgetResult(c->pg));
    return 0;
}

/* The oid of each column: the first non-NULL value's; later rows must
 * agree. */
static int column_oids(const cio_pg_arg *args, int nargs, int nrows, uint32_t *oids)
{
    for (int k = 0; k < nargs; k++) {
        oids[k] = 0;
        for (int i = 0; i < nrows; i++) {
            const cio_pg_arg *a = &args[(size_t)i * (size_t)nargs + (size_t)k];
            if (a->kind_ == CIO__PG_K_NULL)
                continue;
            if (!oids[k])
                oids[k] = a->oid_;
            else if (a->oid_ != oids[k])
                return -EINVAL;
        }
    }
    return 0;
}

static int run(cio_pg_conn *c, const char *sql, const cio_pg_arg *args, int nargs, int nrows,
               struct cio__pg_params *p)
{
    PGconn *pg = c->pg;
    int rc = column_oids(args, nargs, nrows, p->oids);
    if (rc)
        return rc;
    struct cio__pg_stmt *s = NULL;
    if (!c->no_cache && (rc = cio__pg_stmt_get(c, sql, p->oids, nargs, &s)) != 0)
        return rc;
    if (PQenterPipelineMode(pg) != 1)
        return cio__pg_conn_lost(c);
    struct batch b = {0};
    for (int i = 0; i < nrows; i++) {
        const cio_pg_arg *row = args + (size_t)i * (size_t)nargs;
        cio__pg_params_fill(p, row, nargs);
        int ok =
            s ? PQsendQueryPrepared(pg, s->name, nargs, p->values, p->lengths, p->formats, 0)
              : PQsendQueryParams(pg, sql, nargs, p->oids, p->values, p->lengths, p->formats, 0);
        if (!ok)
            return cio__pg_abort(c, cio__pg_conn_lost(c));
        b.sent++;
        if ((i & 255) == 255) {
            if ((rc = read_ready(c, &b)) != 0)
                return cio__pg_abort(c, rc);
            if (PQflush(pg) == 1 && (rc = cio__pg_flush(c)) != 0)
                return cio__pg_abort(c, rc);
            if ((rc = cio_check()) != 0)
                return cio__pg_abort(c, rc);
        }
    }
    if (PQpipelineSync(pg) != 1)
        return cio__pg_abort(c, cio__pg_conn_lost(c));
    for (;;) {
        PGresult *r;
        if ((rc = cio__pg_next_result(c, &r)) != 0)
            return cio__pg_abort(c, rc);
        if (r && PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        take(c, &b, r);
    }
    if (PQexitPipelineMode(pg) != 1)
        return cio__pg_abort(c, cio__pg_conn_lost(c));
    return b.err ? b.err : b.affected;
}

int cio_pg_executemany(cio_pg_conn *c, const char *sql, const cio_pg_arg *args, int nargs,
                       int nrows)
{
    if (!sql || nargs < 0 || nrows < 0 || (nargs && nrows && !args))
        return -EINVAL;
    int rc = cio__pg_begin(c);
    if (rc)
        return rc;
    if (nrows > 0) {
        struct cio__pg_params p;
        rc = cio__pg_params_init(&p, args, nargs);
        if (rc == 0) {
            rc = run(c, sql, args, nargs, nrows, &p);
            cio__pg_params_free(&p);
        }
    }
    cio__pg_end(c);
    return rc;
}
