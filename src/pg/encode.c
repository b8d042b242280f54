/* Query parameters: cio_pg_arg values to libpq's arrays (binary for the
 * scalar types, text for the rest), and to COPY's text format. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/numtext.h"
#include "pg/internal.h"

/* PostgreSQL's epoch (2000-01-01) from the Unix epoch. */

static void be16(char *p, uint16_t v)
{
    p[0] = (char)(v >> 8);
    p[1] = (char)v;
}
static void be64(char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (char)(v >> (56 - 8 * i));
}

static int64_t to_pg_usec(int64_t us)
{
    if (us == INT64_MAX || us == INT64_MIN)
        return us;
    return us - CIO__PG_EPOCH_USEC;
}

static int32_t to_pg_days(int64_t d)
{
    if (d == INT32_MAX || d == INT32_MIN)
        return (int32_t)d;
    return (int32_t)(d - CIO__PG_EPOCH_DAYS);
}

static bool is_array(const cio_pg_arg *a)
{
    return a->kind_ >= CIO__PG_K_ARRAY;
}

/* An array argument of an element type with an array type, and elements. */
static bool array_ok(const cio_pg_arg *a)
{
    return cio__pg_array_type(a->oid_) && a->len_ >= 0 && (a->len_ == 0 || a->v_.p);
}

int cio__pg_params_init(struct cio__pg_params *p, const cio_pg_arg *args, int n)
{
    p->heap = NULL;
    p->arrays = NULL;
    p->arrays_len = p->arrays_cap = 0;
    if (n < 0 || (n > 0 && !args) || n > 65535)
        return -EINVAL;
    if (n <= 8) {
        p->values = p->values_;
        p->lengths = p->lengths_;
        p->formats = p->formats_;
        p->oids = p->oids_;
        p->scratch = p->scratch_;
    } else {
        size_t un = (size_t)n;
        char *h = malloc(un * (sizeof(char *) + 2 * sizeof(int) + sizeof(uint32_t) + 16));
        if (!h)
            return -ENOMEM;
        p->heap = h;
        p->values = (const char **)(void *)h;
        p->lengths = (int *)(void *)(h + un * sizeof(char *));
        p->formats = p->lengths + un;
        p->oids = (uint32_t *)(void *)(p->formats + un);
        p->scratch = (char *)(p->oids + un);
    }
    for (int i = 0; i < n; i++) {
        p->oids[i] = cio__pg_arg_type(&args[i]);
        if (is_array(&args[i]) && !array_ok(&args[i])) {
            cio__pg_params_free(p);
            return -EINVAL;
        }
    }
    return 0;
}

static int encode_array(char **buf, size_t *len, size_t *cap, const cio_pg_arg *a);
static cio_pg_arg array_elem(const cio_pg_arg *a, int k);

const char *cio__pg_arg_problem(const cio_pg_arg *a)
{
    if (!cio__pg_arg_len_ok(a))
        return "a value longer than 2147483647 bytes cannot be sent";
    if (!is_array(a))
        return NULL;
    if (!cio__pg_array_type(a->oid_))
        return "an array of an element type that has no array type here";
    if (!array_ok(a))
        return "an array of more than 2147483647 elements, or without its elements";
    if (a->kind_ != CIO__PG_K_ARRAY)
        return NULL; /* a C array: its elements are of its type */
    for (int k = 0; k < a->len_; k++) {
        cio_pg_arg e = array_elem(a, k);
        if (is_array(&e) || !cio__pg_binary_copy_ok(&e, a->oid_))
            return "an array element is not of the array's element type (numeric elements: "
                   "send text and cast)";
        if (!cio__pg_arg_len_ok(&e))
            return "an array element longer than 2147483647 bytes cannot be sent";
    }
    return NULL;
}

/* The binary form of a fixed-size value (bool, integers, floats, date,
 * timestamps) in s (8 bytes at most); returns its length, or -1 for the
 * other kinds. */
static inline int put_scalar(char *s, const cio_pg_arg *a)
{
    switch (a->kind_) {
    case CIO__PG_K_BOOL:
        s[0] = a->v_.i != 0;
        return 1;
    case CIO__PG_K_INT2:
        be16(s, (uint16_t)a->v_.i);
        return 2;
    case CIO__PG_K_INT4:
        cio__pg_wr_be32(s, (uint32_t)a->v_.i);
        return 4;
    case CIO__PG_K_DATE:
        cio__pg_wr_be32(s, (uint32_t)to_pg_days(a->v_.i));
        return 4;
    case CIO__PG_K_INT8:
        be64(s, (uint64_t)a->v_.i);
        return 8;
    case CIO__PG_K_TIMESTAMP:
    case CIO__PG_K_TIMESTAMPTZ:
        be64(s, (uint64_t)to_pg_usec(a->v_.i));
        return 8;
    case CIO__PG_K_FLOAT4: {
        float f = (float)a->v_.d;
        uint32_t u;
        memcpy(&u, &f, 4);
        cio__pg_wr_be32(s, u);
        return 4;
    }
    case CIO__PG_K_FLOAT8: {
        uint64_t u;
        memcpy(&u, &a->v_.d, 8);
        be64(s, u);
        return 8;
    }
    default:
        return -1;
    }
}

int cio__pg_params_fill(struct cio__pg_params *p, const cio_pg_arg *args, int n)
{
    p->arrays_len = 0;
    for (int i = 0; i < n; i++) {
        const cio_pg_arg *a = &args[i];
        char *s = p->scratch + 16 * i;
        if (!cio__pg_arg_len_ok(a))
            return -EINVAL;
        p->formats[i] = 1;
        p->values[i] = s;
        switch (a->kind_) {
        case CIO__PG_K_NULL:
            p->values[i] = NULL;
            p->lengths[i] = 0;
            break;
        case CIO__PG_K_UUID:
        case CIO__PG_K_BYTEA:
            p->values[i] = a->v_.p;
            p->lengths[i] = a->len_;
            break;
        case CIO__PG_K_TEXT:
            /* libpq measures text-format values with strlen: a counted
             * string (cio_pg_textn, typed text) goes in text's binary
             * form, which is its bytes. */
            p->values[i] = a->v_.p;
            p->lengths[i] = a->len_ >= 0 ? a->len_ : 0;
            p->formats[i] = a->len_ >= 0;
            break;
        default:
            if (is_array(a)) {
                /* An offset for now: a later array may move the buffer. */
                size_t at = p->arrays_len;
                int rc = encode_array(&p->arrays, &p->arrays_len, &p->arrays_cap, a);
                if (rc)
                    return rc;
                p->lengths[i] = (int)(p->arrays_len - at);
                p->values[i] = NULL;
                memcpy(s, &at, sizeof at);
            } else {
                p->lengths[i] = put_scalar(s, a);
            }
        }
    }
    if (p->arrays_len) {
        for (int i = 0; i < n; i++) {
            if (is_array(&args[i])) {
                size_t at;
                memcpy(&at, p->scratch + 16 * i, sizeof at);
                p->values[i] = p->arrays + at;
            }
        }
    }
    return 0;
}

void cio__pg_params_free(struct cio__pg_params *p)
{
    free(p->heap);
    free(p->arrays);
    p->heap = NULL;
    p->arrays = NULL;
}

/* ---- COPY text format ------------------------------------------------------ */

int cio__pg_grow_slow(char **buf, size_t *cap, size_t need)
{
    size_t n = *cap ? *cap * 2 : 4096;
    while (n < need)
        n *= 2;
    char *b = realloc(*buf, n);
    if (!b)
        return -ENOMEM;
    *buf = b;
    *cap = n;
    return 0;
}

static size_t fmt_i64(char *out, int64_t v)
{
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t k = 0;
    if (v < 0)
        out[k++] = '-';
    while (n)
        out[k++] = tmp[--n];
    return k;
}

/* Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm). */
void cio__pg_civil(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

/* ISO text of a date (days) or timestamp (usec), as PostgreSQL prints it. */
size_t cio__pg_fmt_datetime(char *out, int64_t days, int64_t usec_of_day, bool with_time, bool utc)
{
    int64_t y;
    unsigned m, d;
    cio__pg_civil(days, &y, &m, &d);
    bool bc = y <= 0;
    int n = snprintf(out, 64, "%04" PRId64 "-%02u-%02u", bc ? 1 - y : y, m, d);
    if (with_time) {
        int64_t s = usec_of_day / 1000000, us = usec_of_day % 1000000;
        n += snprintf(out + n, 64 - (size_t)n, " %02d:%02d:%02d", (int)(s / 3600),
                      (int)(s / 60 % 60), (int)(s % 60));
        if (us) {
            n += snprintf(out + n, 64 - (size_t)n, ".%06d", (int)us);
            while (out[n - 1] == '0')
                out[--n] = 0;
        }
        if (utc)
            n += snprintf(out + n, 64 - (size_t)n, "+00");
    }
    if (bc)
        n += snprintf(out + n, 64 - (size_t)n, " BC");
    return (size_t)n;
}

static int64_t floordiv(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int put_escaped(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (cio__pg_grow(buf, cap, *len + 2 * n + 2) < 0)
        return -ENOMEM;
    char *o = *buf + *len;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        switch (ch) {
        case '\\':
            *o++ = '\\';
            *o++ = '\\';
            break;
        case '\n':
            *o++ = '\\';
            *o++ = 'n';
            break;
        case '\r':
            *o++ = '\\';
            *o++ = 'r';
            break;
        case '\t':
            *o++ = '\\';
            *o++ = 't';
            break;
        default:
            *o++ = ch;
        }
    }
    *len = (size_t)(o - *buf);
    return 0;
}

/* The text form of a value of fixed size (bool, integers, floats, dates,
 * timestamps, uuid) at o, which has room for 80 bytes: its length, or -1
 * for the other kinds. None of them holds a character COPY or an array
 * literal escapes. */
static int fixed_text(char *o, const cio_pg_arg *a)
{
    static const char hex[] = "0123456789abcdef";
    switch (a->kind_) {
    case CIO__PG_K_BOOL:
        *o = a->v_.i ? 't' : 'f';
        return 1;
    case CIO__PG_K_INT2:
    case CIO__PG_K_INT4:
    case CIO__PG_K_INT8:
        return (int)fmt_i64(o, a->v_.i);
    case CIO__PG_K_FLOAT4:
    case CIO__PG_K_FLOAT8:
        /* '.' whatever the program's locale: COPY reads it so. */
        return cio__fmt_g(o, 64, a->kind_ == CIO__PG_K_FLOAT4 ? 9 : 17, a->v_.d);
    case CIO__PG_K_DATE:
        if (a->v_.i == INT32_MAX || a->v_.i == INT32_MIN)
            return sprintf(o, a->v_.i > 0 ? "infinity" : "-infinity");
        return (int)cio__pg_fmt_datetime(o, a->v_.i, 0, false, false);
    case CIO__PG_K_TIMESTAMP:
    case CIO__PG_K_TIMESTAMPTZ:
        if (a->v_.i == INT64_MAX || a->v_.i == INT64_MIN)
            return sprintf(o, a->v_.i > 0 ? "infinity" : "-infinity");
        int64_t day = floordiv(a->v_.i, INT64_C(86400000000));
        return (int)cio__pg_fmt_datetime(o, day, a->v_.i - day * INT64_C(86400000000), true,
                                         a->kind_ == CIO__PG_K_TIMESTAMPTZ);
    case CIO__PG_K_UUID: {
        const uint8_t *u = a->v_.p;
        for (int k = 0; k < 16; k++) {
            if (k == 4 || k == 6 || k == 8 || k == 10)
                *o++ = '-';
            *o++ = hex[u[k] >> 4];
            *o++ = hex[u[k] & 15];
        }
        return 36;
    }
    default:
        return -1;
    }
}

/* bytea's hex text form ("\x0102"), with its backslash doubled as many
 * times as the layers around it need (1: none, 2: COPY's or an array's, 4:
 * both). */
static int put_bytea_hex(char **buf, size_t *len, size_t *cap, const cio_pg_arg *a, int slashes)
{
    static const char hex[] = "0123456789abcdef";
    size_t bl = (size_t)a->len_;
    if (cio__pg_grow(buf, cap, *len + 2 * bl + 8) < 0)
        return -ENOMEM;
    char *o = *buf + *len;
    for (int k = 0; k < slashes; k++)
        *o++ = '\\';
    *o++ = 'x';
    const uint8_t *b = a->v_.p;
    for (size_t k = 0; k < bl; k++) {
        *o++ = hex[b[k] >> 4];
        *o++ = hex[b[k] & 15];
    }
    *len = (size_t)(o - *buf);
    return 0;
}

/* An array argument as an array literal ({"1","2",NULL}): every element
 * quoted, so that no element's text needs the unquoted form's rules. The
 * elements are checked as for the binary form (cio_pg_array()'s
 * contract). */
static int array_literal(char **buf, size_t *len, size_t *cap, const cio_pg_arg *a)
{
    uint32_t elem = a->oid_;
    if (!array_ok(a))
        return -EINVAL;
    if (cio__pg_grow(buf, cap, *len + 2) < 0)
        return -ENOMEM;
    (*buf)[(*len)++] = '{';
    for (int k = 0; k < a->len_; k++) {
        cio_pg_arg e = array_elem(a, k);
        if (is_array(&e) || !cio__pg_binary_copy_ok(&e, elem) || !cio__pg_arg_len_ok(&e))
            return -EINVAL;
        if (cio__pg_grow(buf, cap, *len + 88) < 0)
            return -ENOMEM;
        char *o = *buf + *len;
        if (k)
            *o++ = ',';
        *len = (size_t)(o - *buf);
        if (e.kind_ == CIO__PG_K_NULL) {
            memcpy(o, "NULL", 4);
            *len += 4;
            continue;
        }
        *o++ = '"';
        *len += 1;
        int n = fixed_text(o, &e);
        if (n < -1)
            return n;
        if (n >= 0) {
            *len += (size_t)n;
        } else if (e.kind_ == CIO__PG_K_BYTEA) {
            if (put_bytea_hex(buf, len, cap, &e, 2) < 0)
                return -ENOMEM;
        } else { /* text: '"' and '\' escaped */
            const char *s = e.v_.p;
            size_t sl = e.len_ >= 0 ? (size_t)e.len_ : strlen(s);
            if (cio__pg_grow(buf, cap, *len + 2 * sl + 2) < 0)
                return -ENOMEM;
            o = *buf + *len;
            for (size_t i = 0; i < sl; i++) {
                if (s[i] == '"' || s[i] == '\\')
                    *o++ = '\\';
                *o++ = s[i];
            }
            *len = (size_t)(o - *buf);
        }
        if (cio__pg_grow(buf, cap, *len + 1) < 0)
            return -ENOMEM;
        (*buf)[(*len)++] = '"';
    }
    if (cio__pg_grow(buf, cap, *len + 1) < 0)
        return -ENOMEM;
    (*buf)[(*len)++] = '}';
    return 0;
}

int cio__pg_copy_text_row(char **buf, size_t *len, size_t *cap, const cio_pg_arg *args, int n)
{
    for (int i = 0; i < n; i++) {
        const cio_pg_arg *a = &args[i];
        if (!cio__pg_arg_len_ok(a))
            return -EINVAL;
        if (cio__pg_grow(buf, cap, *len + 80) < 0)
            return -ENOMEM;
        char *o = *buf + *len;
        int w = fixed_text(o, a);
        if (w < -1)
            return w;
        if (w >= 0) {
            *len += (size_t)w;
        } else if (a->kind_ == CIO__PG_K_NULL) {
            memcpy(o, "\\N", 2);
            *len += 2;
        } else if (a->kind_ == CIO__PG_K_BYTEA) {
            if (put_bytea_hex(buf, len, cap, a, 2) < 0)
                return -ENOMEM;
        } else if (is_array(a)) {
            /* The literal, then escaped for COPY like any text. */
            char *lit = NULL;
            size_t ll = 0, lc = 0;
            int rc = array_literal(&lit, &ll, &lc, a);
            if (rc == 0)
                rc = put_escaped(buf, len, cap, lit, ll);
            free(lit);
            if (rc)
                return rc;
        } else {
            const char *s = a->v_.p;
            size_t sl = a->len_ >= 0 ? (size_t)a->len_ : strlen(s);
            if (put_escaped(buf, len, cap, s, sl) < 0)
                return -ENOMEM;
        }
        if (cio__pg_grow(buf, cap, *len + 1) < 0)
            return -ENOMEM;
        (*buf)[(*len)++] = i + 1 < n ? '\t' : '\n';
    }
    if (n == 0) {
        if (cio__pg_grow(buf, cap, *len + 1) < 0)
            return -ENOMEM;
        (*buf)[(*len)++] = '\n';
    }
    return 0;
}

/* ---- COPY binary format ----------------------------------------------------- */

static bool texty(uint32_t t)
{
    return t == CIO_PG_TEXTOID || t == CIO_PG_VARCHAROID || t == CIO_PG_BPCHAROID ||
           t == CIO_PG_JSONOID || t == 19 /* name */;
}

bool cio__pg_binary_copy_ok(const cio_pg_arg *a, uint32_t type)
{
    if (is_array(a))
        return type && type == cio__pg_array_type(a->oid_);
    switch (a->kind_) {
    case CIO__PG_K_NULL:
        return true;
    case CIO__PG_K_TEXT:
        if (a->oid_ == 0 || a->oid_ == CIO_PG_TEXTOID)
            return texty(type) || type == CIO_PG_JSONBOID;
        return a->oid_ == type && (type == CIO_PG_JSONOID || type == CIO_PG_JSONBOID);
    default:
        return a->oid_ == type;
    }
}

int cio__pg_copy_binary_header(char **buf, size_t *len, size_t *cap)
{
    static const char hdr[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
    if (cio__pg_grow(buf, cap, *len + sizeof hdr) < 0)
        return -ENOMEM;
    memcpy(*buf + *len, hdr, sizeof hdr);
    *len += sizeof hdr;
    return 0;
}

int cio__pg_copy_binary_trailer(char **buf, size_t *len, size_t *cap)
{
    if (cio__pg_grow(buf, cap, *len + 2) < 0)
        return -ENOMEM;
    be16(*buf + *len, 0xffff);
    *len += 2;
    return 0;
}

/* One value in the binary format of `type` (cio__pg_binary_copy_ok()
 * holds): its length (-1 for NULL) and its bytes, as COPY's binary rows
 * and binary arrays both carry them. */
static int binary_value(char **buf, size_t *len, size_t *cap, const cio_pg_arg *a, uint32_t type)
{
    const char *v;
    size_t vl;
    bool jsonb = false;
    if (!cio__pg_arg_len_ok(a))
        return -EINVAL;
    switch (a->kind_) {
    case CIO__PG_K_NULL:
        if (cio__pg_grow(buf, cap, *len + 4) < 0)
            return -ENOMEM;
        cio__pg_wr_be32(*buf + *len, 0xffffffffu);
        *len += 4;
        return 0;
    case CIO__PG_K_TEXT:
        v = a->v_.p;
        vl = a->len_ >= 0 ? (size_t)a->len_ : strlen(v); /* text form: as libpq measures it */
        jsonb = type == CIO_PG_JSONBOID;
        break;
    case CIO__PG_K_UUID:
    case CIO__PG_K_BYTEA:
        v = a->v_.p;
        vl = (size_t)a->len_;
        break;
    default: {
        if (is_array(a)) {
            size_t at = *len;
            if (cio__pg_grow(buf, cap, *len + 4) < 0)
                return -ENOMEM;
            *len += 4;
            int rc = encode_array(buf, len, cap, a);
            if (rc)
                return rc;
            cio__pg_wr_be32(*buf + at, (uint32_t)(*len - at - 4));
            return 0;
        }
        if (cio__pg_grow(buf, cap, *len + 12) < 0)
            return -ENOMEM;
        char *o = *buf + *len;
        int n = put_scalar(o + 4, a);
        cio__pg_wr_be32(o, (uint32_t)n);
        *len += 4 + (size_t)n;
        return 0;
    }
    }
    if (cio__pg_grow(buf, cap, *len + 5 + vl) < 0)
        return -ENOMEM;
    char *o = *buf + *len;
    cio__pg_wr_be32(o, (uint32_t)(vl + jsonb));
    o += 4;
    if (jsonb)
        *o++ = 1; /* jsonb's binary format version */
    memcpy(o, v, vl);
    *len += 4 + jsonb + vl;
    return 0;
}

int cio__pg_copy_binary_row(char **buf, size_t *len, size_t *cap, const cio_pg_arg *args, int n,
                            const uint32_t *types)
{
    if (cio__pg_grow(buf, cap, *len + 2) < 0)
        return -ENOMEM;
    be16(*buf + *len, (uint16_t)n);
    *len += 2;
    for (int i = 0; i < n; i++) {
        int rc = binary_value(buf, len, cap, &args[i], types[i]);
        if (rc)
            return rc;
    }
    return 0;
}

uint32_t cio__pg_array_type(uint32_t elem)
{
    switch (elem) {
    case CIO_PG_BOOLOID:
        return 1000;
    case CIO_PG_BYTEAOID:
        return 1001;
    case CIO__PG_CHAROID:
        return 1002;
    case CIO__PG_NAMEOID:
        return 1003;
    case CIO_PG_INT8OID:
        return 1016;
    case CIO_PG_INT2OID:
        return 1005;
    case CIO_PG_INT4OID:
        return 1007;
    case CIO_PG_TEXTOID:
        return 1009;
    case CIO_PG_OIDOID:
        return 1028;
    case CIO_PG_JSONOID:
        return 199;
    case CIO_PG_FLOAT4OID:
        return 1021;
    case CIO_PG_FLOAT8OID:
        return 1022;
    case CIO_PG_BPCHAROID:
        return 1014;
    case CIO_PG_VARCHAROID:
        return 1015;
    case CIO_PG_DATEOID:
        return 1182;
    case CIO_PG_TIMESTAMPOID:
        return 1115;
    case CIO_PG_TIMESTAMPTZOID:
        return 1185;
    case CIO_PG_NUMERICOID:
        return 1231;
    case CIO_PG_UUIDOID:
        return 2951;
    case CIO_PG_JSONBOID:
        return 3807;
    default:
        return 0;
    }
}

int cio__pg_array_begin(struct cio__pg_array *a, uint32_t elem)
{
    a->len = 0;
    a->n = 0;
    a->nulls = false;
    a->elem = elem;
    if (cio__pg_grow(&a->buf, &a->cap, 20) < 0)
        return -ENOMEM;
    a->len = 20; /* the header, written by cio__pg_array_end() */
    return 0;
}

int cio__pg_array_add(struct cio__pg_array *a, const cio_pg_arg *v)
{
    a->nulls |= v->kind_ == CIO__PG_K_NULL;
    a->n++;
    return binary_value(&a->buf, &a->len, &a->cap, v, a->elem);
}

void cio__pg_array_end(struct cio__pg_array *a)
{
    char *o = a->buf;
    cio__pg_wr_be32(o, 1);                   /* dimensions */
    cio__pg_wr_be32(o + 4, a->nulls);        /* has NULLs */
    cio__pg_wr_be32(o + 8, a->elem);         /* element type */
    cio__pg_wr_be32(o + 12, (uint32_t)a->n); /* length */
    cio__pg_wr_be32(o + 16, 1);              /* lower bound */
}

/* Element k of an array argument, as the argument its constructor makes. */
static cio_pg_arg array_elem(const cio_pg_arg *a, int k)
{
    switch (a->kind_) {
    case CIO__PG_K_ARRAY_INT4:
        return cio_pg_int4(((const int32_t *)a->v_.p)[k]);
    case CIO__PG_K_ARRAY_INT8:
        return cio_pg_int8(((const int64_t *)a->v_.p)[k]);
    case CIO__PG_K_ARRAY_FLOAT8:
        return cio_pg_float8(((const double *)a->v_.p)[k]);
    case CIO__PG_K_ARRAY_TEXT:
        return cio_pg_text(((const char *const *)a->v_.p)[k]);
    default:
        return ((const cio_pg_arg *)a->v_.p)[k];
    }
}

/* Appends array argument a in array_recv's binary form: -EINVAL when an
 * element cannot go in binary as the element type (cio_pg_array()'s
 * contract), or an array of no known type. */
static int encode_array(char **buf, size_t *len, size_t *cap, const cio_pg_arg *a)
{
    uint32_t elem = a->oid_;
    if (!array_ok(a)) /* COPY rows and executemany's later rows come unchecked */
        return -EINVAL;
    size_t at = *len, head = a->len_ ? 20 : 12; /* an empty array has no dimension */
    if (cio__pg_grow(buf, cap, *len + head) < 0)
        return -ENOMEM;
    *len += head;
    bool nulls = false;
    for (int k = 0; k < a->len_; k++) {
        cio_pg_arg e = array_elem(a, k);
        if (is_array(&e) || !cio__pg_binary_copy_ok(&e, elem))
            return -EINVAL;
        nulls |= e.kind_ == CIO__PG_K_NULL;
        int rc = binary_value(buf, len, cap, &e, elem);
        if (rc)
            return rc;
    }
    if (*len - at > INT32_MAX) /* a value's length on the wire is an int32 */
        return -EINVAL;
    char *o = *buf + at;
    cio__pg_wr_be32(o, a->len_ ? 1 : 0); /* dimensions */
    cio__pg_wr_be32(o + 4, nulls);       /* has NULLs */
    cio__pg_wr_be32(o + 8, elem);        /* element type */
    if (a->len_) {
        cio__pg_wr_be32(o + 12, (uint32_t)a->len_); /* length */
        cio__pg_wr_be32(o + 16, 1);                 /* lower bound */
    }
    return 0;
}
