/* One connection: connect errors, execute/fetch, server errors with their
 * SQLSTATE/detail/hint, two tasks on one connection, the statement cache
 * (stale plans, eviction), executemany pipelines with an error in the
 * middle, transactions, streaming, COPY, LISTEN/NOTIFY, and cancelling a
 * long query on the server. */
#include "pg_test.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Host names looked up on the loop's thread, where a lookup would block
 * every task. Numeric addresses are libpq's own parsing, which never
 * blocks. */
static pthread_t loop_thread;
static int blocking_lookups;

static void count_loop_lookups(const char *node)
{
    unsigned char buf[16];
    if (pthread_equal(pthread_self(), loop_thread) && node && node[0] != '/' &&
        inet_pton(AF_INET, node, buf) != 1 && inet_pton(AF_INET6, node, buf) != 1)
        blocking_lookups++;
}

/* Counts the lookups made on the calling (loop) thread from now on, and
 * gives the test cluster's port as text. */
static int count_lookups_from_here(char port[16])
{
    loop_thread = pthread_self();
    blocking_lookups = 0;
    test_lookup_hook = count_loop_lookups;
    const char *p = strstr(pg_dsn(), "port=");
    if (!p)
        return -1;
    snprintf(port, 16, "%d", atoi(p + 5));
    return 0;
}

static int connect_errors(void *arg)
{
    (void)arg;
    cio_pg_conn *c;
    /* A port nobody listens on: refused, with libpq's message. */
    int rc = cio_pg_connect("host=127.0.0.1 port=1 user=cio dbname=postgres", NULL, &c);
    task_check_eq(rc, CIO_PG_ECONN);
    task_check(c != NULL);
    task_check(strlen(cio_pg_conn_error(c)->message) > 0);
    task_check(!cio_pg_conn_ok(c));
    cio_pg_close(c);
    char dsn[600];
    snprintf(dsn, sizeof dsn, "%s dbname=no_such_db", pg_dsn());
    rc = cio_pg_connect(dsn, NULL, &c);
    task_check_eq(rc, CIO_PG_ECONN);
    task_check(strstr(cio_pg_conn_error(c)->message, "no_such_db") != NULL);
    cio_pg_close(c);
    /* A host name is resolved off the loop thread, every address tried. */
    const char *at = strstr(pg_dsn(), "host=127.0.0.1");
    task_check(at != NULL);
    snprintf(dsn, sizeof dsn, "%.*shost=localhost%s", (int)(at - pg_dsn()), pg_dsn(),
             at + strlen("host=127.0.0.1"));
    rc = cio_pg_connect(dsn, NULL, &c);
    if (rc)
        print_error("localhost: %s\n", cio_pg_conn_error(c)->message);
    task_check_eq(rc, 0);
    int64_t one;
    task_check_eq(cio_pg_fetchval_int64(c, "SELECT 1", CIO_PG_NOARGS, &one), 0);
    task_check(cio_pg_server_version(c) >= 140000);
    cio_pg_close(c);
    rc = cio_pg_connect("host=no-such-host.invalid user=cio", NULL, &c);
    task_check_eq(rc, CIO_PG_ECONN);
    task_check(strstr(cio_pg_conn_error(c)->message, "no-such-host.invalid") != NULL);
    cio_pg_close(c);
    task_check_eq(cio_pg_connect(NULL, NULL, &c), -EINVAL);
    task_check(c == NULL);
    task_check_eq(cio_pg_execute(NULL, "SELECT 1", CIO_PG_NOARGS), -EINVAL);
    return 0;
}

/* pg_dsn() with its host and port replaced ("" leaves one out). */
static void dsn_with(char *out, size_t size, const char *host, const char *port)
{
    char rest[512] = "";
    char copy[512];
    snprintf(copy, sizeof copy, "%s", pg_dsn());
    for (char *save, *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
        if (strncmp(w, "host=", 5) != 0 && strncmp(w, "port=", 5) != 0)
            snprintf(rest + strlen(rest), sizeof rest - strlen(rest), " %s", w);
    snprintf(out, size, "%s%s%s%s%s", *host ? "host=" : "", host, *port ? " port=" : "", port,
             rest);
}

static int connects(const char *dsn)
{
    cio_pg_conn *c;
    int rc = cio_pg_connect(dsn, NULL, &c);
    if (rc)
        print_error("%s: %s\n", dsn, cio_pg_conn_error(c)->message);
    int64_t one = 0;
    if (rc == 0)
        rc = cio_pg_fetchval_int64(c, "SELECT 1", CIO_PG_NOARGS, &one);
    cio_pg_close(c);
    return rc == 0 && one == 1 ? 0 : -1;
}

/* Lists of hosts, PGHOST and service files' hosts are resolved off the
 * loop thread too: each name becomes its addresses, with its own port, and
 * one that cannot be resolved is passed over as libpq would. */
static int host_lists(void *arg)
{
    (void)arg;
    char port[16], ports[32], dsn[700];
    task_check_eq(count_lookups_from_here(port), 0);
    dsn_with(dsn, sizeof dsn, "no-such-host.invalid,localhost", port);
    task_check_eq(connects(dsn), 0);
    /* localhost's addresses on port 1 are refused; then 127.0.0.1. */
    snprintf(ports, sizeof ports, "1,%s", port);
    dsn_with(dsn, sizeof dsn, "localhost,127.0.0.1", ports);
    task_check_eq(connects(dsn), 0);
    /* Every name fails: the first one is named. */
    dsn_with(dsn, sizeof dsn, "a.invalid,b.invalid", port);
    cio_pg_conn *c;
    task_check_eq(cio_pg_connect(dsn, NULL, &c), CIO_PG_ECONN);
    task_check(strstr(cio_pg_conn_error(c)->message, "a.invalid") != NULL);
    cio_pg_close(c);
    /* No host in the string: PGHOST's list. */
    dsn_with(dsn, sizeof dsn, "", port);
    setenv("PGHOST", "no-such-host.invalid,localhost", 1);
    int rc = connects(dsn);
    unsetenv("PGHOST");
    task_check_eq(rc, 0);
    /* Or the service's, from the service file libpq would read (the
     * string's port wins over the service's). */
    char file[] = "/tmp/cio-pg-service-XXXXXX";
    int fd = mkstemp(file);
    task_check(fd >= 0);
    FILE *f = fdopen(fd, "w");
    task_check(f != NULL);
    fprintf(f, "# test\n[other]\nhost=no-such-host.invalid\n\n[cio]\n  host=localhost\n"
               "port=1\n[after]\nhost=no-such-host.invalid\n");
    fclose(f);
    setenv("PGSERVICEFILE", file, 1);
    dsn_with(dsn, sizeof dsn, "", port);
    snprintf(dsn + strlen(dsn), sizeof dsn - strlen(dsn), " service=cio");
    rc = connects(dsn);
    unsetenv("PGSERVICEFILE");
    unlink(file);
    task_check_eq(rc, 0);
    test_lookup_hook = NULL;
    task_check_eq(blocking_lookups, 0);
    return 0;
}

static void test_host_lists(void **state)
{
    (void)state;
    assert_int_equal(run_real(host_lists, NULL), 0);
}

/* No executor to look a name up on (the default pool could not start a
 * thread): the connection fails with the reason, nothing leaks, and the
 * name is not looked up on the loop thread instead. */
static int lookup_without_executor(void *arg)
{
    (void)arg;
    char port[16], dsn[700];
    task_check_eq(count_lookups_from_here(port), 0);
    dsn_with(dsn, sizeof dsn, "localhost,127.0.0.1", port);
    cio_pg_conn *c;
    task_check_eq(cio_pg_connect(dsn, NULL, &c), CIO_PG_ECONN);
    task_check(strstr(cio_pg_conn_error(c)->message, cio_strerror(-ENOMEM)) != NULL);
    cio_pg_close(c);
    test_lookup_hook = NULL;
    task_check_eq(blocking_lookups, 0);
    return 0;
}

static void test_lookup_without_executor(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* A fresh default pool in this child, whose threads cannot be
         * made: no address space for their stacks. */
        cio_executor_options o = {.threads = 1, .stack_size = (size_t)1 << 50};
        int rc = cio_executor_set_default_options(&o);
        if (rc == 0)
            rc = run_real(lookup_without_executor, NULL);
        exit(rc == 0 ? 0 : 1); /* exit(), not _exit(): LeakSanitizer checks */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_connect_errors(void **state)
{
    (void)state;
    assert_int_equal(run_real(connect_errors, NULL), 0);
}

static int basics(void *arg)
{
    (void)arg;
    PG_CONNECT(c, NULL);
    task_check(cio_pg_backend_pid(c) > 0);
    PG_OK(c, cio_pg_execute(c,
                            "DROP TABLE IF EXISTS q_users; CREATE TABLE q_users (id int "
                            "PRIMARY KEY, name text, active bool)",
                            CIO_PG_NOARGS));
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof name, "user%d", i);
        int rc =
            cio_pg_execute(c, "INSERT INTO q_users VALUES ($1, $2, $3)",
                           CIO_PG_ARGS(cio_pg_int4(i), cio_pg_text(name), cio_pg_bool(i % 2 == 0)));
        PG_OK(c, rc);
        task_check_eq(rc, 1);
    }
    int rc = cio_pg_execute(c, "UPDATE q_users SET name = name || '!' WHERE id < $1",
                            CIO_PG_ARGS(cio_pg_int4(3)));
    task_check_eq(rc, 3);
    cio_pg_result *r;
    rc = cio_pg_fetch(c, "SELECT id, name FROM q_users WHERE active = $1 ORDER BY id",
                      CIO_PG_ARGS(cio_pg_bool(true)), &r);
    task_check_eq(rc, 5);
    task_check_eq(cio_pg_nrows(r), 5);
    task_check_eq(cio_pg_colindex(r, "name"), 1);
    task_check(strcmp(cio_pg_colname(r, 0), "id") == 0);
    task_check_eq(cio_pg_coltype(r, 0), CIO_PG_INT4OID);
    const char *s;
    task_check_eq(cio_pg_get_text(r, 1, 1, &s, NULL), 0);
    task_check(strcmp(s, "user2!") == 0);
    cio_pg_result_free(r);
    rc =
        cio_pg_fetchrow(c, "SELECT * FROM q_users WHERE id = $1", CIO_PG_ARGS(cio_pg_int4(99)), &r);
    task_check_eq(rc, 0);
    task_check(r == NULL);
    rc = cio_pg_fetchrow(c, "SELECT * FROM q_users ORDER BY id DESC", CIO_PG_NOARGS, &r);
    task_check_eq(rc, 1);
    int32_t id;
    task_check_eq(cio_pg_get_int32(r, 0, 0, &id), 0);
    task_check_eq(id, 9);
    task_check_eq(cio_pg_nrows(r), 1); /* one row, however many came */
    task_check(cio_pg_get_int32(r, 1, 0, &id) < 0);
    cio_pg_result_free(r);

    /* Server errors: SQLSTATE, message, detail, hint; the connection stays
     * usable. */
    rc = cio_pg_execute(c, "INSERT INTO q_users VALUES ($1, 'dup', true)",
                        CIO_PG_ARGS(cio_pg_int4(1)));
    task_check_eq(rc, CIO_PG_ESERVER);
    const cio_pg_error *e = cio_pg_conn_error(c);
    task_check(strcmp(e->sqlstate, "23505") == 0);
    task_check(strstr(e->message, "duplicate key") != NULL);
    task_check(strstr(e->detail, "Key (id)=(1)") != NULL);
    task_check(strcmp(e->severity, "ERROR") == 0);
    rc = cio_pg_execute(c,
                        "DO $$ BEGIN RAISE EXCEPTION 'boom' USING DETAIL = 'the detail', "
                        "HINT = 'the hint', ERRCODE = '22012'; END $$",
                        CIO_PG_NOARGS);
    task_check_eq(rc, CIO_PG_ESERVER);
    task_check(strcmp(e->sqlstate, "22012") == 0);
    task_check(strcmp(e->message, "boom") == 0);
    task_check(strcmp(e->detail, "the detail") == 0);
    task_check(strcmp(e->hint, "the hint") == 0);
    rc = cio_pg_fetch(c, "SELEC 1", CIO_PG_NOARGS, &r);
    task_check_eq(rc, CIO_PG_ESERVER);
    task_check(r == NULL);
    task_check(strcmp(e->sqlstate, "42601") == 0);
    /* A COPY through execute is refused cleanly. */
    task_check_eq(cio_pg_execute(c, "COPY q_users TO STDOUT", CIO_PG_NOARGS), CIO_PG_EPROTO);
    int64_t n;
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT count(*) FROM q_users", CIO_PG_NOARGS, &n));
    task_check_eq(n, 10);
    task_check(cio_pg_conn_ok(c));
    task_check(strcmp(e->sqlstate, "") == 0); /* cleared by the next operation */
    cio_pg_close(c);
    return 0;
}

static void test_basics(void **state)
{
    (void)state;
    assert_int_equal(run_real(basics, NULL), 0);
}

/* Two tasks on one connection: the second gets a clear error. */
struct busy {
    cio_pg_conn *c;
    int rc;
};

static int busy_sleeper(void *arg)
{
    struct busy *b = arg;
    return cio_pg_execute(b->c, "SELECT pg_sleep(0.2)", CIO_PG_NOARGS);
}

static int busy_main(void *arg)
{
    (void)arg;
    PG_CONNECT(c, NULL);
    struct busy b = {.c = c};
    cio_task t = cio_spawn(busy_sleeper, &b);
    cio_sleep(0.05);
    cio_pg_result *r;
    task_check_eq(cio_pg_fetch(c, "SELECT 1", CIO_PG_NOARGS, &r), CIO_PG_EBUSY);
    task_check_eq(cio_pg_execute(c, "SELECT 1", CIO_PG_ARGS(cio_pg_int4(1))), CIO_PG_EBUSY);
    int64_t v;
    task_check_eq(cio_pg_fetchval_int64(c, "SELECT 1", CIO_PG_NOARGS, &v), CIO_PG_EBUSY);
    task_check_eq(cio_pg_close(c), CIO_PG_EBUSY); /* not from under its user */
    task_check(cio_join(t) >= 0);
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT 41 + 1", CIO_PG_NOARGS, &v));
    task_check_eq(v, 42);
    cio_pg_close(c);
    return 0;
}

static void test_busy(void **state)
{
    (void)state;
    assert_int_equal(run_real(busy_main, NULL), 0);
}

/* The statement cache survives a table changing under it and a DISCARD
 * ALL (what a PgBouncer reset does), and evicts past its size. */
static int cache_main(void *arg)
{
    (void)arg;
    cio_pg_options o = {.statement_cache_size = 2};
    PG_CONNECT(c, &o);
    PG_OK(c, cio_pg_execute(c,
                            "DROP TABLE IF EXISTS q_cache; CREATE TABLE q_cache (a int); "
                            "INSERT INTO q_cache VALUES (1)",
                            CIO_PG_NOARGS));
    cio_pg_result *r;
    PG_OK(c, cio_pg_fetch(c, "SELECT * FROM q_cache", CIO_PG_NOARGS, &r));
    cio_pg_result_free(r);
    PG_OK(c, cio_pg_execute(c, "ALTER TABLE q_cache ADD COLUMN b text DEFAULT 'x'", CIO_PG_NOARGS));
    int rc = cio_pg_fetch(c, "SELECT * FROM q_cache", CIO_PG_NOARGS, &r);
    PG_OK(c, rc);
    task_check_eq(cio_pg_ncols(r), 2);
    cio_pg_result_free(r);
    PG_OK(c, cio_pg_execute(c, "DISCARD ALL", CIO_PG_NOARGS));
    PG_OK(c, cio_pg_fetch(c, "SELECT * FROM q_cache", CIO_PG_NOARGS, &r));
    cio_pg_result_free(r);
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 5; i++) {
            int64_t v;
            char sql[64];
            snprintf(sql, sizeof sql, "SELECT %d + $1::int", i);
            PG_OK(c, cio_pg_fetchval_int64(c, sql, CIO_PG_ARGS(cio_pg_int4(1)), &v));
            task_check_eq(v, i + 1);
        }
    int64_t n;
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT count(*) FROM pg_prepared_statements", CIO_PG_NOARGS,
                                   &n));
    task_check(n <= 2);
    cio_pg_close(c);
    return 0;
}

static void test_statement_cache(void **state)
{
    (void)state;
    assert_int_equal(run_real(cache_main, NULL), 0);
}

/* executemany rewritten into multi-row INSERTs needs two statements at once
 * (the full chunk and the shorter last one): with a cache of one, preparing
 * the second must not evict (and free) the first while it is in use. The
 * array form needs the row statement (described for its parameter types)
 * and the array statement. Both forms: an int column goes as arrays, a
 * numeric one (text values) as multi-row VALUES. */
static int many_small_cache_main(void *arg)
{
    (void)arg;
    cio_pg_options o = {.statement_cache_size = 1};
    PG_CONNECT(c, &o);
    PG_OK(c, cio_pg_execute(c,
                            "DROP TABLE IF EXISTS q_many_small; CREATE TABLE q_many_small (id int "
                            "PRIMARY KEY); DROP TABLE IF EXISTS q_many_small_n; CREATE TABLE "
                            "q_many_small_n (id numeric PRIMARY KEY)",
                            CIO_PG_NOARGS));
    enum { N = 1203 }; /* two chunks of 500 and one of 203 */
    cio_pg_arg *args = calloc(N, sizeof *args);
    char(*nums)[16] = calloc(2 * N, 16);
    task_check(args != NULL && nums != NULL);
    for (int f = 0; f < 2; f++) {
        const char *table = f ? "q_many_small_n" : "q_many_small";
        char sql[64], count[64];
        snprintf(sql, sizeof sql, "INSERT INTO %s VALUES ($1)", table);
        snprintf(count, sizeof count, "SELECT count(*) FROM %s", table);
        for (int i = 0; i < N; i++) {
            snprintf(nums[i], 16, "%d", i);
            args[i] = f ? cio_pg_numeric(nums[i]) : cio_pg_int4(i);
        }
        int rc = cio_pg_executemany(c, sql, args, 1, N);
        if (rc < 0)
            print_error("executemany: %s: %s\n", cio_err_name(rc), cio_pg_conn_error(c)->message);
        task_check_eq(rc, N);
        /* Again: the cached statements are reused (or replaced) correctly. */
        for (int i = 0; i < N; i++) {
            snprintf(nums[N + i], 16, "%d", N + i);
            args[i] = f ? cio_pg_numeric(nums[N + i]) : cio_pg_int4(N + i);
        }
        task_check_eq(cio_pg_executemany(c, sql, args, 1, N), N);
        int64_t n;
        PG_OK(c, cio_pg_fetchval_int64(c, count, CIO_PG_NOARGS, &n));
        task_check_eq(n, 2 * N);
        /* The cache is back to its size once the batch is over. */
        PG_OK(c, cio_pg_fetchval_int64(c, "SELECT count(*) FROM pg_prepared_statements",
                                       CIO_PG_NOARGS, &n));
        task_check(n <= 1);
    }
    free(args);
    free(nums);
    cio_pg_close(c);
    return 0;
}

static void test_executemany_small_cache(void **state)
{
    (void)state;
    assert_int_equal(run_real(many_small_cache_main, NULL), 0);
}

/* executemany: a batch in one pipeline; an error in the middle undoes the
 * batch, names the row, and leaves the connection usable. */
static int many_main(void *arg)
{
    cio_pg_options *o = arg;
    PG_CONNECT(c, o);
    PG_OK(c, cio_pg_execute(c,
                            "DROP TABLE IF EXISTS q_many; CREATE TABLE q_many (id int "
                            "PRIMARY KEY, label text)",
                            CIO_PG_NOARGS));
    enum { N = 2000 };
    cio_pg_arg *args = calloc(2 * N, sizeof *args);
    char(*labels)[16] = calloc(N, 16);
    for (int i = 0; i < N; i++) {
        snprintf(labels[i], 16, "row %d", i);
        args[2 * i] = cio_pg_int4(i);
        args[2 * i + 1] = i == 7 ? cio_pg_null() : cio_pg_text(labels[i]);
    }
    int rc = cio_pg_executemany(c, "INSERT INTO q_many VALUES ($1, $2)", args, 2, N);
    task_check_eq(rc, N);
    int64_t n;
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT count(*) FROM q_many", CIO_PG_NOARGS, &n));
    task_check_eq(n, N);
    /* Row 1500 collides with an existing key. */
    for (int i = 0; i < N; i++)
        args[2 * i] = cio_pg_int4(i == 1500 ? 5 : N + i);
    rc = cio_pg_executemany(c, "INSERT INTO q_many VALUES ($1, $2)", args, 2, N);
    task_check_eq(rc, CIO_PG_ESERVER);
    task_check(strcmp(cio_pg_conn_error(c)->sqlstate, "23505") == 0);
    task_check_eq(cio_pg_conn_error(c)->row, 1500);
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT count(*) FROM q_many", CIO_PG_NOARGS, &n));
    task_check_eq(n, N); /* the batch was atomic */
    task_check(!cio_pg_in_transaction(c));
    rc = cio_pg_executemany(c, "UPDATE q_many SET label = $2 WHERE id = $1", args, 2, 10);
    task_check_eq(rc, 0);
    task_check_eq(cio_pg_executemany(c, "SELECT $1", args, 1, 0), 0);
    /* A batch interrupted half-way (a timeout, then a cancellation while
     * rows are still being sent): the pipeline is cancelled and drained,
     * nothing is inserted, the connection is reused. Both the multi-row
     * form and the row-per-statement form. */
    enum { BIG = 100000 };
    cio_pg_arg *big = calloc(2 * BIG, sizeof *big);
    for (int i = 0; i < BIG; i++) {
        big[2 * i] = cio_pg_int4(10 * N + i);
        big[2 * i + 1] = cio_pg_text("interrupted");
    }
    const char *forms[] = {"INSERT INTO q_many VALUES ($1, $2)",
                           "INSERT INTO q_many VALUES ($1, $2) RETURNING id"};
    for (int f = 0; f < 2; f++) {
        {
            CIO_TIMEOUT(limit, 0.02);
            rc = cio_pg_executemany(c, forms[f], big, 2, BIG);
        }
        /* Rolled back, or (when the server had committed it already) the
         * full count: never a part of the batch. */
        task_check(rc == -ETIMEDOUT || rc == BIG);
        task_check(cio_pg_conn_ok(c));
        PG_OK(c, cio_pg_fetchval_int64(c, "SELECT count(*) FROM q_many WHERE label = 'interrupted'",
                                       CIO_PG_NOARGS, &n));
        task_check_eq(n, rc == BIG ? BIG : 0);
        task_check(!cio_pg_in_transaction(c));
        PG_OK(c,
              cio_pg_execute(c, "DELETE FROM q_many WHERE label = 'interrupted'", CIO_PG_NOARGS));
    }
    free(big);
    /* Mixed types in one column are refused before anything is sent. */
    cio_pg_arg mixed[2] = {cio_pg_int4(1), cio_pg_int8(2)};
    task_check_eq(cio_pg_executemany(c, "SELECT $1", mixed, 1, 2), -EINVAL);
    free(args);
    free(labels);
    cio_pg_close(c);
    return 0;
}

static void test_executemany(void **state)
{
    (void)state;
    assert_int_equal(run_real(many_main, NULL), 0);
    cio_pg_options o = {.no_statement_cache = true};
    assert_int_equal(run_real(many_main, &o), 0);
}

/* The array form of executemany (INSERT ... SELECT unnest($1), ...) stores
 * exactly what one INSERT per row stores, for every type it carries, NULLs
 * and edge values included, across many statements; text of unknown type
 * takes the column's type (json, jsonb, varchar), a value of another type
 * than its column's is converted as an INSERT converts it. Values the array
 * form cannot carry (text into a date column) go as multi-row VALUES. */
static int many_forms_main(void *arg)
{
    (void)arg;
    PG_CONNECT(c, NULL);
    static const char cols[] =
        "(id int8, t text, b bool, f4 float4, f8 float8, d date, ts timestamp, tz timestamptz, "
        "u uuid, raw bytea, j jsonb, js json, v varchar(20), i2 int2, wide int8)";
    char ddl[512];
    snprintf(ddl, sizeof ddl,
             "DROP TABLE IF EXISTS q_forms; CREATE TABLE q_forms %s; DROP TABLE IF EXISTS "
             "q_forms_ref; CREATE TABLE q_forms_ref %s",
             cols, cols);
    PG_OK(c, cio_pg_execute(c, ddl, CIO_PG_NOARGS));
    enum { N = 3000, K = 15 };
    static const uint8_t uuid[16] = {0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t blob[5] = {0, 1, '\\', 0xff, '"'};
    cio_pg_arg *rows = calloc(N * K, sizeof *rows);
    task_check(rows != NULL);
    for (int i = 0; i < N; i++) {
        cio_pg_arg *a = rows + i * K;
        a[0] = cio_pg_int8(i == 1 ? INT64_MIN : (int64_t)i * 1000000007LL);
        a[1] = cio_pg_text(i % 3 ? "tab\there \"quoted\" \\ {braces}, comma" : "\xc3\xa9t\xc3\xa9");
        a[2] = cio_pg_bool(i & 1);
        a[3] = cio_pg_float4(i == 2 ? -0.0f : (float)i / 7.0f);
        a[4] = cio_pg_float8(i == 2 ? 1e308 : i / 3.0);
        a[5] = cio_pg_date(i == 4 ? INT32_MAX : i - 1000);
        a[6] = cio_pg_timestamp(i == 4 ? INT64_MAX : (int64_t)i * -1000001);
        a[7] = cio_pg_timestamptz(i == 4 ? INT64_MIN : (int64_t)i * 1000001);
        a[8] = cio_pg_uuid(uuid);
        a[9] = cio_pg_bytea(blob, i == 5 ? 0 : 5);
        a[10] = cio_pg_text(i & 1 ? "{\"k\": [1, 2, null]}" : "\"s\"");
        a[11] = cio_pg_json("{\"a\" : 1}");
        a[12] = cio_pg_textn(i % 5 ? "varchar value" : "", i % 5 ? 13 : 0);
        a[13] = cio_pg_int2((int16_t)(i - 1500));
        a[14] = cio_pg_int4(i == 6 ? INT32_MIN : i); /* into int8: converted */
        if (i % 97 == 0 || i == N - 1)               /* NULLs in every column, some rows all NULL */
            for (int k = i % 2; k < K; k++)
                a[k] = cio_pg_null();
    }
    static const char ins[] = "INSERT INTO q_forms VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                              "$10, $11, $12, $13, $14, $15)";
    int rc = cio_pg_executemany(c, ins, rows, K, N);
    PG_OK(c, rc);
    task_check_eq(rc, N);
    int64_t n;
    PG_OK(c, cio_pg_fetchval_int64(c,
                                   "SELECT count(*) FROM pg_prepared_statements WHERE statement "
                                   "LIKE 'INSERT INTO q_forms SELECT unnest($1), %'",
                                   CIO_PG_NOARGS, &n));
    task_check_eq(n, 1); /* the array form was used */
    /* The reference: one statement per row (RETURNING keeps the form). */
    static const char ref[] = "INSERT INTO q_forms_ref VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                              "$9, $10, $11, $12, $13, $14, $15) RETURNING 1";
    rc = cio_pg_executemany(c, ref, rows, K, N);
    PG_OK(c, rc);
    task_check_eq(rc, N);
    static const char cmp[] =
        "SELECT count(*) FROM ((SELECT id, t, b, f4, f8, d, ts, tz, u, raw, j, js::text, v, i2, "
        "wide FROM q_forms EXCEPT ALL SELECT id, t, b, f4, f8, d, ts, tz, u, raw, j, js::text, v, "
        "i2, wide FROM q_forms_ref) UNION ALL (SELECT id, t, b, f4, f8, d, ts, tz, u, raw, j, "
        "js::text, v, i2, wide FROM q_forms_ref EXCEPT ALL SELECT id, t, b, f4, f8, d, ts, tz, u, "
        "raw, j, js::text, v, i2, wide FROM q_forms)) x";
    PG_OK(c, cio_pg_fetchval_int64(c, cmp, CIO_PG_NOARGS, &n));
    task_check_eq(n, 0);
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT count(*) FROM q_forms WHERE wide = -2147483648",
                                   CIO_PG_NOARGS, &n));
    task_check_eq(n, 1);
    free(rows);

    /* Text into a date column: multi-row VALUES, the server parses it. */
    PG_OK(c, cio_pg_execute(c, "DROP TABLE IF EXISTS q_dates; CREATE TABLE q_dates (d date, i int)",
                            CIO_PG_NOARGS));
    cio_pg_arg dates[3 * 2] = {
        cio_pg_text("2020-01-02"), cio_pg_int4(1), cio_pg_null(), cio_pg_int4(2),
        cio_pg_text("1999-12-31"), cio_pg_null()};
    task_check_eq(cio_pg_executemany(c, "INSERT INTO q_dates (d, i) VALUES ($1, $2)", dates, 2, 3),
                  3);
    PG_OK(c, cio_pg_fetchval_int64(c,
                                   "SELECT count(*) FROM q_dates WHERE d = '2020-01-02' AND i = 1 "
                                   "OR d IS NULL AND i = 2 OR d = '1999-12-31' AND i IS NULL",
                                   CIO_PG_NOARGS, &n));
    task_check_eq(n, 3);
    PG_OK(c, cio_pg_fetchval_int64(c,
                                   "SELECT count(*) FROM pg_prepared_statements WHERE statement "
                                   "LIKE 'INSERT INTO q_dates%unnest%'",
                                   CIO_PG_NOARGS, &n));
    task_check_eq(n, 0);

    /* A failing row inside the caller's transaction: no replay is possible
     * (the transaction is aborted), the error names the first row of the
     * failing statement, and the transaction is left to the caller. */
    PG_OK(c, cio_pg_execute(c,
                            "DROP TABLE IF EXISTS q_forms_pk; CREATE TABLE q_forms_pk (id int "
                            "PRIMARY KEY, s text)",
                            CIO_PG_NOARGS));
    enum { M = 20000 };
    cio_pg_arg *pk = calloc(2 * M, sizeof *pk);
    task_check(pk != NULL);
    for (int i = 0; i < M; i++) {
        pk[2 * i] = cio_pg_int4(i == 15000 ? 3 : i);
        pk[2 * i + 1] = cio_pg_text("some text to fill the statements");
    }
    PG_OK(c, cio_pg_execute(c, "BEGIN", CIO_PG_NOARGS));
    rc = cio_pg_executemany(c, "INSERT INTO q_forms_pk VALUES ($1, $2)", pk, 2, M);
    task_check_eq(rc, CIO_PG_ESERVER);
    task_check(strcmp(cio_pg_conn_error(c)->sqlstate, "23505") == 0);
    /* Which row of the failing multi-row statement is not known. */
    task_check_eq(cio_pg_conn_error(c)->row, -1);
    task_check(cio_pg_in_transaction(c));
    PG_OK(c, cio_pg_execute(c, "ROLLBACK", CIO_PG_NOARGS));
    /* A statement per row (not an INSERT of the rewritable shape): the
     * failing row is named inside a transaction too. */
    PG_OK(c, cio_pg_execute(c, "BEGIN", CIO_PG_NOARGS));
    cio_pg_arg divisors[] = {cio_pg_int4(1), cio_pg_int4(2), cio_pg_int4(0), cio_pg_int4(4)};
    rc = cio_pg_executemany(c, "SELECT 1 / $1", divisors, 1, 4);
    task_check_eq(rc, CIO_PG_ESERVER);
    task_check(strcmp(cio_pg_conn_error(c)->sqlstate, "22012") == 0);
    task_check_eq(cio_pg_conn_error(c)->row, 2);
    PG_OK(c, cio_pg_execute(c, "ROLLBACK", CIO_PG_NOARGS));
    /* Outside one: replayed a row per statement, the row named exactly. */
    rc = cio_pg_executemany(c, "INSERT INTO q_forms_pk VALUES ($1, $2)", pk, 2, M);
    task_check_eq(rc, CIO_PG_ESERVER);
    task_check_eq(cio_pg_conn_error(c)->row, 15000);
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT count(*) FROM q_forms_pk", CIO_PG_NOARGS, &n));
    task_check_eq(n, 0);
    free(pk);
    cio_pg_close(c);
    return 0;
}

static void test_executemany_forms(void **state)
{
    (void)state;
    assert_int_equal(run_real(many_forms_main, NULL), 0);
}

/* Transactions: commit, rollback on error return, savepoints, rollback on
 * timeout, commit of a failed transaction. */
static int tx_insert_fail(cio_pg_conn *c)
{
    int rc;
    CIO_PG_TRANSACTION(tx, c, rc);
    if (rc < 0)
        return rc;
    if ((rc = cio_pg_execute(c, "INSERT INTO q_tx VALUES (100)", CIO_PG_NOARGS)) < 0)
        return rc;
    return cio_pg_execute(c, "INSERT INTO q_tx VALUES (1/0)", CIO_PG_NOARGS); /* fails */
}

static int tx_main(void *arg)
{
    (void)arg;
    PG_CONNECT(c, NULL);
    PG_OK(c,
          cio_pg_execute(c, "DROP TABLE IF EXISTS q_tx; CREATE TABLE q_tx (v int)", CIO_PG_NOARGS));
    int rc;
    {
        CIO_PG_TRANSACTION(tx, c, rc);
        PG_OK(c, rc);
        task_check(cio_pg_in_transaction(c));
        PG_OK(c, cio_pg_execute(c, "INSERT INTO q_tx VALUES (1)", CIO_PG_NOARGS));
        {
            CIO_PG_TRANSACTION(sp, c, rc); /* a savepoint */
            PG_OK(c, rc);
            PG_OK(c, cio_pg_execute(c, "INSERT INTO q_tx VALUES (2)", CIO_PG_NOARGS));
        } /* rolled back to the savepoint */
        {
            CIO_PG_TRANSACTION(sp, c, rc);
            PG_OK(c, cio_pg_execute(c, "INSERT INTO q_tx VALUES (3)", CIO_PG_NOARGS));
            PG_OK(c, cio_pg_tx_commit(&sp));
            task_check_eq(cio_pg_tx_commit(&sp), CIO_PG_ESTATE);
        }
        PG_OK(c, cio_pg_tx_commit(&tx));
    }
    task_check(!cio_pg_in_transaction(c));
    task_check_eq(tx_insert_fail(c), CIO_PG_ESERVER);
    task_check(!cio_pg_in_transaction(c));
    /* Timeout inside a transaction: the query is cancelled and the
     * transaction rolled back by the guard. */
    {
        CIO_PG_TRANSACTION(tx, c, rc);
        PG_OK(c, rc);
        PG_OK(c, cio_pg_execute(c, "INSERT INTO q_tx VALUES (200)", CIO_PG_NOARGS));
        CIO_TIMEOUT(limit, 0.1);
        task_check_eq(cio_pg_execute(c, "SELECT pg_sleep(10)", CIO_PG_NOARGS), -ETIMEDOUT);
    }
    task_check(!cio_pg_in_transaction(c));
    /* Commit of a failed transaction says so. */
    {
        CIO_PG_TRANSACTION(tx, c, rc);
        task_check_eq(cio_pg_execute(c, "SELECT 1/0", CIO_PG_NOARGS), CIO_PG_ESERVER);
        task_check_eq(cio_pg_tx_commit(&tx), CIO_PG_ESERVER);
        task_check(strcmp(cio_pg_conn_error(c)->sqlstate, "25P02") == 0);
    }
    /* The block form: committed at the end, rolled back on break. */
    CIO_PG_WITH_TRANSACTION(rc, c)
    {
        if ((rc = cio_pg_execute(c, "INSERT INTO q_tx VALUES (4)", CIO_PG_NOARGS)) < 0)
            break;
    }
    task_check_eq(rc, 0);
    CIO_PG_WITH_TRANSACTION(rc, c)
    {
        if ((rc = cio_pg_execute(c, "INSERT INTO q_tx VALUES (5)", CIO_PG_NOARGS)) < 0)
            break;
        if ((rc = cio_pg_execute(c, "INSERT INTO q_tx VALUES (1/0)", CIO_PG_NOARGS)) < 0)
            break;
    }
    task_check_eq(rc, CIO_PG_ESERVER);
    task_check(!cio_pg_in_transaction(c));
    int64_t four;
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT count(*) FROM q_tx WHERE v IN (4, 5)", CIO_PG_NOARGS,
                                   &four));
    task_check_eq(four, 1);
    PG_OK(c, cio_pg_execute(c, "DELETE FROM q_tx WHERE v = 4", CIO_PG_NOARGS));
    cio_pg_tx tx;
    PG_OK(c, cio_pg_tx_begin(c, &tx, "BEGIN ISOLATION LEVEL SERIALIZABLE"));
    char *iso;
    PG_OK(c, cio_pg_fetchval_text(c, "SHOW transaction_isolation", CIO_PG_NOARGS, &iso));
    task_check(strcmp(iso, "serializable") == 0);
    free(iso);
    PG_OK(c, cio_pg_tx_rollback(&tx));
    task_check_eq(cio_pg_tx_rollback(&tx), CIO_PG_ESTATE);
    cio_pg_result *r;
    rc = cio_pg_fetch(c, "SELECT v FROM q_tx ORDER BY v", CIO_PG_NOARGS, &r);
    task_check_eq(rc, 2);
    int32_t v;
    cio_pg_get_int32(r, 0, 0, &v);
    task_check_eq(v, 1);
    cio_pg_get_int32(r, 1, 0, &v);
    task_check_eq(v, 3);
    cio_pg_result_free(r);
    cio_pg_close(c);
    return 0;
}

static void test_transactions(void **state)
{
    (void)state;
    assert_int_equal(run_real(tx_main, NULL), 0);
}

/* Streaming: single-row mode and a server-side cursor, to the end, closed
 * early, and failing in the middle. */
static int stream_main(void *arg)
{
    (void)arg;
    PG_CONNECT(c, NULL);
    for (int batch = 0; batch <= 100; batch += 100) {
        cio_pg_stream *st;
        PG_OK(c, cio_pg_stream_open(c, "SELECT g, g::text FROM generate_series(1, $1) g",
                                    CIO_PG_ARGS(cio_pg_int4(20000)), batch, &st));
        task_check_eq(cio_pg_execute(c, "SELECT 1", CIO_PG_NOARGS), CIO_PG_EBUSY);
        int64_t sum = 0, rows = 0;
        cio_pg_result *res;
        int n;
        while ((n = cio_pg_stream_next(st, &res)) > 0) {
            task_check(n <= (batch ? batch : 1));
            for (int i = 0; i < n; i++) {
                int32_t g;
                task_check_eq(cio_pg_get_int32(res, i, 0, &g), 0);
                sum += g;
                rows++;
            }
        }
        task_check_eq(n, 0);
        task_check_eq(rows, 20000);
        task_check_eq(sum, 20000LL * 20001 / 2);
        task_check_eq(cio_pg_stream_next(st, &res), 0);
        PG_OK(c, cio_pg_stream_close(st));
        task_check(!cio_pg_in_transaction(c));

        /* Closed early: the rest is cancelled, the connection is clean. */
        PG_OK(c, cio_pg_stream_open(c, "SELECT g FROM generate_series(1, 10000000) g",
                                    CIO_PG_NOARGS, batch, &st));
        for (int i = 0; i < 5; i++)
            task_check(cio_pg_stream_next(st, &res) > 0);
        int64_t t0 = now_ns();
        PG_OK(c, cio_pg_stream_close(st));
        task_check(now_ns() - t0 < 5000000000LL);
        int64_t v;
        PG_OK(c, cio_pg_fetchval_int64(c, "SELECT 7", CIO_PG_NOARGS, &v));
        task_check_eq(v, 7);
        task_check(!cio_pg_in_transaction(c));

        /* An error in the middle of the rows. */
        PG_OK(c, cio_pg_stream_open(c, "SELECT 1 / (5000 - g) FROM generate_series(1, 10000) g",
                                    CIO_PG_NOARGS, batch, &st));
        rows = 0;
        while ((n = cio_pg_stream_next(st, &res)) > 0)
            rows += n;
        task_check_eq(n, CIO_PG_ESERVER);
        task_check(strcmp(cio_pg_conn_error(c)->sqlstate, "22012") == 0);
        task_check(rows < 5000);
        cio_pg_stream_close(st);
        PG_OK(c, cio_pg_fetchval_int64(c, "SELECT 8", CIO_PG_NOARGS, &v));
        task_check(!cio_pg_in_transaction(c));
    }
    /* Row by row across chunks. */
    for (int batch = 0; batch <= 100; batch += 100) {
        cio_pg_stream *st;
        PG_OK(c, cio_pg_stream_open(c, "SELECT g FROM generate_series(1, 250) g", CIO_PG_NOARGS,
                                    batch, &st));
        cio_pg_result *rows;
        int row, n, count = 0;
        int64_t sum = 0, g;
        while ((n = cio_pg_stream_row(st, &rows, &row)) > 0) {
            task_check_eq(cio_pg_get_int64(rows, row, 0, &g), 0);
            sum += g;
            count++;
        }
        task_check_eq(n, 0);
        task_check_eq(count, 250);
        task_check_eq(sum, 250 * 251 / 2);
        PG_OK(c, cio_pg_stream_close(st));
    }
    /* A timeout while the consumer waits for rows: the query is cancelled,
     * close cleans up, the connection is reused. */
    for (int batch = 0; batch <= 10; batch += 10) {
        cio_pg_stream *st;
        PG_OK(c, cio_pg_stream_open(c, "SELECT g, pg_sleep(0.02) FROM generate_series(1, 1000) g",
                                    CIO_PG_NOARGS, batch, &st));
        cio_pg_result *res;
        int n, rows = 0;
        {
            CIO_TIMEOUT(limit, 0.15);
            while ((n = cio_pg_stream_next(st, &res)) > 0)
                rows += n;
        }
        task_check_eq(n, -ETIMEDOUT);
        task_check(rows < 1000);
        int64_t t0 = now_ns();
        PG_OK(c, cio_pg_stream_close(st));
        task_check(now_ns() - t0 < 3000000000LL);
        int64_t v;
        PG_OK(c, cio_pg_fetchval_int64(c, "SELECT 9", CIO_PG_NOARGS, &v));
        task_check_eq(v, 9);
        task_check(!cio_pg_in_transaction(c));
    }
    cio_pg_close(c);
    return 0;
}

static void test_stream(void **state)
{
    (void)state;
    assert_int_equal(run_real(stream_main, NULL), 0);
}

/* COPY: records in (every kind of value, escaping), raw in, abort, out. */
struct sink {
    size_t bytes, lines;
    char first[256];
};

static int sink_fn(void *ctx, const char *data, size_t len)
{
    struct sink *s = ctx;
    if (s->lines == 0)
        snprintf(s->first, sizeof s->first, "%.*s", (int)len, data);
    s->bytes += len;
    for (size_t i = 0; i < len; i++)
        s->lines += data[i] == '\n';
    return 0;
}

static int stop_sink(void *ctx, const char *data, size_t len)
{
    (void)data;
    (void)len;
    return ++*(int *)ctx >= 3 ? -ECONNABORTED : 0;
}

static int copy_main(void *arg)
{
    (void)arg;
    PG_CONNECT(c, NULL);
    PG_OK(c, cio_pg_execute(c,
                            "DROP TABLE IF EXISTS q_copy; CREATE TABLE q_copy (id int8, t text, "
                            "b bool, f float8, d date, ts timestamptz, u uuid, raw bytea, "
                            "n numeric)",
                            CIO_PG_NOARGS));
    enum { N = 5000, K = 9 };
    static const uint8_t uuid[16] = {0xde, 0xad, 0xbe, 0xef};
    static const uint8_t blob[4] = {0, 1, '\\', 0xff};
    cio_pg_arg *rows = calloc(N * K, sizeof *rows);
    for (int i = 0; i < N; i++) {
        cio_pg_arg *a = rows + i * K;
        a[0] = cio_pg_int8((int64_t)i * 1000000007LL);
        a[1] = i == 3 ? cio_pg_null() : cio_pg_text("tab\there\nnew \\ line");
        a[2] = cio_pg_bool(i & 1);
        a[3] = cio_pg_float8(i / 3.0);
        a[4] = cio_pg_date(i - 1000);
        a[5] = cio_pg_timestamptz((int64_t)i * 1000001);
        a[6] = cio_pg_uuid(uuid);
        a[7] = cio_pg_bytea(blob, 4);
        a[8] = cio_pg_numeric("3.14159");
    }
    static const char *const cols[] = {"id", "t", "b", "f", "d", "ts", "u", "raw", "n"};
    int rc = cio_pg_copy_records(c, "q_copy", cols, K, rows, N);
    PG_OK(c, rc);
    task_check_eq(rc, N);
    cio_pg_result *r;
    rc = cio_pg_fetch(c, "SELECT * FROM q_copy WHERE id = $1 OR id = 3000000021 ORDER BY id",
                      CIO_PG_ARGS(cio_pg_int8(4999LL * 1000000007LL)), &r);
    task_check_eq(rc, 2);
    const char *s;
    task_check(cio_pg_is_null(r, 0, 1)); /* row 3 */
    task_check_eq(cio_pg_get_text(r, 1, 1, &s, NULL), 0);
    task_check(strcmp(s, "tab\there\nnew \\ line") == 0);
    double f;
    task_check_eq(cio_pg_get_double(r, 1, 3, &f), 0);
    task_check(f == 4999 / 3.0);
    int32_t d;
    task_check_eq(cio_pg_get_date(r, 1, 4, &d), 0);
    task_check_eq(d, 3999);
    int64_t ts;
    task_check_eq(cio_pg_get_timestamp(r, 1, 5, &ts), 0);
    task_check_eq(ts, 4999LL * 1000001);
    uint8_t u[16];
    task_check_eq(cio_pg_get_uuid(r, 1, 6, u), 0);
    task_check(memcmp(u, uuid, 16) == 0);
    const uint8_t *p;
    size_t n;
    task_check_eq(cio_pg_get_bytea(r, 1, 7, &p, &n), 0);
    task_check(n == 4 && memcmp(p, blob, 4) == 0);
    cio_pg_result_free(r);
    free(rows);

    /* Every value binary-encodable: COPY's binary format. */
    PG_OK(c, cio_pg_execute(c,
                            "DROP TABLE IF EXISTS q_copy2; CREATE TABLE q_copy2 (id int4, t "
                            "text, j jsonb, v varchar(20), ts timestamp)",
                            CIO_PG_NOARGS));
    cio_pg_arg rows2[3 * 5] = {
        cio_pg_int4(1),         cio_pg_text("a\tb"),    cio_pg_text("{\"k\": 1}"),
        cio_pg_textn("xyz", 2), cio_pg_timestamp(-5),   cio_pg_null(),
        cio_pg_null(),          cio_pg_jsonb("[1, 2]"), cio_pg_text("v"),
        cio_pg_null(),          cio_pg_int4(-3),        cio_pg_text(""),
        cio_pg_null(),          cio_pg_null(),          cio_pg_timestamp(INT64_MAX),
    };
    rc = cio_pg_copy_records(c, "q_copy2", NULL, 5, rows2, 3);
    PG_OK(c, rc);
    task_check_eq(rc, 3);
    rc = cio_pg_fetch(c, "SELECT id, t, j, v, ts FROM q_copy2 ORDER BY id NULLS FIRST",
                      CIO_PG_NOARGS, &r);
    task_check_eq(rc, 3);
    task_check(cio_pg_is_null(r, 0, 0) && cio_pg_is_null(r, 0, 1));
    task_check_eq(cio_pg_get_json(r, 0, 2, &s, NULL), 0);
    task_check(strcmp(s, "[1, 2]") == 0);
    task_check_eq(cio_pg_get_text(r, 2, 1, &s, NULL), 0);
    task_check(strcmp(s, "a\tb") == 0);
    task_check_eq(cio_pg_get_json(r, 2, 2, &s, NULL), 0);
    task_check(strcmp(s, "{\"k\": 1}") == 0);
    task_check_eq(cio_pg_get_text(r, 2, 3, &s, NULL), 0);
    task_check(strcmp(s, "xy") == 0);
    task_check_eq(cio_pg_get_timestamp(r, 2, 4, &ts), 0);
    task_check_eq(ts, -5);
    task_check_eq(cio_pg_get_timestamp(r, 1, 4, &ts), 0);
    task_check(ts == INT64_MAX);
    task_check_eq(cio_pg_get_text(r, 1, 1, &s, NULL), 0);
    task_check(s[0] == 0);
    cio_pg_result_free(r);

    /* A COPY interrupted half-way is aborted: nothing loaded. */
    {
        enum { BIG = 300000 };
        cio_pg_arg *big = calloc(2 * BIG, sizeof *big);
        for (int i = 0; i < BIG; i++) {
            big[2 * i] = cio_pg_int4(-1);
            big[2 * i + 1] = cio_pg_text("a row long enough to make this COPY take a while");
        }
        static const char *const c2[] = {"id", "t"};
        {
            CIO_TIMEOUT(limit, 0.01);
            rc = cio_pg_copy_records(c, "q_copy2", c2, 2, big, BIG);
        }
        free(big);
        task_check_eq(rc, -ETIMEDOUT);
        int64_t left;
        PG_OK(c, cio_pg_fetchval_int64(c, "SELECT count(*) FROM q_copy2 WHERE id = -1",
                                       CIO_PG_NOARGS, &left));
        task_check_eq(left, 0);
    }

    /* Raw COPY in CSV, in odd chunks. */
    cio_pg_copy *cp;
    PG_OK(c, cio_pg_copy_in(c, "COPY q_copy (id, t) FROM STDIN (FORMAT csv)", &cp));
    task_check_eq(cio_pg_execute(c, "SELECT 1", CIO_PG_NOARGS), CIO_PG_EBUSY);
    const char *csv = "1,\"a,b\"\n2,plain\n3,\n";
    for (size_t off = 0, len = strlen(csv); off < len; off += 3)
        PG_OK(c, cio_pg_copy_write(cp, csv + off, len - off < 3 ? len - off : 3));
    rc = cio_pg_copy_end(cp, NULL);
    task_check_eq(rc, 3);
    /* Aborted COPY: nothing loaded. */
    PG_OK(c, cio_pg_copy_in(c, "COPY q_copy (id) FROM STDIN", &cp));
    PG_OK(c, cio_pg_copy_write(cp, "42\n", 3));
    task_check_eq(cio_pg_copy_end(cp, "changed my mind"), CIO_PG_ESERVER);
    int64_t cnt;
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT count(*) FROM q_copy", CIO_PG_NOARGS, &cnt));
    task_check_eq(cnt, N + 3);
    /* Bad data: the server's error. */
    PG_OK(c, cio_pg_copy_in(c, "COPY q_copy (id) FROM STDIN", &cp));
    PG_OK(c, cio_pg_copy_write(cp, "notanumber\n", 11));
    task_check_eq(cio_pg_copy_end(cp, NULL), CIO_PG_ESERVER);
    task_check(strcmp(cio_pg_conn_error(c)->sqlstate, "22P02") == 0);
    /* Not a COPY. */
    task_check_eq(cio_pg_copy_in(c, "SELECT 1", &cp), CIO_PG_EPROTO);

    /* Export. */
    struct sink sk = {0};
    rc = cio_pg_copy_out(c, "COPY (SELECT id, t FROM q_copy ORDER BY id LIMIT 100) TO STDOUT",
                         sink_fn, &sk);
    task_check_eq(rc, 100);
    task_check_eq(sk.lines, 100);
    task_check(strcmp(sk.first, "0\ttab\\there\\nnew \\\\ line\n") == 0);
    int calls = 0;
    rc = cio_pg_copy_out(c, "COPY (SELECT g FROM generate_series(1, 1000000) g) TO STDOUT",
                         stop_sink, &calls);
    task_check_eq(rc, -ECONNABORTED);
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT 1", CIO_PG_NOARGS, &cnt));
    cio_pg_close(c);
    return 0;
}

static void test_copy(void **state)
{
    (void)state;
    assert_int_equal(run_real(copy_main, NULL), 0);
}

/* LISTEN/NOTIFY between two connections. */
static int notifier(void *arg)
{
    (void)arg;
    PG_CONNECT(c, NULL);
    cio_sleep(0.05);
    PG_OK(c, cio_pg_notify(c, "cio chan", "hello 'world'"));
    PG_OK(c, cio_pg_notify(c, "cio chan", "second"));
    cio_pg_close(c);
    return 0;
}

static int listen_main(void *arg)
{
    (void)arg;
    PG_CONNECT(c, NULL);
    PG_OK(c, cio_pg_listen(c, "cio chan"));
    cio_pg_notification *n;
    task_check_eq(cio_pg_wait_notification(c, 0.05, &n), -ETIMEDOUT);
    cio_task t = cio_spawn(notifier, NULL);
    PG_OK(c, cio_pg_wait_notification(c, 5.0, &n));
    task_check(strcmp(n->channel, "cio chan") == 0);
    task_check(strcmp(n->payload, "hello 'world'") == 0);
    task_check(n->sender_pid > 0 && n->sender_pid != cio_pg_backend_pid(c));
    free(n);
    task_check_eq(cio_join(t), 0);
    PG_OK(c, cio_pg_wait_notification(c, 5.0, &n));
    task_check(strcmp(n->payload, "second") == 0);
    free(n);
    /* One that arrives during another query is kept for later. */
    PG_OK(c, cio_pg_notify(c, "cio chan", "self"));
    PG_OK(c, cio_pg_wait_notification(c, 1.0, &n));
    task_check(strcmp(n->payload, "self") == 0);
    free(n);
    PG_OK(c, cio_pg_unlisten(c, NULL));
    PG_OK(c, cio_pg_notify(c, "cio chan", "unheard"));
    task_check_eq(cio_pg_wait_notification(c, 0.1, &n), -ETIMEDOUT);
    cio_pg_close(c);
    return 0;
}

static void test_listen(void **state)
{
    (void)state;
    assert_int_equal(run_real(listen_main, NULL), 0);
}

/* A long pg_sleep cancelled by a timeout and by cio_cancel: the call
 * returns at once, the server stops the query, the connection is reused. */
static int sleeper(void *arg)
{
    return cio_pg_execute(arg, "SELECT pg_sleep(30)", CIO_PG_NOARGS);
}

/* Whether the session of `of` runs pg_sleep, asked from the connection c
 * (other tests' sessions may sleep too: only that backend counts). */
static int sleeps_of(cio_pg_conn *c, cio_pg_conn *of, int64_t *n)
{
    return cio_pg_fetchval_int64(c,
                                 "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                                 "AND query LIKE 'SELECT pg_sleep%' AND pid = $1",
                                 CIO_PG_ARGS(cio_pg_int4(cio_pg_backend_pid(of))), n);
}

static int cancel_main(void *arg)
{
    (void)arg;
    PG_CONNECT(c, NULL);
    PG_CONNECT(watch, NULL);
    int64_t t0 = now_ns(), n;
    {
        CIO_TIMEOUT(limit, 0.2);
        task_check_eq(cio_pg_execute(c, "SELECT pg_sleep(30)", CIO_PG_NOARGS), -ETIMEDOUT);
    }
    task_check(now_ns() - t0 < 3000000000LL);
    task_check(cio_pg_conn_ok(c));
    PG_OK(watch, sleeps_of(watch, c, &n));
    task_check_eq(n, 0);
    int64_t v;
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT 5", CIO_PG_NOARGS, &v));
    task_check_eq(v, 5);

    cio_task t = cio_spawn(sleeper, c);
    cio_sleep(0.2);
    PG_OK(watch, sleeps_of(watch, c, &n));
    task_check_eq(n, 1);
    t0 = now_ns();
    cio_cancel(t);
    task_check_eq(cio_join(t), -ECANCELED);
    task_check(now_ns() - t0 < 3000000000LL);
    PG_OK(watch, sleeps_of(watch, c, &n));
    task_check_eq(n, 0);
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT 6", CIO_PG_NOARGS, &v));
    task_check_eq(v, 6);
    /* Prepared (extended protocol) queries too. */
    {
        CIO_TIMEOUT(limit, 0.1);
        task_check_eq(cio_pg_execute(c, "SELECT pg_sleep($1)", CIO_PG_ARGS(cio_pg_float8(30))),
                      -ETIMEDOUT);
    }
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT 7", CIO_PG_NOARGS, &v));
    task_check_eq(v, 7);
    cio_pg_close(c);
    cio_pg_close(watch);
    return 0;
}

/* Whether the session of `of` runs a query, asked from the connection c. */
static int active_of(cio_pg_conn *c, cio_pg_conn *of, int64_t *n)
{
    return cio_pg_fetchval_int64(c,
                                 "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                                 "AND pid = $1",
                                 CIO_PG_ARGS(cio_pg_int4(cio_pg_backend_pid(of))), n);
}

/* Runs the function that swallows a cancel, for 0.3 s at most. */
static int sleep_past_cancel(void *arg)
{
    CIO_TIMEOUT(limit, 0.3);
    return cio_pg_execute(arg, "SELECT pg_temp.sleep_past_cancel(30)", CIO_PG_NOARGS);
}

/* A cancel request that reaches the backend before it has begun the query
 * (still reading it) is ignored, and the query then runs to its end. The
 * function below ignores the first cancel on purpose (it is the session's
 * own, in pg_temp: the io_uring twin of this test may run at the same
 * time). The connection must ask again while it drains, so that the server
 * stops within about a second, instead of the connection being dropped
 * after its drain bound with the query still running on the server. */
static int ignored_cancel_main(void *arg)
{
    (void)arg;
    PG_CONNECT(c, NULL);
    PG_CONNECT(watch, NULL);
    PG_OK(c, cio_pg_execute(c,
                            "CREATE FUNCTION pg_temp.sleep_past_cancel(s float8) RETURNS void "
                            "LANGUAGE plpgsql AS $$ BEGIN "
                            "BEGIN PERFORM pg_sleep(s); "
                            "EXCEPTION WHEN query_canceled THEN PERFORM pg_sleep(s); END; "
                            "END $$",
                            CIO_PG_NOARGS));
    int64_t t0 = now_ns(), n;
    cio_task t = cio_spawn(sleep_past_cancel, c);
    cio_sleep(0.15);
    PG_OK(watch, active_of(watch, c, &n));
    task_check_eq(n, 1); /* running, as the check below must see it no more */
    task_check_eq(cio_join(t), -ETIMEDOUT);
    task_check(now_ns() - t0 < 5000000000LL);
    task_check(cio_pg_conn_ok(c));
    PG_OK(watch, active_of(watch, c, &n));
    task_check_eq(n, 0);
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT 8", CIO_PG_NOARGS, &n));
    task_check_eq(n, 8);
    cio_pg_close(c);
    cio_pg_close(watch);
    return 0;
}

static void test_cancel_ignored_once(void **state)
{
    (void)state;
    assert_int_equal(run_real(ignored_cancel_main, NULL), 0);
}

/* One query timed out: its cancel is sent, and the helper thread that sent
 * it stays a while for more. */
static int timed_out_query(void *arg)
{
    (void)arg;
    PG_CONNECT(c, NULL);
    PG_CONNECT(watch, NULL);
    int64_t t0 = now_ns(), n;
    {
        CIO_TIMEOUT(limit, 0.1);
        task_check_eq(cio_pg_execute(c, "SELECT pg_sleep(30)", CIO_PG_NOARGS), -ETIMEDOUT);
    }
    task_check(now_ns() - t0 < 3000000000LL);
    PG_OK(watch, sleeps_of(watch, c, &n));
    task_check_eq(n, 0);
    cio_pg_close(c);
    cio_pg_close(watch);
    return 0;
}

/* A child forked while the parent's cancel helper waits for more work has
 * no such helper: its own cancels must start one, not wait for it (they
 * waited the whole 5 s bound, and the query ran on). */
static void test_cancel_after_fork(void **state)
{
    (void)state;
    assert_int_equal(run_real(timed_out_query, NULL), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        exit(run_real(timed_out_query, NULL) == 0 ? 0 : 1);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* asyncpg's command_timeout: every operation gets a deadline. */
static int command_timeout_main(void *arg)
{
    (void)arg;
    cio_pg_options o = {.command_timeout = 0.2};
    PG_CONNECT(c, &o);
    int64_t t0 = now_ns(), v;
    task_check_eq(cio_pg_execute(c, "SELECT pg_sleep(5)", CIO_PG_NOARGS), -ETIMEDOUT);
    task_check(now_ns() - t0 < 2000000000LL);
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT 4", CIO_PG_NOARGS, &v));
    task_check_eq(v, 4);
    cio_pg_notification *n;
    task_check_eq(cio_pg_wait_notification(c, 5.0, &n), -ETIMEDOUT);
    /* A stream: each step has its own deadline. */
    cio_pg_stream *st;
    PG_OK(c, cio_pg_stream_open(c, "SELECT g, pg_sleep(0.05) FROM generate_series(1, 3) g",
                                CIO_PG_NOARGS, 0, &st));
    cio_pg_result *rows;
    int k, total = 0;
    while ((k = cio_pg_stream_next(st, &rows)) > 0)
        total += k;
    task_check_eq(k, 0);
    task_check_eq(total, 3);
    PG_OK(c, cio_pg_stream_close(st));
    cio_pg_close(c);
    return 0;
}

static void test_command_timeout(void **state)
{
    (void)state;
    assert_int_equal(run_real(command_timeout_main, NULL), 0);
}

/* A statement that completed before its timeout was noticed reports its
 * result, not -ETIMEDOUT: the answer says what the database holds. A task
 * hogging the loop makes the deadline pass while the reply waits unread. */
static int hog(void *arg)
{
    (void)arg;
    cio_sleep(0.01);
    int64_t t0 = now_ns();
    while (now_ns() - t0 < 150000000LL) /* 150 ms without yielding */
        ;
    return 0;
}

static int settle_main(void *arg)
{
    (void)arg;
    PG_CONNECT(c, NULL);
    PG_OK(c, cio_pg_execute(c, "DROP TABLE IF EXISTS q_settle; CREATE TABLE q_settle (v int)",
                            CIO_PG_NOARGS));
    for (int i = 0; i < 3; i++) {
        cio_task h = cio_spawn(hog, NULL);
        int rc;
        {
            CIO_TIMEOUT(limit, 0.05);
            rc = cio_pg_execute(c, "INSERT INTO q_settle VALUES ($1)", CIO_PG_ARGS(cio_pg_int4(i)));
        }
        task_check_eq(cio_join(h), 0);
        int64_t n;
        PG_OK(c, cio_pg_fetchval_int64(c, "SELECT count(*) FROM q_settle WHERE v = $1",
                                       CIO_PG_ARGS(cio_pg_int4(i)), &n));
        task_check_eq(rc, 1); /* it was inserted: so says the result */
        task_check_eq(n, 1);
    }
    cio_pg_close(c);
    return 0;
}

static void test_completed_before_timeout(void **state)
{
    (void)state;
    assert_int_equal(run_real(settle_main, NULL), 0);
}

static void test_cancel(void **state)
{
    (void)state;
    assert_int_equal(run_real(cancel_main, NULL), 0);
}

/* Everything over TLS (the fixture turns ssl on): libpq's non-blocking
 * TLS reads and writes driven by the loop, large results, a pipeline, COPY
 * and a server-side cancel. */
static int tls_main(void *arg)
{
    (void)arg;
    char dsn[600];
    snprintf(dsn, sizeof dsn, "%s sslmode=require", pg_dsn());
    cio_pg_conn *c;
    int rc = cio_pg_connect(dsn, NULL, &c);
    if (rc == CIO_PG_ECONN && strstr(cio_pg_conn_error(c)->message, "SSL")) {
        print_message("server without TLS: skipped\n");
        cio_pg_close(c);
        return 0;
    }
    task_check_eq(rc, 0);
    bool ssl;
    PG_OK(c, cio_pg_fetchval_bool(c, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                                  CIO_PG_NOARGS, &ssl));
    task_check(ssl);
    cio_pg_result *r;
    rc = cio_pg_fetch(c, "SELECT g, repeat('x', 100) FROM generate_series(1, 100000) g",
                      CIO_PG_NOARGS, &r);
    task_check_eq(rc, 100000);
    cio_pg_result_free(r);
    PG_OK(c, cio_pg_execute(c, "DROP TABLE IF EXISTS q_tls; CREATE TABLE q_tls (a int, b text)",
                            CIO_PG_NOARGS));
    enum { N = 20000 };
    cio_pg_arg *args = calloc(2 * N, sizeof *args);
    for (int i = 0; i < N; i++) {
        args[2 * i] = cio_pg_int4(i);
        args[2 * i + 1] = cio_pg_text("some text that makes the rows a little longer");
    }
    task_check_eq(cio_pg_executemany(c, "INSERT INTO q_tls VALUES ($1, $2)", args, 2, N), N);
    task_check_eq(cio_pg_executemany(c, "UPDATE q_tls SET b = $2 WHERE a = $1", args, 2, 2000),
                  2000);
    static const char *const cols[] = {"a", "b"};
    task_check_eq(cio_pg_copy_records(c, "q_tls", cols, 2, args, N), N);
    free(args);
    int64_t n;
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT count(*) FROM q_tls", CIO_PG_NOARGS, &n));
    task_check_eq(n, 2 * N);
    {
        CIO_TIMEOUT(limit, 0.2);
        task_check_eq(cio_pg_execute(c, "SELECT pg_sleep(30)", CIO_PG_NOARGS), -ETIMEDOUT);
    }
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT 3", CIO_PG_NOARGS, &n));
    task_check_eq(n, 3);
    /* TLS reads ahead: replies that arrive together (many records in one
     * read) are taken from OpenSSL's buffer without waiting for the
     * socket. A stream of small rows, a burst of notifications. */
    cio_pg_stream *st;
    PG_OK(c, cio_pg_stream_open(c, "SELECT g, repeat('y', 50) FROM generate_series(1, 20000) g",
                                CIO_PG_NOARGS, 0, &st));
    int64_t rows = 0;
    while ((rc = cio_pg_stream_next(st, &r)) > 0)
        rows += rc;
    task_check_eq(rc, 0);
    task_check_eq(rows, 20000);
    task_check_eq(cio_pg_stream_close(st), 0);
    PG_OK(c, cio_pg_listen(c, "tls_chan"));
    PG_OK(c,
          cio_pg_execute(c, "SELECT pg_notify('tls_chan', g::text) FROM generate_series(1, 50) g",
                         CIO_PG_NOARGS));
    for (int i = 1; i <= 50; i++) {
        cio_pg_notification *note;
        PG_OK(c, cio_pg_wait_notification(c, 5.0, &note));
        task_check_eq(atoi(note->payload), i);
        free(note);
    }
    cio_pg_close(c);
    /* Without TLS: the same calls, nothing to look at in OpenSSL. */
    snprintf(dsn, sizeof dsn, "%s sslmode=disable", pg_dsn());
    task_check_eq(cio_pg_connect(dsn, NULL, &c), 0);
    PG_OK(c, cio_pg_fetchval_bool(c, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                                  CIO_PG_NOARGS, &ssl));
    task_check(!ssl);
    rc = cio_pg_fetch(c, "SELECT g, repeat('x', 100) FROM generate_series(1, 100000) g",
                      CIO_PG_NOARGS, &r);
    task_check_eq(rc, 100000);
    cio_pg_result_free(r);
    cio_pg_close(c);
    return 0;
}

/* On a 64 KiB stack: libpq and OpenSSL fit (docs/pg.md). */
static int small_stack(void *arg)
{
    cio_spawn_options o = {.name = "pg-64k", .stack_size = 64 * 1024};
    return cio_join(cio_spawn_with(&o, (cio_task_fn)arg, NULL));
}

static void test_tls(void **state)
{
    (void)state;
    assert_int_equal(run_real(small_stack, (void *)tls_main), 0);
}

/* A statement of 8000 parameters: libpq 15 drops the connection while it
 * reads their description ("lost synchronization with server"), and then
 * returns no result for ever; waiting for the end of the prepare must
 * see the connection gone, not spin (which no timeout could stop: the
 * loop never suspended). Run in a child, killed if it hangs. */
static int many_params_main(void *arg)
{
    (void)arg;
    PG_CONNECT(c, NULL);
    enum { N = 8000, TOO_MANY = 65536 };
    cio_pg_arg *a = calloc(TOO_MANY, sizeof *a);
    char *sql = malloc((size_t)N * 8 + 64), *p = sql;
    task_check(a && sql);
    for (int i = 0; i < TOO_MANY; i++)
        a[i] = cio_pg_int4(i);
    p += sprintf(p, "SELECT array_length(ARRAY[");
    for (int i = 0; i < N; i++)
        p += sprintf(p, "%s$%d", i ? "," : "", i + 1);
    sprintf(p, "], 1)");
    int64_t v = 0;
    int rc;
    {
        CIO_TIMEOUT(limit, 10.0);
        rc = cio_pg_fetchval_int64(c, sql, a, N, &v);
    }
    /* A libpq that reads long descriptions runs it. */
    task_check(rc == CIO_PG_ECONN || (rc == 0 && v == N));
    if (rc == CIO_PG_ECONN)
        task_check(!cio_pg_conn_ok(c));
    cio_pg_close(c);
    /* More than the protocol carries: refused before anything is sent. */
    PG_CONNECT(c2, NULL);
    task_check_eq(cio_pg_execute(c2, "SELECT 1", a, TOO_MANY), -EINVAL);
    task_check(strstr(cio_pg_conn_error(c2)->message, "65535") != NULL);
    task_check(cio_pg_conn_ok(c2));
    free(a);
    free(sql);
    cio_pg_close(c2);
    return 0;
}

static void test_many_params(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        exit(run_real(many_params_main, NULL) == 0 ? 0 : 1);
    int status = 0;
    pid_t got = 0;
    for (int i = 0; i < 600 && (got = waitpid(pid, &status, WNOHANG)) == 0; i++)
        usleep(50000);
    if (got == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("the query with 8000 parameters hung");
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Arguments that cannot be sent are refused with -EINVAL, nothing sent,
 * the reason in cio_pg_conn_error(), and the connection usable. */
static int expect_invalid(cio_pg_conn *c, int rc, const char *why)
{
    if (rc != -EINVAL || !strstr(cio_pg_conn_error(c)->message, why) || !cio_pg_conn_ok(c)) {
        print_error("rc %d, message \"%s\", expected -EINVAL and \"%s\"\n", rc,
                    cio_pg_conn_error(c)->message, why);
        return -1;
    }
    return 0;
}

static int extra_args_main(void *arg)
{
    (void)arg;
    PG_CONNECT(c, NULL);
    PG_OK(c, cio_pg_execute(c, "DROP TABLE IF EXISTS q_args; CREATE TABLE q_args (a int, b int)",
                            CIO_PG_NOARGS));
    /* More arguments than the statement's placeholders (the statement is
     * prepared with every argument's type, which the server accepts). */
    const char *two = "2 arguments were passed";
    cio_pg_arg ab[] = {cio_pg_int4(1), cio_pg_int4(2), cio_pg_int4(3), cio_pg_int4(4)};
    const char *ins = "INSERT INTO q_args (a) VALUES ($1)";
    task_check_eq(expect_invalid(c, cio_pg_execute(c, ins, ab, 2), two), 0);
    task_check_eq(expect_invalid(c, cio_pg_executemany(c, ins, ab, 2, 2), two), 0);
    cio_pg_result *r = NULL;
    task_check_eq(expect_invalid(c, cio_pg_fetch(c, "SELECT $1::int", ab, 2, &r), two), 0);
    task_check(r == NULL);
    int64_t v;
    task_check_eq(
        expect_invalid(c,
                       cio_pg_fetchval_int64(c, "SELECT $1::int8",
                                             CIO_PG_ARGS(cio_pg_int8(7), cio_pg_text("x")), &v),
                       two),
        0);
    cio_pg_stream *st = (cio_pg_stream *)&st;
    task_check_eq(expect_invalid(c, cio_pg_stream_open(c, "SELECT $1::int", ab, 2, 1, &st), two),
                  0);
    task_check(st == NULL);
    task_check_eq(expect_invalid(c, cio_pg_execute(c, "SELECT 1", ab, 1), "has 0 parameters"), 0);
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT count(*) FROM q_args", CIO_PG_NOARGS, &v));
    task_check_eq(v, 0);
    /* Placeholders are counted as the server's lexer sees them: not in
     * strings, quoted names, comments or dollar quotes. */
    PG_OK(c, cio_pg_fetchval_int64(c,
                                   "SELECT /* $2 /* $3 */ */ length('$2''$3' || E'\\'$4' || $a$ "
                                   "$5 $a$ || U&'$6') + $1 AS \"x$7\"\"$8\" -- $9",
                                   CIO_PG_ARGS(cio_pg_int4(1)), &v));
    task_check_eq(v, 15);
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT $2::int8",
                                   CIO_PG_ARGS(cio_pg_int4(0), cio_pg_int8(5)), &v));
    task_check_eq(v, 5);
    /* A pooled query says so too. */
    cio_pg_pool *pool = NULL;
    task_check_eq(cio_pg_pool_create(pg_dsn(), NULL, &pool), 0);
    task_check_eq(cio_pg_pool_execute(pool, ins, ab, 2), -EINVAL);
    task_check_eq(cio_pg_pool_executemany(pool, ins, ab, 2, 2), -EINVAL);
    cio_pg_pool_close(pool);
    cio_pg_close(c);
    return 0;
}

static void test_extra_args(void **state)
{
    (void)state;
    assert_int_equal(run_real(extra_args_main, NULL), 0);
}

static int value_lengths_main(void *arg)
{
    (void)arg;
    PG_CONNECT(c, NULL);
    PG_OK(c, cio_pg_execute(c, "DROP TABLE IF EXISTS q_len; CREATE TABLE q_len (a int, b text)",
                            CIO_PG_NOARGS));
    int64_t v;
    /* Lengths the protocol's int32 cannot carry (4 GiB + 5 used to go as
     * 5 bytes, 2 GiB as a negative length); mapped, never touched. */
    size_t big = ((size_t)4 << 30) + 5;
    char *m =
        mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    task_check(m != MAP_FAILED);
    const char *too_long = "longer than 2147483647 bytes";
    task_check_eq(expect_invalid(c,
                                 cio_pg_fetchval_int64(c, "SELECT octet_length($1)",
                                                       CIO_PG_ARGS(cio_pg_bytea(m, big)), &v),
                                 too_long),
                  0);
    task_check_eq(
        expect_invalid(c,
                       cio_pg_fetchval_int64(c, "SELECT octet_length($1)",
                                             CIO_PG_ARGS(cio_pg_bytea(m, (size_t)2 << 30)), &v),
                       too_long),
        0);
    task_check_eq(
        expect_invalid(c,
                       cio_pg_fetchval_int64(c, "SELECT octet_length($1::text)",
                                             CIO_PG_ARGS(cio_pg_textn(m, (size_t)2 << 30)), &v),
                       too_long),
        0);
    cio_pg_arg rows[] = {cio_pg_int4(1), cio_pg_textn(m, big)};
    task_check_eq(expect_invalid(c, cio_pg_executemany(c, "SELECT $1, $2", rows, 2, 1), too_long),
                  0);
    const char *cols[] = {"a", "b"};
    task_check_eq(expect_invalid(c, cio_pg_copy_records(c, "q_len", cols, 2, rows, 1), too_long),
                  0);
    cio_pg_arg elems[] = {cio_pg_bytea(m, big)};
    task_check_eq(
        expect_invalid(
            c, cio_pg_execute(c, "SELECT $1", CIO_PG_ARGS(cio_pg_array(CIO_PG_BYTEAOID, elems, 1))),
            "array element longer"),
        0);
    munmap(m, big);
    cio_pg_close(c);
    return 0;
}

static void test_value_lengths(void **state)
{
    (void)state;
    assert_int_equal(run_real(value_lengths_main, NULL), 0);
}

/* executemany: no arguments at all (NULL args: no offset may be applied to
 * it); a column of one type. */
static int executemany_args_main(void *arg)
{
    (void)arg;
    PG_CONNECT(c, NULL);
    task_check_eq(cio_pg_executemany(c, "SELECT 1", CIO_PG_NOARGS, 3), 3);
    cio_pg_arg mixed[] = {cio_pg_int4(1), cio_pg_int8(2)};
    int rc = cio_pg_executemany(c, "SELECT $1", mixed, 1, 2);
    task_check_eq(expect_invalid(c, rc, "row 1, argument $1"), 0);
    task_check_eq(cio_pg_conn_error(c)->row, 1);
    cio_pg_close(c);
    return 0;
}

static void test_executemany_args(void **state)
{
    (void)state;
    assert_int_equal(run_real(executemany_args_main, NULL), 0);
}

/* Transaction modes are checked: the string is run as SQL. */
static int tx_modes_main(void *arg)
{
    (void)arg;
    PG_CONNECT(c, NULL);
    PG_OK(c, cio_pg_execute(c, "CREATE TABLE IF NOT EXISTS q_args (a int, b int)", CIO_PG_NOARGS));
    int64_t v;
    cio_pg_tx tx;
    task_check_eq(
        expect_invalid(c, cio_pg_tx_begin(c, &tx, "BEGIN; DROP TABLE q_args"), "transaction mode"),
        0);
    task_check(!tx.active_);
    task_check_eq(cio_pg_tx_begin(c, &tx, "COMMIT"), -EINVAL);
    task_check_eq(cio_pg_tx_begin(c, &tx, "BEGIN READ ONLY DROP"), -EINVAL);
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT count(*) FROM q_args", CIO_PG_NOARGS, &v));
    PG_OK(c, cio_pg_tx_begin(c, &tx,
                             "start transaction isolation level repeatable read, "
                             "read only, not deferrable;"));
    PG_OK(c, cio_pg_tx_rollback(&tx));
    PG_OK(c, cio_pg_tx_begin(c, &tx, " begin work read write"));
    PG_OK(c, cio_pg_tx_commit(&tx));
    cio_pg_close(c);
    return 0;
}

static void test_tx_modes(void **state)
{
    (void)state;
    assert_int_equal(run_real(tx_modes_main, NULL), 0);
}

/* Options no connection can use. */
static int bad_options_main(void *arg)
{
    (void)arg;
    cio_pg_conn *bad = (cio_pg_conn *)&bad;
    task_check_eq(cio_pg_connect(pg_dsn(), &(cio_pg_options){.connect_timeout = NAN}, &bad),
                  -EINVAL);
    task_check(bad == NULL);
    task_check_eq(cio_pg_connect(pg_dsn(), &(cio_pg_options){.command_timeout = NAN}, &bad),
                  -EINVAL);
    task_check_eq(cio_pg_connect(pg_dsn(), &(cio_pg_options){.statement_cache_size = -1}, &bad),
                  -EINVAL);
    return 0;
}

static void test_bad_options(void **state)
{
    (void)state;
    assert_int_equal(run_real(bad_options_main, NULL), 0);
}

/* Arrays in COPY's text format: a numeric value (text, to the numeric
 * column) keeps copy_records from the binary format, and array values
 * then go as array literals, every kind of element quoted and escaped. */
static int copy_text_arrays_main(void *arg)
{
    (void)arg;
    PG_CONNECT(c, NULL);
    PG_OK(c, cio_pg_execute(c,
                            "DROP TABLE IF EXISTS q_copy_arr; CREATE TABLE q_copy_arr (n numeric, "
                            "i int4[], t text[], b bytea[], ts timestamptz[], e int8[])",
                            CIO_PG_NOARGS));
    static const int32_t ints[] = {1, -2, 3};
    static const char *const texts[] = {"a,b", "q\"uo\\te", NULL, "", "NULL", "{x}", "tab\tnl\n"};
    static const uint8_t blob[] = {0, '\\', 0xff};
    cio_pg_arg bytes[] = {cio_pg_bytea(blob, 3), cio_pg_null()};
    cio_pg_arg stamps[] = {cio_pg_timestamptz(1500000), cio_pg_timestamptz(INT64_MAX)};
    cio_pg_arg row[] = {
        cio_pg_numeric("1.5"),
        cio_pg_int4_array(ints, 3),
        cio_pg_text_array(texts, 7),
        cio_pg_array(CIO_PG_BYTEAOID, bytes, 2),
        cio_pg_array(CIO_PG_TIMESTAMPTZOID, stamps, 2),
        cio_pg_int8_array(NULL, 0),
    };
    int rc = cio_pg_copy_records(c, "q_copy_arr", NULL, 6, row, 1);
    PG_OK(c, rc);
    task_check_eq(rc, 1);
    char *text = NULL;
    PG_OK(c, cio_pg_fetchval_text(c,
                                  "SELECT format('%s|%s|%s|%s|%s', n, i, t = $1, b, "
                                  "ts = ARRAY['1970-01-01 00:00:01.5+00', 'infinity']"
                                  "::timestamptz[]) || coalesce(e::text, 'null') FROM q_copy_arr",
                                  CIO_PG_ARGS(cio_pg_text_array(texts, 7)), &text));
    task_check(text != NULL);
    if (text && strcmp(text, "1.5|{1,-2,3}|t|{\"\\\\x005cff\",NULL}|tnull") != 0)
        print_error("got %s\n", text);
    task_check(text && strcmp(text, "1.5|{1,-2,3}|t|{\"\\\\x005cff\",NULL}|tnull") == 0);
    free(text);
    /* An element of another type than the array's is refused, explained. */
    cio_pg_arg wrong[] = {cio_pg_text("x")};
    cio_pg_arg bad[] = {cio_pg_numeric("1"), cio_pg_array(CIO_PG_INT4OID, wrong, 1),
                        cio_pg_null(),       cio_pg_null(),
                        cio_pg_null(),       cio_pg_null()};
    rc = cio_pg_copy_records(c, "q_copy_arr", NULL, 6, bad, 1);
    task_check_eq(rc, -EINVAL);
    task_check(strstr(cio_pg_conn_error(c)->message, "argument $2") != NULL);
    cio_pg_close(c);
    return 0;
}

static void test_copy_text_arrays(void **state)
{
    (void)state;
    assert_int_equal(run_real(copy_text_arrays_main, NULL), 0);
}

/* A connect_timeout in the connection string bounds the connect when the
 * options leave theirs at 0 (libpq applies it only in its blocking
 * connect); the options' own wins over it. The server accepts and never
 * answers. */
static int dsn_timeout_main(void *arg)
{
    (void)arg;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    task_check(ls >= 0 && bind(ls, (struct sockaddr *)&sa, sizeof sa) == 0 &&
               getsockname(ls, (struct sockaddr *)&sa, &sl) == 0 && listen(ls, 16) == 0);
    char dsn[200];
    snprintf(dsn, sizeof dsn,
             "host=127.0.0.1 port=%d user=x dbname=x sslmode=disable connect_timeout=2",
             ntohs(sa.sin_port));
    cio_pg_conn *c = NULL;
    double t0 = cio_time();
    int rc;
    {
        CIO_TIMEOUT(limit, 10.0);
        rc = cio_pg_connect(dsn, NULL, &c);
    }
    double took = cio_time() - t0;
    task_check_eq(rc, -ETIMEDOUT);
    task_check(took > 1.5 && took < 5.0);
    cio_pg_close(c);
    t0 = cio_time();
    {
        CIO_TIMEOUT(limit, 10.0);
        rc = cio_pg_connect(dsn, &(cio_pg_options){.connect_timeout = 0.5}, &c);
    }
    took = cio_time() - t0;
    task_check_eq(rc, -ETIMEDOUT);
    task_check(took < 1.5);
    cio_pg_close(c);
    close(ls);
    return 0;
}

static void test_dsn_connect_timeout(void **state)
{
    (void)state;
    assert_int_equal(run_real(dsn_timeout_main, NULL), 0);
}

int main(void)
{
    if (!pg_dsn()) {
        fprintf(stderr, "no PostgreSQL test cluster (run through ctest)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_errors),
        cmocka_unit_test(test_host_lists),
        cmocka_unit_test(test_lookup_without_executor),
        cmocka_unit_test(test_basics),
        cmocka_unit_test(test_busy),
        cmocka_unit_test(test_statement_cache),
        cmocka_unit_test(test_executemany),
        cmocka_unit_test(test_executemany_small_cache),
        cmocka_unit_test(test_executemany_forms),
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_listen),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_cancel_ignored_once),
        cmocka_unit_test(test_cancel_after_fork),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_command_timeout),
        cmocka_unit_test(test_completed_before_timeout),
        cmocka_unit_test(test_many_params),
        cmocka_unit_test(test_extra_args),
        cmocka_unit_test(test_value_lengths),
        cmocka_unit_test(test_executemany_args),
        cmocka_unit_test(test_tx_modes),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_dsn_connect_timeout),
        cmocka_unit_test(test_copy_text_arrays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
