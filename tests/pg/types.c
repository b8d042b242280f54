/* Every type cio reads and writes, with NULLs and edge values, in the
 * binary format (cached prepared statements) and the text format (no
 * statement cache), and parameters of every kind round-tripped. */
#include "pg_test.h"

#include <locale.h>
#include <math.h>

#define SELECT_ALL                                                                                 \
    "SELECT true, false, NULL::bool, 32767::int2, (-32768)::int2, 2147483647::int4, "              \
    "(-2147483648)::int4, 9223372036854775807::int8, (-9223372036854775808)::int8, "               \
    "1.5::float4, 'Infinity'::float8, 'NaN'::float8, 0.1::float8, "                                \
    "123456789.000123::numeric, (-0.0001)::numeric, 'NaN'::numeric, 0::numeric, "                  \
    "10000::numeric, 0.00::numeric, 1e20::numeric, "                                               \
    "'h\xc3\xa9llo'::text, ''::text, '\\x00ff'::bytea, ''::bytea, "                                \
    "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, '2024-02-29'::date, 'infinity'::date, "         \
    "'1969-12-31'::date, '2000-01-01 00:00:00.000001'::timestamp, '-infinity'::timestamp, "        \
    "'2024-01-31 12:34:56.789+02'::timestamptz, '{\"a\": [1, 2]}'::json, "                         \
    "'{\"b\": null}'::jsonb, NULL::int4, NULL::text, 'x'::varchar(3), 'ab'::char(3), "             \
    "'0044-03-15 BC'::date, 4294967295::oid, (-1.25)::float4"

static int check_row(cio_pg_result *r)
{
    bool b;
    int16_t i16;
    int32_t i32;
    int64_t i64;
    float f;
    double d;
    const char *s;
    size_t n;
    task_check(cio_pg_ncols(r) >= 39);
    task_check_eq(cio_pg_get_bool(r, 0, 0, &b), 0);
    task_check(b);
    task_check_eq(cio_pg_get_bool(r, 0, 1, &b), 0);
    task_check(!b);
    task_check_eq(cio_pg_get_bool(r, 0, 2, &b), CIO_PG_ENULL);
    task_check(cio_pg_is_null(r, 0, 2));
    task_check_eq(cio_pg_get_int16(r, 0, 3, &i16), 0);
    task_check_eq(i16, 32767);
    task_check_eq(cio_pg_get_int16(r, 0, 4, &i16), 0);
    task_check_eq(i16, -32768);
    task_check_eq(cio_pg_get_int32(r, 0, 5, &i32), 0);
    task_check_eq(i32, INT32_MAX);
    task_check_eq(cio_pg_get_int32(r, 0, 6, &i32), 0);
    task_check_eq(i32, INT32_MIN);
    task_check_eq(cio_pg_get_int16(r, 0, 6, &i16), CIO_PG_ETYPE); /* does not fit */
    task_check_eq(cio_pg_get_int64(r, 0, 7, &i64), 0);
    task_check(i64 == INT64_MAX);
    task_check_eq(cio_pg_get_int64(r, 0, 8, &i64), 0);
    task_check(i64 == INT64_MIN);
    task_check_eq(cio_pg_get_int32(r, 0, 8, &i32), CIO_PG_ETYPE);
    task_check_eq(cio_pg_get_float(r, 0, 9, &f), 0);
    task_check(f == 1.5f);
    task_check_eq(cio_pg_get_double(r, 0, 10, &d), 0);
    task_check(isinf(d) && d > 0);
    task_check_eq(cio_pg_get_double(r, 0, 11, &d), 0);
    task_check(isnan(d));
    task_check_eq(cio_pg_get_double(r, 0, 12, &d), 0);
    task_check(d == 0.1);
    task_check_eq(cio_pg_get_text(r, 0, 12, &s, NULL), 0);
    task_check(strcmp(s, "0.1") == 0);
    const char *num[] = {"123456789.000123",     "-0.0001", "NaN", "0", "10000", "0.00",
                         "100000000000000000000"};
    for (int i = 0; i < 7; i++) {
        task_check_eq(cio_pg_get_numeric(r, 0, 13 + i, &s), 0);
        if (strcmp(s, num[i]) != 0)
            print_error("numeric %d: '%s' != '%s'\n", i, s, num[i]);
        task_check(strcmp(s, num[i]) == 0);
    }
    /* Numerics as integers when whole, as doubles always. */
    const int num_int[] = {CIO_PG_ETYPE, CIO_PG_ETYPE, CIO_PG_ETYPE, 0, 0, 0, CIO_PG_ETYPE};
    const int64_t num_i64[] = {0, 0, 0, 0, 10000, 0, 0};
    const double num_dbl[] = {123456789.000123, -0.0001, NAN, 0, 10000, 0, 1e20};
    for (int i = 0; i < 7; i++) {
        i64 = -1;
        task_check_eq(cio_pg_get_int64(r, 0, 13 + i, &i64), num_int[i]);
        task_check(num_int[i] || i64 == num_i64[i]);
        task_check_eq(cio_pg_get_double(r, 0, 13 + i, &d), 0);
        task_check(isnan(num_dbl[i]) ? isnan(d) : d == num_dbl[i]);
    }
    task_check_eq(cio_pg_get_int16(r, 0, 17, &i16), 0); /* 10000 fits */
    task_check_eq(i16, 10000);
    task_check_eq(cio_pg_get_text(r, 0, 20, &s, &n), 0);
    task_check(strcmp(s, "h\xc3\xa9llo") == 0 && n == 6);
    task_check_eq(cio_pg_get_text(r, 0, 21, &s, &n), 0);
    task_check(n == 0 && s[0] == 0);
    task_check_eq(cio_pg_get_int32(r, 0, 20, &i32), CIO_PG_ETYPE);
    const uint8_t *bytes;
    task_check_eq(cio_pg_get_bytea(r, 0, 22, &bytes, &n), 0);
    task_check(n == 2 && bytes[0] == 0 && bytes[1] == 0xff);
    task_check_eq(cio_pg_get_text(r, 0, 22, &s, NULL), 0);
    task_check(strcmp(s, "\\x00ff") == 0);
    task_check_eq(cio_pg_get_bytea(r, 0, 23, &bytes, &n), 0);
    task_check_eq(n, 0);
    uint8_t u[16];
    task_check_eq(cio_pg_get_uuid(r, 0, 24, u), 0);
    task_check(u[0] == 0xa0 && u[15] == 0x11);
    task_check_eq(cio_pg_get_text(r, 0, 24, &s, NULL), 0);
    task_check(strcmp(s, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11") == 0);
    int32_t days;
    task_check_eq(cio_pg_get_date(r, 0, 25, &days), 0);
    task_check_eq(days, 19782); /* 2024-02-29 */
    task_check_eq(cio_pg_get_text(r, 0, 25, &s, NULL), 0);
    task_check(strcmp(s, "2024-02-29") == 0);
    task_check_eq(cio_pg_get_date(r, 0, 26, &days), 0);
    task_check_eq(days, INT32_MAX);
    task_check_eq(cio_pg_get_date(r, 0, 27, &days), 0);
    task_check_eq(days, -1);
    task_check_eq(cio_pg_get_timestamp(r, 0, 28, &i64), 0);
    task_check_eq(i64, INT64_C(946684800000001));
    task_check_eq(cio_pg_get_text(r, 0, 28, &s, NULL), 0);
    task_check(strcmp(s, "2000-01-01 00:00:00.000001") == 0);
    task_check_eq(cio_pg_get_timestamp(r, 0, 29, &i64), 0);
    task_check(i64 == INT64_MIN);
    task_check_eq(cio_pg_get_timestamp(r, 0, 30, &i64), 0);
    task_check_eq(i64, INT64_C(1706697296789000)); /* 10:34:56.789 UTC */
    task_check_eq(cio_pg_get_json(r, 0, 31, &s, NULL), 0);
    task_check(strcmp(s, "{\"a\": [1, 2]}") == 0);
    task_check_eq(cio_pg_get_json(r, 0, 32, &s, &n), 0);
    task_check(strcmp(s, "{\"b\": null}") == 0 && n == strlen(s));
    task_check_eq(cio_pg_get_int32(r, 0, 33, &i32), CIO_PG_ENULL);
    task_check_eq(cio_pg_get_text(r, 0, 34, &s, NULL), CIO_PG_ENULL);
    task_check_eq(cio_pg_get_text(r, 0, 35, &s, NULL), 0);
    task_check(strcmp(s, "x") == 0);
    task_check_eq(cio_pg_get_text(r, 0, 36, &s, NULL), 0);
    task_check(strcmp(s, "ab ") == 0);
    task_check_eq(cio_pg_get_date(r, 0, 37, &days), 0);
    task_check_eq(cio_pg_get_text(r, 0, 37, &s, NULL), 0);
    task_check(strcmp(s, "0044-03-15 BC") == 0);
    task_check_eq(cio_pg_get_int64(r, 0, 38, &i64), 0);
    task_check_eq(i64, 4294967295LL);
    task_check_eq(cio_pg_get_float(r, 0, 39, &f), 0);
    task_check(f == -1.25f);
    task_check_eq(cio_pg_get_text(r, 0, 39, &s, NULL), 0);
    task_check(strcmp(s, "-1.25") == 0);
    task_check_eq(cio_pg_get_text(r, 0, cio_pg_ncols(r), &s, NULL), -EINVAL); /* out of range */
    task_check_eq(cio_pg_get_int32(r, 1, 0, &i32), -EINVAL);
    task_check_eq(cio_pg_get_int32(r, 0, 0, NULL), -EINVAL);
    task_check_eq(cio_pg_get_json(r, 0, 20, &s, NULL), CIO_PG_ETYPE);
    task_check_eq(cio_pg_get_date(r, 0, 28, &days), CIO_PG_ETYPE);
    return 0;
}

static int read_all_types(void *arg)
{
    cio_pg_options *o = arg;
    PG_CONNECT(c, o);
    cio_pg_result *r;
    /* With parameters: the extended protocol (binary results when cached);
     * the second run uses the cached statement. */
    for (int round = 0; round < 2; round++) {
        int rc = cio_pg_fetch(c, SELECT_ALL ", $1::int", CIO_PG_ARGS(cio_pg_int4(7)), &r);
        PG_OK(c, rc);
        task_check_eq(rc, 1);
        int32_t v;
        task_check_eq(cio_pg_get_int32(r, 0, 40, &v), 0);
        task_check_eq(v, 7);
        rc = check_row(r);
        cio_pg_result_free(r);
        if (rc)
            return rc;
    }
    /* Without parameters: still prepared (fetch always is). */
    int rc = cio_pg_fetch(c, SELECT_ALL, CIO_PG_NOARGS, &r);
    PG_OK(c, rc);
    rc = check_row(r);
    cio_pg_result_free(r);
    cio_pg_close(c);
    return rc;
}

static void test_types_binary(void **state)
{
    (void)state;
    assert_int_equal(run_real(read_all_types, NULL), 0);
}

static void test_types_text(void **state)
{
    (void)state;
    cio_pg_options o = {.no_statement_cache = true};
    assert_int_equal(run_real(read_all_types, &o), 0);
}

/* Parameters of every kind go to the server and come back intact. */
static int round_trip(void *arg)
{
    cio_pg_options *o = arg;
    PG_CONNECT(c, o);
    static const uint8_t uuid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    static const uint8_t blob[3] = {0, 'a', 0xfe};
    const char *sql = "SELECT $1::bool, $2::int2, $3::int4, $4::int8, $5::float4, $6::float8, "
                      "$7::text, $8::bytea, $9::uuid, $10::date, $11::timestamp, "
                      "$12::timestamptz, $13::numeric, $14::jsonb, $15::int4, $16::text, "
                      "$17::text, $18::date, $19::timestamptz, $20::text";
    cio_pg_result *r;
    int rc = cio_pg_fetch(
        c, sql,
        CIO_PG_ARGS(cio_pg_bool(true), cio_pg_int2(-7), cio_pg_int4(INT32_MIN),
                    cio_pg_int8(INT64_MAX), cio_pg_float4(0.25f), cio_pg_float8(-1e300),
                    cio_pg_text("it's \"quoted\""), cio_pg_bytea(blob, 3), cio_pg_uuid(uuid),
                    cio_pg_date(-719162), cio_pg_timestamp(-1),
                    cio_pg_timestamptz(INT64_C(1700000000123456)), cio_pg_numeric("-98765.4321"),
                    cio_pg_jsonb("{\"k\": [true]}"), cio_pg_null(), cio_pg_text(NULL),
                    cio_pg_textn("abcdef", 3), cio_pg_date(INT32_MIN),
                    cio_pg_timestamptz(INT64_MAX), cio_pg_text("")),
        &r);
    PG_OK(c, rc);
    bool b;
    int16_t i16;
    int32_t i32;
    int64_t i64;
    float f;
    double d;
    const char *s;
    const uint8_t *p;
    size_t n;
    uint8_t u[16];
    task_check_eq(cio_pg_get_bool(r, 0, 0, &b), 0);
    task_check(b);
    task_check_eq(cio_pg_get_int16(r, 0, 1, &i16), 0);
    task_check_eq(i16, -7);
    task_check_eq(cio_pg_get_int32(r, 0, 2, &i32), 0);
    task_check_eq(i32, INT32_MIN);
    task_check_eq(cio_pg_get_int64(r, 0, 3, &i64), 0);
    task_check(i64 == INT64_MAX);
    task_check_eq(cio_pg_get_float(r, 0, 4, &f), 0);
    task_check(f == 0.25f);
    task_check_eq(cio_pg_get_double(r, 0, 5, &d), 0);
    task_check(d == -1e300);
    task_check_eq(cio_pg_get_text(r, 0, 6, &s, NULL), 0);
    task_check(strcmp(s, "it's \"quoted\"") == 0);
    task_check_eq(cio_pg_get_bytea(r, 0, 7, &p, &n), 0);
    task_check(n == 3 && memcmp(p, blob, 3) == 0);
    task_check_eq(cio_pg_get_uuid(r, 0, 8, u), 0);
    task_check(memcmp(u, uuid, 16) == 0);
    int32_t days;
    task_check_eq(cio_pg_get_date(r, 0, 9, &days), 0);
    task_check_eq(days, -719162); /* 0001-01-01 */
    task_check_eq(cio_pg_get_text(r, 0, 9, &s, NULL), 0);
    task_check(strcmp(s, "0001-01-01") == 0);
    task_check_eq(cio_pg_get_timestamp(r, 0, 10, &i64), 0);
    task_check_eq(i64, -1);
    task_check_eq(cio_pg_get_timestamp(r, 0, 11, &i64), 0);
    task_check_eq(i64, INT64_C(1700000000123456));
    task_check_eq(cio_pg_get_numeric(r, 0, 12, &s), 0);
    task_check(strcmp(s, "-98765.4321") == 0);
    task_check_eq(cio_pg_get_json(r, 0, 13, &s, NULL), 0);
    task_check(strcmp(s, "{\"k\": [true]}") == 0);
    task_check(cio_pg_is_null(r, 0, 14));
    task_check(cio_pg_is_null(r, 0, 15));
    task_check_eq(cio_pg_get_text(r, 0, 16, &s, &n), 0);
    task_check(strcmp(s, "abc") == 0 && n == 3);
    task_check_eq(cio_pg_get_date(r, 0, 17, &days), 0);
    task_check_eq(days, INT32_MIN);
    task_check_eq(cio_pg_get_timestamp(r, 0, 18, &i64), 0);
    task_check(i64 == INT64_MAX);
    task_check_eq(cio_pg_get_text(r, 0, 19, &s, &n), 0);
    task_check_eq(n, 0);
    cio_pg_result_free(r);

    /* fetchval in every flavour. */
    int64_t v;
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT $1::int8 * 2", CIO_PG_ARGS(cio_pg_int8(21)), &v));
    task_check_eq(v, 42);
    task_check_eq(cio_pg_fetchval_int64(c, "SELECT NULL::int", CIO_PG_NOARGS, &v), CIO_PG_ENULL);
    task_check_eq(cio_pg_fetchval_int64(c, "SELECT 1 WHERE false", CIO_PG_NOARGS, &v),
                  CIO_PG_ENOROWS);
    task_check_eq(cio_pg_fetchval_int64(c, "SELECT 'x'::text", CIO_PG_NOARGS, &v), CIO_PG_ETYPE);
    PG_OK(c, cio_pg_fetchval_double(c, "SELECT 2.5::float8", CIO_PG_NOARGS, &d));
    task_check(d == 2.5);
    /* Aggregates that PostgreSQL makes numeric, and the edges of int64. */
    PG_OK(c, cio_pg_fetchval_int64(
                 c, "SELECT sum(x) FROM (VALUES (9223372036854775806::int8), (1)) v(x)",
                 CIO_PG_NOARGS, &v));
    task_check(v == INT64_MAX);
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT (-9223372036854775808)::numeric", CIO_PG_NOARGS, &v));
    task_check(v == INT64_MIN);
    PG_OK(c, cio_pg_fetchval_int64(c, "SELECT (-12.000)::numeric", CIO_PG_NOARGS, &v));
    task_check_eq(v, -12);
    task_check_eq(
        cio_pg_fetchval_int64(c, "SELECT 9223372036854775808::numeric", CIO_PG_NOARGS, &v),
        CIO_PG_ETYPE);
    task_check_eq(
        cio_pg_fetchval_int64(c, "SELECT (-9223372036854775809)::numeric", CIO_PG_NOARGS, &v),
        CIO_PG_ETYPE);
    task_check_eq(cio_pg_fetchval_int64(c, "SELECT 12.001::numeric", CIO_PG_NOARGS, &v),
                  CIO_PG_ETYPE);
    task_check_eq(cio_pg_fetchval_int64(c, "SELECT 'Infinity'::numeric", CIO_PG_NOARGS, &v),
                  CIO_PG_ETYPE);
    PG_OK(c, cio_pg_fetchval_double(c, "SELECT avg(x) FROM (VALUES (1), (2)) v(x)", CIO_PG_NOARGS,
                                    &d));
    task_check(d == 1.5);
    PG_OK(c, cio_pg_fetchval_double(c, "SELECT '-Infinity'::numeric", CIO_PG_NOARGS, &d));
    task_check(isinf(d) && d < 0);
    PG_OK(c, cio_pg_fetchval_bool(c, "SELECT $1 = 'a'", CIO_PG_ARGS(cio_pg_text("a")), &b));
    task_check(b);
    char *txt;
    PG_OK(c, cio_pg_fetchval_text(c, "SELECT 12.50::numeric", CIO_PG_NOARGS, &txt));
    task_check(strcmp(txt, "12.50") == 0);
    free(txt);
    cio_pg_close(c);
    return 0;
}

static void test_params_binary(void **state)
{
    (void)state;
    assert_int_equal(run_real(round_trip, NULL), 0);
}

static void test_params_text(void **state)
{
    (void)state;
    cio_pg_options o = {.no_statement_cache = true};
    assert_int_equal(run_real(round_trip, &o), 0);
}

/* timestamptz in a session whose TimeZone is not UTC: the text form
 * carries the offset (+05:30, -03:30), the value is the same instant. */
static int time_zones(void *arg)
{
    cio_pg_options *o = arg;
    PG_CONNECT(c, o);
    const char *zones[] = {"Asia/Kolkata", "America/St_Johns", "UTC"};
    for (int i = 0; i < 3; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "SET TimeZone = '%s'", zones[i]);
        PG_OK(c, cio_pg_execute(c, sql, CIO_PG_NOARGS));
        cio_pg_result *r;
        PG_OK(c, cio_pg_fetch(c,
                              "SELECT '2024-01-31 12:00:00.5+00'::timestamptz, "
                              "'1900-06-01 00:00:00+00'::timestamptz, $1::timestamptz",
                              CIO_PG_ARGS(cio_pg_timestamptz(INT64_C(86400000000))), &r));
        int64_t us;
        task_check_eq(cio_pg_get_timestamp(r, 0, 0, &us), 0);
        task_check_eq(us, INT64_C(1706702400500000));
        task_check_eq(cio_pg_get_timestamp(r, 0, 1, &us), 0);
        task_check_eq(us, INT64_C(-2195942400000000));
        task_check_eq(cio_pg_get_timestamp(r, 0, 2, &us), 0);
        task_check_eq(us, INT64_C(86400000000));
        cio_pg_result_free(r);
    }
    cio_pg_close(c);
    return 0;
}

static void test_time_zones(void **state)
{
    (void)state;
    assert_int_equal(run_real(time_zones, NULL), 0);
    cio_pg_options o = {.no_statement_cache = true};
    assert_int_equal(run_real(time_zones, &o), 0);
}

/* ---- arrays: asyncpg's lists ------------------------------------------------------ */

/* Column col of row 0 of r, opened as an array; NULL (and the task fails)
 * when it is not one. */
static cio_pg_result *array_at(cio_pg_result *r, int col)
{
    cio_pg_result *a = NULL;
    int rc = cio_pg_get_array(r, 0, col, &a);
    if (rc)
        print_error("column %d: %s\n", col, cio_err_name(rc));
    return a;
}

static int text_is(cio_pg_result *a, int row, const char *want)
{
    const char *t;
    return cio_pg_get_text(a, row, 0, &t, NULL) == 0 && strcmp(t, want) == 0;
}

static int arrays(void *arg)
{
    cio_pg_options *o = arg;
    PG_CONNECT(c, o);
    cio_pg_result *r, *a, *inner;
    int32_t v;
    /* Arrays the server makes. */
    PG_OK(c, cio_pg_fetch(c,
                          "SELECT ARRAY[1,2,NULL]::int4[], "
                          "ARRAY['a b','q\"x',NULL,'NULL','','back\\slash']::text[], "
                          "'{{1,2},{3,4}}'::int[], '[0:1]={7,8}'::int[], '{}'::uuid[], "
                          "ARRAY['2024-01-31 12:00:00.5+00']::timestamptz[], 1.5::numeric",
                          CIO_PG_NOARGS, &r));
    task_check((a = array_at(r, 0)) != NULL);
    task_check_eq(cio_pg_nrows(a), 3);
    task_check_eq(cio_pg_get_int32(a, 1, 0, &v), 0);
    task_check_eq(v, 2);
    task_check(cio_pg_is_null(a, 2, 0));
    cio_pg_result_free(a);
    task_check((a = array_at(r, 1)) != NULL);
    task_check_eq(cio_pg_nrows(a), 6);
    task_check(text_is(a, 0, "a b") && text_is(a, 1, "q\"x") && cio_pg_is_null(a, 2, 0));
    task_check(text_is(a, 3, "NULL") && text_is(a, 4, "") && text_is(a, 5, "back\\slash"));
    cio_pg_result_free(a);
    task_check((a = array_at(r, 2)) != NULL);
    task_check_eq(cio_pg_nrows(a), 2);
    task_check_eq(cio_pg_get_array(a, 1, 0, &inner), 0);
    task_check_eq(cio_pg_get_int32(inner, 0, 0, &v), 0);
    task_check_eq(v, 3);
    cio_pg_result_free(inner);
    cio_pg_result_free(a);
    task_check((a = array_at(r, 3)) != NULL);
    task_check_eq(cio_pg_get_int32(a, 1, 0, &v), 0);
    task_check_eq(v, 8);
    cio_pg_result_free(a);
    task_check((a = array_at(r, 4)) != NULL);
    task_check_eq(cio_pg_nrows(a), 0);
    cio_pg_result_free(a);
    task_check((a = array_at(r, 5)) != NULL);
    int64_t us;
    task_check_eq(cio_pg_get_timestamp(a, 0, 0, &us), 0);
    task_check_eq(us, INT64_C(1706702400500000));
    cio_pg_result_free(a);
    task_check_eq(cio_pg_get_array(r, 0, 6, &a), CIO_PG_ETYPE); /* numeric, not an array */
    cio_pg_result_free(r);

    /* Arrays sent as parameters, and read back. */
    int32_t i4[] = {5, -6, 7};
    int64_t i8[] = {INT64_MAX, INT64_MIN};
    double f8[] = {0.5, -1e300};
    const char *texts[] = {"plain", "with \"quotes\" and \\", NULL, "NULL", ""};
    uint8_t u[16] = {0xa0, 0xee, 0xbc, 0x99};
    PG_OK(c, cio_pg_fetch(c, "SELECT $1, $2, $3, $4, $5, $6",
                          CIO_PG_ARGS(cio_pg_int4_array(i4, 3), cio_pg_int8_array(i8, 2),
                                      cio_pg_float8_array(f8, 2), cio_pg_text_array(texts, 5),
                                      cio_pg_array(CIO_PG_UUIDOID,
                                                   CIO_PG_ARGS(cio_pg_uuid(u), cio_pg_null())),
                                      cio_pg_int4_array(i4, 0)),
                          &r));
    task_check((a = array_at(r, 0)) != NULL);
    task_check_eq(cio_pg_nrows(a), 3);
    task_check_eq(cio_pg_get_int32(a, 1, 0, &v), 0);
    task_check_eq(v, -6);
    cio_pg_result_free(a);
    task_check((a = array_at(r, 1)) != NULL);
    task_check_eq(cio_pg_get_int64(a, 1, 0, &us), 0);
    task_check_eq(us, INT64_MIN);
    cio_pg_result_free(a);
    task_check((a = array_at(r, 2)) != NULL);
    double d;
    task_check_eq(cio_pg_get_double(a, 1, 0, &d), 0);
    task_check(d == -1e300);
    cio_pg_result_free(a);
    task_check((a = array_at(r, 3)) != NULL);
    task_check_eq(cio_pg_nrows(a), 5);
    task_check(text_is(a, 0, texts[0]) && text_is(a, 1, texts[1]) && cio_pg_is_null(a, 2, 0));
    task_check(text_is(a, 3, "NULL") && text_is(a, 4, ""));
    cio_pg_result_free(a);
    task_check((a = array_at(r, 4)) != NULL);
    uint8_t back[16];
    task_check_eq(cio_pg_get_uuid(a, 0, 0, back), 0);
    task_check(memcmp(back, u, 16) == 0 && cio_pg_is_null(a, 1, 0));
    cio_pg_result_free(a);
    task_check((a = array_at(r, 5)) != NULL);
    task_check_eq(cio_pg_nrows(a), 0);
    cio_pg_result_free(a);
    cio_pg_result_free(r);

    /* The reason for most array parameters. */
    int64_t n;
    int32_t want[] = {2, 3, 11};
    PG_OK(c, cio_pg_fetchval_int64(c,
                                   "SELECT count(*) FROM generate_series(1, 10) g "
                                   "WHERE g = ANY($1)",
                                   CIO_PG_ARGS(cio_pg_int4_array(want, 3)), &n));
    task_check_eq(n, 2);

    /* Elements that are not of the element type; element types with no
     * array here; numeric (sent as text and cast instead). The connection
     * is fine after each. */
    task_check_eq(cio_pg_fetchval_int64(
                      c, "SELECT cardinality($1)",
                      CIO_PG_ARGS(cio_pg_array(CIO_PG_INT4OID, CIO_PG_ARGS(cio_pg_text("1")))), &n),
                  -EINVAL);
    task_check_eq(cio_pg_fetchval_int64(c, "SELECT cardinality($1)",
                                        CIO_PG_ARGS(cio_pg_array(1186, CIO_PG_ARGS(cio_pg_null()))),
                                        &n),
                  -EINVAL);
    task_check_eq(
        cio_pg_fetchval_int64(
            c, "SELECT cardinality($1)",
            CIO_PG_ARGS(cio_pg_array(CIO_PG_NUMERICOID, CIO_PG_ARGS(cio_pg_numeric("1")))), &n),
        -EINVAL);
    const char *nums[] = {"1.5", "2.25"};
    PG_OK(c, cio_pg_fetchval_double(c, "SELECT sum(x)::float8 FROM unnest($1::text[]::numeric[]) x",
                                    CIO_PG_ARGS(cio_pg_text_array(nums, 2)), &d));
    task_check(d == 3.75);

    /* Array columns through executemany and COPY. */
    PG_OK(c, cio_pg_execute(c, "CREATE TEMP TABLE tagged (id int, tags text[], n int8[])",
                            CIO_PG_NOARGS));
    const char *t1[] = {"x", "y z"}, *t2[] = {NULL};
    cio_pg_arg rows[] = {
        cio_pg_int4(1), cio_pg_text_array(t1, 2), cio_pg_int8_array(i8, 2),
        cio_pg_int4(2), cio_pg_text_array(t2, 1), cio_pg_int8_array(i8, 0),
    };
    PG_OK(c, cio_pg_executemany(c, "INSERT INTO tagged VALUES ($1, $2, $3)", rows, 3, 2));
    const char *cols[] = {"id", "tags", "n"};
    rows[0] = cio_pg_int4(3);
    rows[3] = cio_pg_int4(4);
    PG_OK(c, cio_pg_copy_records(c, "tagged", cols, 3, rows, 2));
    PG_OK(c, cio_pg_fetch(c,
                          "SELECT id, array_to_string(tags, '|', '-'), cardinality(n) "
                          "FROM tagged ORDER BY id",
                          CIO_PG_NOARGS, &r));
    task_check_eq(cio_pg_nrows(r), 4);
    for (int i = 0; i < 4; i++) {
        const char *t;
        int64_t card;
        task_check_eq(cio_pg_get_text(r, i, 1, &t, NULL), 0);
        task_check_eq(cio_pg_get_int64(r, i, 2, &card), 0);
        task_check(strcmp(t, i % 2 ? "-" : "x|y z") == 0);
        task_check_eq(card, i % 2 ? 0 : 2);
    }
    cio_pg_result_free(r);
    cio_pg_close(c);
    return 0;
}

/* An array read as text is what the server writes for it, whether it came
 * in binary (rendered by cio) or in text. */
static int array_text(void *arg)
{
    cio_pg_options *o = arg;
    PG_CONNECT(c, o);
    task_check_eq(cio_pg_execute(c, "SET TimeZone = 'UTC'", CIO_PG_NOARGS), 0);
    static const char *const values[] = {
        "ARRAY[1,2,NULL]::int4[]",
        "'{}'::int[]",
        "'{{1,2},{3,NULL}}'::int8[]",
        "'[0:1]={7,8}'::int2[]",
        "'[-2:-1][3:4]={{1,2},{3,4}}'::int[]",
        "'{{{1}},{{2}}}'::int[]",
        "ARRAY['a b','q\"x',NULL,'NULL','null','','back\\slash','{x}','a,b',' lead','x'||chr(9)]",
        "ARRAY[true,false,NULL]",
        "ARRAY[0.5,-1e300,'NaN','Infinity',0.1]::float8[]",
        "ARRAY[1.25,3.4e38]::float4[]",
        "ARRAY['2024-01-31 12:00:00.5+00']::timestamptz[]",
        "ARRAY['2024-01-31 12:00:00','infinity']::timestamp[]",
        "ARRAY['2024-01-31'::date,'-infinity']",
        "ARRAY['\\x00ff'::bytea,'']",
        "ARRAY[12.500,-0.001,'NaN']::numeric[]",
        "ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid]",
        "ARRAY['{\"k\": [1, \"a b\"]}'::jsonb]",
        "ARRAY['x'::\"char\"]",
        "ARRAY['ab'::varchar,'c d'::bpchar(4)]",
        "ARRAY['n'::name]",
    };
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        char sql[512];
        snprintf(sql, sizeof sql, "SELECT %s, (%s)::text", values[i], values[i]);
        cio_pg_result *r;
        PG_OK(c, cio_pg_fetch(c, sql, CIO_PG_NOARGS, &r));
        const char *got = NULL, *want = NULL;
        task_check_eq(cio_pg_get_text(r, 0, 0, &got, NULL), 0);
        task_check_eq(cio_pg_get_text(r, 0, 1, &want, NULL), 0);
        if (strcmp(got, want) != 0)
            print_error("%s: got %s, want %s\n", values[i], got, want);
        task_check(strcmp(got, want) == 0);
        /* Opened, it has as many rows as the first dimension. */
        cio_pg_result *a;
        task_check_eq(cio_pg_get_array(r, 0, 0, &a), 0);
        task_check(cio_pg_nrows(a) >= 0);
        cio_pg_result_free(a);
        cio_pg_result_free(r);
    }
    cio_pg_close(c);
    return 0;
}

static void test_array_text(void **state)
{
    (void)state;
    assert_int_equal(run_real(array_text, NULL), 0);
    cio_pg_options o = {.no_statement_cache = true};
    assert_int_equal(run_real(array_text, &o), 0);
}

static void test_arrays(void **state)
{
    (void)state;
    assert_int_equal(run_real(arrays, NULL), 0);
    cio_pg_options o = {.no_statement_cache = true};
    assert_int_equal(run_real(arrays, &o), 0);
}

/* COPY in the text format (a text value for a float8 column rules the
 * binary format out) with floats of both widths. */
static int copy_floats(void *arg)
{
    (void)arg;
    PG_CONNECT(c, NULL);
    PG_OK(c, cio_pg_execute(c, "CREATE TEMP TABLE floats (a float8, b float4, t float8)",
                            CIO_PG_NOARGS));
    static const char *const cols[] = {"a", "b", "t"};
    const cio_pg_arg row[] = {cio_pg_float8(2.5), cio_pg_float4(-1.25f), cio_pg_text("3.5")};
    int rc = cio_pg_copy_records(c, "floats", cols, 3, row, 1);
    PG_OK(c, rc);
    task_check_eq(rc, 1);
    cio_pg_result *r;
    rc = cio_pg_fetch(c, "SELECT a, b, t, a::text FROM floats", CIO_PG_NOARGS, &r);
    PG_OK(c, rc);
    double a, t;
    float f;
    const char *s;
    task_check_eq(cio_pg_get_double(r, 0, 0, &a), 0);
    task_check(a == 2.5);
    task_check_eq(cio_pg_get_float(r, 0, 1, &f), 0);
    task_check(f == -1.25f);
    task_check_eq(cio_pg_get_double(r, 0, 2, &t), 0);
    task_check(t == 3.5);
    task_check_eq(cio_pg_get_text(r, 0, 3, &s, NULL), 0);
    task_check(strcmp(s, "2.5") == 0);
    cio_pg_result_free(r);
    cio_pg_close(c);
    return 0;
}

/* A program that calls setlocale() for its users gets "2,5" from printf
 * and strtod(): PostgreSQL's text forms must keep their '.', both ways,
 * in results of either format, parameters and COPY. The locale (de_DE) is
 * compiled into a temporary directory, as the machine may have none. */
static void test_comma_locale(void **state)
{
    (void)state;
    char dir[] = "/tmp/cio-locale-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[256];
    snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 -c %s/de_DE.UTF-8 >/dev/null 2>&1", dir);
    (void)system(cmd); /* its status is 1 for mere warnings: setlocale() tells */
    setenv("LOCPATH", dir, 1);
    bool set = setlocale(LC_ALL, "de_DE.UTF-8") != NULL;
    char probe[8];
    snprintf(probe, sizeof probe, "%.1f", 2.5);
    cio_pg_options text = {.no_statement_cache = true};
    int rc[5] = {-1, -1, -1, -1, -1};
    if (set) {
        rc[0] = run_real(read_all_types, NULL);
        rc[1] = run_real(read_all_types, &text);
        rc[2] = run_real(round_trip, NULL);
        rc[3] = run_real(round_trip, &text);
        rc[4] = run_real(copy_floats, NULL);
    }
    setlocale(LC_ALL, "C");
    unsetenv("LOCPATH");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)system(cmd);
    assert_true(set);
    assert_string_equal(probe, "2,5"); /* the locale was in force */
    for (int i = 0; i < 5; i++)
        assert_int_equal(rc[i], 0);
}

int main(void)
{
    if (!pg_dsn()) {
        fprintf(stderr, "no PostgreSQL test cluster (run through ctest)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_binary),  cmocka_unit_test(test_types_text),
        cmocka_unit_test(test_params_binary), cmocka_unit_test(test_params_text),
        cmocka_unit_test(test_time_zones),    cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_array_text),    cmocka_unit_test(test_comma_locale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
