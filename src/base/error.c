/* cio_strerror() and cio_err_name(): every code cio returns has a name. */
#include <string.h>

#include "cio/error.h"

struct own_code {
    int code;
    const char *name;
    const char *message;
};

static const struct own_code own_codes[] = {
    {CIO_ENOLOOP, "CIO_ENOLOOP", "no cio loop is running on this thread"},
    {CIO_ENOTTASK, "CIO_ENOTTASK", "suspending call made outside a cio task"},
    {CIO_EBADTASK, "CIO_EBADTASK", "task handle is stale: already joined or detached"},
    {CIO_ESTATE, "CIO_ESTATE", "operation not allowed in the object's current state"},
    {CIO_ESCOPE, "CIO_ESCOPE", "scope exited out of order or by another task"},
    {CIO_EDEADLOCK, "CIO_EDEADLOCK", "every task is waiting and nothing can wake them"},
    /* net */
    {CIO_ELIMIT, "CIO_ELIMIT", "separator not found within the stream's limit"},
    {CIO_EINCOMPLETE, "CIO_EINCOMPLETE", "stream ended before the expected data"},
    {CIO_ETLS, "CIO_ETLS", "TLS error"},
    {CIO_ETLS_CERT_EXPIRED, "CIO_ETLS_CERT_EXPIRED", "TLS certificate expired or not yet valid"},
    {CIO_ETLS_HOST_MISMATCH, "CIO_ETLS_HOST_MISMATCH",
     "TLS certificate does not match the host name"},
    {CIO_ETLS_UNKNOWN_CA, "CIO_ETLS_UNKNOWN_CA", "TLS certificate issued by an unknown CA"},
    {CIO_ETLS_CERT_INVALID, "CIO_ETLS_CERT_INVALID", "TLS certificate failed verification"},
    {CIO_EDNS_NOTFOUND, "CIO_EDNS_NOTFOUND", "host name not found"},
    {CIO_EDNS, "CIO_EDNS", "DNS resolution failed"},
    /* http */
    {CIO_EHTTP_STATUS, "CIO_EHTTP_STATUS", "HTTP response status is an error (4xx or 5xx)"},
    {CIO_EHTTP_PROTOCOL, "CIO_EHTTP_PROTOCOL",
     "HTTP protocol error: malformed or missing response"},
    {CIO_EHTTP_REDIRECTS, "CIO_EHTTP_REDIRECTS", "too many HTTP redirects"},
    {CIO_EHTTP_PAYLOAD, "CIO_EHTTP_PAYLOAD",
     "HTTP response body ended before its announced length"},
    {CIO_EHTTP_JSON, "CIO_EHTTP_JSON", "HTTP response body is not valid JSON"},
    {CIO_EHTTP_DECODE, "CIO_EHTTP_DECODE", "HTTP response body could not be decoded"},
    {CIO_EHTTP_CLOSED, "CIO_EHTTP_CLOSED", "HTTP session is closed"},
    {CIO_EHTTP_TOOBIG, "CIO_EHTTP_TOOBIG", "HTTP response body is larger than allowed"},
    {CIO_EHTTP, "CIO_EHTTP", "HTTP transfer failed"},
    /* toolkit */
    {CIO_ESHUTDOWN, "CIO_ESHUTDOWN", "queue shut down"},
    {CIO_EBROKEN, "CIO_EBROKEN", "barrier broken: aborted or reset"},
    /* pg */
    {CIO_PG_ESERVER, "CIO_PG_ESERVER", "PostgreSQL server reported an error"},
    {CIO_PG_ECONN, "CIO_PG_ECONN", "PostgreSQL connection failed or was lost"},
    {CIO_PG_ECLOSED, "CIO_PG_ECLOSED", "PostgreSQL pool is closed"},
    {CIO_PG_EBUSY, "CIO_PG_EBUSY", "PostgreSQL connection is in use by another operation"},
    {CIO_PG_ETYPE, "CIO_PG_ETYPE", "PostgreSQL value has another type or does not fit"},
    {CIO_PG_ENULL, "CIO_PG_ENULL", "PostgreSQL value is NULL"},
    {CIO_PG_ENOROWS, "CIO_PG_ENOROWS", "PostgreSQL query returned no rows"},
    {CIO_PG_EPROTO, "CIO_PG_EPROTO", "unexpected PostgreSQL protocol message or value"},
    {CIO_PG_ESTATE, "CIO_PG_ESTATE", "PostgreSQL connection or transaction is in the wrong state"},
};

static const struct own_code *find_own(int err)
{
    for (size_t i = 0; i < sizeof own_codes / sizeof own_codes[0]; i++)
        if (own_codes[i].code == err)
            return &own_codes[i];
    return NULL;
}

const char *cio_strerror(int err)
{
    if (err == 0)
        return "success";
    const struct own_code *c = find_own(err);
    if (c)
        return c->message;
    if (err < 0 && err > CIO_ERRNO_BASE) {
        const char *s = strerrordesc_np(-err);
        if (s)
            return s;
    }
    return "unknown error";
}

const char *cio_err_name(int err)
{
    if (err == 0)
        return "OK";
    const struct own_code *c = find_own(err);
    if (c)
        return c->name;
    if (err < 0 && err > CIO_ERRNO_BASE) {
        const char *s = strerrorname_np(-err);
        if (s)
            return s;
    }
    return "UNKNOWN";
}
