/* Runs the threads area's examples and checks what they print:
 * graceful_shutdown stopped by SIGTERM, and blocking_offload. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

struct proc {
    pid_t pid;
    FILE *out;
};

static void start(const char *path, struct proc *p)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execl(path, path, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    p->out = fdopen(fd[0], "r");
    assert_non_null(p->out);
}

/* Reads everything p prints into buf (NUL-terminated), reaps it, and
 * checks that it exited with `status`. */
static void finish(struct proc *p, char *buf, size_t cap, int status)
{
    size_t len = fread(buf, 1, cap - 1, p->out);
    buf[len] = 0;
    int st;
    assert_int_equal(waitpid(p->pid, &st, 0), p->pid);
    fclose(p->out);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), status);
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_graceful_shutdown(void **state)
{
    (void)state;
    struct proc p;
    start(EXAMPLES_DIR "/graceful_shutdown", &p);
    char line[256];
    assert_non_null(fgets(line, sizeof line, p.out));
    assert_non_null(strstr(line, "running"));
    usleep(1000 * 1000); /* jobs 1-3 finish meanwhile, 4-5 are in flight */
    int64_t t0 = now_ns();
    kill(p.pid, SIGTERM);
    static char all[16384];
    finish(&p, all, sizeof all, 143);
    assert_true((double)(now_ns() - t0) / 1e9 < 1.0);
    int finished = count(all, " finished\n"), cancelled = count(all, " cancelled, cleaned up\n");
    assert_true(finished >= 2);
    assert_true(cancelled >= 1);
    char summary[96];
    snprintf(summary, sizeof summary, "shutdown complete: %d finished, %d cancelled\n", finished,
             cancelled);
    assert_non_null(strstr(all, summary));
    assert_non_null(strstr(all, "shutting down: waiting for"));
}

/* The guide's producer-consumer stopped by SIGTERM half-way: every item
 * produced is either processed or named as not processed. */
static void test_producer_consumer_stopped(void **state)
{
    (void)state;
    struct proc p;
    start(EXAMPLES_DIR "/producer_consumer", &p);
    usleep(900 * 1000); /* ~8 produced, ~5 processed, 3 in consumers' hands */
    kill(p.pid, SIGTERM);
    static char all[16384];
    finish(&p, all, sizeof all, 143);
    bool produced[20] = {0}, accounted[20] = {0};
    int nproduced = 0, naccounted = 0;
    for (const char *l = all; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        int item;
        char name;
        if (sscanf(l, "Produced: %d", &item) == 1 && item >= 0 && item < 20) {
            produced[item] = true;
            nproduced++;
        } else if (sscanf(l, "Consumer %c processed: %d", &name, &item) == 2 && item >= 0 &&
                   item < 20) {
            assert_false(accounted[item]);
            accounted[item] = true;
            naccounted++;
        }
    }
    const char *stop = strstr(all, "Stopped: ");
    assert_non_null(stop);
    int left = -1, off = 0;
    assert_int_equal(sscanf(stop, "Stopped: %d item(s) not processed:%n", &left, &off), 1);
    const char *q = stop + off;
    for (int i = 0; i < left; i++) {
        int item = -1, used = 0;
        assert_int_equal(sscanf(q, " %d%n", &item, &used), 1);
        q += used;
        assert_true(item >= 0 && item < 20);
        assert_false(accounted[item]);
        accounted[item] = true;
        naccounted++;
    }
    /* Stopped early, and nothing produced went unaccounted. */
    assert_true(nproduced > 0 && nproduced < 20);
    assert_true(left > 0);
    for (int i = 0; i < 20; i++)
        if (produced[i])
            assert_true(accounted[i]);
    assert_true(naccounted >= nproduced);
}

static void test_blocking_offload(void **state)
{
    (void)state;
    struct proc p;
    start(EXAMPLES_DIR "/blocking_offload", &p);
    static char all[4096];
    finish(&p, all, sizeof all, 0);
    int bad_ticks = -1, good_ticks = -1, s1 = -1, s2 = -1, s3 = -2;
    double t1, t2;
    const char *b = strstr(all, "bad:"), *g = strstr(all, "good:"), *t = strstr(all, "to_thread:");
    assert_non_null(b);
    assert_non_null(g);
    assert_non_null(t);
    assert_int_equal(
        sscanf(b, "bad: checksum %d in %lfs; heartbeat ticked %d", &s1, &t1, &bad_ticks), 3);
    assert_int_equal(
        sscanf(g, "good: checksum %d in %lfs; heartbeat ticked %d", &s2, &t2, &good_ticks), 3);
    assert_int_equal(sscanf(t, "to_thread: checksum %d", &s3), 1);
    assert_int_equal(s1, s2);
    assert_int_equal(s1, s3);
    assert_true(t1 >= 0.5 && t2 >= 0.5);
    /* Blocked, the heartbeat misses the whole 0.5 s; offloaded, it ticks. */
    assert_true(bad_ticks <= 1);
    assert_true(good_ticks >= 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graceful_shutdown),
        cmocka_unit_test(test_producer_consumer_stopped),
        cmocka_unit_test(test_blocking_offload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
