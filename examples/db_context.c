/* The guide's AsyncDatabaseConnection: an async context manager.
 *
 *     async with AsyncDatabaseConnection("postgres://localhost/db") as db:
 *         results = await db.query("SELECT * FROM users")
 *         print(results)
 *
 * CIO_WITH(rc, enter, exit, obj) is `async with`: it runs the block only
 * if enter returned 0, and calls exit(obj) on every way out of the block,
 * cancellation included. An exit that must wait does so in a shield.
 * CIO_VIRTUAL_CLOCK=1 skips the waiting. */
#include <stdio.h>
#include <stdlib.h>

#include <cio.h>

struct db {
    char connection[64];
};

static int db_connect(struct db *db, const char *dsn) /* __aenter__ */
{
    printf("Connecting to database...\n");
    int rc = cio_sleep(0.1); /* simulate connection */
    if (rc < 0)
        return rc;
    snprintf(db->connection, sizeof db->connection, "Connection to %s", dsn);
    return 0;
}

static void db_close(void *arg) /* __aexit__ */
{
    struct db *db = arg;
    printf("Closing connection...\n");
    CIO_SHIELD(cleanup);
    cio_sleep(0.05); /* simulate cleanup */
    db->connection[0] = '\0';
}

static int db_query(struct db *db, const char *sql, char *out, size_t size)
{
    (void)db;
    int rc = cio_sleep(0.05);
    if (rc < 0)
        return rc;
    snprintf(out, size, "Results for: %s", sql);
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    struct db db;
    char results[128];
    int rc;
    CIO_WITH(rc, db_connect(&db, "postgres://localhost/db"), db_close, &db)
    {
        rc = db_query(&db, "SELECT * FROM users", results, sizeof results);
        if (rc == 0)
            printf("%s\n", results);
    }
    return rc;
}

int main(void)
{
    cio_run_options opts = {.virtual_clock = getenv("CIO_VIRTUAL_CLOCK") != NULL};
    return cio_run_with(&opts, main_task, NULL) < 0;
}
