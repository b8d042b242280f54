/* The slab allocator of task records and handles, and the page arenas its
 * large slabs come from. */
#include "helpers.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

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

static int count_slabs(const struct cio__slab *s)
{
    int n = 0;
    for (void *const *h = s->slabs; h; h = *h)
        n++;
    return n;
}

/* A handle check walks the slabs: however many records, they stay few. */
static void test_slabs_stay_few(void **state)
{
    (void)state;
    struct cio__slab s;
    cio__slab_init(&s, 64 << 10, 1);
    enum { N = 16384 }; /* 1 GiB of records, never touched: address space only */
    char *first = NULL, *last = NULL;
    for (int i = 0; i < N; i++) {
        last = cio__slab_get(&s);
        assert_non_null(last);
        if (!first)
            first = last;
    }
    /* 64 KiB, 128 KiB, ..., 1 GiB: doubling all the way (a 16 MiB cap made
     * 71 slabs of these). */
    assert_in_range(count_slabs(&s), 1, 15);
    assert_true(cio__slab_issued(&s, first));
    assert_true(cio__slab_issued(&s, last));
    assert_false(cio__slab_issued(&s, first + 16)); /* inside a record */
    cio__slab_fini(&s);
}

#ifndef TEST_SANITIZED
/* Bytes of address space the process has mapped (VmSize), or -1. */
static long long vm_size(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return -1;
    char line[256];
    long long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %lld kB", &kb) == 1)
            break;
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}
#endif

/* Where the kernel refuses a slab as large as doubling asks for, smaller
 * ones still serve, until address space runs out: records keep coming
 * well past the last size that fitted (512 MiB here), and then the slab
 * says so with NULL. */
static void test_smaller_slabs_when_refused(void **state)
{
    (void)state;
#ifdef TEST_SANITIZED
    skip(); /* the sanitizers' own mappings count against the limit */
#else
    long long used = vm_size();
    assert_true(used > 0);
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_AS, &old), 0);
    const long long headroom = 700ll << 20, record = 64 << 10;
    struct rlimit lim = {.rlim_cur = (rlim_t)(used + headroom), .rlim_max = old.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_AS, &lim), 0);
    struct cio__slab s;
    cio__slab_init(&s, (size_t)record, 1);
    long long got = 0;
    size_t span = 0; /* of the newest slab */
    int shrunk = 0;
    for (void *newest = NULL; cio__slab_get(&s); got++) {
        if (s.slabs == newest)
            continue;
        newest = s.slabs;
        size_t now = (size_t)(s.end - (char *)newest);
        if (now < span) {
            /* A refused size: the next slab starts from this one's (less
             * what its last, partial record and its header leave out). */
            assert_true(s.next <= now + s.size + 4096);
            shrunk++;
        }
        span = now;
    }
    assert_true(shrunk > 0);
    int slabs = count_slabs(&s);
    cio__slab_fini(&s);
    assert_int_equal(setrlimit(RLIMIT_AS, &old), 0);
    assert_true(got * record > (600ll << 20));
    assert_true(got * record < headroom);
    assert_in_range(slabs, 11, 30);
#endif
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
        cmocka_unit_test(test_slabs_stay_few),
        cmocka_unit_test(test_smaller_slabs_when_refused),
        cmocka_unit_test(test_pages_aligned_and_zeroed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
