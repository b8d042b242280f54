/* Helpers shared by the network tests: an echo handler and IPv6 probing. */
#ifndef CIO_TESTS_NET_HELPERS_H
#define CIO_TESTS_NET_HELPERS_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cio/net.h>
#include <cio/tls.h>
#include <cio/dns.h>

#include "helpers.h"

/* Echoes everything until end of stream; returns 0 or the error. */
static inline int echo_handler(cio_stream *s, void *arg)
{
    (void)arg;
    char buf[16384];
    for (;;) {
        ssize_t n = cio_stream_read(s, buf, sizeof buf);
        if (n <= 0)
            return (int)n;
        int rc = cio_stream_send(s, buf, (size_t)n);
        if (rc)
            return rc;
    }
}

/* Whether ::1 can be bound on this machine. */
static inline bool have_ipv6(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Whether /etc/hosts maps localhost to 127.0.0.1 (tests that resolve
 * "localhost" must never fall through to a real DNS server). */
static inline bool hosts_has_localhost(void)
{
    FILE *f = fopen("/etc/hosts", "r");
    bool has = false;
    char line[256];
    while (f && fgets(line, sizeof line, f))
        has |= strncmp(line, "127.0.0.1", 9) == 0 && strstr(line, "localhost");
    if (f)
        fclose(f);
    return has;
}

#define SKIP_WITHOUT_IPV6()                                                                        \
    do {                                                                                           \
        if (!have_ipv6()) {                                                                        \
            print_message("::1 is not configured on this machine: IPv6 case skipped\n");           \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

#endif
