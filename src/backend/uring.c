/* The io_uring backend: readiness through one-shot poll requests, so that
 * every change of interest is a submission queued in memory and sent to the
 * kernel with the next wait, in the same io_uring_enter. epoll pays a
 * system call per change.
 *
 * A poll request completes once; an fd still wanted after its event is
 * armed again before the next wait, which makes the backend level-triggered
 * like epoll: a socket left with unread data completes the new request at
 * once. Each request carries the fd and a generation in its user_data; a
 * change of interest cancels the armed request and bumps the generation, so
 * a completion that was already in flight for the old interest (or for an
 * earlier file with the same number) is recognised and dropped. */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend/backend.h"
#include "base/fdtable.h"
#include "cio/task.h"
#include "loop/loop.h"

#define RING_ENTRIES 256
#define BATCH 256

/* The user_data of completions that carry nothing for the loop: our
 * cancellations, tagged with the value liburing gives the timeouts it
 * submits itself (on kernels without IORING_FEAT_EXT_ARG), so that one test
 * drops both. */
#define CANCEL_TAG LIBURING_UDATA_TIMEOUT

struct ufd {
    uint32_t gen;  /* of the request armed or next armed */
    uint8_t want;  /* CIO_READABLE | CIO_WRITABLE the loop asked for */
    uint8_t armed; /* what the request in the kernel polls for; 0: none */
    bool queued;   /* on the arm list */
};

struct uring_state {
    struct io_uring ring;
    struct ufd *fds;
    int nfds;
    /* fds to arm before the next wait, each at most once: as long as the
     * fd table, so that queueing one never allocates (and a completion
     * handled under memory pressure cannot lose its fd's next request). */
    int *arm;
    int narm, arm_cap;
    struct {
        uint64_t data;
        int32_t res;
    } done[BATCH];
};

static int ur_init(struct cio__loop *loop)
{
    struct uring_state *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    /* Only this thread submits, and completions are needed only when it
     * waits: the kernel can then skip waking it with interrupts for them.
     * Kernels before 6.1 refuse the flags; they then run without, as they
     * do with CIO_IO_URING_SETUP=basic (the tests' way to run that path). */
    const char *setup = getenv("CIO_IO_URING_SETUP");
    bool basic = setup && strcmp(setup, "basic") == 0;
    struct io_uring_params p = {
        .flags = basic ? 0 : IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
    };
    int rc = io_uring_queue_init_params(RING_ENTRIES, &st->ring, &p);
    if (rc == -EINVAL && !basic) {
        memset(&p, 0, sizeof p);
        rc = io_uring_queue_init_params(RING_ENTRIES, &st->ring, &p);
    }
    if (rc < 0) {
        free(st);
        return rc;
    }
    loop->backend = st;
    return 0;
}

static void ur_fini(struct cio__loop *loop)
{
    struct uring_state *st = loop->backend;
    if (!st)
        return;
    io_uring_queue_exit(&st->ring); /* cancels the requests still armed */
    free(st->fds);
    free(st->arm);
    free(st);
    loop->backend = NULL;
}

static uint64_t user_data(int fd, uint32_t gen)
{
    return (uint64_t)gen << 32 | (uint32_t)fd;
}

/* A free submission entry, flushing the queue to the kernel when full. */
static struct io_uring_sqe *sqe_get(struct uring_state *st)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&st->ring);
    if (!sqe) {
        (void)io_uring_submit(&st->ring);
        sqe = io_uring_get_sqe(&st->ring);
    }
    return sqe;
}

/* Makes room for fd in the fd table and the arm list. */
static int reach(struct uring_state *st, int fd)
{
    int rc = cio__fdtable_reach((void **)&st->fds, &st->nfds, sizeof *st->fds, fd);
    if (rc < 0 || st->arm_cap >= st->nfds)
        return rc;
    int *a = realloc(st->arm, (size_t)st->nfds * sizeof *a);
    if (!a)
        return -ENOMEM; /* tried again by the next update that needs it */
    st->arm = a;
    st->arm_cap = st->nfds;
    return 0;
}

/* fd is below arm_cap: an update for it succeeded (see reach()). */
static void queue_arm(struct uring_state *st, int fd)
{
    if (st->fds[fd].queued)
        return;
    st->arm[st->narm++] = fd;
    st->fds[fd].queued = true;
}

/* Cancels fd's armed request; its completion, if any, is then stale. */
static int disarm(struct uring_state *st, int fd)
{
    struct ufd *u = &st->fds[fd];
    struct io_uring_sqe *sqe = sqe_get(st);
    if (!sqe)
        return -EBUSY;
    io_uring_prep_poll_remove(sqe, user_data(fd, u->gen));
    io_uring_sqe_set_data64(sqe, CANCEL_TAG);
    u->armed = 0;
    u->gen++;
    return 0;
}

/* What epoll refuses, a poll request would report ready forever: keep the
 * backends' contract the same (backend.h). */
static int pollable(int fd)
{
    struct stat s;
    if (fstat(fd, &s) < 0)
        return -errno;
    return S_ISREG(s.st_mode) || S_ISDIR(s.st_mode) || S_ISBLK(s.st_mode) ? -EPERM : 0;
}

static int ur_update(struct cio__loop *loop, int fd, unsigned old, unsigned now)
{
    struct uring_state *st = loop->backend;
    if (!old && now) {
        int rc = pollable(fd);
        if (rc < 0)
            return rc;
    }
    int rc = reach(st, fd);
    if (rc < 0)
        return rc;
    struct ufd *u = &st->fds[fd];
    u->want = (uint8_t)now;
    if (u->armed && u->armed != now) {
        rc = disarm(st, fd);
        if (rc < 0)
            return rc;
    }
    if (now && !u->armed)
        queue_arm(st, fd);
    return 0;
}

static unsigned to_poll(unsigned ev)
{
    return (ev & CIO_READABLE ? POLLIN | POLLRDHUP : 0) | (ev & CIO_WRITABLE ? POLLOUT : 0);
}

static void arm_queued(struct uring_state *st)
{
    int i = 0;
    for (; i < st->narm; i++) {
        int fd = st->arm[i];
        struct ufd *u = &st->fds[fd];
        if (u->armed || !u->want) {
            u->queued = false;
            continue;
        }
        struct io_uring_sqe *sqe = sqe_get(st);
        if (!sqe)
            break; /* the kernel holds every entry: the rest wait a turn */
        u->queued = false;
        io_uring_prep_poll_add(sqe, fd, to_poll(u->want));
        io_uring_sqe_set_data64(sqe, user_data(fd, u->gen));
        u->armed = u->want;
    }
    memmove(st->arm, st->arm + i, (size_t)(st->narm - i) * sizeof *st->arm);
    st->narm -= i;
}

/* Takes up to BATCH completions out of the ring, so that the callbacks run
 * for them may queue submissions without the ring moving underneath. */
static int harvest(struct uring_state *st)
{
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;
    io_uring_for_each_cqe(&st->ring, head, cqe)
    {
        if (n == BATCH)
            break;
        st->done[n].data = cqe->user_data;
        st->done[n].res = cqe->res;
        n++;
    }
    io_uring_cq_advance(&st->ring, n);
    return (int)n;
}

static int dispatch(struct cio__loop *loop, int n)
{
    struct uring_state *st = loop->backend;
    int events = 0;
    for (int i = 0; i < n; i++) {
        uint64_t data = st->done[i].data;
        int fd = (int)(uint32_t)data;
        if (data == CANCEL_TAG || fd >= st->nfds || st->fds[fd].gen != (uint32_t)(data >> 32))
            continue;
        struct ufd *u = &st->fds[fd];
        int res = st->done[i].res;
        u->armed = 0;
        u->gen++;
        if (res == -ECANCELED)
            continue;
        /* A request that failed (the fd was closed before it reached the
         * kernel) is not armed again, as epoll forgets a closed file; the
         * waiters are told once. */
        if (u->want && res >= 0)
            queue_arm(st, fd);
        unsigned ev = CIO_READABLE | CIO_WRITABLE; /* an error, as epoll's */
        if (res >= 0 && !(res & (POLLERR | POLLHUP | POLLNVAL)))
            ev = (res & (POLLIN | POLLRDHUP | POLLPRI) ? CIO_READABLE : 0) |
                 (res & POLLOUT ? CIO_WRITABLE : 0);
        cio__io_ready(loop, fd, ev);
        events++;
    }
    return events;
}

static int ur_poll(struct cio__loop *loop, int64_t timeout_ns)
{
    struct uring_state *st = loop->backend;
    arm_queued(st);
    int rc;
    if (timeout_ns == 0) {
        rc = io_uring_submit_and_get_events(&st->ring);
    } else {
        struct __kernel_timespec ts, *tsp = NULL;
        if (timeout_ns > 0) {
            ts.tv_sec = timeout_ns / 1000000000;
            ts.tv_nsec = timeout_ns % 1000000000;
            tsp = &ts;
        }
        struct io_uring_cqe *cqe;
        rc = io_uring_submit_and_wait_timeout(&st->ring, &cqe, 1, tsp, NULL);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN)
        return rc;
    int events = 0, n;
    while ((n = harvest(st)) > 0) {
        events += dispatch(loop, n);
        if (n < BATCH)
            break;
    }
    return events;
}

const struct cio__backend_ops cio__uring_ops = {
    .name = "io_uring",
    .init = ur_init,
    .fini = ur_fini,
    .update = ur_update,
    .poll = ur_poll,
};
