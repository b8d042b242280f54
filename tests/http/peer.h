/* Misbehaving HTTP peers for the tests: a plain-socket server on its own
 * thread (so it never depends on the loop under test), one behaviour per
 * peer. */
#ifndef CIO_TESTS_HTTP_PEER_H
#define CIO_TESTS_HTTP_PEER_H

#include <pthread.h>

enum peer_mode {
    PEER_ECHO,        /* answers 200 with the raw request (head and body) */
    PEER_RESET,       /* sends headers and half the body, then resets */
    PEER_MALFORMED,   /* answers with a malformed status line */
    PEER_SILENT,      /* reads the request and never answers */
    PEER_SHORT,       /* Content-Length 1000, sends 500 bytes, closes */
    PEER_CLOSE,       /* closes without answering */
    PEER_SLOW_BODY,   /* headers at once, then one byte every 100 ms */
    PEER_DELAY,       /* answers each request after 500 ms, keep-alive */
    PEER_ONE_SHOT,    /* answers one request (keep-alive), closes 100 ms later */
    PEER_BAD_GZIP,    /* Content-Encoding: gzip over bytes that are not gzip */
    PEER_HEADERS,     /* odd header spacing, duplicates, a chunked trailer */
    PEER_NUL_HEADER,  /* a header line with a NUL byte inside */
    PEER_BAD_STATUS,  /* a status line libcurl lets through: "HTTP/nt-Length: 1000" */
    PEER_CR_HEADER,   /* a bare CR inside a header line */
    PEER_BAD_NAME,    /* a header name with a space in it */
    PEER_SPACE_COLON, /* whitespace between a header's name and its colon */
    PEER_FOLD_FIRST,  /* a folded continuation line right after the status line */
    PEER_NO_COLON,    /* a header line with no colon at all */
    PEER_BIG_HEADER,  /* a 200 KB header line, over libcurl's limit */
    PEER_DUPLEX,      /* answers after the request's head, then echoes its
                       * body (Content-Length) in chunks as it arrives */
};

struct peer {
    enum peer_mode mode;
    int fd;      /* listening socket */
    int stop[2]; /* pipe that stops the thread */
    int port;
    int requests;    /* requests seen */
    int connections; /* connections accepted */
    char url[64];    /* "http://127.0.0.1:<port>/" */
    pthread_t thread;
};

int peer_start(struct peer *p, enum peer_mode mode);
void peer_stop(struct peer *p);

#endif
