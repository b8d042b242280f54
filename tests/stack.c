/* The stack pool: slots prepared in batches (the top page of each
 * prepared slot is backed by memory before its task runs, guards are
 * installed a batch at a time while the budget lasts, and memory prepared
 * ahead of use stays bounded by the stacks already carved), and the tops of
 * stacks spread over the cache. */
#include "helpers.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/pages.h"
#include "base/stack.h"

#define SIZE ((size_t)64 * 1024)

static void put_back(struct cio__stack_pool *p, struct cio__stack *s)
{
    cio__stack_put(p, s, SIZE, s->canary != NULL);
}

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* Whether the kernel backs p's page with memory right now. */
static bool resident(const void *p)
{
    size_t page = page_size();
    unsigned char v = 0;
    void *a = (void *)((uintptr_t)p & ~(uintptr_t)(page - 1));
    assert_int_equal(mincore(a, page, &v), 0);
    return v & 1;
}

/* Whether this kernel lets a process populate its own pages in batches
 * (Linux 6.15+, and not under Valgrind, which does not know the call). */
static bool batches_work(void)
{
    size_t page = page_size();
    char *m = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    bool ok = cio__pages_advise_strided(m, page, 1, page, MADV_POPULATE_WRITE) == 1;
    munmap(m, page);
    return ok;
}

/* The top page of a slot: where its header and first frames are. */
static char *top_page(const struct cio__stack *s)
{
    return (char *)((uintptr_t)s & ~(uintptr_t)(page_size() - 1));
}

static void test_advise_strided_populates_exactly_those_pages(void **state)
{
    (void)state;
    if (!batches_work())
        skip();
    size_t page = page_size();
    enum { SLOTS = 400, ADVISED = 300 }; /* more than one system call's batch */
    char *m =
        mmap(NULL, SLOTS * 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    madvise(m, SLOTS * 4 * page, MADV_NOHUGEPAGE); /* page by page, for mincore */
    assert_int_equal(
        cio__pages_advise_strided(m + 3 * page, 4 * page, ADVISED, page, MADV_POPULATE_WRITE),
        ADVISED);
    for (size_t i = 0; i < SLOTS; i++) {
        assert_int_equal(resident(m + 4 * i * page + 3 * page), i < ADVISED);
        assert_false(resident(m + 4 * i * page));
    }
    munmap(m, SLOTS * 4 * page);
}

static void test_advise_strided_stops_at_a_hole(void **state)
{
    (void)state;
    if (!batches_work())
        skip();
    size_t page = page_size();
    enum { SLOTS = 200, HOLE = 150 };
    char *m =
        mmap(NULL, SLOTS * 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    assert_int_equal(munmap(m + HOLE * 2 * page, page), 0);
    /* The ranges before the hole were advised; the count says where it
     * stopped, so a caller knows which to do one by one. */
    assert_int_equal(cio__pages_advise_strided(m, 2 * page, SLOTS, page, MADV_POPULATE_WRITE),
                     HOLE);
    assert_true(resident(m + (HOLE - 1) * 2 * page));
    munmap(m, SLOTS * 2 * page);
}

static void test_first_batch_is_backed_and_guarded(void **state)
{
    (void)state;
    struct cio__stack_pool p;
    cio__stack_pool_init(&p);
    long budget = p.guard_budget;
    enum { N = 8 };
    struct cio__stack *s[N];
    s[0] = cio__stack_get(&p, SIZE, NULL);
    assert_non_null(s[0]);
    struct cio__stack_class *k = s[0]->cls;
    /* Carving the first prepared a batch of eight: the top pages of the
     * seven not carved yet are backed already, those of the chunk's other
     * eight slots are not (stacks are never huge pages). */
    assert_ptr_equal(k->prepared, (char *)s[0]->lo + N * k->slot);
    if (batches_work()) {
        for (size_t i = 1; i < 16; i++)
            assert_int_equal(resident(top_page(s[0]) + i * k->slot), i < N);
        /* ... and their seven guards were installed then, at once (the
         * first slot sits on the chunk's guard). */
        if (p.mode == CIO__GUARD_MADVISE)
            assert_int_equal(p.guard_budget, budget - (N - 1));
    }
    for (int i = 1; i < N; i++) {
        s[i] = cio__stack_get(&p, SIZE, NULL);
        assert_non_null(s[i]);
    }
    assert_ptr_equal(k->prepared, k->bump);
    /* Every one sits on a guard page: the chunk's own for the first, one
     * installed in the batch (or one by one) for the others. */
    for (int i = 0; i < N; i++) {
        assert_null(s[i]->canary);
        assert_int_equal(s[i]->guard, p.mode);
        if (i > 0) /* the others' guards are their slots' first pages */
            assert_ptr_equal(s[i]->lo, (char *)s[0]->lo + (size_t)i * k->slot + page_size());
    }
    for (int i = 0; i < N; i++)
        put_back(&p, s[i]);
    cio__stack_pool_fini(&p);
}

/* A write just under a batch-guarded stack kills the process. */
static void test_batch_guard_faults(void **state)
{
    (void)state;
    if (getenv("CIO_VALGRIND")) /* the child dies on purpose */
        skip();
    struct cio__stack_pool p;
    cio__stack_pool_init(&p);
    struct cio__stack *s[5];
    for (int i = 0; i < 5; i++)
        s[i] = cio__stack_get(&p, SIZE, NULL);
    assert_non_null(s[4]);
    assert_null(s[4]->canary);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);
        ((volatile char *)s[4]->lo)[-1] = 1;
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSEGV);
    cio__stack_pool_fini(&p);
}

static void test_batches_stop_at_the_guard_budget(void **state)
{
    (void)state;
    struct cio__stack_pool p;
    cio__stack_pool_init(&p);
    p.guard_budget = 3;
    struct cio__stack *s[8];
    for (int i = 0; i < 8; i++)
        s[i] = cio__stack_get(&p, SIZE, NULL);
    /* The chunk's first slot needs none of the budget; three more got
     * guards; the rest are dense, watched by a canary in the slot below. */
    for (int i = 0; i < 8; i++) {
        if (i <= 3) {
            assert_null(s[i]->canary);
        } else {
            assert_non_null(s[i]->canary);
            assert_int_equal(s[i]->guard, CIO__GUARD_CANARY);
            assert_true(cio__stack_intact(s[i]));
        }
    }
    assert_int_equal(p.guard_budget, 0);
    cio__stack_pool_fini(&p);
}

/* The pool tells whether a stack is guarded by a canary without reading
 * the stack's header, when it is carved and when it is taken again. */
static void test_canary_known_without_the_header(void **state)
{
    (void)state;
    struct cio__stack_pool p;
    cio__stack_pool_init(&p);
    p.guard_budget = 2;
    enum { N = 6 };
    struct cio__stack *s[N];
    bool canaried[N];
    for (int i = 0; i < N; i++) {
        s[i] = cio__stack_get(&p, SIZE, &canaried[i]);
        assert_non_null(s[i]);
        assert_int_equal(canaried[i], s[i]->canary != NULL);
    }
    assert_false(canaried[0]);
    assert_true(canaried[N - 1]);
    for (int i = 0; i < N; i++)
        cio__stack_put(&p, s[i], SIZE, canaried[i]);
    /* Taken again, the last given back first, each with what it is. */
    for (int i = N - 1; i >= 0; i--) {
        bool c = !canaried[i];
        assert_ptr_equal(cio__stack_get(&p, SIZE, &c), s[i]);
        assert_int_equal(c, canaried[i]);
    }
    cio__stack_pool_fini(&p);
}

/* Switches find a stack's canary from the stack's address and size alone:
 * for every colour, several sizes, and past the first chunk. */
static void test_canary_found_from_the_address(void **state)
{
    (void)state;
    static const size_t sizes[] = {CIO_MIN_STACK_SIZE, 3 * 4096 + 100, SIZE, 1 << 20};
    for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++) {
        struct cio__stack_pool p;
        cio__stack_pool_init(&p);
        p.guard_budget = 3;
        enum { N = 300 };
        size_t canaried = 0;
        for (int i = 0; i < N; i++) {
            struct cio__stack *s = cio__stack_get(&p, sizes[z], NULL);
            assert_non_null(s);
            if (!s->canary)
                continue;
            assert_ptr_equal(cio__stack_canary_at(&p, s, sizes[z]), s->canary);
            canaried++;
        }
        /* All but the budget's and the first of each chunk, which sit on
         * guard pages: more than the first chunk's one. */
        assert_true(canaried > N / 2);
        assert_true(canaried < N - 3 - 1);
        cio__stack_pool_fini(&p);
    }
}

static void test_prepared_ahead_is_bounded(void **state)
{
    (void)state;
    struct cio__stack_pool p;
    cio__stack_pool_init(&p);
    enum { N = 3000 };
    struct cio__stack **s = malloc(N * sizeof *s);
    assert_non_null(s);
    size_t batches = 0;
    char *last = NULL;
    for (size_t i = 0; i < N; i++) {
        s[i] = cio__stack_get(&p, SIZE, NULL);
        assert_non_null(s[i]);
        struct cio__stack_class *k = s[i]->cls;
        /* Never more prepared ahead than carved so far (or the minimum
         * batch), and never more than the largest batch. */
        size_t ahead = (size_t)(k->prepared - k->bump) / k->slot;
        assert_true(ahead < (k->carved > 8 ? k->carved : 8));
        assert_true(ahead < 1024);
        if (k->prepared != last) {
            batches++;
            last = k->prepared;
        }
    }
    /* Batches grow with the pool: a few dozen for thousands of stacks. */
    assert_in_range(batches, 4, 40);
    for (size_t i = 0; i < N; i++)
        put_back(&p, s[i]);
    /* Freed stacks are reused before anything new is carved. */
    struct cio__stack_class *k = s[0]->cls;
    size_t carved = k->carved;
    assert_ptr_equal(cio__stack_get(&p, SIZE, NULL), s[N - 1]);
    assert_int_equal(k->carved, carved);
    free(s);
    cio__stack_pool_fini(&p);
}

/* Stacks are whole pages apart; their tops must not all sit at the same
 * offset in a page (the same L1 cache sets), and each still has at least
 * the size asked for. */
static void test_stack_tops_spread_over_cache_sets(void **state)
{
    (void)state;
    struct cio__stack_pool p;
    cio__stack_pool_init(&p);
    enum { N = 16 };
    struct cio__stack *s[N];
    bool seen[4096 / 64] = {0};
    int distinct = 0;
    for (int i = 0; i < N; i++) {
        s[i] = cio__stack_get(&p, SIZE, NULL);
        assert_non_null(s[i]);
        assert_true((size_t)((char *)s[i] - s[i]->lo) >= SIZE);
        size_t line = ((uintptr_t)s[i] % 4096) / 64;
        if (!seen[line])
            distinct++;
        seen[line] = true;
    }
    assert_int_equal(distinct, N);
    cio__stack_pool_fini(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_advise_strided_populates_exactly_those_pages),
        cmocka_unit_test(test_advise_strided_stops_at_a_hole),
        cmocka_unit_test(test_first_batch_is_backed_and_guarded),
        cmocka_unit_test(test_batch_guard_faults),
        cmocka_unit_test(test_batches_stop_at_the_guard_budget),
        cmocka_unit_test(test_canary_known_without_the_header),
        cmocka_unit_test(test_canary_found_from_the_address),
        cmocka_unit_test(test_prepared_ahead_is_bounded),
        cmocka_unit_test(test_stack_tops_spread_over_cache_sets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
