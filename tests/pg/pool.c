/* The pool: the guard macro, exhaustion with acquire timeouts, the known
 * traps (a timeout racing a release, close after a cancelled acquire, two
 * tasks on one connection), close waiting for connections in use, 1,000
 * tasks on 20 connections, broken connections replaced, rollback on
 * release, idle expiry, and cancellation of a pooled query; the upkeep
 * (min_size restored, idle connections closed on time) and a storm of
 * cancelled queries. */
#include "pg_test.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

static cio_pg_pool *make_pool(int min, int max, double max_idle)
{
    cio_pg_pool *p = NULL;
    cio_pg_pool_options o = {.min_size = min, .max_size = max, .max_idle = max_idle};
    int rc = cio_pg_pool_create(pg_dsn(), &o, &p);
    if (rc)
        print_error("pool_create: %s %s\n", cio_err_name(rc), cio_pg_pool_error(p));
    return p;
}

static int query_one(cio_pg_pool *pool, int v)
{
    int rc;
    CIO_PG_ACQUIRE(conn, pool, 10.0, rc);
    if (rc < 0)
        return rc;
    int64_t out;
    rc = cio_pg_fetchval_int64(conn, "SELECT $1::int", CIO_PG_ARGS(cio_pg_int4(v)), &out);
    if (rc == 0 && out != v)
        rc = -EPROTO;
    return rc;
}

static int with_conn(cio_pg_pool *pool, int v)
{
    int rc;
    int64_t out = 0;
    CIO_PG_WITH_CONN(rc, conn, pool, 5.0)
    {
        rc = cio_pg_fetchval_int64(conn, "SELECT $1::int", CIO_PG_ARGS(cio_pg_int4(v)), &out);
        if (rc < 0)
            break;
    }
    return rc < 0 ? rc : (int)out;
}

static int init_conn(cio_pg_conn *conn, void *arg);

static int basics(void *arg)
{
    (void)arg;
    cio_pg_pool *p = make_pool(5, 20, 0);
    task_check(p != NULL);
    task_check_eq(cio_pg_pool_size(p), 5);
    task_check_eq(cio_pg_pool_idle(p), 5);
    task_check_eq(query_one(p, 3), 0);
    task_check_eq(cio_pg_pool_idle(p), 5);
    task_check_eq(with_conn(p, 77), 77);
    task_check_eq(cio_pg_pool_idle(p), 5);
    cio_pg_conn *a, *b;
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &a), 0);
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &b), 0);
    task_check(a != b);
    task_check_eq(cio_pg_pool_idle(p), 3);
    task_check_eq(cio_pg_close(a), -EINVAL); /* pooled: release it instead */
    task_check_eq(cio_pg_pool_release(a), 0);
    task_check_eq(cio_pg_pool_release(b), 0);
    task_check_eq(cio_pg_pool_release(NULL), -EINVAL);
    cio_pg_pool *bad = NULL;
    cio_pg_pool_options o = {.min_size = 3, .max_size = 2};
    task_check_eq(cio_pg_pool_create(pg_dsn(), &o, &bad), -EINVAL);
    task_check(bad == NULL);
    /* A pool that cannot open its min_size connections is handed out
     * anyway, closed, so that the caller can read why (as with
     * cio_pg_connect()); closing it frees it. */
    o = (cio_pg_pool_options){.min_size = 2};
    task_check_eq(cio_pg_pool_create("host=127.0.0.1 port=1 user=x", &o, &bad), CIO_PG_ECONN);
    task_check(bad != NULL);
    task_check(strstr(cio_pg_pool_error(bad), "127.0.0.1") != NULL);
    task_check_eq(cio_pg_pool_size(bad), 0);
    cio_pg_conn *none;
    task_check_eq(cio_pg_pool_acquire(bad, 1.0, &none), CIO_PG_ECLOSED);
    task_check(none == NULL);
    task_check_eq(cio_pg_pool_close(bad), 0);
    /* The server refuses the session (no such database): its message. */
    char dsn[600];
    snprintf(dsn, sizeof dsn, "%s dbname=no_such_db", pg_dsn());
    bad = NULL;
    task_check_eq(cio_pg_pool_create(dsn, &o, &bad), CIO_PG_ECONN);
    task_check(bad != NULL && strstr(cio_pg_pool_error(bad), "no_such_db") != NULL);
    task_check_eq(cio_pg_pool_close(bad), 0);
    /* An init callback that fails: the server's message. */
    int inits = -1;
    o = (cio_pg_pool_options){.min_size = 1, .init = init_conn, .init_arg = &inits};
    bad = NULL;
    task_check_eq(cio_pg_pool_create(pg_dsn(), &o, &bad), CIO_PG_ESERVER);
    task_check(bad != NULL && strstr(cio_pg_pool_error(bad), "division by zero") != NULL);
    task_check_eq(cio_pg_pool_close(bad), 0);

    /* A shortcut's failure is told by the pool, SQLSTATE and all, though
     * its connection went back (asyncpg's exception carries them). */
    task_check_eq(cio_pg_pool_query_error(p)->sqlstate[0], 0);
    task_check_eq(cio_pg_pool_execute(p, "SELECT 1/$1::int", CIO_PG_ARGS(cio_pg_int4(0))),
                  CIO_PG_ESERVER);
    const cio_pg_error *e = cio_pg_pool_query_error(p);
    task_check(!strcmp(e->sqlstate, "22012"));
    task_check(strstr(e->message, "division by zero") != NULL);
    task_check(!strcmp(e->severity, "ERROR"));
    int64_t one;
    task_check_eq(cio_pg_pool_fetchval_int64(p, "SELECT 1", NULL, 0, &one), 0);
    task_check_eq(cio_pg_pool_query_error(p)->sqlstate[0], 0); /* a success clears it */
    task_check(!strcmp(cio_pg_pool_query_error(p)->message, ""));
    task_check_eq(cio_pg_pool_query_error(NULL)->row, -1);
    task_check_eq(cio_pg_pool_close(p), 0);
    return 0;
}

static void test_basics(void **state)
{
    (void)state;
    assert_int_equal(run_real(basics, NULL), 0);
}

/* Exhaustion: the acquire times out after its timeout, FIFO waiters get
 * connections as they are released. */
struct holder {
    cio_pg_pool *pool;
    double hold;
    int rc;
};

static int hold_one(void *arg)
{
    struct holder *h = arg;
    int rc;
    CIO_PG_ACQUIRE(conn, h->pool, 5.0, rc);
    if (rc < 0)
        return rc;
    return cio_sleep(h->hold);
}

static int exhaustion(void *arg)
{
    (void)arg;
    cio_pg_pool *p = make_pool(0, 2, 0);
    task_check(p != NULL);
    struct holder h = {p, 0.3, 0};
    cio_task t1 = cio_spawn(hold_one, &h), t2 = cio_spawn(hold_one, &h);
    cio_sleep(0.05);
    task_check_eq(cio_pg_pool_size(p), 2);
    cio_pg_conn *c;
    double t0 = cio_time();
    task_check_eq(cio_pg_pool_acquire(p, 0.1, &c), -ETIMEDOUT);
    task_check(c == NULL);
    double waited = cio_time() - t0;
    task_check(waited >= 0.09 && waited < 1.0); /* a loaded machine runs late */
    task_check_eq(cio_pg_pool_acquire(p, 0, &c), -ETIMEDOUT);
    /* An enclosing timeout scope applies too. */
    {
        CIO_TIMEOUT(limit, 0.05);
        task_check_eq(cio_pg_pool_acquire(p, -1, &c), -ETIMEDOUT);
    }
    task_check_eq(cio_pg_pool_waiting(p), 0);
    /* Without a timeout: served when a holder releases. */
    task_check_eq(cio_pg_pool_acquire(p, -1, &c), 0);
    task_check(cio_time() - t0 >= 0.25);
    task_check_eq(cio_pg_pool_release(c), 0);
    task_check_eq(cio_join(t1), 0);
    task_check_eq(cio_join(t2), 0);
    task_check_eq(cio_pg_pool_close(p), 0);
    return 0;
}

/* A slot freed by a dropped connection goes to the first waiter (which
 * opens a new connection in it), not to whoever asks next. */
struct order {
    cio_pg_pool *pool;
    int seq[4], n;
};

static int ordered(void *arg)
{
    struct order *o = arg;
    int rc, me = cio_task_name(cio_current())[0] - '0';
    CIO_PG_ACQUIRE(conn, o->pool, 5.0, rc);
    if (rc < 0)
        return rc;
    o->seq[o->n++] = me;
    int64_t v;
    return cio_pg_fetchval_int64(conn, "SELECT 1", CIO_PG_NOARGS, &v);
}

static int slot_fifo(void *arg)
{
    (void)arg;
    cio_pg_pool *p = make_pool(1, 1, 0);
    task_check(p != NULL);
    cio_pg_conn *a;
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &a), 0);
    struct order o = {.pool = p};
    cio_task w1 = cio_spawn_with(&(cio_spawn_options){.name = "1"}, ordered, &o);
    cio_sleep(0.01);
    cio_task w2 = cio_spawn_with(&(cio_spawn_options){.name = "2"}, ordered, &o);
    cio_sleep(0.01);
    task_check_eq(cio_pg_pool_waiting(p), 2);
    /* a breaks: its release frees the slot, which goes to w1. */
    task_check_eq(cio_pg_execute(a, "SELECT pg_terminate_backend(pg_backend_pid())", CIO_PG_NOARGS),
                  CIO_PG_ECONN);
    task_check_eq(cio_pg_pool_release(a), 0);
    task_check_eq(cio_pg_pool_size(p), 1); /* reserved for w1 */
    cio_pg_conn *c;
    task_check_eq(cio_pg_pool_acquire(p, 0, &c), -ETIMEDOUT); /* no stealing */
    task_check_eq(cio_join(w1), 0);
    task_check_eq(cio_join(w2), 0);
    task_check_eq(o.n, 2);
    task_check_eq(o.seq[0], 1);
    task_check_eq(o.seq[1], 2);
    task_check_eq(cio_pg_pool_close(p), 0);
    return 0;
}

static void test_slot_fifo(void **state)
{
    (void)state;
    assert_int_equal(run_real(slot_fifo, NULL), 0);
}

static void test_exhaustion(void **state)
{
    (void)state;
    assert_int_equal(run_real(exhaustion, NULL), 0);
}

/* Trap 1: an acquire whose timeout expires on the same loop turn as a
 * release: the connection is never lost. */
struct racer {
    cio_pg_pool *pool;
    double t;
    int got, timed_out;
};

static int race_waiter(void *arg)
{
    struct racer *r = arg;
    cio_pg_conn *c;
    int rc = cio_pg_pool_acquire(r->pool, r->t, &c);
    if (rc == 0) {
        r->got++;
        return cio_pg_pool_release(c);
    }
    if (rc == -ETIMEDOUT) {
        r->timed_out++;
        return 0;
    }
    return rc;
}

static int race(void *arg)
{
    (void)arg;
    cio_pg_pool *p = make_pool(1, 1, 0);
    task_check(p != NULL);
    struct racer r = {.pool = p};
    for (int i = 0; i < 200; i++) {
        cio_pg_conn *c;
        task_check_eq(cio_pg_pool_acquire(p, 1.0, &c), 0);
        r.t = 0.002 * (i % 3);
        cio_task w = cio_spawn(race_waiter, &r);
        cio_sleep(r.t); /* wake on the same turn as the waiter's timeout */
        task_check_eq(cio_pg_pool_release(c), 0);
        task_check_eq(cio_join(w), 0);
        task_check_eq(cio_pg_pool_size(p), 1);
        task_check_eq(cio_pg_pool_idle(p), 1); /* nobody holds it */
        task_check_eq(cio_pg_pool_waiting(p), 0);
    }
    task_check_eq(r.got + r.timed_out, 200);
    task_check_eq(cio_pg_pool_close(p), 0);
    return 0;
}

static void test_timeout_races_release(void **state)
{
    (void)state;
    assert_int_equal(run_real(race, NULL), 0);
}

/* Trap 2: closing a pool while an acquire was cancelled does not hang;
 * waiters get CIO_PG_ECLOSED; close waits for connections in use. */
static int waiter(void *arg)
{
    cio_pg_conn *c;
    int rc = cio_pg_pool_acquire(arg, -1, &c);
    if (rc == 0)
        cio_pg_pool_release(c);
    return rc;
}

static int release_later(void *arg)
{
    cio_sleep(0.05);
    return cio_pg_pool_release(arg);
}

static int close_main(void *arg)
{
    (void)arg;
    cio_pg_pool *p = make_pool(1, 1, 0);
    task_check(p != NULL);
    cio_pg_conn *c;
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &c), 0);
    cio_task cancelled = cio_spawn(waiter, p);
    cio_task closed = cio_spawn(waiter, p);
    cio_sleep(0.02);
    task_check_eq(cio_pg_pool_waiting(p), 2);
    cio_cancel(cancelled);
    task_check_eq(cio_join(cancelled), -ECANCELED);
    task_check_eq(cio_pg_pool_waiting(p), 1);
    /* Release from another task later: close must wait for it. */
    cio_task releaser = cio_spawn(release_later, c);
    task_check_eq(cio_pg_pool_close(p), 0);
    task_check_eq(cio_join(closed), CIO_PG_ECLOSED);
    task_check_eq(cio_join(releaser), 0);

    /* Close waits for a holder that keeps its connection a while. */
    p = make_pool(2, 2, 0);
    task_check(p != NULL);
    struct holder h2 = {p, 0.2, 0};
    cio_task t = cio_spawn(hold_one, &h2);
    cio_sleep(0.02);
    double t0 = cio_time();
    task_check_eq(cio_pg_pool_close(p), 0);
    task_check(cio_time() - t0 >= 0.15);
    task_check_eq(cio_join(t), 0);
    return 0;
}

static void test_close(void **state)
{
    (void)state;
    assert_int_equal(run_real(close_main, NULL), 0);
}

/* 1,000 tasks share 20 connections. */
struct many {
    cio_pg_pool *pool;
    int i;
};

static int many_task(void *arg)
{
    struct many *m = arg;
    for (int k = 0; k < 3; k++) {
        int rc = query_one(m->pool, m->i * 10 + k);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int many_main(void *arg)
{
    (void)arg;
    cio_pg_pool *p = make_pool(5, 20, 0);
    task_check(p != NULL);
    enum { N = 1000 };
    static struct many m[N];
    static cio_task t[N];
    for (int i = 0; i < N; i++) {
        m[i] = (struct many){p, i};
        t[i] = cio_spawn(many_task, &m[i]);
    }
    int failures = 0;
    for (int i = 0; i < N; i++)
        failures += cio_join(t[i]) != 0;
    task_check_eq(failures, 0);
    task_check(cio_pg_pool_size(p) <= 20);
    task_check_eq(cio_pg_pool_idle(p), cio_pg_pool_size(p));
    task_check_eq(cio_pg_pool_close(p), 0);
    return 0;
}

/* A connection released twice: the second release is refused and leaves
 * the pool as it was (it used to list the connection twice, hand it to
 * two acquirers, and free it while still listed). */
static int double_release_main(void *arg)
{
    (void)arg;
    cio_pg_pool *pool;
    int rc =
        cio_pg_pool_create(pg_dsn(), &(cio_pg_pool_options){.min_size = 1, .max_size = 2}, &pool);
    task_check_eq(rc, 0);
    cio_pg_conn *c;
    task_check_eq(cio_pg_pool_acquire(pool, 5, &c), 0);
    task_check_eq(cio_pg_pool_release(c), 0);
    task_check_eq(cio_pg_pool_release(c), -EINVAL);
    task_check(strstr(cio_pg_conn_error(c)->message, "not checked out") != NULL);
    task_check_eq(cio_pg_pool_size(pool), 1);
    task_check_eq(cio_pg_pool_idle(pool), 1);
    cio_pg_conn *a = NULL, *b = NULL;
    task_check_eq(cio_pg_pool_acquire(pool, 5, &a), 0);
    task_check_eq(cio_pg_pool_acquire(pool, 5, &b), 0);
    task_check(a != b);
    task_check_eq(cio_pg_pool_idle(pool), 0);
    task_check_eq(cio_pg_pool_release(a), 0);
    task_check_eq(cio_pg_pool_release(b), 0);
    task_check_eq(cio_pg_pool_release(b), -EINVAL);
    task_check_eq(cio_pg_pool_idle(pool), 2);
    /* Options no pool can use are refused at once. */
    cio_pg_pool *bad = pool;
    task_check_eq(cio_pg_pool_create(pg_dsn(), &(cio_pg_pool_options){.max_idle = NAN}, &bad),
                  -EINVAL);
    task_check(bad == NULL);
    cio_pg_pool_options o = {.conn = {.statement_cache_size = -1}};
    task_check_eq(cio_pg_pool_create(pg_dsn(), &o, &bad), -EINVAL);
    return cio_pg_pool_close(pool);
}

static void test_double_release(void **state)
{
    (void)state;
    assert_int_equal(run_real(double_release_main, NULL), 0);
}

/* A pool closed before its upkeep task has run: the task, cancelled
 * then, would never run to say it is gone, and the close waited for it
 * until the loop found the deadlock. */
static int close_at_once_main(void *arg)
{
    (void)arg;
    for (int min = 0; min < 2; min++) {
        cio_pg_pool *pool;
        cio_pg_pool_options o = {.min_size = min, .max_size = 2};
        task_check_eq(cio_pg_pool_create(pg_dsn(), &o, &pool), 0);
        double t0 = cio_time();
        task_check_eq(cio_pg_pool_close(pool), 0);
        task_check(cio_time() - t0 < 1);
    }
    return 0;
}

static void test_close_at_once(void **state)
{
    (void)state;
    assert_int_equal(run_real(close_at_once_main, NULL), 0);
}

static void test_1000_tasks_20_connections(void **state)
{
    (void)state;
    assert_int_equal(run_real(many_main, NULL), 0);
}

/* A connection the server killed is dropped on release and replaced; a
 * transaction left open is rolled back on release; an idle connection
 * past max_idle is replaced; a cancelled pooled query goes back clean. */
static int sleeper(void *arg)
{
    int rc;
    CIO_PG_ACQUIRE(conn, (cio_pg_pool *)arg, 5.0, rc);
    if (rc < 0)
        return rc;
    return cio_pg_execute(conn, "SELECT pg_sleep(30)", CIO_PG_NOARGS);
}

static int busy_query(void *arg)
{
    return cio_pg_execute(arg, "SELECT pg_sleep(0.2)", CIO_PG_NOARGS) == 1 ? 0 : -1;
}

static int tx_sleeper(void *arg)
{
    int rc;
    CIO_PG_ACQUIRE(conn, (cio_pg_pool *)arg, 5.0, rc);
    if (rc < 0)
        return rc;
    rc = cio_pg_execute(conn, "BEGIN; INSERT INTO p_tx VALUES (7)", CIO_PG_NOARGS);
    if (rc < 0)
        return rc;
    return cio_pg_execute(conn, "SELECT pg_sleep(30)", CIO_PG_NOARGS);
}

static int init_conn(cio_pg_conn *conn, void *arg)
{
    int *inits = arg;
    if (*inits < 0)
        return cio_pg_execute(conn, "SELECT 1/0", CIO_PG_NOARGS);
    ++*inits;
    return cio_pg_execute(conn, "SET application_name = 'cio-test'", CIO_PG_NOARGS);
}

static int lifecycle(void *arg)
{
    (void)arg;
    cio_pg_pool *p = make_pool(1, 3, 0);
    task_check(p != NULL);
    cio_pg_conn *a, *b;
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &a), 0);
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &b), 0);
    int victim = cio_pg_backend_pid(b);
    int64_t ok;
    PG_OK(a, cio_pg_fetchval_int64(a, "SELECT pg_terminate_backend($1)::int",
                                   CIO_PG_ARGS(cio_pg_int4(victim)), &ok));
    task_check_eq(ok, 1);
    int64_t v;
    task_check_eq(cio_pg_fetchval_int64(b, "SELECT 1", CIO_PG_NOARGS, &v), CIO_PG_ECONN);
    task_check(!cio_pg_conn_ok(b));
    task_check_eq(cio_pg_pool_release(b), 0);
    task_check_eq(cio_pg_pool_size(p), 1);
    /* An idle connection killed by the server is noticed at acquire. */
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &b), 0);
    victim = cio_pg_backend_pid(b);
    task_check_eq(cio_pg_pool_release(b), 0);
    PG_OK(a, cio_pg_fetchval_int64(a, "SELECT pg_terminate_backend($1)::int",
                                   CIO_PG_ARGS(cio_pg_int4(victim)), &ok));
    cio_sleep(0.1);
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &b), 0);
    task_check(cio_pg_backend_pid(b) != victim);
    PG_OK(b, cio_pg_fetchval_int64(b, "SELECT 2", CIO_PG_NOARGS, &v));
    /* A transaction left open is rolled back on release. */
    PG_OK(b, cio_pg_execute(b, "CREATE TABLE IF NOT EXISTS p_tx (v int); TRUNCATE p_tx",
                            CIO_PG_NOARGS));
    PG_OK(b, cio_pg_execute(b, "BEGIN; INSERT INTO p_tx VALUES (1)", CIO_PG_NOARGS));
    task_check(cio_pg_in_transaction(b));
    task_check_eq(cio_pg_pool_release(b), 0);
    PG_OK(a, cio_pg_fetchval_int64(a, "SELECT count(*) FROM p_tx", CIO_PG_NOARGS, &v));
    task_check_eq(v, 0);

    /* A listening connection stops listening when released. */
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &b), 0);
    PG_OK(b, cio_pg_listen(b, "pool_chan"));
    PG_OK(b, cio_pg_notify(b, "pool_chan", "x"));
    task_check_eq(cio_pg_pool_release(b), 0);
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &b), 0);
    PG_OK(b, cio_pg_fetchval_int64(b, "SELECT count(*) FROM pg_listening_channels()", CIO_PG_NOARGS,
                                   &v));
    task_check_eq(v, 0);
    cio_pg_notification *note;
    task_check_eq(cio_pg_wait_notification(b, 0.05, &note), -ETIMEDOUT);
    task_check_eq(cio_pg_pool_release(b), 0);
    task_check_eq(cio_pg_pool_release(a), 0);
    task_check_eq(cio_pg_pool_close(p), 0);

    /* Idle expiry. */
    p = make_pool(0, 2, 0.1);
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &a), 0);
    int pid = cio_pg_backend_pid(a);
    task_check_eq(cio_pg_pool_release(a), 0);
    cio_sleep(0.25);
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &a), 0);
    task_check(cio_pg_backend_pid(a) != pid);
    task_check_eq(cio_pg_pool_release(a), 0);
    task_check_eq(cio_pg_pool_close(p), 0);

    /* Cancelling a task in a pooled pg_sleep: the connection returns
     * clean and is reused. */
    p = make_pool(1, 1, 0);
    cio_task t = cio_spawn(sleeper, p);
    cio_sleep(0.1);
    double t0 = cio_time();
    cio_cancel(t);
    task_check_eq(cio_join(t), -ECANCELED);
    task_check(cio_time() - t0 < 3.0);
    task_check_eq(cio_pg_pool_size(p), 1);
    task_check_eq(query_one(p, 9), 0);
    /* Releasing a connection another task is using is refused. */
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &a), 0);
    cio_task busy = cio_spawn(busy_query, a);
    cio_sleep(0.05);
    task_check_eq(cio_pg_pool_release(a), CIO_PG_EBUSY);
    task_check_eq(cio_join(busy), 0);
    task_check_eq(cio_pg_pool_release(a), 0);
    /* Cancelled inside a transaction it left open: the release (from the
     * guard's cleanup, in the cancelled task) rolls it back. */
    t = cio_spawn(tx_sleeper, p);
    cio_sleep(0.1);
    cio_cancel(t);
    task_check_eq(cio_join(t), -ECANCELED);
    task_check_eq(cio_pg_pool_size(p), 1);
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &a), 0);
    task_check(!cio_pg_in_transaction(a));
    PG_OK(a, cio_pg_fetchval_int64(a, "SELECT count(*) FROM p_tx", CIO_PG_NOARGS, &v));
    task_check_eq(v, 0);
    task_check_eq(cio_pg_pool_release(a), 0);
    task_check_eq(cio_pg_pool_close(p), 0);

    /* max_lifetime: an old connection is replaced when released. */
    cio_pg_pool_options lo = {.max_size = 2, .max_lifetime = 0.1};
    task_check_eq(cio_pg_pool_create(pg_dsn(), &lo, &p), 0);
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &a), 0);
    cio_sleep(0.15);
    task_check_eq(cio_pg_pool_release(a), 0);
    task_check_eq(cio_pg_pool_size(p), 0);
    task_check_eq(cio_pg_pool_close(p), 0);

    /* init runs on every new connection; its failure fails the acquire. */
    int inits = 0;
    cio_pg_pool_options io = {.max_size = 2, .init = init_conn, .init_arg = &inits};
    task_check_eq(cio_pg_pool_create(pg_dsn(), &io, &p), 0);
    char *path;
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &a), 0);
    PG_OK(a, cio_pg_fetchval_text(a, "SHOW application_name", CIO_PG_NOARGS, &path));
    task_check(strcmp(path, "cio-test") == 0);
    free(path);
    task_check_eq(cio_pg_pool_release(a), 0);
    task_check_eq(inits, 1);
    inits = -1;                                        /* the next init fails */
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &a), 0); /* the idle one: no init */
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &b), CIO_PG_ESERVER);
    task_check_eq(cio_pg_pool_size(p), 1);
    task_check_eq(cio_pg_pool_release(a), 0);
    /* The shortcuts. */
    task_check_eq(
        cio_pg_pool_fetchval_int64(p, "SELECT $1::int8 + 1", CIO_PG_ARGS(cio_pg_int8(41)), &v), 0);
    task_check_eq(v, 42);
    cio_pg_result *res;
    task_check_eq(cio_pg_pool_fetch(p, "SELECT generate_series(1, 3)", CIO_PG_NOARGS, &res), 3);
    cio_pg_result_free(res);
    task_check_eq(cio_pg_pool_fetchrow(p, "SELECT 1 WHERE false", CIO_PG_NOARGS, &res), 0);
    task_check_eq(cio_pg_pool_execute(p, "SELECT 1", CIO_PG_NOARGS), 1);
    task_check_eq(cio_pg_pool_executemany(p, "SELECT $1::int", CIO_PG_ARGS(cio_pg_int4(1)), 1), 1);
    task_check_eq(cio_pg_pool_close(p), 0);

    /* PgBouncer mode: no statement cache, through the pool. */
    cio_pg_pool_options o = {.max_size = 2, .conn.no_statement_cache = true};
    task_check_eq(cio_pg_pool_create(pg_dsn(), &o, &p), 0);
    task_check_eq(query_one(p, 11), 0);
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &a), 0);
    PG_OK(a, cio_pg_fetchval_int64(a, "SELECT count(*) FROM pg_prepared_statements", CIO_PG_NOARGS,
                                   &v));
    task_check_eq(v, 0);
    task_check_eq(cio_pg_pool_release(a), 0);
    task_check_eq(cio_pg_pool_close(p), 0);
    return 0;
}

static void test_lifecycle(void **state)
{
    (void)state;
    assert_int_equal(run_real(lifecycle, NULL), 0);
}

static int close_pool(void *arg)
{
    return cio_pg_pool_close(arg);
}

/* A connection released with a stream or a COPY still open (asyncpg's
 * release resets the connection: open cursors and COPYs end, their
 * objects stop working): the release ends them on the server and hands
 * back a clean connection; the stream or copy handle only frees itself
 * afterwards, and using it says so. */
static int release_open_main(void *arg)
{
    (void)arg;
    cio_pg_pool *p = make_pool(1, 1, 0);
    task_check(p != NULL);
    cio_pg_conn *a;
    int64_t v;
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &a), 0);
    PG_OK(a, cio_pg_execute(a, "DROP TABLE IF EXISTS p_copy; CREATE TABLE p_copy (a int)",
                            CIO_PG_NOARGS));
    task_check_eq(cio_pg_pool_release(a), 0);
    const char *big = "SELECT g FROM generate_series(1, 100000) g";
    /* Single-row mode, rows still coming; a server-side cursor in its own
     * transaction; a cursor in the caller's transaction. */
    for (int mode = 0; mode < 3; mode++) {
        task_check_eq(cio_pg_pool_acquire(p, 1.0, &a), 0);
        int pid = cio_pg_backend_pid(a);
        if (mode == 2)
            PG_OK(a, cio_pg_execute(a, "BEGIN", CIO_PG_NOARGS));
        cio_pg_stream *st;
        PG_OK(a, cio_pg_stream_open(a, big, CIO_PG_NOARGS, mode ? 100 : 1, &st));
        cio_pg_result *rows;
        task_check(cio_pg_stream_next(st, &rows) > 0);
        task_check_eq(cio_pg_pool_release(a), 0);
        task_check_eq(cio_pg_pool_size(p), 1);
        task_check_eq(cio_pg_pool_idle(p), 1);
        task_check_eq(cio_pg_stream_next(st, &rows), CIO_PG_ESTATE);
        int row;
        task_check_eq(cio_pg_stream_row(st, &rows, &row), CIO_PG_ESTATE);
        /* The connection is clean and is the same session. */
        task_check_eq(cio_pg_pool_acquire(p, 1.0, &a), 0);
        task_check_eq(cio_pg_backend_pid(a), pid);
        task_check(!cio_pg_in_transaction(a));
        PG_OK(a, cio_pg_fetchval_int64(
                     a, "SELECT count(*) FROM pg_cursors WHERE name LIKE 'cio_cur_%'",
                     CIO_PG_NOARGS, &v));
        task_check_eq(v, 0);
        PG_OK(a, cio_pg_fetchval_int64(a, "SELECT 7", CIO_PG_NOARGS, &v));
        task_check_eq(v, 7);
        /* Closing the stream now frees it and does not touch the
         * connection, which another user may hold meanwhile. */
        task_check_eq(cio_pg_stream_close(st), 0);
        PG_OK(a, cio_pg_fetchval_int64(a, "SELECT 8", CIO_PG_NOARGS, &v));
        task_check_eq(v, 8);
        task_check_eq(cio_pg_pool_release(a), 0);
    }
    /* A COPY FROM STDIN with rows sent: aborted, nothing is loaded. */
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &a), 0);
    int pid = cio_pg_backend_pid(a);
    cio_pg_copy *cp;
    PG_OK(a, cio_pg_copy_in(a, "COPY p_copy FROM STDIN", &cp));
    PG_OK(a, cio_pg_copy_write(cp, "1\n2\n3\n", 6));
    task_check_eq(cio_pg_pool_release(a), 0);
    task_check_eq(cio_pg_pool_idle(p), 1);
    task_check_eq(cio_pg_copy_write(cp, "4\n", 2), CIO_PG_ESTATE);
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &a), 0);
    task_check_eq(cio_pg_backend_pid(a), pid);
    task_check(!cio_pg_in_transaction(a));
    /* Ending it reports that nothing was loaded, and frees it. */
    task_check_eq(cio_pg_copy_end(cp, NULL), CIO_PG_ESTATE);
    PG_OK(a, cio_pg_fetchval_int64(a, "SELECT count(*) FROM p_copy", CIO_PG_NOARGS, &v));
    task_check_eq(v, 0);
    task_check_eq(cio_pg_pool_release(a), 0);
    /* The guard's release at the end of a block with the stream left open
     * (a forgotten close): the connection goes back clean. */
    cio_pg_stream *left = NULL;
    {
        int rc;
        CIO_PG_ACQUIRE(c, p, 1.0, rc);
        task_check_eq(rc, 0);
        PG_OK(c, cio_pg_stream_open(c, big, CIO_PG_NOARGS, 1, &left));
    }
    task_check_eq(cio_pg_pool_idle(p), 1);
    task_check_eq(query_one(p, 5), 0);
    task_check_eq(cio_pg_stream_close(left), 0);
    /* Released into a closing pool: the connection is closed, the stream
     * outlives it. */
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &a), 0);
    PG_OK(a, cio_pg_stream_open(a, big, CIO_PG_NOARGS, 100, &left));
    cio_task closer = cio_spawn(close_pool, p);
    cio_sleep(0.05);
    task_check_eq(cio_pg_pool_release(a), 0);
    task_check_eq(cio_join(closer), 0);
    cio_pg_result *rows;
    task_check_eq(cio_pg_stream_next(left, &rows), CIO_PG_ESTATE);
    task_check_eq(cio_pg_stream_close(left), 0);
    return 0;
}

static void test_release_open_stream(void **state)
{
    (void)state;
    assert_int_equal(run_real(release_open_main, NULL), 0);
}

/* min_size is restored in the background: idle connections the server
 * ends are noticed without an acquire, and the upkeep task opens new ones. */
static int app_backends(cio_pg_conn *admin, const char *app, int64_t *n)
{
    return cio_pg_fetchval_int64(
        admin, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
        CIO_PG_ARGS(cio_pg_text(app)), n);
}

static int terminate_app(cio_pg_conn *admin, const char *app, int64_t *n)
{
    return cio_pg_fetchval_int64(admin,
                                 "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                 "WHERE application_name = $1",
                                 CIO_PG_ARGS(cio_pg_text(app)), n);
}

static cio_pg_pool *app_pool(const char *app, cio_pg_pool_options o)
{
    char dsn[600];
    snprintf(dsn, sizeof dsn, "%s application_name=%s", pg_dsn(), app);
    cio_pg_pool *p = NULL;
    int rc = cio_pg_pool_create(dsn, &o, &p);
    if (rc) {
        print_error("pool_create: %s %s\n", cio_err_name(rc), cio_pg_pool_error(p));
        cio_pg_pool_close(p);
        return NULL;
    }
    return p;
}

static int min_size_main(void *arg)
{
    (void)arg;
    PG_CONNECT(admin, NULL);
    cio_pg_pool *p = app_pool("cio_refill", (cio_pg_pool_options){.min_size = 3, .max_size = 5});
    task_check(p != NULL);
    cio_pg_result *old;
    int nold = cio_pg_fetch(admin,
                            "SELECT pid FROM pg_stat_activity WHERE application_name = "
                            "'cio_refill' ORDER BY pid",
                            CIO_PG_NOARGS, &old);
    task_check_eq(nold, 3);
    int32_t dead[3];
    for (int r = 0; r < 3; r++)
        task_check_eq(cio_pg_get_int32(old, r, 0, &dead[r]), 0);
    cio_pg_result_free(old);
    char pids[64];
    snprintf(pids, sizeof pids, "{%d,%d,%d}", (int)dead[0], (int)dead[1], (int)dead[2]);
    int64_t n;
    PG_OK(admin, terminate_app(admin, "cio_refill", &n));
    task_check_eq(n, 3);
    /* Nobody acquires: the pool notices and reconnects on its own (three
     * sessions of its own that are not the dead ones, all idle). Whether
     * its size is seen below 3 meanwhile depends on how fast the server
     * forks them. */
    double t0 = cio_time();
    for (;;) {
        task_check(cio_time() - t0 < 10.0);
        int64_t fresh;
        PG_OK(admin, cio_pg_fetchval_int64(
                         admin,
                         "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                         "'cio_refill' AND pid <> ALL($1::int[])",
                         CIO_PG_ARGS(cio_pg_text(pids)), &fresh));
        if (cio_pg_pool_size(p) == 3 && cio_pg_pool_idle(p) == 3 && fresh == 3)
            break;
        task_check_eq(cio_sleep(0.02), 0);
    }
    /* The new sessions are the pool's idle connections, and they work. */
    cio_pg_conn *c[3];
    for (int i = 0; i < 3; i++) {
        task_check_eq(cio_pg_pool_acquire(p, 1.0, &c[i]), 0);
        int pid = cio_pg_backend_pid(c[i]);
        for (int r = 0; r < 3; r++)
            task_check(pid != dead[r]);
        int64_t v;
        PG_OK(c[i], cio_pg_fetchval_int64(c[i], "SELECT 1", CIO_PG_NOARGS, &v));
    }
    task_check_eq(cio_pg_pool_size(p), 3);
    for (int i = 0; i < 3; i++)
        task_check_eq(cio_pg_pool_release(c[i]), 0);
    PG_OK(admin, app_backends(admin, "cio_refill", &n));
    task_check_eq(n, 3);
    /* A connection dropped on release (broken) is replaced as well. */
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &c[0]), 0);
    task_check_eq(
        cio_pg_execute(c[0], "SELECT pg_terminate_backend(pg_backend_pid())", CIO_PG_NOARGS),
        CIO_PG_ECONN);
    task_check_eq(cio_pg_pool_release(c[0]), 0);
    t0 = cio_time();
    while (cio_pg_pool_idle(p) < 3) {
        task_check(cio_time() - t0 < 10.0);
        task_check_eq(cio_sleep(0.01), 0);
    }
    task_check_eq(cio_pg_pool_size(p), 3);
    task_check_eq(cio_pg_pool_close(p), 0);
    PG_OK(admin, app_backends(admin, "cio_refill", &n));
    for (t0 = cio_time(); n > 0 && cio_time() - t0 < 5.0;) {
        cio_sleep(0.02);
        PG_OK(admin, app_backends(admin, "cio_refill", &n));
    }
    task_check_eq(n, 0);
    cio_pg_close(admin);
    return 0;
}

static void test_min_size_restored(void **state)
{
    (void)state;
    assert_int_equal(run_real(min_size_main, NULL), 0);
}

/* While new connections fail, the upkeep backs off instead of spinning;
 * once they succeed again min_size comes back; close stops the upkeep at
 * once, even in the middle of a connect. */
struct flaky {
    int attempts;
    bool fail;
    double stall; /* seconds init takes */
};

static int flaky_init(cio_pg_conn *conn, void *arg)
{
    struct flaky *f = arg;
    f->attempts++;
    if (f->stall > 0) {
        int rc = cio_sleep(f->stall);
        if (rc < 0)
            return rc;
    }
    if (f->fail)
        return cio_pg_execute(conn, "SELECT 1/0", CIO_PG_NOARGS);
    return 0;
}

static int backoff_main(void *arg)
{
    (void)arg;
    PG_CONNECT(admin, NULL);
    struct flaky f = {0};
    cio_pg_pool *p = app_pool(
        "cio_backoff",
        (cio_pg_pool_options){.min_size = 2, .max_size = 4, .init = flaky_init, .init_arg = &f});
    task_check(p != NULL);
    task_check_eq(f.attempts, 2);
    f.fail = true;
    f.attempts = 0;
    int64_t n;
    PG_OK(admin, terminate_app(admin, "cio_backoff", &n));
    task_check_eq(n, 2);
    task_check_eq(cio_sleep(1.5), 0);
    /* Retries after ~0.1, 0.2, 0.4, 0.8 s (±25 %): a handful, not a spin. */
    print_message("upkeep: %d connection attempts in 1.5 s while init failed\n", f.attempts);
    task_check(f.attempts >= 2);
    task_check(f.attempts <= 8);
    /* Between attempts nothing is held; one may be under way right now
     * (the fifth is due at ~1.5 s), so wait for it to fail. */
    double t0 = cio_time();
    while (cio_pg_pool_size(p) != 0) {
        task_check(cio_time() - t0 < 2.0);
        task_check_eq(cio_sleep(0.01), 0);
    }
    task_check(strstr(cio_pg_pool_error(p), "division by zero") != NULL);
    /* It recovers once connections succeed again. */
    f.fail = false;
    t0 = cio_time();
    while (cio_pg_pool_idle(p) < 2) {
        task_check(cio_time() - t0 < 10.0);
        task_check_eq(cio_sleep(0.02), 0);
    }
    task_check_eq(cio_pg_pool_size(p), 2);
    PG_OK(admin, app_backends(admin, "cio_backoff", &n));
    task_check_eq(n, 2);

    /* A successful acquire resets the backoff: min_size is restored at
     * once, not after the retry delay. */
    f.fail = true;
    PG_OK(admin, terminate_app(admin, "cio_backoff", &n));
    task_check_eq(cio_sleep(1.0), 0); /* the delay has grown to ~0.8 s */
    f.fail = false;
    cio_pg_conn *c;
    task_check_eq(cio_pg_pool_acquire(p, 2.0, &c), 0);
    t0 = cio_time();
    while (cio_pg_pool_size(p) < 2) {
        task_check(cio_time() - t0 < 0.5);
        task_check_eq(cio_sleep(0.01), 0);
    }
    task_check_eq(cio_pg_pool_release(c), 0);

    /* Close while the upkeep backs off. */
    f.fail = true;
    PG_OK(admin, terminate_app(admin, "cio_backoff", &n));
    task_check_eq(cio_sleep(0.3), 0);
    t0 = cio_time();
    task_check_eq(cio_pg_pool_close(p), 0);
    task_check(cio_time() - t0 < 0.5);

    /* Close while the upkeep is in the middle of a connect (in init). */
    f = (struct flaky){0};
    p = app_pool(
        "cio_backoff",
        (cio_pg_pool_options){.min_size = 1, .max_size = 2, .init = flaky_init, .init_arg = &f});
    task_check(p != NULL);
    f.stall = 30;
    PG_OK(admin, terminate_app(admin, "cio_backoff", &n));
    t0 = cio_time();
    while (f.attempts < 2) {
        task_check(cio_time() - t0 < 5.0);
        task_check_eq(cio_sleep(0.01), 0);
    }
    task_check_eq(cio_pg_pool_size(p), 1); /* the slot being opened */
    t0 = cio_time();
    task_check_eq(cio_pg_pool_close(p), 0);
    task_check(cio_time() - t0 < 1.0);
    cio_pg_close(admin);
    return 0;
}

static void test_upkeep_backoff(void **state)
{
    (void)state;
    assert_int_equal(run_real(backoff_main, NULL), 0);
}

/* Idle connections past max_idle are closed on time by a quiet pool (no
 * acquire or release needed), oldest first, down to min_size: the min_size
 * ones stay open (and are handed out) however long they idle. */
static int wait_backends(cio_pg_conn *admin, const char *app, int64_t want)
{
    int64_t n = -1;
    for (double t0 = cio_time(); cio_time() - t0 < 5.0; cio_sleep(0.02)) {
        int rc = app_backends(admin, app, &n);
        if (rc < 0)
            return rc;
        if (n == want)
            return 0;
    }
    print_error("%s: %lld backends, expected %lld\n", app, (long long)n, (long long)want);
    return -1;
}

static int idle_reap_main(void *arg)
{
    (void)arg;
    PG_CONNECT(admin, NULL);
    cio_pg_pool *p =
        app_pool("cio_reap", (cio_pg_pool_options){.min_size = 1, .max_size = 4, .max_idle = 0.2});
    task_check(p != NULL);
    cio_pg_conn *c[4];
    for (int i = 0; i < 4; i++)
        task_check_eq(cio_pg_pool_acquire(p, 1.0, &c[i]), 0);
    int newest = cio_pg_backend_pid(c[3]);
    double released = cio_time();
    for (int i = 0; i < 4; i++) {
        task_check_eq(cio_pg_pool_release(c[i]), 0);
        task_check_eq(cio_sleep(0.01), 0);
    }
    task_check_eq(cio_pg_pool_size(p), 4);
    task_check_eq(cio_pg_pool_idle(p), 4);
    task_check_eq(wait_backends(admin, "cio_reap", 4), 0);
    /* Nobody touches the pool: the three above min_size close on time. */
    double first = 0;
    while (cio_pg_pool_size(p) > 1) {
        task_check(cio_time() - released < 2.0);
        if (!first && cio_pg_pool_size(p) < 4)
            first = cio_time() - released;
        task_check_eq(cio_sleep(0.005), 0);
    }
    double took = cio_time() - released;
    print_message("idle connections closed %.3f to %.3f s after release (max_idle 0.2)\n", first,
                  took);
    task_check(!first || first >= 0.2); /* not before max_idle */
    task_check(took >= 0.21);           /* the third released 20 ms after the first */
    task_check_eq(cio_pg_pool_idle(p), 1);
    task_check_eq(wait_backends(admin, "cio_reap", 1), 0);
    /* min_size stays open however long it idles, and is handed out. */
    task_check_eq(cio_sleep(0.5), 0);
    task_check_eq(cio_pg_pool_size(p), 1);
    cio_pg_conn *a;
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &a), 0);
    task_check_eq(cio_pg_backend_pid(a), newest); /* the most recently used one */
    /* Used more often than max_idle: never closed. */
    cio_pg_conn *b;
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &b), 0);
    int pid_b = cio_pg_backend_pid(b);
    task_check_eq(cio_pg_pool_release(b), 0);
    for (int i = 0; i < 8; i++) {
        task_check_eq(cio_sleep(0.05), 0);
        task_check_eq(cio_pg_pool_acquire(p, 1.0, &b), 0);
        task_check_eq(cio_pg_backend_pid(b), pid_b);
        task_check_eq(cio_pg_pool_release(b), 0);
    }
    task_check_eq(cio_pg_pool_size(p), 2);
    task_check_eq(cio_pg_pool_release(a), 0);
    /* Then both idle: the older one goes, min_size stays. */
    double t0 = cio_time();
    while (cio_pg_pool_size(p) > 1) {
        task_check(cio_time() - t0 < 1.0);
        task_check_eq(cio_sleep(0.01), 0);
    }
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &a), 0);
    task_check_eq(cio_pg_backend_pid(a), newest); /* released last */
    task_check_eq(cio_pg_pool_release(a), 0);
    task_check_eq(cio_pg_pool_close(p), 0);
    task_check_eq(wait_backends(admin, "cio_reap", 0), 0);

    /* min_size 0: a quiet pool ends up with no connection at all. */
    p = app_pool("cio_reap", (cio_pg_pool_options){.max_size = 2, .max_idle = 0.1});
    task_check(p != NULL);
    task_check_eq(query_one(p, 1), 0);
    task_check_eq(cio_pg_pool_size(p), 1);
    task_check_eq(cio_sleep(0.3), 0);
    task_check_eq(cio_pg_pool_size(p), 0);
    task_check_eq(wait_backends(admin, "cio_reap", 0), 0);
    task_check_eq(query_one(p, 2), 0);
    task_check_eq(cio_pg_pool_close(p), 0);

    /* Negative max_idle: kept forever. */
    p = app_pool("cio_reap", (cio_pg_pool_options){.max_size = 2, .max_idle = -1});
    task_check(p != NULL);
    task_check_eq(query_one(p, 1), 0);
    task_check_eq(cio_sleep(0.3), 0);
    task_check_eq(cio_pg_pool_size(p), 1);
    task_check_eq(cio_pg_pool_close(p), 0);
    cio_pg_close(admin);
    return 0;
}

static void test_idle_closed_on_time(void **state)
{
    (void)state;
    assert_int_equal(run_real(idle_reap_main, NULL), 0);
}

/* Connections past max_lifetime are replaced while the pool is quiet,
 * min_size included, so no caller waits for the new connect. */
static int lifetime_main(void *arg)
{
    (void)arg;
    PG_CONNECT(admin, NULL);
    cio_pg_pool *p = app_pool(
        "cio_life",
        (cio_pg_pool_options){.min_size = 2, .max_size = 2, .max_lifetime = 0.5, .max_idle = -1});
    task_check(p != NULL);
    cio_pg_conn *a, *b;
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &a), 0);
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &b), 0);
    int old_a = cio_pg_backend_pid(a), old_b = cio_pg_backend_pid(b);
    task_check_eq(cio_pg_pool_release(a), 0);
    task_check_eq(cio_pg_pool_release(b), 0);
    /* Nobody touches the pool while both pass their lifetime. */
    task_check_eq(cio_sleep(0.8), 0);
    task_check_eq(cio_pg_pool_size(p), 2);
    task_check_eq(wait_backends(admin, "cio_life", 2), 0);
    double t0 = cio_time();
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &a), 0);
    task_check_eq(cio_pg_pool_acquire(p, 1.0, &b), 0);
    double took = cio_time() - t0;
    int new_a = cio_pg_backend_pid(a), new_b = cio_pg_backend_pid(b);
    task_check(new_a != old_a && new_a != old_b);
    task_check(new_b != old_a && new_b != old_b);
    task_check(took < 0.05); /* already open: the upkeep made them */
    task_check_eq(cio_pg_pool_release(a), 0);
    task_check_eq(cio_pg_pool_release(b), 0);
    task_check_eq(cio_pg_pool_close(p), 0);
    task_check_eq(wait_backends(admin, "cio_life", 0), 0);
    cio_pg_close(admin);
    return 0;
}

static void test_lifetime_replaced_on_time(void **state)
{
    (void)state;
    assert_int_equal(run_real(lifetime_main, NULL), 0);
}

/* A storm of cancels: 1,000 queries time out through a pool of 50
 * connections. Each interrupted query is cancelled on the server from a
 * helper thread (libpq 15's PQcancel blocks), but at most 4 of those run
 * at once: the rest wait their turn. Every query returns -ETIMEDOUT, the
 * server stops them all, and the connections come back clean. */
struct storm {
    cio_pg_pool *pool;
    int timed_out, other;
};

static int storm_task(void *arg)
{
    struct storm *s = arg;
    int rc;
    CIO_PG_ACQUIRE(conn, s->pool, 60.0, rc);
    if (rc == 0) {
        CIO_TIMEOUT(limit, 0.05);
        rc = cio_pg_execute(conn, "SELECT pg_sleep(30) /* cio_storm */", CIO_PG_NOARGS);
    }
    if (rc == -ETIMEDOUT) {
        s->timed_out++;
    } else {
        if (s->other++ == 0)
            print_error("storm: %s\n", cio_err_name(rc));
    }
    return 0;
}

static atomic_int sampling;
static atomic_int max_threads;

static int thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    if (f)
        fclose(f);
    return n;
}

static void *sampler(void *arg)
{
    (void)arg;
    while (atomic_load(&sampling)) {
        int n = thread_count();
        if (n > atomic_load(&max_threads))
            atomic_store(&max_threads, n);
        usleep(500);
    }
    return NULL;
}

static int storm_main(void *arg)
{
    (void)arg;
    PG_CONNECT(admin, NULL);
    enum { N = 1000, CONNS = 50, CAP = 4 };
    struct storm s = {.pool = make_pool(0, CONNS, 0)};
    task_check(s.pool != NULL);
    atomic_store(&sampling, 1);
    pthread_t th;
    task_check_eq(pthread_create(&th, NULL, sampler, NULL), 0);
    cio_sleep(0.01);
    int base = thread_count(); /* this thread and the sampler */
    atomic_store(&max_threads, base);
    double t0 = cio_time();
    static cio_task t[N];
    for (int i = 0; i < N; i++)
        t[i] = cio_spawn(storm_task, &s);
    for (int i = 0; i < N; i++)
        task_check_eq(cio_join(t[i]), 0);
    double took = cio_time() - t0;
    atomic_store(&sampling, 0);
    pthread_join(th, NULL);
    int peak = atomic_load(&max_threads) - base;
    print_message("cancel storm: %d queries timed out in %.2f s, at most %d cancel threads, "
                  "pool %d/%d idle\n",
                  s.timed_out, took, peak, cio_pg_pool_idle(s.pool), cio_pg_pool_size(s.pool));
    task_check_eq(s.other, 0);
    task_check_eq(s.timed_out, N);
    task_check(peak <= CAP);
    /* The server stopped every one of them... */
    int64_t active = -1;
    for (double t1 = cio_time(); cio_time() - t1 < 5.0; cio_sleep(0.02)) {
        PG_OK(admin, cio_pg_fetchval_int64(admin,
                                           "SELECT count(*) FROM pg_stat_activity WHERE state = "
                                           "'active' AND query LIKE '%cio_storm%' AND pid <> "
                                           "pg_backend_pid()",
                                           CIO_PG_NOARGS, &active));
        if (active == 0)
            break;
    }
    task_check_eq(active, 0);
    /* ...and the connections came back clean, ready for more. (Those
     * whose cancel waited past its 5 s bound, on a loaded machine, were
     * dropped instead: none is left in use either way.) */
    task_check_eq(cio_pg_pool_idle(s.pool), cio_pg_pool_size(s.pool));
    task_check_eq(query_one(s.pool, 5), 0);
    task_check_eq(cio_pg_pool_close(s.pool), 0);
    cio_pg_close(admin);
    return 0;
}

static void test_cancel_storm(void **state)
{
    (void)state;
    assert_int_equal(run_real(storm_main, NULL), 0);
}

int main(void)
{
    if (!pg_dsn()) {
        fprintf(stderr, "no PostgreSQL test cluster (run through ctest)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics),
        cmocka_unit_test(test_exhaustion),
        cmocka_unit_test(test_slot_fifo),
        cmocka_unit_test(test_timeout_races_release),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_double_release),
        cmocka_unit_test(test_close_at_once),
        cmocka_unit_test(test_1000_tasks_20_connections),
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_release_open_stream),
        cmocka_unit_test(test_min_size_restored),
        cmocka_unit_test(test_upkeep_backoff),
        cmocka_unit_test(test_idle_closed_on_time),
        cmocka_unit_test(test_lifetime_replaced_on_time),
        cmocka_unit_test(test_cancel_storm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
