/* net.echo: round trips per second of echo servers, side by side.
 *
 * A load generator (this process: plain epoll, N connections, each sends S
 * bytes and waits for the whole echo before sending again) drives, one
 * after the other in the same run, servers in child processes:
 *
 *   cio              cio_start_server + cio_stream_read/write/drain (epoll)
 *   cio-io_uring     the same on the io_uring backend
 *   libuv            a plain libuv C server (uv_try_write, uv_write)
 *   asyncio-streams  asyncio.start_server, default loop   (echo_server.py)
 *   uvloop-streams   the same on uvloop
 *   uvloop-protocol  an asyncio.Protocol on uvloop
 *
 * Matrix S in {64 B, 4 KiB} x N in {1, 100}. Each cell is the median of
 * --runs runs of --seconds seconds (default 3 x 1 s, so the program stays
 * near a minute; the protocol is --seconds 5, about five minutes;
 * --quick is 1 x 1 s). Records: net.echo.<S>.c<N> in ops/s, and
 * net.echo.<S>.c<N>.server_cpu, the server's CPU time per round trip (from
 * /proc/<pid>/schedstat), where a runtime's own cost shows when the kernel
 * dominates the wall time. Options: --only <impl>, --seconds, --runs. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <cio.h>
#include <cio/net.h>

#include "common/bench.h"

/* ---- the cio server ------------------------------------------------------ */

static int cio_echo(cio_stream *s, void *arg)
{
    (void)arg;
    char buf[65536];
    for (;;) {
        ssize_t n = cio_stream_read(s, buf, sizeof buf);
        if (n <= 0)
            return 0;
        if (cio_stream_write(s, buf, (size_t)n) || cio_stream_drain(s))
            return 0;
    }
}

static int cio_server_main(void *arg)
{
    int out = *(int *)arg;
    cio_server *srv;
    cio_server_options o = {.backlog = 1024};
    int rc = cio_start_server(&srv, "127.0.0.1", 0, cio_echo, NULL, &o);
    if (rc)
        return rc;
    dprintf(out, "%d\n", cio_server_port(srv));
    close(out);
    return cio_server_serve(srv);
}

/* ---- the libuv server ---------------------------------------------------- */

struct uv_conn {
    uv_tcp_t h;
    char buf[65536];
};

struct uv_wr {
    uv_write_t req;
    char data[];
};

static void uv_closed(uv_handle_t *h)
{
    free(h);
}

static void uv_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    struct uv_conn *c = (struct uv_conn *)h;
    *b = uv_buf_init(c->buf, sizeof c->buf);
}

static void uv_written(uv_write_t *req, int status)
{
    (void)status;
    free(req);
}

static void uv_got(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n < 0) {
        uv_close((uv_handle_t *)s, uv_closed);
        return;
    }
    if (n == 0)
        return;
    /* The fast path of a libuv echo: write at once; queue only the rest. */
    uv_buf_t w = uv_buf_init(b->base, (unsigned)n);
    int r = uv_try_write(s, &w, 1);
    if (r == n)
        return;
    if (r < 0 && r != UV_EAGAIN) {
        uv_close((uv_handle_t *)s, uv_closed);
        return;
    }
    size_t done = r > 0 ? (size_t)r : 0, rest = (size_t)n - done;
    struct uv_wr *q = malloc(sizeof *q + rest);
    memcpy(q->data, b->base + done, rest);
    uv_buf_t qb = uv_buf_init(q->data, (unsigned)rest);
    uv_write(&q->req, s, &qb, 1, uv_written);
}

static void uv_conn_cb(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct uv_conn *c = malloc(sizeof *c);
    uv_tcp_init(server->loop, &c->h);
    if (uv_accept(server, (uv_stream_t *)&c->h) == 0) {
        uv_tcp_nodelay(&c->h, 1);
        uv_read_start((uv_stream_t *)&c->h, uv_alloc, uv_got);
    } else {
        uv_close((uv_handle_t *)&c->h, uv_closed);
    }
}

static int uv_server_main(int out)
{
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    uv_tcp_init(loop, &server);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    if (uv_tcp_bind(&server, (struct sockaddr *)&a, 0) ||
        uv_listen((uv_stream_t *)&server, 1024, uv_conn_cb))
        return 1;
    int len = sizeof a;
    uv_tcp_getsockname(&server, (struct sockaddr *)&a, &len);
    dprintf(out, "%d\n", ntohs(a.sin_port));
    close(out);
    return uv_run(loop, UV_RUN_DEFAULT);
}

/* ---- starting and stopping servers -------------------------------------- */

static const char *impls[] = {
    "cio", "libuv", "asyncio-streams", "uvloop-streams", "uvloop-protocol", "cio-io_uring"};
enum { CIO_EPOLL, LIBUV, CIO_URING = 5 }; /* indices in impls */
#define NIMPLS (sizeof impls / sizeof *impls)

struct server {
    pid_t pid;
    int port;
    int pipe; /* kept open until the server stops: a late write must not fail it */
};

/* Servers still running, killed if this program exits early (a lost
 * connection ends it with exit(1)): no benchmark leaves processes behind. */
static pid_t running[NIMPLS];

static void kill_running(void)
{
    for (size_t i = 0; i < NIMPLS; i++)
        if (running[i] > 0)
            kill(running[i], SIGKILL);
}

static void stop_server(struct server *sv)
{
    for (size_t i = 0; i < NIMPLS; i++)
        if (running[i] == sv->pid)
            running[i] = 0;
    kill(sv->pid, SIGKILL);
    waitpid(sv->pid, NULL, 0);
    close(sv->pipe);
}

static int start_server(const char *impl, struct server *sv)
{
    int p[2];
    if (pipe(p) < 0)
        return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* And if this program is killed, the server goes with it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        close(p[0]);
        if (strncmp(impl, "cio", 3) == 0) {
            cio_run_options o = {.backend = strcmp(impl, "cio") == 0 ? CIO_BACKEND_EPOLL
                                                                     : CIO_BACKEND_IO_URING};
            _exit(cio_run_with(&o, cio_server_main, &p[1]) ? 1 : 0);
        }
        if (strcmp(impl, "libuv") == 0)
            _exit(uv_server_main(p[1]));
        dup2(p[1], 1);
        const char *loop = strncmp(impl, "uvloop", 6) == 0 ? "uvloop" : "asyncio";
        const char *mode = strstr(impl, "protocol") ? "protocol" : "streams";
        execl("/usr/bin/python3", "/usr/bin/python3", CIO_BENCH_NET_DIR "/echo_server.py", "--loop",
              loop, "--mode", mode, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    for (size_t i = 0; i < NIMPLS; i++)
        if (running[i] <= 0) {
            running[i] = pid;
            break;
        }
    char line[32] = {0};
    size_t got = 0;
    while (got < sizeof line - 1 && !memchr(line, '\n', got)) {
        ssize_t n = read(p[0], line + got, sizeof line - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    sv->pid = pid;
    sv->pipe = p[0];
    sv->port = memchr(line, '\n', got) ? atoi(line) : 0;
    if (sv->port <= 0) {
        stop_server(sv);
        return -1;
    }
    return 0;
}

/* The process's CPU time in ns, from the scheduler's own accounting. */
static int64_t proc_cpu_ns(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/schedstat", (int)pid);
    FILE *f = fopen(path, "r");
    long long ns = -1;
    if (f) {
        if (fscanf(f, "%lld", &ns) != 1)
            ns = -1;
        fclose(f);
    }
    return ns;
}

/* ---- the load generator -------------------------------------------------- */

struct load_conn {
    int fd;
    size_t got;
};

/* Runs the load for `secs` after a short warm-up; returns round trips per
 * second and the server's CPU ns per round trip in *cpu. */
static double run_load(const struct server *sv, int nconn, size_t size, double secs, double *cpu)
{
    struct load_conn *c = calloc((size_t)nconn, sizeof *c);
    char *msg = malloc(size), *buf = malloc(65536);
    memset(msg, 'x', size);
    int ep = epoll_create1(0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)sv->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < nconn; i++) {
        c[i].fd = socket(AF_INET, SOCK_STREAM, 0);
        BENCH_CHECK(connect(c[i].fd, (struct sockaddr *)&a, sizeof a));
        int one = 1;
        setsockopt(c[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
        BENCH_CHECK(send(c[i].fd, msg, size, 0));
    }
    int64_t warm_end = bench_now_ns() + 200000000, start = 0, end = 0, cpu0 = 0;
    long long trips = 0;
    struct epoll_event evs[128];
    for (;;) {
        int64_t now = bench_now_ns();
        if (!start && now >= warm_end) {
            start = now;
            end = start + (int64_t)(secs * 1e9);
            cpu0 = proc_cpu_ns(sv->pid);
            trips = 0;
        }
        if (start && now >= end)
            break;
        int n = epoll_wait(ep, evs, 128, 100);
        for (int k = 0; k < n; k++) {
            struct load_conn *x = &c[evs[k].data.u32];
            ssize_t r = recv(x->fd, buf, 65536, 0);
            if (r <= 0) {
                fprintf(stderr, "echo: connection lost (%s)\n", r ? strerror(errno) : "EOF");
                exit(1);
            }
            x->got += (size_t)r;
            if (x->got >= size) {
                x->got -= size;
                trips++;
                BENCH_CHECK(send(x->fd, msg, size, 0));
            }
        }
    }
    int64_t wall = bench_now_ns() - start;
    *cpu = (double)(proc_cpu_ns(sv->pid) - cpu0) / (double)(trips ? trips : 1);
    for (int i = 0; i < nconn; i++)
        close(c[i].fd);
    close(ep);
    free(c);
    free(msg);
    free(buf);
    return (double)trips / ((double)wall / 1e9);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    atexit(kill_running);
    bool quick = bench_quick(argc, argv);
    int runs = quick ? 1 : 3;
    double secs = 1;
    const char *only = NULL;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0)
            secs = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--only") == 0)
            only = argv[i + 1];
    }
    if (runs < 1 || runs > 15 || !(secs > 0))
        return fprintf(stderr, "usage: %s [--quick] [--seconds S] [--runs R] [--only IMPL]\n",
                       argv[0]),
               2;
    static const struct {
        size_t size;
        int conns;
        const char *name;
    } cells[] = {
        {64, 1, "64B.c1"}, {64, 100, "64B.c100"}, {4096, 1, "4KiB.c1"}, {4096, 100, "4KiB.c100"}};
    /* Every server runs for the whole program, and each run measures them
     * one after the other: drift in the machine's load (it is shared) then
     * hits every implementation alike instead of whichever ran last. */
    struct server sv[NIMPLS];
    bool up[NIMPLS] = {false};
    for (size_t k = 0; k < NIMPLS; k++) {
        if (only && strcmp(only, impls[k]) != 0)
            continue;
        up[k] = start_server(impls[k], &sv[k]) == 0;
        if (!up[k])
            fprintf(stderr, "echo: could not start the %s server: skipped\n", impls[k]);
    }
    double table[4][NIMPLS] = {{0}};
    for (size_t c = 0; c < 4; c++) {
        double ops[NIMPLS][15], cpu[NIMPLS][15];
        for (int r = 0; r < runs; r++)
            for (size_t k = 0; k < NIMPLS; k++)
                if (up[k])
                    ops[k][r] = run_load(&sv[k], cells[c].conns, cells[c].size, secs, &cpu[k][r]);
        for (size_t k = 0; k < NIMPLS; k++) {
            if (!up[k])
                continue;
            char w[64];
            snprintf(w, sizeof w, "net.echo.%s", cells[c].name);
            table[c][k] = bench_median(ops[k], runs);
            bench_emit(w, impls[k], table[c][k], "ops/s", "higher");
            snprintf(w, sizeof w, "net.echo.%s.server_cpu", cells[c].name);
            bench_emit(w, impls[k], bench_median(cpu[k], runs) / 1000, "us", "lower");
        }
    }
    for (size_t k = 0; k < NIMPLS; k++)
        if (up[k])
            stop_server(&sv[k]);
    /* The ratios, for humans, on stderr. */
    fprintf(stderr, "%-10s", "round trips/s");
    for (size_t k = 0; k < NIMPLS; k++)
        fprintf(stderr, " %16s", impls[k]);
    fprintf(stderr, "  cio/libuv  cio-io_uring/libuv\n");
    for (size_t c = 0; c < 4; c++) {
        fprintf(stderr, "%-13s", cells[c].name);
        for (size_t k = 0; k < NIMPLS; k++)
            fprintf(stderr, " %16.0f", table[c][k]);
        double uv = table[c][LIBUV];
        fprintf(stderr, "  %8.2fx  %17.2fx\n", uv > 0 ? table[c][CIO_EPOLL] / uv : 0,
                uv > 0 ? table[c][CIO_URING] / uv : 0);
    }
    return 0;
}
