/* The per-connection prepared statement cache (asyncpg's statement cache):
 * a statement is keyed by its SQL text and the types of its arguments,
 * prepared and described in one round trip on first use, and chosen to
 * return binary results when every column has a type cio decodes. The
 * least recently used statement is deallocated when the cache is full. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/internal.h"

static uint64_t key_hash(const char *sql, const uint32_t *oids, int n)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    for (int i = 0; i < n; i++)
        h = (h ^ oids[i]) * 1099511628211ULL;
    return h;
}

static void stmt_free(struct cio__pg_stmt *s)
{
    free(s->sql);
    free(s->arg_oids);
    free(s);
}

void cio__pg_stmt_free_all(cio_pg_conn *c)
{
    for (int b = 0; b < c->nbuckets; b++) {
        struct cio__pg_stmt *s = c->buckets[b], *next;
        for (; s; s = next) {
            next = s->next;
            stmt_free(s);
        }
    }
    free(c->buckets);
    c->buckets = NULL;
    c->nbuckets = c->nstmts = 0;
}

void cio__pg_stmt_reset(cio_pg_conn *c)
{
    /* The server side is gone or stale: DEALLOCATE ALL keeps names from
     * clashing when the session still has some. */
    cio__pg_stmt_free_all(c);
}

bool cio__pg_stmt_stale(const cio_pg_conn *c)
{
    return strcmp(c->err.sqlstate, "26000") == 0 || strcmp(c->err.sqlstate, "0A000") == 0;
}

static struct cio__pg_stmt **find(cio_pg_conn *c, uint64_t h, const char *sql, const uint32_t *oids,
                                  int n)
{
    struct cio__pg_stmt **pp = &c->buckets[h & (uint64_t)(c->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->next) {
        struct cio__pg_stmt *s = *pp;
        if (s->hash == h && s->nargs == n && strcmp(s->sql, sql) == 0 &&
            (n == 0 || memcmp(s->arg_oids, oids, (size_t)n * sizeof *oids) == 0))
            return pp;
    }
    return pp;
}

/* Deallocates the least recently used statement that is not pinned.
 * Returns 1 when one was evicted, 0 when every statement is pinned, or an
 * error. */
static int evict(cio_pg_conn *c)
{
    struct cio__pg_stmt **victim = NULL;
    for (int b = 0; b < c->nbuckets; b++)
        for (struct cio__pg_stmt **pp = &c->buckets[b]; *pp; pp = &(*pp)->next)
            if (!(*pp)->pins && (!victim || (*pp)->last_use < (*victim)->last_use))
                victim = pp;
    if (!victim)
        return 0;
    struct cio__pg_stmt *s = *victim;
    *victim = s->next;
    c->nstmts--;
    char sql[48];
    snprintf(sql, sizeof sql, "DEALLOCATE %s", s->name);
    stmt_free(s);
    int rc = cio__pg_simple(c, sql);
    return rc == CIO_PG_ESERVER ? 1 : rc < 0 ? rc : 1;
}

/* Prepare and describe in one pipeline: one round trip. */
static int prepare(cio_pg_conn *c, struct cio__pg_stmt *s)
{
    PGconn *pg = c->pg;
    if (PQenterPipelineMode(pg) != 1)
        return cio__pg_conn_lost(c);
    if (!PQsendPrepare(pg, s->name, s->sql, s->nargs, s->arg_oids) ||
        !PQsendDescribePrepared(pg, s->name) || PQpipelineSync(pg) != 1) {
        int rc = cio__pg_conn_lost(c);
        return cio__pg_abort(c, rc);
    }
    int err = 0, nres = 0;
    s->result_format = 1;
    for (;;) {
        PGresult *r;
        int rc = cio__pg_next_result(c, &r);
        if (rc)
            return cio__pg_abort(c, rc);
        if (!r)
            continue;
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (st == PGRES_FATAL_ERROR && !err)
            err = cio__pg_result_error(c, r);
        else if (st == PGRES_COMMAND_OK && ++nres == 2) {
            for (int i = 0; i < s->nargs && i < PQnparams(r); i++)
                s->param_types[i] = PQparamtype(r, i);
            for (int i = 0; i < PQnfields(r); i++)
                if (!cio__pg_binary_ok(PQftype(r, i)))
                    s->result_format = 0;
        }
        PQclear(r);
    }
    if (PQexitPipelineMode(pg) != 1 && !err)
        err = cio__pg_conn_lost(c);
    return err;
}

int cio__pg_stmt_get(cio_pg_conn *c, const char *sql, const uint32_t *oids, int n,
                     struct cio__pg_stmt **out)
{
    if (!c->buckets) {
        int nb = 16;
        while (nb < 2 * c->cache_cap)
            nb *= 2;
        c->buckets = calloc((size_t)nb, sizeof *c->buckets);
        if (!c->buckets)
            return -ENOMEM;
        c->nbuckets = nb;
    }
    uint64_t h = key_hash(sql, oids, n);
    struct cio__pg_stmt **pp = find(c, h, sql, oids, n);
    if (*pp) {
        (*pp)->last_use = ++c->use_clock;
        *out = *pp;
        return 0;
    }
    /* Make room; pinned statements stay, so the cache may be over its
     * size for a while: it shrinks back here. */
    int rc;
    while (c->nstmts >= c->cache_cap && (rc = evict(c)) != 0)
        if (rc < 0)
            return rc;
    struct cio__pg_stmt *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->sql = strdup(sql);
    s->arg_oids = malloc((size_t)(n ? 2 * n : 1) * sizeof *oids);
    if (!s->sql || !s->arg_oids) {
        stmt_free(s);
        return -ENOMEM;
    }
    s->param_types = s->arg_oids + n;
    if (n) {
        memcpy(s->arg_oids, oids, (size_t)n * sizeof *oids);
        memcpy(s->param_types, oids, (size_t)n * sizeof *oids);
    }
    s->nargs = n;
    s->hash = h;
    snprintf(s->name, sizeof s->name, "cio_%u", ++c->next_stmt_id);
    rc = prepare(c, s);
    if (rc) {
        stmt_free(s);
        return rc;
    }
    s->last_use = ++c->use_clock;
    pp = find(c, h, sql, oids, n); /* evict() may have changed the chain */
    s->next = *pp;
    *pp = s;
    c->nstmts++;
    *out = s;
    return 0;
}
