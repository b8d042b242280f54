/* Toolkit: randomized races on the virtual clock. Many tasks acquire,
 * put and get under random timeouts and random cancellations; afterwards
 * no permit is lost or invented, and every item put was got exactly once. */
#include <errno.h>
#include <string.h>

#include "helpers.h"

static uint64_t rng_state = 12345;

static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33) % n;
}

static double rnd_delay(void)
{
    return rnd(5) * 0.001; /* 0..4 ms: many exact ties */
}

/* ---- semaphore ------------------------------------------------------------ */

enum { PERMITS = 3, SEM_TASKS = 40, SEM_ROUNDS = 150 };

static cio_semaphore sem;
static int active, max_active, acquired, timeouts;

static int sem_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < SEM_ROUNDS; i++) {
        int rc;
        {
            CIO_TIMEOUT(t, rnd_delay());
            rc = cio_semaphore_acquire(&sem);
        }
        if (rc == -ETIMEDOUT) {
            timeouts++;
            continue;
        }
        if (rc)
            return rc == -ECANCELED ? 0 : rc;
        acquired++;
        if (++active > max_active)
            max_active = active;
        rc = cio_sleep(rnd_delay());
        active--;
        cio_semaphore_release(&sem);
        if (rc)
            return rc == -ECANCELED ? 0 : rc;
    }
    return 0;
}

static int sem_body(void *arg)
{
    (void)arg;
    cio_semaphore_init(&sem, PERMITS);
    cio_task t[SEM_TASKS];
    for (int i = 0; i < SEM_TASKS; i++)
        t[i] = cio_spawn(sem_worker, NULL);
    for (int k = 0; k < 10; k++) { /* cancel some at random moments */
        task_check_eq(cio_sleep(rnd_delay() * 10), 0);
        cio_cancel(t[rnd(SEM_TASKS)]);
    }
    task_check_eq(cio_gather(t, SEM_TASKS), 0);
    task_check_eq(active, 0);
    task_check(max_active <= PERMITS);
    task_check_eq(max_active, PERMITS);
    task_check_eq(cio_semaphore_value(&sem), PERMITS);
    print_message("acquired %d, timed out %d\n", acquired, timeouts);
    task_check(acquired > 300);
    task_check(timeouts > 100);
    return 0;
}

static void test_semaphore_races(void **state)
{
    (void)state;
    assert_ok(run_virtual(sem_body, NULL));
}

/* ---- queue ------------------------------------------------------------------ */

enum { PRODUCERS = 6, CONSUMERS = 6, PER_PRODUCER = 300 };

static cio_queue q;
static unsigned char put_ok[PRODUCERS * PER_PRODUCER];
static unsigned char got[PRODUCERS * PER_PRODUCER];

static int producer(void *arg)
{
    int base = *(int *)arg * PER_PRODUCER;
    for (int i = 0; i < PER_PRODUCER; i++) {
        int v = base + i, rc;
        {
            CIO_TIMEOUT(t, rnd_delay());
            rc = cio_queue_put(&q, &v);
        }
        if (rc == 0)
            put_ok[v] = 1;
        else if (rc == -ECANCELED)
            return 0;
        else if (rc != -ETIMEDOUT)
            return rc;
        if ((rc = cio_sleep(rnd_delay())))
            return rc == -ECANCELED ? 0 : rc;
    }
    return 0;
}

static int consumer(void *arg)
{
    (void)arg;
    for (;;) {
        int v = -1, rc;
        {
            CIO_TIMEOUT(t, rnd_delay());
            rc = cio_queue_get(&q, &v);
        }
        if (rc == 0) {
            if (v < 0 || v >= PRODUCERS * PER_PRODUCER)
                return -1000;
            got[v]++;
        } else if (rc == CIO_ESHUTDOWN || rc == -ECANCELED) {
            return 0;
        } else if (rc != -ETIMEDOUT) {
            return rc;
        }
        if ((rc = cio_sleep(rnd_delay())))
            return rc == -ECANCELED ? 0 : rc;
    }
}

static int queue_body(void *arg)
{
    (void)arg;
    task_check_eq(cio_queue_init(&q, sizeof(int), 5), 0);
    int ids[PRODUCERS];
    cio_task p[PRODUCERS], c[CONSUMERS];
    for (int i = 0; i < PRODUCERS; i++) {
        ids[i] = i;
        p[i] = cio_spawn(producer, &ids[i]);
    }
    for (int i = 0; i < CONSUMERS; i++)
        c[i] = cio_spawn(consumer, NULL);
    for (int k = 0; k < 4; k++) {
        task_check_eq(cio_sleep(rnd_delay() * 20), 0);
        cio_cancel(c[rnd(CONSUMERS - 1)]); /* the last consumer always survives */
    }
    task_check_eq(cio_gather(p, PRODUCERS), 0);
    task_check_eq(cio_queue_shutdown(&q, false), 0);
    task_check_eq(cio_gather(c, CONSUMERS), 0);
    /* Whatever the last consumer left (it may have been sleeping). */
    int v;
    while (cio_queue_try_get(&q, &v) == 0)
        got[v]++;
    int puts = 0;
    for (int i = 0; i < PRODUCERS * PER_PRODUCER; i++) {
        task_check_eq(got[i], put_ok[i]); /* exactly once if put, else never */
        puts += put_ok[i];
    }
    task_check(puts > 100);
    task_check(puts < PRODUCERS * PER_PRODUCER); /* some puts did time out */
    cio_queue_destroy(&q);
    return 0;
}

static void test_queue_races(void **state)
{
    (void)state;
    assert_ok(run_virtual(queue_body, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_semaphore_races),
        cmocka_unit_test(test_queue_races),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
