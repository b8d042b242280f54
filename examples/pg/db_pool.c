/* The guide's AsyncDatabase: an asyncpg pool (min_size=5, max_size=20)
 * with fetch_one, fetch_all, execute and execute_many, each acquiring a
 * connection with `async with pool.acquire()` — here CIO_PG_ACQUIRE, which
 * releases it on every way out of the block.
 *
 *     users = await db.fetch_all("SELECT * FROM users WHERE active = $1", True)
 *     print(f"Found {len(users)} active users")
 */
#include <cio.h>
#include <cio/pg.h>

#include "pg_example.h"

struct async_database {
    const char *dsn;
    cio_pg_pool *pool;
};

static int db_connect(struct async_database *db)
{
    cio_pg_pool_options o = {.min_size = 5, .max_size = 20};
    return cio_pg_pool_create(db->dsn, &o, &db->pool);
}

static int db_close(struct async_database *db)
{
    return cio_pg_pool_close(db->pool);
}

static int fetch_one(struct async_database *db, const char *sql, const cio_pg_arg *args, int n,
                     cio_pg_result **row)
{
    int rc;
    CIO_PG_ACQUIRE(conn, db->pool, 10.0, rc);
    if (rc < 0)
        return rc;
    return cio_pg_fetchrow(conn, sql, args, n, row);
}

static int fetch_all(struct async_database *db, const char *sql, const cio_pg_arg *args, int n,
                     cio_pg_result **rows)
{
    int rc;
    CIO_PG_ACQUIRE(conn, db->pool, 10.0, rc);
    if (rc < 0)
        return rc;
    return cio_pg_fetch(conn, sql, args, n, rows);
}

static int execute(struct async_database *db, const char *sql, const cio_pg_arg *args, int n)
{
    int rc;
    CIO_PG_ACQUIRE(conn, db->pool, 10.0, rc);
    if (rc < 0)
        return rc;
    return cio_pg_execute(conn, sql, args, n);
}

static int execute_many(struct async_database *db, const char *sql, const cio_pg_arg *args,
                        int nargs, int nrows)
{
    int rc;
    CIO_PG_ACQUIRE(conn, db->pool, 10.0, rc);
    if (rc < 0)
        return rc;
    return cio_pg_executemany(conn, sql, args, nargs, nrows);
}

static int fill_users(struct async_database *db)
{
    int rc = execute(db,
                     "DROP TABLE IF EXISTS users; CREATE TABLE users (id serial PRIMARY KEY, "
                     "name text NOT NULL, email text, active bool NOT NULL)",
                     CIO_PG_NOARGS);
    if (rc < 0)
        return rc;
    enum { N = 100 };
    static char names[N][16], emails[N][32];
    static cio_pg_arg args[N * 3];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "user%d", i + 1);
        snprintf(emails[i], sizeof emails[i], "user%d@example.com", i + 1);
        args[3 * i] = cio_pg_text(names[i]);
        args[3 * i + 1] = cio_pg_text(emails[i]);
        args[3 * i + 2] = cio_pg_bool((i + 1) % 3 != 0);
    }
    return execute_many(db, "INSERT INTO users (name, email, active) VALUES ($1, $2, $3)", args, 3,
                        N);
}

static int report(struct async_database *db, int rc)
{
    if (rc >= 0)
        return rc;
    fprintf(stderr, "database error: %s\n", cio_strerror(rc));
    (void)db;
    return rc;
}

static int main_task(void *arg)
{
    struct async_database *db = arg;
    int rc = db_connect(db);
    if (rc < 0) {
        /* The failed pool says why; it must be closed all the same. */
        fprintf(stderr, "connect: %s: %s\n", cio_strerror(rc), cio_pg_pool_error(db->pool));
        db_close(db);
        return rc;
    }
    /* try: ... finally: await db.close() */
    rc = fill_users(db);
    if (rc >= 0) {
        cio_pg_result *users;
        rc = fetch_all(db, "SELECT * FROM users WHERE active = $1", CIO_PG_ARGS(cio_pg_bool(true)),
                       &users);
        if (rc >= 0) {
            printf("Found %d active users\n", cio_pg_nrows(users));
            cio_pg_result_free(users);
        }
    }
    if (rc >= 0) {
        cio_pg_result *row;
        rc = fetch_one(db, "SELECT name, email FROM users WHERE id = $1",
                       CIO_PG_ARGS(cio_pg_int4(42)), &row);
        if (rc > 0) {
            const char *name, *email;
            cio_pg_get_text(row, 0, 0, &name, NULL);
            cio_pg_get_text(row, 0, 1, &email, NULL);
            printf("User 42: %s <%s>\n", name, email);
            cio_pg_result_free(row);
        }
    }
    if (rc >= 0) {
        rc = execute(db, "UPDATE users SET active = false WHERE id > $1",
                     CIO_PG_ARGS(cio_pg_int4(90)));
        if (rc >= 0)
            printf("Deactivated %d users\n", rc);
    }
    report(db, rc);
    db_close(db);
    return rc < 0 ? rc : 0;
}

int main(int argc, char **argv)
{
    (void)argc;
    struct async_database db = {.dsn = example_dsn(argv)};
    return cio_run(main_task, &db) < 0;
}
