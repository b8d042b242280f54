/* Shared by the PostgreSQL examples: where the database is. */
#ifndef CIO_EXAMPLES_PG_EXAMPLE_H
#define CIO_EXAMPLES_PG_EXAMPLE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The DSN from CIO_PG_DSN. Without one, re-runs the program through
 * scripts/with-postgres.sh, which starts a throwaway cluster, sets
 * CIO_PG_DSN, runs the program and removes the cluster (`make demo`). */
static inline const char *example_dsn(char **argv)
{
    const char *dsn = getenv("CIO_PG_DSN");
    if (dsn && *dsn)
        return dsn;
    if (access(CIO_WITH_POSTGRES, R_OK) == 0) {
        fflush(stdout);
        execl("/bin/sh", "sh", CIO_WITH_POSTGRES, argv[0], (char *)NULL);
    }
    fprintf(stderr, "set CIO_PG_DSN to a PostgreSQL connection string\n");
    exit(2);
}

#endif
