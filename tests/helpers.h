/* Shared test helpers: running a test body as a cio main task and
 * asserting on its result. */
#ifndef CIO_TESTS_HELPERS_H
#define CIO_TESTS_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include <cio.h>

/* TEST_SANITIZED: built with AddressSanitizer or ThreadSanitizer, which
 * replace malloc and map address space of their own. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TEST_SANITIZED 1
#endif
#endif

/* Runs fn(arg) as the main task on a virtual-clock loop and returns its
 * result. */
int run_virtual(cio_task_fn fn, void *arg);

/* Runs fn(arg) as the main task on the real clock. */
int run_real(cio_task_fn fn, void *arg);

/* Runs fn(arg) on a virtual loop whose reports go to a buffer; returns the
 * result and stores the report text (malloc'd) in *report. */
int run_capture(cio_task_fn fn, void *arg, char **report);

/* Called with the name of every getaddrinfo() of the program, on the
 * calling thread, when set (see helpers.c, which also keeps names under
 * .invalid from reaching a DNS server). */
extern void (*test_lookup_hook)(const char *node);

/* The monotonic clock in nanoseconds, for timing the real world. */
static inline int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Slack for comparing times computed as differences of doubles. */
#define EPS 1e-9

/* lo <= x < hi, give or take the rounding of a difference of doubles. */
static inline int between(double x, double lo, double hi)
{
    return x >= lo - EPS && x < hi;
}

/* Asserts that an int expression is 0, printing its error name if not. */
#define assert_ok(expr)                                                                            \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != 0)                                                                              \
            fail_msg("%s returned %d (%s)", #expr, rc_, cio_err_name(rc_));                        \
    } while (0)

/* Inside a task: fail the test from a cio task (cmocka's longjmp must not
 * cross task stacks, so tasks record failures and return them). */
#define task_check(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_error("%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                   \
            return -1000 - __LINE__;                                                               \
        }                                                                                          \
    } while (0)

#define task_check_eq(a, b)                                                                        \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            print_error("%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, a_,    \
                        #b, b_);                                                                   \
            return -1000 - __LINE__;                                                               \
        }                                                                                          \
    } while (0)

#endif
