/* The timer queue (heap + wheel + overflow) against a brute-force model:
 * timers from nanoseconds to hours away, random cancellations, a clock
 * that creeps and jumps. Every pop must come out exactly as a sorted list
 * of (deadline, sequence) would have it. */
#include "helpers.h"

#include <stdlib.h>

#include "base/timers.h"

static void fire_nothing(struct cio__timer *t)
{
    (void)t;
}

enum { N = 20000 };

struct model {
    struct cio__timer t[N];
    bool live[N];
    uint64_t rng;
};

static uint64_t next_rand(struct model *m)
{
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return m->rng;
}

static int64_t random_delay(struct model *m)
{
    switch (next_rand(m) % 6) {
    case 0:
        return (int64_t)(next_rand(m) % 1000); /* < 1 us */
    case 1:
        return (int64_t)(next_rand(m) % 10000000); /* < 10 ms: one bucket or two */
    case 2:
        return (int64_t)(next_rand(m) % 2000000000); /* < 2 s: the ring */
    case 3:
        return (int64_t)(next_rand(m) % 3600000000000ull); /* < 1 h: overflow */
    case 4:
        return -(int64_t)(next_rand(m) % 1000000); /* already past */
    default:
        return 5000000; /* many equal deadlines: FIFO among them */
    }
}

/* The index of the live timer that should fire next at `now`, or -1. */
static int expected_next(struct model *m, int64_t now)
{
    int best = -1;
    for (int i = 0; i < N; i++) {
        if (!m->live[i] || m->t[i].deadline > now)
            continue;
        if (best < 0 || m->t[i].deadline < m->t[best].deadline ||
            (m->t[i].deadline == m->t[best].deadline && m->t[i].seq < m->t[best].seq))
            best = i;
    }
    return best;
}

static void test_against_model(void **state)
{
    (void)state;
    struct model *m = calloc(1, sizeof *m);
    m->rng = 0x2545F4914F6CDD1Dull;
    struct cio__timers q;
    int64_t now = 123456789012345; /* like a real monotonic clock */
    cio__timers_init(&q, now);
    int next_free = 0, fired = 0;
    for (int round = 0; round < 400; round++) {
        /* Add a batch. */
        for (int k = 0; k < 60 && next_free < N; k++, next_free++) {
            struct cio__timer *t = &m->t[next_free];
            t->deadline = now + random_delay(m);
            t->fire = fire_nothing;
            assert_int_equal(cio__timers_add(&q, t), 0);
            m->live[next_free] = true;
        }
        /* Cancel a few at random. */
        for (int k = 0; k < 10 && next_free; k++) {
            int i = (int)(next_rand(m) % (uint64_t)next_free);
            cio__timers_remove(&q, &m->t[i]);
            assert_false(cio__timer_scheduled(&m->t[i]));
            m->live[i] = false;
        }
        /* next() never promises a deadline later than the true earliest. */
        int64_t truth = INT64_MAX;
        size_t live = 0;
        for (int i = 0; i < N; i++)
            if (m->live[i]) {
                live++;
                if (m->t[i].deadline < truth)
                    truth = m->t[i].deadline;
            }
        assert_int_equal(q.count, live);
        int64_t promised = cio__timers_next(&q);
        assert_true(promised <= truth);
        /* Advance the clock: creep, or jump a long way now and then. */
        uint64_t r = next_rand(m) % 10;
        now += r < 6   ? (int64_t)(next_rand(m) % 20000000)
               : r < 9 ? (int64_t)(next_rand(m) % 3000000000ull)
                       : (int64_t)(next_rand(m) % 7200000000000ull);
        struct cio__timer *t;
        while ((t = cio__timers_pop_due(&q, now))) {
            int want = expected_next(m, now);
            assert_true(want >= 0);
            assert_ptr_equal(t, &m->t[want]);
            m->live[want] = false;
            fired++;
        }
        assert_int_equal(expected_next(m, now), -1);
    }
    assert_true(fired > N / 2);
    /* Drain what is left. */
    size_t left = q.count;
    size_t taken = 0;
    while (cio__timers_take_any(&q))
        taken++;
    assert_int_equal(taken, left);
    assert_int_equal(q.count, 0);
    assert_int_equal(cio__timers_next(&q), INT64_MAX);
    cio__timers_fini(&q);
    free(m);
}

/* Thousands of timers in one bucket (sorted by radix, not by insertion),
 * most of them cancelled (tombstones compacted), some cancelled after
 * their bucket was sorted into the run, duplicates kept in FIFO order. */
static void test_dense_bucket(void **state)
{
    (void)state;
    struct model *m = calloc(1, sizeof *m);
    m->rng = 0x9E3779B97F4A7C15ull;
    struct cio__timers q;
    /* Buckets are 2^23 ns wide: the one after now's is [now + 6.6 ms,
     * now + 15.0 ms). The bucket of now itself is already behind the
     * horizon (its timers go to the heap). */
    int64_t now = 1000000000;
    cio__timers_init(&q, now);
    for (int i = 0; i < N; i++) {
        struct cio__timer *t = &m->t[i];
        /* 7 ms to 15 ms away, in steps of 1 us: many equal deadlines. */
        t->deadline = now + 7000000 + (int64_t)(next_rand(m) % 8000) * 1000;
        t->fire = fire_nothing;
        assert_int_equal(cio__timers_add(&q, t), 0);
        m->live[i] = true;
    }
    /* Cancel two thirds while they wait in their bucket. */
    for (int i = 0; i < N; i++)
        if (next_rand(m) % 3) {
            cio__timers_remove(&q, &m->t[i]);
            m->live[i] = false;
        }
    /* next() sorts the bucket into the run; cancel some of those too. */
    int64_t promised = cio__timers_next(&q);
    assert_true(promised >= now + 7000000);
    for (int i = 0; i < N; i += 7) {
        cio__timers_remove(&q, &m->t[i]);
        assert_false(cio__timer_scheduled(&m->t[i]));
        m->live[i] = false;
    }
    size_t live = 0;
    for (int i = 0; i < N; i++)
        live += m->live[i];
    assert_int_equal(q.count, live);
    /* Fire them in steps of 0.5 ms. */
    size_t fired = 0;
    for (int64_t at = now; at <= now + 16000000; at += 500000) {
        struct cio__timer *t;
        while ((t = cio__timers_pop_due(&q, at))) {
            int want = expected_next(m, at);
            assert_true(want >= 0);
            assert_ptr_equal(t, &m->t[want]);
            m->live[want] = false;
            fired++;
        }
        assert_int_equal(expected_next(m, at), -1);
    }
    assert_int_equal(fired, live);
    assert_int_equal(q.count, 0);
    assert_int_equal(cio__timers_next(&q), INT64_MAX);
    cio__timers_fini(&q);
    free(m);
}

/* A loop that is behind: every timer of forty buckets is overdue when it
 * first looks. The buckets are sorted into the run one at a time, as the
 * run empties, not all at once; timers added meanwhile, before and after
 * the horizon, still fire in order. */
static void test_behind_sorts_one_bucket_at_a_time(void **state)
{
    (void)state;
    enum { BUCKETS = 40, PER = N / BUCKETS - 1 };
    struct model *m = calloc(1, sizeof *m);
    m->rng = 0xD1B54A32D192ED03ull;
    struct cio__timers q;
    int64_t now = 5000000000;
    cio__timers_init(&q, now);
    int used = 0;
    for (int b = 1; b <= BUCKETS; b++)
        for (int k = 0; k < PER; k++, used++) {
            struct cio__timer *t = &m->t[used];
            int64_t start = ((now >> CIO__WHEEL_SHIFT) + b) << CIO__WHEEL_SHIFT;
            t->deadline = start + (int64_t)(next_rand(m) % (1 << CIO__WHEEL_SHIFT));
            t->fire = fire_nothing;
            assert_int_equal(cio__timers_add(&q, t), 0);
            m->live[used] = true;
        }
    int64_t late = now + (int64_t)(BUCKETS + 2) * (1 << CIO__WHEEL_SHIFT);
    size_t fired = 0;
    uint32_t most_in_run = 0;
    struct cio__timer *t;
    while ((t = cio__timers_pop_due(&q, late))) {
        if (q.run.n > most_in_run)
            most_in_run = q.run.n;
        int want = expected_next(m, late);
        assert_true(want >= 0);
        assert_ptr_equal(t, &m->t[want]);
        m->live[want] = false;
        fired++;
        if (fired % 97 == 0 && used < N) {
            /* A late arrival: anywhere from long past to just after the
             * buckets. */
            struct cio__timer *n = &m->t[used];
            n->deadline = now + (int64_t)(next_rand(m) % (uint64_t)(late - now));
            n->fire = fire_nothing;
            assert_int_equal(cio__timers_add(&q, n), 0);
            m->live[used++] = true;
            assert_true(cio__timers_next(&q) <= m->t[expected_next(m, INT64_MAX)].deadline);
        }
    }
    assert_int_equal(expected_next(m, INT64_MAX), -1);
    assert_int_equal(fired, (size_t)used);
    assert_true(used > BUCKETS * PER);
    /* A bucket holds ~PER timers (and a few late arrivals). */
    assert_true(most_in_run <= PER + PER / 4);
    assert_int_equal(q.count, 0);
    cio__timers_fini(&q);
    free(m);
}

/* Timers cancelled mostly in the order they were added, as equal timeouts
 * and sleepers cancelled in turn are, while new ones keep coming: a list
 * that never empties. Its tombstones at the front must be given back as
 * they appear (the memory it holds stays that of the live timers), and the
 * positions timers hold must stay valid as its blocks move down. */
static void churn(int64_t delay)
{
    enum { LIVE = 5000, ROUNDS = 200000 };
    struct cio__timer *t = calloc(ROUNDS, sizeof *t);
    bool *live = calloc(ROUNDS, sizeof *live);
    uint64_t rng = 0x2545F4914F6CDD1Dull;
    struct cio__timers q;
    int64_t now = 0;
    cio__timers_init(&q, now);
    size_t count = 0;
    uint32_t oldest = 0, most_blocks = 0;
    for (uint32_t i = 0; i < ROUNDS; i++) {
        /* Deadlines rise with i, so they fire in the order of i. */
        t[i].deadline = now + delay + i;
        t[i].fire = fire_nothing;
        assert_int_equal(cio__timers_add(&q, &t[i]), 0);
        live[i] = true;
        count++;
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        if (rng % 8 == 0) { /* now and then, one from the middle */
            uint32_t j = oldest + (uint32_t)(rng >> 8) % (i + 1 - oldest);
            if (live[j]) {
                cio__timers_remove(&q, &t[j]);
                live[j] = false;
                count--;
            }
        }
        while (count > LIVE) {
            if (live[oldest]) {
                cio__timers_remove(&q, &t[oldest]);
                assert_false(cio__timer_scheduled(&t[oldest]));
                live[oldest] = false;
                count--;
            }
            oldest++;
        }
        assert_int_equal(q.count, count);
        const struct cio__timer_list *l =
            delay > 3 * 1000000000ll ? &q.overflow : &q.bucket[(delay >> CIO__WHEEL_SHIFT) & 255];
        if (l->nblocks > most_blocks)
            most_blocks = l->nblocks;
        if (i == ROUNDS - 1)
            assert_true(l->base > 0); /* its blocks moved down */
    }
    /* The list held about what its live timers need, not a block for
     * every timer ever added (ROUNDS / 64 = 3125). */
    assert_true(most_blocks <= 2 * LIVE / 64 + 2 * 16);
    /* The live ones fire in order. */
    uint32_t next = oldest;
    struct cio__timer *f;
    while ((f = cio__timers_pop_due(&q, now + delay + ROUNDS))) {
        while (!live[next])
            next++;
        assert_ptr_equal(f, &t[next]);
        live[next++] = false;
        count--;
    }
    assert_int_equal(count, 0);
    assert_int_equal(q.count, 0);
    cio__timers_fini(&q);
    free(live);
    free(t);
}

static void test_churn_in_overflow(void **state)
{
    (void)state;
    churn(3600 * 1000000000ll);
}

static void test_churn_in_bucket(void **state)
{
    (void)state;
    /* 1 s away and 200 us wide: one bucket of the ring. */
    churn(1000000000ll - 1000000000ll % (1 << CIO__WHEEL_SHIFT) + 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_model),
        cmocka_unit_test(test_dense_bucket),
        cmocka_unit_test(test_behind_sorts_one_bucket_at_a_time),
        cmocka_unit_test(test_churn_in_overflow),
        cmocka_unit_test(test_churn_in_bucket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
