/* Results and typed getters. A result holds libpq's PGresult; values come
 * in binary (when the statement's columns all decode from it) or text
 * format, and every getter reads both. Text renderings of binary values
 * (cio_pg_get_text on an int column...) are made on demand and kept with
 * the result. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/numtext.h"
#include "pg/internal.h"

struct cio__pg_chunk {
    struct cio__pg_chunk *next;
    char data[];
};

bool cio__pg_binary_ok(uint32_t oid)
{
    switch (oid) {
    case CIO_PG_BOOLOID:
    case CIO_PG_BYTEAOID:
    case CIO_PG_INT8OID:
    case CIO_PG_INT2OID:
    case CIO_PG_INT4OID:
    case CIO_PG_TEXTOID:
    case CIO_PG_OIDOID:
    case CIO_PG_JSONOID:
    case CIO_PG_FLOAT4OID:
    case CIO_PG_FLOAT8OID:
    case CIO_PG_BPCHAROID:
    case CIO_PG_VARCHAROID:
    case CIO_PG_DATEOID:
    case CIO_PG_TIMESTAMPOID:
    case CIO_PG_TIMESTAMPTZOID:
    case CIO_PG_NUMERICOID:
    case CIO_PG_UUIDOID:
    case CIO_PG_JSONBOID:
    case CIO__PG_NAMEOID:
    case CIO__PG_CHAROID:
    case CIO__PG_UNKNOWNOID:
        return true;
    default: { /* an array of a type above */
        uint32_t elem = cio__pg_array_elem(oid);
        return elem && cio__pg_binary_ok(elem);
    }
    }
}

cio_pg_result *cio__pg_result_wrap(PGresult *res)
{
    cio_pg_result *r = calloc(1, sizeof *r);
    if (!r) {
        PQclear(res);
        return NULL;
    }
    cio__pg_result_rewrap(r, res);
    return r;
}

void cio__pg_result_release(cio_pg_result *r)
{
    struct cio__pg_chunk *c = r->arena, *next;
    for (; c; c = next) {
        next = c->next;
        free(c);
    }
    r->arena = NULL;
    PQclear(r->res);
    r->res = NULL;
    r->nrows = r->ncols = 0;
}

void cio__pg_result_rewrap(cio_pg_result *r, PGresult *res)
{
    cio__pg_result_release(r);
    r->res = res;
    r->nrows = res ? PQntuples(res) : 0;
    r->ncols = res ? PQnfields(res) : 0;
}

void cio_pg_result_free(cio_pg_result *r)
{
    if (!r)
        return;
    cio__pg_result_release(r);
    free(r);
}

int cio_pg_nrows(const cio_pg_result *r)
{
    return r ? r->nrows : 0;
}

int cio_pg_ncols(const cio_pg_result *r)
{
    return r ? r->ncols : 0;
}

const char *cio_pg_colname(const cio_pg_result *r, int col)
{
    if (!r || col < 0 || col >= r->ncols)
        return "";
    return PQfname(r->res, col);
}

int cio_pg_colindex(const cio_pg_result *r, const char *name)
{
    if (!r || !name)
        return -1;
    for (int i = 0; i < r->ncols; i++)
        if (strcmp(PQfname(r->res, i), name) == 0)
            return i;
    return -1;
}

uint32_t cio_pg_coltype(const cio_pg_result *r, int col)
{
    if (!r || col < 0 || col >= r->ncols)
        return 0;
    return PQftype(r->res, col);
}

bool cio_pg_is_null(const cio_pg_result *r, int row, int col)
{
    if (!r || row < 0 || row >= r->nrows || col < 0 || col >= r->ncols)
        return true;
    return PQgetisnull(r->res, row, col);
}

/* ---- cell access -------------------------------------------------------------- */

int cio__pg_cell(const cio_pg_result *r, int row, int col, const void *out, struct cio__pg_cell *c)
{
    if (!r || !out || row < 0 || row >= r->nrows || col < 0 || col >= r->ncols)
        return -EINVAL;
    if (PQgetisnull(r->res, row, col))
        return CIO_PG_ENULL;
    c->v = PQgetvalue(r->res, row, col);
    c->len = PQgetlength(r->res, row, col);
    c->bin = PQfformat(r->res, col) == 1;
    c->oid = PQftype(r->res, col);
    return 0;
}

uint64_t cio__pg_rd_be(const char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | (unsigned char)p[i];
    return v;
}

char *cio__pg_arena_put(const cio_pg_result *r, const char *s, size_t n)
{
    struct cio__pg_chunk *c = malloc(sizeof *c + n + 1);
    if (!c)
        return NULL;
    memcpy(c->data, s, n);
    c->data[n] = 0;
    cio_pg_result *w = (cio_pg_result *)r; /* the arena is a cache, not state */
    c->next = w->arena;
    w->arena = c;
    return c->data;
}

/* ---- integers and floats ---------------------------------------------------------- */

static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return CIO_PG_EPROTO;
    *out = v;
    return 0;
}

/* A numeric's exact decimal text ("-12.50", "NaN"), from either format. */
static int numeric_text(const cio_pg_result *r, const struct cio__pg_cell *c, const char **out)
{
    if (!c->bin) {
        *out = c->v;
        return 0;
    }
    return cio__pg_numeric_text(r, c, out);
}

/* A numeric that is a whole number ("-12", "12.000") as an int64;
 * CIO_PG_ETYPE for a fraction, NaN, an infinity or a value out of range. */
static int numeric_i64(const char *s, int64_t *out)
{
    bool neg = *s == '-';
    s += neg;
    if (*s < '0' || *s > '9')
        return CIO_PG_ETYPE; /* NaN, Infinity */
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (limit - d) / 10)
            return CIO_PG_ETYPE;
        v = v * 10 + d;
    }
    if (*s == '.')
        while (*++s == '0')
            ;
    if (*s)
        return *s >= '1' && *s <= '9' ? CIO_PG_ETYPE : CIO_PG_EPROTO;
    *out = !neg ? (int64_t)v : v ? -(int64_t)(v - 1) - 1 : 0;
    return 0;
}

int cio_pg_get_int64(const cio_pg_result *r, int row, int col, int64_t *out)
{
    struct cio__pg_cell c;
    int rc = cio__pg_cell(r, row, col, out, &c);
    if (rc)
        return rc;
    switch (c.oid) {
    case CIO_PG_INT2OID:
    case CIO_PG_INT4OID:
    case CIO_PG_INT8OID:
    case CIO_PG_OIDOID:
        break;
    case CIO_PG_NUMERICOID: {
        /* sum(bigint) and the like are numeric: read them when whole. */
        const char *text;
        if ((rc = numeric_text(r, &c, &text)) != 0)
            return rc;
        return numeric_i64(text, out);
    }
    default:
        return CIO_PG_ETYPE;
    }
    if (!c.bin)
        return parse_i64(c.v, out);
    switch (c.len) {
    case 2:
        *out = (int16_t)cio__pg_rd_be(c.v, 2);
        return 0;
    case 4:
        *out = c.oid == CIO_PG_OIDOID ? (int64_t)(uint32_t)cio__pg_rd_be(c.v, 4)
                                      : (int64_t)(int32_t)cio__pg_rd_be(c.v, 4);
        return 0;
    case 8:
        *out = (int64_t)cio__pg_rd_be(c.v, 8);
        return 0;
    default:
        return CIO_PG_EPROTO;
    }
}

int cio_pg_get_int32(const cio_pg_result *r, int row, int col, int32_t *out)
{
    int64_t v;
    int rc = cio_pg_get_int64(r, row, col, out ? &v : NULL);
    if (rc)
        return rc;
    if (v < INT32_MIN || v > INT32_MAX)
        return CIO_PG_ETYPE;
    *out = (int32_t)v;
    return 0;
}

int cio_pg_get_int16(const cio_pg_result *r, int row, int col, int16_t *out)
{
    int64_t v;
    int rc = cio_pg_get_int64(r, row, col, out ? &v : NULL);
    if (rc)
        return rc;
    if (v < INT16_MIN || v > INT16_MAX)
        return CIO_PG_ETYPE;
    *out = (int16_t)v;
    return 0;
}

/* PostgreSQL's text form of a float or numeric ("-1.5", "NaN",
 * "Infinity"), read with '.' whatever the program's locale. */
static int parse_double(const char *s, double *out)
{
    char *end;
    *out = cio__strtod_c(s, &end);
    return end == s || *end ? CIO_PG_EPROTO : 0;
}

int cio_pg_get_double(const cio_pg_result *r, int row, int col, double *out)
{
    struct cio__pg_cell c;
    int rc = cio__pg_cell(r, row, col, out, &c);
    if (rc)
        return rc;
    if (c.oid == CIO_PG_FLOAT4OID || c.oid == CIO_PG_FLOAT8OID) {
        if (!c.bin)
            return parse_double(c.v, out);
        if (c.len == 4) {
            uint32_t u = (uint32_t)cio__pg_rd_be(c.v, 4);
            float f;
            memcpy(&f, &u, 4);
            *out = f;
        } else if (c.len == 8) {
            uint64_t u = cio__pg_rd_be(c.v, 8);
            memcpy(out, &u, 8);
        } else {
            return CIO_PG_EPROTO;
        }
        return 0;
    }
    if (c.oid == CIO_PG_NUMERICOID) {
        /* avg() and the like are numeric: the nearest double. */
        const char *text;
        if ((rc = numeric_text(r, &c, &text)) != 0)
            return rc;
        return parse_double(text, out);
    }
    int64_t i;
    rc = cio_pg_get_int64(r, row, col, &i);
    if (rc == 0)
        *out = (double)i;
    return rc;
}

int cio_pg_get_float(const cio_pg_result *r, int row, int col, float *out)
{
    double d;
    int rc = cio_pg_get_double(r, row, col, out ? &d : NULL);
    if (rc == 0)
        *out = (float)d;
    return rc;
}

int cio_pg_get_bool(const cio_pg_result *r, int row, int col, bool *out)
{
    struct cio__pg_cell c;
    int rc = cio__pg_cell(r, row, col, out, &c);
    if (rc)
        return rc;
    if (c.oid != CIO_PG_BOOLOID)
        return CIO_PG_ETYPE;
    if (c.bin) {
        if (c.len != 1)
            return CIO_PG_EPROTO;
        *out = c.v[0] != 0;
    } else {
        *out = c.v[0] == 't';
    }
    return 0;
}
