/* The thread-safe channel: a ring of pointers under a mutex, with waiting
 * senders and receivers of two kinds: tasks (woken on their own loop, via
 * its inbox when the waker is another thread) and plain threads (woken
 * through a condition variable).
 *
 * A waker completes a waiter under the mutex (hands it an item, or takes
 * its item) before waking it, so an item is in exactly one place at any
 * time. A task interrupted while it waits therefore either finds itself
 * still queued (nothing happened: it leaves) or already completed (it keeps
 * the outcome, after waiting for the wake-up message that points at its
 * stack to be consumed). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "cio/threadsafe.h"
#include "threads/threads.h"

struct waiter {
    struct cio__list link;
    void *item;
    int result;
    bool done; /* under the channel's mutex */
    /* A task: */
    struct cio__task *task;
    struct cio__loop *loop; /* the task's */
    struct cio__remote *remote;
    struct cio__inbox_node node;
    bool delivered; /* the task's loop thread only */
    /* A thread: */
    pthread_cond_t *cv;
};

struct cio_chan {
    pthread_mutex_t mu;
    struct cio__list senders, receivers;
    size_t cap, head, count;
    bool closed;
    void *ring[];
};

int cio_chan_new(cio_chan **out, size_t capacity)
{
    if (!out || capacity == 0 || capacity > ((size_t)1 << 40))
        return -EINVAL;
    cio_chan *ch = calloc(1, sizeof *ch + capacity * sizeof(void *));
    if (!ch)
        return -ENOMEM;
    pthread_mutex_init(&ch->mu, NULL);
    cio__list_init(&ch->senders);
    cio__list_init(&ch->receivers);
    ch->cap = capacity;
    *out = ch;
    return 0;
}

void cio_chan_free(cio_chan *ch)
{
    if (!ch)
        return;
    pthread_mutex_destroy(&ch->mu);
    free(ch);
}

static void node_run(struct cio__inbox_node *n, struct cio__loop *loop)
{
    struct waiter *w = cio__container_of(n, struct waiter, node);
    if (!loop)
        return;
    w->delivered = true;
    cio__wake(w->task, 0);
}

/* Completes w (already unlinked) and wakes it; under the mutex. */
static void complete(struct waiter *w, int result)
{
    w->result = result;
    w->done = true;
    if (w->cv) {
        pthread_cond_signal(w->cv);
    } else if (cio__tls_loop == w->loop) {
        w->delivered = true;
        cio__wake(w->task, 0);
    } else {
        w->node.run = node_run;
        /* The task's loop is alive: the task waits for this very node. */
        cio__remote_post(w->remote, &w->node);
    }
}

static struct waiter *first(struct cio__list *l)
{
    struct cio__list *n = cio__list_shift(l);
    return n ? cio__container_of(n, struct waiter, link) : NULL;
}

/* Tries to send without waiting; under the mutex. -EAGAIN when full. */
static int send_locked(cio_chan *ch, void *item)
{
    if (ch->closed)
        return -EPIPE;
    struct waiter *r = first(&ch->receivers);
    if (r) {
        r->item = item;
        complete(r, 0);
        return 0;
    }
    if (ch->count == ch->cap)
        return -EAGAIN;
    ch->ring[(ch->head + ch->count++) % ch->cap] = item;
    return 0;
}

static int recv_locked(cio_chan *ch, void **item)
{
    if (ch->count == 0)
        return ch->closed ? -EPIPE : -EAGAIN;
    *item = ch->ring[ch->head];
    ch->head = (ch->head + 1) % ch->cap;
    ch->count--;
    struct waiter *s = first(&ch->senders);
    if (s) {
        ch->ring[(ch->head + ch->count++) % ch->cap] = s->item;
        complete(s, 0);
    }
    return 0;
}

/* Waits on list as the calling task or thread; the mutex is held on entry
 * and released on return. Returns the waiter's result, or the interruption
 * of a task that was not completed. */
static int wait_on(cio_chan *ch, struct cio__list *list, struct waiter *w, const char *what)
{
    struct cio__loop *loop = cio__tls_loop;
    if (!loop) {
        pthread_cond_t cv;
        pthread_cond_init(&cv, NULL);
        w->cv = &cv;
        cio__list_push(list, &w->link);
        while (!w->done)
            pthread_cond_wait(&cv, &ch->mu);
        pthread_mutex_unlock(&ch->mu);
        pthread_cond_destroy(&cv);
        return w->result;
    }
    struct cio__task *t = w->task;
    struct cio__threads *th = cio__threads_get(loop);
    if (!th) {
        pthread_mutex_unlock(&ch->mu);
        return -ENOMEM;
    }
    w->loop = loop;
    w->remote = th->remote;
    cio__list_push(list, &w->link);
    pthread_mutex_unlock(&ch->mu);
    loop->external_refs++; /* another thread may wake us */
    int rc = cio__suspend(t, what);
    if (rc) {
        pthread_mutex_lock(&ch->mu);
        bool done = w->done;
        if (!done)
            cio__list_unlink(&w->link);
        pthread_mutex_unlock(&ch->mu);
        if (done) {
            /* Completed as we were interrupted: keep the outcome, and stay
             * until the wake-up that names this frame has been consumed. */
            while (!w->delivered)
                cio__suspend_nointr(t, what);
            rc = w->result;
        }
    } else {
        rc = w->result;
    }
    loop->external_refs--;
    return rc;
}

/* The common entry of the waiting calls: 0 when the caller may wait (task
 * set, or NULL for a plain thread), or an error. */
static int may_wait(struct cio__task **tp)
{
    *tp = NULL;
    if (!cio__tls_loop)
        return 0;
    return cio__enter(tp);
}

int cio_chan_send(cio_chan *ch, void *item)
{
    if (!ch)
        return -EINVAL;
    /* Done at once when it can be, as the toolkit's calls are, even in a
     * cancelled task or a loop callback: only a wait needs a task. */
    struct waiter w = {.item = item};
    pthread_mutex_lock(&ch->mu);
    int rc = send_locked(ch, item);
    if (rc == -EAGAIN && (rc = may_wait(&w.task)) == 0)
        return wait_on(ch, &ch->senders, &w, "channel send");
    pthread_mutex_unlock(&ch->mu);
    return rc;
}

int cio_chan_try_send(cio_chan *ch, void *item)
{
    if (!ch)
        return -EINVAL;
    pthread_mutex_lock(&ch->mu);
    int rc = send_locked(ch, item);
    pthread_mutex_unlock(&ch->mu);
    return rc;
}

int cio_chan_recv(cio_chan *ch, void **item)
{
    if (!ch || !item)
        return -EINVAL;
    struct waiter w = {0};
    pthread_mutex_lock(&ch->mu);
    int rc = recv_locked(ch, item);
    if (rc != -EAGAIN || (rc = may_wait(&w.task)) != 0) {
        pthread_mutex_unlock(&ch->mu);
        return rc; /* done at once, as send */
    }
    rc = wait_on(ch, &ch->receivers, &w, "channel receive");
    if (rc == 0)
        *item = w.item;
    return rc;
}

int cio_chan_try_recv(cio_chan *ch, void **item)
{
    if (!ch || !item)
        return -EINVAL;
    pthread_mutex_lock(&ch->mu);
    int rc = recv_locked(ch, item);
    pthread_mutex_unlock(&ch->mu);
    return rc;
}

int cio_chan_close(cio_chan *ch)
{
    if (!ch)
        return -EINVAL;
    pthread_mutex_lock(&ch->mu);
    if (ch->closed) {
        pthread_mutex_unlock(&ch->mu);
        return -EALREADY;
    }
    ch->closed = true;
    struct waiter *w;
    while ((w = first(&ch->senders)))
        complete(w, -EPIPE);
    while ((w = first(&ch->receivers)))
        complete(w, -EPIPE);
    pthread_mutex_unlock(&ch->mu);
    return 0;
}

size_t cio_chan_len(cio_chan *ch)
{
    if (!ch)
        return 0;
    pthread_mutex_lock(&ch->mu);
    size_t n = ch->count;
    pthread_mutex_unlock(&ch->mu);
    return n;
}
