/* The slab allocator of task records and handles, and the page arenas its
 * large slabs come from. */
#include "helpers.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/pages.h"
#include "base/slab.h"

static void test_records_distinct_aligned_reused(void **state)
{
    (void)state;
    struct cio__slab s;
    cio__slab_init(&s, 72, 4); /* rounded up to 80 */
    assert_int_equal(s.size, 80);
    enum { N = 200000 }; /* 16 MB of records: past the mapped slabs' size */
    char **r = malloc(N * sizeof *r);
    assert_non_null(r);
    for (int i = 0; i < N; i++) {
        r[i] = cio__slab_get(&s);
        assert_non_null(r[i]);
        assert_int_equal((uintptr_t)r[i] % 16, 0);
        memset(r[i], i & 0xff, 80); /* the whole record is ours */
    }
    /* No two records overlap: each still holds what was written to it. */
    for (int i = 0; i < N; i++)
        assert_int_equal((unsigned char)r[i][79], i & 0xff);
    /* Records given back are handed out again, the last one first. */
    cio__slab_put(&s, r[10]);
    cio__slab_put(&s, r[20]);
    assert_ptr_equal(cio__slab_get(&s), r[20]);
    assert_ptr_equal(cio__slab_get(&s), r[10]);
    /* Slabs grew geometrically: far fewer of them than records. */
    int slabs = 0;
    for (void **h = s.slabs; h; h = *h)
        slabs++;
    assert_in_range(slabs, 2, 20);
    cio__slab_fini(&s);
    assert_null(s.slabs);
    free(r);
}

static void test_pages_aligned_and_zeroed(void **state)
{
    (void)state;
    size_t big = 3 * CIO__HUGE_SIZE;
    char *p = cio__pages_alloc(big);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % CIO__HUGE_SIZE, 0);
    for (size_t off = 0; off < big; off += 4096)
        assert_int_equal(p[off], 0);
    memset(p, 1, big);
    cio__pages_free(p, big);

    char *q = cio__pages_alloc(8192);
    assert_non_null(q);
    assert_int_equal(q[8191], 0);
    q[8191] = 1;
    cio__pages_free(q, 8192);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_distinct_aligned_reused),
        cmocka_unit_test(test_pages_aligned_and_zeroed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
