/* Shared by the PostgreSQL tests: where the throwaway cluster is. The
 * CTest fixture (pg_cluster_start) writes its DSN to CIO_PG_STATE_FILE;
 * CIO_PG_DSN in the environment overrides it. */
#ifndef CIO_TESTS_PG_TEST_H
#define CIO_TESTS_PG_TEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cio/pg.h>

#include "helpers.h"

static inline const char *pg_dsn(void)
{
    static char dsn[512];
    const char *env = getenv("CIO_PG_DSN");
    if (env && *env)
        return env;
    if (dsn[0])
        return dsn;
    FILE *f = fopen(CIO_PG_STATE_FILE, "r");
    if (!f)
        return NULL;
    char line[sizeof dsn];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "DSN=", 4) == 0) {
            snprintf(dsn, sizeof dsn, "%s", line + 4);
            dsn[strcspn(dsn, "\n")] = 0;
        }
    fclose(f);
    return dsn[0] ? dsn : NULL;
}

/* Inside a task: connect or fail the task. */
#define PG_CONNECT(conn, opts)                                                                     \
    cio_pg_conn *conn = NULL;                                                                      \
    do {                                                                                           \
        int rc_ = cio_pg_connect(pg_dsn(), (opts), &conn);                                         \
        if (rc_ < 0) {                                                                             \
            print_error("connect: %s: %s\n", cio_err_name(rc_), cio_pg_conn_error(conn)->message); \
            cio_pg_close(conn);                                                                    \
            return -1000 - __LINE__;                                                               \
        }                                                                                          \
    } while (0)

/* Inside a task: an int expression must be >= 0 (prints the server error). */
#define PG_OK(conn, expr)                                                                          \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ < 0) {                                                                             \
            print_error("%s:%d: %s = %s: %s\n", __FILE__, __LINE__, #expr, cio_err_name(rc_),      \
                        cio_pg_conn_error(conn)->message);                                         \
            return -1000 - __LINE__;                                                               \
        }                                                                                          \
    } while (0)

#endif
