/* cio — name resolution with c-ares, driven by cio's loop.
 *
 * cio_dns_resolve() is asyncio's loop.getaddrinfo(), without a thread:
 * c-ares sends the queries on non-blocking sockets that the loop watches,
 * so the calling task suspends and the loop goes on. /etc/hosts is read
 * first (unless told not to), then the servers of /etc/resolv.conf or the
 * ones given. Numeric addresses are returned without any query.
 *
 * Link with cio_net (pkg-config cio-net). No c-ares type is exposed.
 */
#ifndef CIO_DNS_H
#define CIO_DNS_H

#include <stdbool.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_dns_options {
    /* Limit in seconds for the whole resolution; 0 means 10 s. Enclosing
     * timeout scopes apply as well. */
    double timeout;
    /* DNS servers instead of /etc/resolv.conf's, as c-ares's CSV:
     * "127.0.0.1:5353,[::1]:53". NULL for the system's; "" (no server)
     * is -EINVAL. */
    const char *servers;
    /* Per-query attempts before giving up on a server; 0 means c-ares's
     * default. */
    int tries;
    /* Skip /etc/hosts: only ask the servers. */
    bool no_hosts_file;
} cio_dns_options;

/* One resolved address, in a singly-linked list (RFC 6724 order as c-ares
 * sorts it). */
typedef struct cio_addrinfo {
    struct cio_addrinfo *next;
    int family; /* AF_INET or AF_INET6 */
    socklen_t addrlen;
    struct sockaddr_storage addr; /* with the port filled in */
} cio_addrinfo;

/* Resolves host to its addresses with port set in each; family AF_INET,
 * AF_INET6 or 0 for both. On success returns the number of addresses
 * (>= 1) and stores the list, which the caller owns, in *out.
 * Errors: CIO_EDNS_NOTFOUND (no such name, or no address of that family),
 * CIO_EDNS (server failure, refused, bad answer, no server configured),
 * -ETIMEDOUT (opts->timeout or an enclosing scope), -ECANCELED,
 * -EINVAL (host or out NULL, bad port or family, bad or empty servers),
 * -ENOMEM, CIO_ENOTTASK. */
int cio_dns_resolve(const char *host, int port, int family, const cio_dns_options *opts,
                    cio_addrinfo **out);

/* Frees a list from cio_dns_resolve(). NULL is ignored. */
void cio_addrinfo_free(cio_addrinfo *list);

#ifdef __cplusplus
}
#endif
#endif
