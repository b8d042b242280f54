/* A task that overflows its stack is reported by name, never silently:
 * through its guard page (SIGSEGV) or, beyond the kernel's mapping budget,
 * through the canary checked when it switches out (abort). Each case runs
 * in a child process, since the process is meant to die. */
#include "helpers.h"

#include <alloca.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static volatile int sink;

/* Uses about `kib` KiB of real stack (alloca stays on the task's stack even
 * when a sanitizer moves locals to fake stacks). */
static int __attribute__((noinline)) recurse(int kib)
{
    if (kib <= 0)
        return 0;
    volatile char *p = alloca(1024);
    memset((char *)p, kib, 1024);
    sink += p[0];
    return recurse(kib - 1) + p[1023];
}

static int unbounded(void *arg)
{
    (void)arg;
    return recurse(1 << 20);
}

/* Overflows a 16 KiB stack (about 24 KiB once rounded to pages) by a few
 * KiB, into the slot below, then switches out. */
static int slightly_over(void *arg)
{
    (void)arg;
    recurse(26);
    return cio_yield();
}

static int doze(void *arg)
{
    (void)arg;
    return cio_sleep(10);
}

static int spawn_deep(void *arg)
{
    cio_task_fn fn = (cio_task_fn)arg;
    /* The first stack of a chunk always sits on a guard page; the second is
     * the one that shows what happens beyond the guard budget. */
    cio_task neighbour =
        cio_spawn_with(&(cio_spawn_options){.stack_size = CIO_MIN_STACK_SIZE}, doze, NULL);
    cio_task t = cio_spawn_with(
        &(cio_spawn_options){.name = "deep-recursion", .stack_size = CIO_MIN_STACK_SIZE}, fn, NULL);
    int rc = cio_join(t);
    cio_cancel(neighbour);
    cio_join(neighbour);
    return rc;
}

/* Runs fn in a child; returns its wait status and what it wrote to stderr. */
static int run_child(const char *guard, cio_task_fn fn, char *err, size_t errlen)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* cmocka catches fatal signals in the parent; the child must die
         * of them as a program would. */
        signal(SIGSEGV, SIG_DFL);
        signal(SIGABRT, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        dup2(p[1], 2);
        close(p[0]);
        if (guard)
            setenv("CIO_STACK_GUARD", guard, 1);
        cio_run_options o = {.report = stderr};
        cio_run_with(&o, spawn_deep, (void *)fn);
        _exit(0); /* not reached if the overflow is caught */
    }
    close(p[1]);
    size_t n = 0;
    ssize_t r;
    while (n < errlen - 1 && (r = read(p[0], err + n, errlen - 1 - n)) > 0)
        n += (size_t)r;
    err[n] = 0;
    close(p[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

/* The children die on purpose, which Valgrind would report as errors. */
#define SKIP_UNDER_VALGRIND()                                                                      \
    do {                                                                                           \
        if (getenv("CIO_VALGRIND"))                                                                \
            skip();                                                                                \
    } while (0)

static void test_guard_page_overflow_is_reported(void **state)
{
    (void)state;
    SKIP_UNDER_VALGRIND();
    char err[8192];
    int status = run_child(NULL, unbounded, err, sizeof err);
    assert_true(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
#ifdef UNDER_ASAN
    assert_true(strstr(err, "AddressSanitizer") || strstr(err, "stack overflow in task"));
#else
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
    assert_non_null(strstr(err, "stack overflow in task 'deep-recursion'"));
#endif
}

static void test_mprotect_guard_overflow_is_reported(void **state)
{
    (void)state;
    SKIP_UNDER_VALGRIND();
    char err[8192];
    int status = run_child("mprotect", unbounded, err, sizeof err);
    assert_true(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
#ifndef UNDER_ASAN
    assert_non_null(strstr(err, "stack overflow in task 'deep-recursion'"));
#endif
}

static void test_canary_overflow_is_reported(void **state)
{
    (void)state;
    SKIP_UNDER_VALGRIND();
    char err[8192];
    int status = run_child("canary", slightly_over, err, sizeof err);
#ifdef UNDER_ASAN
    /* Sanitizer frames are larger: the overflow may run past the canary into
     * the neighbour, whose poisoned frames ASan reports first. */
    assert_true(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
    assert_true(strstr(err, "AddressSanitizer") || strstr(err, "stack overflow in task"));
#else
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    assert_non_null(strstr(err, "stack overflow in task 'deep-recursion'"));
    assert_non_null(strstr(err, "canary"));
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guard_page_overflow_is_reported),
        cmocka_unit_test(test_mprotect_guard_overflow_is_reported),
        cmocka_unit_test(test_canary_overflow_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
