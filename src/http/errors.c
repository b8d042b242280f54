/* libcurl's result codes as cio error codes. The transport errors keep the
 * errno the socket layer gave libcurl, so a refused connection is
 * -ECONNREFUSED whatever libcurl calls it. */
#include <errno.h>
#include <string.h>

#include "http/http.h"

static int os_errno(cio_http_response *r, int fallback)
{
    long e = 0;
    if (curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &e) == CURLE_OK && e > 0 && e < 4096)
        return -(int)e;
    return fallback;
}

/* OpenSSL's X509_V_ERR_* values, stable across versions. */
static int tls_verify_error(cio_http_response *r)
{
    long v = 0;
    curl_easy_getinfo(r->easy, CURLINFO_SSL_VERIFYRESULT, &v);
    /* libcurl checks the host name itself once the chain has verified, and
     * then leaves the verify result as it was. */
    if (strstr(r->errbuf, "target host name"))
        return CIO_ETLS_HOST_MISMATCH;
    switch (v) {
    case 0: /* verified: libcurl's own host name check failed */
        return CIO_ETLS_HOST_MISMATCH;
    case 9:  /* X509_V_ERR_CERT_NOT_YET_VALID */
    case 10: /* X509_V_ERR_CERT_HAS_EXPIRED */
        return CIO_ETLS_CERT_EXPIRED;
    case 62: /* X509_V_ERR_HOSTNAME_MISMATCH */
    case 64: /* X509_V_ERR_IP_ADDRESS_MISMATCH */
        return CIO_ETLS_HOST_MISMATCH;
    case 2:  /* X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT */
    case 18: /* X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT */
    case 19: /* X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN */
    case 20: /* X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY */
    case 21: /* X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE */
        return CIO_ETLS_UNKNOWN_CA;
    default:
        return CIO_ETLS_CERT_INVALID;
    }
}

void cio__http_url_rejected(cio_http_response *r, CURLUcode uc)
{
    snprintf(r->errbuf, sizeof r->errbuf, "URL rejected: %s", curl_url_strerror(uc));
}

/* libcurl (7.88) leaves its error buffer empty when it rejects a URL: parse
 * it again, as libcurl did, to say why. */
static void url_malformed(cio_http_response *r)
{
    CURLU *u = curl_url();
    CURLUcode uc =
        u ? curl_url_set(u, CURLUPART_URL, r->url.len ? r->url.p : "", CIO__HTTP_URL_FLAGS)
          : CURLUE_OUT_OF_MEMORY;
    curl_url_cleanup(u);
    if (uc)
        cio__http_url_rejected(r, uc);
}

static int map(cio_http_response *r, CURLcode c)
{
    switch (c) {
    case CURLE_OK:
        return 0;
    case CURLE_UNSUPPORTED_PROTOCOL: {
        /* Before connecting: a URL scheme we do not fetch. After: the
         * peer's status line named no HTTP version libcurl speaks. */
        char *ip = NULL;
        curl_easy_getinfo(r->easy, CURLINFO_PRIMARY_IP, &ip);
        return ip && *ip ? CIO_EHTTP_PROTOCOL : -EPROTONOSUPPORT;
    }
    case CURLE_URL_MALFORMAT:
        if (!r->errbuf[0])
            url_malformed(r);
        return -EINVAL;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
        return CIO_EDNS_NOTFOUND;
    case CURLE_COULDNT_CONNECT:
        return os_errno(r, -ECONNREFUSED);
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_GOT_NOTHING:
        return CIO_EHTTP_PROTOCOL;
    case CURLE_PARTIAL_FILE:
        return CIO_EHTTP_PAYLOAD;
    case CURLE_OUT_OF_MEMORY:
        /* libcurl 7.88 refuses a header line over 100 KiB with this code
         * and no message; a peer's doing, not memory running out. */
        if (r->status && !r->headers_done) {
            snprintf(r->errbuf, sizeof r->errbuf,
                     "a response header line is longer than libcurl allows (100 KiB)");
            return CIO_EHTTP_PROTOCOL;
        }
        return -ENOMEM;
    case CURLE_OPERATION_TIMEDOUT:
        /* Only the connect timeouts are left to libcurl. */
        cio__http_timed_out(r, r->connect_kind);
        return -ETIMEDOUT;
    case CURLE_TOO_MANY_REDIRECTS:
        return CIO_EHTTP_REDIRECTS;
    case CURLE_SEND_ERROR:
        return os_errno(r, -EPIPE);
    case CURLE_RECV_ERROR:
        return os_errno(r, -ECONNRESET);
    case CURLE_PEER_FAILED_VERIFICATION:
        return tls_verify_error(r);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
        return CIO_ETLS;
    case CURLE_BAD_CONTENT_ENCODING:
        return CIO_EHTTP_DECODE;
    case CURLE_FILESIZE_EXCEEDED:
        return CIO_EHTTP_TOOBIG;
    default:
        return CIO_EHTTP;
    }
}

int cio__http_curl_error(cio_http_response *r, CURLcode c)
{
    int rc = map(r, c);
    if (rc && !r->errbuf[0]) /* some failures leave libcurl's buffer empty */
        snprintf(r->errbuf, sizeof r->errbuf, "%s", curl_easy_strerror(c));
    return rc;
}

const char *cio_http_timeout_name(cio_http_timeout_kind kind)
{
    switch (kind) {
    case CIO_HTTP_TIMEOUT_NONE:
        return "none";
    case CIO_HTTP_TIMEOUT_TOTAL:
        return "total";
    case CIO_HTTP_TIMEOUT_CONNECT:
        return "connect";
    case CIO_HTTP_TIMEOUT_SOCK_CONNECT:
        return "sock_connect";
    case CIO_HTTP_TIMEOUT_SOCK_READ:
        return "sock_read";
    case CIO_HTTP_TIMEOUT_SCOPE:
        return "scope";
    }
    return "unknown";
}
