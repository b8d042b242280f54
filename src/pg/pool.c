/* The connection pool (asyncpg's Pool): min and max size, FIFO acquire
 * with a timeout, release that rolls back what the user left open, broken
 * and expired connections dropped and replaced, and a close that waits for
 * the connections in use.
 *
 * Hand-over rule: a released connection goes to the first waiter whose
 * cio__wake() succeeds. A waiter already woken by its timeout or by
 * cancellation is skipped (cio__wake returns false), so a connection is
 * never handed to a task that has stopped waiting: the race between an
 * acquire's timeout and a release cannot leak it. The same rule applies to
 * free slots (a dropped connection lets a waiter open a new one).
 *
 * Upkeep: each pool owns a detached task ("pg-pool-upkeep") that restores
 * min_size in the background after connections were dropped, one connect at
 * a time, backing off exponentially (RETRY_MIN to RETRY_MAX seconds, with
 * jitter) while the server refuses, and closes idle connections above
 * min_size when they pass max_idle (a timer on the oldest one: a quiet pool
 * shrinks too). Idle connections are watched (a reader callback on their
 * socket): one the server closes (pg_terminate_backend, a restart) is
 * dropped at once, not when an acquire trips over it. The task parks in
 * cio__suspend() between jobs and is woken (kick) only while parked; close
 * cancels it and waits for it to end, as it waits for the connections in
 * use. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/clock.h"
#include "pg/internal.h"

#define ROLLBACK_WAIT 5.0
#define RETRY_MIN 0.1  /* seconds before the first reconnect retry */
#define RETRY_MAX 10.0 /* and at most between two */

struct waiter {
    struct cio__list link;
    struct cio__task *task;
    cio_pg_conn *conn; /* set by the releaser that woke us */
    bool slot;         /* or: woken to open a connection in a freed slot */
};

struct cio_pg_pool {
    char *dsn;
    cio_pg_pool_options o;
    int size;   /* connections open or being opened */
    int in_use; /* acquired and not yet released */
    int nidle;
    struct cio__list idle; /* cio_pg_conn.link; most recently used at the tail */
    struct cio__list waiters;
    int nwaiting;
    bool closing;
    bool failed;   /* create could not open it: closed, kept for its error */
    bool orphaned; /* close was interrupted: the last release frees */
    struct cio__task *closer;
    char *last_error;
    cio_pg_error query_err; /* cio_pg_pool_query_error() */
    char *query_err_buf;
    /* upkeep */
    struct cio__task *upkeep; /* the upkeep task while it runs */
    bool upkeep_parked;       /* it waits for work: kick() may wake it */
    int64_t upkeep_deadline;  /* when it wakes up by itself (ns) */
    double backoff;           /* seconds of the last retry delay; 0: none */
    int64_t retry_at;         /* no reconnect before (ns); 0: now */
};

static void set_pool_error(cio_pg_pool *p, const char *msg)
{
    free(p->last_error);
    p->last_error = strdup(msg ? msg : "");
}

const char *cio_pg_pool_error(const cio_pg_pool *p)
{
    return p && p->last_error ? p->last_error : "";
}

void cio__pg_pool_note(cio_pg_pool *p, const cio_pg_error *e)
{
    if (e)
        cio__pg_error_copy(&p->query_err, &p->query_err_buf, e);
    else
        cio__pg_error_reset(&p->query_err, &p->query_err_buf);
}

const cio_pg_error *cio_pg_pool_query_error(const cio_pg_pool *p)
{
    static const cio_pg_error none = {"", "", "", "", "", -1};
    return p ? &p->query_err : &none;
}

int cio_pg_pool_size(const cio_pg_pool *p)
{
    return p ? p->size : 0;
}

int cio_pg_pool_idle(const cio_pg_pool *p)
{
    return p ? p->nidle : 0;
}

int cio_pg_pool_waiting(const cio_pg_pool *p)
{
    return p ? p->nwaiting : 0;
}

static void pool_free(cio_pg_pool *p)
{
    free(p->dsn);
    free(p->last_error);
    free(p->query_err_buf);
    free(p);
}

/* Wakes the upkeep task if it is parked waiting for work. */
static void kick(cio_pg_pool *p)
{
    if (p->upkeep && p->upkeep_parked && cio__wake(p->upkeep, 0))
        p->upkeep_parked = false;
}

/* A closing pool is done once no connection and no upkeep is left. */
static void close_progress(cio_pg_pool *p)
{
    if (p->closing && p->size == 0 && !p->upkeep) {
        if (p->closer)
            cio__wake(p->closer, 0);
        else if (p->orphaned)
            pool_free(p);
    }
}

/* A slot (one of the max_size places) is given up. It goes to the first
 * waiter whose wake-up succeeds, which then opens a connection in it: the
 * slot is never up for grabs between the wake-up and the waiter running,
 * so FIFO order holds. Without a taker, the pool shrinks, and a closing
 * pool sees its progress. */
static void slot_release(cio_pg_pool *p)
{
    if (!p->closing) {
        struct cio__list *n;
        while ((n = cio__list_shift(&p->waiters))) {
            p->nwaiting--;
            struct waiter *w = cio__container_of(n, struct waiter, link);
            if (cio__wake(w->task, 0)) {
                w->slot = true;
                return;
            }
        }
    }
    p->size--;
    if (p->closing)
        close_progress(p);
    else if (p->size < p->o.min_size)
        kick(p);
}

static void drop(cio_pg_pool *p, cio_pg_conn *c)
{
    cio__list_unlink(&c->link);
    c->pool = NULL;
    cio__pg_conn_destroy(c);
    slot_release(p);
}

static int open_conn(cio_pg_pool *p, cio_pg_conn **out)
{
    cio_pg_conn *c;
    int rc = cio_pg_connect(p->dsn, &p->o.conn, &c);
    if (rc) {
        if (c)
            set_pool_error(p, cio_pg_conn_error(c)->message);
        cio_pg_close(c);
        return rc;
    }
    if (p->o.init && (rc = p->o.init(c, p->o.init_arg)) < 0) {
        set_pool_error(p, cio_pg_conn_error(c)->message);
        cio_pg_close(c);
        return rc;
    }
    c->pool = p;
    *out = c;
    return 0;
}

/* Whether a connection is still usable: not broken, idle on the server,
 * and its socket not closed by the server meanwhile (a non-blocking read
 * picks up the EOF of a restarted server). */
static bool conn_alive(cio_pg_conn *c)
{
    if (c->broken || PQstatus(c->pg) != CONNECTION_OK || PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        return false;
    /* One peek in the common case (nothing to read). A server that ends a
     * session sends a FATAL message and then closes: read what is there
     * (libpq keeps it for the next operation) until the EOF shows. */
    for (int i = 0; i < 8; i++) {
        char b;
        ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0)
            return false;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        if (!PQconsumeInput(c->pg) || PQstatus(c->pg) != CONNECTION_OK)
            return false;
    }
    return true;
}

/* Whether an idle connection is still worth handing out: not expired, and
 * alive. max_idle, as in reap(), does not apply to the min_size
 * connections the pool keeps. A watched one was alive when the loop last
 * polled (idle_readable() drops it when the server closes it), so only an
 * unwatched one costs a peek at its socket: a syscall per acquire saved. */
static bool idle_ok(cio_pg_pool *p, cio_pg_conn *c, int64_t now, bool watched)
{
    if (p->o.max_idle > 0 && p->size > p->o.min_size &&
        now - c->idle_since_ns > cio__sec_to_ns(p->o.max_idle))
        return false;
    if (p->o.max_lifetime > 0 && now - c->created_ns > cio__sec_to_ns(p->o.max_lifetime))
        return false;
    if (watched)
        return !c->broken && PQstatus(c->pg) == CONNECTION_OK &&
               PQtransactionStatus(c->pg) == PQTRANS_IDLE;
    return conn_alive(c);
}

static void idle_readable(void *arg);

/* Takes c out of the idle list and stops watching its socket, lazily (the
 * next operation on the connection waits for it to be readable anyway, so
 * acquire + query + release costs no epoll_ctl). */
static void idle_take(cio_pg_pool *p, cio_pg_conn *c)
{
    cio__list_unlink(&c->link);
    p->nidle--;
    if (c->watched) {
        c->watched = false;
        struct cio__loop *loop = cio__tls_loop;
        if (loop)
            cio__io_forget_reader(loop, c->fd, idle_readable, c);
    }
}

/* Something arrived on an idle connection's socket: the server ending the
 * session (a FATAL message, then EOF), or, rarely, a message libpq keeps
 * for the next operation. A closed one is dropped, so the upkeep task can
 * replace it. Runs as a loop callback. */
static void idle_readable(void *arg)
{
    cio_pg_conn *c = arg;
    cio_pg_pool *p = c->pool;
    if (conn_alive(c))
        return;
    idle_take(p, c);
    drop(p, c);
}

/* When the oldest idle connection the pool may close (above min_size)
 * passes max_idle, or CIO__NEVER. */
static int64_t next_expiry(const cio_pg_pool *p)
{
    int64_t d = CIO__NEVER;
    if (p->o.max_idle > 0 && p->size > p->o.min_size && !cio__list_empty(&p->idle)) {
        const cio_pg_conn *c = cio__container_of(p->idle.next, cio_pg_conn, link);
        d = cio__deadline_after(c->idle_since_ns, cio__sec_to_ns(p->o.max_idle));
    }
    /* And when an idle one, min_size included, reaches max_lifetime (the
     * list is in idle order, not age order: max_size entries at most). */
    if (p->o.max_lifetime > 0)
        cio__list_foreach(it, &p->idle)
        {
            const cio_pg_conn *c = cio__container_of(it, cio_pg_conn, link);
            int64_t e = cio__deadline_after(c->created_ns, cio__sec_to_ns(p->o.max_lifetime));
            if (e < d)
                d = e;
        }
    return d == CIO__NEVER ? d : d + 1; /* reap() closes it once past the limit */
}

/* Closes idle connections past max_idle, oldest first, keeping min_size
 * (on release, and on time from the upkeep task). */
static void reap(cio_pg_pool *p, int64_t now)
{
    /* Past max_lifetime: closed even below min_size, which the upkeep task
     * then restores with fresh connections, so a quiet pool's connections
     * are replaced in the background and not by a caller's acquire. */
    if (p->o.max_lifetime > 0) {
        int64_t life = cio__sec_to_ns(p->o.max_lifetime);
        struct cio__list *it = p->idle.next;
        while (it != &p->idle) {
            cio_pg_conn *c = cio__container_of(it, cio_pg_conn, link);
            it = it->next;
            if (now - c->created_ns > life) {
                idle_take(p, c);
                drop(p, c);
            }
        }
    }
    if (p->o.max_idle <= 0)
        return;
    int64_t limit = cio__sec_to_ns(p->o.max_idle);
    while (!cio__list_empty(&p->idle) && p->size > p->o.min_size) {
        cio_pg_conn *c = cio__container_of(p->idle.next, cio_pg_conn, link);
        if (now - c->idle_since_ns <= limit)
            break;
        idle_take(p, c);
        drop(p, c);
    }
}

static void make_idle(cio_pg_pool *p, cio_pg_conn *c)
{
    c->idle_since_ns = cio_time_ns();
    cio__list_push(&p->idle, &c->link);
    p->nidle++;
    /* No loop (a release from another context): not watched, the peek at
     * acquire still catches a closed one. */
    c->watched = cio__tls_loop && cio_add_reader(c->fd, idle_readable, c) == 0;
    /* The upkeep closes it on time if it may: wake it only when it would
     * otherwise sleep past that (once per quiet spell, not per release). */
    if (p->upkeep_parked && next_expiry(p) < p->upkeep_deadline)
        kick(p);
}

/* A connection nobody uses: to the first waiter whose wake-up succeeds,
 * else to the idle list. */
static void give(cio_pg_pool *p, cio_pg_conn *c, int64_t now)
{
    struct cio__list *n;
    while ((n = cio__list_shift(&p->waiters))) {
        p->nwaiting--;
        struct waiter *w = cio__container_of(n, struct waiter, link);
        if (cio__wake(w->task, 0)) {
            w->conn = c;
            c->checked_out = true;
            p->in_use++;
            return;
        }
    }
    make_idle(p, c);
    reap(p, now);
}

/* ---- upkeep ----------------------------------------------------------------- */

/* The next reconnect is due after a random delay around the doubled
 * backoff (±25 %, so that many clients of a restarted server do not all
 * come back on the same tick). */
static void back_off(cio_pg_pool *p)
{
    p->backoff = p->backoff > 0 ? p->backoff * 2 : RETRY_MIN;
    if (p->backoff > RETRY_MAX)
        p->backoff = RETRY_MAX;
    int64_t now = cio_time_ns();
    uint64_t x = (uint64_t)now * 0x9e3779b97f4a7c15u;
    double jitter = 0.75 + 0.5 * (double)(x >> 11) / (double)(UINT64_C(1) << 53);
    p->retry_at = cio__deadline_after(now, cio__sec_to_ns(p->backoff * jitter));
}

static int upkeep_main(void *arg)
{
    cio_pg_pool *p = arg;
    struct cio__task *t = cio__self();
    struct cio__loop *loop = cio__tls_loop;
    while (!p->closing && !cio__interrupted(t)) {
        int64_t now = cio_time_ns();
        reap(p, now);
        if (p->size < p->o.min_size && now >= p->retry_at) {
            /* Restore min_size, one connection at a time, in a slot that
             * acquires see as taken (max_size holds). */
            p->size++;
            cio_pg_conn *c = NULL;
            int rc = open_conn(p, &c);
            if (rc == 0 && p->closing) {
                c->pool = NULL;
                cio__pg_conn_destroy(c);
                rc = CIO_PG_ECLOSED;
            }
            if (rc) {
                slot_release(p); /* frees nothing: the upkeep still counts */
                back_off(p);
                continue;
            }
            p->backoff = 0;
            p->retry_at = 0;
            give(p, c, cio_time_ns());
            continue;
        }
        int64_t deadline = next_expiry(p);
        if (p->size < p->o.min_size && p->retry_at < deadline)
            deadline = p->retry_at;
        p->upkeep_deadline = deadline;
        if (deadline != CIO__NEVER) {
            t->timer.deadline = deadline;
            t->timer_timeout = false;
            if (cio__timer_start(loop, &t->timer) < 0) {
                if (cio_sleep(RETRY_MIN) < 0) /* out of memory: poll slowly */
                    break;
                continue;
            }
        }
        p->upkeep_parked = true;
        int rc = cio__suspend(t, "pg pool upkeep");
        p->upkeep_parked = false;
        cio__timer_stop(loop, &t->timer);
        if (rc < 0) /* cancelled: the pool closes, or the loop ends */
            break;
    }
    p->upkeep = NULL;
    close_progress(p);
    return 0;
}

/* ---- create --------------------------------------------------------------- */

struct opener {
    cio_pg_pool *pool;
    cio_pg_conn *conn;
};

static int opener_main(void *arg)
{
    struct opener *o = arg;
    return open_conn(o->pool, &o->conn);
}

int cio_pg_pool_create(const char *dsn, const cio_pg_pool_options *opts, cio_pg_pool **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    cio_pg_pool_options o = opts ? *opts : (cio_pg_pool_options){0};
    if (o.max_size == 0)
        o.max_size = 10;
    if (o.max_idle == 0)
        o.max_idle = 300.0;
    if (!dsn || o.min_size < 0 || o.max_size < 0 || o.min_size > o.max_size ||
        o.max_idle != o.max_idle || o.max_lifetime != o.max_lifetime ||
        o.conn.connect_timeout != o.conn.connect_timeout ||
        o.conn.command_timeout != o.conn.command_timeout || o.conn.statement_cache_size < 0)
        return -EINVAL;
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc)
        return rc;
    cio_pg_pool *p = calloc(1, sizeof *p);
    struct opener *ops = calloc((size_t)(o.min_size ? o.min_size : 1), sizeof *ops);
    cio_task *tasks = calloc((size_t)(o.min_size ? o.min_size : 1), sizeof *tasks);
    if (!p || !ops || !tasks || !(p->dsn = strdup(dsn))) {
        free(ops);
        free(tasks);
        if (p)
            pool_free(p);
        return -ENOMEM;
    }
    p->o = o;
    cio__pg_pool_note(p, NULL);
    cio__list_init(&p->idle);
    cio__list_init(&p->waiters);
    for (int i = 0; i < o.min_size; i++) {
        ops[i].pool = p;
        tasks[i] =
            cio_spawn_with(&(cio_spawn_options){.name = "pg-pool-connect"}, opener_main, &ops[i]);
    }
    for (int i = 0; i < o.min_size; i++) {
        int r = cio_join(tasks[i]);
        if (r && !rc)
            rc = r;
    }
    for (int i = 0; i < o.min_size; i++) {
        if (!ops[i].conn)
            continue;
        if (rc) {
            ops[i].conn->pool = NULL;
            cio__pg_conn_destroy(ops[i].conn);
        } else {
            p->size++;
            make_idle(p, ops[i].conn);
        }
    }
    free(ops);
    free(tasks);
    if (rc) {
        /* As cio_pg_connect() does: the caller gets the pool, closed, to
         * read why (then closes it). */
        p->closing = p->failed = true;
        if (!p->last_error || !p->last_error[0])
            set_pool_error(p, cio_strerror(rc));
    }
    if (rc == 0) {
        /* The upkeep task: without it (out of memory) the pool still works,
         * it only stops restoring min_size in the background. */
        cio_task u = cio_spawn_with(&(cio_spawn_options){.name = "pg-pool-upkeep"}, upkeep_main, p);
        if (cio_spawn_error(u) == 0) {
            p->upkeep = u.ptr_;
            cio_detach(u);
        }
    }
    *out = p;
    return rc;
}

/* ---- acquire and release ------------------------------------------------------ */

/* Opens a connection in a slot already counted in size. */
static int open_in_slot(cio_pg_pool *p, int64_t deadline, cio_pg_conn **out)
{
    if (p->closing) {
        slot_release(p);
        return CIO_PG_ECLOSED;
    }
    cio_pg_conn *c = NULL;
    /* The acquire's timeout bounds the connect too. */
    cio_scope limit = {0};
    if (deadline != CIO__NEVER)
        cio_timeout_enter_at(&limit, (double)deadline / 1e9);
    int rc = open_conn(p, &c);
    if (deadline != CIO__NEVER)
        cio_scope_exit(&limit);
    if (rc == 0 && p->closing) {
        c->pool = NULL;
        cio__pg_conn_destroy(c);
        rc = CIO_PG_ECLOSED;
    }
    if (rc) {
        slot_release(p);
        return rc;
    }
    p->in_use++;
    c->checked_out = true;
    if (p->retry_at) {
        /* The server is back: the upkeep need not wait out its backoff. */
        p->backoff = 0;
        p->retry_at = 0;
        kick(p);
    }
    *out = c;
    return 0;
}

int cio_pg_pool_acquire(cio_pg_pool *p, double timeout, cio_pg_conn **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!p || timeout != timeout)
        return -EINVAL;
    struct cio__task *t;
    int rc = cio__enter(&t);
    if (rc)
        return rc;
    struct cio__loop *loop = cio__tls_loop;
    int64_t deadline =
        timeout < 0 ? CIO__NEVER : cio__deadline_after(loop->now, cio__sec_to_ns(timeout));
    for (;;) {
        if (p->closing)
            return CIO_PG_ECLOSED;
        int64_t now = cio_time_ns();
        while (!cio__list_empty(&p->idle)) {
            cio_pg_conn *c = cio__container_of(p->idle.prev, cio_pg_conn, link);
            bool watched = c->watched;
            idle_take(p, c);
            if (!idle_ok(p, c, now, watched)) {
                drop(p, c);
                continue;
            }
            p->in_use++;
            c->checked_out = true;
            *out = c;
            return 0;
        }
        if (p->size < p->o.max_size) {
            p->size++;
            return open_in_slot(p, deadline, out);
        }
        if ((rc = cio__interrupted(t)) != 0)
            return rc;
        if (deadline != CIO__NEVER && loop->now >= deadline)
            return -ETIMEDOUT;
        struct waiter w = {.task = t};
        cio__list_push(&p->waiters, &w.link);
        p->nwaiting++;
        if (deadline != CIO__NEVER) {
            t->timer.deadline = deadline;
            t->timer_timeout = true;
            if (cio__timer_start(loop, &t->timer) < 0) {
                cio__list_unlink(&w.link);
                p->nwaiting--;
                return -ENOMEM;
            }
        }
        rc = cio__suspend(t, "pg pool acquire");
        cio__timer_stop(loop, &t->timer);
        if (cio__list_linked(&w.link)) {
            cio__list_unlink(&w.link);
            p->nwaiting--;
        }
        if (w.conn) {
            *out = w.conn;
            return 0;
        }
        if (w.slot)
            return open_in_slot(p, deadline, out);
        if (rc)
            return rc; /* -ETIMEDOUT, -ECANCELED, CIO_PG_ECLOSED */
    }
}

int cio_pg_pool_release(cio_pg_conn *c)
{
    if (!c || !c->pool)
        return -EINVAL;
    cio_pg_pool *p = c->pool;
    if (c->user && c->user != cio__self())
        return CIO_PG_EBUSY; /* another task is mid-operation on it */
    /* Released twice (or never acquired): it is idle, or being released
     * by another call; counting it again would list it twice. */
    if (!c->checked_out)
        return cio__pg_invalid(c, -1, "connection released but not checked out of its pool");
    c->checked_out = false;
    /* A stream or COPY left open is ended first, as asyncpg's release
     * resets the connection; its handle is cut from the connection, so
     * closing it later touches nothing the next user holds. */
    if (c->stream)
        cio__pg_stream_detach(c->stream);
    else if (c->copy)
        cio__pg_copy_detach(c->copy);
    bool keep =
        !c->broken && !c->streaming && c->pg && PQstatus(c->pg) == CONNECTION_OK && !p->closing;
    PGTransactionStatusType ts = c->pg ? PQtransactionStatus(c->pg) : PQTRANS_UNKNOWN;
    if (keep && (ts != PQTRANS_IDLE || c->listening)) {
        if (ts == PQTRANS_ACTIVE || !cio__self()) {
            keep = false;
        } else {
            /* Roll back what the user left open and stop listening (so the
             * next user gets no stray notifications), even in a cancelled
             * task. */
            cio_scope shield = {0}, limit = {0};
            cio_shield_enter(&shield);
            cio_timeout_enter(&limit, ROLLBACK_WAIT);
            if (ts != PQTRANS_IDLE)
                keep = cio_pg_execute(c, "ROLLBACK", CIO_PG_NOARGS) >= 0 &&
                       PQtransactionStatus(c->pg) == PQTRANS_IDLE;
            if (keep && c->listening) {
                keep = cio_pg_unlisten(c, NULL) == 0;
                PGnotify *n;
                while ((n = PQnotifies(c->pg)))
                    PQfreemem(n);
            }
            cio_scope_exit(&limit);
            cio_scope_exit(&shield);
        }
    }
    int64_t now = cio_time_ns();
    if (keep && p->o.max_lifetime > 0 && now - c->created_ns > cio__sec_to_ns(p->o.max_lifetime))
        keep = false;
    p->in_use--;
    if (!keep || p->closing) {
        drop(p, c);
        return 0;
    }
    give(p, c, now);
    return 0;
}

void cio__pg_release_cleanup(cio_pg_conn **c)
{
    if (*c)
        cio_pg_pool_release(*c);
    *c = NULL;
}

/* ---- close ---------------------------------------------------------------------- */

int cio_pg_pool_close(cio_pg_pool *p)
{
    if (!p)
        return 0;
    if (p->failed) { /* from a failed create: nothing is open */
        pool_free(p);
        return 0;
    }
    if (p->closing)
        return -EINVAL;
    struct cio__task *t = cio__self();
    if (!t)
        return cio__tls_loop ? CIO_ENOTTASK : CIO_ENOLOOP;
    p->closing = true;
    struct cio__list *n;
    while ((n = cio__list_shift(&p->waiters))) {
        p->nwaiting--;
        cio__wake(cio__container_of(n, struct waiter, link)->task, CIO_PG_ECLOSED);
    }
    while (!cio__list_empty(&p->idle)) {
        cio_pg_conn *c = cio__container_of(p->idle.next, cio_pg_conn, link);
        idle_take(p, c);
        drop(p, c);
    }
    /* Cancelled before its first run, the upkeep task would never run, nor
     * clear p->upkeep: one that has not started sees p->closing as it does. */
    if (p->upkeep && p->upkeep->started)
        cio__cancel_task(p->upkeep, -ECANCELED);
    while (p->size > 0 || p->upkeep) {
        int rc = cio__interrupted(t);
        if (rc == 0) {
            p->closer = t;
            rc = cio__suspend(t, "pg pool close");
            p->closer = NULL;
        }
        if (rc < 0 && (p->size > 0 || p->upkeep)) {
            p->orphaned = true;
            return rc;
        }
    }
    pool_free(p);
    return 0;
}
