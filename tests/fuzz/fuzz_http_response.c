/* The HTTP client on whatever a server answers: the input is the raw bytes
 * a peer on 127.0.0.1 sends back to one GET (status line, headers, body,
 * then it closes), through libcurl and cio's handling of what libcurl
 * hands over (status, header lines, trailers, bodies, redirects, content
 * decoding, JSON). A request returns 0 or one of its documented errors, and
 * a response's accessors agree with each other: every header listed can be
 * looked up by its name, the text is the body NUL-terminated.
 *
 * The peer is a thread with a plain socket (never the loop under test),
 * started once; it answers every connection with the current input. */
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cio.h>
#include <cio/http.h>

#include "fuzz.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static const uint8_t *answer;
static size_t answer_len;
static char url[64];

/* Reads the request head (up to the blank line), then sends the answer
 * and closes. */
static void serve(int fd)
{
    char buf[4096];
    size_t got = 0;
    while (got < sizeof buf - 1) {
        ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = 0;
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    pthread_mutex_lock(&mu);
    size_t off = 0;
    while (off < answer_len) {
        ssize_t n = send(fd, answer + off, answer_len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    pthread_mutex_unlock(&mu);
    shutdown(fd, SHUT_WR);
    /* Let the client read it all before the close resets anything, but do
     * not wait on a client that keeps the connection for another request
     * (it gets the end of the stream, and retries on a new one). */
    struct timeval tv = {.tv_usec = 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (read(fd, buf, sizeof buf) > 0)
        ;
    close(fd);
}

static void *peer(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd >= 0)
            serve(fd);
    }
    return NULL;
}

static void start_peer(void)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&a, sizeof a) == 0 && listen(lfd, 16) == 0);
    CHECK(getsockname(lfd, (struct sockaddr *)&a, &len) == 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(a.sin_port));
    pthread_t t;
    CHECK(pthread_create(&t, NULL, peer, (void *)(intptr_t)lfd) == 0);
    pthread_detach(t);
}

static bool documented(int rc)
{
    return rc == 0 || rc == CIO_EHTTP_PROTOCOL || rc == CIO_EHTTP_REDIRECTS ||
           rc == CIO_EHTTP_PAYLOAD || rc == CIO_EHTTP_DECODE || rc == CIO_EHTTP_CLOSED ||
           rc == CIO_EHTTP_TOOBIG || rc == CIO_EHTTP || rc == -ETIMEDOUT || rc == -ECONNRESET ||
           rc == -ENOMEM || rc == -EINVAL;
}

static void check_response(cio_http_response *r)
{
    int status = cio_http_response_status(r);
    CHECK(status >= 0 && status <= 999);
    CHECK(cio_http_response_reason(r) != NULL);
    const char *name, *value;
    size_t i = 0;
    for (; cio_http_response_header_at(r, i, &name, &value) == 0; i++) {
        CHECK(name && value);
        /* The lookup finds this header, or an earlier one of that name. */
        const char *found = cio_http_response_header(r, name);
        CHECK(found != NULL);
        size_t k = 0;
        const char *n2, *v2;
        while (cio_http_response_header_at(r, k, &n2, &v2) == 0 && strcasecmp(n2, name) != 0)
            k++;
        CHECK(k <= i && found == v2);
    }
    CHECK(cio_http_response_header_at(r, i, &name, &value) == -ENOENT);
    size_t len = 0;
    const char *body = cio_http_response_body(r, &len);
    CHECK(len == 0 || body != NULL);
    const char *text = cio_http_response_text(r);
    CHECK(text != NULL && (len == 0 || memcmp(text, body, len) == 0) && text[len] == 0);
    json_t *j = NULL, *again = NULL;
    int rc = cio_http_response_json(r, &j); /* borrowed from r */
    /* A body of whitespace alone is no value (aiohttp's None). */
    CHECK(rc == 0 ? (j != NULL) == (strspn(body, " \t\r\n") < len) : rc < 0);
    CHECK(cio_http_response_json(r, &again) == rc && again == j); /* parsed once */
}

static int fetch(void *arg)
{
    (void)arg;
    cio_http_session_options o = {
        .timeout = {.total = 5}, .max_redirects = 3, .max_body_size = 1 << 20};
    cio_http_session *s;
    CHECK(cio_http_session_new(&o, &s) == 0);
    cio_http_response *r = NULL;
    int rc = cio_http_get(s, url, &r);
    if (!documented(rc))
        fprintf(stderr, "undocumented result %d (%s)\n", rc, cio_err_name(rc));
    CHECK(documented(rc));
    if (rc == 0) {
        CHECK(r != NULL);
        check_response(r);
    }
    cio_http_response_free(r);
    /* The same as a stream: piece by piece, never more than was sent. */
    cio_http_request q = {.url = url, .stream = true};
    rc = cio_http_request_send(s, &q, &r);
    CHECK(documented(rc));
    size_t total = 0;
    const void *piece;
    size_t n;
    while (rc == 0 && (rc = cio_http_response_next(r, &piece, &n)) == 1) {
        total += n;
        rc = 0;
    }
    CHECK(rc == 0 || documented(rc));
    CHECK(total <= (size_t)1 << 20);
    cio_http_response_free(r);
    return cio_http_session_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, start_peer);
    pthread_mutex_lock(&mu);
    answer = in;
    answer_len = n;
    pthread_mutex_unlock(&mu);
    CHECK(cio_run(fetch, NULL) == 0);
    pthread_mutex_lock(&mu);
    answer = NULL;
    answer_len = 0;
    pthread_mutex_unlock(&mu);
    return 0;
}
