/* pg.copy: the same 100,000 rows (int, text) loaded with COPY FROM STDIN
 * (asyncpg's copy_records_to_table): rows per second, median of 5. */
#include "pg_bench.h"

struct run {
    const char *dsn;
    long n;
    double seconds;
};

static int bench_main(void *arg)
{
    struct run *r = arg;
    cio_pg_conn *c;
    int rc = cio_pg_connect(r->dsn, NULL, &c);
    PG_BENCH_OK(c, rc);
    PG_BENCH_OK(c, cio_pg_execute(c,
                                  "DROP TABLE IF EXISTS bench_copy; "
                                  "CREATE UNLOGGED TABLE bench_copy (id int, label text)",
                                  CIO_PG_NOARGS));
    cio_pg_arg *args = malloc((size_t)r->n * 2 * sizeof *args);
    char(*labels)[24] = malloc((size_t)r->n * 24);
    BENCH_CHECK(args && labels ? 0 : -ENOMEM);
    for (long i = 0; i < r->n; i++) {
        snprintf(labels[i], 24, "label %d", (int)i);
        args[2 * i] = cio_pg_int4((int32_t)i);
        args[2 * i + 1] = cio_pg_text(labels[i]);
    }
    static const char *const cols[] = {"id", "label"};
    PG_BENCH_OK(c, cio_pg_copy_records(c, "bench_copy", cols, 2, args, 100));
    PG_BENCH_OK(c, cio_pg_execute(c, "TRUNCATE bench_copy", CIO_PG_NOARGS));
    /* Median of 5 loads (the table emptied before each). */
    double runs[5];
    for (int k = 0; k < 5; k++) {
        PG_BENCH_OK(c, cio_pg_execute(c, "TRUNCATE bench_copy", CIO_PG_NOARGS));
        int64_t t0 = bench_now_ns();
        rc = cio_pg_copy_records(c, "bench_copy", cols, 2, args, (int)r->n);
        runs[k] = (double)(bench_now_ns() - t0) / 1e9;
        PG_BENCH_OK(c, rc);
        if (rc != r->n)
            BENCH_CHECK(-EPROTO);
    }
    r->seconds = bench_median(runs, 5);
    free(args);
    free(labels);
    cio_pg_close(c);
    return 0;
}

int main(int argc, char **argv)
{
    struct run r = {.dsn = pg_bench_dsn(argv), .n = bench_size(argc, argv, 100000, 10000)};
    BENCH_CHECK(cio_run(bench_main, &r));
    bench_emit("pg.copy", "cio", (double)r.n / r.seconds, "rows/s", "higher");
    return 0;
}
