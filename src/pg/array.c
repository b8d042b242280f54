/* Array values read as results of their own (asyncpg's lists): one row per
 * element of the first dimension, read with the ordinary getters.
 *
 * An array column comes in binary (array_send's form) when cio asked for
 * binary results, and in text (array_out's: "{1,2,NULL}",
 * "{\"a b\",\"q\\\"\"}", "{{1,2},{3,4}}", "[0:1]={7,8}") when not: a
 * parser for each. Both are fed what a server sends, so they check
 * everything and never read past the value. The text form of a binary
 * array (cio_pg_get_text) is rendered here as array_out would write it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pg/internal.h"

/* PostgreSQL's limit on dimensions (MAXDIM). */
#define MAX_DIMS 6

uint32_t cio__pg_array_elem(uint32_t array)
{
    static const uint32_t elems[] = {
        CIO_PG_BOOLOID,        CIO_PG_BYTEAOID,   CIO__PG_CHAROID,  CIO__PG_NAMEOID,
        CIO_PG_INT8OID,        CIO_PG_INT2OID,    CIO_PG_INT4OID,   CIO_PG_TEXTOID,
        CIO_PG_OIDOID,         CIO_PG_JSONOID,    CIO_PG_FLOAT4OID, CIO_PG_FLOAT8OID,
        CIO_PG_BPCHAROID,      CIO_PG_VARCHAROID, CIO_PG_DATEOID,   CIO_PG_TIMESTAMPOID,
        CIO_PG_TIMESTAMPTZOID, CIO_PG_NUMERICOID, CIO_PG_UUIDOID,   CIO_PG_JSONBOID,
    };
    for (size_t i = 0; i < sizeof elems / sizeof *elems; i++)
        if (cio__pg_array_type(elems[i]) == array)
            return elems[i];
    return 0;
}

struct parser {
    const char *p, *end;
    char *scratch; /* an element's text, unescaped */
    PGresult *out;
    int rows;
};

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static void skip_spaces(struct parser *ps)
{
    while (ps->p < ps->end && is_space(*ps->p))
        ps->p++;
}

/* Adds a row holding len bytes at v (NULL: SQL NULL). */
static int add_row(struct parser *ps, const char *v, size_t len)
{
    if (len > INT32_MAX)
        return CIO_PG_EPROTO;
    if (!PQsetvalue(ps->out, ps->rows, 0, (char *)v, v ? (int)len : -1))
        return -ENOMEM;
    ps->rows++;
    return 0;
}

/* A scalar element at ps->p, up to the ',' or '}' that ends it: quoted
 * ("..." with backslash escapes) or bare (backslash escapes too, spaces
 * around it dropped; NULL in any case is SQL NULL). */
static int element(struct parser *ps)
{
    size_t n = 0;
    skip_spaces(ps);
    if (ps->p < ps->end && *ps->p == '"') {
        for (ps->p++;; ps->p++) {
            if (ps->p >= ps->end)
                return CIO_PG_EPROTO;
            char ch = *ps->p;
            if (ch == '"')
                break;
            if (ch == '\\' && ++ps->p >= ps->end)
                return CIO_PG_EPROTO;
            ps->scratch[n++] = *ps->p;
        }
        ps->p++;
        skip_spaces(ps);
        return add_row(ps, ps->scratch, n);
    }
    size_t kept = 0; /* n without the trailing spaces */
    bool escaped = false;
    for (; ps->p < ps->end && *ps->p != ',' && *ps->p != '}'; ps->p++) {
        char ch = *ps->p;
        if (ch == '{' || ch == '"')
            return CIO_PG_EPROTO;
        if (ch == '\\') {
            if (++ps->p >= ps->end)
                return CIO_PG_EPROTO;
            escaped = true;
            ps->scratch[n++] = *ps->p;
            kept = n;
            continue;
        }
        ps->scratch[n++] = ch;
        if (!is_space(ch))
            kept = n;
    }
    if (kept == 0 && !escaped)
        return CIO_PG_EPROTO; /* an empty element must be quoted */
    if (!escaped && kept == 4 && strncasecmp(ps->scratch, "NULL", 4) == 0)
        return add_row(ps, NULL, 0);
    return add_row(ps, ps->scratch, kept);
}

/* Skips a balanced "{...}" at ps->p (quotes and escapes respected), with
 * at most `depth` levels of braces. */
static int skip_sub(struct parser *ps, int depth)
{
    if (depth <= 0)
        return CIO_PG_EPROTO;
    ps->p++; /* '{' */
    while (ps->p < ps->end) {
        char ch = *ps->p;
        if (ch == '}') {
            ps->p++;
            return 0;
        }
        if (ch == '{') {
            int rc = skip_sub(ps, depth - 1);
            if (rc)
                return rc;
            continue;
        }
        if (ch == '"') {
            for (ps->p++; ps->p < ps->end && *ps->p != '"'; ps->p++)
                if (*ps->p == '\\')
                    ps->p++;
            if (ps->p >= ps->end)
                return CIO_PG_EPROTO;
        } else if (ch == '\\') {
            ps->p++;
        }
        ps->p++;
    }
    return CIO_PG_EPROTO;
}

/* The items of the outermost braces: all scalars, or all sub-arrays (each
 * a row holding its own text, "{...}"). */
static int items(struct parser *ps)
{
    ps->p++; /* '{' */
    skip_spaces(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return 0; /* {} */
    }
    int nested = -1;
    for (;;) {
        skip_spaces(ps);
        if (ps->p >= ps->end)
            return CIO_PG_EPROTO;
        bool sub = *ps->p == '{';
        if (nested >= 0 && sub != nested)
            return CIO_PG_EPROTO; /* scalars beside sub-arrays */
        nested = sub;
        int rc;
        if (sub) {
            const char *from = ps->p;
            if ((rc = skip_sub(ps, MAX_DIMS - 1)) == 0)
                rc = add_row(ps, from, (size_t)(ps->p - from));
            skip_spaces(ps);
        } else {
            rc = element(ps);
        }
        if (rc)
            return rc;
        if (ps->p >= ps->end)
            return CIO_PG_EPROTO;
        char ch = *ps->p++;
        if (ch == '}')
            return 0;
        if (ch != ',')
            return CIO_PG_EPROTO;
    }
}

/* "[lo:hi][lo:hi]=" before the braces, written when a lower bound is not
 * 1: checked for form, then skipped (rows count from 0 whatever it says). */
static int bounds(struct parser *ps)
{
    if (ps->p >= ps->end || *ps->p != '[')
        return 0;
    while (ps->p < ps->end && *ps->p == '[') {
        ps->p++;
        for (int part = 0; part < 2; part++) {
            if (ps->p < ps->end && (*ps->p == '-' || *ps->p == '+'))
                ps->p++;
            const char *digits = ps->p;
            while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
                ps->p++;
            if (ps->p == digits || ps->p >= ps->end || *ps->p++ != (part ? ']' : ':'))
                return CIO_PG_EPROTO;
        }
    }
    if (ps->p >= ps->end || *ps->p++ != '=')
        return CIO_PG_EPROTO;
    return 0;
}

/* ---- binary form ------------------------------------------------------------ */

/* array_send's form: the number of dimensions, a has-NULLs flag and the
 * element type (int32 each), each dimension's size and lower bound, then
 * every element in row-major order as an int32 length (-1: NULL) and its
 * bytes. */
struct bin_array {
    int ndim;
    int32_t dims[MAX_DIMS], lbounds[MAX_DIMS];
    const char *elems, *end; /* the elements */
    int64_t count;           /* how many */
};

static int32_t rd32(const char *p)
{
    return (int32_t)cio__pg_rd_be(p, 4);
}

static int bin_header(const char *v, size_t len, uint32_t elem, struct bin_array *a)
{
    if (len < 12)
        return CIO_PG_EPROTO;
    a->ndim = rd32(v);
    int32_t flags = rd32(v + 4);
    if (a->ndim < 0 || a->ndim > MAX_DIMS || (flags & ~1) || (uint32_t)rd32(v + 8) != elem ||
        len - 12 < 8 * (size_t)a->ndim)
        return CIO_PG_EPROTO;
    a->elems = v + 12 + 8 * a->ndim;
    a->end = v + len;
    /* Every element takes 4 bytes at least: that bounds the product. */
    int64_t room = (a->end - a->elems) / 4;
    a->count = a->ndim > 0;
    for (int i = 0; i < a->ndim; i++) {
        a->dims[i] = rd32(v + 12 + 8 * i);
        a->lbounds[i] = rd32(v + 16 + 8 * i);
        if (a->dims[i] < 0 || (a->dims[i] > 0 && a->count > room / a->dims[i]))
            return CIO_PG_EPROTO;
        a->count *= a->dims[i];
    }
    return 0;
}

/* Skips n elements at *p; *nulls tells whether one was NULL. */
static int bin_skip(const char **p, const char *end, int64_t n, bool *nulls)
{
    for (int64_t k = 0; k < n; k++) {
        if (end - *p < 4)
            return CIO_PG_EPROTO;
        int32_t len = rd32(*p);
        *p += 4;
        if (len == -1) {
            *nulls = true;
        } else if (len < 0 || len > end - *p) {
            return CIO_PG_EPROTO;
        } else {
            *p += len;
        }
    }
    return 0;
}

/* One row per element of the first dimension: the element itself, or the
 * sub-array it heads in the same binary form, one dimension down. */
static int bin_rows(const char *v, size_t len, uint32_t elem, PGresult *out)
{
    struct bin_array a;
    int rc = bin_header(v, len, elem, &a);
    if (rc || a.count == 0)
        return rc ? rc : a.elems == a.end ? 0 : CIO_PG_EPROTO;
    int64_t per = a.count / a.dims[0];
    char *sub = a.ndim > 1 ? malloc(len) : NULL; /* a sub-array is smaller */
    if (a.ndim > 1 && !sub)
        return -ENOMEM;
    const char *p = a.elems;
    for (int r = 0; r < a.dims[0] && rc == 0; r++) {
        const char *from = p;
        bool nulls = false;
        if ((rc = bin_skip(&p, a.end, per, &nulls)) != 0)
            break;
        if (a.ndim == 1) {
            int32_t n = rd32(from);
            rc = PQsetvalue(out, r, 0, (char *)from + 4, n) ? 0 : -ENOMEM;
            continue;
        }
        size_t head = 12 + 8 * (size_t)(a.ndim - 1), body = (size_t)(p - from);
        cio__pg_wr_be32(sub, (uint32_t)(a.ndim - 1));
        cio__pg_wr_be32(sub + 4, nulls);
        cio__pg_wr_be32(sub + 8, elem);
        for (int i = 1; i < a.ndim; i++) {
            cio__pg_wr_be32(sub + 12 + 8 * (i - 1), (uint32_t)a.dims[i]);
            cio__pg_wr_be32(sub + 16 + 8 * (i - 1), (uint32_t)a.lbounds[i]);
        }
        memcpy(sub + head, from, body);
        rc = head + body > INT32_MAX                          ? CIO_PG_EPROTO
             : PQsetvalue(out, r, 0, sub, (int)(head + body)) ? 0
                                                              : -ENOMEM;
    }
    free(sub);
    if (rc == 0 && p != a.end)
        rc = CIO_PG_EPROTO;
    return rc;
}

int cio_pg_get_array(const cio_pg_result *r, int row, int col, cio_pg_result **out)
{
    if (out)
        *out = NULL;
    struct cio__pg_cell c;
    int rc = cio__pg_cell(r, row, col, out, &c);
    if (rc)
        return rc;
    uint32_t elem = cio__pg_array_elem(c.oid);
    if (!elem)
        return CIO_PG_ETYPE;
    if (c.bin) {
        struct bin_array a;
        if ((rc = bin_header(c.v, (size_t)c.len, elem, &a)) != 0)
            return rc;
        PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
        PGresAttDesc desc = {.name = "element",
                             .typid = a.ndim > 1 ? c.oid : elem,
                             .typlen = -1,
                             .atttypmod = -1,
                             .format = 1};
        if (!res || !PQsetResultAttrs(res, 1, &desc))
            rc = -ENOMEM;
        else
            rc = bin_rows(c.v, (size_t)c.len, elem, res);
        if (rc == 0 && !(*out = cio__pg_result_wrap(res)))
            return -ENOMEM;
        if (rc)
            PQclear(res);
        return rc;
    }
    struct parser ps = {.p = c.v, .end = c.v + c.len};
    skip_spaces(&ps);
    if ((rc = bounds(&ps)) != 0)
        return rc;
    if (ps.p >= ps.end || *ps.p != '{')
        return CIO_PG_EPROTO;
    /* The nested rows are arrays of the same type; the innermost, elements. */
    const char *first = ps.p + 1;
    while (first < ps.end && is_space(*first))
        first++;
    bool nested = first < ps.end && *first == '{';
    if (!(ps.scratch = malloc((size_t)c.len + 1)))
        return -ENOMEM;
    ps.out = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc desc = {
        .name = "element", .typid = nested ? c.oid : elem, .typlen = -1, .atttypmod = -1};
    if (!ps.out || !PQsetResultAttrs(ps.out, 1, &desc)) {
        rc = -ENOMEM;
        goto fail;
    }
    if ((rc = items(&ps)) != 0)
        goto fail;
    skip_spaces(&ps);
    if (ps.p != ps.end) {
        rc = CIO_PG_EPROTO;
        goto fail;
    }
    free(ps.scratch);
    if (!(*out = cio__pg_result_wrap(ps.out)))
        return -ENOMEM;
    return 0;
fail:
    free(ps.scratch);
    PQclear(ps.out);
    return rc;
}

/* ---- the text form of a binary array ----------------------------------------- */

struct text {
    char *p;
    size_t len, cap;
};

static int put(struct text *t, const char *s, size_t n)
{
    if (cio__pg_grow(&t->p, &t->cap, t->len + n + 1) < 0)
        return -ENOMEM;
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = 0;
    return 0;
}

/* An element as array_out writes it: quoted (with " and \ escaped) when
 * it is empty, reads as NULL, or holds a brace, comma, quote, backslash or
 * space. */
static int put_element(struct text *t, const char *s, size_t n)
{
    bool quote = n == 0 || (n == 4 && strncasecmp(s, "NULL", 4) == 0);
    for (size_t i = 0; i < n && !quote; i++)
        quote = strchr("{},\"\\", s[i]) != NULL || is_space(s[i]);
    if (!quote)
        return put(t, s, n);
    int rc = put(t, "\"", 1);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (s[i] == '"' || s[i] == '\\')
            rc = put(t, "\\", 1);
        if (rc == 0)
            rc = put(t, s + i, 1);
    }
    return rc ? rc : put(t, "\"", 1);
}

/* The braces of the array in res's cell (row, 0), recursively. */
static int put_items(struct text *t, const cio_pg_result *res, int row, int col)
{
    cio_pg_result *elems;
    int rc = cio_pg_get_array(res, row, col, &elems);
    if (rc)
        return rc;
    rc = put(t, "{", 1);
    bool nested = cio__pg_array_elem(PQftype(elems->res, 0)) != 0;
    for (int k = 0; k < cio_pg_nrows(elems) && rc == 0; k++) {
        if (k && (rc = put(t, ",", 1)) != 0)
            break;
        if (cio_pg_is_null(elems, k, 0)) {
            rc = put(t, "NULL", 4);
        } else if (nested) {
            rc = put_items(t, elems, k, 0);
        } else {
            const char *s;
            size_t n;
            if ((rc = cio_pg_get_text(elems, k, 0, &s, &n)) == 0)
                rc = put_element(t, s, n);
        }
    }
    if (rc == 0)
        rc = put(t, "}", 1);
    cio_pg_result_free(elems);
    return rc;
}

int cio__pg_array_text(const cio_pg_result *r, int row, int col, const struct cio__pg_cell *c,
                       const char **out, size_t *len)
{
    struct bin_array a;
    int rc = bin_header(c->v, (size_t)c->len, cio__pg_array_elem(c->oid), &a);
    if (rc)
        return rc;
    struct text t = {0};
    /* Lower bounds other than 1 are written before the braces. */
    bool ones = true;
    for (int i = 0; i < a.ndim; i++)
        ones &= a.lbounds[i] == 1;
    for (int i = 0; i < a.ndim && !ones && rc == 0; i++) {
        char b[32];
        int n = snprintf(b, sizeof b, "[%d:%lld]", a.lbounds[i],
                         (long long)a.lbounds[i] + a.dims[i] - 1);
        rc = put(&t, b, (size_t)n);
    }
    if (rc == 0 && !ones)
        rc = put(&t, "=", 1);
    if (rc == 0)
        rc = put_items(&t, r, row, col);
    if (rc == 0 && !(*out = cio__pg_arena_put(r, t.p, t.len)))
        rc = -ENOMEM;
    if (rc == 0)
        *len = t.len;
    free(t.p);
    return rc;
}
