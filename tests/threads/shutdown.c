/* The guide's producer-consumer stopped by SIGTERM loses nothing silently:
 * either the consumers drain what was produced (shielded, within the
 * shutdown deadline), or every item produced is accounted for exactly
 * once: processed, interrupted in a consumer's hands, or left queued.
 * Run with the toolkit's cio_queue (asyncio.Queue) and with the threads
 * area's cio_chan. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define ITEMS 40
#define CONSUMERS 3

enum { NONE, PROCESSED, INTERRUPTED, LEFT };

struct pc {
    bool use_queue; /* cio_queue, else cio_chan */
    cio_queue queue;
    cio_chan *q;
    bool drain; /* on shutdown, finish the queued items */
    int produced;
    int fate[ITEMS + 1]; /* item -> what became of it */
    int twice;           /* items accounted for more than once */
};

static void settle(struct pc *pc, uintptr_t item, int fate)
{
    if (pc->fate[item] != NONE)
        pc->twice++;
    pc->fate[item] = fate;
}

/* The two queues behind one face; end of stream is -EPIPE for both. */
static int q_put(struct pc *pc, uintptr_t item)
{
    return pc->use_queue ? cio_queue_put(&pc->queue, &item) : cio_chan_send(pc->q, (void *)item);
}

static int q_end(int rc)
{
    return rc == CIO_ESHUTDOWN ? -EPIPE : rc;
}

static int q_get(struct pc *pc, uintptr_t *item)
{
    void *v = NULL;
    int rc = pc->use_queue ? cio_queue_get(&pc->queue, item) : cio_chan_recv(pc->q, &v);
    if (!pc->use_queue && rc == 0)
        *item = (uintptr_t)v;
    return q_end(rc);
}

static int q_try_get(struct pc *pc, uintptr_t *item)
{
    void *v = NULL;
    int rc = pc->use_queue ? cio_queue_try_get(&pc->queue, item) : cio_chan_try_recv(pc->q, &v);
    if (!pc->use_queue && rc == 0)
        *item = (uintptr_t)v;
    return q_end(rc);
}

static int q_close(struct pc *pc)
{
    return pc->use_queue ? cio_queue_shutdown(&pc->queue, false) : cio_chan_close(pc->q);
}

static int producer(void *arg)
{
    struct pc *pc = arg;
    for (uintptr_t i = 1; i <= ITEMS; i++) {
        int rc = cio_sleep(0.002);
        if (rc == 0)
            rc = q_put(pc, i);
        if (rc < 0)
            return rc; /* item i was never produced */
        pc->produced++;
    }
    return q_close(pc);
}

static int consumer(void *arg)
{
    struct pc *pc = arg;
    uintptr_t item;
    int rc;
    while ((rc = q_get(pc, &item)) == 0) {
        rc = cio_sleep(0.01); /* processing */
        if (rc < 0 && pc->drain) {
            CIO_SHIELD(s); /* finish it anyway */
            cio_sleep(0.01);
        }
        settle(pc, item, rc < 0 && !pc->drain ? INTERRUPTED : PROCESSED);
        if (rc < 0)
            break;
    }
    if (rc == -EPIPE)
        return 0;
    if (pc->drain) {
        /* Cancelled: finish what is queued before leaving, shielded. */
        CIO_SHIELD(s);
        while (q_try_get(pc, &item) == 0) {
            cio_sleep(0.01);
            settle(pc, item, PROCESSED);
        }
    }
    return rc;
}

static void *term_later(void *arg)
{
    (void)arg;
    usleep(40000);
    kill(getpid(), SIGTERM);
    return NULL;
}

static int pc_main(void *arg)
{
    struct pc *pc = arg;
    if (pc->use_queue)
        task_check_eq(cio_queue_init(&pc->queue, sizeof(uintptr_t), 4), 0);
    else
        task_check_eq(cio_chan_new(&pc->q, 4), 0);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t th;
    int e = pthread_create(&th, NULL, term_later, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    task_check_eq(e, 0);
    cio_task p = cio_spawn(producer, pc);
    cio_task c[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++)
        c[i] = cio_spawn(consumer, pc);
    int rc = cio_join(p);
    for (int i = 0; i < CONSUMERS; i++)
        cio_join(c[i]);
    /* What nobody took is reported, not dropped. */
    uintptr_t item;
    while (q_try_get(pc, &item) == 0)
        settle(pc, item, LEFT);
    pthread_join(th, NULL);
    if (pc->use_queue)
        cio_queue_destroy(&pc->queue);
    else
        cio_chan_free(pc->q);
    return rc;
}

static void check(struct pc *pc, bool drained)
{
    assert_int_equal(pc->twice, 0);
    /* Stopped midway: some produced, not all. */
    assert_true(pc->produced > 0 && pc->produced < ITEMS);
    int processed = 0, other = 0;
    for (int i = 1; i <= ITEMS; i++) {
        if (i <= pc->produced)
            assert_int_not_equal(pc->fate[i], NONE); /* every item accounted */
        else
            assert_int_equal(pc->fate[i], NONE);
        processed += pc->fate[i] == PROCESSED;
        other += pc->fate[i] == INTERRUPTED || pc->fate[i] == LEFT;
    }
    assert_int_equal(processed + other, pc->produced);
    if (drained)
        assert_int_equal(other, 0);
    else
        assert_true(other > 0);
}

static void run_pc(bool use_queue, bool drain)
{
    static struct pc pc;
    memset(&pc, 0, sizeof pc);
    pc.use_queue = use_queue;
    pc.drain = drain;
    FILE *devnull = fopen("/dev/null", "w");
    int rc = cio_run_with(&(cio_run_options){.report = devnull}, pc_main, &pc);
    fclose(devnull);
    assert_int_equal(rc, -ECANCELED);
    assert_int_equal(cio_exit_status(rc), 143);
    check(&pc, drain);
}

static void test_queue_report_what_was_left(void **state)
{
    (void)state;
    run_pc(true, false);
}

static void test_queue_drain_on_shutdown(void **state)
{
    (void)state;
    run_pc(true, true);
}

static void test_chan_report_what_was_left(void **state)
{
    (void)state;
    run_pc(false, false);
}

static void test_chan_drain_on_shutdown(void **state)
{
    (void)state;
    run_pc(false, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_report_what_was_left),
        cmocka_unit_test(test_queue_drain_on_shutdown),
        cmocka_unit_test(test_chan_report_what_was_left),
        cmocka_unit_test(test_chan_drain_on_shutdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
