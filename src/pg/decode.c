/* Typed getters for dates, timestamps, uuid, bytea, numeric and JSON, in
 * both the binary and the text format. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/internal.h"

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

/* Reads min..max decimal digits at *s into *v; false if there are fewer,
 * or more (a value the caller's range check could not bound). */
static bool digits(const char **s, int min, int max, int64_t *v)
{
    const char *p = *s;
    int64_t x = 0;
    int n = 0;
    for (; n < max && *p >= '0' && *p <= '9'; n++)
        x = x * 10 + (*p++ - '0');
    if (n < min || (*p >= '0' && *p <= '9'))
        return false;
    *s = p;
    *v = x;
    return true;
}

/* Reads ":" and two digits below `bound` at *s, when *s is ':'. */
static bool field(const char **s, int64_t bound, int64_t *v)
{
    *v = 0;
    if (**s != ':')
        return true;
    (*s)++;
    return digits(s, 2, 2, v) && *v < bound;
}

/* Parses the ISO form PostgreSQL writes dates and timestamps in,
 * "YYYY-MM-DD[ HH:MM:SS[.ffffff][+-hh[:mm[:ss]]]][ BC]" (DateStyle ISO);
 * sets *days (since 1970-01-01) and *usec (of the day, UTC offset
 * applied). Every field is range-checked, so that nothing a server sends
 * can overflow what is computed from it: CIO_PG_EPROTO when malformed. */
static int parse_iso(const char *s, bool with_time, int64_t *days, int64_t *usec)
{
    /* Years: up to 5874897, the last of PostgreSQL's dates. */
    int64_t y, mo, d, hh = 0, mm = 0, ss = 0, us = 0;
    if (!digits(&s, 1, 7, &y) || *s++ != '-' || !digits(&s, 1, 2, &mo) || *s++ != '-' ||
        !digits(&s, 1, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > 31)
        return CIO_PG_EPROTO;
    if (with_time && s[0] == ' ' && s[1] >= '0' && s[1] <= '9') {
        s++;
        if (!digits(&s, 2, 2, &hh) || hh > 24 || *s != ':' || !field(&s, 60, &mm) || *s != ':' ||
            !field(&s, 61, &ss))
            return CIO_PG_EPROTO;
        us = ((hh * 60 + mm) * 60 + ss) * 1000000;
        if (*s == '.') {
            const char *from = ++s;
            int64_t frac;
            if (!digits(&s, 1, 6, &frac))
                return CIO_PG_EPROTO;
            for (ptrdiff_t n = s - from; n < 6; n++)
                frac *= 10;
            us += frac;
        }
        if (*s == '+' || *s == '-') {
            int64_t sign = *s++ == '-' ? -1 : 1, oh, om, os;
            if (!digits(&s, 1, 2, &oh) || oh > 23 || !field(&s, 60, &om) || !field(&s, 60, &os))
                return CIO_PG_EPROTO;
            us -= sign * ((oh * 60 + om) * 60 + os) * 1000000;
        }
    }
    if (strcmp(s, " BC") == 0)
        y = 1 - y;
    else if (*s)
        return CIO_PG_EPROTO;
    *days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    *usec = us;
    return 0;
}

int cio_pg_get_date(const cio_pg_result *r, int row, int col, int32_t *out)
{
    struct cio__pg_cell c;
    int rc = cio__pg_cell(r, row, col, out, &c);
    if (rc)
        return rc;
    if (c.oid != CIO_PG_DATEOID)
        return CIO_PG_ETYPE;
    int64_t d;
    if (c.bin) {
        if (c.len != 4)
            return CIO_PG_EPROTO;
        d = (int32_t)cio__pg_rd_be(c.v, 4);
        if (d == INT32_MAX || d == INT32_MIN) {
            *out = (int32_t)d;
            return 0;
        }
        d += CIO__PG_EPOCH_DAYS;
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
    struct cio__pg_cell c;
    int rc = cio__pg_cell(r, row, col, out, &c);
    if (rc)
        return rc;
    if (c.oid != CIO_PG_TIMESTAMPOID && c.oid != CIO_PG_TIMESTAMPTZOID)
        return CIO_PG_ETYPE;
    if (c.bin) {
        if (c.len != 8)
            return CIO_PG_EPROTO;
        int64_t v = (int64_t)cio__pg_rd_be(c.v, 8);
        if (v == INT64_MAX || v == INT64_MIN) /* infinity */
            *out = v;
        else if (__builtin_add_overflow(v, CIO__PG_EPOCH_USEC, out))
            return CIO_PG_ETYPE; /* past what our epoch can count */
        return 0;
    }
    if (strcmp(c.v, "infinity") == 0 || strcmp(c.v, "-infinity") == 0) {
        *out = c.v[0] == '-' ? INT64_MIN : INT64_MAX;
        return 0;
    }
    int64_t d, us;
    if ((rc = parse_iso(c.v, true, &d, &us)) != 0)
        return rc;
    if (__builtin_mul_overflow(d, CIO__PG_USEC_PER_DAY, &d) || __builtin_add_overflow(d, us, out))
        return CIO_PG_ETYPE;
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
    struct cio__pg_cell c;
    int rc = cio__pg_cell(r, row, col, out, &c);
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
    struct cio__pg_cell c;
    int rc = cio__pg_cell(r, row, col, out, &c);
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
    char *copy = cio__pg_arena_put(r, (const char *)u, n);
    PQfreemem(u);
    if (!copy)
        return -ENOMEM;
    *out = (const uint8_t *)copy;
    if (len)
        *len = n;
    return 0;
}

#define NUMERIC_POS 0x0000
#define NUMERIC_NEG 0x4000
#define NUMERIC_NAN 0xC000
#define NUMERIC_PINF 0xD000
#define NUMERIC_NINF 0xF000
#define NUMERIC_DSCALE_MAX 0x3FFF /* the 14 bits PostgreSQL stores */

/* Binary numeric to its text form, as PostgreSQL's numeric_out. The value
 * comes from the server: its header and every digit word are checked as
 * PostgreSQL's own numeric_recv does (CIO_PG_EPROTO when malformed), and
 * the text is written in a buffer sized from the header alone. */
int cio__pg_numeric_text(const cio_pg_result *r, const struct cio__pg_cell *c, const char **out)
{
    if (c->len < 8)
        return CIO_PG_EPROTO;
    const char *v = c->v;
    int nd = (int16_t)cio__pg_rd_be(v, 2), weight = (int16_t)cio__pg_rd_be(v + 2, 2);
    unsigned sign = (unsigned)cio__pg_rd_be(v + 4, 2);
    int dscale = (int16_t)cio__pg_rd_be(v + 6, 2);
    if (nd < 0 || dscale < 0 || dscale > NUMERIC_DSCALE_MAX || c->len != 8 + 2 * nd)
        return CIO_PG_EPROTO;
    const char *special = sign == NUMERIC_NAN    ? "NaN"
                          : sign == NUMERIC_PINF ? "Infinity"
                          : sign == NUMERIC_NINF ? "-Infinity"
                                                 : NULL;
    if (special) {
        if (nd != 0)
            return CIO_PG_EPROTO;
        *out = cio__pg_arena_put(r, special, strlen(special));
        return *out ? 0 : -ENOMEM;
    }
    if (sign != NUMERIC_POS && sign != NUMERIC_NEG)
        return CIO_PG_EPROTO;
    for (int d = 0; d < nd; d++)
        if (cio__pg_rd_be(v + 8 + 2 * d, 2) > 9999)
            return CIO_PG_EPROTO;
    /* Sign, integer part (4 characters per group of weight + 1, or "0"),
     * point, dscale digits. */
    size_t cap = 1 + (size_t)(weight >= 0 ? weight + 1 : 1) * 4 + 1 + (size_t)dscale;
    char *buf = malloc(cap), *p = buf;
    if (!buf)
        return -ENOMEM;
    if (sign == NUMERIC_NEG)
        *p++ = '-';
    if (weight < 0) {
        *p++ = '0';
    } else {
        for (int d = 0; d <= weight; d++) {
            unsigned dig = d < nd ? (unsigned)cio__pg_rd_be(v + 8 + 2 * d, 2) : 0;
            char g[4] = {(char)('0' + dig / 1000), (char)('0' + dig / 100 % 10),
                         (char)('0' + dig / 10 % 10), (char)('0' + dig % 10)};
            int k = 0;
            if (d == 0) /* no leading zeros */
                while (k < 3 && g[k] == '0')
                    k++;
            for (; k < 4; k++)
                *p++ = g[k];
        }
    }
    if (dscale > 0) {
        *p++ = '.';
        int emitted = 0;
        for (int d = weight + 1; emitted < dscale; d++) {
            unsigned dig = d >= 0 && d < nd ? (unsigned)cio__pg_rd_be(v + 8 + 2 * d, 2) : 0;
            char g[4] = {(char)('0' + dig / 1000), (char)('0' + dig / 100 % 10),
                         (char)('0' + dig / 10 % 10), (char)('0' + dig % 10)};
            for (int k = 0; k < 4 && emitted < dscale; k++, emitted++)
                *p++ = g[k];
        }
    }
    *out = cio__pg_arena_put(r, buf, (size_t)(p - buf));
    free(buf);
    return *out ? 0 : -ENOMEM;
}

int cio_pg_get_numeric(const cio_pg_result *r, int row, int col, const char **out)
{
    struct cio__pg_cell c;
    int rc = cio__pg_cell(r, row, col, out, &c);
    if (rc)
        return rc;
    if (c.oid != CIO_PG_NUMERICOID)
        return CIO_PG_ETYPE;
    if (!c.bin) {
        *out = c.v;
        return 0;
    }
    return cio__pg_numeric_text(r, &c, out);
}

int cio_pg_get_json(const cio_pg_result *r, int row, int col, const char **out, size_t *len)
{
    struct cio__pg_cell c;
    int rc = cio__pg_cell(r, row, col, out, &c);
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
