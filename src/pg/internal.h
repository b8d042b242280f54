/* cio_pg's private state: the connection, its statement cache, and the
 * helpers every operation uses to drive libpq on cio's loop. */
#ifndef CIO_PG_INTERNAL_H
#define CIO_PG_INTERNAL_H

#include <libpq-fe.h>

#include "base/list.h"
#include "cio/pg.h"
#include "task/task.h"

/* One prepared statement of a connection. */
struct cio__pg_stmt {
    struct cio__pg_stmt *next; /* hash chain */
    uint64_t hash;
    uint64_t last_use; /* LRU stamp */
    char *sql;
    uint32_t *arg_oids;    /* the oids it was prepared with (the cache key) */
    uint32_t *param_types; /* the types the server gave the parameters */
    int nargs;
    int result_format; /* 1 when every column decodes from binary */
    int pins;          /* users holding it across other cache calls: not evicted */
    char name[24];
};

struct cio_pg_conn {
    PGconn *pg;
    int fd;
    void *ssl;                /* libpq's OpenSSL connection (SSL *), NULL without TLS */
    struct cio_pg_pool *pool; /* NULL for a standalone connection */
    struct cio__task *user;   /* the task running an operation, or NULL */
    bool broken;              /* unusable: dropped on release */
    bool streaming;           /* a stream or copy owns the connection */
    cio_pg_stream *stream;    /* that stream, or NULL */
    cio_pg_copy *copy;        /* or that COPY */
    bool unsynced;            /* a batch is being queued: its Sync is not sent */
    bool no_cache;
    bool listening;         /* LISTEN was used: released connections UNLISTEN */
    int lookup_error;       /* why cio__pg_start() failed without a PGconn */
    double command_timeout; /* seconds; 0: none */
    bool op_scoped;         /* op_scope is entered (an operation runs) */
    cio_scope op_scope;     /* command_timeout's deadline */
    unsigned next_savepoint;
    /* statement cache */
    struct cio__pg_stmt **buckets;
    int nbuckets, nstmts, cache_cap;
    uint64_t use_clock;
    unsigned next_stmt_id;
    /* last error */
    cio_pg_error err;
    char *err_buf;
    /* pool bookkeeping */
    bool checked_out;      /* acquired from its pool and not yet released */
    struct cio__list link; /* in the pool's idle list */
    bool watched;          /* idle: a reader callback watches the socket */
    int64_t created_ns, idle_since_ns;
};

/* Operation bracket: checks that the caller is a task, is not interrupted,
 * and that nobody else uses conn; claims it. Returns 0 or an error. */
int cio__pg_begin(cio_pg_conn *c);
void cio__pg_end(cio_pg_conn *c);

/* Argument checks (check.c). Records the reason as c's error (c may be
 * NULL; nothing is recorded while another task uses c), with row as
 * cio_pg_error.row, and returns -EINVAL. */
int cio__pg_invalid(cio_pg_conn *c, int row, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The highest placeholder ($n) sql uses outside strings, quoted
 * identifiers, comments and dollar quotes; -1 when the text ends inside
 * one of those (the count is then unknown). */
int cio__pg_sql_params(const char *sql, bool standard_strings);
/* Checks nrows rows of nargs arguments, and for a statement (sql not NULL)
 * their count: at most 65535, and no more than the placeholders sql uses.
 * 0, or -EINVAL with the reason recorded on c. */
int cio__pg_check_args(cio_pg_conn *c, const char *sql, const cio_pg_arg *args, int nargs,
                       int nrows);

/* Error bookkeeping. */
void cio__pg_clear_error(cio_pg_conn *c);
/* An error kept apart from its connection (the pool's account of its
 * shortcuts): reset to "nothing failed", or a copy of src, the strings in
 * *buf. */
void cio__pg_error_reset(cio_pg_error *e, char **buf);
void cio__pg_error_copy(cio_pg_error *dst, char **buf, const cio_pg_error *src);
/* pool.c: what the last pool shortcut saw go wrong (NULL: nothing). */
void cio__pg_pool_note(cio_pg_pool *p, const cio_pg_error *e);
void cio__pg_set_error(cio_pg_conn *c, const char *sqlstate, const char *severity,
                       const char *message, const char *detail, const char *hint);
/* Records the error of a failed PGresult (or of the connection when res is
 * NULL) and returns CIO_PG_ESERVER, or CIO_PG_ECONN when the connection is
 * gone. */
int cio__pg_result_error(cio_pg_conn *c, const PGresult *res);
/* Records libpq's connection-level message and returns CIO_PG_ECONN; marks
 * conn broken. */
int cio__pg_conn_lost(cio_pg_conn *c);

/* Waits for the socket like cio_wait_fd() (events: CIO_READABLE,
 * CIO_WRITABLE), except that input already read from the socket by TLS
 * counts as readable. Returns the events, or an error (-EBADF becomes
 * CIO_PG_ECONN). */
int cio__pg_wait(cio_pg_conn *c, int events);
/* Waits until libpq can make progress: flushes pending output and reads
 * available input. Returns 0 or an error (interruption: -ECANCELED or
 * -ETIMEDOUT, connection loss: CIO_PG_ECONN). */
int cio__pg_pump(cio_pg_conn *c);
/* Flushes everything queued for sending. */
int cio__pg_flush(cio_pg_conn *c);
/* Waits for the next PGresult (NULL at the end of a command's results). */
int cio__pg_next_result(cio_pg_conn *c, PGresult **out);

/* After an interrupted operation (rc is -ECANCELED or -ETIMEDOUT, or any
 * error that left results unread): cancels the query on the server, drains
 * its results (and a pipeline up to its sync) in a shield with a bounded
 * wait, marks conn broken if that fails, and returns rc. */
int cio__pg_abort(cio_pg_conn *c, int rc);
/* Reads and discards results until the connection is idle. Returns 0 or an
 * error (conn broken then). Does not cancel. */
int cio__pg_drain(cio_pg_conn *c);
/* The wait for the server to stop a query after the cancel request was
 * sent: at most 10 s in all, in stretches of 1 s, and the request sent
 * again after each stretch while the server still runs the query (a request
 * that reaches the backend before it has begun the query is ignored).
 * Entered and exited inside a shield, around the reads of the results. */
struct cio__pg_stopping {
    cio_scope limit; /* the current stretch */
    double end;
};
void cio__pg_stopping_enter(struct cio__pg_stopping *s);
/* After a read of c's results returned -ETIMEDOUT: if the stretch ended,
 * asks the server again (when c still runs a query) and starts the next
 * stretch. Returns whether to read on; false when the bound is reached or
 * something else cut the read short. s stays entered either way. */
bool cio__pg_stopping_again(struct cio__pg_stopping *s, cio_pg_conn *c);
void cio__pg_stopping_exit(struct cio__pg_stopping *s);

/* Sends a cancel request for conn's current query and waits for it to be
 * delivered (on a helper thread: libpq 15's PQcancel blocks; at most a few
 * run at once, requests queue for them), at most a few seconds. */
int cio__pg_cancel_request(cio_pg_conn *c);

/* Statement cache (stmt.c): the prepared statement for sql with these
 * argument oids, preparing (and describing) it on first use. */
int cio__pg_stmt_get(cio_pg_conn *c, const char *sql, const uint32_t *oids, int nargs,
                     struct cio__pg_stmt **out);
/* A pinned statement is never evicted (the cache grows past its size
 * meanwhile and shrinks back on later misses): for a caller that holds a
 * statement while it gets another one (executemany's two chunk sizes). */
static inline void cio__pg_stmt_pin(struct cio__pg_stmt *s)
{
    if (s)
        s->pins++;
}
static inline void cio__pg_stmt_unpin(struct cio__pg_stmt *s)
{
    if (s)
        s->pins--;
}
/* Forgets every cached statement (after a "prepared statement does not
 * exist" or "cached plan must not change result type" error). */
void cio__pg_stmt_reset(cio_pg_conn *c);
void cio__pg_stmt_free_all(cio_pg_conn *c);
/* Whether the server error says the cache is stale (retry once). */
bool cio__pg_stmt_stale(const cio_pg_conn *c);

/* Parameter encoding (encode.c): fills the libpq arrays for n args. */
struct cio__pg_params {
    const char **values;
    int *lengths;
    int *formats;
    uint32_t *oids;
    char *scratch; /* 16 bytes per argument for binary scalars */
    /* inline storage for small calls */
    const char *values_[8];
    int lengths_[8], formats_[8];
    uint32_t oids_[8];
    char scratch_[8 * 16];
    void *heap;
    char *arrays; /* the binary forms of the array arguments */
    size_t arrays_len, arrays_cap;
};
/* Whether a text or bytea value's length can be sent (cio_pg_textn() and
 * cio_pg_bytea() mark one over INT32_MAX). */
static inline bool cio__pg_arg_len_ok(const cio_pg_arg *a)
{
    return a->kind_ == CIO__PG_K_BYTEA ? a->len_ >= 0 : a->kind_ != CIO__PG_K_TEXT || a->len_ >= -1;
}
/* Why an argument cannot be sent (its length, an array of no known type,
 * an array element of another type), or NULL when it can. */
const char *cio__pg_arg_problem(const cio_pg_arg *a);
/* Sets up p for n arguments like args (their types: p->oids). Returns 0,
 * -EINVAL (n out of range, an array of no known type) or -ENOMEM. */
int cio__pg_params_init(struct cio__pg_params *p, const cio_pg_arg *args, int n);
/* Fills p's values with args (of the types init saw). Returns 0, -EINVAL
 * (an array element of the wrong type) or -ENOMEM. */
int cio__pg_params_fill(struct cio__pg_params *p, const cio_pg_arg *args, int n);
void cio__pg_params_free(struct cio__pg_params *p);
/* Makes room for need bytes in the growing buffer *buf of *cap bytes
 * (doubling): 0 or -ENOMEM. */
int cio__pg_grow_slow(char **buf, size_t *cap, size_t need);
static inline int cio__pg_grow(char **buf, size_t *cap, size_t need)
{
    return need <= *cap ? 0 : cio__pg_grow_slow(buf, cap, need);
}
/* Writes args as one line of COPY text format into the growing buffer. */
int cio__pg_copy_text_row(char **buf, size_t *len, size_t *cap, const cio_pg_arg *args, int n);
/* COPY's binary format: whether a value can be sent binary into a column of
 * type `type`, the header, one row, the trailer. */
bool cio__pg_binary_copy_ok(const cio_pg_arg *a, uint32_t type);
int cio__pg_copy_binary_header(char **buf, size_t *len, size_t *cap);
int cio__pg_copy_binary_row(char **buf, size_t *len, size_t *cap, const cio_pg_arg *args, int n,
                            const uint32_t *types);
int cio__pg_copy_binary_trailer(char **buf, size_t *len, size_t *cap);
/* The array type of a built-in element type (int4 -> int4[]...), 0 for
 * others. */
uint32_t cio__pg_array_type(uint32_t elem);
/* The element type of an array type cio knows (array.c), or 0. */
uint32_t cio__pg_array_elem(uint32_t array);
/* The type an argument is sent as: its oid_, or for an array argument
 * (whose oid_ is the element type) the array type; 0 when inferred, or
 * for an array of an element type with no array type here. */
static inline uint32_t cio__pg_arg_type(const cio_pg_arg *a)
{
    return a->kind_ >= CIO__PG_K_ARRAY ? cio__pg_array_type(a->oid_) : a->oid_;
}
/* A one-dimensional array of element type elem in binary format, built
 * value by value (each one cio__pg_binary_copy_ok() for elem): begin
 * (empties it, keeps its buffer), add, end (writes the header); buf[0, len)
 * is then the array. The caller frees buf. */
struct cio__pg_array {
    char *buf;
    size_t len, cap;
    uint32_t elem;
    int n;
    bool nulls;
};
int cio__pg_array_begin(struct cio__pg_array *a, uint32_t elem);
int cio__pg_array_add(struct cio__pg_array *a, const cio_pg_arg *v);
void cio__pg_array_end(struct cio__pg_array *a);

/* Sends one statement with parameters (prepared and cached, or unnamed
 * when the cache is off) without waiting for results. On success stores
 * in *stmt_out (may be NULL) the statement used (NULL for unnamed). */
int cio__pg_send(cio_pg_conn *c, const char *sql, const cio_pg_arg *args, int nargs,
                 bool single_row);

/* Runs sql and returns its last PGresult (success: TUPLES_OK or
 * COMMAND_OK) in *out, retrying once on a stale statement cache. Must be
 * called inside cio__pg_begin/end. */
int cio__pg_query(cio_pg_conn *c, const char *sql, const cio_pg_arg *args, int nargs,
                  PGresult **out);
/* Simple-protocol command inside begin/end; returns rows affected. */
int cio__pg_simple(cio_pg_conn *c, const char *sql);

/* Results (result.c). */
struct cio_pg_result {
    PGresult *res;
    int nrows, ncols;
    struct cio__pg_chunk *arena; /* text renderings of binary values */
};
/* Wraps res (taking ownership); NULL on allocation failure (res cleared). */
cio_pg_result *cio__pg_result_wrap(PGresult *res);
/* Reuses an existing wrapper for a new PGresult (streams). */
void cio__pg_result_rewrap(cio_pg_result *r, PGresult *res);
void cio__pg_result_release(cio_pg_result *r);

/* Cell access shared by the getters (result.c). */
struct cio__pg_cell {
    const char *v;
    int len;
    bool bin;
    uint32_t oid;
};
/* The text form of a binary array cell (array.c), kept with r. */
int cio__pg_array_text(const cio_pg_result *r, int row, int col, const struct cio__pg_cell *c,
                       const char **out, size_t *len);
/* Checks arguments and NULL (-EINVAL, CIO_PG_ENULL) and fills *c. */
int cio__pg_cell(const cio_pg_result *r, int row, int col, const void *out, struct cio__pg_cell *c);
uint64_t cio__pg_rd_be(const char *p, int n);
static inline void cio__pg_wr_be32(char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (char)(v >> (24 - 8 * i));
}
/* Copies n bytes (NUL-terminated) into storage freed with the result. */
char *cio__pg_arena_put(const cio_pg_result *r, const char *s, size_t n);
/* Binary numeric to its text form (decode.c). */
int cio__pg_numeric_text(const cio_pg_result *r, const struct cio__pg_cell *c, const char **out);

/* Dates (encode.c): PostgreSQL's epoch is 2000-01-01. */
#define CIO__PG_EPOCH_DAYS 10957
#define CIO__PG_EPOCH_USEC (INT64_C(946684800) * 1000000)
#define CIO__PG_USEC_PER_DAY INT64_C(86400000000)
#define CIO__PG_NAMEOID 19
#define CIO__PG_CHAROID 18
#define CIO__PG_UNKNOWNOID 705
void cio__pg_civil(int64_t z, int64_t *y, unsigned *m, unsigned *d);
size_t cio__pg_fmt_datetime(char *out, int64_t days, int64_t usec_of_day, bool with_time, bool utc);

/* Whether a column type decodes from the binary format. */
bool cio__pg_binary_ok(uint32_t oid);

/* Quotes an identifier ("a""b") into a malloc'd string, NULL on ENOMEM. */
char *cio__pg_quote_ident(const char *s);

/* PQconnectStart(dsn), with the host names it lists (or its service or
 * PGHOST does) resolved on the executor first (resolve.c). NULL with c->lookup_error
 * set (and the message recorded) when the lookup failed or was
 * interrupted; NULL with lookup_error 0 when memory ran out. */
PGconn *cio__pg_start(const char *dsn, cio_pg_conn *c);

/* A connection released to its pool with a stream or COPY open: ends it
 * on the server (the stream's query cancelled or its cursor closed, the
 * COPY aborted), in a shield with bounded waits; marks conn broken if that
 * fails. The handle stays the user's, cut from conn: its functions then
 * return CIO_PG_ESTATE, and its close or end only frees it. */
void cio__pg_stream_detach(cio_pg_stream *st);
void cio__pg_copy_detach(cio_pg_copy *cp);

/* Closes and frees a connection (pool.c unlinks it first). */
void cio__pg_conn_destroy(cio_pg_conn *c);

#endif
