/* A server restart while the pool is in use: callers get errors (never a
 * hang), the pool drops the dead connections, and once the server is back
 * queries succeed again. A quiet pool whose server goes away and stays
 * down for a while: the pool notices, retries with a backoff (no spin),
 * and restores min_size on its own once the server is back. This test
 * makes its own cluster, since it restarts it. */
#include "pg_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

static char state_file[256];

struct stats {
    cio_pg_pool *pool;
    bool stop;
    int ok, econn, eserver, other, hung;
};

static int worker(void *arg)
{
    struct stats *s = arg;
    while (!s->stop) {
        int rc;
        {
            CIO_TIMEOUT(limit, 10.0);
            CIO_PG_ACQUIRE(conn, s->pool, -1, rc);
            if (rc == 0) {
                int64_t v;
                rc = cio_pg_fetchval_int64(conn, "SELECT $1::int FROM pg_sleep(0.005)",
                                           CIO_PG_ARGS(cio_pg_int4(3)), &v);
            }
        }
        if (rc == 0)
            s->ok++;
        else if (rc == CIO_PG_ECONN)
            s->econn++;
        else if (rc == CIO_PG_ESERVER)
            s->eserver++;
        else if (rc == -ETIMEDOUT)
            s->hung++;
        else
            s->other++;
        if (rc < 0 && cio_sleep(0.02) < 0)
            break;
    }
    return 0;
}

static atomic_int restarted;

static void *fixture_thread(void *arg)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "sh %s %s \"$(sed -n 's/^DIR=//p' %s)\" >/dev/null 2>&1",
             CIO_PG_FIXTURE, (const char *)arg, state_file);
    int rc = system(cmd);
    atomic_store(&restarted, rc == 0 ? 1 : -1);
    return NULL;
}

static void *restart_thread(void *arg)
{
    (void)arg;
    return fixture_thread("restart");
}

/* Runs `pg_fixture.sh verb DIR` on a thread (the loop keeps running) and
 * waits for it: 0 on success. */
static int fixture(const char *verb)
{
    atomic_store(&restarted, 0);
    pthread_t th;
    if (pthread_create(&th, NULL, fixture_thread, (void *)verb) != 0)
        return -1;
    for (int i = 0; i < 1200 && atomic_load(&restarted) == 0; i++)
        cio_sleep(0.05);
    pthread_join(th, NULL);
    return atomic_load(&restarted) == 1 ? 0 : -1;
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int quiet_main(void *arg)
{
    (void)arg;
    char dsn[600];
    snprintf(dsn, sizeof dsn, "%s application_name=cio_quiet", pg_dsn());
    cio_pg_pool *p = NULL;
    cio_pg_pool_options o = {.min_size = 3, .max_size = 5};
    task_check_eq(cio_pg_pool_create(dsn, &o, &p), 0);
    task_check_eq(cio_pg_pool_idle(p), 3);
    /* The server goes away: nobody acquires, yet the pool sees it. */
    task_check_eq(fixture("halt"), 0);
    double t0 = cio_time();
    while (cio_pg_pool_size(p) > 0) {
        task_check(cio_time() - t0 < 5.0);
        task_check_eq(cio_sleep(0.02), 0);
    }
    /* It stays down: reconnects are retried with a backoff, not in a
     * loop (a refused connect to 127.0.0.1 takes microseconds: a spin
     * would burn the whole second). */
    double cpu0 = cpu_seconds();
    task_check_eq(cio_sleep(2.0), 0);
    double cpu = cpu_seconds() - cpu0;
    print_message("server down 2 s: %.3f s of CPU, pool error: %s\n", cpu, cio_pg_pool_error(p));
    task_check(cpu < 0.5);
    task_check_eq(cio_pg_pool_size(p), 0);
    task_check(cio_pg_pool_error(p)[0] != 0);
    cio_pg_conn *c;
    task_check_eq(cio_pg_pool_acquire(p, 2.0, &c), CIO_PG_ECONN);
    /* Back up: min_size returns without anyone asking. */
    task_check_eq(fixture("resume"), 0);
    t0 = cio_time();
    while (cio_pg_pool_idle(p) < 3) {
        task_check(cio_time() - t0 < 15.0);
        task_check_eq(cio_sleep(0.02), 0);
    }
    print_message("min_size back %.2f s after the server\n", cio_time() - t0);
    task_check_eq(cio_pg_pool_size(p), 3);
    cio_pg_conn *cs[3];
    for (int i = 0; i < 3; i++) {
        task_check_eq(cio_pg_pool_acquire(p, 1.0, &cs[i]), 0);
        int64_t n;
        int rc = cio_pg_fetchval_int64(
            cs[i], "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cio_quiet'",
            CIO_PG_NOARGS, &n);
        task_check_eq(rc, 0);
        task_check_eq(n, 3);
    }
    task_check_eq(cio_pg_pool_size(p), 3);
    for (int i = 0; i < 3; i++)
        task_check_eq(cio_pg_pool_release(cs[i]), 0);
    task_check_eq(cio_pg_pool_close(p), 0);
    return 0;
}

static void test_quiet_pool_server_down(void **state)
{
    (void)state;
    assert_int_equal(run_real(quiet_main, NULL), 0);
}

static int restart_main(void *arg)
{
    (void)arg;
    struct stats s = {0};
    cio_pg_pool_options o = {.min_size = 5, .max_size = 10};
    int rc = cio_pg_pool_create(pg_dsn(), &o, &s.pool);
    task_check_eq(rc, 0);
    enum { W = 20 };
    cio_task t[W];
    for (int i = 0; i < W; i++)
        t[i] = cio_spawn(worker, &s);
    cio_sleep(0.3);
    int before = s.ok;
    task_check(before > 0);
    pthread_t th;
    task_check_eq(pthread_create(&th, NULL, restart_thread, NULL), 0);
    for (int i = 0; i < 1200 && atomic_load(&restarted) == 0; i++)
        cio_sleep(0.05);
    pthread_join(th, NULL);
    task_check_eq(atomic_load(&restarted), 1);
    int at_restart = s.ok;
    cio_sleep(1.0);
    s.stop = true;
    for (int i = 0; i < W; i++)
        task_check_eq(cio_join(t[i]), 0);
    print_message("restart: ok %d (before %d, after restart %d), ECONN %d, ESERVER %d, "
                  "other %d, hung %d\n",
                  s.ok, before, s.ok - at_restart, s.econn, s.eserver, s.other, s.hung);
    task_check(s.ok - at_restart > 20);
    task_check_eq(s.hung, 0);
    task_check_eq(s.other, 0);
    task_check(s.econn + s.eserver > 0); /* in-flight queries saw the restart */
    task_check(cio_pg_pool_size(s.pool) <= 10);
    /* Every connection in the pool works now. */
    for (int i = 0; i < 10; i++) {
        CIO_PG_ACQUIRE(conn, s.pool, 5.0, rc);
        task_check_eq(rc, 0);
        int64_t v;
        task_check_eq(cio_pg_fetchval_int64(conn, "SELECT 1", CIO_PG_NOARGS, &v), 0);
    }
    task_check_eq(cio_pg_pool_close(s.pool), 0);
    return 0;
}

static void test_restart(void **state)
{
    (void)state;
    assert_int_equal(run_real(restart_main, NULL), 0);
}

int main(void)
{
    snprintf(state_file, sizeof state_file, "/tmp/cio-pg-restart.%d.env", (int)getpid());
    char cmd[512];
    snprintf(cmd, sizeof cmd, "sh %s start %s >/dev/null", CIO_PG_FIXTURE, state_file);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not start a PostgreSQL cluster\n");
        return 1;
    }
    FILE *f = fopen(state_file, "r");
    char line[600], dsn[600] = "";
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "DSN=", 4) == 0)
            snprintf(dsn, sizeof dsn, "%s", line + 4);
    if (f)
        fclose(f);
    dsn[strcspn(dsn, "\n")] = 0;
    setenv("CIO_PG_DSN", dsn, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart),
        cmocka_unit_test(test_quiet_pool_server_down),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    snprintf(cmd, sizeof cmd, "sh %s stop %s >/dev/null", CIO_PG_FIXTURE, state_file);
    if (system(cmd) != 0)
        fprintf(stderr, "could not stop the PostgreSQL cluster\n");
    return rc;
}
