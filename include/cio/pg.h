/* cio — PostgreSQL: asyncpg's connection, pool and queries for C, on libpq
 * driven by cio's loop (link with cio_pg, pkg-config cio-pg).
 *
 * Every function that talks to the server suspends the calling task on the
 * connection's socket (libpq's non-blocking API): no thread per connection,
 * no blocking call on the loop thread. They must be called from a task.
 *
 * Errors: 0 or a count on success, a negative code on failure: -EINVAL (bad
 * argument; a query's arguments are checked before anything is sent, and
 * where a connection is at hand its cio_pg_conn_error() message says why:
 * more arguments than the statement's highest placeholder $n (the server
 * would accept them and ignore the extra ones: asyncpg refuses them too),
 * more than 65535 arguments, a text or bytea value longer than INT32_MAX
 * bytes, an array of no known type or with an element of another type),
 * -ENOMEM, -ECANCELED, -ETIMEDOUT (the task was cancelled or an
 * enclosing CIO_TIMEOUT expired: the query is then cancelled on the server
 * too (a cancel request sent from a helper thread, at most 4 at once per
 * process, more wait their turn), and the connection stays usable if it
 * could be cleaned up within a few seconds, else it is dropped; a query
 * that had completed by then returns its result instead), CIO_ENOTTASK,
 * and the CIO_PG_E* codes of error.h. After a CIO_PG_ESERVER the server's
 * SQLSTATE, message, detail and hint are read with cio_pg_conn_error().
 *
 * Values: query parameters are cio_pg_arg values built by the cio_pg_int4(),
 * cio_pg_text()... constructors and passed as an array and a count (the
 * CIO_PG_ARGS() macro writes both). Results are read with typed getters that
 * accept the binary format (used whenever every column has a type cio can
 * decode) and the text format alike.
 *
 *     cio_pg_result *rows;
 *     rc = cio_pg_fetch(conn, "SELECT id, name FROM users WHERE active = $1",
 *                       CIO_PG_ARGS(cio_pg_bool(true)), &rows);
 *     for (int i = 0; i < rc; i++) ...cio_pg_get_int32(rows, i, 0, &id)...
 *     cio_pg_result_free(rows);
 *
 * Dates count days and timestamps microseconds from the Unix epoch (UTC for
 * timestamptz); PostgreSQL's infinity and -infinity map to the type's
 * maximum and minimum (INT32_MAX/INT32_MIN, INT64_MAX/INT64_MIN).
 */
#ifndef CIO_PG_H
#define CIO_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "scope.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes: CIO_PG_ESERVER... are in error.h (CIO_ERRNO_BASE - 400...). */

/* ---- objects ------------------------------------------------------------ */

typedef struct cio_pg_conn cio_pg_conn;     /* one server session */
typedef struct cio_pg_pool cio_pg_pool;     /* a pool of sessions */
typedef struct cio_pg_result cio_pg_result; /* rows of one query */
typedef struct cio_pg_stream cio_pg_stream; /* rows streamed from a query */
typedef struct cio_pg_copy cio_pg_copy;     /* a COPY FROM STDIN in progress */

/* The server's (or libpq's) account of the last failure on a connection.
 * Strings are never NULL ("" when absent) and stay valid until the next
 * operation on the connection. */
typedef struct cio_pg_error {
    char sqlstate[6];     /* "23505"; "" when the failure was not the server's */
    const char *severity; /* "ERROR", "FATAL"... */
    const char *message;  /* primary message */
    const char *detail;
    const char *hint;
    int row; /* executemany/copy: index of the failing row, or -1 */
} cio_pg_error;

/* ---- parameters ----------------------------------------------------------- */

/* PostgreSQL type OIDs of the types cio reads and writes natively. */
enum {
    CIO_PG_BOOLOID = 16,
    CIO_PG_BYTEAOID = 17,
    CIO_PG_INT8OID = 20,
    CIO_PG_INT2OID = 21,
    CIO_PG_INT4OID = 23,
    CIO_PG_TEXTOID = 25,
    CIO_PG_OIDOID = 26,
    CIO_PG_JSONOID = 114,
    CIO_PG_FLOAT4OID = 700,
    CIO_PG_FLOAT8OID = 701,
    CIO_PG_BPCHAROID = 1042,
    CIO_PG_VARCHAROID = 1043,
    CIO_PG_DATEOID = 1082,
    CIO_PG_TIMESTAMPOID = 1114,
    CIO_PG_TIMESTAMPTZOID = 1184,
    CIO_PG_NUMERICOID = 1700,
    CIO_PG_UUIDOID = 2950,
    CIO_PG_JSONBOID = 3802,
};

/* One query parameter. Build it with the constructors below; the fields are
 * private. Pointers it holds (text, bytes) are borrowed: they must stay valid
 * until the call that takes the argument returns. */
typedef struct cio_pg_arg {
    uint32_t oid_; /* type sent to the server; 0: the server infers it */
    int8_t kind_;  /* private encoding tag */
    int32_t len_;  /* byte length for text and bytea; -1: NUL-terminated */
    union {
        int64_t i;
        double d;
        const void *p;
    } v_;
} cio_pg_arg;

enum { /* private: cio_pg_arg.kind_ */
       CIO__PG_K_NULL,
       CIO__PG_K_BOOL,
       CIO__PG_K_INT2,
       CIO__PG_K_INT4,
       CIO__PG_K_INT8,
       CIO__PG_K_FLOAT4,
       CIO__PG_K_FLOAT8,
       CIO__PG_K_TEXT,
       CIO__PG_K_BYTEA,
       CIO__PG_K_UUID,
       CIO__PG_K_DATE,
       CIO__PG_K_TIMESTAMP,
       CIO__PG_K_TIMESTAMPTZ,
       /* arrays (oid_: the element type, len_: the count) of cio_pg_arg
        * values, then of plain C values */
       CIO__PG_K_ARRAY,
       CIO__PG_K_ARRAY_INT4,
       CIO__PG_K_ARRAY_INT8,
       CIO__PG_K_ARRAY_FLOAT8,
       CIO__PG_K_ARRAY_TEXT,
};
/* private: cio_pg_arg.len_ of a text or bytea value whose length does not
 * fit the protocol's int32 lengths: the call it is passed to refuses it. */
#define CIO__PG_LEN_TOO_LONG (-2)
static inline int32_t cio__pg_len(size_t len)
{
    return len <= INT32_MAX ? (int32_t)len : CIO__PG_LEN_TOO_LONG;
}

static inline cio_pg_arg cio__pg_arg(uint32_t oid, int kind, int32_t len)
{
    cio_pg_arg a;
    a.oid_ = oid;
    a.kind_ = (int8_t)kind;
    a.len_ = len;
    a.v_.i = 0;
    return a;
}
/* SQL NULL (of a type the server infers). */
static inline cio_pg_arg cio_pg_null(void)
{
    return cio__pg_arg(0, CIO__PG_K_NULL, 0);
}
/* Values of C types, sent in binary as parameters of type bool, int2,
 * int4, int8, float4 and float8. */
static inline cio_pg_arg cio_pg_bool(bool v)
{
    cio_pg_arg a = cio__pg_arg(CIO_PG_BOOLOID, CIO__PG_K_BOOL, 0);
    a.v_.i = v;
    return a;
}
static inline cio_pg_arg cio_pg_int2(int16_t v)
{
    cio_pg_arg a = cio__pg_arg(CIO_PG_INT2OID, CIO__PG_K_INT2, 0);
    a.v_.i = v;
    return a;
}
static inline cio_pg_arg cio_pg_int4(int32_t v)
{
    cio_pg_arg a = cio__pg_arg(CIO_PG_INT4OID, CIO__PG_K_INT4, 0);
    a.v_.i = v;
    return a;
}
static inline cio_pg_arg cio_pg_int8(int64_t v)
{
    cio_pg_arg a = cio__pg_arg(CIO_PG_INT8OID, CIO__PG_K_INT8, 0);
    a.v_.i = v;
    return a;
}
static inline cio_pg_arg cio_pg_float4(float v)
{
    cio_pg_arg a = cio__pg_arg(CIO_PG_FLOAT4OID, CIO__PG_K_FLOAT4, 0);
    a.v_.d = (double)v; /* exact; the cast tells -Wdouble-promotion so */
    return a;
}
static inline cio_pg_arg cio_pg_float8(double v)
{
    cio_pg_arg a = cio__pg_arg(CIO_PG_FLOAT8OID, CIO__PG_K_FLOAT8, 0);
    a.v_.d = v;
    return a;
}
/* A value in PostgreSQL's text form, NUL-terminated; its type is inferred
 * by the server from the query ("42" works for an int column, "2024-01-31"
 * for a date, "12.50" for a numeric). NULL s gives SQL NULL. */
static inline cio_pg_arg cio_pg_text(const char *s)
{
    cio_pg_arg a = cio__pg_arg(0, s ? CIO__PG_K_TEXT : CIO__PG_K_NULL, -1);
    a.v_.p = s;
    return a;
}
/* A value of type text of len bytes (need not be NUL-terminated; no NUL
 * inside). Unlike cio_pg_text(), its type is text, not inferred. A len
 * over INT32_MAX cannot be sent: the call given the value returns
 * -EINVAL. */
static inline cio_pg_arg cio_pg_textn(const char *s, size_t len)
{
    cio_pg_arg a =
        cio__pg_arg(CIO_PG_TEXTOID, s ? CIO__PG_K_TEXT : CIO__PG_K_NULL, cio__pg_len(len));
    a.v_.p = s;
    return a;
}
/* A text-form value sent as type oid (CIO_PG_JSONBOID, CIO_PG_NUMERICOID...). */
static inline cio_pg_arg cio_pg_typed(uint32_t oid, const char *s)
{
    cio_pg_arg a = cio_pg_text(s);
    a.oid_ = oid;
    return a;
}
/* cio_pg_typed() as json, jsonb and numeric: s is the value's text
 * (a JSON document, a decimal number); NULL s gives SQL NULL. */
static inline cio_pg_arg cio_pg_json(const char *s)
{
    return cio_pg_typed(CIO_PG_JSONOID, s);
}
static inline cio_pg_arg cio_pg_jsonb(const char *s)
{
    return cio_pg_typed(CIO_PG_JSONBOID, s);
}
static inline cio_pg_arg cio_pg_numeric(const char *s)
{
    return cio_pg_typed(CIO_PG_NUMERICOID, s);
}
/* len bytes of binary data (bytea). NULL p gives SQL NULL. A len over
 * INT32_MAX cannot be sent: the call given the value returns -EINVAL. */
static inline cio_pg_arg cio_pg_bytea(const void *p, size_t len)
{
    cio_pg_arg a =
        cio__pg_arg(CIO_PG_BYTEAOID, p ? CIO__PG_K_BYTEA : CIO__PG_K_NULL, cio__pg_len(len));
    a.v_.p = p;
    return a;
}
/* A uuid: 16 bytes in network order (borrowed). */
static inline cio_pg_arg cio_pg_uuid(const uint8_t *bytes16)
{
    cio_pg_arg a = cio__pg_arg(CIO_PG_UUIDOID, bytes16 ? CIO__PG_K_UUID : CIO__PG_K_NULL, 16);
    a.v_.p = bytes16;
    return a;
}
/* A date: days since 1970-01-01. */
static inline cio_pg_arg cio_pg_date(int32_t days)
{
    cio_pg_arg a = cio__pg_arg(CIO_PG_DATEOID, CIO__PG_K_DATE, 0);
    a.v_.i = days;
    return a;
}
/* A timestamp without time zone: microseconds since 1970-01-01 00:00. */
static inline cio_pg_arg cio_pg_timestamp(int64_t usec)
{
    cio_pg_arg a = cio__pg_arg(CIO_PG_TIMESTAMPOID, CIO__PG_K_TIMESTAMP, 0);
    a.v_.i = usec;
    return a;
}
/* A timestamptz: microseconds since 1970-01-01 00:00 UTC. */
static inline cio_pg_arg cio_pg_timestamptz(int64_t usec)
{
    cio_pg_arg a = cio__pg_arg(CIO_PG_TIMESTAMPTZOID, CIO__PG_K_TIMESTAMPTZ, 0);
    a.v_.i = usec;
    return a;
}

/* A one-dimensional array (asyncpg's list argument: `WHERE id = ANY($1)`)
 * of n values of element type elem_oid (CIO_PG_INT4OID, CIO_PG_TEXTOID,
 * CIO_PG_UUIDOID...), each made by that type's constructor (cio_pg_int4()
 * for CIO_PG_INT4OID, cio_pg_text() for the text types, cio_pg_null() for a
 * NULL element; borrowed like the other arguments). Sent as the array type
 * (int4[]...). A call given an element of another type, or an element type
 * with no array type here, fails with -EINVAL; so do numeric elements:
 * send those as text and cast (`$1::text[]::numeric[]`). Arrays may be
 * passed to queries, executemany and copy_records.
 *
 *     cio_pg_fetch(conn, "SELECT name FROM users WHERE id = ANY($1)",
 *                  CIO_PG_ARGS(cio_pg_array(CIO_PG_INT4OID,
 *                                           CIO_PG_ARGS(cio_pg_int4(1), cio_pg_int4(7)))),
 *                  &rows);
 */
static inline cio_pg_arg cio_pg_array(uint32_t elem_oid, const cio_pg_arg *elems, int n)
{
    cio_pg_arg a = cio__pg_arg(elem_oid, CIO__PG_K_ARRAY, n);
    a.v_.p = elems;
    return a;
}
/* Arrays from plain C arrays of n values (borrowed): int4[], int8[],
 * float8[], and text[] (a NULL string is a NULL element). A NULL v gives
 * SQL NULL; n must fit an int32. */
static inline cio_pg_arg cio__pg_c_array(uint32_t elem_oid, int kind, const void *v, size_t n)
{
    cio_pg_arg a =
        cio__pg_arg(v ? elem_oid : 0, v ? kind : CIO__PG_K_NULL, n <= INT32_MAX ? (int32_t)n : -1);
    a.v_.p = v;
    return a;
}
static inline cio_pg_arg cio_pg_int4_array(const int32_t *v, size_t n)
{
    return cio__pg_c_array(CIO_PG_INT4OID, CIO__PG_K_ARRAY_INT4, v, n);
}
static inline cio_pg_arg cio_pg_int8_array(const int64_t *v, size_t n)
{
    return cio__pg_c_array(CIO_PG_INT8OID, CIO__PG_K_ARRAY_INT8, v, n);
}
static inline cio_pg_arg cio_pg_float8_array(const double *v, size_t n)
{
    return cio__pg_c_array(CIO_PG_FLOAT8OID, CIO__PG_K_ARRAY_FLOAT8, v, n);
}
static inline cio_pg_arg cio_pg_text_array(const char *const *v, size_t n)
{
    return cio__pg_c_array(CIO_PG_TEXTOID, CIO__PG_K_ARRAY_TEXT, v, n);
}

/* Expands to `array, count` for the (args, nargs) parameters:
 * cio_pg_fetch(conn, sql, CIO_PG_ARGS(cio_pg_int4(1), cio_pg_text("x")), &r).
 * The array is a compound literal living until the end of the enclosing
 * block. With no parameters, pass CIO_PG_NOARGS. */
#define CIO_PG_ARGS(...)                                                                           \
    ((const cio_pg_arg[]){__VA_ARGS__}),                                                           \
        (int)(sizeof((const cio_pg_arg[]){__VA_ARGS__}) / sizeof(cio_pg_arg))
#define CIO_PG_NOARGS NULL, 0

/* ---- connections ------------------------------------------------------------ */

typedef struct cio_pg_options {
    /* Seconds allowed for connecting (host name lookup, TCP, TLS,
     * authentication); negative means no limit. 0 means 60 s, and then a
     * connect_timeout libpq would apply (from the connection string, a
     * service file or PGCONNECT_TIMEOUT; whole seconds, at least 2 as
     * libpq reads it) bounds the attempt too, from after the lookup: libpq
     * itself applies it only in its blocking connect. A value set here
     * wins over the string's. NaN: -EINVAL. */
    double connect_timeout;
    /* Turns the automatic prepared-statement cache off: every query is sent
     * as an unnamed statement (one round trip, text results). Needed behind
     * PgBouncer in transaction pooling mode (asyncpg's
     * statement_cache_size=0). */
    bool no_statement_cache;
    /* Prepared statements kept per connection (least recently used are
     * deallocated); 0 means 100, as asyncpg; negative: -EINVAL. */
    int statement_cache_size;
    /* asyncpg's command_timeout: when positive, every operation on the
     * connection (a query, a fetch, a batch, one stream step, a
     * notification wait) that takes longer than this many seconds fails
     * with -ETIMEDOUT and is cancelled on the server, as if wrapped in a
     * CIO_TIMEOUT scope. 0: no limit. NaN: -EINVAL. */
    double command_timeout;
} cio_pg_options;

/* Opens a connection to dsn (a libpq connection string or URI:
 * "host=127.0.0.1 port=5432 user=app dbname=app", "postgresql://...") without
 * blocking the loop (PQconnectStart/PQconnectPoll on cio's loop; host names,
 * a list of them included, are looked up on the executor, every address
 * tried, those of a service file and PGHOST included). opts may be NULL for
 * the defaults.
 * Like libpq's PQconnectdb, *out receives a connection even when the attempt
 * fails (except with -EINVAL and -ENOMEM, where it is NULL), so that
 * cio_pg_conn_error() can say why; the caller owns it and must pass it to
 * cio_pg_close() in every case.
 * Errors: CIO_PG_ECONN (refused, authentication failed, ...: see
 * cio_pg_conn_error()), -ETIMEDOUT, -ECANCELED, -EINVAL (dsn or out NULL,
 * an option NaN or out of range), -ENOMEM, CIO_ENOTTASK. */
int cio_pg_connect(const char *dsn, const cio_pg_options *opts, cio_pg_conn **out);

/* Closes a connection from cio_pg_connect() and frees it (a pooled
 * connection must be released to its pool instead: -EINVAL). Never
 * suspends: the session ends when the socket closes. NULL is ignored.
 * CIO_PG_EBUSY (nothing done) while another task runs an operation on it
 * or a stream or COPY owns it: end those first. */
int cio_pg_close(cio_pg_conn *conn);

/* The last failure on conn (see cio_pg_error). Never NULL for a non-NULL
 * conn; owned by conn. */
const cio_pg_error *cio_pg_conn_error(const cio_pg_conn *conn);

/* Whether conn is usable: false once the connection was lost or broken by
 * a failed cleanup. */
bool cio_pg_conn_ok(const cio_pg_conn *conn);

/* Whether conn is inside a transaction block (idle in transaction, or in a
 * failed transaction). */
bool cio_pg_in_transaction(const cio_pg_conn *conn);

/* The server process id of the session (pg_backend_pid()), 0 if not
 * connected. */
int cio_pg_backend_pid(const cio_pg_conn *conn);

/* The server's version as an integer (150004 for 15.4), 0 if not
 * connected. */
int cio_pg_server_version(const cio_pg_conn *conn);

/* ---- queries ------------------------------------------------------------------ */

/* Runs a command and returns the number of rows it affected (INSERT,
 * UPDATE, DELETE, SELECT, COPY...; 0 for other commands), as asyncpg's
 * execute() (which returns the status string). With no parameters the
 * simple query protocol is used and sql may hold several statements
 * separated by ';' (the count is the last one's); with parameters sql is
 * one statement, prepared and cached. Errors: see the top of this file;
 * CIO_PG_ECONN also when libpq drops the connection on a reply it cannot
 * take (libpq 15 does on the description of a statement of about 7,500
 * parameters or more: "lost synchronization with server"). */
int cio_pg_execute(cio_pg_conn *conn, const char *sql, const cio_pg_arg *args, int nargs);

/* Runs a query and stores every row in *out (the caller owns it: free with
 * cio_pg_result_free()). Returns the number of rows. *out is NULL on
 * failure. */
int cio_pg_fetch(cio_pg_conn *conn, const char *sql, const cio_pg_arg *args, int nargs,
                 cio_pg_result **out);

/* As cio_pg_fetch(), for the first row only: returns 1 and stores a result
 * whose row 0 is that row and only row (cio_pg_nrows() says 1), or returns
 * 0 and stores NULL when the query
 * returned no row (asyncpg's fetchrow returning None). As in asyncpg, the
 * server still sends every row the query yields: add LIMIT 1 to a query
 * that may return many. */
int cio_pg_fetchrow(cio_pg_conn *conn, const char *sql, const cio_pg_arg *args, int nargs,
                    cio_pg_result **out);

/* asyncpg's fetchval: the first column of the first row, typed. Return 0,
 * CIO_PG_ENOROWS (no row), CIO_PG_ENULL (the value is NULL), CIO_PG_ETYPE,
 * or the errors of cio_pg_fetch(). */
int cio_pg_fetchval_int64(cio_pg_conn *conn, const char *sql, const cio_pg_arg *args, int nargs,
                          int64_t *out);
int cio_pg_fetchval_double(cio_pg_conn *conn, const char *sql, const cio_pg_arg *args, int nargs,
                           double *out);
int cio_pg_fetchval_bool(cio_pg_conn *conn, const char *sql, const cio_pg_arg *args, int nargs,
                         bool *out);
/* The value as text, in *out (malloc'd, the caller frees it). */
int cio_pg_fetchval_text(cio_pg_conn *conn, const char *sql, const cio_pg_arg *args, int nargs,
                         char **out);

/* Runs one statement once per row of parameters, all rows in one pipeline
 * (libpq pipeline mode): one round trip for the batch, not one per row. A
 * plain `INSERT INTO t [(cols)] VALUES ($1, ..., $n)` (nothing after the
 * tuple), which the server runs several times faster with many rows per
 * statement, is rewritten: when every parameter's type (as the server
 * infers it for that INSERT) is a built-in one its values can be sent to
 * in binary, as `INSERT INTO t [(cols)] SELECT unnest($1), ...` with one
 * array per column and about 32 KiB of values per statement (both forms
 * are prepared and cached: the row statement tells the types); otherwise
 * as multi-row INSERTs of up to 500 rows each (JDBC's
 * reWriteBatchedInserts). Either stores what one INSERT per row would.
 * args holds nrows * nargs values, row after row. As asyncpg's executemany,
 * the batch is atomic: outside a transaction it runs as one implicit
 * transaction, and a failing row (its index in cio_pg_conn_error()->row)
 * undoes the rows before it. Inside a transaction of the caller's, a
 * failing rewritten INSERT (many rows per statement) cannot be replayed
 * row by row to name its row (the transaction is aborted): row is -1 then.
 * Each column's values must be of one type (NULLs aside): -EINVAL, the
 * row named. args may be NULL when nargs is 0 (CIO_PG_NOARGS). Returns the total of affected rows.
 * An interrupted batch (-ETIMEDOUT, -ECANCELED) is cancelled and rolled back as a whole; if the
 * server had already committed it when the interruption came, its count is returned instead: the
 * result always says what the database holds. */
int cio_pg_executemany(cio_pg_conn *conn, const char *sql, const cio_pg_arg *args, int nargs,
                       int nrows);

/* ---- results ------------------------------------------------------------------- */

/* A result owns its rows: every pointer a getter returns into it (text,
 * bytea, JSON) stays valid until the result is freed, and no longer. */

/* Frees a result from cio_pg_fetch()/fetchrow() (not one lent by a
 * stream). NULL is ignored. */
void cio_pg_result_free(cio_pg_result *res);
/* Number of rows and of columns; 0 for NULL. */
int cio_pg_nrows(const cio_pg_result *res);
int cio_pg_ncols(const cio_pg_result *res);
/* Column name ("" if col is out of range); owned by res. */
const char *cio_pg_colname(const cio_pg_result *res, int col);
/* Index of the column named name, or -1. */
int cio_pg_colindex(const cio_pg_result *res, const char *name);
/* Type OID of a column (0 if out of range). */
uint32_t cio_pg_coltype(const cio_pg_result *res, int col);
/* Whether the value is SQL NULL (true also when out of range). */
bool cio_pg_is_null(const cio_pg_result *res, int row, int col);

/* Typed getters. Each returns 0 and stores the value, or: -EINVAL (res
 * NULL, row or col out of range, out NULL), CIO_PG_ENULL (NULL value),
 * CIO_PG_ETYPE (the column's type is not one the getter reads, or the value
 * does not fit), CIO_PG_EPROTO (malformed value). Integers read int2, int4
 * and int8 (and oid) columns, and numeric ones holding a whole number
 * (sum() of a bigint column is numeric), narrowing only when the value
 * fits; doubles read float4, float8, the integer types and numeric (the
 * nearest double: avg() is numeric). */
int cio_pg_get_bool(const cio_pg_result *res, int row, int col, bool *out);
int cio_pg_get_int16(const cio_pg_result *res, int row, int col, int16_t *out);
int cio_pg_get_int32(const cio_pg_result *res, int row, int col, int32_t *out);
int cio_pg_get_int64(const cio_pg_result *res, int row, int col, int64_t *out);
int cio_pg_get_float(const cio_pg_result *res, int row, int col, float *out);
int cio_pg_get_double(const cio_pg_result *res, int row, int col, double *out);
/* Any column as PostgreSQL's text form ("t", "42", "3.14", numeric digits,
 * JSON text, uuid "a0eebc99-...", ISO dates): *out points into res (valid
 * until cio_pg_result_free(), NUL-terminated), *len (may be NULL) gets its
 * length. bytea comes back hex-escaped ("\x0102"); use cio_pg_get_bytea(). */
int cio_pg_get_text(const cio_pg_result *res, int row, int col, const char **out, size_t *len);
/* bytea bytes, owned by res. */
int cio_pg_get_bytea(const cio_pg_result *res, int row, int col, const uint8_t **out, size_t *len);
/* uuid as 16 bytes. */
int cio_pg_get_uuid(const cio_pg_result *res, int row, int col, uint8_t out[16]);
/* date: days since 1970-01-01. */
int cio_pg_get_date(const cio_pg_result *res, int row, int col, int32_t *days);
/* timestamp or timestamptz: microseconds since 1970-01-01 00:00 (UTC for
 * timestamptz). */
int cio_pg_get_timestamp(const cio_pg_result *res, int row, int col, int64_t *usec);
/* numeric as its exact decimal text ("-12.3400", "NaN", "Infinity"), owned
 * by res; only for numeric columns. */
int cio_pg_get_numeric(const cio_pg_result *res, int row, int col, const char **out);
/* json or jsonb as JSON text, owned by res; only for json and jsonb. */
int cio_pg_get_json(const cio_pg_result *res, int row, int col, const char **out, size_t *len);
/* An array (int4[], text[], uuid[]... of the element types above) as a
 * result of its own, asyncpg's list: one row per element, one column of the
 * element type, read with the getters above (an SQL NULL element is a NULL
 * cell). A multi-dimensional array gives one row per element of its first
 * dimension, each an array one dimension down, read with this getter again.
 * Rows count from 0 whatever the array's lower bound. *out is the caller's,
 * freed with cio_pg_result_free() (independent of res); it is NULL on
 * failure. Errors: as the getters above; CIO_PG_ETYPE for a column that is
 * not an array of a known element type, CIO_PG_EPROTO for a malformed
 * value.
 *
 *     cio_pg_result *tags;
 *     if (cio_pg_get_array(rows, i, 2, &tags) == 0) {
 *         for (int k = 0; k < cio_pg_nrows(tags); k++)
 *             ...cio_pg_get_text(tags, k, 0, &tag, NULL)...
 *         cio_pg_result_free(tags);
 *     }
 */
int cio_pg_get_array(const cio_pg_result *res, int row, int col, cio_pg_result **out);

/* ---- the pool ------------------------------------------------------------------ */

typedef struct cio_pg_pool_options {
    /* Connections opened by cio_pg_pool_create() and kept open (asyncpg's
     * min_size; here the default is 0). When connections are dropped (the
     * server ended them: pg_terminate_backend, a restart; or they broke),
     * the pool's upkeep task reopens them in the background, one at a
     * time, without blocking any caller; while new connections fail it
     * retries after 0.1 s, then twice as long each time up to 10 s (±25 %
     * jitter); a successful acquire resets that delay. Idle connections
     * are watched, so one the server closes is dropped (and replaced) at
     * once, not when an acquire finds it. */
    int min_size;
    /* Most connections open at once; 0 means 10 (asyncpg's max_size). */
    int max_size;
    /* An idle connection unused for this many seconds is closed on time,
     * also in a pool nobody touches (the upkeep task's timer), oldest
     * first, but never below min_size: the min_size connections stay open
     * however long they idle, and are handed out. 0 means 300 s (asyncpg's
     * max_inactive_connection_lifetime, which closes idle connections even
     * below min_size and reopens them on the next acquire); negative
     * means never. */
    double max_idle;
    /* A connection older than this many seconds is replaced: closed when
     * released, and closed while idle (min_size included) by the pool's
     * upkeep task, which then reconnects up to min_size in the background;
     * 0 means never. */
    double max_lifetime;
    /* Options of each connection (connect timeout, statement cache). */
    cio_pg_options conn;
    /* Called on every new connection before it is used (asyncpg's init=):
     * SET search_path, LISTEN, prepare... It runs in the acquiring task, or
     * in the pool's upkeep task when that restores min_size. A negative
     * return closes the connection and fails the acquire (or create) with
     * that code (for the upkeep: a retry after the backoff delay). NULL:
     * none. */
    int (*init)(cio_pg_conn *conn, void *arg);
    void *init_arg;
} cio_pg_pool_options;

/* Makes a pool of connections to dsn and opens min_size of them (in
 * parallel). Options NaN or out of range (the connection options'
 * included) give -EINVAL. The caller owns *out and must close it with
 * cio_pg_pool_close(). Like cio_pg_connect(), *out receives a pool even
 * when opening those connections fails (or init fails on one), so that
 * cio_pg_pool_error() can say why: that pool is closed (acquires return
 * CIO_PG_ECLOSED), its error is never "", and cio_pg_pool_close() must
 * still be called on it (it frees it at once). *out is NULL only when no
 * connection was tried: -EINVAL, -ENOMEM, CIO_ENOTTASK, or a caller
 * already cancelled.
 *
 *     rc = cio_pg_pool_create(dsn, &opts, &pool);
 *     if (rc < 0) {
 *         fprintf(stderr, "%s: %s\n", cio_strerror(rc), cio_pg_pool_error(pool));
 *         cio_pg_pool_close(pool);
 *         return rc;
 *     }
 *
 * Errors: those of cio_pg_connect() and of init, -EINVAL (dsn NULL,
 * min_size > max_size, or negative sizes), -ENOMEM. */
int cio_pg_pool_create(const char *dsn, const cio_pg_pool_options *opts, cio_pg_pool **out);

/* Takes a connection from the pool: an idle one (checked: a connection the
 * server closed meanwhile is dropped), a new one if fewer than max_size are
 * open, or else waits (FIFO) for one to be released, for at most timeout
 * seconds (negative: no limit; enclosing timeout scopes apply too). The
 * caller owns *out until cio_pg_pool_release(). Errors: -ETIMEDOUT,
 * -ECANCELED, CIO_PG_ECLOSED, CIO_PG_ECONN (a new connection failed:
 * cio_pg_pool_error() says why), -EINVAL, CIO_ENOTTASK. */
int cio_pg_pool_acquire(cio_pg_pool *pool, double timeout, cio_pg_conn **out);

/* Gives a connection back to its pool. A connection left inside a
 * transaction is rolled back first (in a shield, so even a cancelled task
 * cleans up); a lost, broken or too old connection is closed and its slot
 * freed. Like asyncpg's reset on release, a stream or COPY left open on it
 * is ended first, in the same shield: the stream's query is cancelled (or
 * its cursor closed), the COPY is aborted (nothing it sent is loaded). The
 * cio_pg_stream or cio_pg_copy stays the caller's, cut from the connection:
 * cio_pg_stream_close() then only frees it (returning 0),
 * cio_pg_copy_end() frees it and returns CIO_PG_ESTATE (nothing was
 * copied), and any other use of it returns CIO_PG_ESTATE. The connection
 * must not be used afterwards. Returns 0, -EINVAL (conn NULL, not from a
 * pool, or not checked out: released twice, which then changes nothing;
 * a release that closed the connection freed it, so only a connection
 * still idle in its pool can be caught), or CIO_PG_EBUSY when another
 * task is in the middle of an operation on it (nothing is done: it stays
 * checked out). May suspend (the rollback); callable outside a task only
 * for connections that need no rollback. */
int cio_pg_pool_release(cio_pg_conn *conn);

/* Closes the pool: acquires waiting or made later fail with CIO_PG_ECLOSED,
 * idle connections are closed, the upkeep task is cancelled (a connect it
 * was making is abandoned), then the call waits until the upkeep task has
 * ended and every connection in use has been released (and closes them),
 * and frees the pool. A pool never closed leaves its upkeep task behind:
 * cio_run() reports it ("pg-pool-upkeep") when the main task returns. Returns
 * 0, or -EINVAL (already closing), CIO_ENOTTASK. NULL is ignored, and a
 * pool whose create failed is freed at once. If the caller is cancelled
 * while waiting, connections still in use are closed as they are
 * released, and the pool is freed by the last release. */
int cio_pg_pool_close(cio_pg_pool *pool);

/* asyncpg's Pool.execute/fetch/fetchrow/fetchval/executemany: acquire a
 * connection (waiting without limit; use a CIO_TIMEOUT scope to bound the
 * whole call), run the query, release. Same results and errors as the
 * connection functions, plus those of cio_pg_pool_acquire(). Why a query
 * failed (the connection's cio_pg_conn_error(), SQLSTATE included) is
 * copied to the pool before the connection goes back:
 * cio_pg_pool_query_error() reads it, as asyncpg's exception carries it.
 *
 *     rc = cio_pg_pool_execute(pool, "INSERT ...", args, 2);
 *     if (rc == CIO_PG_ESERVER &&
 *         !strcmp(cio_pg_pool_query_error(pool)->sqlstate, "23505"))
 *         ...                                     // a unique violation
 */
int cio_pg_pool_execute(cio_pg_pool *pool, const char *sql, const cio_pg_arg *args, int nargs);
int cio_pg_pool_fetch(cio_pg_pool *pool, const char *sql, const cio_pg_arg *args, int nargs,
                      cio_pg_result **out);
int cio_pg_pool_fetchrow(cio_pg_pool *pool, const char *sql, const cio_pg_arg *args, int nargs,
                         cio_pg_result **out);
int cio_pg_pool_fetchval_int64(cio_pg_pool *pool, const char *sql, const cio_pg_arg *args,
                               int nargs, int64_t *out);
int cio_pg_pool_executemany(cio_pg_pool *pool, const char *sql, const cio_pg_arg *args, int nargs,
                            int nrows);

/* Why the last new connection of the pool failed ("" if none did), and for
 * a pool that cio_pg_pool_create() could not open, why it failed; owned by
 * the pool. "" for NULL. */
const char *cio_pg_pool_error(const cio_pg_pool *pool);

/* What the last pool shortcut (cio_pg_pool_execute()...) that ran on this
 * pool met: the query's error as cio_pg_conn_error() had it, or an empty
 * account (sqlstate "", row -1) if it succeeded or never got a connection.
 * Shared by the pool's tasks: read it right after the call, before the task
 * suspends again (no other task runs in between). Owned by the pool, valid
 * until its next shortcut; never NULL (an empty account for NULL). */
const cio_pg_error *cio_pg_pool_query_error(const cio_pg_pool *pool);

/* Counts for monitoring: connections open (or being opened), idle, and
 * tasks waiting in acquire; 0 for NULL. */
int cio_pg_pool_size(const cio_pg_pool *pool);
int cio_pg_pool_idle(const cio_pg_pool *pool);
int cio_pg_pool_waiting(const cio_pg_pool *pool);

void cio__pg_release_cleanup(cio_pg_conn **conn);

/* `async with pool.acquire() as conn`: declares `cio_pg_conn *conn`,
 * acquires it (rc, an int lvalue, receives the result: 0 or an error of
 * cio_pg_pool_acquire(), conn NULL then) and releases it at the end of the
 * enclosing block on every path out of it, cancellation included:
 *
 *     int rc;
 *     {
 *         CIO_PG_ACQUIRE(conn, pool, 5.0, rc);
 *         if (rc < 0)
 *             return rc;
 *         rc = cio_pg_fetch(conn, ...);
 *     }   // released here
 */
#define CIO_PG_ACQUIRE(conn, pool, timeout, rc)                                                    \
    cio_pg_conn *conn __attribute__((cleanup(cio__pg_release_cleanup))) = NULL;                    \
    (rc) = cio_pg_pool_acquire((pool), (timeout), &conn)

#define CIO__PG_CAT2(a, b) a##b
#define CIO__PG_CAT(a, b) CIO__PG_CAT2(a, b)
#define CIO__PG_UNIQ(name) CIO__PG_CAT(name, __LINE__)

/* The block form, as the toolkit's CIO_WITH_* (sync.h): runs the block that
 * follows with `conn` acquired, and releases it on every way out of the
 * block (its end, break, continue, return, goto, cancellation). rc (an int
 * lvalue) receives the acquire's result; a failed acquire skips the block.
 *
 *     int rc;
 *     CIO_PG_WITH_CONN(rc, conn, pool, 5.0) {
 *         rc = cio_pg_fetch(conn, ...);
 *     }
 *     if (rc < 0) ...                 // the acquire's or the fetch's error
 */
#define CIO_PG_WITH_CONN(rc, conn, pool, timeout)                                                  \
    for (cio_pg_conn * conn __attribute__((cleanup(cio__pg_release_cleanup))) = NULL,              \
                            *CIO__PG_UNIQ(cio__pg_once_) =                                         \
                                ((rc) = cio_pg_pool_acquire((pool), (timeout), &conn), conn);      \
         CIO__PG_UNIQ(cio__pg_once_); CIO__PG_UNIQ(cio__pg_once_) = NULL)

/* ---- transactions -------------------------------------------------------------- */

/* A transaction or, inside one, a savepoint. Lives in the caller's storage;
 * the fields are private. */
typedef struct cio_pg_tx {
    cio_pg_conn *conn_;
    unsigned savepoint_; /* 0: a transaction; n: savepoint cio_sp_n */
    bool active_;
} cio_pg_tx;

/* Starts a transaction on conn (BEGIN, or `mode` such as "BEGIN ISOLATION
 * LEVEL SERIALIZABLE" when not NULL), or a savepoint when conn is already in
 * one (then mode must be NULL). mode is run as SQL, so it must be BEGIN
 * [WORK | TRANSACTION] or START TRANSACTION followed only by transaction
 * modes (ISOLATION LEVEL ..., READ WRITE, READ ONLY, [NOT] DEFERRABLE,
 * separated by spaces or commas) and at most a ';'. Errors: those of
 * cio_pg_execute(), -EINVAL (conn or tx NULL, another mode string, a mode
 * inside a transaction). */
int cio_pg_tx_begin(cio_pg_conn *conn, cio_pg_tx *tx, const char *mode);

/* Commits the transaction (or releases the savepoint). If the commit fails,
 * the transaction is rolled back. Errors: CIO_PG_ESTATE (tx not active),
 * those of cio_pg_execute(). */
int cio_pg_tx_commit(cio_pg_tx *tx);

/* Rolls back the transaction (or to the savepoint), inside a shield: it
 * runs even in a cancelled task. Errors: CIO_PG_ESTATE (not active), those
 * of cio_pg_execute() (the connection is then marked broken, so the pool
 * drops it). */
int cio_pg_tx_rollback(cio_pg_tx *tx);

void cio__pg_tx_cleanup(cio_pg_tx *tx);

/* `async with conn.transaction()`: declares `cio_pg_tx tx`, begins it (rc
 * receives the result) and, at the end of the enclosing block, rolls it back
 * unless cio_pg_tx_commit() was called: an error return, a cancellation or a
 * timeout undo the transaction.
 *
 *     CIO_PG_TRANSACTION(tx, conn, rc);
 *     if (rc < 0) return rc;
 *     if ((rc = cio_pg_execute(conn, ...)) < 0) return rc;   // rolled back
 *     return cio_pg_tx_commit(&tx);
 */
#define CIO_PG_TRANSACTION(tx, conn, rc)                                                           \
    cio_pg_tx tx __attribute__((cleanup(cio__pg_tx_cleanup))) = {0};                               \
    (rc) = cio_pg_tx_begin((conn), &tx, NULL)

int cio__pg_tx_loop(cio_pg_tx *tx, cio_pg_conn *conn, int *rc);

/* The block form, with asyncpg's exact semantics: the block runs inside a
 * transaction (a savepoint if one is open) that is COMMITTED when the block
 * ends normally (or by continue) and ROLLED BACK when it is left early
 * (break, return, goto) or the task is cancelled. rc receives the begin's
 * result (the block is skipped if it failed), then the commit's.
 *
 *     CIO_PG_WITH_TRANSACTION(rc, conn) {
 *         if ((rc = cio_pg_execute(conn, "UPDATE a ...", CIO_PG_NOARGS)) < 0)
 *             break;                  // rolled back, rc is the error
 *         if ((rc = cio_pg_execute(conn, "UPDATE b ...", CIO_PG_NOARGS)) < 0)
 *             break;
 *     }                               // committed: rc is 0 or the commit's error
 */
#define CIO_PG_WITH_TRANSACTION(rc, conn)                                                          \
    for (cio_pg_tx CIO__PG_UNIQ(cio__pg_tx_) __attribute__((cleanup(cio__pg_tx_cleanup))) = {0};   \
         cio__pg_tx_loop(&CIO__PG_UNIQ(cio__pg_tx_), (conn), &(rc));)

/* ---- streaming ------------------------------------------------------------------ */

/* Starts streaming the rows of a query (asyncpg's cursor iteration; the
 * guide's stream_large_query without LIMIT/OFFSET). With batch <= 1 rows come
 * one at a time as the server sends them (libpq single-row mode: no
 * transaction needed); with batch > 1 the query runs as a server-side cursor
 * fetched batch rows at a time (inside the current transaction, or a
 * transaction the stream opens and commits). Either way memory stays bounded
 * and a slow consumer slows the server down, not the other way round.
 * The connection belongs to the stream until cio_pg_stream_close()
 * (other operations get CIO_PG_EBUSY). *out is the stream on success and
 * NULL on failure. Errors: those of cio_pg_fetch(). */
int cio_pg_stream_open(cio_pg_conn *conn, const char *sql, const cio_pg_arg *args, int nargs,
                       int batch, cio_pg_stream **out);

/* Waits for the next rows: returns their count (> 0) and stores them in
 * *rows (owned by the stream, valid until the next call or close), 0 at the
 * end of the rows, or an error (the stream is finished then); CIO_PG_ESTATE
 * once its connection was released to the pool (see
 * cio_pg_pool_release()). */
int cio_pg_stream_next(cio_pg_stream *st, cio_pg_result **rows);

/* Row by row (asyncpg's `async for record in cursor`): returns 1 and names
 * the next row as (*rows, *row), fetching the next chunk when needed; 0 at
 * the end; an error as cio_pg_stream_next(). Do not mix with
 * cio_pg_stream_next() on one stream.
 *
 *     cio_pg_result *rows;
 *     int row;
 *     while ((rc = cio_pg_stream_row(st, &rows, &row)) > 0)
 *         cio_pg_get_int64(rows, row, 0, &id) ...
 */
int cio_pg_stream_row(cio_pg_stream *st, cio_pg_result **rows, int *row);

/* Ends the stream, cancelling the query on the server if rows remain, and
 * frees it (in a shield: it cleans up in a cancelled task too). Returns 0,
 * the error that left the connection unusable, or CIO_PG_EBUSY (nothing
 * done) while another task is inside cio_pg_stream_next(). NULL is
 * ignored. */
int cio_pg_stream_close(cio_pg_stream *st);

/* ---- COPY ------------------------------------------------------------------------ */

/* Bulk load (asyncpg's copy_records_to_table): COPY table (columns) FROM
 * STDIN with nrows rows of ncols values each (args, row after row, as for
 * executemany; NULL columns means all columns in table order; the table and
 * column names are quoted as identifiers, "schema.table" is not split).
 * Values go in COPY's binary format when every one of them can (the
 * columns' types are read first, with a zero-row SELECT cached like any
 * statement, as asyncpg does), else in its text format (array values then
 * go as array literals, their elements checked as in the binary format);
 * they are encoded and sent 64 KiB at a time while the server loads what
 * came before. Returns the rows copied. Arguments are checked before the
 * COPY starts: -EINVAL, cio_pg_conn_error() says why (and row names the
 * row when there are several). */
int cio_pg_copy_records(cio_pg_conn *conn, const char *table, const char *const *columns, int ncols,
                        const cio_pg_arg *args, int nrows);

/* Low-level COPY FROM STDIN: starts `sql` (a COPY ... FROM STDIN statement);
 * then send data with cio_pg_copy_write() (any chunking, in the format the
 * statement names) and finish with cio_pg_copy_end(). *out is owned by the
 * caller until copy_end. */
int cio_pg_copy_in(cio_pg_conn *conn, const char *sql, cio_pg_copy **out);
/* Sends len bytes of COPY data, suspending while the socket is full.
 * CIO_PG_ESTATE once the connection was released to the pool (which
 * aborted the COPY). */
int cio_pg_copy_write(cio_pg_copy *copy, const void *data, size_t len);
/* Ends the COPY (with error_message not NULL: aborts it, nothing is
 * loaded, and CIO_PG_ESERVER is returned) and frees copy. Returns the rows
 * copied; CIO_PG_ESTATE (copy freed, nothing loaded) when the connection
 * was released to the pool with the COPY open. */
int cio_pg_copy_end(cio_pg_copy *copy, const char *error_message);

/* COPY TO STDOUT: runs `sql` (COPY ... TO STDOUT, or COPY (query) TO
 * STDOUT) and calls sink(ctx, data, len) for each chunk the server sends
 * (a row in text and CSV formats). The sink runs in the calling task (it may
 * suspend); a negative return stops the export, cancels it on the server
 * and is returned. Returns the rows exported. */
int cio_pg_copy_out(cio_pg_conn *conn, const char *sql,
                    int (*sink)(void *ctx, const char *data, size_t len), void *ctx);

/* ---- LISTEN / NOTIFY ----------------------------------------------------------- */

/* A notification; one allocation, freed with free(). */
typedef struct cio_pg_notification {
    const char *channel;
    const char *payload;
    int sender_pid;
} cio_pg_notification;

/* LISTEN channel (quoted as an identifier, so any name is safe). A pooled
 * connection that listens is UNLISTENed when released. Returns 0, or the
 * errors of cio_pg_execute() and -EINVAL (conn or channel NULL). */
int cio_pg_listen(cio_pg_conn *conn, const char *channel);
/* UNLISTEN channel, or every channel when channel is NULL. Errors as
 * cio_pg_listen(). */
int cio_pg_unlisten(cio_pg_conn *conn, const char *channel);
/* NOTIFY channel with payload (NULL: empty), through pg_notify() so any
 * payload text is safe. Errors as cio_pg_listen(). */
int cio_pg_notify(cio_pg_conn *conn, const char *channel, const char *payload);

/* Waits up to timeout seconds (negative: no limit) for a notification on a
 * listening connection and stores it in *out (free() it). Notifications that
 * arrived during other queries are returned first. Errors: -ETIMEDOUT,
 * -ECANCELED, CIO_PG_ECONN, CIO_PG_EBUSY, -EINVAL, CIO_ENOTTASK. */
int cio_pg_wait_notification(cio_pg_conn *conn, double timeout, cio_pg_notification **out);

#ifdef __cplusplus
}
#endif
#endif
