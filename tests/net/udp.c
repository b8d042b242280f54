/* UDP endpoints: datagram echo (IPv4, IPv6), connected endpoints and the
 * ICMP port-unreachable error, receive timeouts and cancellation. */
#include "net_helpers.h"

#include <stdio.h>

struct udp_echo {
    cio_udp *u;
    int served;
};

static int udp_echo_task(void *arg)
{
    struct udp_echo *e = arg;
    char buf[2048];
    for (;;) {
        struct sockaddr_storage from;
        socklen_t len;
        ssize_t n = cio_udp_recvfrom(e->u, buf, sizeof buf, &from, &len);
        if (n < 0)
            return n == -ECANCELED ? 0 : (int)n;
        int rc = cio_udp_sendto(e->u, buf, (size_t)n, (struct sockaddr *)&from, len);
        if (rc)
            return rc;
        e->served++;
    }
}

static int udp_case(void *arg)
{
    const char *host = arg;
    struct udp_echo e = {0};
    cio_udp_options so = {.local_host = host};
    task_check_eq(cio_udp_open(&e.u, &so), 0);
    int port = cio_udp_port(e.u);
    task_check(port > 0);
    cio_task server = cio_spawn(udp_echo_task, &e);

    /* An unconnected client: sendto / recvfrom with addresses. */
    cio_udp *c;
    cio_udp_options co = {.local_host = host};
    task_check_eq(cio_udp_open(&c, &co), 0);
    struct sockaddr_storage to;
    socklen_t tolen;
    task_check_eq(cio_addr_parse(host, port, &to, &tolen), 0);
    char buf[2048];
    for (int i = 0; i < 10; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "datagram %d", i);
        task_check_eq(cio_udp_sendto(c, msg, (size_t)n, (struct sockaddr *)&to, tolen), 0);
        struct sockaddr_storage from;
        socklen_t flen;
        CIO_TIMEOUT(t, 2);
        task_check_eq(cio_udp_recvfrom(c, buf, sizeof buf, &from, &flen), n);
        task_check(memcmp(buf, msg, (size_t)n) == 0);
        char a[64], b[64];
        cio_addr_format((struct sockaddr *)&from, flen, a, sizeof a);
        cio_addr_format((struct sockaddr *)&to, tolen, b, sizeof b);
        task_check(strcmp(a, b) == 0);
    }
    /* Datagram boundaries are kept and a short buffer truncates. */
    task_check_eq(cio_udp_sendto(c, "0123456789", 10, (struct sockaddr *)&to, tolen), 0);
    {
        CIO_TIMEOUT(t, 2);
        task_check_eq(cio_udp_recvfrom(c, buf, 4, NULL, NULL), 4);
    }
    cio_udp_close(c);

    /* A connected client. */
    cio_udp_options cc = {.remote_host = host, .remote_port = port};
    task_check_eq(cio_udp_open(&c, &cc), 0);
    task_check_eq(cio_udp_send(c, "ping", 4), 0);
    {
        CIO_TIMEOUT(t, 2);
        task_check_eq(cio_udp_recvfrom(c, buf, sizeof buf, NULL, NULL), 4);
    }
    /* Nothing more comes: a timeout scope ends the wait. */
    {
        CIO_TIMEOUT(t, 0.05);
        task_check_eq(cio_udp_recvfrom(c, buf, sizeof buf, NULL, NULL), -ETIMEDOUT);
    }
    cio_udp_close(c);

    task_check_eq(cio_cancel(server), 0);
    task_check_eq(cio_join(server), 0);
    task_check_eq(e.served, 12);
    cio_udp_close(e.u);
    return 0;
}

static void test_udp_echo_ipv4(void **state)
{
    (void)state;
    assert_ok(run_real(udp_case, "127.0.0.1"));
}

static void test_udp_echo_ipv6(void **state)
{
    (void)state;
    SKIP_WITHOUT_IPV6();
    assert_ok(run_real(udp_case, "::1"));
}

static int refused(void *arg)
{
    (void)arg;
    /* A port with nobody on it: the kernel's ICMP port unreachable comes
     * back as -ECONNREFUSED on a connected endpoint. */
    cio_udp *tmp;
    cio_udp_options lo = {.local_host = "127.0.0.1"};
    task_check_eq(cio_udp_open(&tmp, &lo), 0);
    int port = cio_udp_port(tmp);
    cio_udp_close(tmp);
    cio_udp *c;
    cio_udp_options o = {.remote_host = "127.0.0.1", .remote_port = port};
    task_check_eq(cio_udp_open(&c, &o), 0);
    task_check_eq(cio_udp_send(c, "x", 1), 0);
    char b[8];
    CIO_TIMEOUT(t, 2);
    task_check_eq(cio_udp_recvfrom(c, b, sizeof b, NULL, NULL), -ECONNREFUSED);
    cio_udp_close(c);
    task_check_eq(cio_udp_open(&c, NULL), -EINVAL);
    task_check_eq(cio_udp_open(&c, &(cio_udp_options){.local_port = 70000}), -EINVAL);
    return 0;
}

static void test_udp_refused_and_errors(void **state)
{
    (void)state;
    assert_ok(run_real(refused, NULL));
}

/* Closing an endpoint while another task waits in recvfrom: the waiter
 * gets -EBADF and the endpoint's memory outlives its last user, whether
 * the close comes from a task or from a plain loop callback. */
struct udp_waiter {
    cio_udp *u;
    ssize_t got;
};

static int udp_wait_task(void *arg)
{
    struct udp_waiter *w = arg;
    char b[64];
    w->got = cio_udp_recvfrom(w->u, b, sizeof b, NULL, NULL);
    return 0;
}

static void udp_close_cb(void *arg)
{
    cio_udp_close(arg);
}

static int close_while_waiting(void *arg)
{
    bool from_callback = arg != NULL;
    for (int round = 0; round < 2; round++) {
        struct udp_waiter w = {.got = 1};
        cio_udp_options o = {.local_host = "127.0.0.1"};
        task_check_eq(cio_udp_open(&w.u, &o), 0);
        cio_task t = cio_spawn(udp_wait_task, &w);
        task_check_eq(cio_sleep(0.01), 0); /* t is parked in recvfrom */
        if (round == 1) {
            /* A second receiver is refused while the first waits. */
            char b[8];
            task_check_eq(cio_udp_recvfrom(w.u, b, sizeof b, NULL, NULL), -EBUSY);
        }
        if (from_callback) {
            task_check_eq(cio_call_soon(udp_close_cb, w.u, NULL), 0);
            task_check_eq(cio_yield(), 0);
        } else {
            cio_udp_close(w.u);
        }
        task_check_eq(cio_join(t), 0);
        task_check_eq(w.got, -EBADF);
    }
    return 0;
}

static void test_udp_close_while_waiting(void **state)
{
    (void)state;
    assert_ok(run_real(close_while_waiting, NULL));
    assert_ok(run_real(close_while_waiting, "callback"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_echo_ipv4),
        cmocka_unit_test(test_udp_echo_ipv6),
        cmocka_unit_test(test_udp_refused_and_errors),
        cmocka_unit_test(test_udp_close_while_waiting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
