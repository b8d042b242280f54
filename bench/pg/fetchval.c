/* pg.fetchval_pool: `SELECT $1::int` fetchval by 10 workers sharing a pool
 * of 10 connections, one acquire/release per query (asyncpg's
 * `async with pool.acquire()`); pg.fetchval_held: the same with each worker
 * holding its connection. With pgbench installed, pgbench -M prepared -c10
 * on the same query is the libpq reference (impl "pgbench"). */
#include "pg_bench.h"

#define WORKERS 10

struct run {
    const char *dsn;
    long n;
    bool held;
    cio_pg_pool *pool;
    double seconds;
};

static int worker(void *arg)
{
    struct run *r = arg;
    long per = r->n / WORKERS;
    int64_t v;
    if (r->held) {
        int rc;
        CIO_PG_ACQUIRE(conn, r->pool, -1, rc);
        BENCH_CHECK(rc);
        for (long i = 0; i < per; i++)
            PG_BENCH_OK(conn, cio_pg_fetchval_int64(conn, "SELECT $1::int",
                                                    CIO_PG_ARGS(cio_pg_int4((int32_t)i)), &v));
        return 0;
    }
    for (long i = 0; i < per; i++) {
        int rc;
        CIO_PG_ACQUIRE(conn, r->pool, -1, rc);
        BENCH_CHECK(rc);
        PG_BENCH_OK(conn, cio_pg_fetchval_int64(conn, "SELECT $1::int",
                                                CIO_PG_ARGS(cio_pg_int4((int32_t)i)), &v));
    }
    return 0;
}

static int bench_main(void *arg)
{
    struct run *r = arg;
    cio_pg_pool_options o = {.min_size = WORKERS, .max_size = WORKERS};
    BENCH_CHECK(cio_pg_pool_create(r->dsn, &o, &r->pool));
    cio_task t[WORKERS];
    struct run warm = *r;
    warm.n = WORKERS * 100;
    for (int i = 0; i < WORKERS; i++)
        t[i] = cio_spawn(worker, &warm);
    for (int i = 0; i < WORKERS; i++)
        BENCH_CHECK(cio_join(t[i]));
    int64_t t0 = bench_now_ns();
    for (int i = 0; i < WORKERS; i++)
        t[i] = cio_spawn(worker, r);
    for (int i = 0; i < WORKERS; i++)
        BENCH_CHECK(cio_join(t[i]));
    r->seconds = (double)(bench_now_ns() - t0) / 1e9;
    return cio_pg_pool_close(r->pool);
}

static void pgbench(const char *dsn, long n)
{
    const char *bins[] = {"/usr/lib/postgresql/15/bin/pgbench", "/usr/bin/pgbench"};
    const char *bin = NULL;
    for (int i = 0; i < 2; i++)
        if (access(bins[i], X_OK) == 0)
            bin = bins[i];
    if (!bin)
        return;
    char script[] = "/tmp/cio-pgbench-XXXXXX";
    int fd = mkstemp(script);
    if (fd < 0)
        return;
    const char body[] = "\\set x random(1, 1000000)\nSELECT :x::int;\n";
    if (write(fd, body, sizeof body - 1) < 0) {
        close(fd);
        return;
    }
    close(fd);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "%s -n -M prepared -c %d -j 2 -t %ld -f %s \"%s\" 2>/dev/null | "
             "sed -n 's/^tps = \\([0-9.]*\\).*/\\1/p' | head -1",
             bin, WORKERS, n / WORKERS, script, dsn);
    FILE *p = popen(cmd, "r");
    double tps = 0;
    if (p) {
        if (fscanf(p, "%lf", &tps) != 1)
            tps = 0;
        pclose(p);
    }
    unlink(script);
    if (tps > 0)
        bench_emit("pg.fetchval_held", "pgbench", tps, "ops/s", "higher");
}

int main(int argc, char **argv)
{
    const char *dsn = pg_bench_dsn(argv);
    long n = bench_size(argc, argv, 50000, 5000);
    struct run r = {.dsn = dsn, .n = n};
    BENCH_CHECK(cio_run(bench_main, &r));
    bench_emit("pg.fetchval_pool", "cio", (double)n / r.seconds, "ops/s", "higher");
    r.held = true;
    BENCH_CHECK(cio_run(bench_main, &r));
    bench_emit("pg.fetchval_held", "cio", (double)n / r.seconds, "ops/s", "higher");
    if (!bench_quick(argc, argv))
        pgbench(dsn, n);
    return 0;
}
