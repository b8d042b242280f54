/* Array values read as results of their own (asyncpg's lists): one row per
 * element of the first dimension, read with the ordinary getters.
 *
 * Array columns always come in PostgreSQL's text form (cio asks for binary
 * results only when every column is a scalar type it decodes), so this is a
 * parser of array_out's output: "{1,2,NULL}", "{\"a b\",\"q\\\"\"}",
 * "{{1,2},{3,4}}", "[0:1]={7,8}". It is fed what a server sends, so it
 * checks everything and never reads past the value. */
#include <errno.h>
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

int cio_pg_get_array(const cio_pg_result *r, int row, int col, cio_pg_result **out)
{
    if (out)
        *out = NULL;
    struct cio__pg_cell c;
    int rc = cio__pg_cell(r, row, col, out, &c);
    if (rc)
        return rc;
    uint32_t elem = cio__pg_array_elem(c.oid);
    /* Never binary: array types are not among those cio asks binary for. */
    if (!elem || c.bin)
        return CIO_PG_ETYPE;
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
