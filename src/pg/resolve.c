/* Host names resolved off the loop thread. libpq's PQconnectStart resolves
 * host names with a blocking getaddrinfo() on the calling thread; cio runs
 * those lookups on the executor instead and hands libpq the addresses as
 * hostaddr (host stays, for TLS verification and passwords), one entry per
 * address so that libpq still tries each in turn, as it would have.
 *
 * A list of hosts (host=a,b, with one port for all or one per host) is
 * expanded entry by entry: a name becomes one entry per address (none if it
 * cannot be resolved: libpq would have failed it and gone on to the next),
 * an address or a socket directory stays as it is, with an empty hostaddr.
 * Where the string has no host, the service's (service= or PGSERVICE, from
 * the service file libpq would read) or else PGHOST is the list. Lists
 * longer than MAX_HOSTS are left to libpq. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cio/executor.h"
#include "pg/internal.h"

#define MAX_HOSTS 16
#define MAX_ADDRS 8

struct lookup {
    char *hosts, *ports;         /* copies of the lists, split in place */
    int n, nports;               /* entries in each (nports 0: no port) */
    char *items[MAX_HOSTS];      /* the hosts */
    char *port_items[MAX_HOSTS]; /* the ports */
    char *names[MAX_HOSTS];      /* items[i] if it is a name, else NULL */
    int naddrs[MAX_HOSTS];       /* addresses found for names[i] */
    char addrs[MAX_HOSTS][MAX_ADDRS][INET6_ADDRSTRLEN];
    char message[128]; /* why the first name failed */
};

static void resolve_one(struct lookup *l, int i)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(l->names[i], NULL, &hints, &res);
    if (rc != 0) {
        if (!l->message[0])
            snprintf(l->message, sizeof l->message, "could not translate host name \"%.60s\": %s",
                     l->names[i], gai_strerror(rc));
        return;
    }
    for (struct addrinfo *a = res; a && l->naddrs[i] < MAX_ADDRS; a = a->ai_next) {
        const void *src =
            a->ai_family == AF_INET
                ? (const void *)&((struct sockaddr_in *)(void *)a->ai_addr)->sin_addr
                : (const void *)&((struct sockaddr_in6 *)(void *)a->ai_addr)->sin6_addr;
        if ((a->ai_family == AF_INET || a->ai_family == AF_INET6) &&
            inet_ntop(a->ai_family, src, l->addrs[i][l->naddrs[i]], sizeof l->addrs[i][0]))
            l->naddrs[i]++;
    }
    freeaddrinfo(res);
}

/* On an executor thread. */
static int lookup_fn(void *arg)
{
    struct lookup *l = arg;
    for (int i = 0; i < l->n; i++)
        if (l->names[i])
            resolve_one(l, i);
    return 0;
}

static void lookup_free(void *arg, int result)
{
    (void)result;
    struct lookup *l = arg;
    free(l->hosts);
    free(l->ports);
    free(l);
}

/* Whether libpq would look host up: a name, not an address or a socket
 * directory. */
static bool is_name(const char *host)
{
    unsigned char buf[16];
    if (!*host || host[0] == '/' || host[0] == '@')
        return false;
    return inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1;
}

/* Splits the copy *s of a comma-separated list in place into at most max
 * entries; returns how many, or -1 if there are more. */
static int split(char *s, char **out, int max)
{
    int n = 0;
    for (char *p = s;; p++) {
        if (n == max)
            return -1;
        out[n++] = p;
        p = strchr(p, ',');
        if (!p)
            return n;
        *p = 0;
    }
}

/* Appends item to a comma-separated list being written to f. */
static void add(FILE *f, bool *first, const char *item)
{
    fprintf(f, "%s%s", *first ? "" : ",", item);
    *first = false;
}

/* Writes the expanded host, hostaddr and (if it was a list) port lists
 * into malloc'd strings. Returns how many entries, 0 if every name failed,
 * -1 without memory. */
static int expand(const struct lookup *l, char **hosts, char **addrs, char **ports)
{
    size_t hn, an, pn;
    FILE *h = open_memstream(hosts, &hn), *a = open_memstream(addrs, &an);
    FILE *p = l->nports > 1 ? open_memstream(ports, &pn) : NULL;
    bool ok = h && a && (p || l->nports <= 1);
    bool fh = true, fa = true, fp = true;
    int entries = 0;
    for (int i = 0; ok && i < l->n; i++) {
        int times = l->names[i] ? l->naddrs[i] : 1;
        for (int k = 0; k < times; k++, entries++) {
            add(h, &fh, l->items[i]);
            add(a, &fa, l->names[i] ? l->addrs[i][k] : "");
            if (p)
                add(p, &fp, l->port_items[i]);
        }
    }
    if (h && fclose(h) != 0)
        ok = false;
    if (a && fclose(a) != 0)
        ok = false;
    if (p && fclose(p) != 0)
        ok = false;
    return ok ? entries : -1;
}

/* ---- service files ------------------------------------------------------ */

struct service {
    char *host, *hostaddr, *port; /* malloc'd; NULL where the service is silent */
};

static void service_free(struct service *sv)
{
    free(sv->host);
    free(sv->hostaddr);
    free(sv->port);
}

/* Reads service `name` from the file at path as libpq does (lines of
 * key=value under [name], '#' comments, surrounding blanks ignored).
 * Returns whether the file has the service. */
static bool service_read(const char *path, const char *name, struct service *sv)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    char line[1024];
    bool found = false, in = false;
    while (fgets(line, sizeof line, f)) {
        char *p = line, *end = line + strlen(line);
        while (end > p && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
            *--end = 0;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '#')
            continue;
        if (*p == '[') {
            if (in)
                break; /* the next service: ours is complete */
            char *close = strchr(p, ']');
            in = close && (size_t)(close - p - 1) == strlen(name) &&
                 strncmp(p + 1, name, strlen(name)) == 0;
            found |= in;
            continue;
        }
        char *eq = strchr(p, '=');
        if (!in || !eq)
            continue;
        *eq = 0;
        char **slot = strcmp(p, "host") == 0       ? &sv->host
                      : strcmp(p, "hostaddr") == 0 ? &sv->hostaddr
                      : strcmp(p, "port") == 0     ? &sv->port
                                                   : NULL;
        if (slot && !*slot)
            *slot = strdup(eq + 1);
    }
    fclose(f);
    return found;
}

/* The service's host, hostaddr and port, from the first file that defines
 * it: PGSERVICEFILE or ~/.pg_service.conf, then PGSYSCONFDIR's (or
 * libpq's own) pg_service.conf. */
static void service_lookup(const char *name, struct service *sv)
{
    char path[1024];
    const char *file = getenv("PGSERVICEFILE"), *home = getenv("HOME");
    if (file)
        snprintf(path, sizeof path, "%s", file);
    else if (home)
        snprintf(path, sizeof path, "%s/.pg_service.conf", home);
    if ((file || home) && service_read(path, name, sv))
        return;
    const char *dir = getenv("PGSYSCONFDIR");
#ifdef CIO_PG_SYSCONFDIR
    if (!dir)
        dir = CIO_PG_SYSCONFDIR;
#endif
    if (dir) {
        snprintf(path, sizeof path, "%s/pg_service.conf", dir);
        service_read(path, name, sv);
    }
}

PGconn *cio__pg_start(const char *dsn, cio_pg_conn *c)
{
    PQconninfoOption *opts = PQconninfoParse(dsn, NULL);
    if (!opts)
        return PQconnectStart(dsn); /* let libpq say what is wrong */
    const char *host = NULL, *hostaddr = NULL, *port = NULL, *service = NULL;
    int count = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (o->val && *o->val && strcmp(o->keyword, "host") == 0)
            host = o->val;
        if (o->val && *o->val && strcmp(o->keyword, "hostaddr") == 0)
            hostaddr = o->val;
        if (o->val && *o->val && strcmp(o->keyword, "port") == 0)
            port = o->val;
        if (o->val && *o->val && strcmp(o->keyword, "service") == 0)
            service = o->val;
        count++;
    }
    /* What libpq would fall back on: the service, then the environment. */
    struct service sv = {0};
    if (!service)
        service = getenv("PGSERVICE");
    if (service && (!host || !hostaddr || !port)) {
        service_lookup(service, &sv);
        if (!host)
            host = sv.host;
        if (!hostaddr)
            hostaddr = sv.hostaddr;
        if (!port)
            port = sv.port;
    }
    if (!host)
        host = getenv("PGHOST");
    if (!hostaddr)
        hostaddr = getenv("PGHOSTADDR");
    if (!port)
        port = getenv("PGPORT");

    struct lookup *l = NULL;
    int names = 0;
    if (host && *host && !(hostaddr && *hostaddr)) {
        l = calloc(1, sizeof *l);
        if (!l || !(l->hosts = strdup(host)) || (port && !(l->ports = strdup(port)))) {
            if (l)
                lookup_free(l, 0);
            PQconninfoFree(opts);
            service_free(&sv);
            return NULL;
        }
        l->n = split(l->hosts, l->items, MAX_HOSTS);
        l->nports = l->ports ? split(l->ports, l->port_items, MAX_HOSTS) : 0;
        /* Counts libpq refuses are left for libpq to refuse, before it
         * looks anything up. */
        if (l->n < 0 || l->nports < 0 || (l->nports > 1 && l->nports != l->n))
            l->n = 0;
        for (int i = 0; i < l->n; i++)
            if (is_name(l->items[i])) {
                l->names[i] = l->items[i];
                names++;
            }
    }
    if (!names) {
        if (l)
            lookup_free(l, 0);
        PQconninfoFree(opts);
        service_free(&sv);
        return PQconnectStart(dsn);
    }

    cio_job_options jo = {.release = lookup_free};
    int rc = cio_run_in_executor(&jo, lookup_fn, l);
    if (rc == -ECANCELED || rc == -ETIMEDOUT) { /* l belongs to lookup_free now */
        PQconninfoFree(opts);
        service_free(&sv);
        c->lookup_error = rc;
        return NULL;
    }
    if (rc < 0) {
        cio__pg_set_error(c, NULL, "FATAL", cio_strerror(rc), NULL, NULL);
        c->lookup_error = CIO_PG_ECONN;
        lookup_free(l, rc);
        PQconninfoFree(opts);
        service_free(&sv);
        return NULL;
    }
    char *hosts = NULL, *addrs = NULL, *ports = NULL;
    int entries = expand(l, &hosts, &addrs, &ports);
    PGconn *pg = NULL;
    if (entries == 0) {
        cio__pg_set_error(c, NULL, "FATAL", l->message, NULL, NULL);
        c->lookup_error = CIO_PG_ECONN;
    } else if (entries > 0) {
        const char **keys = calloc((size_t)count + 3, sizeof *keys);
        const char **vals = calloc((size_t)count + 3, sizeof *vals);
        if (keys && vals) {
            int k = 0;
            for (PQconninfoOption *o = opts; o->keyword; o++) {
                if (!o->val || strcmp(o->keyword, "hostaddr") == 0 ||
                    strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "port") == 0)
                    continue;
                keys[k] = o->keyword;
                vals[k++] = o->val;
            }
            keys[k] = "host";
            vals[k++] = hosts;
            keys[k] = "hostaddr";
            vals[k++] = addrs;
            if (port) {
                keys[k] = "port";
                vals[k++] = l->nports > 1 ? ports : port;
            }
            pg = PQconnectStartParams(keys, vals, 0);
        }
        free(keys);
        free(vals);
    }
    free(hosts);
    free(addrs);
    free(ports);
    lookup_free(l, 0);
    PQconninfoFree(opts);
    service_free(&sv);
    return pg;
}
