/* Unix stream sockets: the client side (servers are in server.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "net/internal.h"

static int open_unix(cio_stream **out, const char *path, const cio_connect_options *o,
                     const struct sockaddr_un *sun)
{
    int fd = cio__connect_addr((const struct sockaddr *)sun, sizeof *sun);
    if (fd < 0)
        return fd;
    cio_stream *s;
    int rc = cio__stream_new(&s, fd);
    if (rc)
        return rc;
    s->is_unix = true;
    snprintf(s->peer, sizeof s->peer, "%s", path);
    if (o->limit)
        s->limit = o->limit;
    if (o->tls) {
        rc = cio__tls_start(s, o->tls, o->server_hostname, false, o->tls_handshake_timeout);
        if (rc) {
            cio__stream_destroy(s);
            return rc;
        }
    }
    *out = s;
    return 0;
}

int cio_open_unix_connection(cio_stream **out, const char *path, const cio_connect_options *opts)
{
    if (!out || !path)
        return -EINVAL;
    *out = NULL;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof sun.sun_path)
        return -EINVAL;
    memcpy(sun.sun_path, path, n + 1);
    static const cio_connect_options none;
    const cio_connect_options *o = opts ? opts : &none;
    int rc = cio_check();
    if (rc)
        return rc;
    if (o->timeout > 0) {
        CIO_TIMEOUT(limit, o->timeout);
        rc = open_unix(out, path, o, &sun);
    } else {
        rc = open_unix(out, path, o, &sun);
    }
    return rc;
}
