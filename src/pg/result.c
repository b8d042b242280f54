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

#include "pg/internal.h"

#define PG_EPOCH_DAYS 10957
#define PG_EPOCH_USEC (INT64_C(946684800) * 1000000)
#define USEC_PER_DAY INT64_C(86400000000)
#define NAMEOID 19
#define CHAROID 18
#define UNKNOWNOID 705

void cio__pg_civil(int64_t z, int64_t *y, unsigned *m, unsigned *d);
size_t cio__pg_fmt_datetime(char *out, int64_t days, int64_t usec_of_day, bool with_time, bool utc);

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
    case NAMEOID:
    case CHAROID:
    case UNKNOWNOID:
        return true;
    default:
        return false;
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

struct cell {
    const char *v;
    int len;
    bool bin;
    uint32_t oid;
};

static int cell(const cio_pg_result *r, int row, int col, const void *out, struct cell *c)
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

static uint64_t rd_be(const char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | (unsigned char)p[i];
    return v;
}

static char *arena_put(const cio_pg_result *r, const char *s, size_t n)
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

int cio_pg_get_int64(const cio_pg_result *r, int row, int col, int64_t *out)
{
    struct cell c;
    int rc = cell(r, row, col, out, &c);
    if (rc)
        return rc;
    switch (c.oid) {
    case CIO_PG_INT2OID:
    case CIO_PG_INT4OID:
    case CIO_PG_INT8OID:
    case CIO_PG_OIDOID:
        break;
    default:
        return CIO_PG_ETYPE;
    }
    if (!c.bin)
        return parse_i64(c.v, out);
    switch (c.len) {
    case 2:
        *out = (int16_t)rd_be(c.v, 2);
        return 0;
    case 4:
        *out = c.oid == CIO_PG_OIDOID ? (int64_t)(uint32_t)rd_be(c.v, 4)
                                      : (int64_t)(int32_t)rd_be(c.v, 4);
        return 0;
    case 8:
        *out = (int64_t)rd_be(c.v, 8);
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

int cio_pg_get_double(const cio_pg_result *r, int row, int col, double *out)
{
    struct cell c;
    int rc = cell(r, row, col, out, &c);
    if (rc)
        return rc;
    if (c.oid == CIO_PG_FLOAT4OID || c.oid == CIO_PG_FLOAT8OID) {
        if (!c.bin) {
            char *end;
            *out = strtod(c.v, &end);
            return end == c.v || *end ? CIO_PG_EPROTO : 0;
        }
        if (c.len == 4) {
            uint32_t u = (uint32_t)rd_be(c.v, 4);
            float f;
            memcpy(&f, &u, 4);
            *out = f;
        } else if (c.len == 8) {
            uint64_t u = rd_be(c.v, 8);
            memcpy(out, &u, 8);
        } else {
            return CIO_PG_EPROTO;
        }
        return 0;
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
    struct cell c;
    int rc = cell(r, row, col, out, &c);
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

/* ---- dates and times ----------------------------------------------------------------- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Parses ISO "YYYY-MM-DD[ HH:MM:SS[.ffffff][+-hh[:mm[:ss]]]][ BC]"; sets
 * *days and *usec (of the day, offset applied). */
static int parse_iso(const char *s, bool with_time, int64_t *days, int64_t *usec)
{
    long long y;
    unsigned mo, d;
    int n = 0;
    if (sscanf(s, "%lld-%u-%u%n", &y, &mo, &d, &n) != 3)
        return CIO_PG_EPROTO;
    s += n;
    int64_t us = 0;
    if (with_time && *s == ' ' && s[1] >= '0' && s[1] <= '9') {
        unsigned hh, mm, ss;
        if (sscanf(s, " %u:%u:%u%n", &hh, &mm, &ss, &n) != 3)
            return CIO_PG_EPROTO;
        s += n;
        us = ((int64_t)hh * 3600 + mm * 60 + ss) * 1000000;
        if (*s == '.') {
            int64_t scale = 100000;
            for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
                us += (*s - '0') * scale;
        }
        if (*s == '+' || *s == '-') {
            int sign = *s == '-' ? -1 : 1;
            unsigned oh = 0, om = 0, os = 0;
            sscanf(s + 1, "%u:%u:%u", &oh, &om, &os);
            us -= sign * ((int64_t)oh * 3600 + om * 60 + os) * 1000000;
            while (*s && *s != ' ')
                s++;
        }
    }
    if (strcmp(s, " BC") == 0)
        y = 1 - y;
    else if (*s)
        return CIO_PG_EPROTO;
    *days = days_from_civil(y, mo, d);
    *usec = us;
    return 0;
}

int cio_pg_get_date(const cio_pg_result *r, int row, int col, int32_t *out)
{
    struct cell c;
    int rc = cell(r, row, col, out, &c);
    if (rc)
        return rc;
    if (c.oid != CIO_PG_DATEOID)
        return CIO_PG_ETYPE;
    int64_t d;
    if (c.bin) {
        if (c.len != 4)
            return CIO_PG_EPROTO;
        d = (int32_t)rd_be(c.v, 4);
        if (d == INT32_MAX || d == INT32_MIN) {
            *out = (int32_t)d;
            return 0;
        }
        d += PG_EPOCH_DAYS;
    } else if (strcmp(c.v, "infinity") == 0 || strcmp(c.v, "-infinity") == 0) {
        *out = c.v[0] == '-' ? INT32_MIN : INT32_MAX;
        return 0;
    } else {
        int64_t us;
        if ((rc = parse_iso(c.v, false, &d, &us)) != 0)
            return rc;
    }
    if (d <= INT32_MIN || d >= INT32_MAX)
        return CIO_PG_ETYPE;
    *out = (int32_t)d;
    return 0;
}

int cio_pg_get_timestamp(const cio_pg_result *r, int row, int col, int64_t *out)
{
    struct cell c;
    int rc = cell(r, row, col, out, &c);
    if (rc)
        return rc;
    if (c.oid != CIO_PG_TIMESTAMPOID && c.oid != CIO_PG_TIMESTAMPTZOID)
        return CIO_PG_ETYPE;
    if (c.bin) {
        if (c.len != 8)
            return CIO_PG_EPROTO;
        int64_t v = (int64_t)rd_be(c.v, 8);
        *out = v == INT64_MAX || v == INT64_MIN ? v : v + PG_EPOCH_USEC;
        return 0;
    }
    if (strcmp(c.v, "infinity") == 0 || strcmp(c.v, "-infinity") == 0) {
        *out = c.v[0] == '-' ? INT64_MIN : INT64_MAX;
        return 0;
    }
    int64_t d, us;
    if ((rc = parse_iso(c.v, true, &d, &us)) != 0)
        return rc;
    *out = d * USEC_PER_DAY + us;
    return 0;
}

/* ---- uuid, bytea, numeric, json ---------------------------------------------------------- */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int cio_pg_get_uuid(const cio_pg_result *r, int row, int col, uint8_t out[16])
{
    struct cell c;
    int rc = cell(r, row, col, out, &c);
    if (rc)
        return rc;
    if (c.oid != CIO_PG_UUIDOID)
        return CIO_PG_ETYPE;
    if (c.bin) {
        if (c.len != 16)
            return CIO_PG_EPROTO;
        memcpy(out, c.v, 16);
        return 0;
    }
    int k = 0;
    for (const char *s = c.v; *s && k < 32; s++) {
        if (*s == '-')
            continue;
        int h = hexval(*s);
        if (h < 0)
            return CIO_PG_EPROTO;
        if (k % 2 == 0)
            out[k / 2] = (uint8_t)(h << 4);
        else
            out[k / 2] |= (uint8_t)h;
        k++;
    }
    return k == 32 ? 0 : CIO_PG_EPROTO;
}

int cio_pg_get_bytea(const cio_pg_result *r, int row, int col, const uint8_t **out, size_t *len)
{
    struct cell c;
    int rc = cell(r, row, col, out, &c);
    if (rc)
        return rc;
    if (c.oid != CIO_PG_BYTEAOID)
        return CIO_PG_ETYPE;
    if (c.bin) {
        *out = (const uint8_t *)c.v;
        if (len)
            *len = (size_t)c.len;
        return 0;
    }
    size_t n;
    unsigned char *u = PQunescapeBytea((const unsigned char *)c.v, &n);
    if (!u)
        return -ENOMEM;
    char *copy = arena_put(r, (const char *)u, n);
    PQfreemem(u);
    if (!copy)
        return -ENOMEM;
    *out = (const uint8_t *)copy;
    if (len)
        *len = n;
    return 0;
}

/* Binary numeric to its text form, as PostgreSQL's numeric_out. */
static int numeric_text(const cio_pg_result *r, const struct cell *c, const char **out)
{
    if (c->len < 8)
        return CIO_PG_EPROTO;
    int nd = (int16_t)rd_be(c->v, 2), weight = (int16_t)rd_be(c->v + 2, 2);
    unsigned sign = (unsigned)rd_be(c->v + 4, 2);
    int dscale = (int16_t)rd_be(c->v + 6, 2);
    if (nd < 0 || dscale < 0 || c->len != 8 + 2 * nd)
        return CIO_PG_EPROTO;
    const char *special = sign == 0xC000   ? "NaN"
                          : sign == 0xD000 ? "Infinity"
                          : sign == 0xF000 ? "-Infinity"
                                           : NULL;
    if (special) {
        *out = arena_put(r, special, strlen(special));
        return *out ? 0 : -ENOMEM;
    }
    size_t cap = (size_t)(weight > 0 ? weight + 1 : 1) * 4 + (size_t)dscale + 8;
    char *buf = malloc(cap), *p = buf;
    if (!buf)
        return -ENOMEM;
    if (sign == 0x4000)
        *p++ = '-';
    if (weight < 0) {
        *p++ = '0';
    } else {
        for (int d = 0; d <= weight; d++) {
            int dig = d < nd ? (int)rd_be(c->v + 8 + 2 * d, 2) : 0;
            p += d == 0 ? sprintf(p, "%d", dig) : sprintf(p, "%04d", dig);
        }
    }
    if (dscale > 0) {
        *p++ = '.';
        int emitted = 0;
        for (int d = weight + 1; emitted < dscale; d++) {
            int dig = d >= 0 && d < nd ? (int)rd_be(c->v + 8 + 2 * d, 2) : 0;
            char g[8];
            sprintf(g, "%04d", dig);
            for (int k = 0; k < 4 && emitted < dscale; k++, emitted++)
                *p++ = g[k];
        }
    }
    *out = arena_put(r, buf, (size_t)(p - buf));
    free(buf);
    return *out ? 0 : -ENOMEM;
}

int cio_pg_get_numeric(const cio_pg_result *r, int row, int col, const char **out)
{
    struct cell c;
    int rc = cell(r, row, col, out, &c);
    if (rc)
        return rc;
    if (c.oid != CIO_PG_NUMERICOID)
        return CIO_PG_ETYPE;
    if (!c.bin) {
        *out = c.v;
        return 0;
    }
    return numeric_text(r, &c, out);
}

int cio_pg_get_json(const cio_pg_result *r, int row, int col, const char **out, size_t *len)
{
    struct cell c;
    int rc = cell(r, row, col, out, &c);
    if (rc)
        return rc;
    if (c.oid != CIO_PG_JSONOID && c.oid != CIO_PG_JSONBOID)
        return CIO_PG_ETYPE;
    if (c.bin && c.oid == CIO_PG_JSONBOID) {
        if (c.len < 1 || c.v[0] != 1)
            return CIO_PG_EPROTO;
        c.v++;
        c.len--;
    }
    *out = c.v;
    if (len)
        *len = (size_t)c.len;
    return 0;
}

/* ---- any value as text ------------------------------------------------------------------ */

static size_t fmt_double(char *buf, double v, bool single)
{
    if (isnan(v))
        return (size_t)sprintf(buf, "NaN");
    if (isinf(v))
        return (size_t)sprintf(buf, v > 0 ? "Infinity" : "-Infinity");
    /* The shortest form that reads back exactly, as PostgreSQL 12+. */
    for (int prec = 1; prec <= 17; prec++) {
        int n = sprintf(buf, "%.*g", prec, v);
        if (single ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v)
            return (size_t)n;
    }
    return (size_t)sprintf(buf, "%.17g", v);
}

int cio_pg_get_text(const cio_pg_result *r, int row, int col, const char **out, size_t *len)
{
    struct cell c;
    int rc = cell(r, row, col, out, &c);
    if (rc)
        return rc;
    size_t n = (size_t)c.len;
    if (!c.bin) {
        *out = c.v;
        goto done;
    }
    char buf[80];
    size_t bl = 0;
    switch (c.oid) {
    case CIO_PG_JSONBOID:
        if ((rc = cio_pg_get_json(r, row, col, out, &n)) != 0)
            return rc;
        goto done;
    case CIO_PG_NUMERICOID:
        if ((rc = numeric_text(r, &c, out)) != 0)
            return rc;
        n = strlen(*out);
        goto done;
    case CIO_PG_BOOLOID:
        bl = (size_t)sprintf(buf, "%s", c.v[0] ? "t" : "f");
        break;
    case CIO_PG_INT2OID:
    case CIO_PG_INT4OID:
    case CIO_PG_INT8OID:
    case CIO_PG_OIDOID: {
        int64_t v;
        if ((rc = cio_pg_get_int64(r, row, col, &v)) != 0)
            return rc;
        bl = (size_t)sprintf(buf, "%" PRId64, v);
        break;
    }
    case CIO_PG_FLOAT4OID:
    case CIO_PG_FLOAT8OID: {
        double v;
        if ((rc = cio_pg_get_double(r, row, col, &v)) != 0)
            return rc;
        bl = fmt_double(buf, v, c.oid == CIO_PG_FLOAT4OID);
        break;
    }
    case CIO_PG_UUIDOID: {
        uint8_t u[16];
        if ((rc = cio_pg_get_uuid(r, row, col, u)) != 0)
            return rc;
        for (int k = 0; k < 16; k++)
            bl += (size_t)sprintf(buf + bl, "%s%02x",
                                  k == 4 || k == 6 || k == 8 || k == 10 ? "-" : "", u[k]);
        break;
    }
    case CIO_PG_DATEOID: {
        int32_t d;
        if ((rc = cio_pg_get_date(r, row, col, &d)) != 0)
            return rc;
        if (d == INT32_MAX || d == INT32_MIN)
            bl = (size_t)sprintf(buf, d > 0 ? "infinity" : "-infinity");
        else
            bl = cio__pg_fmt_datetime(buf, d, 0, false, false);
        break;
    }
    case CIO_PG_TIMESTAMPOID:
    case CIO_PG_TIMESTAMPTZOID: {
        int64_t us;
        if ((rc = cio_pg_get_timestamp(r, row, col, &us)) != 0)
            return rc;
        if (us == INT64_MAX || us == INT64_MIN) {
            bl = (size_t)sprintf(buf, us > 0 ? "infinity" : "-infinity");
        } else {
            int64_t day = us / USEC_PER_DAY - (us % USEC_PER_DAY < 0);
            bl = cio__pg_fmt_datetime(buf, day, us - day * USEC_PER_DAY, true,
                                      c.oid == CIO_PG_TIMESTAMPTZOID);
        }
        break;
    }
    case CIO_PG_BYTEAOID: {
        static const char hex[] = "0123456789abcdef";
        char *h = malloc(2 * n + 3);
        if (!h)
            return -ENOMEM;
        h[0] = '\\';
        h[1] = 'x';
        for (size_t k = 0; k < n; k++) {
            h[2 + 2 * k] = hex[(unsigned char)c.v[k] >> 4];
            h[3 + 2 * k] = hex[(unsigned char)c.v[k] & 15];
        }
        *out = arena_put(r, h, 2 * n + 2);
        free(h);
        if (!*out)
            return -ENOMEM;
        n = 2 * n + 2;
        goto done;
    }
    default: /* text, varchar, bpchar, name, char, json, unknown: the bytes */
        *out = c.v;
        goto done;
    }
    if (!(*out = arena_put(r, buf, bl)))
        return -ENOMEM;
    n = bl;
done:
    if (len)
        *len = n;
    return 0;
}
