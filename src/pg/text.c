/* cio_pg_get_text(): any value as PostgreSQL's text form. Text-format
 * results are returned as they are; binary values are rendered on demand
 * and kept with the result. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/numtext.h"
#include "pg/internal.h"

/* ---- any value as text ------------------------------------------------------------------ */

/* buf holds at least FMT_DOUBLE_SIZE bytes. Returns the length, or
 * -ENOMEM (see cio__fmt_g()). */
#define FMT_DOUBLE_SIZE 32
static int fmt_double(char *buf, double v, bool single)
{
    if (isnan(v))
        return sprintf(buf, "NaN");
    if (isinf(v))
        return sprintf(buf, v > 0 ? "Infinity" : "-Infinity");
    /* The shortest form that reads back exactly, as PostgreSQL 12+; with
     * '.' whatever the program's locale, as PostgreSQL writes it. */
    for (int prec = 1; prec <= 17; prec++) {
        int n = cio__fmt_g(buf, FMT_DOUBLE_SIZE, prec, v);
        char *end;
        if (n < 0 ||
            (single ? cio__strtof_c(buf, &end) == (float)v : cio__strtod_c(buf, &end) == v))
            return n;
    }
    return cio__fmt_g(buf, FMT_DOUBLE_SIZE, 17, v);
}

int cio_pg_get_text(const cio_pg_result *r, int row, int col, const char **out, size_t *len)
{
    struct cio__pg_cell c;
    int rc = cio__pg_cell(r, row, col, out, &c);
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
        if ((rc = cio__pg_numeric_text(r, &c, out)) != 0)
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
        int w = fmt_double(buf, v, c.oid == CIO_PG_FLOAT4OID);
        if (w < 0)
            return w;
        bl = (size_t)w;
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
            int64_t day = us / CIO__PG_USEC_PER_DAY - (us % CIO__PG_USEC_PER_DAY < 0);
            bl = cio__pg_fmt_datetime(buf, day, us - day * CIO__PG_USEC_PER_DAY, true,
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
        *out = cio__pg_arena_put(r, h, 2 * n + 2);
        free(h);
        if (!*out)
            return -ENOMEM;
        n = 2 * n + 2;
        goto done;
    }
    default: /* text, varchar, bpchar, name, char, json, unknown: the bytes */
        if (cio__pg_array_elem(c.oid)) {
            if ((rc = cio__pg_array_text(r, row, col, &c, out, &n)) != 0)
                return rc;
            goto done;
        }
        *out = c.v;
        goto done;
    }
    if (!(*out = cio__pg_arena_put(r, buf, bl)))
        return -ENOMEM;
    n = bl;
done:
    if (len)
        *len = n;
    return 0;
}
