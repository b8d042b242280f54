/* LISTEN/NOTIFY: a task waits on a listening connection's socket for
 * notifications (asyncpg's add_listener, as a pull API). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/internal.h"

char *cio__pg_quote_ident(const char *s)
{
    size_t n = strlen(s), k = 0;
    char *q = malloc(2 * n + 3);
    if (!q)
        return NULL;
    q[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            q[k++] = '"';
        q[k++] = s[i];
    }
    q[k++] = '"';
    q[k] = 0;
    return q;
}

static int listen_cmd(cio_pg_conn *c, const char *verb, const char *channel)
{
    char *q = channel ? cio__pg_quote_ident(channel) : strdup("*");
    if (!q)
        return -ENOMEM;
    size_t n = strlen(q) + 16;
    char *sql = malloc(n);
    if (!sql) {
        free(q);
        return -ENOMEM;
    }
    snprintf(sql, n, "%s %s", verb, q);
    free(q);
    int rc = cio_pg_execute(c, sql, CIO_PG_NOARGS);
    free(sql);
    if (rc >= 0 && verb[0] == 'L')
        c->listening = true;
    else if (rc >= 0 && !channel)
        c->listening = false;
    return rc < 0 ? rc : 0;
}

int cio_pg_listen(cio_pg_conn *c, const char *channel)
{
    if (!c || !channel)
        return -EINVAL;
    return listen_cmd(c, "LISTEN", channel);
}

int cio_pg_unlisten(cio_pg_conn *c, const char *channel)
{
    if (!c)
        return -EINVAL;
    return listen_cmd(c, "UNLISTEN", channel);
}

int cio_pg_notify(cio_pg_conn *c, const char *channel, const char *payload)
{
    if (!c || !channel)
        return -EINVAL;
    int rc = cio_pg_execute(c, "SELECT pg_notify($1, $2)",
                            CIO_PG_ARGS(cio_pg_text(channel), cio_pg_text(payload ? payload : "")));
    return rc < 0 ? rc : 0;
}

static cio_pg_notification *copy_notify(const PGnotify *n)
{
    size_t cl = strlen(n->relname) + 1, pl = strlen(n->extra) + 1;
    cio_pg_notification *out = malloc(sizeof *out + cl + pl);
    if (!out)
        return NULL;
    char *p = (char *)(out + 1);
    memcpy(p, n->relname, cl);
    memcpy(p + cl, n->extra, pl);
    out->channel = p;
    out->payload = p + cl;
    out->sender_pid = n->be_pid;
    return out;
}

static int take(cio_pg_conn *c, cio_pg_notification **out, bool *got)
{
    PGnotify *n = PQnotifies(c->pg);
    if (!n)
        return 0;
    *out = copy_notify(n);
    PQfreemem(n);
    *got = true;
    return *out ? 0 : -ENOMEM;
}

int cio_pg_wait_notification(cio_pg_conn *c, double timeout, cio_pg_notification **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (timeout != timeout)
        return -EINVAL;
    int rc = cio__pg_begin(c);
    if (rc)
        return rc;
    bool got = false;
    cio_scope limit = {0};
    cio_timeout_enter(&limit, timeout < 0 ? INFINITY : timeout);
    while ((rc = take(c, out, &got)) == 0 && !got) {
        rc = cio__pg_wait(c, CIO_READABLE);
        if (rc < 0)
            break;
        if (!PQconsumeInput(c->pg) || PQstatus(c->pg) != CONNECTION_OK) {
            rc = cio__pg_conn_lost(c);
            break;
        }
    }
    cio_scope_exit(&limit);
    cio__pg_end(c);
    return got ? 0 : rc;
}
