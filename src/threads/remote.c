/* A loop's inbox for other threads, loop references and
 * call_soon_threadsafe. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "cio/threadsafe.h"
#include "threads/threads.h"

/* ---- the remote part of a loop ------------------------------------------ */

void cio__remote_ref(struct cio__remote *r)
{
    atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
}

void cio__remote_unref(struct cio__remote *r)
{
    if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1) {
        close(r->efd);
        free(r);
    }
}

int cio__remote_post(struct cio__remote *r, struct cio__inbox_node *n)
{
    struct cio__inbox_node *head = atomic_load_explicit(&r->head, memory_order_relaxed);
    do {
        if (head == CIO__INBOX_CLOSED)
            return CIO_ENOLOOP;
        n->next = head;
    } while (!atomic_compare_exchange_weak_explicit(&r->head, &head, n, memory_order_release,
                                                    memory_order_relaxed));
    /* Only the push that found the inbox empty wakes the loop: the loop
     * reads the eventfd before it takes the inbox, so whatever is pushed
     * after its exchange finds the inbox empty and writes again. */
    if (head == NULL) {
        uint64_t one = 1;
        ssize_t w = write(r->efd, &one, sizeof one);
        (void)w; /* EAGAIN only when the counter is saturated: still awake */
    }
    return 0;
}

/* The nodes of a taken inbox are newest first: put them in posting order. */
static struct cio__inbox_node *reverse(struct cio__inbox_node *n)
{
    struct cio__inbox_node *out = NULL;
    while (n) {
        struct cio__inbox_node *next = n->next;
        n->next = out;
        out = n;
        n = next;
    }
    return out;
}

static void run_all(struct cio__inbox_node *n, struct cio__loop *loop)
{
    n = reverse(n);
    while (n) {
        struct cio__inbox_node *next = n->next;
        n->run(n, loop);
        n = next;
    }
}

void cio__threads_wake(struct cio__loop *loop)
{
    struct cio__remote *r = loop->threads->remote;
    if (!r)
        return;
    struct cio__inbox_node *n = atomic_exchange_explicit(&r->head, NULL, memory_order_acquire);
    if (n)
        run_all(n, loop);
}

struct cio__threads *cio__threads_get(struct cio__loop *loop)
{
    if (loop->threads)
        return loop->threads;
    struct cio__threads *th = calloc(1, sizeof *th);
    if (!th)
        return NULL;
    th->remote = calloc(1, sizeof *th->remote);
    if (!th->remote) {
        free(th);
        return NULL;
    }
    th->remote->efd = dup(loop->wake_fd);
    if (th->remote->efd < 0) {
        free(th->remote);
        free(th);
        return NULL;
    }
    atomic_init(&th->remote->head, NULL);
    atomic_init(&th->remote->refs, 1);
    th->relay_slot = -1;
    th->sfd = -1;
    cio__list_init(&th->sig_waiters);
    loop->threads = th;
    return th;
}

void cio__signal_fini(struct cio__loop *loop, struct cio__threads *th);

void cio__threads_fini(struct cio__loop *loop)
{
    struct cio__threads *th = loop->threads;
    if (!th)
        return;
    cio__shutdown_fini(loop, th);
    cio__signal_fini(loop, th);
    /* Close the inbox. What is still in it is dropped, not run: the tasks
     * are gone, and a callback run now could only start work that would
     * never finish. Each node frees what it owns (run with a NULL loop). */
    struct cio__inbox_node *n =
        atomic_exchange_explicit(&th->remote->head, CIO__INBOX_CLOSED, memory_order_acq_rel);
    if (n)
        run_all(n, NULL);
    cio__remote_unref(th->remote);
    loop->threads = NULL;
    free(th);
}

/* ---- references and thread-safe calls ------------------------------------ */

struct cio_loop_ref {
    struct cio__inbox_node node; /* the release message */
    struct cio__remote *remote;
};

int cio_loop_ref_get(cio_loop_ref **out)
{
    if (!out)
        return -EINVAL;
    struct cio__loop *loop = cio__tls_loop;
    if (!loop)
        return CIO_ENOLOOP;
    struct cio__threads *th = cio__threads_get(loop);
    cio_loop_ref *ref = th ? malloc(sizeof *ref) : NULL;
    if (!ref)
        return -ENOMEM;
    ref->remote = th->remote;
    cio__remote_ref(ref->remote);
    loop->external_refs++;
    *out = ref;
    return 0;
}

static void ref_released(struct cio__inbox_node *n, struct cio__loop *loop)
{
    cio_loop_ref *ref = cio__container_of(n, cio_loop_ref, node);
    if (loop)
        loop->external_refs--;
    cio__remote_unref(ref->remote);
    free(ref);
}

void cio_loop_ref_release(cio_loop_ref *ref)
{
    if (!ref)
        return;
    /* external_refs belongs to the loop's thread: another thread sends the
     * decrement as a message. */
    struct cio__loop *loop = cio__tls_loop;
    if (loop && loop->threads && loop->threads->remote == ref->remote) {
        ref_released(&ref->node, loop);
        return;
    }
    ref->node.run = ref_released;
    if (cio__remote_post(ref->remote, &ref->node) < 0)
        ref_released(&ref->node, NULL);
}

struct call {
    struct cio__inbox_node node;
    cio_callback cb;
    void *arg;
};

static void call_run(struct cio__inbox_node *n, struct cio__loop *loop)
{
    struct call *c = cio__container_of(n, struct call, node);
    if (loop)
        c->cb(c->arg);
    free(c);
}

int cio_call_soon_threadsafe(cio_loop_ref *ref, cio_callback cb, void *arg)
{
    if (!ref || !cb)
        return -EINVAL;
    struct call *c = malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    c->node.run = call_run;
    c->cb = cb;
    c->arg = arg;
    int rc = cio__remote_post(ref->remote, &c->node);
    if (rc < 0)
        free(c);
    return rc;
}

static void stop_main(void *arg)
{
    (void)arg;
    struct cio__loop *loop = cio__tls_loop;
    struct cio__task *m = loop ? loop->main_task : NULL;
    if (m && m->state != CIO__T_DONE)
        cio__cancel_task(m, -ECANCELED);
}

int cio_loop_stop_threadsafe(cio_loop_ref *ref)
{
    return cio_call_soon_threadsafe(ref, stop_main, NULL);
}
