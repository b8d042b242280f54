/* DNS through c-ares on the loop, against a tiny DNS responder this test
 * runs on 127.0.0.1 (no real DNS server is ever asked), and Happy Eyeballs
 * over the dual-stack names it serves. */
#include "net_helpers.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- the responder ------------------------------------------------------- */

enum { ANSWER, NXDOMAIN, SERVFAIL, SILENT };

struct zone {
    const char *name;
    int mode;
    const char *a;    /* IPv4 answer or NULL */
    const char *aaaa; /* IPv6 answer or NULL */
};

static const struct zone zones[] = {
    {"dual.test", ANSWER, "127.0.0.1", "::1"},
    {"v4.test", ANSWER, "127.0.0.1", NULL},
    {"fail.test", SERVFAIL, NULL, NULL},
    {"silent.test", SILENT, NULL, NULL},
};

struct responder {
    cio_udp *u;
    int queries;
};

/* Reads the question's name as "a.b.c"; returns the offset after QNAME or
 * -1. */
static int qname(const unsigned char *p, int n, int off, char *out, size_t size)
{
    size_t k = 0;
    while (off < n && p[off]) {
        int len = p[off++];
        if (len > 63 || off + len > n || k + (size_t)len + 2 > size)
            return -1;
        if (k)
            out[k++] = '.';
        memcpy(out + k, p + off, (size_t)len);
        k += (size_t)len;
        off += len;
    }
    out[k] = 0;
    return off < n ? off + 1 : -1;
}

static int respond(struct responder *r, const unsigned char *q, int n, unsigned char *out)
{
    char name[256];
    int end = qname(q, n, 12, name, sizeof name);
    if (n < 12 || end < 0 || end + 4 > n)
        return -1;
    int qtype = q[end] << 8 | q[end + 1];
    const struct zone *z = NULL;
    for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++)
        if (strcasecmp(zones[i].name, name) == 0)
            z = &zones[i];
    int mode = z ? z->mode : NXDOMAIN;
    if (mode == SILENT)
        return 0;
    memcpy(out, q, 2); /* id */
    out[2] = 0x81;     /* QR, RD */
    out[3] = (unsigned char)(0x80 | (mode == NXDOMAIN ? 3 : mode == SERVFAIL ? 2 : 0));
    out[4] = 0, out[5] = 1;                /* one question */
    out[6] = out[7] = out[8] = out[9] = 0; /* answers, set below */
    out[10] = out[11] = 0;                 /* no additional records */
    memcpy(out + 12, q + 12, (size_t)(end + 4 - 12));
    int len = end + 4;
    const char *ip = !z ? NULL : qtype == 1 ? z->a : qtype == 28 ? z->aaaa : NULL;
    if (mode == ANSWER && ip) {
        unsigned char addr[16];
        int alen = qtype == 1 ? 4 : 16;
        inet_pton(qtype == 1 ? AF_INET : AF_INET6, ip, addr);
        unsigned char rr[12] = {0xc0, 12, 0, (unsigned char)qtype, 0, 1, 0, 0,
                                0,    60, 0, (unsigned char)alen};
        memcpy(out + len, rr, sizeof rr);
        memcpy(out + len + sizeof rr, addr, (size_t)alen);
        len += (int)sizeof rr + alen;
        out[7] = 1;
    }
    r->queries++;
    return len;
}

static int responder_task(void *arg)
{
    struct responder *r = arg;
    unsigned char q[512], out[600];
    for (;;) {
        struct sockaddr_storage from;
        socklen_t flen;
        ssize_t n = cio_udp_recvfrom(r->u, q, sizeof q, &from, &flen);
        if (n < 0)
            return 0; /* cancelled: the test is over */
        int len = respond(r, q, (int)n, out);
        if (len > 0)
            cio_udp_sendto(r->u, out, (size_t)len, (struct sockaddr *)&from, flen);
    }
}

struct env {
    struct responder r;
    cio_task task;
    char servers[64];
    cio_dns_options dns;
};

static int env_start(struct env *e)
{
    cio_udp_options o = {.local_host = "127.0.0.1"};
    int rc = cio_udp_open(&e->r.u, &o);
    if (rc)
        return rc;
    snprintf(e->servers, sizeof e->servers, "127.0.0.1:%d", cio_udp_port(e->r.u));
    e->dns = (cio_dns_options){.servers = e->servers, .no_hosts_file = true, .timeout = 2};
    e->task = cio_spawn(responder_task, &e->r);
    return cio_spawn_error(e->task);
}

static void env_stop(struct env *e)
{
    cio_cancel(e->task);
    cio_join(e->task);
    cio_udp_close(e->r.u);
}

/* ---- resolution ---------------------------------------------------------- */

static int count_family(const cio_addrinfo *l, int family)
{
    int n = 0;
    for (; l; l = l->next)
        n += l->family == family;
    return n;
}

struct canceller {
    cio_dns_options *dns;
    int rc;
};

static int resolve_silent(void *arg)
{
    struct canceller *c = arg;
    cio_addrinfo *l;
    c->rc = cio_dns_resolve("silent.test", 80, 0, c->dns, &l);
    return 0;
}

static int resolution(void *arg)
{
    (void)arg;
    struct env e;
    task_check_eq(env_start(&e), 0);
    cio_addrinfo *l;
    task_check_eq(cio_dns_resolve("dual.test", 443, 0, &e.dns, &l), 2);
    task_check_eq(count_family(l, AF_INET), 1);
    task_check_eq(count_family(l, AF_INET6), 1);
    char buf[64];
    for (cio_addrinfo *p = l; p; p = p->next) {
        cio_addr_format((struct sockaddr *)&p->addr, p->addrlen, buf, sizeof buf);
        task_check(strcmp(buf, "127.0.0.1:443") == 0 || strcmp(buf, "[::1]:443") == 0);
    }
    cio_addrinfo_free(l);
    task_check_eq(cio_dns_resolve("dual.test", 1, AF_INET6, &e.dns, &l), 1);
    task_check_eq(l->family, AF_INET6);
    cio_addrinfo_free(l);
    task_check_eq(cio_dns_resolve("v4.test", 1, AF_INET, &e.dns, &l), 1);
    cio_addrinfo_free(l);
    /* Failures say which. */
    task_check_eq(cio_dns_resolve("v4.test", 1, AF_INET6, &e.dns, &l), CIO_EDNS_NOTFOUND);
    task_check_eq(cio_dns_resolve("missing.test", 1, 0, &e.dns, &l), CIO_EDNS_NOTFOUND);
    task_check(l == NULL);
    task_check_eq(cio_dns_resolve("fail.test", 1, AF_INET, &e.dns, &l), CIO_EDNS);
    /* A server that never answers: the timeout. */
    cio_dns_options quick = e.dns;
    quick.timeout = 0.3;
    double t0 = cio_time();
    task_check_eq(cio_dns_resolve("silent.test", 1, 0, &quick, &l), -ETIMEDOUT);
    double el = cio_time() - t0;
    task_check(el >= 0.29 && el < 1.0);
    /* An enclosing scope is a timeout too. */
    {
        CIO_TIMEOUT(t, 0.1);
        task_check_eq(cio_dns_resolve("silent.test", 1, 0, &e.dns, &l), -ETIMEDOUT);
    }
    /* Cancelling a resolution in flight. */
    struct canceller c = {.dns = &e.dns};
    cio_task t = cio_spawn(resolve_silent, &c);
    task_check_eq(cio_sleep(0.05), 0);
    task_check_eq(cio_cancel(t), 0);
    task_check_eq(cio_join(t), 0);
    task_check_eq(c.rc, -ECANCELED);
    /* Numeric addresses never ask anyone. */
    int before = e.r.queries;
    task_check_eq(cio_dns_resolve("::1", 7, 0, &quick, &l), 1);
    cio_addrinfo_free(l);
    task_check_eq(e.r.queries, before);
    task_check_eq(cio_dns_resolve(NULL, 1, 0, NULL, &l), -EINVAL);
    task_check_eq(cio_dns_resolve("x", 1, 12345, NULL, &l), -EINVAL);
    /* No server at all is refused, not replaced by the system's servers
     * (which would send the query off this machine). */
    const char *none[] = {"", " ", ",,"};
    for (size_t i = 0; i < 3; i++) {
        cio_dns_options empty = {.servers = none[i], .no_hosts_file = true};
        task_check_eq(cio_dns_resolve("nowhere.test", 1, 0, &empty, &l), -EINVAL);
    }
    env_stop(&e);
    return 0;
}

static void test_resolution(void **state)
{
    (void)state;
    assert_ok(run_real(resolution, NULL));
}

static int hosts_file(void *arg)
{
    (void)arg;
    /* "localhost" from /etc/hosts, with a server that would never answer:
     * proof the hosts file was read first. */
    struct env e;
    task_check_eq(env_start(&e), 0);
    cio_dns_options o = {.servers = e.servers, .timeout = 2};
    cio_addrinfo *l;
    int n = cio_dns_resolve("localhost", 80, AF_INET, &o, &l);
    task_check(n >= 1);
    char buf[64];
    cio_addr_format((struct sockaddr *)&l->addr, l->addrlen, buf, sizeof buf);
    task_check(strcmp(buf, "127.0.0.1:80") == 0);
    cio_addrinfo_free(l);
    task_check_eq(e.r.queries, 0);
    env_stop(&e);
    return 0;
}

static void test_hosts_file(void **state)
{
    (void)state;
    if (!hosts_has_localhost()) {
        print_message("/etc/hosts has no 127.0.0.1 localhost line: skipped\n");
        skip();
    }
    assert_ok(run_real(hosts_file, NULL));
}

/* ---- connecting by name: Happy Eyeballs ---------------------------------- */

static int connect_by_name(void *arg)
{
    (void)arg;
    struct env e;
    task_check_eq(env_start(&e), 0);
    cio_server *srv;
    task_check_eq(cio_start_server(&srv, "127.0.0.1", 0, echo_handler, NULL, NULL), 0);
    int port = cio_server_port(srv);
    cio_stream *s;
    cio_connect_options o = {.dns = &e.dns};
    task_check_eq(cio_open_connection(&s, "v4.test", port, &o), 0);
    task_check_eq(cio_stream_send(s, "hi", 2), 0);
    char b[2];
    task_check_eq(cio_stream_readexactly(s, b, 2), 2);
    cio_stream_close(s);
    char detail[128];
    o.error_detail = detail;
    o.error_detail_size = sizeof detail;
    task_check_eq(cio_open_connection(&s, "missing.test", port, &o), CIO_EDNS_NOTFOUND);
    task_check(strstr(detail, "missing.test") != NULL);
    task_check_eq(cio_server_shutdown(srv, 1), 0);
    env_stop(&e);
    return 0;
}

static void test_connect_by_name(void **state)
{
    (void)state;
    assert_ok(run_real(connect_by_name, NULL));
}

/* Binds a listener on ip:port whose backlog is full, so that SYNs to it
 * are dropped and a connect stalls. Returns the listener; fills fill[4]. */
static int stalled_listener(const char *ip, int port, int fill[4])
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (cio_addr_parse(ip, port, &ss, &len) < 0)
        return -1;
    int l = socket(ss.ss_family, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6)
        setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(l, (struct sockaddr *)&ss, len) < 0 || listen(l, 0) < 0) {
        close(l);
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&ss, len);
    }
    return l;
}

static int happy_eyeballs(void *arg)
{
    (void)arg;
    struct env e;
    task_check_eq(env_start(&e), 0);
    /* Which family does the resolver put first? That one stalls. */
    cio_addrinfo *l;
    task_check_eq(cio_dns_resolve("dual.test", 1, 0, &e.dns, &l), 2);
    bool v6_first = l->family == AF_INET6;
    cio_addrinfo_free(l);
    const char *slow = v6_first ? "::1" : "127.0.0.1";
    const char *fast = v6_first ? "127.0.0.1" : "::1";
    cio_server *srv;
    task_check_eq(cio_start_server(&srv, fast, 0, echo_handler, NULL, NULL), 0);
    int port = cio_server_port(srv);
    int fill[4];
    int lfd = stalled_listener(slow, port, fill);
    task_check(lfd >= 0);
    task_check_eq(cio_sleep(0.05), 0);

    /* The first attempt stalls; the second starts after the delay and
     * wins. */
    cio_connect_options o = {.dns = &e.dns, .happy_eyeballs_delay = 0.15, .timeout = 5};
    cio_stream *s;
    double t0 = cio_time();
    task_check_eq(cio_open_connection(&s, "dual.test", port, &o), 0);
    double el = cio_time() - t0;
    task_check(el >= 0.14 && el < 0.8);
    struct sockaddr_storage peer;
    socklen_t plen;
    task_check_eq(cio_stream_peername(s, &peer, &plen), 0);
    task_check_eq(peer.ss_family, v6_first ? AF_INET : AF_INET6);
    task_check_eq(cio_stream_send(s, "ok", 2), 0);
    char b[2];
    task_check_eq(cio_stream_readexactly(s, b, 2), 2);
    cio_stream_close(s);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);

    /* A refused first attempt moves on at once, without the delay. */
    o.happy_eyeballs_delay = 5;
    t0 = cio_time();
    task_check_eq(cio_open_connection(&s, "dual.test", port, &o), 0);
    task_check(cio_time() - t0 < 1.0);
    cio_stream_close(s);
    task_check_eq(cio_server_shutdown(srv, 1), 0);
    env_stop(&e);
    return 0;
}

static void test_happy_eyeballs(void **state)
{
    (void)state;
    SKIP_WITHOUT_IPV6();
    assert_ok(run_real(happy_eyeballs, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolution),
        cmocka_unit_test(test_hosts_file),
        cmocka_unit_test(test_connect_by_name),
        cmocka_unit_test(test_happy_eyeballs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
