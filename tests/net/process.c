/* Subprocesses: communicate, the streams, returncodes of exits and
 * signals, cwd and environment, what the child does not inherit (fds,
 * ignored signals), timeouts, and no zombie left behind. Real programs:
 * sh, cat, sleep. */
#include "net_helpers.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cio/process.h"

static const cio_process_options piped = {
    .stdin_mode = CIO_PROCESS_PIPE,
    .stdout_mode = CIO_PROCESS_PIPE,
    .stderr_mode = CIO_PROCESS_PIPE,
};

/* Runs sh -c script with opts and collects what it writes. */
static int sh(const char *script, const cio_process_options *opts, cio_process_output *r)
{
    const char *argv[] = {"sh", "-c", script, NULL};
    cio_process *p;
    int rc = cio_process_exec(&p, argv, opts);
    if (rc)
        return rc;
    rc = cio_process_communicate(p, NULL, 0, r);
    cio_process_free(p);
    return rc;
}

static int outputs(void *arg)
{
    (void)arg;
    cio_process_output r;
    task_check_eq(sh("echo out; echo err >&2; exit 3", &piped, &r), 0);
    task_check(r.out && strcmp(r.out, "out\n") == 0 && r.out_len == 4);
    task_check(r.err && strcmp(r.err, "err\n") == 0);
    task_check_eq(r.returncode, 3);
    cio_process_output_free(&r);

    /* stderr into stdout; stdin from /dev/null. */
    cio_process_options o = {.stdin_mode = CIO_PROCESS_DEVNULL,
                             .stdout_mode = CIO_PROCESS_PIPE,
                             .stderr_mode = CIO_PROCESS_STDOUT};
    task_check_eq(sh("echo a; echo b >&2; cat; echo c", &o, &r), 0);
    task_check(r.out && strcmp(r.out, "a\nb\nc\n") == 0);
    task_check(r.err == NULL);
    task_check_eq(r.returncode, 0);
    cio_process_output_free(&r);

    /* cwd and environment. */
    char *env[] = {"CIO_X=42", "PATH=/usr/bin:/bin", NULL};
    o = (cio_process_options){.stdout_mode = CIO_PROCESS_PIPE, .cwd = "/tmp", .env = env};
    task_check_eq(sh("pwd; echo $CIO_X; echo ${HOME:-unset}", &o, &r), 0);
    task_check(r.out && strcmp(r.out, "/tmp\n42\nunset\n") == 0);
    cio_process_output_free(&r);
    return 0;
}

static void test_outputs(void **state)
{
    (void)state;
    assert_int_equal(run_real(outputs, NULL), 0);
}

/* 1 MiB through cat: written while read, or both sides would block. */
static int through_cat(void *arg)
{
    (void)arg;
    size_t n = (size_t)1 << 20;
    char *in = malloc(n);
    task_check(in != NULL);
    for (size_t i = 0; i < n; i++)
        in[i] = (char)('a' + i % 26);
    const char *argv[] = {"cat", NULL};
    cio_process *p;
    task_check_eq(cio_process_exec(&p, argv, &piped), 0);
    cio_process_output r;
    task_check_eq(cio_process_communicate(p, in, n, &r), 0);
    task_check_eq(r.out_len, n);
    task_check(memcmp(r.out, in, n) == 0);
    task_check_eq(r.err_len, 0);
    task_check_eq(r.returncode, 0);
    cio_process_output_free(&r);
    cio_process_free(p);
    free(in);
    return 0;
}

static void test_communicate_large(void **state)
{
    (void)state;
    assert_int_equal(run_real(through_cat, NULL), 0);
}

/* The streams themselves: a line at a time, both ways. */
static int streams(void *arg)
{
    (void)arg;
    const char *argv[] = {"sh", "-c", "while read x; do echo \"got $x\"; done", NULL};
    cio_process *p;
    task_check_eq(cio_process_exec(&p, argv, &piped), 0);
    task_check(cio_process_pid(p) > 0);
    cio_stream *in = cio_process_stdin(p), *out = cio_process_stdout(p);
    task_check(in && out && cio_process_stderr(p));
    char line[64];
    for (int i = 0; i < 3; i++) {
        char msg[16];
        int len = snprintf(msg, sizeof msg, "%d\n", i);
        task_check_eq(cio_stream_write(in, msg, (size_t)len), 0);
        ssize_t got = cio_stream_readline(out, line, sizeof line);
        task_check(got == len + 4 && memcmp(line, "got ", 4) == 0 && line[4] == '0' + i);
    }
    int code;
    task_check_eq(cio_process_returncode(p, &code), -EAGAIN);
    task_check_eq(cio_stream_write_eof(in), 0);
    task_check_eq(cio_stream_readline(out, line, sizeof line), 0); /* it ended */
    task_check_eq(cio_process_wait(p, &code), 0);
    task_check_eq(code, 0);
    task_check_eq(cio_process_returncode(p, &code), 0);
    cio_process_free(p);
    return 0;
}

static void test_streams(void **state)
{
    (void)state;
    assert_int_equal(run_real(streams, NULL), 0);
}

static int waiter(void *arg)
{
    int code;
    int rc = cio_process_wait(arg, &code);
    return rc < 0 ? rc : 1000 + code;
}

/* Signals, a timeout around wait, several waiters (one cancelled), and
 * freeing a running process. */
static int signals(void *arg)
{
    (void)arg;
    const char *argv[] = {"sleep", "30", NULL};
    cio_process *p;
    task_check_eq(cio_process_exec(&p, argv, NULL), 0);
    int code = 99;
    {
        CIO_TIMEOUT(limit, 0.05);
        task_check_eq(cio_process_wait(p, &code), -ETIMEDOUT);
    }
    task_check_eq(code, 99);
    cio_task w[3];
    for (int i = 0; i < 3; i++)
        w[i] = cio_spawn(waiter, p);
    task_check_eq(cio_sleep(0.02), 0);
    task_check_eq(cio_cancel(w[1]), 0);
    task_check_eq(cio_join(w[1]), -ECANCELED);
    task_check_eq(cio_process_send_signal(p, SIGTERM), 0);
    task_check_eq(cio_join(w[0]), 1000 - SIGTERM);
    task_check_eq(cio_join(w[2]), 1000 - SIGTERM);
    task_check_eq(cio_process_wait(p, &code), 0);
    task_check_eq(code, -SIGTERM);
    task_check_eq(cio_process_send_signal(p, SIGTERM), -ESRCH);
    task_check_eq(cio_process_send_signal(p, -1), -EINVAL);
    cio_process_free(p);

    /* communicate interrupted: its writer and readers end with it, nothing
     * is handed back, and the child runs on until freed. */
    task_check_eq(cio_process_exec(&p, argv, &piped), 0);
    cio_process_output r = {.returncode = 99};
    int64_t t0 = now_ns();
    {
        CIO_TIMEOUT(limit, 0.05);
        task_check_eq(cio_process_communicate(p, "x", 1, &r), -ETIMEDOUT);
    }
    task_check(now_ns() - t0 < 2000000000LL);
    task_check(r.out == NULL && r.err == NULL && r.returncode == 0);
    task_check_eq(cio_process_returncode(p, &code), -EAGAIN);
    cio_process_free(p);

    /* Freed while running: killed and reaped, no zombie left. */
    task_check_eq(cio_process_exec(&p, argv, NULL), 0);
    pid_t pid = cio_process_pid(p);
    cio_process_free(p);
    task_check(waitpid(pid, NULL, WNOHANG) < 0 && errno == ECHILD);
    return 0;
}

static void test_signals(void **state)
{
    (void)state;
    assert_int_equal(run_real(signals, NULL), 0);
}

/* A wait abandoned by its only waiter stops watching the child: the loop
 * then sees that nothing can wake the main task (a deadlock, reported at
 * once) instead of waiting for the child to exit. */
static int abandoned(void *arg)
{
    (void)arg;
    const char *argv[] = {"sleep", "5", NULL};
    cio_process *p;
    task_check_eq(cio_process_exec(&p, argv, NULL), 0);
    int code;
    {
        CIO_TIMEOUT(limit, 0.02);
        task_check_eq(cio_process_wait(p, &code), -ETIMEDOUT);
    }
    int64_t t0 = now_ns();
    cio_event never = CIO_EVENT_INIT;
    task_check_eq(cio_event_wait(&never), CIO_EDEADLOCK);
    task_check(now_ns() - t0 < 2000000000LL);
    /* (Waiting again watches it again: test_signals waits after a
     * timeout.) This task is cancelled now: free without waiting. */
    cio_process_free(p);
    return 0;
}

static void test_abandoned_wait(void **state)
{
    (void)state;
    char *report = NULL;
    assert_int_equal(run_capture(abandoned, NULL, &report), 0);
    assert_non_null(strstr(report, "deadlock"));
    free(report);
}

/* A child something else reaped (a waitpid() of its own here; SIGCHLD set
 * to SIG_IGN does the same): its status is lost, and the wait says 255, as
 * asyncio's watchers do, instead of waiting (and spinning) for ever. */
static int reaped_elsewhere(void *arg)
{
    (void)arg;
    const char *argv[] = {"sh", "-c", "exit 3", NULL};
    cio_process *p;
    task_check_eq(cio_process_exec(&p, argv, NULL), 0);
    int status;
    task_check_eq(waitpid(cio_process_pid(p), &status, 0), cio_process_pid(p));
    task_check_eq(WEXITSTATUS(status), 3);
    int code = 0;
    double t0 = cio_time();
    task_check_eq(cio_process_wait(p, &code), 0);
    task_check(cio_time() - t0 < 0.5);
    task_check_eq(code, 255);
    task_check_eq(cio_process_returncode(p, &code), 0);
    task_check_eq(code, 255);
    cio_process_free(p);
    return 0;
}

/* A child with an environment of its own finds its program through that
 * environment's PATH, as Python's subprocess does. */
static int env_path(void *arg)
{
    (void)arg;
    const char *argv[] = {"sh", "-c", "exit 7", NULL};
    char *nowhere[] = {"PATH=/nonexistent", NULL};
    cio_process *p;
    task_check_eq(cio_process_exec(&p, argv, &(cio_process_options){.env = nowhere}), -ENOENT);
    task_check(p == NULL);
    char *no_path[] = {"FOO=1", NULL}; /* the system's default path */
    char *usr[] = {"PATH=/nonexistent::/usr/bin:/bin", NULL};
    char *const *envs[] = {no_path, usr};
    for (int i = 0; i < 2; i++) {
        task_check_eq(cio_process_exec(&p, argv, &(cio_process_options){.env = envs[i]}), 0);
        int code = -1;
        task_check_eq(cio_process_wait(p, &code), 0);
        task_check_eq(code, 7);
        cio_process_free(p);
    }
    return 0;
}

static void test_env_path(void **state)
{
    (void)state;
    assert_ok(run_real(env_path, NULL));
}

static void test_reaped_elsewhere(void **state)
{
    (void)state;
    char *report = NULL;
    assert_int_equal(run_capture(reaped_elsewhere, NULL, &report), 0);
    assert_non_null(strstr(report, "reaped elsewhere"));
    free(report);
}

/* How many more fds this process can open now. */
static int fds_free(void)
{
    static int fds[1024];
    int n = 0;
    while (n < 1024 && (fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        n++;
    for (int i = 0; i < n; i++)
        close(fds[i]);
    return n;
}

/* Out of fds part way through the pipes: -EMFILE, and the pipes already
 * made are closed. */
static int out_of_fds(void *arg)
{
    (void)arg;
    struct rlimit old, low;
    task_check_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = 256;
    task_check_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    /* From here on every way out restores the limit and closes the
     * fillers: a failed check must not leave the next tests short of fds. */
    static int filler[256];
    int nfill = fds_free() - 3, rc = nfill > 0 ? 0 : -3;
    for (int i = 0; i < nfill; i++)
        filler[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    const char *argv[] = {"true", NULL};
    cio_process *const unset = (cio_process *)&rc, *p = unset; /* failure sets NULL */
    /* Three free: stdin's pair is made, stdout's is not. */
    if (rc == 0 && (cio_process_exec(&p, argv, &piped) != -EMFILE || p || fds_free() != 3))
        rc = -1;
    if (p != unset)
        cio_process_free(p);
    p = unset;
    /* One free: not even stdout's. */
    if (rc == 0) {
        filler[nfill++] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        filler[nfill++] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    cio_process_options out = {.stdout_mode = CIO_PROCESS_PIPE};
    if (rc == 0 && (cio_process_exec(&p, argv, &out) != -EMFILE || p || fds_free() != 1))
        rc = -2;
    if (p != unset)
        cio_process_free(p);
    for (int i = 0; i < nfill; i++)
        close(filler[i]);
    task_check_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    return rc;
}

static void test_out_of_fds(void **state)
{
    (void)state;
    assert_int_equal(run_real(out_of_fds, NULL), 0);
}

/* The child starts clean: no fd of ours but 0-2, no ignored signal. */
static int inheritance(void *arg)
{
    (void)arg;
    int leaked = open("/dev/null", O_RDONLY); /* no O_CLOEXEC */
    task_check(leaked >= 0);
    task_check_eq(dup2(leaked, 100), 100);
    cio_process_options o = {.stdout_mode = CIO_PROCESS_PIPE};
    cio_process_output r;
    task_check_eq(sh("ls /proc/self/fd", &o, &r), 0);
    task_check(r.out && strstr(r.out, "100") == NULL);
    cio_process_output_free(&r);
    close(100);
    close(leaked);

    void (*old)(int) = signal(SIGINT, SIG_IGN);
    task_check_eq(sh("kill -INT $$; echo survived", &o, &r), 0);
    signal(SIGINT, old);
    task_check_eq(r.returncode, -SIGINT);
    task_check(r.out_len == 0);
    cio_process_output_free(&r);
    return 0;
}

static void test_child_starts_clean(void **state)
{
    (void)state;
    assert_int_equal(run_real(inheritance, NULL), 0);
}

static int bad_use(void *arg)
{
    (void)arg;
    cio_process *p = (cio_process *)1;
    const char *none[] = {NULL};
    const char *missing[] = {"cio-no-such-program", NULL};
    const char *sleeper[] = {"sleep", "0", NULL};
    task_check_eq(cio_process_exec(&p, missing, NULL), -ENOENT);
    task_check(p == NULL);
    task_check_eq(cio_process_exec(&p, none, NULL), -EINVAL);
    task_check_eq(cio_process_exec(&p, NULL, NULL), -EINVAL);
    task_check_eq(cio_process_exec(NULL, sleeper, NULL), -EINVAL);
    cio_process_options o = {.stdin_mode = CIO_PROCESS_STDOUT};
    task_check_eq(cio_process_exec(&p, sleeper, &o), -EINVAL);
    o = (cio_process_options){.stdout_mode = 42};
    task_check_eq(cio_process_exec(&p, sleeper, &o), -EINVAL);
    o = (cio_process_options){.cwd = "/cio-no-such-dir"};
    task_check_eq(cio_process_exec(&p, sleeper, &o), -ENOENT);
    task_check_eq(cio_process_exec(&p, sleeper, NULL), 0);
    cio_process_output r;
    task_check_eq(cio_process_communicate(p, "x", 1, &r), -EINVAL); /* stdin not piped */
    task_check_eq(cio_process_communicate(p, NULL, 0, &r), 0);
    task_check(r.out == NULL && r.err == NULL && r.returncode == 0);
    task_check(cio_process_stdin(p) == NULL && cio_process_stdout(NULL) == NULL);
    cio_process_free(p);
    cio_process_free(NULL);
    return 0;
}

static void test_bad_use(void **state)
{
    (void)state;
    assert_int_equal(run_real(bad_use, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outputs),
        cmocka_unit_test(test_communicate_large),
        cmocka_unit_test(test_streams),
        cmocka_unit_test(test_signals),
        cmocka_unit_test(test_abandoned_wait),
        cmocka_unit_test(test_reaped_elsewhere),
        cmocka_unit_test(test_env_path),
        cmocka_unit_test(test_out_of_fds),
        cmocka_unit_test(test_child_starts_clean),
        cmocka_unit_test(test_bad_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
