/* The timer heap: deadline order, FIFO among equal deadlines, removal from
 * anywhere. */
#include "helpers.h"

#include <stdlib.h>

#include "base/heap.h"

static void fire_nothing(struct cio__timer *t)
{
    (void)t;
}

static void test_order_and_ties(void **state)
{
    (void)state;
    struct cio__heap h;
    cio__heap_init(&h);
    enum { N = 2000 };
    struct cio__timer *t = calloc(N, sizeof *t);
    srand(7);
    for (int i = 0; i < N; i++) {
        t[i].deadline = rand() % 50; /* many ties */
        t[i].fire = fire_nothing;
        t[i].seq = (uint64_t)i;
        assert_int_equal(cio__heap_push(&h, &t[i]), 0);
    }
    /* Remove every third timer from wherever it sits. */
    for (int i = 0; i < N; i += 3)
        cio__heap_remove(&h, &t[i]);
    int64_t last_deadline = -1;
    uint64_t last_seq = 0;
    int popped = 0;
    struct cio__timer *x;
    while ((x = cio__heap_pop_due(&h, INT64_MAX))) {
        assert_int_equal(x->pos, 0);
        assert_true((x - t) % 3 != 0);
        if (x->deadline == last_deadline)
            assert_true(x->seq > last_seq); /* FIFO among ties */
        else
            assert_true(x->deadline > last_deadline);
        last_deadline = x->deadline;
        last_seq = x->seq;
        popped++;
    }
    assert_int_equal(popped, N - (N + 2) / 3);
    cio__heap_fini(&h);
    free(t);
}

static void test_pop_due_respects_now(void **state)
{
    (void)state;
    struct cio__heap h;
    cio__heap_init(&h);
    struct cio__timer a = {.deadline = 10, .seq = 1, .fire = fire_nothing};
    struct cio__timer b = {.deadline = 20, .seq = 0, .fire = fire_nothing};
    assert_int_equal(cio__heap_push(&h, &b), 0);
    assert_int_equal(cio__heap_push(&h, &a), 0);
    assert_ptr_equal(cio__heap_top(&h), &a);
    assert_null(cio__heap_pop_due(&h, 9));
    assert_ptr_equal(cio__heap_pop_due(&h, 15), &a);
    assert_null(cio__heap_pop_due(&h, 15));
    cio__heap_remove(&h, &a); /* not in the heap: harmless */
    assert_ptr_equal(cio__heap_pop_due(&h, 20), &b);
    cio__heap_fini(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_ties),
        cmocka_unit_test(test_pop_due_respects_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
