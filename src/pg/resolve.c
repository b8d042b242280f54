/* Host names resolved off the loop thread. libpq's PQconnectStart resolves
 * a host name with a blocking getaddrinfo() on the calling thread; cio runs
 * that lookup on the executor instead and hands libpq the addresses as
 * hostaddr (host stays, for TLS verification and passwords), one entry per
 * address so that libpq still tries each in turn, as it would have. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cio/executor.h"
#include "pg/internal.h"

#define MAX_ADDRS 8

struct lookup {
    char *host;
    int n;
    char addrs[MAX_ADDRS][INET6_ADDRSTRLEN];
    char message[128];
};

static int lookup_fn(void *arg)
{
    struct lookup *l = arg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(l->host, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(l->message, sizeof l->message, "could not translate host name \"%.60s\": %s",
                 l->host, gai_strerror(rc));
        return CIO_PG_ECONN;
    }
    for (struct addrinfo *a = res; a && l->n < MAX_ADDRS; a = a->ai_next) {
        const void *src =
            a->ai_family == AF_INET
                ? (const void *)&((struct sockaddr_in *)(void *)a->ai_addr)->sin_addr
                : (const void *)&((struct sockaddr_in6 *)(void *)a->ai_addr)->sin6_addr;
        if ((a->ai_family == AF_INET || a->ai_family == AF_INET6) &&
            inet_ntop(a->ai_family, src, l->addrs[l->n], sizeof l->addrs[0]))
            l->n++;
    }
    freeaddrinfo(res);
    return l->n ? 0 : CIO_PG_ECONN;
}

static void lookup_free(void *arg, int result)
{
    (void)result;
    struct lookup *l = arg;
    free(l->host);
    free(l);
}

/* Whether libpq would look host up: a name, not an address, a socket
 * directory or a list. */
static bool needs_lookup(const char *host)
{
    unsigned char buf[16];
    if (!host || !*host || host[0] == '/' || host[0] == '@' || strchr(host, ','))
        return false;
    return inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1;
}

static char *joined(const char *item, int times, const char (*list)[INET6_ADDRSTRLEN])
{
    size_t n = 1;
    for (int i = 0; i < times; i++)
        n += strlen(list ? list[i] : item) + 1;
    char *out = malloc(n), *p = out;
    if (!out)
        return NULL;
    for (int i = 0; i < times; i++) {
        const char *s = list ? list[i] : item;
        size_t k = strlen(s);
        if (i)
            *p++ = ',';
        memcpy(p, s, k);
        p += k;
    }
    *p = 0;
    return out;
}

PGconn *cio__pg_start(const char *dsn, cio_pg_conn *c)
{
    PQconninfoOption *opts = PQconninfoParse(dsn, NULL);
    if (!opts)
        return PQconnectStart(dsn); /* let libpq say what is wrong */
    const char *host = NULL, *hostaddr = NULL;
    int count = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (o->val && strcmp(o->keyword, "host") == 0)
            host = o->val;
        if (o->val && *o->val && strcmp(o->keyword, "hostaddr") == 0)
            hostaddr = o->val;
        count++;
    }
    if (hostaddr || !needs_lookup(host)) {
        PQconninfoFree(opts);
        return PQconnectStart(dsn);
    }
    struct lookup *l = calloc(1, sizeof *l);
    if (!l || !(l->host = strdup(host))) {
        free(l);
        PQconninfoFree(opts);
        return NULL;
    }
    cio_job_options jo = {.release = lookup_free};
    int rc = cio_run_in_executor(&jo, lookup_fn, l);
    if (rc == -ECANCELED || rc == -ETIMEDOUT) { /* l belongs to lookup_free now */
        PQconninfoFree(opts);
        c->lookup_error = rc;
        return NULL;
    }
    if (rc < 0) {
        cio__pg_set_error(c, NULL, "FATAL", l->message[0] ? l->message : cio_strerror(rc), NULL,
                          NULL);
        lookup_free(l, rc);
        PQconninfoFree(opts);
        c->lookup_error = CIO_PG_ECONN;
        return NULL;
    }
    const char **keys = calloc((size_t)count + 2, sizeof *keys);
    const char **vals = calloc((size_t)count + 2, sizeof *vals);
    char *hosts = joined(host, l->n, NULL), *addrs = joined(NULL, l->n, l->addrs);
    PGconn *pg = NULL;
    if (keys && vals && hosts && addrs) {
        int k = 0;
        for (PQconninfoOption *o = opts; o->keyword; o++) {
            if (!o->val || strcmp(o->keyword, "hostaddr") == 0)
                continue;
            keys[k] = o->keyword;
            vals[k++] = strcmp(o->keyword, "host") == 0 ? hosts : o->val;
        }
        keys[k] = "hostaddr";
        vals[k++] = addrs;
        pg = PQconnectStartParams(keys, vals, 0);
    }
    free(keys);
    free(vals);
    free(hosts);
    free(addrs);
    lookup_free(l, 0);
    PQconninfoFree(opts);
    return pg;
}
