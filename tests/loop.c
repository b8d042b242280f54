/* asyncio's low-level API: call_soon, call_later, call_at, handles, fd
 * callbacks, the loop's clock and the virtual clock. */
#include "helpers.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend/backend.h"
#include "loop/loop.h"

struct trace {
    char log[64];
    int n;
};

struct mark {
    struct trace *tr;
    char c;
};

static void record(void *arg)
{
    struct mark *m = arg;
    m->tr->log[m->tr->n++] = m->c;
}

static int soon_fifo(void *arg)
{
    struct trace *tr = arg;
    struct mark m[4] = {{tr, 'a'}, {tr, 'b'}, {tr, 'c'}, {tr, 'd'}};
    for (int i = 0; i < 4; i++)
        task_check_eq(cio_call_soon(record, &m[i], NULL), 0);
    task_check_eq(cio_yield(), 0);
    return 0;
}

static void test_call_soon_fifo(void **state)
{
    (void)state;
    struct trace tr = {0};
    assert_ok(run_virtual(soon_fifo, &tr));
    assert_string_equal(tr.log, "abcd");
}

static int later_order(void *arg)
{
    struct trace *tr = arg;
    struct mark m[6] = {{tr, 'c'}, {tr, 'a'}, {tr, 'd'}, {tr, 'b'}, {tr, 'e'}, {tr, 'x'}};
    double t0 = cio_time();
    task_check_eq(cio_call_later(0.3, record, &m[0], NULL), 0);
    task_check_eq(cio_call_later(0.1, record, &m[1], NULL), 0);
    task_check_eq(cio_call_later(0.3, record, &m[2], NULL), 0); /* tie: after 'c' */
    task_check_eq(cio_call_at(t0 + 0.2, record, &m[3], NULL), 0);
    task_check_eq(cio_call_later(0.3, record, &m[4], NULL), 0); /* tie: after 'd' */
    cio_handle *h;
    task_check_eq(cio_call_later(0.25, record, &m[5], &h), 0);
    task_check_eq(cio_handle_cancel(h), 0);
    task_check_eq(cio_sleep(1.0), 0);
    double elapsed = cio_time() - t0;
    task_check(between(elapsed, 1.0, 1.01));
    return 0;
}

static void test_call_later_deadline_order_ties_fifo(void **state)
{
    (void)state;
    struct trace tr = {0};
    assert_ok(run_virtual(later_order, &tr));
    assert_string_equal(tr.log, "abcde");
}

/* Hundreds of timers falling due at once (the loop was busy) fire a batch
 * per iteration, and still all of them, in deadline order, FIFO on ties. */
#define FLOOD 1000

struct flood {
    int order[FLOOD];
    int n;
};

struct flood_mark {
    struct flood *f;
    int i;
};

static void flood_record(void *arg)
{
    struct flood_mark *m = arg;
    m->f->order[m->f->n++] = m->i;
}

static int flood_main(void *arg)
{
    struct flood *f = arg;
    static struct flood_mark m[FLOOD];
    /* Timer i is due at (i / 2) * 20 us from a common start: pairs tie, and
     * the 10 ms they span cross timer-wheel buckets. They are scheduled in
     * a shuffled order, each pair's first member first. */
    int64_t start = cio_time_ns() + 5000000;
    for (int k = 0; k < FLOOD / 2; k++) {
        int pair = (k * 337) % (FLOOD / 2); /* 337 is prime to 500 */
        for (int j = 0; j < 2; j++) {
            int i = 2 * pair + j;
            m[i] = (struct flood_mark){f, i};
            double when = (double)(start + pair * 20000) / 1e9;
            task_check_eq(cio_call_at(when, flood_record, &m[i], NULL), 0);
        }
    }
    /* Keep the loop busy past every deadline, then let it run (the loop
     * time is that of before the wait, so sleep past the last deadline). */
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    task_check_eq(cio_sleep(0.05), 0);
    task_check_eq(f->n, FLOOD);
    for (int i = 0; i < FLOOD; i++)
        task_check_eq(f->order[i], i);
    return 0;
}

static void test_flood_of_due_timers(void **state)
{
    (void)state;
    static struct flood f;
    assert_ok(run_real(flood_main, &f));
}

/* The loop sleeps until the first multiple of the timer slack at or after
 * the next deadline: timers due within one slack of each other fire on one
 * wake-up, none before its deadline. */
struct slack_run {
    int64_t grid;
    int64_t fired[5];
    int n;
};

static void note_time(void *arg)
{
    struct slack_run *r = arg;
    r->fired[r->n++] = cio_time_ns();
}

static int slack_main(void *arg)
{
    struct slack_run *r = arg;
    /* Five deadlines 20 us apart, just past a multiple of the slack, far
     * enough ahead that none is due before the loop next sleeps. */
    int64_t cell = (cio_time_ns() / r->grid + 40) * r->grid;
    for (int i = 0; i < 5; i++)
        task_check_eq(cio_call_at((double)(cell + 1 + i * 20000) / 1e9, note_time, r, NULL), 0);
    task_check_eq(cio_sleep((double)(cell + 2 * r->grid - cio_time_ns()) / 1e9), 0);
    task_check_eq(r->n, 5);
    for (int i = 0; i < 5; i++) {
        task_check(r->fired[i] >= cell + 1 + i * 20000);
        task_check_eq(r->fired[i], r->fired[0]);
    }
    task_check(r->fired[0] >= cell + r->grid);
    return 0;
}

static void test_timer_slack(void **state)
{
    (void)state;
    struct slack_run r = {.grid = 250000};
    assert_ok(cio_run(slack_main, &r)); /* the default: 250 us */
    r = (struct slack_run){.grid = 2000000};
    cio_run_options o = {.timer_slack = 0.002};
    assert_ok(cio_run_with(&o, slack_main, &r));
    o.timer_slack = 0.0 / 0.0;
    assert_int_equal(cio_run_with(&o, slack_main, &r), -EINVAL);
}

static int handle_after_run(void *arg)
{
    struct trace *tr = arg;
    struct mark m = {tr, 'r'};
    cio_handle *h;
    task_check_eq(cio_call_soon(record, &m, &h), 0);
    task_check_eq(cio_yield(), 0);
    task_check_eq(tr->n, 1);
    task_check_eq(cio_handle_cancel(h), -EALREADY); /* ran already; handle released */
    task_check_eq(cio_handle_cancel(h), -EINVAL);   /* released: refused */
    cio_handle_release(h);                          /* and ignored */
    /* A soon-callback cancelled while already queued never runs. */
    task_check_eq(cio_call_soon(record, &m, &h), 0);
    task_check_eq(cio_handle_cancel(h), 0);
    task_check_eq(cio_yield(), 0);
    task_check_eq(tr->n, 1);
    /* Release without cancel: it still runs. */
    task_check_eq(cio_call_later(0.01, record, &m, &h), 0);
    cio_handle_release(h);
    task_check_eq(cio_sleep(0.02), 0);
    task_check_eq(tr->n, 2);
    return 0;
}

static void test_handle_cancel_and_release(void **state)
{
    (void)state;
    struct trace tr = {0};
    assert_ok(run_virtual(handle_after_run, &tr));
    assert_int_equal(cio_handle_cancel(NULL), -EINVAL);
}

/* A handle kept past its loop is refused, not read (ASan would see it),
 * on a thread with no loop and by the next loop. */
static int keep_handle(void *arg)
{
    cio_handle **h = arg;
    struct trace tr = {0};
    struct mark m = {&tr, 'k'};
    task_check_eq(cio_call_later(10.0, record, &m, h), 0);
    return 0;
}

static int cancel_stale(void *arg)
{
    task_check_eq(cio_handle_cancel(arg), -EINVAL);
    cio_handle_release(arg);
    return 0;
}

static void test_handle_outlives_loop(void **state)
{
    (void)state;
    cio_handle *h = NULL;
    assert_ok(run_virtual(keep_handle, &h));
    assert_non_null(h);
    assert_int_equal(cio_handle_cancel(h), -EINVAL);
    cio_handle_release(h);
    assert_ok(run_virtual(cancel_stale, h));
}

static int virtual_hour(void *arg)
{
    (void)arg;
    double t0 = cio_time();
    task_check(t0 < 1.0); /* virtual time starts at 0 */
    task_check_eq(cio_sleep(3600), 0);
    double t1 = cio_time();
    task_check(between(t1 - t0, 3600.0, 3600.01));
    return 0;
}

static void test_virtual_clock_jumps(void **state)
{
    (void)state;
    int64_t start = now_ns();
    assert_ok(run_virtual(virtual_hour, NULL));
    int64_t spent = now_ns() - start;
    assert_true(spent < 500000000LL); /* an hour in well under half a second */
}

static int real_sleep(void *arg)
{
    (void)arg;
    double t0 = cio_time();
    task_check_eq(cio_sleep(0.05), 0);
    double dt = cio_time() - t0;
    task_check(between(dt, 0.05, 0.08));
    return 0;
}

static void test_real_clock_sleep(void **state)
{
    (void)state;
    assert_ok(run_real(real_sleep, NULL));
}

struct pipe_cb {
    int fds[2];
    int calls;
    char got;
};

static void on_readable(void *arg)
{
    struct pipe_cb *p = arg;
    if (read(p->fds[0], &p->got, 1) == 1)
        p->calls++;
    cio_remove_reader(p->fds[0]);
}

static void write_byte(void *arg)
{
    struct pipe_cb *p = arg;
    if (write(p->fds[1], "z", 1) != 1)
        p->calls = -100;
}

static int reader_callback(void *arg)
{
    struct pipe_cb *p = arg;
    task_check_eq(pipe(p->fds), 0);
    task_check_eq(cio_add_reader(p->fds[0], on_readable, p), 0);
    task_check_eq(cio_call_later(0.01, write_byte, p, NULL), 0);
    for (int i = 0; i < 100 && p->calls == 0; i++)
        task_check_eq(cio_sleep(0.005), 0);
    task_check_eq(p->calls, 1);
    task_check_eq(p->got, 'z');
    task_check_eq(cio_remove_reader(p->fds[0]), -ENOENT);
    task_check_eq(cio_add_reader(-1, on_readable, p), -EINVAL);
    close(p->fds[0]);
    close(p->fds[1]);
    return 0;
}

static void test_add_reader(void **state)
{
    (void)state;
    struct pipe_cb p = {0};
    assert_ok(run_real(reader_callback, &p));
}

/* Tasks that never stop yielding keep work ready, so the loop never sleeps
 * in a poll; it must still poll I/O at a bounded interval (20 µs, see
 * CIO__POLL_INTERVAL) and fire timers. The spinners give up after 5 s: the
 * fd callback and the timer must have run long before. */
struct spin {
    struct pipe_cb p;
    int timer_fired;
    long yields_at_io, yields;
    double io_after, timer_after;
};

static void spin_timer(void *arg)
{
    struct spin *s = arg;
    s->timer_fired = 1;
    s->timer_after = cio_time();
}

static void spin_readable(void *arg)
{
    struct spin *s = arg;
    on_readable(&s->p);
    s->yields_at_io = s->yields;
    s->io_after = cio_time();
}

static int spinner(void *arg)
{
    struct spin *s = arg;
    double t0 = cio_time();
    while (!(s->p.calls && s->timer_fired) && cio_time() - t0 < 5.0) {
        task_check_eq(cio_yield(), 0);
        s->yields++;
    }
    return 0;
}

static int io_while_spinning(void *arg)
{
    struct spin *s = arg;
    task_check_eq(pipe(s->p.fds), 0);
    task_check_eq(cio_add_reader(s->p.fds[0], spin_readable, s), 0);
    task_check_eq(cio_call_later(0.002, spin_timer, s, NULL), 0);
    double t0 = cio_time();
    cio_task a = cio_spawn(spinner, s), b = cio_spawn(spinner, s);
    task_check_eq(cio_yield(), 0); /* the spinners are running */
    task_check_eq(write(s->p.fds[1], "y", 1), 1);
    task_check_eq(cio_join(a), 0);
    task_check_eq(cio_join(b), 0);
    task_check_eq(s->p.calls, 1);
    task_check_eq(s->p.got, 'y');
    task_check_eq(s->timer_fired, 1);
    /* Generous bounds: a loaded machine may deschedule us for a while. */
    task_check(s->io_after - t0 < 0.5);
    task_check(s->timer_after - t0 >= 0.002 && s->timer_after - t0 < 0.5);
    close(s->p.fds[0]);
    close(s->p.fds[1]);
    return 0;
}

static void test_io_polled_while_tasks_spin(void **state)
{
    (void)state;
    struct spin s = {0};
    assert_ok(run_real(io_while_spinning, &s));
    assert_true(s.yields > s.yields_at_io); /* the spinners ran on after */
}

/* A flood of overdue timers keeps the loop from sleeping, as spinning tasks
 * do: it fires them a batch at a time, and must poll I/O at the same
 * bounded interval (an fd that becomes readable mid-flood is served long
 * before the flood ends), but not once per batch: a poll that cannot wait
 * is a system call for nothing. The backend's poll is wrapped to count. */
enum { OVERDUE = 50000, OVERDUE_WRITER = 1000 };

struct overdue {
    struct pipe_cb p;
    long fired, fired_at_io, polls, polls_in_flood;
    int64_t start_ns, flood_ns;
    cio_future *done;
};

static struct overdue *overdue_now;
static const struct cio__backend_ops *real_ops;

static int counting_poll(struct cio__loop *loop, int64_t timeout_ns)
{
    overdue_now->polls++;
    return real_ops->poll(loop, timeout_ns);
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void overdue_fire(void *arg)
{
    struct overdue *o = arg;
    if (++o->fired == OVERDUE_WRITER && write(o->p.fds[1], "x", 1) != 1)
        o->p.calls = -100;
    if (o->fired == OVERDUE) {
        o->flood_ns = mono_ns() - o->start_ns;
        o->polls_in_flood = o->polls;
        cio_future_set_result(o->done, NULL);
    }
}

static void overdue_readable(void *arg)
{
    struct overdue *o = arg;
    on_readable(&o->p);
    o->fired_at_io = o->fired;
}

static int overdue_main(void *arg)
{
    struct overdue *o = arg;
    struct cio__loop *loop = cio__tls_loop;
    static struct cio__backend_ops counting;
    real_ops = loop->ops;
    counting = *real_ops;
    counting.poll = counting_poll;
    overdue_now = o;
    task_check_eq(pipe(o->p.fds), 0);
    task_check_eq(cio_add_reader(o->p.fds[0], overdue_readable, o), 0);
    task_check_eq(cio_future_new(&o->done), 0);
    for (int i = 0; i < OVERDUE; i++)
        task_check_eq(cio_call_later(0, overdue_fire, o, NULL), 0);
    loop->ops = &counting;
    o->start_ns = mono_ns();
    task_check_eq(cio_future_wait(o->done, NULL), 0);
    loop->ops = real_ops;
    cio_future_free(o->done);
    task_check_eq(cio_remove_reader(o->p.fds[0]), -ENOENT); /* on_readable() did */
    close(o->p.fds[0]);
    close(o->p.fds[1]);
    return 0;
}

static void test_io_polled_while_timers_overdue(void **state)
{
    (void)state;
    struct overdue o = {0};
    assert_ok(run_real(overdue_main, &o));
    assert_int_equal(o.fired, OVERDUE);
    assert_int_equal(o.p.calls, 1);
    assert_int_equal(o.p.got, 'x');
    /* Served within a poll interval and a batch of the write, give or
     * take a descheduled moment: not at the flood's end. */
    assert_true(o.fired_at_io >= OVERDUE_WRITER);
    assert_true(o.fired_at_io < OVERDUE_WRITER + OVERDUE / 4);
    /* At most one poll per interval (and the one that found the fd).
     * Polling once per batch of CIO__DISPATCH_BATCH timers would be ~780
     * polls, where the flood takes a few milliseconds. */
    assert_true(o.polls_in_flood <= o.flood_ns / CIO__POLL_INTERVAL + 4);
}

static void test_outside_loop(void **state)
{
    (void)state;
    assert_int_equal(cio_call_soon(record, NULL, NULL), CIO_ENOLOOP);
    assert_int_equal(cio_call_later(1, record, NULL, NULL), CIO_ENOLOOP);
    assert_int_equal(cio_add_reader(0, record, NULL), CIO_ENOLOOP);
    assert_true(cio_time() == 0.0);
    assert_int_equal(cio_sleep(1), CIO_ENOLOOP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_soon_fifo),
        cmocka_unit_test(test_call_later_deadline_order_ties_fifo),
        cmocka_unit_test(test_flood_of_due_timers),
        cmocka_unit_test(test_timer_slack),
        cmocka_unit_test(test_handle_cancel_and_release),
        cmocka_unit_test(test_handle_outlives_loop),
        cmocka_unit_test(test_virtual_clock_jumps),
        cmocka_unit_test(test_real_clock_sleep),
        cmocka_unit_test(test_add_reader),
        cmocka_unit_test(test_io_polled_while_tasks_spin),
        cmocka_unit_test(test_io_polled_while_timers_overdue),
        cmocka_unit_test(test_outside_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
