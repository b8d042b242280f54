/* Shared by the PostgreSQL benchmarks: the server, and running a task. */
#ifndef CIO_BENCH_PG_H
#define CIO_BENCH_PG_H

#include <unistd.h>

#include <cio.h>
#include <cio/pg.h>

#include "common/bench.h"

/* CIO_PG_DSN, or re-run through scripts/with-postgres.sh (a throwaway
 * cluster for this run). */
static inline const char *pg_bench_dsn(char **argv)
{
    const char *dsn = getenv("CIO_PG_DSN");
    if (dsn && *dsn)
        return dsn;
    char *args[8] = {"sh", CIO_WITH_POSTGRES};
    for (int i = 0; i < 5 && argv[i]; i++)
        args[2 + i] = argv[i];
    execv("/bin/sh", args);
    fprintf(stderr, "cannot run %s\n", CIO_WITH_POSTGRES);
    exit(1);
}

#define PG_BENCH_OK(conn, expr)                                                                    \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ < 0) {                                                                             \
            fprintf(stderr, "%s:%d: %s: %s: %s\n", __FILE__, __LINE__, #expr, cio_strerror(rc_),   \
                    cio_pg_conn_error(conn)->message);                                             \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#endif
