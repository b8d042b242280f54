/* pg.fetch: `SELECT g, g::text, now() FROM generate_series(1, 1000) g`
 * fetched 2,000 times by 10 workers on 10 connections, every value read
 * (as asyncpg decodes every value into a Record): rows per second. */
#include "pg_bench.h"

#define WORKERS 10

struct run {
    const char *dsn;
    long n;
    cio_pg_pool *pool;
    int64_t checksum;
    double seconds;
};

static int worker(void *arg)
{
    struct run *r = arg;
    int rc;
    CIO_PG_ACQUIRE(conn, r->pool, -1, rc);
    BENCH_CHECK(rc);
    int64_t sum = 0;
    for (long i = 0; i < r->n / WORKERS; i++) {
        cio_pg_result *res;
        int rows = cio_pg_fetch(conn, "SELECT g, g::text, now() FROM generate_series(1, 1000) g",
                                CIO_PG_NOARGS, &res);
        PG_BENCH_OK(conn, rows);
        for (int k = 0; k < rows; k++) {
            int32_t g;
            const char *s;
            size_t len;
            int64_t ts;
            cio_pg_get_int32(res, k, 0, &g);
            cio_pg_get_text(res, k, 1, &s, &len);
            cio_pg_get_timestamp(res, k, 2, &ts);
            sum += g + (int64_t)len + (ts & 1);
        }
        cio_pg_result_free(res);
    }
    r->checksum += sum;
    return 0;
}

static int bench_main(void *arg)
{
    struct run *r = arg;
    cio_pg_pool_options o = {.min_size = WORKERS, .max_size = WORKERS};
    BENCH_CHECK(cio_pg_pool_create(r->dsn, &o, &r->pool));
    cio_task t[WORKERS];
    int64_t t0 = bench_now_ns();
    for (int i = 0; i < WORKERS; i++)
        t[i] = cio_spawn(worker, r);
    for (int i = 0; i < WORKERS; i++)
        BENCH_CHECK(cio_join(t[i]));
    r->seconds = (double)(bench_now_ns() - t0) / 1e9;
    return cio_pg_pool_close(r->pool);
}

int main(int argc, char **argv)
{
    struct run r = {.dsn = pg_bench_dsn(argv), .n = bench_size(argc, argv, 2000, 200)};
    BENCH_CHECK(cio_run(bench_main, &r));
    bench_emit("pg.fetch", "cio", (double)r.n * 1000 / r.seconds, "rows/s", "higher");
    return 0;
}
