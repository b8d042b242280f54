/* The context switch's contract (arch/switch.h), through tasks and, where
 * the switch keeps the return stack buffer paired (x86-64), directly: a
 * switch that enters a new context, and cio__ctx_leave(). Each task
 * keeps its own FP control state, a new task starts with the default one on
 * an ABI-aligned stack, and leaving an ended context resumes or enters the
 * next one intact. */
#include "helpers.h"

#include <fenv.h>
#include <stdalign.h>

#include "arch/switch.h"

/* Whether a 16-byte aligned local really is: the compiler lays out frames
 * assuming the ABI's alignment on entry, so a context entered off by 8
 * shows here. */
static __attribute__((noinline)) bool frame_aligned(void)
{
    alignas(16) volatile char probe[16];
    probe[0] = 0;
    uintptr_t a = (uintptr_t)probe;
    __asm__("" : "+r"(a)); /* or the compiler answers from its assumption */
    return (a & 15) == 0;
}

static int report_rounding(void *arg)
{
    (void)arg;
    return fegetround() == FE_TONEAREST && frame_aligned() ? 1 : 0;
}

static int keep_rounding(void *arg)
{
    int mode = (int)(intptr_t)arg;
    fesetround(mode);
    for (int i = 0; i < 3; i++) {
        if (cio_yield() < 0)
            return -1;
        if (fegetround() != mode)
            return 0;
    }
    fesetround(FE_TONEAREST);
    return 1;
}

static int rounding_main(void *arg)
{
    (void)arg;
    /* Tasks that switch back and forth each keep their own mode. */
    cio_task up = cio_spawn(keep_rounding, (void *)(intptr_t)FE_UPWARD);
    cio_task down = cio_spawn(keep_rounding, (void *)(intptr_t)FE_DOWNWARD);
    task_check_eq(cio_join(up), 1);
    task_check_eq(cio_join(down), 1);
    task_check_eq(fegetround(), FE_TONEAREST);
    /* A new task starts with the default mode, whatever its spawner's, and
     * the spawner gets its own back when the child ends. */
    fesetround(FE_UPWARD);
    cio_task child = cio_spawn(report_rounding, NULL);
    int rc = cio_join(child);
    int mine = fegetround();
    fesetround(FE_TONEAREST);
    task_check_eq(rc, 1);
    task_check_eq(mine, FE_UPWARD);
    /* A chain of tasks, each starting the next as it ends (gather runs
     * them one after another): every one starts clean. */
    enum { N = 50 };
    cio_task t[N];
    for (int i = 0; i < N; i++)
        t[i] = cio_spawn(report_rounding, NULL);
    for (int i = 0; i < N; i++)
        task_check_eq(cio_join(t[i]), 1);
    return 0;
}

static void test_fp_control_state_per_task(void **state)
{
    (void)state;
    assert_int_equal(run_virtual(rounding_main, NULL), 0);
}

#if defined(__x86_64__)
/* The switch loads a context's control words only where they differ from
 * those in force, and leaves MXCSR's status flags out of that comparison:
 * each word, and MXCSR's lowest control bit (DAZ, next to the flags), must
 * still be kept per task. */
static uint32_t get_mxcsr(void)
{
    uint32_t v;
    __asm__ volatile("stmxcsr %0" : "=m"(v));
    return v;
}

static void set_mxcsr(uint32_t v)
{
    __asm__ volatile("ldmxcsr %0" : : "m"(v));
}

static uint16_t get_fpucw(void)
{
    uint16_t v;
    __asm__ volatile("fnstcw %0" : "=m"(v));
    return v;
}

static void set_fpucw(uint16_t v)
{
    __asm__ volatile("fldcw %0" : : "m"(v));
}

enum { MXCSR_FLAGS = 0x3f, MXCSR_DEFAULT = 0x1f80, MXCSR_DAZ = 0x40, FPUCW_DEFAULT = 0x037f };

struct words {
    uint32_t mxcsr;
    uint16_t fpucw;
};

/* Sets its words, then checks after each turn that they are still its own
 * (MXCSR's flags aside). */
static int keep_words(void *arg)
{
    const struct words *w = arg;
    set_mxcsr(w->mxcsr);
    set_fpucw(w->fpucw);
    int kept = 1;
    for (int i = 0; i < 4; i++) {
        if (cio_yield() < 0)
            return -1;
        if ((get_mxcsr() & ~MXCSR_FLAGS) != w->mxcsr || get_fpucw() != w->fpucw)
            kept = 0;
    }
    set_mxcsr(MXCSR_DEFAULT);
    set_fpucw(FPUCW_DEFAULT);
    return kept;
}

static int words_main(void *arg)
{
    (void)arg;
    /* Differing in the x87 word alone (single precision), in DAZ alone, and
     * in neither but with an inexact flag raised: three tasks in turn. */
    struct words x87 = {MXCSR_DEFAULT, 0x007f}, daz = {MXCSR_DEFAULT | MXCSR_DAZ, FPUCW_DEFAULT},
                 plain = {MXCSR_DEFAULT, FPUCW_DEFAULT};
    cio_task a = cio_spawn(keep_words, &x87);
    cio_task b = cio_spawn(keep_words, &daz);
    cio_task c = cio_spawn(keep_words, &plain);
    feraiseexcept(FE_INEXACT);
    task_check_eq(cio_join(a), 1);
    task_check_eq(cio_join(b), 1);
    task_check_eq(cio_join(c), 1);
    task_check_eq(get_mxcsr() & ~MXCSR_FLAGS, MXCSR_DEFAULT);
    task_check_eq(get_fpucw(), FPUCW_DEFAULT);
    feclearexcept(FE_ALL_EXCEPT);
    return 0;
}

static void test_control_words_per_task(void **state)
{
    (void)state;
    /* Valgrind's CPU keeps only the rounding modes of both words: there
     * the words this test sets do not read back even without a switch. */
    set_fpucw(0x007f);
    set_mxcsr(MXCSR_DEFAULT | MXCSR_DAZ);
    bool kept =
        get_fpucw() == 0x007f && (get_mxcsr() & ~MXCSR_FLAGS) == (MXCSR_DEFAULT | MXCSR_DAZ);
    set_fpucw(FPUCW_DEFAULT);
    set_mxcsr(MXCSR_DEFAULT);
    if (!kept)
        skip();
    assert_int_equal(run_virtual(words_main, NULL), 0);
}
#else
static void test_control_words_per_task(void **state)
{
    (void)state;
    skip(); /* x86-64's two control words */
}
#endif

#ifdef CIO__CTX_PAIRED
static cio__ctx main_ctx, first_ctx, second_ctx;
static int trail[4], trail_len;
static bool aligned[2];

static void second_entry(void *arg)
{
    trail[trail_len++] = (int)(intptr_t)arg;
    aligned[1] = frame_aligned();
    cio__ctx_leave(&main_ctx); /* resume main, which has run */
}

static void first_entry(void *arg)
{
    trail[trail_len++] = (int)(intptr_t)arg;
    aligned[0] = frame_aligned();
    cio__ctx_leave(&second_ctx); /* end here, enter a context never run */
}

static void test_enter_and_leave(void **state)
{
    (void)state;
    enum { SIZE = 64 * 1024 };
    char *a = malloc(SIZE), *b = malloc(SIZE);
    assert_non_null(a);
    assert_non_null(b);
    cio__ctx_make(&first_ctx, a, a + SIZE, first_entry, (void *)(intptr_t)1);
    cio__ctx_make(&second_ctx, b, b + SIZE, second_entry, (void *)(intptr_t)2);
    volatile double kept = 2.5; /* lives across the round trip */
    trail_len = 0;
    cio__ctx_switch(&main_ctx, &first_ctx); /* enters a context never run */
    /* Back from second_entry's leave: both ran, in order, on aligned
     * stacks, and this frame is intact. */
    assert_int_equal(trail_len, 2);
    assert_int_equal(trail[0], 1);
    assert_int_equal(trail[1], 2);
    assert_true(aligned[0]);
    assert_true(aligned[1]);
    assert_true(kept == 2.5);
    free(a);
    free(b);
}
#else
static void test_enter_and_leave(void **state)
{
    (void)state;
    skip(); /* this switch has no cio__ctx_leave() */
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp_control_state_per_task),
        cmocka_unit_test(test_control_words_per_task),
        cmocka_unit_test(test_enter_and_leave),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
