/* The guide's stream_large_query(), without LIMIT/OFFSET: the rows of one
 * query come to the task batch by batch from a server-side cursor (or one
 * by one in single-row mode), so memory stays bounded however large the
 * result is:
 *
 *     async for row in stream_large_query("SELECT * FROM events", 100):
 *         total += row["amount"]
 */
#include <cio.h>
#include <cio/pg.h>

#include "pg_example.h"

/* The async generator: the rows of query, batch_size at a time from the
 * server, one at a time to the consumer's plain C loop. */
static int stream_large_query(cio_pg_conn *conn, const char *query, int batch_size,
                              cio_pg_stream **st)
{
    return cio_pg_stream_open(conn, query, CIO_PG_NOARGS, batch_size, st);
}

static int consume(cio_pg_conn *conn, int batch_size)
{
    cio_pg_stream *st;
    int rc = stream_large_query(conn, "SELECT id, amount FROM events ORDER BY id", batch_size, &st);
    if (rc < 0)
        return rc;
    cio_pg_result *rows;
    int row;
    int64_t count = 0, total = 0;
    /* async for row in stream_large_query(...): */
    while ((rc = cio_pg_stream_row(st, &rows, &row)) > 0) {
        int64_t amount;
        if ((rc = cio_pg_get_int64(rows, row, 1, &amount)) < 0)
            break;
        total += amount;
        count++;
    }
    int crc = cio_pg_stream_close(st);
    if (rc == 0)
        rc = crc;
    if (rc == 0)
        printf("Streamed %lld rows, %d at a time from the server, total amount %lld\n",
               (long long)count, batch_size > 1 ? batch_size : 1, (long long)total);
    return rc;
}

static int main_task(void *arg)
{
    cio_pg_conn *conn;
    int rc = cio_pg_connect(arg, NULL, &conn);
    if (rc == 0)
        rc = cio_pg_execute(conn,
                            "DROP TABLE IF EXISTS events; "
                            "CREATE TABLE events AS SELECT g AS id, g % 100 AS amount "
                            "FROM generate_series(1, 100000) g",
                            CIO_PG_NOARGS);
    if (rc >= 0)
        rc = consume(conn, 100); /* a server-side cursor, 100 rows per FETCH */
    if (rc >= 0)
        rc = consume(conn, 1); /* single-row mode */
    if (rc < 0)
        fprintf(stderr, "error: %s: %s\n", cio_strerror(rc), cio_pg_conn_error(conn)->message);
    cio_pg_close(conn);
    return rc < 0 ? rc : 0;
}

int main(int argc, char **argv)
{
    (void)argc;
    return cio_run(main_task, (void *)example_dsn(argv)) < 0;
}
