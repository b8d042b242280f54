/* asyncpg's Pool query shortcuts: acquire, run one query, release. */
#include "pg/internal.h"

/* A failed query's account is copied to the pool (for
 * cio_pg_pool_query_error()) while the connection that holds it is still
 * the caller's: CIO_PG_ACQUIRE releases it after the return value. */
static int outcome(cio_pg_pool *pool, cio_pg_conn *conn, int rc)
{
    cio__pg_pool_note(pool, rc < 0 ? cio_pg_conn_error(conn) : NULL);
    return rc;
}

#define WITH_CONN(call)                                                                            \
    int rc;                                                                                        \
    CIO_PG_ACQUIRE(conn, pool, -1, rc);                                                            \
    if (rc < 0) {                                                                                  \
        if (pool)                                                                                  \
            cio__pg_pool_note(pool, NULL);                                                         \
        return rc;                                                                                 \
    }                                                                                              \
    return outcome(pool, conn, call)

int cio_pg_pool_execute(cio_pg_pool *pool, const char *sql, const cio_pg_arg *args, int nargs)
{
    WITH_CONN(cio_pg_execute(conn, sql, args, nargs));
}

int cio_pg_pool_fetch(cio_pg_pool *pool, const char *sql, const cio_pg_arg *args, int nargs,
                      cio_pg_result **out)
{
    if (out)
        *out = NULL;
    WITH_CONN(cio_pg_fetch(conn, sql, args, nargs, out));
}

int cio_pg_pool_fetchrow(cio_pg_pool *pool, const char *sql, const cio_pg_arg *args, int nargs,
                         cio_pg_result **out)
{
    if (out)
        *out = NULL;
    WITH_CONN(cio_pg_fetchrow(conn, sql, args, nargs, out));
}

int cio_pg_pool_fetchval_int64(cio_pg_pool *pool, const char *sql, const cio_pg_arg *args,
                               int nargs, int64_t *out)
{
    WITH_CONN(cio_pg_fetchval_int64(conn, sql, args, nargs, out));
}

int cio_pg_pool_executemany(cio_pg_pool *pool, const char *sql, const cio_pg_arg *args, int nargs,
                            int nrows)
{
    WITH_CONN(cio_pg_executemany(conn, sql, args, nargs, nrows));
}
