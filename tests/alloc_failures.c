/* Every allocation the core makes can fail: run a scenario that touches
 * tasks, timers, callbacks, futures and fds again and again, failing the
 * 1st allocation, then the 2nd, and so on, until one run makes it through.
 * Each run must end with a result or a clean error, never a crash; the
 * Valgrind run of this test also proves nothing leaks on those paths.
 * (malloc is replaced in this program; sanitizers replace it themselves,
 * so there the scenario runs once, with no failure injected.) */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#ifndef TEST_SANITIZED
void *__libc_malloc(size_t);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);
void *__libc_memalign(size_t, size_t);

static long countdown = -1; /* fail when it reaches 0; -1: never */
static long failures;

static bool fail_now(void)
{
    if (countdown < 0)
        return false;
    if (countdown-- == 0) {
        failures++;
        return true;
    }
    return false;
}

void *malloc(size_t n)
{
    return fail_now() ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
    return fail_now() ? NULL : __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
    return fail_now() ? NULL : __libc_realloc(p, n);
}

/* glibc's strdup does not allocate through malloc: replaced too, for task
 * names. */
char *strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = fail_now() ? NULL : __libc_malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

/* The slabs of task records, handles and timer blocks come from here. */
void *aligned_alloc(size_t align, size_t n)
{
    return fail_now() ? NULL : __libc_memalign(align, n);
}
#endif

static void tick(void *arg)
{
    (*(int *)arg)++;
}

static int worker(void *arg)
{
    cio_future *f = arg;
    int rc = cio_sleep(0.01);
    if (rc < 0)
        return rc;
    return cio_future_set_result(f, (void *)"done");
}

static int worker_ok(void *arg)
{
    (void)arg;
    return cio_yield();
}

static int scenario(void *arg)
{
    (void)arg;
    int ticks = 0;
    int rc = cio_call_later(0.005, tick, &ticks, NULL);
    if (rc < 0)
        return rc;
    cio_future *f[4] = {0};
    cio_task t[4];
    for (int i = 0; i < 4; i++) {
        rc = cio_future_new(&f[i]);
        /* The first has a name, which is copied; the second's default name
         * is made when asked for, or, out of memory, reads as NULL. */
        cio_spawn_options opts = {.name = i == 0 ? "named-worker" : NULL};
        t[i] = rc < 0 ? (cio_task){0} : cio_spawn_with(&opts, worker, f[i]);
        const char *name = cio_task_name(t[i]);
        if (rc == 0 && cio_spawn_error(t[i]) == 0 &&
            (i == 0 ? !name || strcmp(name, "named-worker") != 0
                    : name && strncmp(name, "task-", 5) != 0))
            return -EPROTO;
    }
    int first = rc;
    for (int i = 0; i < 4; i++) {
        if (!f[i])
            continue;
        int jr = cio_join(t[i]);
        if (jr < 0 && !first)
            first = jr;
        void *v;
        if (jr == 0 && cio_future_result(f[i], &v) == 0 && strcmp(v, "done") != 0)
            return -EPROTO;
        cio_future_free(f[i]);
    }
    int fds[2];
    if (pipe2(fds, O_NONBLOCK) == 0) {
        if (write(fds[1], "x", 1) == 1) {
            int w = cio_wait_readable(fds[0], 1.0);
            if (w < 0 && !first)
                first = w;
        }
        cio_forget_fd(fds[0]);
        close(fds[0]);
        close(fds[1]);
    }
    /* A task group: a child that could not be spawned fails the group. */
    bool spawn_failed = false;
    {
        CIO_GROUP(g);
        for (int i = 0; i < 40; i++)
            if (cio_spawn_error(cio_group_spawn(&g, worker_ok, NULL)) < 0)
                spawn_failed = true;
        int gr = cio_group_wait(&g);
        if (spawn_failed && gr == 0)
            return -EPROTO; /* a lost failure */
        if (gr < 0 && !first)
            first = gr;
    }
    rc = cio_sleep(0.01);
    if (rc < 0 && !first)
        first = rc;
    if (!first && ticks != 1)
        return -EPROTO;
    return first;
}

/* ---- readiness is not lost when an allocation fails ------------------- */

/* More fds than a backend's tables hold at first, watched one per loop
 * iteration and then made readable all at once, so that the events of the
 * whole burst are handled together: a backend that must re-arm a one-shot
 * request per event (io_uring) queues them all in one go. Each reader is
 * left unread after its first callback, so the level-triggered contract
 * owes it a second one. (A ring set up with DEFER_TASKRUN hands the burst
 * over 20 completions at a time; the .io_uring_basic run, without it,
 * in one go: that run failed when re-arming could lose an fd.) */
#define NPIPES 80

struct pipes {
    int fd[NPIPES][2];
    int calls[NPIPES];
    int slot[NPIPES]; /* the callbacks' arguments: their own index */
    bool watched[NPIPES];
    int finished; /* readers called twice */
};

static struct pipes *pipes_now;

static void on_readable(void *arg)
{
    struct pipes *p = pipes_now;
    int i = *(int *)arg;
    if (++p->calls[i] < 2)
        return; /* left readable: owed another call */
    char c;
    (void)read(p->fd[i][0], &c, 1);
    cio_remove_reader(p->fd[i][0]);
    p->finished++;
}

static int burst_scenario(void *arg)
{
    struct pipes *p = arg;
    int first = 0, nwatched = 0;
    for (int i = 0; i < NPIPES; i++) {
        int rc = cio_add_reader(p->fd[i][0], on_readable, &p->slot[i]);
        p->watched[i] = rc == 0;
        nwatched += rc == 0;
        if (rc < 0 && !first)
            first = rc;
        rc = cio_sleep(1e-6); /* a poll between two watches */
        if (rc < 0 && !first)
            first = rc;
    }
    for (int i = 0; i < NPIPES; i++)
        if (p->watched[i] && write(p->fd[i][1], "x", 1) != 1)
            return -EIO;
    for (int k = 0; k < 500 && p->finished < nwatched; k++)
        (void)cio_sleep(0.001);
    for (int i = 0; i < NPIPES; i++) {
        if (p->watched[i] && p->calls[i] != 2)
            return -EPROTO; /* an event lost, or called after removal */
        cio_forget_fd(p->fd[i][0]);
    }
    return first;
}

static int burst_run(void)
{
    struct pipes p = {0};
    for (int i = 0; i < NPIPES; i++) {
        if (pipe2(p.fd[i], O_NONBLOCK) != 0)
            return -errno;
        p.slot[i] = i;
    }
    pipes_now = &p;
    int rc = run_virtual(burst_scenario, &p);
    for (int i = 0; i < NPIPES; i++) {
        close(p.fd[i][0]);
        close(p.fd[i][1]);
    }
    return rc;
}

static void test_readiness_survives_allocation_failures(void **state)
{
    (void)state;
#ifdef TEST_SANITIZED
    assert_int_equal(burst_run(), 0);
#else
    int clean = 0;
    for (long n = 0; n < 500; n++) {
        failures = 0;
        countdown = n;
        int rc = burst_run();
        countdown = -1;
        assert_int_not_equal(rc, -EPROTO);
        assert_true(rc == 0 || rc == -ENOMEM);
        if (failures == 0) {
            assert_int_equal(rc, 0);
            clean = 1;
            break;
        }
    }
    assert_true(clean);
#endif
}

static void test_every_allocation_can_fail(void **state)
{
    (void)state;
#ifdef TEST_SANITIZED
    /* No injection here: the scenario must still run clean. */
    assert_int_equal(run_virtual(scenario, NULL), 0);
#else
    int clean = 0;
    for (long n = 0; n < 500; n++) {
        failures = 0;
        countdown = n;
        int rc = run_virtual(scenario, NULL);
        countdown = -1;
        /* A failed allocation shows as -ENOMEM (or as what it caused:
         * a spawn that failed, a task cancelled at the end); never as a
         * wrong result. */
        assert_true(rc == 0 || rc == -ENOMEM || rc == -ECANCELED || rc == CIO_EBADTASK);
        assert_int_not_equal(rc, -EPROTO);
        if (failures == 0) {
            assert_int_equal(rc, 0);
            clean = 1;
            break;
        }
    }
    assert_true(clean); /* the scenario does fewer than 500 allocations */
#endif
}

#ifndef TEST_SANITIZED
/* A default name is made when first asked for: out of memory then, the
 * name reads as NULL, and the next ask, with memory, makes it. */
static int default_name_scenario(void *arg)
{
    (void)arg;
    cio_task t = cio_spawn(worker_ok, NULL);
    if (cio_spawn_error(t) < 0)
        return cio_spawn_error(t);
    failures = 0;
    countdown = 0;
    const char *none = cio_task_name(t);
    countdown = -1;
    const char *name = cio_task_name(t);
    bool ok = failures == 1 && !none && name && strncmp(name, "task-", 5) == 0 &&
              cio_task_name(t) == name;
    int rc = cio_join(t);
    return rc < 0 ? rc : ok ? 0 : -EPROTO;
}

/* The names table must grow to take a default name: out of memory there,
 * the name reads as NULL and the copy made for it is not leaked (the
 * Valgrind run checks), then the next ask makes it. */
static int name_table_full_scenario(void *arg)
{
    (void)arg;
    /* The table takes 8 names before it grows (16 slots, half full), the
     * main task's among them: 7 more fill it. */
    cio_task named[7];
    for (int i = 0; i < 7; i++) {
        named[i] = cio_spawn_with(&(cio_spawn_options){.name = "named"}, worker_ok, NULL);
        if (cio_spawn_error(named[i]) < 0)
            return cio_spawn_error(named[i]);
    }
    cio_task t = cio_spawn(worker_ok, NULL);
    if (cio_spawn_error(t) < 0)
        return cio_spawn_error(t);
    failures = 0;
    countdown = 1; /* the name's copy is made, the table's growth fails */
    const char *none = cio_task_name(t);
    countdown = -1;
    const char *name = cio_task_name(t);
    bool ok = failures == 1 && !none && name && strncmp(name, "task-", 5) == 0;
    int rc = cio_join(t);
    for (int i = 0; i < 7; i++) {
        int r = cio_join(named[i]);
        if (r < 0 && rc == 0)
            rc = r;
    }
    return rc < 0 ? rc : ok ? 0 : -EPROTO;
}

/* Listing the tasks sorts them by spawn order in an array: without memory
 * for it, every task is still listed, in the order of their records. */
static int dump_scenario(void *arg)
{
    (void)arg;
    /* A file whose buffer is ours, so that writing to it allocates nothing. */
    static char buf[4096];
    FILE *f = tmpfile();
    if (!f)
        return -errno;
    setvbuf(f, buf, _IOFBF, sizeof buf);
    static const char *const names[] = {"first", "second", "third"};
    cio_task t[3];
    for (int i = 0; i < 3; i++) {
        t[i] = cio_spawn_with(&(cio_spawn_options){.name = names[i]}, worker_ok, NULL);
        if (cio_spawn_error(t[i]) < 0) {
            fclose(f);
            return cio_spawn_error(t[i]);
        }
    }
    failures = 0;
    countdown = 0;
    cio_dump_tasks(f);
    countdown = -1;
    bool ok = failures == 1;
    char text[4096] = "";
    rewind(f);
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = '\0';
    fclose(f);
    for (int i = 0; i < 3; i++)
        ok = ok && strstr(text, names[i]) != NULL;
    int rc = 0;
    for (int i = 0; i < 3; i++) {
        int r = cio_join(t[i]);
        if (r < 0 && rc == 0)
            rc = r;
    }
    return rc < 0 ? rc : ok ? 0 : -EPROTO;
}
#endif

/* Runs a scenario that injects its own allocation failure; skipped where
 * malloc cannot be made to fail. */
#ifdef TEST_SANITIZED
#define RUN_INJECTED(scenario) skip()
#else
#define RUN_INJECTED(scenario) assert_int_equal(run_virtual(scenario, NULL), 0)
#endif

static void test_name_table_full_when_out_of_memory(void **state)
{
    (void)state;
    RUN_INJECTED(name_table_full_scenario);
}

static void test_dump_when_out_of_memory(void **state)
{
    (void)state;
    RUN_INJECTED(dump_scenario);
}

static void test_default_name_when_out_of_memory(void **state)
{
    (void)state;
    RUN_INJECTED(default_name_scenario);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_can_fail),
        cmocka_unit_test(test_readiness_survives_allocation_failures),
        cmocka_unit_test(test_default_name_when_out_of_memory),
        cmocka_unit_test(test_name_table_full_when_out_of_memory),
        cmocka_unit_test(test_dump_when_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
