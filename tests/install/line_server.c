/* A program as a user writes it against an installed cio, in strict C11:
 * a line server and 50 clients, 10 at a time, each within a timeout.
 * tests/install/install.sh builds it with pkg-config alone and runs it;
 * it prints "50 pings: all answered" or the first failure. */
#include <cio.h>
#include <cio/net.h>
#include <stdio.h>
#include <string.h>

#define CLIENTS 50

static int answer(cio_stream *s, void *arg)
{
    (void)arg;
    char line[64];
    ssize_t n;
    while ((n = cio_stream_readline(s, line, sizeof line)) > 0) {
        const char *reply = n == 5 && memcmp(line, "PING\n", 5) == 0 ? "PONG\n" : "WHAT\n";
        int rc = cio_stream_write(s, reply, 5);
        if (rc < 0 || (rc = cio_stream_drain(s)) < 0)
            return rc;
    }
    return (int)n;
}

static cio_semaphore limit = CIO_SEMAPHORE_INIT(10);
static int port;

static int ping(void *arg)
{
    (void)arg;
    int rc = CIO_ENOTTASK;
    CIO_WITH_SEMAPHORE_RC(rc, &limit)
    {
        CIO_TIMEOUT(t, 5.0);
        cio_stream *s;
        rc = cio_open_connection(&s, "127.0.0.1", port, NULL);
        if (rc < 0)
            break;
        char reply[16];
        if ((rc = cio_stream_write(s, "PING\n", 5)) == 0 && (rc = cio_stream_drain(s)) == 0) {
            ssize_t n = cio_stream_readline(s, reply, sizeof reply);
            rc = n < 0 ? (int)n : n == 5 && memcmp(reply, "PONG\n", 5) == 0 ? 0 : -EPROTO;
        }
        cio_stream_close(s);
    }
    return rc;
}

static int main_task(void *arg)
{
    (void)arg;
    cio_server *srv;
    int rc = cio_start_server(&srv, "127.0.0.1", 0, answer, NULL, NULL);
    if (rc < 0)
        return rc;
    port = cio_server_port(srv);
    {
        CIO_GROUP(g);
        for (int i = 0; i < CLIENTS; i++)
            cio_group_spawn(&g, ping, NULL);
        rc = cio_group_wait(&g);
    }
    /* Every client has closed: each handler sees the end of its stream
     * and returns well within the grace period. */
    int down = cio_server_shutdown(srv, 5.0);
    if (rc == 0 && down == 0)
        printf("%d pings: all answered\n", CLIENTS);
    else
        printf("a ping failed: %s; shutdown: %s\n", cio_strerror(rc), cio_strerror(down));
    return rc < 0 ? rc : down;
}

int main(void)
{
    return cio_run(main_task, NULL) != 0;
}
