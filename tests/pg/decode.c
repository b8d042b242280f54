/* The binary decoders against values a hostile or broken server could
 * send: results are built in memory with libpq's PQmakeEmptyPGresult and
 * PQsetvalue (no server needed), so every byte of a value is ours to
 * choose. A malformed value is CIO_PG_EPROTO, never a crash or an
 * overflow (the suite runs under AddressSanitizer). */
#include "helpers.h"

#include <stdio.h>
#include <string.h>

#include "pg/internal.h"

/* A one-row, one-column result of type oid in the given format (1:
 * binary, 0: text) holding the len bytes at v. */
static cio_pg_result *value(uint32_t oid, int format, const void *v, int len)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    assert_non_null(res);
    PGresAttDesc col = {.name = "v", .typid = oid, .typlen = -1, .atttypmod = -1, .format = format};
    assert_int_equal(PQsetResultAttrs(res, 1, &col), 1);
    assert_int_equal(PQsetvalue(res, 0, 0, (char *)v, len), 1);
    cio_pg_result *r = cio__pg_result_wrap(res);
    assert_non_null(r);
    return r;
}

static cio_pg_result *binary_value(uint32_t oid, const void *v, int len)
{
    return value(oid, 1, v, len);
}

/* numeric's external binary form: ndigits, weight, sign, dscale, then
 * ndigits base-10000 digits, all big-endian 16-bit. */
static int numeric_bytes(unsigned char *out, int weight, unsigned sign, int dscale,
                         const unsigned *digits, int nd)
{
    unsigned fields[4] = {(unsigned)nd, (unsigned)weight, sign, (unsigned)dscale};
    int n = 0;
    for (int i = 0; i < 4; i++) {
        out[n++] = (unsigned char)(fields[i] >> 8);
        out[n++] = (unsigned char)fields[i];
    }
    for (int i = 0; i < nd; i++) {
        out[n++] = (unsigned char)(digits[i] >> 8);
        out[n++] = (unsigned char)digits[i];
    }
    return n;
}

/* The text of a numeric, through both getters that decode it; NULL when
 * either fails (then *rc is the error, and both must agree). */
static const char *numeric_text(int weight, unsigned sign, int dscale, const unsigned *digits,
                                int nd, int extra_len, int *rc)
{
    static char copy[512];
    unsigned char buf[8 + 2 * 64];
    assert_true(nd <= 64);
    int len = numeric_bytes(buf, weight, sign, dscale, digits, nd);
    cio_pg_result *r = binary_value(CIO_PG_NUMERICOID, buf, len + extra_len);
    const char *num = NULL, *text = NULL;
    *rc = cio_pg_get_numeric(r, 0, 0, &num);
    int rc2 = cio_pg_get_text(r, 0, 0, &text, NULL);
    assert_int_equal(*rc, rc2);
    if (*rc == 0) {
        assert_string_equal(num, text);
        snprintf(copy, sizeof copy, "%s", num);
    }
    cio_pg_result_free(r);
    return *rc == 0 ? copy : NULL;
}

static void test_numeric_valid(void **state)
{
    (void)state;
    int rc;
    const unsigned a[] = {12, 3456, 7800};
    assert_string_equal(numeric_text(1, 0x4000, 4, a, 3, 0, &rc), "-123456.7800");
    assert_string_equal(numeric_text(1, 0x0000, 0, a, 3, 0, &rc), "123456");
    const unsigned b[] = {12};
    assert_string_equal(numeric_text(-3, 0x0000, 14, b, 1, 0, &rc), "0.00000000001200");
    assert_string_equal(numeric_text(0, 0x0000, 0, NULL, 0, 0, &rc), "0");
    const unsigned nines[] = {9999, 9999, 9999, 9999, 9999, 9999, 9999, 9999};
    assert_string_equal(numeric_text(7, 0x4000, 2, nines, 8, 0, &rc),
                        "-99999999999999999999999999999999.00");
    /* A large weight with few digits: trailing zero groups. */
    const unsigned one[] = {1};
    const char *big = numeric_text(20, 0x0000, 0, one, 1, 0, &rc);
    assert_non_null(big);
    assert_int_equal(strlen(big), 81);
    assert_true(big[0] == '1' && strspn(big + 1, "0") == 80);
    assert_string_equal(numeric_text(0, 0xC000, 0, NULL, 0, 0, &rc), "NaN");
    assert_string_equal(numeric_text(0, 0xD000, 0, NULL, 0, 0, &rc), "Infinity");
    assert_string_equal(numeric_text(0, 0xF000, 0, NULL, 0, 0, &rc), "-Infinity");
}

static void test_numeric_malformed(void **state)
{
    (void)state;
    int rc;
    /* Digit words past 9999, in 7 groups and more: five characters each
     * would overrun a buffer sized for four. */
    unsigned huge[40];
    for (int i = 0; i < 40; i++)
        huge[i] = 65535;
    for (int nd = 40; nd >= 1; nd--) {
        assert_null(numeric_text(nd - 1, 0x0000, 0, huge, nd, 0, &rc));
        assert_int_equal(rc, CIO_PG_EPROTO);
        assert_null(numeric_text(nd - 1, 0x4000, 8, huge, nd, 0, &rc));
        assert_int_equal(rc, CIO_PG_EPROTO);
    }
    const unsigned bad_last[] = {1, 2, 3, 4, 5, 6, 7, 10000};
    assert_null(numeric_text(7, 0x0000, 0, bad_last, 8, 0, &rc));
    assert_int_equal(rc, CIO_PG_EPROTO);
    /* Only in the fraction. */
    assert_null(numeric_text(0, 0x0000, 28, bad_last, 8, 0, &rc));
    assert_int_equal(rc, CIO_PG_EPROTO);
    /* Signs other than +, -, NaN and the infinities. */
    const unsigned d[] = {42};
    assert_null(numeric_text(0, 0x8000, 0, d, 1, 0, &rc));
    assert_int_equal(rc, CIO_PG_EPROTO);
    assert_null(numeric_text(0, 0x0001, 0, d, 1, 0, &rc));
    assert_int_equal(rc, CIO_PG_EPROTO);
    /* A special value carries no digits. */
    assert_null(numeric_text(0, 0xC000, 0, d, 1, 0, &rc));
    assert_int_equal(rc, CIO_PG_EPROTO);
    /* dscale: negative, or past PostgreSQL's 14-bit field. */
    assert_null(numeric_text(0, 0x0000, -1, d, 1, 0, &rc));
    assert_int_equal(rc, CIO_PG_EPROTO);
    assert_null(numeric_text(0, 0x0000, 0x4000, d, 1, 0, &rc));
    assert_int_equal(rc, CIO_PG_EPROTO);
    /* Lengths that disagree with ndigits, and a negative ndigits. */
    assert_null(numeric_text(0, 0x0000, 0, d, 1, 1, &rc));
    assert_int_equal(rc, CIO_PG_EPROTO);
    assert_null(numeric_text(0, 0x0000, 0, d, 1, -2, &rc));
    assert_int_equal(rc, CIO_PG_EPROTO);
    assert_null(numeric_text(0, 0x0000, 0, d, 1, -9, &rc));
    assert_int_equal(rc, CIO_PG_EPROTO);
    unsigned char neg[8] = {0xFF, 0xFF, 0, 0, 0, 0, 0, 0};
    cio_pg_result *r = binary_value(CIO_PG_NUMERICOID, neg, 8);
    const char *out = NULL;
    assert_int_equal(cio_pg_get_numeric(r, 0, 0, &out), CIO_PG_EPROTO);
    cio_pg_result_free(r);
    /* The extreme weights of a well-formed header stay in bounds: the
     * largest integer part, and a fraction that starts far away. */
    unsigned char buf[10];
    int len = numeric_bytes(buf, 32767, 0, 0x3FFF, d, 1);
    r = binary_value(CIO_PG_NUMERICOID, buf, len);
    assert_int_equal(cio_pg_get_numeric(r, 0, 0, &out), 0);
    assert_int_equal(strlen(out), 2 + 4 * 32767 + 1 + 0x3FFF);
    cio_pg_result_free(r);
    len = numeric_bytes(buf, -32768, 0x4000, 0x3FFF, d, 1);
    r = binary_value(CIO_PG_NUMERICOID, buf, len);
    assert_int_equal(cio_pg_get_numeric(r, 0, 0, &out), 0);
    assert_int_equal(strlen(out), 3 + 0x3FFF);
    assert_true(strspn(out + 3, "0") == 0x3FFF); /* its digit is past the scale */
    cio_pg_result_free(r);
}

/* The timestamp of a text value of type oid, or the getter's error. */
static int text_timestamp(uint32_t oid, const char *text, int64_t *usec)
{
    cio_pg_result *r = value(oid, 0, text, (int)strlen(text));
    int rc = cio_pg_get_timestamp(r, 0, 0, usec);
    cio_pg_result_free(r);
    return rc;
}

static int text_date(const char *text, int32_t *days)
{
    cio_pg_result *r = value(CIO_PG_DATEOID, 0, text, (int)strlen(text));
    int rc = cio_pg_get_date(r, 0, 0, days);
    cio_pg_result_free(r);
    return rc;
}

static void test_dates_and_times_in_text(void **state)
{
    (void)state;
    int32_t days;
    int64_t us;
    assert_int_equal(text_date("2024-02-29", &days), 0);
    assert_int_equal(days, 19782);
    assert_int_equal(text_date("1970-01-01", &days), 0);
    assert_int_equal(days, 0);
    assert_int_equal(text_timestamp(CIO_PG_TIMESTAMPTZOID, "1999-12-31 23:00:00.5+05:30", &us), 0);
    assert_int_equal(us, 946661400500000);
    assert_int_equal(text_timestamp(CIO_PG_TIMESTAMPTZOID, "1883-11-18 12:00:00-04:56:02", &us), 0);
    assert_int_equal(us, -2717651038000000);
    assert_int_equal(text_timestamp(CIO_PG_TIMESTAMPOID, "2024-02-29 23:59:59.123456", &us), 0);
    assert_int_equal(us, 19782 * 86400000000LL + 86399123456LL);
}

/* Found by tests/fuzz/fuzz_pg_values: the fields were read with sscanf and
 * not bounded, so a hostile server's offset or year overflowed the
 * arithmetic (undefined behaviour); a value out of range is CIO_PG_ETYPE,
 * a malformed one CIO_PG_EPROTO. */
static void test_dates_and_times_malformed(void **state)
{
    (void)state;
    int32_t days;
    int64_t us;
    const char *malformed[] = {
        "2020-01-01 00:00:00+4294967295", /* an offset of 4294967295 hours */
        "9223372036854775807-01-01",      /* a year of 19 digits */
        "2024-13-01",
        "2024-00-10",
        "2024-01-32",
        "2024-01-01 25:00:00",
        "2024-01-01 10:60:00",
        "2024-01-01 10:00:00.1234567",
        " 2024-01-01",
        "+2024-01-01",
        "2024--1-01",
        "2024-01-01 10:00",
        "2024-01-01 10:00:00+",
        "2024-01-01 10:00:00 AD",
        "",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++)
        assert_int_equal(text_timestamp(CIO_PG_TIMESTAMPTZOID, malformed[i], &us), CIO_PG_EPROTO);
    assert_int_equal(text_date("2024-1-1x", &days), CIO_PG_EPROTO);
    /* Well formed, past what the getter's type holds. */
    assert_int_equal(text_timestamp(CIO_PG_TIMESTAMPOID, "5874897-12-31 00:00:00", &us),
                     CIO_PG_ETYPE);
    unsigned char near_max[8] = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
    cio_pg_result *r = binary_value(CIO_PG_TIMESTAMPOID, near_max, 8);
    assert_int_equal(cio_pg_get_timestamp(r, 0, 0, &us), CIO_PG_ETYPE);
    cio_pg_result_free(r);
}

/* ---- arrays ------------------------------------------------------------------ */

static cio_pg_result *text_array(uint32_t oid, const char *text, int *rc)
{
    cio_pg_result *r = value(oid, 0, text, (int)strlen(text));
    cio_pg_result *a = (cio_pg_result *)1;
    *rc = cio_pg_get_array(r, 0, 0, &a);
    cio_pg_result_free(r);
    if (*rc)
        assert_null(a); /* never left dangling */
    return a;
}

static void test_arrays(void **state)
{
    (void)state;
    int rc;
    int32_t v;
    const char *t;
    size_t len;
    cio_pg_result *a = text_array(1007, "{1,2,NULL,-4}", &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(cio_pg_nrows(a), 4);
    assert_int_equal(cio_pg_coltype(a, 0), CIO_PG_INT4OID);
    assert_int_equal(cio_pg_get_int32(a, 1, 0, &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(cio_pg_get_int32(a, 2, 0, &v), CIO_PG_ENULL);
    assert_int_equal(cio_pg_get_int32(a, 3, 0, &v), 0);
    assert_int_equal(v, -4);
    cio_pg_result_free(a);

    /* array_out's quoting: spaces, quotes, the word NULL, empty strings,
     * backslashes. */
    a = text_array(1009, "{\"a b\",\"q\\\"x\",NULL,\"NULL\",plain,\"\",\"back\\\\slash\"}", &rc);
    assert_int_equal(rc, 0);
    const char *want[] = {"a b", "q\"x", NULL, "NULL", "plain", "", "back\\slash"};
    assert_int_equal(cio_pg_nrows(a), 7);
    for (int i = 0; i < 7; i++) {
        if (!want[i]) {
            assert_true(cio_pg_is_null(a, i, 0));
            continue;
        }
        assert_int_equal(cio_pg_get_text(a, i, 0, &t, &len), 0);
        assert_string_equal(t, want[i]);
        assert_int_equal(len, strlen(want[i]));
    }
    cio_pg_result_free(a);

    /* Two dimensions: rows are int4[] again. */
    a = text_array(1007, "{{1,2},{3,4},{5,6}}", &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(cio_pg_nrows(a), 3);
    assert_int_equal(cio_pg_coltype(a, 0), 1007);
    cio_pg_result *inner;
    assert_int_equal(cio_pg_get_array(a, 1, 0, &inner), 0);
    assert_int_equal(cio_pg_nrows(inner), 2);
    assert_int_equal(cio_pg_get_int32(inner, 1, 0, &v), 0);
    assert_int_equal(v, 4);
    cio_pg_result_free(inner);
    cio_pg_result_free(a);

    /* A lower bound other than 1, and the empty array. */
    a = text_array(1007, "[0:1]={7,8}", &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(cio_pg_nrows(a), 2);
    assert_int_equal(cio_pg_get_int32(a, 0, 0, &v), 0);
    assert_int_equal(v, 7);
    cio_pg_result_free(a);
    a = text_array(1009, "{}", &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(cio_pg_nrows(a), 0);
    cio_pg_result_free(a);

    /* Not an array column; a NULL array. */
    cio_pg_result *r = value(CIO_PG_INT4OID, 0, "{1}", 3);
    assert_int_equal(cio_pg_get_array(r, 0, 0, &a), CIO_PG_ETYPE);
    assert_int_equal(cio_pg_get_array(r, 0, 0, NULL), -EINVAL);
    cio_pg_result_free(r);
    r = value(1007, 0, NULL, -1);
    assert_int_equal(cio_pg_get_array(r, 0, 0, &a), CIO_PG_ENULL);
    cio_pg_result_free(r);
}

static void test_arrays_malformed(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "{",
        "{1,2",
        "{1,,2}",
        "1,2",
        "{1}x",
        "{{1},2}",
        "{1,{2}}",
        "{\"a}",
        "{a\"b}",
        "[1:2={1,2}",
        "[1:2]{1,2}",
        "[:2]={1}",
        "{1,}",
        "{,1}",
        "{1\\}",
        "{{1,2}",
        "{{1,2},{3}",
        "{{{{{{{1}}}}}}}", /* 7 dimensions: PostgreSQL allows 6 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc;
        cio_pg_result *a = text_array(1007, bad[i], &rc);
        if (rc != CIO_PG_EPROTO)
            print_error("\"%s\": %d\n", bad[i], rc);
        assert_int_equal(rc, CIO_PG_EPROTO);
        assert_null(a);
    }
}

/* The binary form (array_send's), written a big-endian 32-bit word at a
 * time. */
struct words {
    unsigned char b[256];
    int len;
};

static void w32(struct words *w, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        w->b[w->len++] = (unsigned char)(v >> (24 - 8 * i));
}

/* A one-dimensional int4[] of n elements (NULL where null[i]). */
static struct words int4_array(const int32_t *v, const bool *null, int n)
{
    struct words w = {.len = 0};
    w32(&w, 1);
    w32(&w, 0);
    w32(&w, CIO_PG_INT4OID);
    w32(&w, (uint32_t)n);
    w32(&w, 1);
    for (int i = 0; i < n; i++) {
        if (null && null[i]) {
            w32(&w, UINT32_MAX);
        } else {
            w32(&w, 4);
            w32(&w, (uint32_t)v[i]);
        }
    }
    return w;
}

static void test_arrays_binary(void **state)
{
    (void)state;
    int32_t v;
    const char *t;
    cio_pg_result *r, *a, *inner;
    struct words w = int4_array((int32_t[]){1, 0, -3}, (bool[]){false, true, false}, 3);
    r = binary_value(1007, w.b, w.len);
    assert_int_equal(cio_pg_get_array(r, 0, 0, &a), 0);
    assert_int_equal(cio_pg_nrows(a), 3);
    assert_int_equal(cio_pg_get_int32(a, 2, 0, &v), 0);
    assert_int_equal(v, -3);
    assert_true(cio_pg_is_null(a, 1, 0));
    cio_pg_result_free(a);
    assert_int_equal(cio_pg_get_text(r, 0, 0, &t, NULL), 0);
    assert_string_equal(t, "{1,NULL,-3}");
    cio_pg_result_free(r);

    /* Two dimensions, the first from 0: "[0:1][1:1]={{5},{6}}". */
    w = (struct words){.len = 0};
    w32(&w, 2);
    w32(&w, 0);
    w32(&w, CIO_PG_INT4OID);
    w32(&w, 2);
    w32(&w, 0);
    w32(&w, 1);
    w32(&w, 1);
    for (int i = 5; i <= 6; i++) {
        w32(&w, 4);
        w32(&w, (uint32_t)i);
    }
    r = binary_value(1007, w.b, w.len);
    assert_int_equal(cio_pg_get_text(r, 0, 0, &t, NULL), 0);
    assert_string_equal(t, "[0:1][1:1]={{5},{6}}");
    assert_int_equal(cio_pg_get_array(r, 0, 0, &a), 0);
    assert_int_equal(cio_pg_nrows(a), 2);
    assert_int_equal(cio_pg_get_array(a, 1, 0, &inner), 0);
    assert_int_equal(cio_pg_nrows(inner), 1);
    assert_int_equal(cio_pg_get_int32(inner, 0, 0, &v), 0);
    assert_int_equal(v, 6);
    cio_pg_result_free(inner);
    cio_pg_result_free(a);
    cio_pg_result_free(r);

    /* The empty array: no dimension. */
    w = (struct words){.len = 0};
    w32(&w, 0);
    w32(&w, 0);
    w32(&w, CIO_PG_INT4OID);
    r = binary_value(1007, w.b, w.len);
    assert_int_equal(cio_pg_get_array(r, 0, 0, &a), 0);
    assert_int_equal(cio_pg_nrows(a), 0);
    cio_pg_result_free(a);
    assert_int_equal(cio_pg_get_text(r, 0, 0, &t, NULL), 0);
    assert_string_equal(t, "{}");
    cio_pg_result_free(r);
}

/* Each malformed the way a hostile server could: refused, no overread. */
static void test_arrays_binary_malformed(void **state)
{
    (void)state;
    struct words good = int4_array((int32_t[]){1, 2}, NULL, 2);
    struct {
        int at;     /* the word to change (-1: none) */
        uint32_t v; /* its new value */
        int len;    /* the length to give (0: as is, negative: that much less) */
    } bad[] = {
        {-1, 0, 11},            /* shorter than the header */
        {0, 7, 0},              /* 7 dimensions */
        {0, UINT32_MAX, 0},     /* negative dimensions */
        {0, 2, 0},              /* 2 dimensions, 1 described */
        {1, 2, 0},              /* an unknown flag */
        {2, CIO_PG_TEXTOID, 0}, /* not the column's element type */
        {3, UINT32_MAX, 0},     /* a negative size */
        {3, 3, 0},              /* 3 elements, 2 there */
        {3, 1, 0},              /* 1 element, more bytes */
        {3, 0x7fffffff, 0},     /* more elements than bytes */
        {5, 5, 0},              /* an element past the end */
        {5, 0xfffffffe, 0},     /* a length of -2 */
        {-1, 0, -1},            /* cut short */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct words w = good;
        if (bad[i].at >= 0) {
            struct words x = {.len = 4 * bad[i].at};
            w32(&x, bad[i].v);
            memcpy(w.b + 4 * bad[i].at, x.b + 4 * bad[i].at, 4);
        }
        int len = bad[i].len > 0 ? bad[i].len : w.len + bad[i].len;
        cio_pg_result *r = binary_value(1007, w.b, len);
        cio_pg_result *a = (cio_pg_result *)1;
        int rc = cio_pg_get_array(r, 0, 0, &a);
        if (rc != CIO_PG_EPROTO)
            print_error("case %zu: %d\n", i, rc);
        assert_int_equal(rc, CIO_PG_EPROTO);
        assert_null(a);
        const char *t;
        assert_int_equal(cio_pg_get_text(r, 0, 0, &t, NULL), CIO_PG_EPROTO);
        cio_pg_result_free(r);
    }
    /* Sizes whose product overflows: 65536 x 65536 elements in 40 bytes. */
    struct words w = {.len = 0};
    w32(&w, 2);
    w32(&w, 0);
    w32(&w, CIO_PG_INT4OID);
    w32(&w, 65536);
    w32(&w, 1);
    w32(&w, 65536);
    w32(&w, 1);
    cio_pg_result *r = binary_value(1007, w.b, w.len), *a;
    assert_int_equal(cio_pg_get_array(r, 0, 0, &a), CIO_PG_EPROTO);
    cio_pg_result_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numeric_valid),
        cmocka_unit_test(test_numeric_malformed),
        cmocka_unit_test(test_dates_and_times_in_text),
        cmocka_unit_test(test_dates_and_times_malformed),
        cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_arrays_binary),
        cmocka_unit_test(test_arrays_binary_malformed),
        cmocka_unit_test(test_arrays_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
