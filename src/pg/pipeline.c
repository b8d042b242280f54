/* executemany through libpq's pipeline mode: every row's Bind/Execute is
 * queued behind the previous one and a single Sync ends the batch, so the
 * whole batch costs one round trip and runs as one implicit transaction
 * (asyncpg's executemany is atomic too). Results are read while sending so
 * neither side's buffers fill up. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <strings.h>
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
 * agree (one statement is prepared for every row). */
static int column_oids(cio_pg_conn *c, const cio_pg_arg *args, int nargs, int nrows, uint32_t *oids)
{
    for (int k = 0; k < nargs; k++) {
        oids[k] = 0;
        for (int i = 0; i < nrows; i++) {
            const cio_pg_arg *a = &args[(size_t)i * (size_t)nargs + (size_t)k];
            if (a->kind_ == CIO__PG_K_NULL)
                continue;
            uint32_t t = cio__pg_arg_type(a);
            if (!oids[k])
                oids[k] = t;
            else if (t != oids[k])
                return cio__pg_invalid(c, i,
                                       "row %d, argument $%d: a value of type %u where the rows "
                                       "before have type %u (a column takes one type in all rows)",
                                       i, k + 1, t, oids[k]);
        }
    }
    return 0;
}

/* JDBC's reWriteBatchedInserts: `INSERT INTO t (...) VALUES ($1, ..., $n)`
 * with nothing after the tuple can carry many rows per statement
 * (`VALUES ($1, $2), ($3, $4), ...`): the server then parses, plans and
 * executes once per chunk instead of once per row, which is where the time
 * of a row-per-statement batch goes. Returns the length of the text before
 * the tuple, or 0 when sql does not have that shape; *values_at is then
 * where the VALUES keyword starts. */
static size_t insert_prefix(const char *sql, int nargs, size_t *values_at)
{
    const char *p = sql;
    while (isspace((unsigned char)*p))
        p++;
    if (nargs <= 0 || strncasecmp(p, "insert", 6) != 0 || !isspace((unsigned char)p[6]))
        return 0;
    /* The last VALUES keyword; no quotes or comments before it that could
     * hide one (identifiers are allowed in double quotes). */
    const char *v = NULL;
    for (const char *q = p; *q; q++) {
        if (*q == '\'' || *q == '-' || *q == '/' || *q == '$')
            break;
        if (strncasecmp(q, "values", 6) == 0 && isspace((unsigned char)q[-1]) &&
            (isspace((unsigned char)q[6]) || q[6] == '('))
            v = q;
    }
    if (!v)
        return 0;
    *values_at = (size_t)(v - sql);
    const char *t = v + 6;
    while (isspace((unsigned char)*t))
        t++;
    size_t prefix = (size_t)(t - sql);
    if (*t++ != '(')
        return 0;
    for (int k = 1; k <= nargs; k++) {
        while (isspace((unsigned char)*t))
            t++;
        char *end;
        if (*t++ != '$' || strtol(t, &end, 10) != k)
            return 0;
        t = end;
        while (isspace((unsigned char)*t))
            t++;
        if (*t++ != (k == nargs ? ')' : ','))
            return 0;
    }
    while (isspace((unsigned char)*t) || *t == ';')
        t++;
    return *t ? 0 : prefix;
}

/* The statement for k rows: the prefix and k tuples of placeholders. */
static char *chunk_sql(const char *sql, size_t prefix, int nargs, int k)
{
    size_t cap = prefix + (size_t)k * (size_t)nargs * 9 + 16;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    memcpy(out, sql, prefix);
    size_t n = prefix;
    int ph = 1;
    for (int r = 0; r < k; r++) {
        out[n++] = r ? ',' : '(';
        if (r)
            out[n++] = '(';
        for (int a = 0; a < nargs; a++)
            n += (size_t)snprintf(out + n, cap - n, a ? ",$%d" : "$%d", ph++);
        out[n++] = ')';
    }
    out[n] = 0;
    return out;
}

struct chunk_stmt {
    char *sql; /* NULL: the caller's sql */
    struct cio__pg_stmt *stmt;
};

static int chunk_prepare(cio_pg_conn *c, const char *sql, size_t prefix, int nargs, int k,
                         const uint32_t *col_oids, uint32_t *oids, struct chunk_stmt *cs)
{
    cs->sql = NULL;
    cs->stmt = NULL;
    if (prefix && !(cs->sql = chunk_sql(sql, prefix, nargs, k)))
        return -ENOMEM;
    for (int r = 0; r < k; r++)
        memcpy(oids + (size_t)r * (size_t)nargs, col_oids, (size_t)nargs * sizeof *oids);
    if (c->no_cache)
        return 0;
    return cio__pg_stmt_get(c, cs->sql ? cs->sql : sql, oids, k * nargs, &cs->stmt);
}

/* The batch's Sync is sent, and the wait for its results was interrupted
 * (rc: -ETIMEDOUT, -ECANCELED, or the connection failed). Cancels the
 * batch on the server and reads what the server did: if it had already run
 * every statement and committed, the batch's count is the truth and 0 is
 * returned; otherwise it was rolled back as a whole and rc is returned. */
static int settle(cio_pg_conn *c, struct batch *b, int rc)
{
    if (c->broken || PQstatus(c->pg) != CONNECTION_OK) {
        c->broken = true;
        return rc;
    }
    cio_scope shield = {0};
    struct cio__pg_stopping stop;
    cio_shield_enter(&shield);
    if (cio__pg_cancel_request(c) < 0)
        c->broken = true;
    cio__pg_stopping_enter(&stop);
    while (!c->broken) {
        PGresult *r;
        int nrc = cio__pg_next_result(c, &r);
        if (nrc == -ETIMEDOUT && cio__pg_stopping_again(&stop, c))
            continue;
        if (nrc != 0) {
            c->broken = true;
            break;
        }
        if (r && PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            if (PQexitPipelineMode(c->pg) != 1)
                c->broken = true;
            break;
        }
        take(c, b, r);
    }
    cio__pg_stopping_exit(&stop);
    cio_scope_exit(&shield);
    if (!c->broken && !b->err && b->done == b->sent)
        return 0; /* committed before the cancel arrived */
    if (rc == -ETIMEDOUT || rc == -ECANCELED) {
        b->err = 0;
        cio__pg_set_error(c, "57014", "ERROR",
                          rc == -ETIMEDOUT ? "batch timed out and was rolled back"
                                           : "batch cancelled and rolled back",
                          NULL, NULL);
    }
    return rc;
}

/* The array form of an INSERT of the rewritable shape:
 * `INSERT INTO t [(cols)] SELECT unnest($1), ..., unnest($n)`, each
 * parameter an array holding one column of a chunk of rows. The server
 * then avoids what a multi-row VALUES costs it per row and per parameter
 * (an expression set up for every row of a VALUES list, the type of every
 * parameter looked up in Bind): about a quarter less server time per row.
 * (Set-returning functions in the select list run in lockstep, and unlike
 * `FROM unnest(...)` their rows are not first stored in a tuplestore.) */
struct unnest {
    struct cio__pg_stmt *stmt;
    uint32_t *elem;             /* each column's element type */
    struct cio__pg_array *cols; /* the chunk's arrays */
    int *starts;                /* first row of each statement sent */
    int nstarts, starts_cap;
};

/* Bytes of arrays per statement: enough that the server's per-statement
 * work is small, few enough that it starts on the first chunk while the
 * next ones are encoded. Past 64 KiB the server's message buffer for each
 * Bind is allocated and freed with mmap, page faults included: measured
 * ~25 % more server time per row than at 16 to 48 KiB. A little under
 * 32 KiB, so that with its headers a statement of small rows fits two
 * 16 KiB TLS records, without a third, tiny one for the server to read. */
#define UNNEST_BYTES (32 * 1024 - 512)

static void unnest_free(struct unnest *u, int nargs)
{
    for (int k = 0; u->cols && k < nargs; k++)
        free(u->cols[k].buf);
    free(u->cols);
    free(u->elem);
    free(u->starts);
}

/* Whether the batch can go as arrays, and its statement. The types of the
 * array elements are those the server gives the row statement's parameters
 * (a text value of unknown type becomes the column's type), found by
 * describing it, as any cached statement is. Every one must be a built-in
 * type every value of its column can be sent to in binary. Returns 1 and
 * fills u, 0 when the batch does not qualify, or an error (preparing the
 * row statement failed: the batch would fail the same way). */
static int unnest_prepare(cio_pg_conn *c, const char *sql, size_t values_at, const cio_pg_arg *args,
                          int nargs, int nrows, const uint32_t *col_oids, struct unnest *u)
{
    if (c->no_cache)
        return 0; /* describing the row statement would cost a round trip per batch */
    struct cio__pg_stmt *row;
    int rc = cio__pg_stmt_get(c, sql, col_oids, nargs, &row);
    if (rc)
        return rc;
    u->elem = malloc((size_t)nargs * 2 * sizeof *u->elem);
    u->cols = calloc((size_t)nargs, sizeof *u->cols);
    if (!u->elem || !u->cols)
        return -ENOMEM;
    uint32_t *arrays = u->elem + nargs;
    memcpy(u->elem, row->param_types, (size_t)nargs * sizeof *u->elem);
    for (int k = 0; k < nargs; k++) {
        if (!(arrays[k] = cio__pg_array_type(u->elem[k])))
            return 0;
        for (int i = 0; i < nrows; i++)
            if (!cio__pg_binary_copy_ok(&args[(size_t)i * (size_t)nargs + (size_t)k], u->elem[k]))
                return 0;
    }
    char *usql = malloc(values_at + 16 + (size_t)nargs * 20);
    if (!usql)
        return -ENOMEM;
    memcpy(usql, sql, values_at);
    size_t n = values_at + (size_t)sprintf(usql + values_at, "SELECT ");
    for (int k = 0; k < nargs; k++)
        n += (size_t)sprintf(usql + n, k ? ", unnest($%d)" : "unnest($%d)", k + 1);
    rc = cio__pg_stmt_get(c, usql, arrays, nargs, &u->stmt);
    free(usql);
    return rc ? rc : 1;
}

/* Sends the next rows of args (at most left, at least one) as one array
 * statement; returns how many, or an error. */
static int unnest_send(cio_pg_conn *c, struct unnest *u, struct cio__pg_params *p,
                       const cio_pg_arg *args, int nargs, int left)
{
    for (int col = 0; col < nargs; col++)
        if (cio__pg_array_begin(&u->cols[col], u->elem[col]) < 0)
            return -ENOMEM;
    int k = 0;
    size_t bytes = 0;
    while (k < left && bytes < UNNEST_BYTES) {
        const cio_pg_arg *row = args + (size_t)k * (size_t)nargs;
        for (int col = 0; col < nargs; col++) {
            struct cio__pg_array *a = &u->cols[col];
            size_t before = a->len;
            if (cio__pg_array_add(a, &row[col]) < 0)
                return -ENOMEM;
            bytes += a->len - before;
        }
        k++;
    }
    for (int col = 0; col < nargs; col++) {
        cio__pg_array_end(&u->cols[col]);
        p->values[col] = u->cols[col].buf;
        p->lengths[col] = (int)u->cols[col].len;
        p->formats[col] = 1;
    }
    if (!PQsendQueryPrepared(c->pg, u->stmt->name, nargs, p->values, p->lengths, p->formats, 0))
        return cio__pg_conn_lost(c);
    return k;
}

/* While a batch is queued, libpq writes its buffer by itself whenever a
 * message brings it to 8 KiB; reading the results that came back (which
 * flushes the rest) and waiting while the socket is full happen every
 * FLUSH_BYTES of parameters, or every 256 statements: not after each
 * statement, whose last small messages would go as a write of their own
 * (over TLS, a small record the server reads on its own). */
#define FLUSH_BYTES (256 * 1024)

/* Sends the rows `per` at a time in one pipeline and one Sync: as arrays
 * (u not NULL: as many rows per statement as fit its size), as multi-row
 * statements (prefix not 0), or one row per statement. */
static int run(cio_pg_conn *c, const char *sql, size_t prefix, int per, const cio_pg_arg *args,
               int nargs, int nrows, const uint32_t *col_oids, struct unnest *u)
{
    PGconn *pg = c->pg;
    int width = u ? nargs : per * nargs;
    struct cio__pg_params p;
    int rc = cio__pg_params_init(&p, args, width);
    if (rc)
        return rc;
    struct chunk_stmt full = {0}, last = {0};
    int rest = nrows % per;
    if (!u) {
        rc = chunk_prepare(c, sql, prefix, nargs, per, col_oids, p.oids, &full);
        /* Preparing the last chunk's statement may evict from the cache:
         * the full chunk's must stay (prepared on the server, and its
         * memory). */
        cio__pg_stmt_pin(full.stmt);
        if (rc == 0 && rest)
            rc = chunk_prepare(c, sql, prefix, nargs, rest, col_oids, p.oids, &last);
    }
    if (rc == 0 && PQenterPipelineMode(pg) != 1)
        rc = cio__pg_conn_lost(c);
    c->unsynced = rc == 0;
    struct batch b = {0};
    size_t queued = 0; /* bytes of parameters sent since the last flush */
    for (int start = 0, k = 0; rc == 0 && start < nrows; start += k) {
        /* No offset on args when there are none (NULL for CIO_PG_NOARGS). */
        const cio_pg_arg *row = nargs ? args + (size_t)start * (size_t)nargs : args;
        if (u) {
            if (u->nstarts == u->starts_cap) {
                int n = u->starts_cap ? 2 * u->starts_cap : 64;
                int *s = realloc(u->starts, (size_t)n * sizeof *s);
                if (!s) {
                    rc = -ENOMEM;
                    break;
                }
                u->starts = s;
                u->starts_cap = n;
            }
            u->starts[u->nstarts] = start;
            rc = k = unnest_send(c, u, &p, row, nargs, nrows - start);
            if (rc > 0) {
                u->nstarts++;
                rc = 0;
            }
        } else {
            k = nrows - start < per ? nrows - start : per;
            struct chunk_stmt *cs = k == per ? &full : &last;
            rc = cio__pg_params_fill(&p, row, k * nargs);
            int ok = rc == 0 &&
                     (cs->stmt ? PQsendQueryPrepared(pg, cs->stmt->name, k * nargs, p.values,
                                                     p.lengths, p.formats, 0)
                               : PQsendQueryParams(pg, cs->sql ? cs->sql : sql, k * nargs, p.oids,
                                                   p.values, p.lengths, p.formats, 0));
            if (!ok && rc == 0)
                rc = cio__pg_conn_lost(c);
        }
        if (rc) {
            rc = cio__pg_abort(c, rc);
            break;
        }
        b.sent++;
        for (int i = 0; i < width; i++)
            queued += (size_t)p.lengths[i];
        if (queued >= FLUSH_BYTES || (b.sent & 255) == 0) {
            queued = 0;
            if ((rc = read_ready(c, &b)) != 0 ||
                (PQflush(pg) == 1 && (rc = cio__pg_flush(c)) != 0) || (rc = cio_check()) != 0)
                rc = cio__pg_abort(c, rc);
        }
    }
    if (rc == 0) {
        if (PQpipelineSync(pg) != 1)
            rc = cio__pg_abort(c, cio__pg_conn_lost(c));
        else
            c->unsynced = false;
    }
    c->unsynced = false;
    while (rc == 0) {
        PGresult *r;
        if ((rc = cio__pg_next_result(c, &r)) != 0) {
            rc = settle(c, &b, rc);
            break;
        }
        if (r && PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            if (PQexitPipelineMode(pg) != 1)
                rc = cio__pg_abort(c, cio__pg_conn_lost(c));
            break;
        }
        take(c, &b, r);
    }
    cio__pg_stmt_unpin(full.stmt);
    free(full.sql);
    free(last.sql);
    cio__pg_params_free(&p);
    if (rc == 0 && b.err) {
        /* The failing statement's row, if it had one; else which of its
         * rows failed is not known (executemany replays the batch a row
         * per statement to find out when it can): -1. */
        int stmt = c->err.row, first, count;
        if (u) {
            first = u->starts[stmt];
            count = (stmt + 1 < u->nstarts ? u->starts[stmt + 1] : nrows) - first;
        } else {
            first = stmt * per;
            count = nrows - first < per ? nrows - first : per;
        }
        c->err.row = count == 1 ? first : -1;
        return b.err;
    }
    return rc ? rc : b.affected;
}

/* Rows per statement when rewriting: PostgreSQL takes at most 65535
 * parameters; beyond a few hundred rows the gain is flat. */
static int rows_per_statement(int nargs, int nrows)
{
    int per = 65535 / nargs;
    if (per > 500)
        per = 500;
    return per < nrows ? per : nrows;
}

int cio_pg_executemany(cio_pg_conn *c, const char *sql, const cio_pg_arg *args, int nargs,
                       int nrows)
{
    if (!sql)
        return cio__pg_invalid(c, -1, "sql is NULL");
    if (nargs < 0 || nrows < 0 || (nargs && nrows && !args))
        return cio__pg_invalid(c, -1, "args is NULL, or nargs or nrows negative");
    int rc = cio__pg_begin(c);
    if (rc)
        return rc;
    if ((rc = cio__pg_check_args(c, sql, args, nargs, nrows)) != 0) {
        cio__pg_end(c);
        return rc;
    }
    uint32_t *oids = malloc(((size_t)nargs + 1) * sizeof *oids);
    if (!oids)
        rc = -ENOMEM;
    else
        rc = column_oids(c, args, nargs, nrows, oids);
    if (rc == 0 && nrows > 0) {
        size_t values_at = 0;
        size_t prefix = nrows > 1 ? insert_prefix(sql, nargs, &values_at) : 0;
        struct unnest u = {0};
        int per = 1;
        if (prefix && (rc = unnest_prepare(c, sql, values_at, args, nargs, nrows, oids, &u)) > 0)
            rc = run(c, sql, 0, nrows, args, nargs, nrows, oids, &u);
        else if (rc == 0)
            rc = run(c, sql, prefix, per = prefix ? rows_per_statement(nargs, nrows) : 1, args,
                     nargs, nrows, oids, NULL);
        /* A failing multi-row statement names only its first row. When the
         * failure rolled the batch back (no transaction of the caller's),
         * replay it a row per statement to name the row exactly. */
        if (rc == CIO_PG_ESERVER && (u.stmt || per > 1) &&
            PQtransactionStatus(c->pg) == PQTRANS_IDLE)
            rc = run(c, sql, 0, 1, args, nargs, nrows, oids, NULL);
        unnest_free(&u, nargs);
    }
    free(oids);
    cio__pg_end(c);
    return rc;
}
