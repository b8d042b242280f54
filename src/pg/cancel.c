/* Cancelling a query on the server, and cleaning a connection up after an
 * interrupted operation so that it can go back to the pool.
 *
 * libpq 15 has no non-blocking cancel (PQcancelStart came in 17): PQcancel
 * opens a new connection and waits for the server to close it. It runs on a
 * helper thread while the task waits on an eventfd, so the loop never
 * blocks. At most MAX_THREADS helpers run at once in the process: requests
 * go to a FIFO queue, and a helper, started when a request finds no helper
 * idle and fewer than MAX_THREADS running, serves the queue and ends once
 * it has been empty for IDLE_WAIT. A storm of 1,000 cancelled queries thus
 * costs a few threads, not 1,000, and they are made once, not once per
 * lull. The task waits for its request (queue time included) at most
 * CANCEL_WAIT seconds; if the wait is abandoned (a long queue, a server
 * that cannot be reached) the request stays queued and is still sent, so
 * the server stops the query, and whichever side finishes last frees the
 * job. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "pg/internal.h"

#define CANCEL_WAIT 5.0 /* seconds to deliver a cancel request */
#define MAX_THREADS 4   /* cancel requests sent at once, per process */
#define DRAIN_WAIT 10.0 /* seconds for the server to stop after it */
#define RESEND_WAIT 1.0 /* seconds before asking again (cio__pg_stopping_again()) */
#define IDLE_WAIT 1     /* seconds a helper waits for more before it ends */

struct cancel_job {
    struct cancel_job *next; /* in the queue */
    PGcancel *cancel;
    int efd;
    atomic_int refs;
    char err[256];
};

/* The queue of requests and the count of helpers, shared by every loop. */
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_nonempty = PTHREAD_COND_INITIALIZER;
static struct cancel_job *queue_head, **queue_tail = &queue_head;
static int queued, nthreads, idle;
static bool atfork_registered;

/* A child process has none of the parent's helpers, and the requests
 * queued are the parent's: it starts with an empty queue and no helper. */
static void after_fork(void)
{
    pthread_mutex_init(&queue_lock, NULL);
    pthread_cond_init(&queue_nonempty, NULL);
    queue_head = NULL;
    queue_tail = &queue_head;
    queued = nthreads = idle = 0;
}

static void job_put(struct cancel_job *j)
{
    if (atomic_fetch_sub(&j->refs, 1) == 1) {
        close(j->efd);
        PQfreeCancel(j->cancel);
        free(j);
    }
}

/* Pops the queue's head, or returns NULL, with queue_lock held. */
static struct cancel_job *queue_pop(void)
{
    struct cancel_job *j = queue_head;
    if (j) {
        queued--;
        if (!(queue_head = j->next))
            queue_tail = &queue_head;
    }
    return j;
}

/* Waits up to IDLE_WAIT for a request, with queue_lock held: NULL if none
 * came, and then this helper no longer counts. */
static struct cancel_job *queue_wait(void)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until); /* the condition variable's clock */
    until.tv_sec += IDLE_WAIT;
    struct cancel_job *j;
    int rc = 0;
    while (!(j = queue_pop()) && rc != ETIMEDOUT) {
        idle++;
        rc = pthread_cond_timedwait(&queue_nonempty, &queue_lock, &until);
        idle--;
    }
    if (!j)
        nthreads--;
    return j;
}

static void *cancel_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&queue_lock);
        struct cancel_job *j = queue_wait();
        pthread_mutex_unlock(&queue_lock);
        if (!j)
            return NULL;
        PQcancel(j->cancel, j->err, sizeof j->err);
        uint64_t one = 1;
        ssize_t n = write(j->efd, &one, sizeof one);
        (void)n;
        job_put(j);
    }
}

/* Queues j, wakes an idle helper, and starts one if more requests wait
 * than idle helpers will take and fewer than MAX_THREADS run. Returns 0,
 * or a negative errno (j not queued) when no helper runs and none could
 * be started. */
static int submit(struct cancel_job *j)
{
    pthread_mutex_lock(&queue_lock);
    if (!atfork_registered)
        atfork_registered = pthread_atfork(NULL, NULL, after_fork) == 0;
    j->next = NULL;
    *queue_tail = j;
    queue_tail = &j->next;
    queued++;
    bool start = queued > idle && nthreads < MAX_THREADS;
    if (start)
        nthreads++;
    if (idle)
        pthread_cond_signal(&queue_nonempty);
    pthread_mutex_unlock(&queue_lock);
    if (!start)
        return 0;
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int rc = pthread_create(&th, &attr, cancel_main, NULL);
    pthread_attr_destroy(&attr);
    if (rc == 0)
        return 0;
    /* Another helper will serve the queue, unless none runs any more: then
     * take j back if it is still queued. */
    pthread_mutex_lock(&queue_lock);
    bool orphan = false;
    if (--nthreads == 0) {
        struct cancel_job **pp = &queue_head;
        while (*pp && *pp != j)
            pp = &(*pp)->next;
        if (*pp) { /* else a helper that ran meanwhile has sent it */
            *pp = j->next;
            if (queue_tail == &j->next)
                queue_tail = pp;
            queued--;
            orphan = true;
        }
    }
    pthread_mutex_unlock(&queue_lock);
    return orphan ? -rc : 0;
}

int cio__pg_cancel_request(cio_pg_conn *c)
{
    struct cancel_job *j = calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    j->cancel = PQgetCancel(c->pg);
    j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!j->cancel || j->efd < 0) {
        if (j->efd >= 0)
            close(j->efd);
        PQfreeCancel(j->cancel);
        free(j);
        return -ENOMEM;
    }
    atomic_init(&j->refs, 2);
    int rc = submit(j);
    if (rc) {
        close(j->efd);
        PQfreeCancel(j->cancel);
        free(j);
        return rc;
    }
    rc = cio_wait_fd(j->efd, CIO_READABLE, CANCEL_WAIT);
    cio_forget_fd(j->efd);
    job_put(j);
    return rc < 0 ? rc : 0;
}

/* Ends what c has in flight, so that its results can be read to the end:
 * 0, or CIO_PG_ECONN (c broken). */
static int drain_start(cio_pg_conn *c)
{
    PGconn *pg = c->pg;
    if (c->unsynced) {
        /* A batch cut off before its Sync: the statements already queued
         * form one implicit transaction, which a Sync alone would COMMIT
         * (a cancel request is ignored by a server that is waiting for more
         * of the pipeline). A failing statement before the Sync makes the
         * server roll the whole batch back instead. */
        c->unsynced = false;
        if (!PQsendQueryParams(pg, "SELECT 1/0", 0, NULL, NULL, NULL, NULL, 0))
            return cio__pg_conn_lost(c);
    }
    if (PQpipelineStatus(pg) != PQ_PIPELINE_OFF && PQpipelineSync(pg) != 1)
        return cio__pg_conn_lost(c);
    return 0;
}

/* Reads and discards c's results until it is idle. Returns 0; the error of
 * a wait that was interrupted, with c left as it was, so that the caller
 * may go on draining or give c up; or a lost connection or protocol error
 * (c broken). */
static int drain_results(cio_pg_conn *c)
{
    PGconn *pg = c->pg;
    for (;;) {
        PGresult *r;
        int rc = cio__pg_next_result(c, &r);
        if (rc)
            return rc;
        if (!r) {
            if (PQpipelineStatus(pg) == PQ_PIPELINE_OFF)
                return 0;
            if (!PQisBusy(pg) && PQexitPipelineMode(pg) == 1)
                return 0;
            continue;
        }
        ExecStatusType st = PQresultStatus(r);
        PQclear(r);
        if (st == PGRES_COPY_IN) {
            if (PQputCopyEnd(pg, "operation cancelled") < 0 || cio__pg_flush(c) < 0)
                return cio__pg_conn_lost(c);
        } else if (st == PGRES_COPY_OUT) {
            char *buf;
            int n;
            while ((n = PQgetCopyData(pg, &buf, 1)) != -1) {
                if (n == -2)
                    return cio__pg_conn_lost(c);
                if (n > 0)
                    PQfreemem(buf);
                else if ((rc = cio__pg_pump(c)) < 0)
                    return rc;
            }
        } else if (st == PGRES_COPY_BOTH) {
            c->broken = true;
            return CIO_PG_EPROTO;
        }
    }
}

int cio__pg_drain(cio_pg_conn *c)
{
    int rc = drain_start(c);
    if (rc == 0)
        rc = drain_results(c);
    if (rc < 0)
        c->broken = true;
    return rc;
}

void cio__pg_stopping_enter(struct cio__pg_stopping *s)
{
    s->end = cio_time() + DRAIN_WAIT;
    s->limit = (cio_scope){0};
    cio_timeout_enter(&s->limit, RESEND_WAIT);
}

bool cio__pg_stopping_again(struct cio__pg_stopping *s, cio_pg_conn *c)
{
    if (!cio_scope_expired(&s->limit))
        return false; /* cut short by something else */
    cio_scope_exit(&s->limit);
    /* A request that reached the backend before it had begun the query
     * (still reading it) was ignored, and the query would run to its end,
     * long after the connection was given up. Asking again is harmless
     * otherwise: an idle backend ignores it, and no other query can start
     * on c before this one's results are read. If the request cannot be
     * sent, the ones before it may still be in the queue: wait on. */
    if (!c->broken && PQtransactionStatus(c->pg) == PQTRANS_ACTIVE && s->end > cio_time())
        (void)cio__pg_cancel_request(c);
    double left = s->end - cio_time();
    cio_timeout_enter(&s->limit, left < RESEND_WAIT ? left : RESEND_WAIT);
    return left > 0;
}

void cio__pg_stopping_exit(struct cio__pg_stopping *s)
{
    cio_scope_exit(&s->limit);
}

/* Drains c after the request to stop its query (if it ran one) was sent:
 * 0, or an error (c is then to be given up). */
static int drain_after_cancel(cio_pg_conn *c)
{
    int rc = drain_start(c);
    if (rc)
        return rc;
    struct cio__pg_stopping stop;
    cio__pg_stopping_enter(&stop);
    while ((rc = drain_results(c)) == -ETIMEDOUT && cio__pg_stopping_again(&stop, c))
        ;
    cio__pg_stopping_exit(&stop);
    return rc;
}

int cio__pg_abort(cio_pg_conn *c, int rc)
{
    if (c->broken || !c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        c->broken = true;
        return rc;
    }
    cio_scope shield = {0};
    cio_shield_enter(&shield);
    if (PQtransactionStatus(c->pg) == PQTRANS_ACTIVE) {
        if (cio__pg_cancel_request(c) < 0)
            c->broken = true;
    }
    if (!c->broken && drain_after_cancel(c) < 0)
        c->broken = true;
    cio_scope_exit(&shield);
    /* The interruption is what the caller reports; keep the server's
     * account of it (57014 "canceling statement due to user request") out
     * of the way of the next error. */
    if (rc == -ECANCELED || rc == -ETIMEDOUT)
        cio__pg_set_error(
            c, "57014", "ERROR",
            rc == -ETIMEDOUT ? "query timed out and was cancelled" : "query cancelled", NULL, NULL);
    return rc;
}
