/* Every typed getter of a query result on a value a broken or hostile
 * server could send: a result is built in memory (libpq's
 * PQmakeEmptyPGresult, no server), one column of a chosen type in the text
 * or the binary format, holding the fuzzer's bytes. A getter returns the
 * value or an error code, never a crash, an overflow or a read past the
 * value (the target runs under AddressSanitizer and
 * UndefinedBehaviorSanitizer), and the getters that read one value two ways
 * agree. An array is opened as a result of its own (cio_pg_get_array) and
 * every getter runs on each of its elements, nested arrays included.
 *
 * The input: byte 0 picks the column's type, byte 1 bit 0 the format
 * (binary when set) and bit 1 a NULL; the rest is the value. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/internal.h"

#include "fuzz.h"

static const uint32_t oids[] = {
    CIO_PG_BOOLOID,
    CIO_PG_BYTEAOID,
    CIO_PG_INT8OID,
    CIO_PG_INT2OID,
    CIO_PG_INT4OID,
    CIO_PG_TEXTOID,
    CIO_PG_OIDOID,
    CIO_PG_JSONOID,
    CIO_PG_FLOAT4OID,
    CIO_PG_FLOAT8OID,
    CIO_PG_BPCHAROID,
    CIO_PG_VARCHAROID,
    CIO_PG_DATEOID,
    CIO_PG_TIMESTAMPOID,
    CIO_PG_TIMESTAMPTZOID,
    CIO_PG_NUMERICOID,
    CIO_PG_UUIDOID,
    CIO_PG_JSONBOID,
    CIO__PG_NAMEOID,
    CIO__PG_CHAROID,
    CIO__PG_UNKNOWNOID,
    1186, /* interval: a type cio has no getter for */
    /* arrays: int4[], int8[], text[], float8[], uuid[], timestamptz[],
     * numeric[], bool[], bytea[] */
    1007,
    1016,
    1009,
    1022,
    2951,
    1185,
    1231,
    1000,
    1001,
};

/* A getter's result: 0, or one of the errors a getter may return. */
static void check_rc(int rc)
{
    CHECK(rc == 0 || rc == CIO_PG_ETYPE || rc == CIO_PG_EPROTO || rc == CIO_PG_ENULL ||
          rc == -ENOMEM);
}

/* Every getter on every cell of r; arrays are opened, nested ones too. */
static void read_all_cells(const cio_pg_result *r, int depth);

static void read_cell(const cio_pg_result *r, int row)
{
    bool b;
    int64_t i64;
    double d;
    const char *text;
    size_t len;
    uint8_t uuid[16];
    const uint8_t *bytes;
    check_rc(cio_pg_get_bool(r, row, 0, &b));
    check_rc(cio_pg_get_int64(r, row, 0, &i64));
    check_rc(cio_pg_get_double(r, row, 0, &d));
    check_rc(cio_pg_get_uuid(r, row, 0, uuid));
    check_rc(cio_pg_get_bytea(r, row, 0, &bytes, &len));
    int rc = cio_pg_get_text(r, row, 0, &text, &len);
    check_rc(rc);
    if (rc == 0)
        CHECK(text != NULL && text[len] == 0);
}

static void read_all_cells(const cio_pg_result *r, int depth)
{
    for (int row = 0; row < cio_pg_nrows(r); row++) {
        read_cell(r, row);
        cio_pg_result *inner = (cio_pg_result *)r; /* must be overwritten */
        int rc = cio_pg_get_array(r, row, 0, &inner);
        check_rc(rc);
        CHECK(rc == 0 ? inner != NULL : inner == NULL);
        if (rc == 0) {
            CHECK(depth < 6); /* PostgreSQL's limit on dimensions */
            read_all_cells(inner, depth + 1);
            cio_pg_result_free(inner);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
    if (n < 2)
        return 0;
    uint32_t oid = oids[in[0] % (sizeof oids / sizeof oids[0])];
    int binary = in[1] & 1, null = in[1] & 2;
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    CHECK(res != NULL);
    PGresAttDesc col = {.name = "v", .typid = oid, .typlen = -1, .atttypmod = -1, .format = binary};
    CHECK(PQsetResultAttrs(res, 1, &col) == 1);
    CHECK(PQsetvalue(res, 0, 0, null ? NULL : (char *)in + 2, null ? -1 : (int)(n - 2)) == 1);
    cio_pg_result *r = cio__pg_result_wrap(res);
    CHECK(r != NULL);

    bool b;
    int16_t i16;
    int32_t i32, days;
    int64_t i64, usec;
    float f;
    double d;
    const char *text = NULL, *num = NULL, *json = NULL;
    const uint8_t *bytes;
    uint8_t uuid[16];
    size_t len;
    check_rc(cio_pg_get_bool(r, 0, 0, &b));
    check_rc(cio_pg_get_int16(r, 0, 0, &i16));
    check_rc(cio_pg_get_int32(r, 0, 0, &i32));
    check_rc(cio_pg_get_int64(r, 0, 0, &i64));
    check_rc(cio_pg_get_float(r, 0, 0, &f));
    check_rc(cio_pg_get_double(r, 0, 0, &d));
    check_rc(cio_pg_get_bytea(r, 0, 0, &bytes, &len));
    check_rc(cio_pg_get_uuid(r, 0, 0, uuid));
    check_rc(cio_pg_get_date(r, 0, 0, &days));
    check_rc(cio_pg_get_timestamp(r, 0, 0, &usec));
    check_rc(cio_pg_get_json(r, 0, 0, &json, &len));

    int text_rc = cio_pg_get_text(r, 0, 0, &text, &len);
    check_rc(text_rc);
    if (text_rc == 0)
        CHECK(text != NULL && text[len] == 0);
    int num_rc = cio_pg_get_numeric(r, 0, 0, &num);
    check_rc(num_rc);
    if (oid == CIO_PG_NUMERICOID && binary) {
        /* Two ways to the same text: they agree. */
        CHECK(num_rc == text_rc);
        if (num_rc == 0)
            CHECK(strcmp(num, text) == 0);
    }
    /* Smaller integer getters agree with the wider ones where both work. */
    if (cio_pg_get_int32(r, 0, 0, &i32) == 0 && cio_pg_get_int64(r, 0, 0, &i64) == 0)
        CHECK(i64 == i32);
    if (cio_pg_get_int16(r, 0, 0, &i16) == 0 && cio_pg_get_int32(r, 0, 0, &i32) == 0)
        CHECK(i32 == i16);
    read_all_cells(r, 0);
    cio_pg_result_free(r);
    return 0;
}
