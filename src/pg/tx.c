/* Transactions and savepoints (asyncpg's conn.transaction()): begin,
 * commit, rollback, and the guard that rolls back on every early exit. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "pg/internal.h"

#define ROLLBACK_WAIT 5.0

/* Whether the words at *p (case aside, then a space, a comma or the end)
 * are `words`; moves *p past them. */
static bool word(const char **p, const char *words)
{
    const char *s = *p;
    while (*words) {
        if (tolower((unsigned char)*s) != *words)
            return false;
        s++;
        words++;
        if (*words == ' ') {
            if (!isspace((unsigned char)*s))
                return false;
            while (isspace((unsigned char)*s))
                s++;
            words++;
        }
    }
    if (*s && !isspace((unsigned char)*s) && *s != ',' && *s != ';')
        return false;
    while (isspace((unsigned char)*s))
        s++;
    *p = s;
    return true;
}

/* Whether mode is a statement that only starts a transaction: BEGIN [WORK
 * | TRANSACTION] or START TRANSACTION, then transaction modes (isolation
 * level, read only / write, [not] deferrable) separated by spaces or
 * commas, then at most a ';'. It is run as SQL: anything else could do
 * anything. */
static bool tx_mode_ok(const char *p)
{
    static const char *const modes[] = {
        "isolation level serializable",
        "isolation level repeatable read",
        "isolation level read committed",
        "isolation level read uncommitted",
        "read write",
        "read only",
        "not deferrable",
        "deferrable",
    };
    while (isspace((unsigned char)*p))
        p++;
    if (word(&p, "begin")) {
        if (!word(&p, "work"))
            word(&p, "transaction");
    } else if (!word(&p, "start transaction")) {
        return false;
    }
    for (bool first = true; *p && *p != ';'; first = false) {
        if (!first && *p == ',')
            for (p++; isspace((unsigned char)*p);)
                p++;
        size_t i = 0;
        while (i < sizeof modes / sizeof *modes && !word(&p, modes[i]))
            i++;
        if (i == sizeof modes / sizeof *modes)
            return false;
    }
    if (*p == ';')
        for (p++; isspace((unsigned char)*p);)
            p++;
    return !*p; /* nothing after the ';' */
}

int cio_pg_tx_begin(cio_pg_conn *c, cio_pg_tx *tx, const char *mode)
{
    if (!c || !tx)
        return -EINVAL;
    tx->conn_ = c;
    tx->active_ = false;
    tx->savepoint_ = 0;
    if (mode && !tx_mode_ok(mode))
        return cio__pg_invalid(c, -1,
                               "transaction mode \"%.64s\" is not BEGIN or START "
                               "TRANSACTION with transaction modes",
                               mode);
    int rc;
    if (cio_pg_in_transaction(c)) {
        if (mode)
            return -EINVAL;
        unsigned n = ++c->next_savepoint;
        char sql[48];
        snprintf(sql, sizeof sql, "SAVEPOINT cio_sp_%u", n);
        rc = cio_pg_execute(c, sql, CIO_PG_NOARGS);
        tx->savepoint_ = n;
    } else {
        rc = cio_pg_execute(c, mode ? mode : "BEGIN", CIO_PG_NOARGS);
    }
    if (rc < 0)
        return rc;
    tx->active_ = true;
    return 0;
}

static int rollback(cio_pg_tx *tx)
{
    cio_pg_conn *c = tx->conn_;
    tx->active_ = false;
    char sql[96];
    if (tx->savepoint_)
        snprintf(sql, sizeof sql, "ROLLBACK TO SAVEPOINT cio_sp_%u; RELEASE SAVEPOINT cio_sp_%u",
                 tx->savepoint_, tx->savepoint_);
    else
        snprintf(sql, sizeof sql, "ROLLBACK");
    if (!cio_pg_conn_ok(c))
        return CIO_PG_ECONN;
    cio_scope shield = {0}, limit = {0};
    cio_shield_enter(&shield);
    cio_timeout_enter(&limit, ROLLBACK_WAIT);
    int rc = cio_pg_execute(c, sql, CIO_PG_NOARGS);
    cio_scope_exit(&limit);
    cio_scope_exit(&shield);
    if (rc < 0 && rc != CIO_PG_EBUSY)
        c->broken = true; /* a session in an unknown state must not be reused */
    return rc < 0 ? rc : 0;
}

int cio_pg_tx_rollback(cio_pg_tx *tx)
{
    if (!tx || !tx->conn_)
        return -EINVAL;
    if (!tx->active_)
        return CIO_PG_ESTATE;
    return rollback(tx);
}

int cio_pg_tx_commit(cio_pg_tx *tx)
{
    if (!tx || !tx->conn_)
        return -EINVAL;
    if (!tx->active_)
        return CIO_PG_ESTATE;
    cio_pg_conn *c = tx->conn_;
    if (c->pg && PQtransactionStatus(c->pg) == PQTRANS_INERROR) {
        /* COMMIT of a failed transaction "succeeds" as a ROLLBACK: say so. */
        int rc = rollback(tx);
        if (rc < 0)
            return rc;
        cio__pg_set_error(c, "25P02", "ERROR",
                          "current transaction is aborted: rolled back instead of committed", NULL,
                          NULL);
        return CIO_PG_ESERVER;
    }
    char sql[48];
    if (tx->savepoint_)
        snprintf(sql, sizeof sql, "RELEASE SAVEPOINT cio_sp_%u", tx->savepoint_);
    else
        snprintf(sql, sizeof sql, "COMMIT");
    int rc = cio_pg_execute(c, sql, CIO_PG_NOARGS);
    if (rc >= 0) {
        tx->active_ = false;
        return 0;
    }
    if (rc == CIO_PG_EBUSY)
        return rc;
    /* Keep the failure's account: the rollback must not overwrite it. */
    cio_pg_error saved = c->err;
    char *buf = c->err_buf;
    c->err_buf = NULL;
    if (cio_pg_in_transaction(c) || rc == -ECANCELED || rc == -ETIMEDOUT)
        rollback(tx);
    tx->active_ = false;
    free(c->err_buf);
    c->err = saved;
    c->err_buf = buf;
    return rc;
}

int cio__pg_tx_loop(cio_pg_tx *tx, cio_pg_conn *conn, int *rc)
{
    if (!tx->conn_) {
        /* First pass: begin, and run the block if that worked. */
        *rc = cio_pg_tx_begin(conn, tx, NULL);
        return *rc == 0;
    }
    /* The block ended normally: commit. */
    if (tx->active_)
        *rc = cio_pg_tx_commit(tx);
    return 0;
}

void cio__pg_tx_cleanup(cio_pg_tx *tx)
{
    if (tx->active_ && tx->conn_)
        rollback(tx);
}
